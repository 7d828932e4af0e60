// Stream allocation policies.

#include <doctest/doctest.h>

#include <opara/analysis/width.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/concept.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"

#include <algorithm>
#include <set>

using namespace opara;
using opara::test::rng_t;

static_assert(stream_allocation_policy<streams::sequential>);
static_assert(stream_allocation_policy<streams::opara_greedy>);
static_assert(stream_allocation_policy<streams::min_path_cover>);
static_assert(stream_allocation_policy<streams::round_robin>);
static_assert(stream_allocation_policy<streams::capped<streams::opara_greedy>>);
static_assert(stream_allocation_policy<streams::capped<streams::capped<streams::min_path_cover>>>);
namespace {
struct no_name {
  stream_assignment assign(const graph&, std::span<const node_id>) const { return {}; }
};
struct wrong_result {
  static constexpr std::string_view name = "wrong";
  std::vector<stream_id> assign(const graph&, std::span<const node_id>) const { return {}; }
};
} // namespace
static_assert(!stream_allocation_policy<no_name>);
static_assert(!stream_allocation_policy<wrong_result>);
static_assert(!stream_allocation_policy<int>);
static_assert(streams::capped<streams::opara_greedy>::name == "capped<opara_greedy>");
static_assert(streams::capped<streams::capped<streams::round_robin>>::name == "capped<capped<round_robin>>");

namespace {
graph diamond() { return test::build(4, {{0, 1}, {0, 2}, {1, 3}, {2, 3}}); }

std::span<const node_id> topo(const graph& g) { return g.topological_order(); }

// Streams used form 0..num_streams-1 and stream 0 is the first launched node's.
void check_shape(const stream_assignment& a, const graph& g, std::span<const node_id> order) {
  REQUIRE(a.stream_of.size() == g.num_nodes());
  std::set<stream_id> used(a.stream_of.begin(), a.stream_of.end());
  CHECK(used.size() == a.num_streams);
  CHECK(*used.rbegin() == a.num_streams - 1);
  CHECK(a.stream_of[order[0]] == 0);
}
} // namespace

TEST_CASE("sequential.one_stream") {
  const graph g = test::googlenet();
  const auto a = streams::sequential{}.assign(g, topo(g));
  CHECK(a.num_streams == 1);
  check_shape(a, g, topo(g));
}

TEST_CASE("opara_greedy.follows_algorithm_1") {
  const graph g = diamond();
  const std::vector<node_id> order{0, 1, 2, 3};
  const auto a = streams::opara_greedy{}.assign(g, order);
  CHECK(a.stream_of == std::vector<stream_id>{0, 0, 1, 0});  // c opens a stream; d follows b
  CHECK(a.num_streams == 2);
  const std::vector<node_id> order2{0, 2, 1, 3};
  const auto b = streams::opara_greedy{}.assign(g, order2);
  CHECK(b.stream_of == std::vector<stream_id>{0, 1, 0, 0});  // launch order decides who inherits
}

TEST_CASE("opara_greedy.inherits_from_the_first_predecessor_still_holding_its_stream") {
  rng_t rng(11);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 40);
    const auto order = topo(g);
    const auto a = streams::opara_greedy{}.assign(g, order);
    check_shape(a, g, order);
    // Replay: a node still holds its stream while it is the last node launched on it.
    std::vector<node_id> last(a.num_streams, no_node);
    std::vector<std::uint32_t> pos(g.num_nodes());
    for (std::uint32_t k = 0; k < order.size(); ++k) pos[order[k]] = k;
    for (node_id v : order) {
      node_id holder = no_node;
      for (node_id u : g.predecessors(v))
        if (last[a.stream_of[u]] == u && (holder == no_node || pos[u] < pos[holder])) holder = u;
      if (holder == no_node) CHECK(last[a.stream_of[v]] == no_node);  // a fresh stream
      else CHECK(a.stream_of[v] == a.stream_of[holder]);
      last[a.stream_of[v]] = v;
    }
  }
}

TEST_CASE("opara_greedy.wide_fan_out_opens_a_stream_per_branch") {
  const graph g = test::fan_out(1001);
  CHECK(streams::opara_greedy{}.assign(g, topo(g)).num_streams == 1000);
}

TEST_CASE("opara_greedy.googlenet_opens_streams_after_every_pool") {
  // Between inception blocks the four branch ends hand their streams on; after a max pool (one
  // predecessor) three branches find no stream to inherit: 1 + 3 (3a) + 3 (4a) + 3 (5a) streams.
  const graph g = test::googlenet();
  const auto a = streams::opara_greedy{}.assign(g, topo(g));
  CHECK(a.num_streams == 10);
  check_shape(a, g, topo(g));
}

TEST_CASE("min_path_cover.uses_width_many_streams") {
  const graph gn = test::googlenet();
  CHECK(streams::min_path_cover{}.assign(gn, topo(gn)).num_streams == 4);
  rng_t rng(12);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 40);
    const auto a = streams::min_path_cover{}.assign(g, topo(g));
    CHECK(a.num_streams == width(g));
    check_shape(a, g, topo(g));
  }
}

