// make_plan and validate, on good and bad input.

#include <doctest/doctest.h>

#include <opara/compose/make_plan.hpp>
#include <opara/plan/segments.hpp>
#include <opara/plan/validate.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"
#include "support/plans.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

using namespace opara;
using opara::test::rng_t;

namespace {
// A user's own graph type: adjacency lists with names, adapted through member functions.
struct user_graph {
  std::vector<std::vector<int>> succ;
  std::vector<std::string> names;
  std::size_t num_nodes() const { return succ.size(); }
  const std::vector<int>& successors(node_id v) const { return succ[v]; }
  std::string name(node_id v) const { return names[v]; }
};

// A local launch order: reverse-id Kahn (largest ready id first).
struct largest_first {
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "largest_first";
  std::vector<node_id> order(const graph& g, const profile*) const {
    return list_schedule(g, ready_heap<std::greater<node_id>>{});  // a goes before b when a > b
  }
};

struct backwards {  // returns a non-topological order
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "backwards";
  std::vector<node_id> order(const graph& g, const profile*) const {
    auto t = g.topological_order();
    return {t.rbegin(), t.rend()};
  }
};

struct wants_profile {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "wants_profile";
  std::vector<node_id> order(const graph& g, const profile*) const {
    auto t = g.topological_order();
    return {t.begin(), t.end()};
  }
};

user_graph diamond_user() { return {{{1, 2}, {3}, {3}, {}}, {"in", "left", "right", "out"}}; }
} // namespace

static_assert(launch_order_policy<largest_first>);

TEST_CASE("make_plan.defaults_fill_policy_names") {
  const graph g = test::googlenet();
  const plan p = make_plan(g);
  CHECK(p.stream_policy == "opara_greedy");
  CHECK(p.order_policy == "program_order");
  CHECK(p.num_nodes() == g.num_nodes());
  CHECK(p.stream_of[p.order[0]] == 0);
  validate(p, g);
  const plan q = make_plan<streams::capped<streams::min_path_cover>>(g, nullptr, {}, {{}, 2});
  CHECK(q.stream_policy == "capped<min_path_cover>");
  CHECK(q.num_streams == 2);
  validate(q, g);
}

TEST_CASE("make_plan.adapts_a_user_graph") {
  const user_graph u = diamond_user();
  const plan p = make_plan(u);
  CHECK(p.num_streams == 2);
  CHECK(p.num_waits() == 2);
  validate(p, u);
}

TEST_CASE("make_plan.uses_the_given_order_policy") {
  rng_t rng(31);
  for (int i = 0; i < 100; ++i) {
    const graph g = test::random_small(rng, i % 5, 30);
    const plan p = make_plan<streams::opara_greedy, largest_first>(g);
    CHECK(p.order == largest_first{}.order(g, nullptr));
    CHECK(p.order_policy == "largest_first");
    CHECK(p.stream_of[p.order[0]] == 0);
    validate(p, g);
  }
}

TEST_CASE("make_plan.profile_by_reference") {
  const graph g = test::inception_block();
  profile prof;
  prof.ops.resize(g.num_nodes());
  const plan p = make_plan<streams::min_path_cover, wants_profile>(g, prof);
  CHECK(p.num_streams == 4);
  validate(p, g);
}

TEST_CASE("make_plan.rejects_bad_policies") {
  const graph g = test::inception_block();
  auto with_backwards = [&] { return make_plan<streams::opara_greedy, backwards>(g); };
  auto without_profile = [&] { return make_plan<streams::opara_greedy, wants_profile>(g); };
  profile wrong;
  wrong.ops.resize(3);
  auto wrong_profile = [&] { return make_plan<streams::opara_greedy, wants_profile>(g, wrong); };
  auto no_streams = [&] { return make_plan<streams::round_robin>(g, nullptr, {}, {.streams = 0}); };
  CHECK_THROWS_WITH_AS((void)with_backwards(), doctest::Contains("backwards"), bad_policy);
  CHECK_THROWS_WITH_AS((void)without_profile(), doctest::Contains("wants_profile"), bad_policy);
  CHECK_THROWS_WITH_AS((void)wrong_profile(), doctest::Contains("3 operator records"), bad_policy);
  CHECK_THROWS_WITH_AS((void)no_streams(), doctest::Contains("round_robin"), bad_policy);
  const streams::capped<streams::opara_greedy> zero{{}, 0};
  CHECK_THROWS_WITH_AS((void)make_plan(g, nullptr, {}, zero), doctest::Contains("max_streams == 0"), bad_policy);
}

