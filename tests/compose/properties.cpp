// Properties over many random DAGs of several shapes: orders are topological, plans validate,
// min_path_cover uses width-many streams (width checked by brute force on small graphs), caps
// hold, and pruning never drops a needed wait.

#include <doctest/doctest.h>

#include <opara/opara.hpp>

#include "support/dags.hpp"
#include "support/plans.hpp"

using namespace opara;
using opara::test::rng_t;

namespace {
profile random_profile(rng_t& rng, const graph& g) {
  profile p;
  p.limits.shared_bytes_per_block = 227 * 1024;
  p.limits.sm_count = 132;
  p.ops.resize(g.num_nodes());
  for (auto& op : p.ops) {
    op.duration_us = test::uniform(rng, 1, 100);
    op.bound = static_cast<boundness>(test::uniform(rng, 0, 2));
    kernel_record k;
    k.static_shared_bytes = test::uniform(rng, 0, 3) * 16384;
    k.grid = {test::uniform(rng, 1, 512), 1, 1};
    k.block = {128, 1, 1};
    k.duration_us = op.duration_us;
    op.kernels.push_back(k);
  }
  return p;
}

template <class S, class O>
plan check_plan(const graph& g, const profile& prof, S s = {}, O o = {}) {
  const plan pruned = make_plan(g, &prof, {}, s, o);
  const plan full = make_plan(g, &prof, {.prune_waits = false}, s, o);
  REQUIRE(is_topological_order(g, pruned.order));
  REQUIRE(pruned.stream_of[pruned.order[0]] == 0);
  validate(pruned, g);
  validate(full, g);
  CHECK(pruned.stream_of == full.stream_of);
  CHECK(pruned.num_waits() + pruned.pruned_waits == full.num_waits());
  // Pruning keeps exactly the same execution order between operators.
  CHECK(test::execution_ancestors(pruned) == test::execution_ancestors(full));
  return pruned;
}
} // namespace

TEST_CASE("properties.random_dags") {
  rng_t rng(2026);
  constexpr int graphs = 10000;
  std::size_t brute_checked = 0;
  for (int i = 0; i < graphs; ++i) {
    const int shape = i % 5;
    const graph g = test::random_small(rng, shape, i % 3 == 0 ? 12 : 24);
    const profile prof = random_profile(rng, g);
    CAPTURE(i);
    CAPTURE(shape);

    for (const auto& order : {order::program_order{}.order(g, &prof), order::resource_aware{}.order(g, &prof),
                              order::critical_path_first{}.order(g, &prof)})
      CHECK(is_topological_order(g, order));

    const std::size_t w = width(g);
    if (g.num_nodes() <= 12) {
      CHECK(w == test::brute_width(g));
      ++brute_checked;
    }
    using order::program_order;
    using order::resource_aware;
    (void)check_plan<streams::sequential, program_order>(g, prof);
    (void)check_plan<streams::opara_greedy, resource_aware>(g, prof);
    const plan mpc = check_plan<streams::min_path_cover, program_order>(g, prof);
    CHECK(mpc.num_streams == w);
    const plan mpc2 = check_plan<streams::min_path_cover, order::critical_path_first>(g, prof);
    CHECK(mpc2.num_streams == w);
    const std::uint32_t n_rr = test::uniform(rng, 1, 5);
    const plan rr = check_plan<streams::round_robin, resource_aware>(g, prof, {.streams = n_rr});
    CHECK(rr.num_streams <= n_rr);
    const std::uint32_t cap = test::uniform(rng, 1, 4);
    const plan cg = check_plan<streams::capped<streams::opara_greedy>, program_order>(g, prof, {{}, cap});
    CHECK(cg.num_streams <= cap);
    const plan cm = check_plan<streams::capped<streams::min_path_cover>, resource_aware>(g, prof, {{}, cap});
    CHECK(cm.num_streams <= std::min<std::size_t>(cap, w));
  }
  MESSAGE(graphs << " graphs, " << brute_checked << " widths checked by brute force");
  CHECK(brute_checked > 1000);
}

TEST_CASE("properties.medium_dags") {
  rng_t rng(7);
  for (int i = 0; i < 3000; ++i) {
    const graph g = test::random_small(rng, i % 5, 64);
    const profile prof = random_profile(rng, g);
    CAPTURE(i);
    const std::size_t w = width(g);
    const auto cover = min_chain_cover(g);
    CHECK(cover.antichain.size() == w);
    const plan mpc = check_plan<streams::min_path_cover, order::resource_aware>(g, prof);
    CHECK(mpc.num_streams == w);
    (void)check_plan<streams::opara_greedy, order::critical_path_first>(g, prof);
    (void)check_plan<streams::round_robin, order::program_order>(g, prof);
    const plan cg = check_plan<streams::capped<streams::opara_greedy>, order::program_order>(g, prof, {{}, 3});
    CHECK(cg.num_streams <= 3);
  }
}
