// Cross-stream waits and their pruning.

#include <doctest/doctest.h>

#include <opara/compose/make_plan.hpp>
#include <opara/plan/validate.hpp>
#include <opara/plan/waits.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"
#include "support/plans.hpp"

using namespace opara;
using opara::test::rng_t;

namespace {
std::vector<node_id> waits_of(const wait_lists& w, node_id v) {
  return {w.wait_on.begin() + w.wait_begin[v], w.wait_on.begin() + w.wait_begin[v + 1]};
}
std::vector<node_id> identity(std::size_t n) {
  std::vector<node_id> o(n);
  for (node_id i = 0; i < n; ++i) o[i] = i;
  return o;
}
} // namespace

TEST_CASE("waits.cross_stream_edges_get_waits") {
  const graph g = test::build(4, {{0, 1}, {0, 2}, {1, 3}, {2, 3}});
  const stream_assignment a{{0, 0, 1, 0}, 2};
  const auto w = compute_waits(g, identity(4), a);
  CHECK(waits_of(w, 2) == std::vector<node_id>{0});
  CHECK(waits_of(w, 3) == std::vector<node_id>{2});
  CHECK(waits_of(w, 1).empty());
  CHECK(w.pruned == 0);
}

TEST_CASE("waits.prunes_a_wait_implied_by_stream_order") {
  // a (s0) feeds b and c on s1; b waits for a, so c (after b on s1) needs no wait.
  const graph g = test::build(3, {{0, 1}, {0, 2}});
  const stream_assignment a{{0, 1, 1}, 2};
  const auto w = compute_waits(g, identity(3), a);
  CHECK(waits_of(w, 1) == std::vector<node_id>{0});
  CHECK(waits_of(w, 2).empty());
  CHECK(w.pruned == 1);
  const auto u = compute_waits(g, identity(3), a, false);
  CHECK(waits_of(u, 2) == std::vector<node_id>{0});
  CHECK(u.pruned == 0);
}

TEST_CASE("waits.prunes_a_wait_implied_through_another_stream") {
  // a (s0) -> b (s1) -> c (s2) and a -> c: c's wait for b covers a.
  const graph g = test::build(3, {{0, 1}, {1, 2}, {0, 2}});
  const stream_assignment a{{0, 1, 2}, 3};
  const auto w = compute_waits(g, identity(3), a);
  CHECK(waits_of(w, 2) == std::vector<node_id>{1});
  CHECK(w.pruned == 1);
}

TEST_CASE("waits.keeps_only_the_latest_producer_of_a_stream") {
  // x and y run on s1 one after the other; z on s0 needs both: waiting for y suffices.
  const graph g = test::build(3, {{0, 2}, {1, 2}});
  const std::vector<node_id> order{0, 1, 2};
  const stream_assignment a{{1, 1, 0}, 2};
  const auto w = compute_waits(g, order, a);
  CHECK(waits_of(w, 2) == std::vector<node_id>{1});
  CHECK(w.pruned == 1);
}

TEST_CASE("waits.never_prunes_a_needed_wait") {
  // a (s0) -> c (s1); b (s2) -> c. Nothing links the two producers: both waits stay.
  const graph g = test::build(3, {{0, 2}, {1, 2}});
  const stream_assignment a{{0, 2, 1}, 3};
  const auto w = compute_waits(g, identity(3), a);
  CHECK(waits_of(w, 2) == std::vector<node_id>{0, 1});
  CHECK(w.pruned == 0);
}

TEST_CASE("waits.pruned_plans_keep_the_same_execution_order") {
  rng_t rng(21);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 30);
    const auto order = g.topological_order();
    for (const auto& a : {streams::opara_greedy{}.assign(g, order), streams::round_robin{}.assign(g, order),
                          streams::min_path_cover{}.assign(g, order)}) {
      plan full, pruned;
      for (plan* p : {&full, &pruned}) {
        const auto w = compute_waits(g, order, a, p == &pruned);
        p->order.assign(order.begin(), order.end());
        p->stream_of = a.stream_of;
        p->num_streams = a.num_streams;
        p->wait_begin = w.wait_begin;
        p->wait_on = w.wait_on;
      }
      CHECK(test::execution_ancestors(full) == test::execution_ancestors(pruned));
      CHECK(pruned.num_waits() <= full.num_waits());
      validate(pruned, g);
    }
  }
}

TEST_CASE("waits.googlenet_counts") {
  const graph g = test::googlenet();
  const plan p = make_plan(g);
  const plan u = make_plan(g, nullptr, {.prune_waits = false});
  MESSAGE("googlenet opara_greedy: " << p.num_streams << " streams, " << p.num_waits() << " waits (" << u.num_waits()
                                     << " unpruned, " << p.pruned_waits << " pruned)");
  CHECK(p.num_waits() + p.pruned_waits == u.num_waits());
  CHECK(p.pruned_waits == 0);  // under greedy every cross-block wait is needed
}