TEST_CASE("make_plan.bad_graphs") {
  user_graph cyc{{{1}, {2}, {0}}, {"a", "b", "c"}};
  CHECK_THROWS_AS((void)make_plan(cyc), not_a_dag);
  CHECK_THROWS_WITH((void)make_plan(cyc), doctest::Contains("b -> c -> a -> b"));
  user_graph self{{{0}}, {"me"}};
  CHECK_THROWS_WITH_AS((void)make_plan(self), doctest::Contains("self-loop"), bad_graph);
  user_graph unknown{{{5}}, {"x"}};
  CHECK_THROWS_WITH_AS((void)make_plan(unknown), doctest::Contains("unknown node"), bad_graph);
  user_graph empty{};
  CHECK_THROWS_WITH_AS((void)make_plan(empty), doctest::Contains("empty"), bad_graph);
}

TEST_CASE("make_plan.unpruned_keeps_one_wait_per_cross_stream_edge") {
  rng_t rng(32);
  for (int i = 0; i < 100; ++i) {
    const graph g = test::random_small(rng, i % 5, 30);
    const plan p = make_plan(g);
    const plan u = make_plan(g, nullptr, {.prune_waits = false});
    std::size_t cross = 0;
    for (node_id a = 0; a < g.num_nodes(); ++a)
      for (node_id b : g.successors(a)) cross += u.stream_of[a] != u.stream_of[b];
    CHECK(u.num_waits() == cross);
    CHECK(u.pruned_waits == 0);
    CHECK(p.num_waits() + p.pruned_waits == cross);
    validate(u, g);
  }
}

TEST_CASE("validate.names_the_broken_dependency") {
  const user_graph u = diamond_user();
  plan p = make_plan(u);
  // Drop the wait of "out" (on in's stream) for "right" (on its own stream).
  p.wait_on.clear();
  std::fill(p.wait_begin.begin(), p.wait_begin.end(), 0);
  CHECK_THROWS_AS(validate(p, u), invalid_plan);
  CHECK_THROWS_WITH(validate(p, u), doctest::Contains("'right'"));
  CHECK_THROWS_WITH(validate(p, u), doctest::Contains("does not honour the dependency 'in' -> 'right'"));
}

TEST_CASE("validate.rejects_malformed_plans") {
  const graph g = test::inception_block();
  const plan good = make_plan(g);
  validate(good, g);
  {
    plan p = good;
    p.order.pop_back();
    CHECK_THROWS_AS(validate(p, g), invalid_plan);
  }
  {
    plan p = good;
    p.order[1] = p.order[0];
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("twice"), invalid_plan);
  }
  {
    plan p = good;
    std::swap(p.order[0], p.order[1]);  // launches a branch before the input
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("'input'"), invalid_plan);
  }
  {
    plan p = good;
    p.stream_of[3] = p.num_streams;
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("streams"), invalid_plan);
  }
  {
    plan p = good;
    p.wait_begin.pop_back();
    CHECK_THROWS_AS(validate(p, g), invalid_plan);
  }
  {  // a wait on an operator launched later can never be met
    plan p = good;
    const node_id first = p.order[0], last = p.order.back();
    p.wait_on.push_back(last);
    for (std::size_t v = first + 1; v < p.wait_begin.size(); ++v) ++p.wait_begin[v];
    std::rotate(p.wait_on.begin() + p.wait_begin[first], p.wait_on.end() - 1, p.wait_on.end());
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("launched after it"), invalid_plan);
  }
  {  // everything on one stream needs no wait at all
    plan p = make_plan<streams::sequential>(g);
    CHECK(p.num_waits() == 0);
    validate(p, g);
  }
}

