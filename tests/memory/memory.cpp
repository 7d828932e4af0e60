// Memory: the tensor concepts, the hazard orderings and check_memory against a brute-force oracle,
// make_plan's race-free plans on an engine's arena, and opara's own arena planning.

#include <doctest/doctest.h>

#include <opara/memory/arena.hpp>
#include <opara/compose/budget.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/compose/make_plan.hpp>
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
  std::sort(pairs.begin(), pairs.end(), [](auto x, auto y) { return x.second != y.second ? x.second < y.second : x.first < y.first; });
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
  int racy = 0, clean = 0, clobbered_arenas = 0;
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
        const bool clobbered = test::oracle_clobbered(m, tg.topological_order());  // the arena itself is wrong
        const bool oracle = a != no_node || clobbered;
        CHECK(races(p, tg, m) == oracle);
        if (hazards) CHECK_FALSE(a != no_node);  // make_plan's plans never race on the engine's arena
        if (trial % 3 == 0) CHECK_FALSE(clobbered);  // the engine's first-fit arena is right in program order
        (oracle ? racy : clean) += 1;
        clobbered_arenas += clobbered;
      }
    }
  }
  CHECK(racy > 20);  // the generator does make racy plans when the orderings are off
  CHECK(clean > 20);
  CHECK(clobbered_arenas > 20);  // and arenas that are wrong whatever the plan
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

TEST_CASE("plan_arena: buffers share bytes only when the plan orders them, and never below the lower bound") {
  rng_t rng(77);
  std::size_t shared_somewhere = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const graph g = test::layered(rng, test::uniform(rng, 2, 8), test::uniform(rng, 1, 5), 2, 0.2);
    const test::tensor_dag t = test::tensors_on(g, rng);
    const memory_map m = memory_of(t);
    std::uint64_t no_reuse = 0;
    for (const buffer_info& b : m.buffers)
      if (!b.pinned) no_reuse += b.bytes;
    for (const plan& p : plans_of(t, true)) {
      CAPTURE(trial);
      CAPTURE(p.stream_policy);
      const arena a = plan_arena(p, g, m, {.alignment = 1});
      const memory_map placed = with_arena(m, a);
      CHECK(placed.placed());
      CHECK(placed.arena_bytes() == a.bytes);
      CHECK_NOTHROW(check_memory(p, g, placed, p.order));  // race-free under the plan's own order
      CHECK(test::oracle_race(p, placed, p.order).first == no_node);
      CHECK_FALSE(test::oracle_clobbered(placed, p.order));
      const std::uint64_t lb = arena_lower_bound(p, g, m);
      CHECK(lb <= a.bytes);
      CHECK(a.bytes <= no_reuse);
      if (a.bytes < no_reuse) ++shared_somewhere;
      // Alignment: every offset a multiple of it.
      const arena b = plan_arena(p, g, m, {.alignment = 16});
      for (buffer_id x = 0; x < m.num_buffers(); ++x)
        if (!m.buffers[x].pinned) CHECK(b.offset[x] % 16 == 0);
      CHECK_NOTHROW(check_memory(p, g, with_arena(m, b), p.order));
    }
  }
  CHECK(shared_somewhere > 100);
}

TEST_CASE("plan_arena: a chain reuses two buffers, parallel branches keep theirs apart") {
  // A chain of 6 operators, each writing 100 bytes read by the next: two buffers' worth at once.
  test::tensor_dag chain;
  const std::size_t n = 6;
  chain.succ.resize(n);
  chain.in.resize(n);
  chain.out.resize(n);
  for (node_id v = 0; v < n; ++v) {
    if (v + 1 < n) chain.succ[v] = {v + 1};
    chain.out[v] = {v};
    if (v > 0) chain.in[v] = {v - 1};
    chain.bytes.push_back(100);
    chain.pinned.push_back(v + 1 == n ? 1 : 0);
  }
  const graph g = to_graph(chain);
  const plan p = make_plan(chain);
  const arena a = plan_arena(p, g, memory_of(chain), {.alignment = 1});
  CHECK(a.bytes == 200);
  CHECK(arena_lower_bound(p, g, memory_of(chain)) == 200);
  // Fork: 0 writes x; 1 and 2 read x on two streams and write y1, y2; 3 reads both.
  test::tensor_dag fork;
  fork.succ = {{1, 2}, {3}, {3}, {}};
  fork.in = {{}, {0}, {0}, {1, 2}};
  fork.out = {{0}, {1}, {2}, {3}};
  fork.bytes = {100, 100, 100, 100};
  fork.pinned = {0, 0, 0, 1};
  const graph fg = to_graph(fork);
  const plan par = make_plan(fork);
  REQUIRE(par.num_streams == 2);
  const plan seq = make_plan<streams::sequential>(fork);
  const arena ap = plan_arena(par, fg, memory_of(fork), {.alignment = 1});
  const arena as = plan_arena(seq, fg, memory_of(fork), {.alignment = 1});
  CHECK(ap.bytes == 300);  // x, y1, y2 may all be live at once on two streams
  CHECK(as.bytes == 300);  // in sequence too: x is read by 2 after 1 wrote y1
  CHECK_THROWS_AS(plan_arena(par, fg, memory_of(fork), {.alignment = 3}), bad_policy);
}