TEST_CASE("waits.10k_nodes_every_policy_prunes_only_implied_waits") {
  // Timing lives in bench/planning; here: on 10k-node graphs every policy's pruned plan is valid,
  // keeps no more waits than the unpruned one, and the exact path (few streams) prunes at least as
  // much as a plan that keeps every cross-stream edge would allow.
  rng_t rng(22);
  const graph r = test::random_dag(rng, 10000, 2, 64, true);
  const graph l = test::layered(rng, 500, 40, 2, 0.1);
  for (const graph* g : {&r, &l}) {
    const auto order = g->topological_order();
    for (const auto& a : {streams::opara_greedy{}.assign(*g, order), streams::round_robin{}.assign(*g, order),
                          streams::capped<streams::opara_greedy>{{}, 8}.assign(*g, order)}) {
      const auto pruned = compute_waits(*g, order, a);
      const auto full = compute_waits(*g, order, a, false);
      CHECK(pruned.wait_on.size() + pruned.pruned == full.wait_on.size());
      plan p;
      p.order.assign(order.begin(), order.end());
      p.stream_of = a.stream_of;
      p.num_streams = a.num_streams;
      p.wait_begin = pruned.wait_begin;
      p.wait_on = pruned.wait_on;
      validate(p, *g);
      if (a.num_streams <= exact_prune_streams) CHECK(pruned.pruned > 0);  // stream order implies many
    }
  }
}

TEST_CASE("waits.100k_wide_fan_out_under_uncapped_greedy") {
  for (bool join : {false, true}) {
    const graph g = test::fan_out(100000, join);
    const plan p = make_plan(g);
    MESSAGE("fan-out 100k (join " << join << "): " << p.num_streams << " streams, " << p.num_waits() << " waits");
    CHECK(p.num_streams >= 99998);
    CHECK(p.num_waits() == (join ? 2 * 99997 : 99998));  // each leaf waits for the source; the sink for all but one
    validate(p, g);
  }
}

TEST_CASE("waits.clock_memory_stays_bounded") {
  // Exact pruning (at most exact_prune_streams streams): a clock lives while a later operator may
  // read it, and holds at most one entry per other stream. Bound the entries by counting, along
  // the launch order, the operators whose clock may still be read (a waiter or a stream successor
  // not yet launched): a leak of clocks or of retired entries breaks it.
  rng_t rng(23);
  const graph g = test::layered(rng, 2500, 80, 3, 0.1);
  const auto order = g.topological_order();
  for (const auto& a : {streams::capped<streams::opara_greedy>{{}, 16}.assign(g, order),
                        streams::round_robin{.streams = 8}.assign(g, order)}) {
    REQUIRE(a.num_streams <= exact_prune_streams);
    const auto w = compute_waits(g, order, a);
    const auto pos = positions(order, g.num_nodes());
    std::vector<std::uint32_t> last_read(g.num_nodes(), 0);  // launch position of the last reader
    std::vector<node_id> tail(a.num_streams, no_node);
    for (node_id v : order) {
      for (node_id u : g.predecessors(v)) last_read[u] = std::max(last_read[u], pos[v]);
      if (tail[a.stream_of[v]] != no_node) last_read[tail[a.stream_of[v]]] = pos[v];
      tail[a.stream_of[v]] = v;
    }
    std::vector<int> delta(order.size() + 1, 0);
    for (node_id v = 0; v < g.num_nodes(); ++v)
      if (last_read[v] > pos[v]) {
        ++delta[pos[v]];
        --delta[last_read[v] + 1];
      }
    std::size_t alive = 0, peak_alive = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      alive += static_cast<std::size_t>(delta[i]);
      peak_alive = std::max(peak_alive, alive);
    }
    const std::size_t bound = (peak_alive + 1) * (a.num_streams - 1);
    MESSAGE("layered " << g.num_nodes() << " nodes, " << a.num_streams << " streams: peak " << w.peak_clock_entries
                       << " clock entries, bound " << bound);
    CHECK(w.peak_clock_entries > 0);
    CHECK(w.peak_clock_entries <= bound);
  }
  // Many streams: no clocks at all (a bounded search instead).
  const auto greedy = streams::opara_greedy{}.assign(g, order);
  REQUIRE(greedy.num_streams > exact_prune_streams);
  CHECK(compute_waits(g, order, greedy).peak_clock_entries == 0);
}

