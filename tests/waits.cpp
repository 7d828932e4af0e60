// Cross-stream waits and their pruning.

#include <doctest/doctest.h>

#include <opara/plan/make_plan.hpp>
#include <opara/plan/validate.hpp>
#include <opara/plan/waits.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"
#include "support/plans.hpp"
#include "support/timing.hpp"

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

namespace {
template <class S>
double plan_ms(const graph& g, S s = {}) {
  return test::median_ms(3, [&] { (void)make_plan(g, nullptr, {}, s); });
}
} // namespace

TEST_CASE("waits.10k_nodes_in_milliseconds") {
  rng_t rng(22);
  const graph r = test::random_dag(rng, 10000, 2, 64, true);
  const graph l = test::layered(rng, 500, 40, 2, 0.1);
  for (const graph* g : {&r, &l}) {
    const double greedy = plan_ms<streams::opara_greedy>(*g);
    const double rr = plan_ms<streams::round_robin>(*g);
    MESSAGE("10k plan: greedy " << greedy << " ms, round_robin " << rr << " ms");
    if (test::timing_asserts) {  // generous: the build machines are shared
      CHECK(greedy < 30);
      CHECK(rr < 10);
    }
  }
}

TEST_CASE("waits.100k_wide_fan_out_under_uncapped_greedy") {
  for (bool join : {false, true}) {
    const graph g = test::fan_out(100000, join);
    const auto t0 = std::chrono::steady_clock::now();
    const plan p = make_plan(g);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("fan-out 100k (join " << join << "): " << p.num_streams << " streams, " << p.num_waits() << " waits, "
                                  << ms << " ms");
    CHECK(p.num_streams >= 99998);
    CHECK(p.num_waits() == (join ? 2 * 99997 : 99998));  // each leaf waits for the source; the sink for all but one
    validate(p, g);
  }
}

TEST_CASE("waits.clock_memory_stays_bounded") {
  rng_t rng(23);
  const graph g = test::layered(rng, 2500, 80, 3, 0.1);
  const auto order = g.topological_order();
  const auto a = streams::opara_greedy{}.assign(g, order);
  const auto w = compute_waits(g, order, a);
  MESSAGE("layered " << g.num_nodes() << " nodes, " << a.num_streams << " streams: peak " << w.peak_clock_entries
                     << " clock entries");
  CHECK(w.peak_clock_entries < std::size_t{64} << 20);
}
