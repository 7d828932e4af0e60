// The GPU model (model/gpu_model.hpp) against hand-computed makespans.
#include <opara/gpu_model/model.hpp>
#include <opara/opara.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include "support/model_fixtures.hpp"

using namespace opara;
using namespace opara::test;

namespace {

// A plan with the given order and streams, its waits computed by make_plan.
struct fixed_streams {
  static constexpr std::string_view name = "fixed";
  std::vector<stream_id> of;
  [[nodiscard]] stream_assignment assign(const graph&, std::span<const node_id>) const {
    stream_assignment a;
    a.stream_of = of;
    for (stream_id s : of) a.num_streams = std::max(a.num_streams, s + 1);
    return a;
  }
};
struct fixed_order {
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "fixed";
  std::vector<node_id> ord;
  [[nodiscard]] std::vector<node_id> order(const graph&, const profile*) const { return ord; }
};

plan plan_of(const graph& g, std::vector<node_id> order, std::vector<stream_id> streams) {
  return make_plan(g, nullptr, {}, fixed_streams{std::move(streams)}, fixed_order{std::move(order)});
}

graph independent(std::size_t n) { return graph_of(n); }

// A profile of one operator that runs `kernels` in turn.
profile one_operator(const std::vector<kernel_record>& kernels) {
  profile p;
  p.limits = h100();
  p.ops.resize(1);
  p.ops[0].kernels = kernels;
  return p;
}

constexpr gpu_model free_launches{0, 0, 0};

} // namespace

TEST_CASE("model.a_kernel_alone_runs_for_its_duration") {
  const graph g = independent(1);
  const auto p = one_kernel_each({kernel(132, 10)});
  CHECK(predicted_makespan_us(g, plan_of(g, {0}, {0}), p, free_launches) == doctest::Approx(10));
  // Two waves of 132 blocks take the profiled 10 us too: each block 5 us.
  const auto two_waves = one_kernel_each({kernel(264, 10)});
  CHECK(predicted_makespan_us(g, plan_of(g, {0}, {0}), two_waves, free_launches) == doctest::Approx(10));
}

TEST_CASE("model.kernels_that_fill_the_gpu_serialize_across_streams") {
  const graph g = independent(2);
  const auto full = one_kernel_each({kernel(132, 10), kernel(132, 10)});
  const auto s = simulate(g, plan_of(g, {0, 1}, {0, 1}), full, free_launches);
  CHECK(s.makespan_us == doctest::Approx(20));
  CHECK(s.start_us[1] == doctest::Approx(10));
  // Half the GPU each: side by side on two streams, one after the other on one.
  const auto half = one_kernel_each({kernel(66, 10), kernel(66, 10)});
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 1}), half, free_launches) == doctest::Approx(10));
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 0}), half, free_launches) == doctest::Approx(20));
}

TEST_CASE("model.free_slots_are_filled_in_launch_order") {
  const graph g = independent(2);
  // 99 + 66 blocks on 132 slots: the kernel launched first gets all its blocks, the other 33 now
  // and 33 when the first ends.
  const auto p = one_kernel_each({kernel(99, 10), kernel(66, 10)});
  auto s = simulate(g, plan_of(g, {0, 1}, {0, 1}), p, free_launches);
  CHECK(s.finish_us[0] == doctest::Approx(10));
  CHECK(s.finish_us[1] == doctest::Approx(20));
  s = simulate(g, plan_of(g, {1, 0}, {0, 1}), p, free_launches);
  CHECK(s.finish_us[1] == doctest::Approx(10));
  CHECK(s.finish_us[0] == doctest::Approx(20));
  // Two two-wave kernels: the first launched finishes first, the other's blocks wait behind it.
  const auto waves = one_kernel_each({kernel(264, 10), kernel(264, 10)});
  s = simulate(g, plan_of(g, {0, 1}, {0, 1}), waves, free_launches);
  CHECK(s.finish_us[0] == doctest::Approx(10));
  CHECK(s.finish_us[1] == doctest::Approx(20));
}

