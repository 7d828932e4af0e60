// Memory: the tensor concepts, the hazard orderings and check_memory against a brute-force oracle,
// make_plan's race-free plans on an engine's arena, and opara's own arena planning.

#include <doctest/doctest.h>

#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/plan/make_plan.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/plans.hpp"
#include "support/tensors.hpp"

#include <functional>
#include <string>
#include <vector>

using namespace opara;
using opara::test::rng_t;

namespace {

// A launch order that differs from program order: largest ready id first.
struct largest_first {
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "largest_first";
  std::vector<node_id> order(const graph& g, const profile*) const {
    return list_schedule(g, ready_heap<std::greater<node_id>>{});
  }
};

// Every policy x order the race tests plan with, with or without the memory's orderings.
template <class G>
std::vector<plan> plans_of(const G& g, bool hazards) {
  plan_options o;
  o.memory_hazards = hazards;
  std::vector<plan> out;
  out.push_back(make_plan<streams::opara_greedy>(g, nullptr, o));
  out.push_back(make_plan<streams::opara_greedy, largest_first>(g, nullptr, o));
  out.push_back(make_plan<streams::round_robin>(g, nullptr, o, {.streams = 3}));
  out.push_back(make_plan<streams::round_robin, largest_first>(g, nullptr, o, {.streams = 2}));
  out.push_back(make_plan<streams::min_path_cover>(g, nullptr, o));
  out.push_back(make_plan<streams::sequential>(g, nullptr, o));
  out.push_back(make_plan<streams::capped<streams::opara_greedy>, largest_first>(g, nullptr, o, {.max_streams = 2}));
  return out;
}

bool races(const plan& p, const graph& g, const memory_map& m) {
  try {
    check_memory(p, g, m);
    return false;
  } catch (const invalid_plan&) {
    return true;
  }
}

} // namespace

TEST_CASE("memory_of reads a tensor_graph and refuses bad buffer ids") {
  rng_t rng(1);
  const graph g = test::layered(rng, 4, 3);
  test::tensor_dag t = test::tensors_on(g, rng);
  static_assert(tensor_graph<test::tensor_dag>);
  static_assert(!arena_graph<test::tensor_dag>);
  static_assert(arena_graph<test::arena_dag>);
  const memory_map m = memory_of(t);
  CHECK(m.num_nodes() == g.num_nodes());
  CHECK(m.num_buffers() == g.num_nodes() + 1);
  CHECK_FALSE(m.placed());  // no offsets: every buffer is its own memory
  CHECK(m.buffers[0].pinned);
  CHECK(m.buffer_name(3) == "t3");
  test::tensor_dag bad = t;
  bad.in[1].push_back(99);
  CHECK_THROWS_WITH_AS(memory_of(bad), doctest::Contains("unknown buffer 99"), bad_graph);
  bad = t;
  bad.bytes[2] = 0;
  CHECK_THROWS_WITH_AS(memory_of(bad), doctest::Contains("has no bytes"), bad_graph);
  // Reading and writing one buffer is one write.
  bad = t;
  bad.in[1].push_back(bad.out[1][0]);
  const memory_map m2 = memory_of(bad);
  CHECK(m2.accesses_of(1).size() == m.accesses_of(1).size());
}