TEST_CASE("make_plan_within: within budget, race-free, and refuses less than the sequential arena") {
  rng_t rng(5150);
  int serialized = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const graph g = test::layered(rng, test::uniform(rng, 3, 8), test::uniform(rng, 2, 6), 2, 0.2);
    const test::tensor_dag t = test::tensors_on(g, rng);
    const memory_map m = memory_of(t);
    CAPTURE(trial);
    const budgeted_plan seq_budget = make_plan_within(t, sequential_arena, nullptr, {}, {}, {}, {.alignment = 1});
    const std::uint64_t seq = seq_budget.sequential_bytes != 0 ? seq_budget.sequential_bytes : seq_budget.arena.bytes;
    CHECK(seq_budget.arena.bytes <= seq_budget.budget_bytes);
    const memory_map placed = with_arena(m, seq_budget.arena);
    CHECK_NOTHROW(validate(seq_budget.plan, g));
    const std::vector<node_id> ref = seq_budget.memory_order.empty()
                                         ? std::vector<node_id>(g.topological_order().begin(), g.topological_order().end())
                                         : seq_budget.memory_order;
    CHECK_NOTHROW(check_memory(seq_budget.plan, g, placed, ref));
    CHECK(test::oracle_race(seq_budget.plan, placed, ref).first == no_node);
    CHECK_FALSE(test::oracle_clobbered(placed, ref));
    if (seq_budget.unbudgeted_bytes > seq_budget.budget_bytes) ++serialized;
    // Any budget between the sequential and the parallel arena is met.
    const std::uint64_t mid = (seq + seq_budget.unbudgeted_bytes) / 2;
    const budgeted_plan r = make_plan_within<streams::round_robin>(t, mid, nullptr, {}, {.streams = 3}, {}, {.alignment = 1});
    CHECK(r.arena.bytes <= std::max(mid, r.unbudgeted_bytes));
    {
      const memory_map rp = with_arena(m, r.arena);
      const std::vector<node_id> rref = r.memory_order.empty()
                                            ? std::vector<node_id>(g.topological_order().begin(), g.topological_order().end())
                                            : r.memory_order;
      CHECK_NOTHROW(check_memory(r.plan, g, rp, rref));
      CHECK(test::oracle_race(r.plan, rp, rref).first == no_node);
      CHECK_FALSE(test::oracle_clobbered(rp, rref));
    }
    if (seq > 1)
      CHECK_THROWS_WITH_AS(make_plan_within(t, seq - 1, nullptr, {}, {}, {}, {.alignment = 1}),
                           doctest::Contains("below the sequential plan's arena"), bad_policy);
  }
  CHECK(serialized > 3);  // the budget did bind on some graphs
}

namespace {
// An inception-like block with a concatenation: 0 writes x; branches 1 and 2 read x and write the
// two channel slices (parts 2 and 3) of y (buffer 1), interleaved in memory; 3 reads all of y.
test::tensor_dag concat_block() {
  test::tensor_dag t;
  t.succ = {{1, 2}, {3}, {3}, {}};
  t.in = {{}, {0}, {0}, {1}};
  t.out = {{0}, {2}, {3}, {4}};
  t.bytes = {100, 200, 200, 200, 50};
  t.pinned = {0, 0, 0, 0, 1};
  return t;
}
struct concat_dag : test::arena_dag {
  std::vector<buffer_id> parent;
  std::size_t buffer_part_of(buffer_id b) const { return parent[b]; }
};
} // namespace