TEST_CASE("model.a_kernel_that_does_not_fit_lets_smaller_ones_pass") {
  const graph g = independent(3);
  // Kernel 0: 526 quarter-SM blocks (4 resident per SM) leave half an SM free. Kernel 1 needs a
  // whole SM per block and waits; kernel 2, launched after it, fits its two quarter-SM blocks now.
  const auto p = one_kernel_each({kernel(526, 10, 0.5), kernel(132, 10), kernel(2, 10, 0.5)});
  const auto s = simulate(g, plan_of(g, {0, 1, 2}, {0, 1, 2}), p, free_launches);
  CHECK(s.finish_us[0] == doctest::Approx(10));
  CHECK(s.start_us[2] == doctest::Approx(0));
  CHECK(s.finish_us[2] == doctest::Approx(10));
  CHECK(s.start_us[1] == doctest::Approx(10));
  CHECK(s.finish_us[1] == doctest::Approx(20));
}

TEST_CASE("model.dependent_kernels_pay_the_dependency_latency") {
  const graph g = graph_of(3, {{0, 1}, {1, 2}});
  const auto p = one_kernel_each({kernel(1, 5), kernel(1, 5), kernel(1, 5)});
  const gpu_model m{0, 1, 0};
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1, 2}, {0, 0, 0}), p, m) == doctest::Approx(17));
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1, 2}, {0, 1, 0}), p, m) == doctest::Approx(17));
  // An operator's own kernels depend on each other: 3 + 1 + 4.
  const graph one = independent(1);
  CHECK(predicted_makespan_us(one, plan_of(one, {0}, {0}), one_operator({kernel(1, 3), kernel(1, 4)}), m) ==
        doctest::Approx(8));
}

TEST_CASE("model.stream_order_is_a_dependency") {
  const graph g = independent(2);
  const auto p = one_kernel_each({kernel(1, 5), kernel(1, 5)});
  const gpu_model m{0, 1, 0};
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 0}), p, m) == doctest::Approx(11));
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 1}), p, m) == doctest::Approx(5));
}

TEST_CASE("model.an_edge_along_a_stream_costs_the_stream_latency_when_it_is_programmatic") {
  // 0 -> 1 -> 2, one-block 5 us kernels; dependency 1 us, along a stream (PDL) 0.25 us.
  const graph g = graph_of(3, {{0, 1}, {1, 2}});
  const auto p = one_kernel_each({kernel(1, 5), kernel(1, 5), kernel(1, 5)});
  gpu_model m{0, 1, 0};
  m.stream_dependency_us = 0.25;
  CHECK(m.stream_latency_us() == 0.25);
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1, 2}, {0, 0, 0}), p, m) == doctest::Approx(15.5));
  // 1 on another stream: both of its edges cross streams and cost the full latency.
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1, 2}, {0, 1, 0}), p, m) == doctest::Approx(17));
  // Stream order alone (no data edge) is programmatic too.
  const graph two = independent(2);
  CHECK(predicted_makespan_us(two, plan_of(two, {0, 1}, {0, 0}), one_kernel_each({kernel(1, 5), kernel(1, 5)}), m) ==
        doctest::Approx(10.25));
  // Negative (the default): the edge costs dependency_us, as without PDL.
  m.stream_dependency_us = -1;
  CHECK(m.stream_latency_us() == 1);
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1, 2}, {0, 0, 0}), p, m) == doctest::Approx(17));
  // An operator's own kernels keep the full latency: 3 + 1 + 4.
  m.stream_dependency_us = 0;
  const graph one = independent(1);
  CHECK(predicted_makespan_us(one, plan_of(one, {0}, {0}), one_operator({kernel(1, 3), kernel(1, 4)}), m) ==
        doctest::Approx(8));
}