TEST_CASE("waits.invalid_order_or_stream_throws_instead_of_reading_out_of_bounds") {
  const graph g = test::build(3, {{0, 1}, {1, 2}});
  const stream_assignment a{{0, 1, 0}, 2};
  CHECK_THROWS_WITH_AS((void)compute_waits(g, std::vector<node_id>{0, 7, 2}, a), doctest::Contains("names node 7"),
                       bad_policy);
  CHECK_THROWS_WITH_AS((void)compute_waits(g, std::vector<node_id>{0, 1}, a), doctest::Contains("has 2 entries"),
                       bad_policy);
  CHECK_THROWS_WITH_AS((void)compute_waits(g, std::vector<node_id>{2, 1, 0}, a), doctest::Contains("launches"),
                       bad_policy);
  CHECK_THROWS_WITH_AS((void)compute_waits(g, identity(3), stream_assignment{{0, 5, 0}, 2}),
                       doctest::Contains("node 1 on stream 5"), bad_policy);
  CHECK_THROWS_AS((void)compute_waits(g, identity(3), stream_assignment{{0, 1}, 2}), bad_policy);
  CHECK_THROWS_WITH_AS((void)compute_waits(g, identity(3), stream_assignment{{0, 1, 0}, 4294967295u}),
                       doctest::Contains("4294967295 streams for 3 nodes"), bad_policy);
}

TEST_CASE("waits.search_pruning_is_re_proven_by_validate") {
  // Many streams: compute_waits prunes through the bounded search; validate, with the same search,
  // accepts every such plan, and rejects it once one kept wait is removed.
  rng_t rng(24);
  for (int i = 0; i < 40; ++i) {
    const graph g = test::random_dag(rng, 600, 2, 16, true);
    const plan p = make_plan<streams::opara_greedy>(g);
    REQUIRE(p.num_streams > exact_prune_streams);
    CHECK_NOTHROW(validate(p, g));
    if (p.num_waits() == 0) continue;
    plan broken = p;
    const auto k = static_cast<std::size_t>(rng() % broken.wait_on.size());
    node_id consumer = 0;
    while (broken.wait_begin[consumer + 1] <= k) ++consumer;
    broken.wait_on.erase(broken.wait_on.begin() + static_cast<std::ptrdiff_t>(k));
    for (std::size_t v = consumer + 1; v < broken.wait_begin.size(); ++v) --broken.wait_begin[v];
    // Removing a kept wait breaks the plan unless another path still implies it: compare with the
    // naive closure.
    const auto anc = test::execution_ancestors(broken);
    bool honoured = true;
    for (node_id u = 0; u < g.num_nodes() && honoured; ++u)
      for (node_id s : g.successors(u))
        if (broken.stream_of[u] != broken.stream_of[s] && !anc[s][u]) honoured = false;
    if (honoured) CHECK_NOTHROW(validate(broken, g));
    else CHECK_THROWS_AS(validate(broken, g), invalid_plan);
  }
}

TEST_CASE("waits.dense_clocks_validate_decides_like_the_closure") {
  // Few streams (dense vector clocks in compute_waits and validate): every pruned plan is valid,
  // and with one kept wait removed validate accepts it exactly when the naive closure still
  // honours every cross-stream edge.
  rng_t rng(25);
  for (int i = 0; i < 40; ++i) {
    const graph g = test::random_dag(rng, 400, 2, 16, true);
    const std::uint32_t cap = 2 + static_cast<std::uint32_t>(rng() % 40);
    const plan p = i % 2 ? make_plan(g, nullptr, {}, streams::capped<streams::opara_greedy>{{}, cap})
                         : make_plan(g, nullptr, {}, streams::round_robin{.streams = cap});
    REQUIRE(p.num_streams <= exact_prune_streams);
    CHECK_NOTHROW(validate(p, g));
    if (p.num_waits() == 0) continue;
    plan broken = p;
    const auto k = static_cast<std::size_t>(rng() % broken.wait_on.size());
    node_id consumer = 0;
    while (broken.wait_begin[consumer + 1] <= k) ++consumer;
    broken.wait_on.erase(broken.wait_on.begin() + static_cast<std::ptrdiff_t>(k));
    for (std::size_t v = consumer + 1; v < broken.wait_begin.size(); ++v) --broken.wait_begin[v];
    broken.pruned_waits = 0;
    const auto anc = test::execution_ancestors(broken);
    bool honoured = true;
    for (node_id u = 0; u < g.num_nodes() && honoured; ++u)
      for (node_id s : g.successors(u))
        if (broken.stream_of[u] != broken.stream_of[s] && !anc[s][u]) honoured = false;
    if (honoured) CHECK_NOTHROW(validate(broken, g));
    else CHECK_THROWS_AS(validate(broken, g), invalid_plan);
  }
}