namespace {
template <class S>
void plan_100k(const graph& g, const std::string& shape, S s = {}) {
  const plan p = make_plan(g, nullptr, {}, s);  // timing: bench/planning
  MESSAGE(shape << " " << g.num_nodes() << " nodes, " << S::name << ": " << p.num_streams << " streams, "
                << p.num_waits() << " waits");
  CHECK(p.num_nodes() == g.num_nodes());
  validate(p, g);
}
template <class... S>
void plan_all(const graph& g, const std::string& shape) {
  plan_100k<streams::sequential>(g, shape);
  plan_100k<streams::opara_greedy>(g, shape);
  plan_100k<streams::min_path_cover>(g, shape);
  plan_100k<streams::round_robin>(g, shape);
  plan_100k(g, shape, streams::capped<streams::opara_greedy>{{}, 8});
}
} // namespace

TEST_CASE("make_plan.100k_nodes_every_policy") {
  rng_t rng(33);
  plan_all(test::layered(rng, 4000, 50, 2, 0.05), "layered");
  plan_all(test::series_parallel(rng, 100000), "series-parallel");
  plan_all(test::random_dag(rng, 100000, 2, 64, true), "random (window 64)");
  plan_all(test::fan_out(100000), "fan-out");
  plan_all(test::fan_out(100000, true), "fan-out-in");
}

TEST_CASE("make_plan.cycle_message_is_capped") {
  // A 100,000-node cycle: the message names its first and last nodes and its length, not all of it.
  graph_builder b;
  const std::size_t n = 100000;
  b.add_nodes(n);
  for (node_id v = 0; v < n; ++v) b.add_edge(v, static_cast<node_id>((v + 1) % n));
  try {
    (void)b.build();
    FAIL("a cycle was accepted");
  } catch (const not_a_dag& e) {
    const std::string msg = e.what();
    CHECK(msg.size() < 300);
    CHECK(msg.find("cycle of 100000 nodes") != std::string::npos);
    CHECK(msg.find("(99992 more)") != std::string::npos);
    CHECK(e.cycle().size() == n);  // the full cycle is still there for programs
    // First nodes, then the last ones, then back to the first.
    const auto& c = e.cycle();
    CHECK(msg.find("n" + std::to_string(c[0]) + " -> n" + std::to_string(c[1])) != std::string::npos);
    CHECK(msg.ends_with("n" + std::to_string(c[n - 1]) + " -> n" + std::to_string(c[0])));
  }
  // Short cycles are listed whole, as before.
  user_graph cyc{{{1}, {2}, {0}}, {"a", "b", "c"}};
  CHECK_THROWS_WITH((void)make_plan(cyc), doctest::Contains("cycle: "));
}

TEST_CASE("make_plan.refuses_a_profile_of_another_graph") {
  const auto g = to_graph(diamond_user());
  profile p;
  p.ops.resize(4);
  p.key.graph_fingerprint = fingerprint(g);
  CHECK_NOTHROW((void)make_plan<streams::opara_greedy, wants_profile>(g, p));
  user_graph other = diamond_user();
  other.names[3] = "sink";  // same size, another graph
  auto plan_other = [&] { return make_plan<streams::opara_greedy, wants_profile>(other, p); };
  CHECK_THROWS_WITH_AS((void)plan_other(), doctest::Contains("graph_fingerprint"), profile_mismatch);
  try {
    (void)make_plan(other, p);  // even when the order does not read it
    FAIL("a profile of another graph was accepted");
  } catch (const profile_mismatch& e) {
    CHECK(e.field() == "graph_fingerprint");
  }
  p.key.graph_fingerprint.clear();  // a hand-written profile names no graph: taken as g's
  CHECK_NOTHROW((void)make_plan<streams::opara_greedy, wants_profile>(other, p));
}