TEST_CASE("model.each_cross_stream_dependency_takes_front_end_time") {
  // A source and 4 children on streams 1-4: each child's wait on the source takes 0.5 us of the
  // front end before its launch, on top of 1 us per kernel.
  const graph g = graph_of(5, {{0, 1}, {0, 2}, {0, 3}, {0, 4}});
  const auto p = one_kernel_each({kernel(1, 2), kernel(1, 8), kernel(1, 8), kernel(1, 8), kernel(1, 8)});
  gpu_model m{1, 0, 0};
  m.wait_us = 0.5;
  const auto s = simulate(g, plan_of(g, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}), p, m);
  CHECK(s.start_us[1] == doctest::Approx(2));    // ready at 2; front end at 1 + 0.5
  CHECK(s.start_us[2] == doctest::Approx(3));    // front end: 2 launches + 2 waits
  CHECK(s.start_us[3] == doctest::Approx(4.5));
  CHECK(s.start_us[4] == doctest::Approx(6));
  // The same children on the source's stream wait for nothing across streams (but run in turn).
  const auto one_stream = simulate(g, plan_of(g, {0, 1, 2, 3, 4}, {0, 0, 0, 0, 0}), p, m);
  CHECK(one_stream.start_us[1] == doctest::Approx(2));
  // A negative or non-finite cost is refused.
  m.wait_us = -1;
  CHECK_THROWS_AS((void)simulate(g, plan_of(g, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}), p, m), bad_policy);
  m.wait_us = 0;
  m.stream_dependency_us = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS((void)simulate(g, plan_of(g, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}), p, m), bad_policy);
}

TEST_CASE("model.the_front_end_launches_one_kernel_at_a_time") {
  const graph g = graph_of(5, {{0, 1}, {0, 2}, {0, 3}, {0, 4}});
  const auto p = one_kernel_each({kernel(1, 2), kernel(1, 8), kernel(1, 8), kernel(1, 8), kernel(1, 8)});
  // Kernel i cannot start before i * 1 us; the children are ready at 2 + 0.5.
  const auto s = simulate(g, plan_of(g, {0, 1, 2, 3, 4}, {0, 0, 1, 2, 3}), p, gpu_model{1, 0.5, 3});
  CHECK(s.start_us[1] == doctest::Approx(2.5));
  CHECK(s.start_us[2] == doctest::Approx(2.5));
  CHECK(s.start_us[3] == doctest::Approx(3));
  CHECK(s.start_us[4] == doctest::Approx(4));
  CHECK(s.makespan_us == doctest::Approx(12 + 3));  // the graph's submission cost is added once
}

TEST_CASE("model.unknown_resources_hold_no_slots") {
  const graph g = independent(2);
  profile events;  // event-timed: operator durations only
  events.ops.resize(2);
  events.ops[0].duration_us = 10;
  events.ops[1].duration_us = 10;
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 1}), events, free_launches) == doctest::Approx(10));
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 0}), events, free_launches) == doctest::Approx(20));
}

TEST_CASE("model.blocks_per_sm_from_resources_when_occupancy_is_unknown") {
  const auto l = h100();
  kernel_record k = kernel(132, 10, 0.0);
  k.block = {1024, 1, 1};
  CHECK(detail::model_blocks_per_sm(k, l) == 2);  // 2048 threads per SM
  k.dynamic_shared_bytes = 100 * 1024;
  CHECK(detail::model_blocks_per_sm(k, l) == 2);  // 228 KiB per SM
  k.dynamic_shared_bytes = 120 * 1024;
  CHECK(detail::model_blocks_per_sm(k, l) == 1);
  k.dynamic_shared_bytes = 0;
  k.registers_per_thread = 64;                    // 64 x 1024 = all 65536 registers
  CHECK(detail::model_blocks_per_sm(k, l) == 1);
  CHECK(detail::model_blocks_per_sm(k, device_limits{}) == 0);
  // Two register-limited kernels of one block per SM on every SM cannot overlap.
  const graph g = independent(2);
  profile p = one_kernel_each({k, k});
  CHECK(predicted_makespan_us(g, plan_of(g, {0, 1}, {0, 1}), p, free_launches) == doctest::Approx(20));
}