TEST_CASE("parts: slices of one buffer written by parallel branches need no ordering between them") {
  concat_dag t{{concat_block()}, {}};
  t.parent = {0, 1, 1, 1, 4};
  t.offset = {0, 100, 0, 0, 0};  // x at 0, y at 100 (its parts follow it)
  static_assert(partitioned_tensor_graph<concat_dag>);
  const memory_map m = memory_of(t);
  CHECK(m.buffers[2].part_of == 1);
  CHECK(m.buffers[2].offset == 100);  // a part takes its parent's place
  CHECK(m.root(3) == 1);
  CHECK_FALSE(m.may_conflict(2, 3));
  CHECK(m.may_conflict(2, 1));
  const graph g = to_graph(t);
  const auto o = memory_orderings(m, g.topological_order());
  std::vector<std::pair<node_id, node_id>> pairs;
  for (const memory_ordering& x : o) pairs.emplace_back(x.before, x.after);
  std::sort(pairs.begin(), pairs.end());
  CHECK(pairs == std::vector<std::pair<node_id, node_id>>{{0, 1}, {0, 2}, {1, 3}, {2, 3}});  // the edges only
  const plan p = make_plan(t);
  CHECK(p.num_streams == 2);  // the branches stay parallel
  CHECK(p.memory_orderings == 0);
  CHECK_NOTHROW(check_memory(p, g, m));
  // Without parts the two slice writers would be one buffer's writers: ordered, one stream's worth.
  test::arena_dag whole{concat_block()};
  whole.out = {{0}, {1}, {1}, {4}};
  whole.in = {{}, {0}, {0}, {1}};
  whole.offset = {0, 100, 0, 0, 0};
  const plan q = make_plan(whole);
  CHECK(q.memory_orderings == 1);  // 1 -> 2: a write after a write of the same bytes
  // opara's arena places the parent once; parts take its offset; x and y are live at once.
  const arena a = plan_arena(p, g, m, {.alignment = 1});
  CHECK(a.offset[2] == a.offset[1]);
  CHECK(a.offset[3] == a.offset[1]);
  CHECK(a.bytes == 300);
  CHECK_NOTHROW(check_memory(p, g, with_arena(m, a), p.order));
  // A part of a part is refused.
  concat_dag bad = t;
  bad.parent = {0, 1, 1, 2, 4};
  CHECK_THROWS_WITH_AS(memory_of(bad), doctest::Contains("itself a part"), bad_graph);
}

TEST_CASE("check_memory refuses an arena that is wrong in the reference order, and make_plan follows memory_order") {
  // 0 writes A; 1 writes B over A's bytes; 2 reads A: in program order B clobbers A before 2 reads it.
  test::arena_dag t;
  t.succ = {{2}, {}, {}};
  t.in = {{}, {}, {0}};
  t.out = {{0}, {1}, {2}};
  t.bytes = {8, 8, 8};
  t.offset = {0, 0, 0};
  t.pinned = {0, 0, 1};
  const graph g = to_graph(t);
  const memory_map m = memory_of(t);
  CHECK_THROWS_WITH_AS(check_memory(make_plan(t), g, m), doctest::Contains("the arena is wrong in the reference order"),
                       invalid_plan);
  CHECK(test::oracle_clobbered(m, g.topological_order()));
  // In the order 0, 2, 1 the same arena is right: plans made for that order honour it.
  plan_options o;
  o.memory_order = {0, 2, 1};
  const plan p = make_plan(t, nullptr, o);
  CHECK_NOTHROW(check_memory(p, g, m, o.memory_order));
  CHECK(test::oracle_race(p, m, o.memory_order).first == no_node);
  o.memory_order = {2, 0, 1};  // not a topological order
  CHECK_THROWS_AS((void)make_plan(t, nullptr, o), bad_policy);
}

TEST_CASE("plan_arena with parts: concatenations on parallel branches, against the oracle") {
  rng_t rng(31337);
  int shared = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const test::concat_dag t = test::concat_layers(rng, test::uniform(rng, 2, 6), test::uniform(rng, 1, 5));
    static_assert(partitioned_tensor_graph<test::concat_dag>);
    const graph g = to_graph(t);
    const memory_map m = memory_of(t);
    for (const plan& p : plans_of(t, true)) {
      CAPTURE(trial);
      CAPTURE(p.stream_policy);
      const arena a = plan_arena(p, g, m, {.alignment = 1});
      const memory_map placed = with_arena(m, a);
      CHECK_FALSE(test::oracle_clobbered(placed, p.order));
      CHECK(test::oracle_race(p, placed, p.order).first == no_node);
      CHECK_NOTHROW(check_memory(p, g, placed, p.order));
      CHECK(arena_lower_bound(p, g, m) <= a.bytes);
      std::uint64_t no_reuse = 0;
      for (buffer_id b = 0; b < m.num_buffers(); ++b)
        if (!m.buffers[b].pinned && m.buffers[b].part_of == no_buffer) no_reuse += m.buffers[b].bytes;
      if (a.bytes < no_reuse) ++shared;
    }
  }
  CHECK(shared > 50);
}