TEST_CASE("check_profile.names_the_first_differing_field") {
  profile p;
  p.key = {"H100", 132, 13000, "abc"};
  p.ops.resize(2);
  CHECK_NOTHROW(check_profile(p, p.key, 2));
  auto expect = [&](profile_key k, std::size_t n, const std::string& field) {
    try {
      check_profile(p, k, n, "the saved profile x.json");
      FAIL("no mismatch found");
    } catch (const profile_mismatch& e) {
      CHECK(e.field() == field);
      CHECK(std::string(e.what()).starts_with("opara: the saved profile x.json does not match: " + field));
    }
  };
  expect({"A100", 132, 13000, "abc"}, 2, "device_name");
  expect({"H100", 108, 13000, "abc"}, 2, "sm_count");
  expect({"H100", 132, 12000, "abc"}, 2, "driver_version");
  expect({"H100", 132, 13000, "abd"}, 2, "graph_fingerprint");
  expect(p.key, 3, "ops");
}

namespace {
// A cut before launch position i is free when every operator before it is an ancestor, in the
// plan's execution graph, of every operator after it (checked naively).
std::vector<bool> free_cuts_naive(const plan& p) {
  const auto anc = test::execution_ancestors(p);
  const std::size_t n = p.num_nodes();
  std::vector<bool> free(n + 1, false);
  for (std::size_t i = 1; i < n; ++i) {
    bool all = true;
    for (std::size_t a = 0; a < i && all; ++a)
      for (std::size_t b = i; b < n && all; ++b) all = anc[p.order[b]][p.order[a]] != 0;
    free[i] = all;
  }
  return free;
}
} // namespace

TEST_CASE("segments.free_cuts_match_the_execution_graph") {
  rng_t rng(61);
  std::size_t checked = 0, found = 0;
  for (int round = 0; round < 300; ++round) {
    const graph g = test::random_small(rng, round % 5, 20);
    std::vector<plan> plans;
    plans.push_back(make_plan<streams::sequential>(g));
    plans.push_back(make_plan(g));
    plans.push_back(make_plan<streams::round_robin>(g, nullptr, {}, {.streams = 3}));
    plans.push_back(make_plan<streams::min_path_cover>(g, nullptr, {.prune_waits = false}));
    for (const plan& p : plans) {
      const std::vector<bool> fast = free_cuts(p), naive = free_cuts_naive(p);
      REQUIRE(fast.size() == naive.size());
      for (std::size_t i = 0; i < fast.size(); ++i) {
        INFO("round " << round << ", " << p.stream_policy << ", position " << i << " of " << p.num_nodes());
        CHECK(fast[i] == naive[i]);
        found += fast[i];
      }
      ++checked;
    }
  }
  CHECK(checked == 1200);
  CHECK(found > 100);  // the property is exercised on both sides
}

TEST_CASE("segments.chain_and_fan_out") {
  const plan chain = make_plan(test::chain(6));
  CHECK(free_cuts(chain) == std::vector<bool>{false, true, true, true, true, true, false});
  // One source, four leaves, one sink, on several streams: only after the source and before the sink.
  const plan diamond = make_plan(test::fan_out(6, true));
  REQUIRE(diamond.num_streams > 1);
  std::vector<bool> expected(7, false);
  expected[1] = expected[5] = true;
  CHECK(free_cuts(diamond) == expected);
  // The same graph on one stream: stream order makes every cut free.
  CHECK(free_cuts(make_plan<streams::sequential>(test::fan_out(6, true))) ==
        std::vector<bool>{false, true, true, true, true, true, false});
}