TEST_CASE("model.refuses_broken_plans_and_profiles") {
  const graph g = graph_of(2, {{0, 1}});
  auto p = one_kernel_each({kernel(1, 5), kernel(1, 5)});
  plan bad = plan_of(independent(2), {1, 0}, {0, 1});  // launches the consumer first, no wait
  CHECK_THROWS_AS((void)simulate(g, bad, p), invalid_plan);
  const plan good = plan_of(g, {0, 1}, {0, 1});
  p.ops[1].kernels[0].duration_us = -1;
  CHECK_THROWS_WITH_AS((void)simulate(g, good, p), doctest::Contains("operator 1"), opara::error);
  p.ops.pop_back();
  CHECK_THROWS_AS((void)simulate(g, good, p), opara::error);
  CHECK_THROWS_AS((void)simulate(g, good, one_kernel_each({kernel(1, 5), kernel(1, 5)}), gpu_model{-1, 0, 0}), bad_policy);
}

TEST_CASE("model.any_profile_gives_a_finite_prediction_at_a_cost_free_of_its_numbers") {
  // A profile is input: CUDA's largest legal grid, the largest durations and resources a record
  // can hold. Before, the model simulated ~1e7 batches of blocks per such kernel and this test did
  // not end; the planning benchmark shows the cost (bench/planning).
  constexpr std::uint32_t u32 = std::numeric_limits<std::uint32_t>::max();
  const std::array<std::uint32_t, 3> largest_grid{2147483647u, 65535u, 65535u};
  // Alone, a kernel of any grid still runs for its profiled duration.
  {
    kernel_record k = kernel(1, 10);
    k.grid = largest_grid;
    const graph one = independent(1);
    CHECK(predicted_makespan_us(one, plan_of(one, {0}, {0}), one_kernel_each({k}), free_launches) ==
          doctest::Approx(10));
    // Two of them on two streams fill the GPU in turn.
    const graph two = independent(2);
    CHECK(predicted_makespan_us(two, plan_of(two, {0, 1}, {0, 1}), one_kernel_each({k, k}), free_launches) ==
          doctest::Approx(20));
  }
  // A fan-out and a chain of kernels with hostile numbers, on a device with hostile limits.
  const std::size_t n = 64;
  graph_builder b;
  b.add_nodes(n);
  for (node_id v = 1; v < n / 2; ++v) b.add_edge(0, v);           // fan-out
  for (node_id v = n / 2; v + 1 < n; ++v) b.add_edge(v, v + 1);  // chain
  const graph g = b.build();
  profile p;
  p.limits = {u32, u32, u32, u32, u32, 0};  // blocks per SM unknown
  p.ops.resize(n);
  for (std::size_t v = 0; v < n; ++v) {
    kernel_record k;
    k.grid = largest_grid;
    k.block = {1024, v % 2 ? 1024u : 1u, 1};
    k.registers_per_thread = v % 3 ? u32 : 0;
    k.static_shared_bytes = v % 5 ? u32 : 0;
    k.dynamic_shared_bytes = u32;
    k.occupancy = v % 4 == 0 ? 0.0 : 1.0;
    k.duration_us = v % 2 ? std::numeric_limits<double>::max() : 1e308;
    p.ops[v].kernels = {k, k};
    p.ops[v].duration_us = v % 7 ? 1e308 : 0.0;
    if (v % 9 == 0) p.ops[v].kernels.clear();  // event-timed records too
  }
  const plan greedy = make_plan(g);
  const simulation sim = simulate(g, greedy, p);
  CHECK(std::isfinite(sim.makespan_us));
  CHECK(sim.makespan_us >= detail::max_duration_us);  // the longest duration the model counts
  for (node_id v = 0; v < n; ++v) {
    CHECK(std::isfinite(sim.finish_us[v]));
    CHECK(sim.start_us[v] >= 0);
    CHECK(sim.start_us[v] <= sim.finish_us[v]);
  }
  // Kernels of eight block sizes on a GPU of 2^32 - 1 SMs, half of them as long as the model counts:
  // the short ones share what the long ones leave, in ever smaller batches (before, this
  // 16-operator fan-out did not end).
  {
    const graph fan = graph_of(16, {{0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0, 6}, {0, 7}, {0, 8}, {0, 9}, {0, 10},
                                    {0, 11}, {0, 12}, {0, 13}, {0, 14}, {0, 15}});
    profile mixed;
    mixed.limits = {u32, u32, u32, u32, u32, 0};
    for (std::uint32_t v = 0; v < 16; ++v) {
      kernel_record k;
      k.grid = largest_grid;
      k.block = {32 * (1 + v % 8), 1, 1};
      k.occupancy = 0.5;
      k.duration_us = v % 2 ? 1e308 : 1 + v;
      mixed.ops.push_back({{k}, k.duration_us, boundness::unknown});
    }
    const double us = predicted_makespan_us(fan, make_plan(fan), mixed);
    CHECK(std::isfinite(us));
    CHECK(us >= 1 + detail::max_duration_us);  // the source, then at least the longest branch
  }
  // The model-guided planners on the same profile: a valid plan, a finite prediction.
  const plan guided = make_plan(g, &p, {}, streams::model_guided{}, order::model_guided{});
  validate(guided, g);
  const double guided_us = predicted_makespan_us(g, guided, p);
  CHECK(std::isfinite(guided_us));
  CHECK(guided_us == doctest::Approx(model_schedule(g, p).placement.predicted_us));
}