TEST_CASE("min_path_cover.streams_are_chains") {
  rng_t rng(13);
  for (int i = 0; i < 200; ++i) {
    const graph g = test::random_small(rng, i % 5, 40);
    const auto a = streams::min_path_cover{}.assign(g, topo(g));
    const auto r = test::closure(g);
    for (node_id u = 0; u < g.num_nodes(); ++u)
      for (node_id v = u + 1; v < g.num_nodes(); ++v)
        if (a.stream_of[u] == a.stream_of[v]) CHECK((r[u][v] || r[v][u]));
  }
}

TEST_CASE("round_robin.level_index_mod_streams") {
  const graph g = test::fan_out(11);  // level 1 holds ten nodes
  const auto a = streams::round_robin{}.assign(g, topo(g));
  CHECK(a.num_streams == 4);
  CHECK(a.stream_of[0] == 0);
  for (node_id i = 1; i <= 10; ++i) CHECK(a.stream_of[i] == (i - 1) % 4);
  const auto b = streams::round_robin{.streams = 16}.assign(g, topo(g));
  CHECK(b.num_streams == 10);  // never more streams than the widest level needs
  const auto c = streams::round_robin{.streams = 1}.assign(g, topo(g));
  CHECK(c.num_streams == 1);
  const graph gn = test::googlenet();
  check_shape(streams::round_robin{}.assign(gn, topo(gn)), gn, topo(gn));
}

TEST_CASE("round_robin.zero_streams_throws") {
  const graph g = diamond();
  CHECK_THROWS_WITH_AS((void)streams::round_robin{.streams = 0}.assign(g, topo(g)),
                       doctest::Contains("at least one stream"), bad_policy);
}

TEST_CASE("capped.never_exceeds_cap") {
  rng_t rng(14);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 40);
    for (std::uint32_t cap : {1u, 2u, 3u, 8u}) {
      const streams::capped<streams::opara_greedy> policy{{}, cap};
      const auto a = policy.assign(g, topo(g));
      CHECK(a.num_streams <= cap);
      // Under the cap: unchanged. Over it: as many as stream lifetimes (in levels) overlap, capped.
      const auto base = streams::opara_greedy{}.assign(g, topo(g));
      if (base.num_streams <= cap) {
        CHECK(a.stream_of == base.stream_of);
      } else {
        const auto level = depth_levels(g);
        std::vector<std::uint32_t> lo(base.num_streams, ~0u), hi(base.num_streams, 0);
        for (node_id v = 0; v < g.num_nodes(); ++v) {
          lo[base.stream_of[v]] = std::min(lo[base.stream_of[v]], level[v]);
          hi[base.stream_of[v]] = std::max(hi[base.stream_of[v]], level[v]);
        }
        std::uint32_t overlap = 0;
        for (std::uint32_t l = 0; l <= *std::max_element(level.begin(), level.end()); ++l) {
          std::uint32_t k = 0;
          for (std::uint32_t s = 0; s < base.num_streams; ++s) k += lo[s] <= l && l <= hi[s];
          overlap = std::max(overlap, k);
        }
        CHECK(a.num_streams == std::min(cap, overlap));
      }
      check_shape(a, g, topo(g));
    }
  }
  const graph f = test::fan_out(100);
  CHECK(streams::capped<streams::opara_greedy>{{}, 8}.assign(f, topo(f)).num_streams == 8);
}

TEST_CASE("capped.reuses_finished_streams_without_losing_concurrency") {
  // a -> {b, c} -> d -> {e, f} -> g: greedy opens a third stream for f although c's is done.
  const graph g = test::build(7, {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {3, 5}, {4, 6}, {5, 6}});
  const std::vector<node_id> order{0, 1, 2, 3, 4, 5, 6};
  const auto greedy = streams::opara_greedy{}.assign(g, order);
  CHECK(greedy.num_streams == 3);
  const auto a = streams::capped<streams::opara_greedy>{{}, 2}.assign(g, order);
  CHECK(a.num_streams == 2);
  CHECK(a.stream_of[1] != a.stream_of[2]);  // both forks still run side by side
  CHECK(a.stream_of[4] != a.stream_of[5]);
  CHECK(a.stream_of[2] == a.stream_of[5]);
}

TEST_CASE("capped.spreads_a_wide_fan_out_evenly") {
  // Greedy opens one stream per branch of a fan-out; under a cap the branches that overflow must be
  // spread over every bucket, not piled onto one (which would run them one after another).
  for (std::uint32_t width : {64u, 100u, 1000u}) {
    for (bool join : {false, true}) {
      const graph f = test::fan_out(width, join);
      for (std::uint32_t cap : {2u, 4u, 8u, 16u}) {
        const auto a = streams::capped<streams::opara_greedy>{{}, cap}.assign(f, topo(f));
        REQUIRE(a.num_streams == cap);
        std::vector<std::uint32_t> work(cap, 0);  // operators after the source: branches and the join
        for (node_id v = 1; v < f.num_nodes(); ++v) ++work[a.stream_of[v]];
        const auto [lo, hi] = std::minmax_element(work.begin(), work.end());
        INFO("width ", width, " join ", join, " cap ", cap);
        CHECK(*hi - *lo <= 1);
      }
    }
  }
}

