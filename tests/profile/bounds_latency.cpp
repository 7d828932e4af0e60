// The lower bound with a device's dependent-launch latency (profile/bounds.hpp, bound_options), and
// the property that makes it a bound: no plan the GPU model simulates beats it.
#include <opara/gpu_model/model.hpp>
#include <opara/opara.hpp>

#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "support/model_fixtures.hpp"

using namespace opara;
using namespace opara::test;

namespace {

profile durations(std::vector<double> us) {
  profile p;
  p.limits = h100();
  for (double d : us) {
    operator_record op;
    op.duration_us = d;
    p.ops.push_back(op);
  }
  return p;
}

} // namespace

TEST_CASE("bounds_latency.each_dependency_on_the_path_costs_the_latency") {
  graph_builder b;
  b.add_nodes(4);
  b.add_edge(0, 1).add_edge(1, 2);  // 0 -> 1 -> 2, and 3 alone
  const graph g = b.build();
  const auto p = durations({3, 4, 5, 11});
  CHECK(lower_bound_us(g, p) == doctest::Approx(12));                   // plain critical path
  CHECK(lower_bound_us(g, p, {.dependency_us = 0}) == doctest::Approx(12));
  CHECK(lower_bound_us(g, p, {.dependency_us = 1}) == doctest::Approx(14));  // two dependencies
  CHECK(lower_bound_us(g, p, {.dependency_us = 0.1}) == doctest::Approx(12.2));
  // A longer path of short operators overtakes a short path of long ones.
  graph_builder d;
  d.add_nodes(5);
  d.add_edge(0, 1).add_edge(1, 2).add_edge(2, 3);  // four 1 us operators, and one of 5 us
  const graph chain = d.build();
  const auto q = durations({1, 1, 1, 1, 5});
  CHECK(lower_bound_us(chain, q) == doctest::Approx(5));
  CHECK(lower_bound_us(chain, q, {.dependency_us = 1}) == doctest::Approx(7));
}

TEST_CASE("bounds_latency.the_work_bound_still_counts") {
  const graph g = [] {
    graph_builder b;
    b.add_nodes(2);
    b.add_edge(0, 1);
    return b.build();
  }();
  profile p = durations({2, 2});
  const kernel_record k = kernel(132, 20);  // one block per SM: the whole GPU
  p.ops[0].kernels = {k};
  p.ops[1].kernels = {k};
  CHECK(lower_bound_us(g, p, {.dependency_us = 1}) == doctest::Approx(40));  // work, not 2 + 1 + 2
}

TEST_CASE("bounds_latency.refuses_a_negative_latency") {
  graph_builder b;
  b.add_nodes(1);
  const graph g = b.build();
  const auto p = durations({1});
  CHECK_THROWS_WITH_AS((void)lower_bound_us(g, p, {.dependency_us = -1}), doctest::Contains("dependency_us"), opara::error);
  CHECK_THROWS_AS((void)lower_bound_us(g, p, {.dependency_us = std::numeric_limits<double>::quiet_NaN()}), opara::error);
}

TEST_CASE("bounds_latency.no_simulated_plan_beats_the_bound") {
  // Random layered graphs of random kernels; every plan of several policies, simulated with the
  // same latency and no other cost, takes at least the bound.
  std::mt19937 rng(3);
  for (int round = 0; round < 20; ++round) {
    const int layers = 2 + static_cast<int>(rng() % 6), width = 1 + static_cast<int>(rng() % 10);
    graph_builder b;
    b.add_nodes(static_cast<std::size_t>(layers * width));
    for (int l = 1; l < layers; ++l)
      for (int i = 0; i < width; ++i)
        for (int k = 0; k < 2; ++k)
          b.add_edge(static_cast<node_id>((l - 1) * width + static_cast<int>(rng() % width)), static_cast<node_id>(l * width + i));
    const graph g = b.build();
    std::vector<kernel_record> ks;
    for (int v = 0; v < layers * width; ++v)
      ks.push_back(kernel(1 + static_cast<std::uint32_t>(rng() % 400), 1 + static_cast<double>(rng() % 30),
                          static_cast<double>(1 + rng() % 8) / 8.0));
    const profile p = one_kernel_each(ks);
    const double latency = static_cast<double>(rng() % 3) * 0.5;
    const double bound = lower_bound_us(g, p, {.dependency_us = latency});
    const gpu_model model{0, latency, 0};
    for (const plan& pl : {make_plan<streams::opara_greedy, order::resource_aware>(g, p),
                           make_plan<streams::min_path_cover, order::critical_path_first>(g, p),
                           make_plan<streams::sequential, order::program_order>(g, p),
                           make_plan<streams::round_robin, order::program_order>(g, p, {}, {.streams = 3})})
      CHECK(predicted_makespan_us(g, pl, p, model) >= bound * (1 - 1e-9));
  }
}