TEST_CASE("model.large_graphs_start_each_kernel_in_fewer_batches") {
  // The batches of a whole simulation are bounded (detail::batch_budget): 256 per kernel up to
  // 2,048 kernels, fewer beyond, at least one.
  CHECK(detail::batches_for(1) == 256);
  CHECK(detail::batches_for(2048) == 256);
  CHECK(detail::batches_for(4096) == 128);
  CHECK(detail::batches_for(100000) == 5);
  CHECK(detail::batches_for(1000000) == 1);
  // A wide graph of more than 2,048 operators with the hostile numbers above: the model and the
  // model-guided planners (which decide on a window there) end with finite numbers and valid plans.
  constexpr std::uint32_t u32 = std::numeric_limits<std::uint32_t>::max();
  const std::size_t n = 3000;
  graph_builder b;
  b.add_nodes(n);
  for (node_id v = 1; v < n / 2; ++v) b.add_edge(0, v);
  for (node_id v = n / 2; v + 1 < n; ++v) b.add_edge(v, v + 1);
  const graph g = b.build();
  profile p;
  p.limits = {u32, u32, u32, u32, u32, 0};
  p.ops.resize(n);
  for (std::size_t v = 0; v < n; ++v) {
    kernel_record k;
    k.grid = {2147483647u, 65535u, 65535u};
    k.block = {32 * (1 + static_cast<std::uint32_t>(v % 8)), 1, 1};
    k.registers_per_thread = v % 3 ? u32 : 0;
    k.occupancy = v % 4 == 0 ? 0.0 : 0.5;
    k.duration_us = v % 2 ? std::numeric_limits<double>::max() : 1.0 + static_cast<double>(v % 17);
    p.ops[v].kernels = {k};
    p.ops[v].duration_us = k.duration_us;
  }
  const auto m = detail::flatten_profile(p, "test");
  CHECK(m.batches == detail::batches_for(n));
  const simulation sim = simulate(g, make_plan(g), p);
  CHECK(std::isfinite(sim.makespan_us));
  CHECK(sim.makespan_us >= detail::max_duration_us);
  const plan guided = make_plan(g, &p, {}, streams::model_guided{}, order::model_guided{});
  validate(guided, g);
  CHECK(std::isfinite(predicted_makespan_us(g, guided, p)));
  CHECK(predicted_makespan_us(g, guided, p) == doctest::Approx(model_schedule(g, p).placement.predicted_us));
}