TEST_CASE("capped.zero_cap_throws") {
  const graph g = diamond();
  const streams::capped<streams::sequential> zero{{}, 0};
  CHECK_THROWS_WITH_AS((void)zero.assign(g, topo(g)), doctest::Contains("max_streams == 0"), bad_policy);
}

TEST_CASE("streams.stream_zero_is_the_first_launched_node") {
  rng_t rng(15);
  for (int i = 0; i < 200; ++i) {
    const graph g = test::random_small(rng, i % 5, 30);
    std::vector<node_id> order(topo(g).begin(), topo(g).end());
    check_shape(streams::sequential{}.assign(g, order), g, order);
    check_shape(streams::opara_greedy{}.assign(g, order), g, order);
    check_shape(streams::min_path_cover{}.assign(g, order), g, order);
    check_shape(streams::round_robin{}.assign(g, order), g, order);
    check_shape(streams::capped<streams::min_path_cover>{{}, 2}.assign(g, order), g, order);
  }
}

namespace {
struct plain_policy {  // a user's policy with a name and no label()
  static constexpr std::string_view name = "plain";
};
} // namespace

TEST_CASE("policies.label_names_the_policy_and_its_parameters") {
  CHECK(streams::sequential{}.label() == "sequential");
  CHECK(streams::opara_greedy{}.label() == "opara_greedy");
  CHECK(streams::min_path_cover{}.label() == "min_path_cover");
  CHECK(streams::round_robin{.streams = 4}.label() == "round_robin[4]");
  CHECK(streams::capped<streams::opara_greedy>{{}, 8}.label() == "capped<opara_greedy>[8]");
  CHECK(streams::capped<streams::round_robin>{{.streams = 3}, 2}.label() == "capped<round_robin[3]>[2]");
  CHECK(streams::capped<streams::capped<streams::min_path_cover>>{{{}, 4}, 2}.label() ==
        "capped<capped<min_path_cover>[4]>[2]");
  // Two configurations of one policy are told apart; a policy without label() falls back to its name.
  CHECK(policy_label(streams::round_robin{.streams = 2}) != policy_label(streams::round_robin{.streams = 8}));
  CHECK(policy_label(plain_policy{}) == "plain");
  CHECK(policy_label(streams::capped<streams::opara_greedy>{{}, 16}) == "capped<opara_greedy>[16]");
}

TEST_CASE("min_path_cover.invalid_order_throws_instead_of_reading_out_of_bounds") {
  const graph g = test::fan_out(5, true);
  const std::vector<node_id> unknown{0, 1, 2, 9, 4};
  CHECK_THROWS_WITH_AS((void)streams::min_path_cover{}.assign(g, unknown), doctest::Contains("names node 9"),
                       bad_policy);
  const std::vector<node_id> repeated{0, 1, 1, 3, 4};
  CHECK_THROWS_WITH_AS((void)streams::min_path_cover{}.assign(g, repeated), doctest::Contains("twice"), bad_policy);
  const std::vector<node_id> short_order{0, 1};
  CHECK_THROWS_AS((void)streams::min_path_cover{}.assign(g, short_order), bad_policy);
  const std::vector<node_id> backwards{4, 3, 2, 1, 0};
  CHECK_THROWS_WITH_AS((void)min_chain_cover(g, backwards), doctest::Contains("launches"), bad_policy);
  CHECK(streams::min_path_cover{}.assign(g, {}).num_streams == 3);  // empty: g's own order
}

namespace {
struct far_ids {  // reports 4 billion streams and uses two of them
  static constexpr std::string_view name = "far_ids";
  stream_assignment assign(const graph& g, std::span<const node_id>) const {
    stream_assignment a{std::vector<stream_id>(g.num_nodes(), 4000000000u), 4294967295u};
    a.stream_of[0] = 7;
    return a;
  }
};
} // namespace

TEST_CASE("streams.renumbering_costs_nothing_per_reported_stream") {
  const graph g = test::fan_out(5);
  const auto order = g.topological_order();
  stream_assignment a = far_ids{}.assign(g, order);
  detail::renumber_by_first_use(a, order, far_ids::name);  // no 16 GB table
  CHECK(a.num_streams == 2);
  CHECK(a.stream_of == std::vector<stream_id>{0, 1, 1, 1, 1});
  const std::vector<node_id> bad{0, 1, 2, 3, 9};
  stream_assignment b{std::vector<stream_id>(5, 0), 1};
  CHECK_THROWS_WITH_AS(detail::renumber_by_first_use(b, bad, "x"), doctest::Contains("naming node 9"), bad_policy);
}