TEST_CASE("segments.cuts_grow_along_the_launch_order") {
  const plan p = make_plan<streams::sequential>(test::chain(80));
  CHECK(segment_cuts(p, 1).empty());
  CHECK(segment_cuts(p, 0).empty());
  // 80 * (3^j - 1) / 80 for j = 1, 2, 3: positions 2, 8, 26.
  CHECK(segment_cuts(p, 4) == std::vector<std::size_t>{2, 8, 26});
  CHECK(segment_cuts(p, 4, 1.0) == std::vector<std::size_t>{20, 40, 60});
  const auto segment = segment_of(p, {2, 8, 26});
  CHECK(segment[p.order[0]] == 0);
  CHECK(segment[p.order[1]] == 0);
  CHECK(segment[p.order[2]] == 1);
  CHECK(segment[p.order[25]] == 2);
  CHECK(segment[p.order[26]] == 3);
  CHECK(segment[p.order[79]] == 3);
  // More segments than operators: at most one per operator, every cut distinct and increasing.
  const plan small = make_plan<streams::sequential>(test::chain(3));
  CHECK(segment_cuts(small, 10, 1.0) == std::vector<std::size_t>{1, 2});
  CHECK_THROWS_AS((void)segment_cuts(p, 3, 0.5), bad_policy);
  CHECK_THROWS_AS((void)segment_cuts(p, 3, std::nan("")), bad_policy);
}

TEST_CASE("segments.only_free_narrow_cuts_are_taken") {
  // A fan-out of 100 leaves on several streams has two free cuts, after the source and before the
  // sink, both 100 wide: taken only when wide cuts are allowed.
  const plan p = make_plan(test::fan_out(102, true));
  REQUIRE(p.num_streams > 1);
  CHECK(segment_cuts(p, 4, 3.0, any_width) == std::vector<std::size_t>{1, 101});
  CHECK(segment_cuts(p, 4).empty());
  CHECK(segment_cuts(p, 4, 3.0, 100) == std::vector<std::size_t>{1, 101});
  CHECK(segment_cuts(p, 4, 3.0, 99).empty());
  // Four leaves are narrow enough.
  const plan four = make_plan(test::fan_out(6, true));
  CHECK(segment_cuts(four, 4) == std::vector<std::size_t>{1, 5});
  // No free cut at all (two independent chains on two streams): one segment.
  const plan two = make_plan(test::build(4, {{0, 1}, {2, 3}}));
  REQUIRE(two.num_streams == 2);
  CHECK(segment_cuts(two, 4).empty());
  // A malformed plan is refused, not read past.
  plan broken = p;
  broken.order.pop_back();
  CHECK_THROWS_AS((void)segment_cuts(broken, 4), invalid_plan);
}

TEST_CASE("segments.googlenet_has_cuts_between_its_blocks") {
  const graph g = test::googlenet();
  const plan p = make_plan(g);
  const auto cuts = segment_cuts(p, 4);
  CHECK(cuts.size() == 3);
  CHECK(std::is_sorted(cuts.begin(), cuts.end()));
  const std::vector<bool> free = free_cuts(p);
  for (std::size_t c : cuts) CHECK(free[c]);
}

TEST_CASE("segments.100k_nodes_in_linear_time") {
  rng_t rng(7);
  for (const graph& g : {test::series_parallel(rng, 100000), test::fan_out(100000, true), test::chain(100000)}) {
    const plan p = make_plan(g);
    const auto start = std::chrono::steady_clock::now();
    const auto cuts = segment_cuts(p, 8);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(cuts.size() <= 7);
    MESSAGE("segment_cuts of " << g.num_nodes() << " operators: " << s << " s");
  }
}

TEST_CASE("validate.a_node_waiting_for_itself_is_refused") {
  // in -> left, in -> right, left -> out, right -> out; "right" lists itself among its waits: the
  // wait could never be met (its event is recorded after it). pos[u] == pos[v] must be refused.
  const user_graph u = diamond_user();
  const graph g = to_graph(u);
  plan p = make_plan(g);
  validate(p, g);
  const node_id right = 2;
  p.wait_on.insert(p.wait_on.begin() + p.wait_begin[right], right);
  for (std::size_t v = right + 1; v < p.wait_begin.size(); ++v) ++p.wait_begin[v];
  CHECK_THROWS_WITH_AS(validate(p, g), "opara: validate: the plan makes 'right' wait for 'right', which is launched after it (the wait could never be met)",
                       invalid_plan);
}