TEST_CASE("memory_orderings: write after read, read after write, write after write, and in place") {
  // Four operators in program order 0..3 on a 16-byte arena: 0 writes A [0,8), 1 reads A and
  // writes B [8,16), 2 writes C [0,8) (reuses A: must follow 1's read), 3 reads B and C.
  test::arena_dag t;
  t.succ = {{1}, {3}, {3}, {}};
  t.in = {{}, {0}, {}, {1, 2}};
  t.out = {{0}, {1}, {2}, {3}};
  t.bytes = {8, 8, 8, 4};
  t.offset = {0, 8, 0, 16};
  t.pinned = {0, 0, 0, 1};
  const memory_map m = memory_of(t);
  const graph g = to_graph(t);
  const auto o = memory_orderings(m, g.topological_order());
  // 0 -> 1 (A read after write: also an edge), 0 -> 2 (C overwrites A), 1 -> 2 (C overwrites what
  // 1 reads), 1 -> 3, 2 -> 3.
  std::vector<std::pair<node_id, node_id>> pairs;
  for (const memory_ordering& x : o) pairs.emplace_back(x.before, x.after);
  CHECK(pairs == std::vector<std::pair<node_id, node_id>>{{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 3}});
  // A plan on two streams that puts 2 beside 1 without a wait races, and the message says where.
  plan_options off;
  off.memory_hazards = false;
  const plan p = make_plan<streams::round_robin>(t, nullptr, off, {.streams = 2});
  REQUIRE(p.stream_of[1] != p.stream_of[2]);
  CHECK_THROWS_WITH_AS(check_memory(p, g, m),
                       doctest::Contains("'n0' (writes 't0', bytes 0..8) and 'n2' (writes 't2', bytes 0..8) overlap"),
                       invalid_plan);
  // With the orderings, the same policy waits.
  const plan q = make_plan<streams::round_robin>(t, nullptr, {}, {.streams = 2});
  CHECK(q.memory_orderings == 2);  // 0 -> 2 and 1 -> 2 were not edges of the graph
  CHECK_NOTHROW(check_memory(q, g, m));
  CHECK_NOTHROW(check_memory(q, t));
}

TEST_CASE("check_memory agrees with a brute-force oracle on random graphs and arenas") {
  rng_t rng(20261206);
  int racy = 0, clean = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const graph g = test::layered(rng, test::uniform(rng, 2, 7), test::uniform(rng, 1, 5), 2, 0.2);
    test::arena_dag t{test::tensors_on(g, rng)};
    switch (trial % 3) {
      case 0: test::sequential_first_fit(t); break;                             // the engine's own arena
      case 1: test::random_offsets(t, rng, 48); break;                          // aliased at will
      default: test::random_offsets(t, rng, 4); break;                          // nearly everything aliases
    }
    const memory_map m = memory_of(t);
    const graph tg = to_graph(t);
    for (bool hazards : {false, true}) {
      for (const plan& p : plans_of(t, hazards)) {
        CAPTURE(trial);
        CAPTURE(hazards);
        CAPTURE(p.stream_policy);
        const auto [a, b] = test::oracle_race(p, m, tg.topological_order());
        const bool oracle = a != no_node;
        CHECK(races(p, tg, m) == oracle);
        if (hazards) CHECK_FALSE(oracle);  // make_plan's plans never race on the engine's arena
        (oracle ? racy : clean) += 1;
      }
    }
  }
  CHECK(racy > 20);  // the generator does make racy plans when the orderings are off
  CHECK(clean > 20);
}

TEST_CASE("check_memory refuses a plan that launches the engine's later writer first") {
  // Two independent operators that write the same bytes: program order says 0 then 1.
  test::arena_dag t;
  t.succ = {{}, {}};
  t.in = {{}, {}};
  t.out = {{0}, {1}};
  t.bytes = {8, 8};
  t.offset = {0, 0};
  t.pinned = {0, 0};
  const graph g = to_graph(t);
  const memory_map m = memory_of(t);
  plan_options off;
  off.memory_hazards = false;
  const plan p = make_plan<streams::sequential, largest_first>(t, nullptr, off);
  REQUIRE(p.order.front() == 1);
  CHECK_THROWS_WITH_AS(check_memory(p, g, m), doctest::Contains("launches the second before the first"), invalid_plan);
  const plan q = make_plan<streams::sequential, largest_first>(t);
  CHECK(q.order.front() == 0);  // the ordering made 0 -> 1 a dependency
  CHECK_NOTHROW(check_memory(q, g, m));
}