TEST_CASE("validate.refuses_duplicate_waits_and_impossible_pruned_counts") {
  const graph g = test::inception_block();
  const plan good = make_plan(g);
  validate(good, g);
  REQUIRE(good.num_waits() > 0);
  {  // one wait listed 1,000 times: 1,000 event waits on one edge
    plan p = good;
    node_id v = 0;
    while (p.waits_of(v).empty()) ++v;
    const node_id u = p.waits_of(v)[0];
    p.wait_on.insert(p.wait_on.begin() + p.wait_begin[v], 999, u);
    for (std::size_t x = v + 1; x < p.wait_begin.size(); ++x) p.wait_begin[x] += 999;
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains(("wait for node " + std::to_string(u) + " more than once").c_str()),
                         invalid_plan);
  }
  {  // more pruned waits than a graph of n nodes has edges
    plan p = good;
    p.pruned_waits = 1'000'000'000'000'000;
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("claims 1000000000000000 pruned waits"), invalid_plan);
  }
  {  // more than the graph's cross-stream edges without a direct wait
    plan p = good;
    p.pruned_waits = g.num_edges();
    CHECK_THROWS_WITH_AS(validate(p, g), doctest::Contains("go without a direct wait"), invalid_plan);
  }
}

TEST_CASE("make_plan.refuses_a_profile_of_another_size_whatever_the_policies") {
  const auto g = to_graph(diamond_user());
  profile p;
  p.ops.resize(3);  // a profile of another graph, naming none (written by hand)
  auto refused = [&](auto plan_it) {
    try {
      (void)plan_it();
    } catch (const bad_policy& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string why = "3 operator records, the graph has 4 operators";
  CHECK(refused([&] { return make_plan<streams::opara_greedy, order::program_order>(g, p); }).find(why) != std::string::npos);
  CHECK(refused([&] { return make_plan<streams::sequential, order::program_order>(g, p); }).find(why) != std::string::npos);
  CHECK(refused([&] { return make_plan<streams::opara_greedy, wants_profile>(g, p); }).find("wants_profile") !=
        std::string::npos);
  p.ops.resize(4);
  CHECK_NOTHROW((void)make_plan<streams::opara_greedy, order::program_order>(g, p));
}

TEST_CASE("graph.more_operators_than_a_graph_holds_is_bad_graph_at_once") {
  graph_builder b;
  CHECK_THROWS_WITH_AS(b.add_nodes(std::size_t{1} << 31), doctest::Contains("2147483648 operators, more than the 16777216"),
                       bad_graph);
  CHECK(b.num_nodes() == 0);  // nothing was added
  CHECK_THROWS_AS(b.reserve(std::size_t{1} << 31, 0), bad_graph);
  b.add_nodes(3);
  CHECK_THROWS_AS(b.add_nodes(max_nodes - 2), bad_graph);  // one past the limit, counted with those added
  CHECK(b.num_nodes() == 3);
  // A graph that declares 2^31 operators (it could never hold their edges): refused before
  // anything is reserved for them.
  struct huge {
    std::size_t num_nodes() const { return std::size_t{1} << 31; }
    std::vector<node_id> successors(node_id) const { return {}; }
  };
  CHECK_THROWS_WITH_AS((void)to_graph(huge{}), doctest::Contains("opara: to_graph: the graph has 2147483648 operators"),
                       bad_graph);
}

TEST_CASE("graph.a_negative_successor_is_reported_as_written") {
  user_graph u = diamond_user();
  u.succ[1].push_back(-1);
  CHECK_THROWS_WITH_AS((void)to_graph(u), "opara: edge left -> -1 refers to unknown node -1 (the graph has 4 nodes)",
                       bad_graph);
}
