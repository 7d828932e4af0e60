// Analyses: topological helpers, transitive reduction, width (Dilworth).

#include <doctest/doctest.h>

#include <opara/analysis/critical_path.hpp>
#include <opara/analysis/topological.hpp>
#include <opara/analysis/transitive_reduction.hpp>
#include <opara/analysis/width.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"

#include <algorithm>
#include <set>

using namespace opara;
using opara::test::rng_t;

namespace {
graph diamond() {  // a -> b, a -> c, b -> d, c -> d, a -> d
  return test::build(4, {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {0, 3}});
}
} // namespace

TEST_CASE("topological.accepts_the_graphs_own_order") {
  rng_t rng(1);
  for (int i = 0; i < 50; ++i) {
    const graph g = test::random_small(rng, i % 5);
    CHECK(is_topological_order(g, g.topological_order()));
  }
}

TEST_CASE("topological.rejects_bad_orders") {
  const graph g = diamond();
  const std::vector<node_id> ok{0, 2, 1, 3}, backward{0, 3, 1, 2}, dup{0, 1, 1, 3}, short_{0, 1, 2}, unknown{0, 1, 2, 9};
  CHECK(is_topological_order(g, ok));
  CHECK_FALSE(is_topological_order(g, backward));
  CHECK_FALSE(is_topological_order(g, dup));
  CHECK_FALSE(is_topological_order(g, short_));
  CHECK_FALSE(is_topological_order(g, unknown));
  CHECK_THROWS_AS(require_topological_order(g, backward, "my_order"), bad_policy);
  CHECK_THROWS_WITH_AS(require_topological_order(g, backward, "my_order"), doctest::Contains("my_order"), bad_policy);
}

TEST_CASE("topological.positions_invert_the_order") {
  const std::vector<node_id> order{2, 0, 3, 1};
  const auto pos = positions(order, 4);
  for (std::uint32_t i = 0; i < order.size(); ++i) CHECK(pos[order[i]] == i);
  const std::vector<node_id> dup{0, 0};
  CHECK_THROWS_AS((void)positions(dup, 2), bad_graph);
  const std::vector<node_id> out{0, 7};
  CHECK_THROWS_AS((void)positions(out, 2), bad_graph);
}

TEST_CASE("topological.depth_levels_are_longest_paths") {
  const graph g = diamond();
  const auto l = depth_levels(g);
  CHECK(l == std::vector<std::uint32_t>{0, 1, 1, 2});
  const auto c = depth_levels(test::chain(5));
  CHECK(c == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("transitive_reduction.drops_implied_edges") {
  const auto e = transitive_reduction_edges(diamond());
  const std::vector<std::pair<node_id, node_id>> want{{0, 1}, {0, 2}, {1, 3}, {2, 3}};
  CHECK(e == want);
  const graph r = transitive_reduction(diamond());
  CHECK(r.num_edges() == 4);
  CHECK(r.num_nodes() == 4);
}

TEST_CASE("transitive_reduction.matches_brute_force") {
  rng_t rng(2);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 30);
    const auto r = test::closure(g);
    std::set<std::pair<node_id, node_id>> want;
    for (node_id u = 0; u < g.num_nodes(); ++u)
      for (node_id v : g.successors(u)) {
        bool implied = false;
        for (node_id w : g.successors(u))
          if (w != v && r[w][v]) implied = true;
        if (!implied) want.emplace(u, v);
      }
    const auto got = transitive_reduction_edges(g);
    CHECK(std::set<std::pair<node_id, node_id>>(got.begin(), got.end()) == want);
    // One 64-column block at a time gives the same answer.
    CHECK(transitive_reduction_edges(g, 8) == got);
  }
}

TEST_CASE("transitive_reduction.blocks_agree_on_larger_graphs") {
  rng_t rng(3);
  const graph g = test::random_dag(rng, 3000, 3, 200, true);
  const auto whole = transitive_reduction_edges(g);
  CHECK(transitive_reduction_edges(g, 3000 * 8 * 3) == whole);  // 3 words per row: many blocks
  CHECK(whole.size() < g.num_edges());
}

TEST_CASE("transitive_reduction.rows_only_for_nodes_with_successors") {
  // 100,000 isolated nodes and one diamond: three nodes reach anything, so three rows of bits
  // (each at most n bits wide), not one per node (2.5 s for isolated nodes before).
  const std::size_t n = 100000;
  test::edge_list edges{{0, 1}, {0, 2}, {1, 3}, {2, 3}, {0, 3}};
  const graph g = test::build(n, edges);
  std::size_t peak = 0;
  const auto e = detail::transitive_reduction_edges(g, std::size_t{64} << 20, &peak);
  CHECK(e == std::vector<std::pair<node_id, node_id>>{{0, 1}, {0, 2}, {1, 3}, {2, 3}});
  CHECK(peak > 0);
  CHECK(peak <= 3 * ((n + 63) / 64) * sizeof(std::uint64_t));
  std::size_t none = 0;
  CHECK(detail::transitive_reduction_edges(test::build(n, {}), std::size_t{64} << 20, &none).empty());
  CHECK(none == 0);  // no edges, no bitsets
}

TEST_CASE("transitive_reduction.100k_nodes_bounded_memory") {
  rng_t rng(5);
  const graph g = test::layered(rng, 5000, 40, 2, 0.05);
  CHECK(g.num_nodes() > 90000);
  // The bitsets it allocates stay within the budget (one 64-column block per row at least), and
  // the answer does not depend on the budget.
  const std::size_t budget = std::size_t{4} << 20;
  std::size_t peak = 0;
  const auto e = detail::transitive_reduction_edges(g, budget, &peak);
  CHECK(peak > 0);
  CHECK(peak <= budget);
  std::size_t roomy = 0;
  CHECK(detail::transitive_reduction_edges(g, std::size_t{64} << 20, &roomy) == e);
  CHECK(roomy > peak);  // more room, wider blocks
  CHECK(roomy <= std::size_t{64} << 20);
  CHECK(e.size() <= g.num_edges());
  CHECK(e.size() >= g.num_nodes() - 40);  // every non-source keeps at least one in-edge
}

TEST_CASE("width.known_graphs") {
  CHECK(width(diamond()) == 2);
  CHECK(width(test::chain(10)) == 1);
  CHECK(width(test::fan_out(10)) == 9);
  CHECK(width(test::fan_out(10, true)) == 8);
  CHECK(width(test::inception_block()) == 4);
  const graph gn = test::googlenet();
  CHECK(gn.num_nodes() == 72);
  CHECK(width(gn) == 4);
  graph_builder one;
  one.add_node("x");
  CHECK(width(one.build()) == 1);
}

TEST_CASE("width.matches_brute_force") {
  rng_t rng(6);
  for (int i = 0; i < 400; ++i) {
    const graph g = test::random_small(rng, i % 5, 12);
    CHECK(width(g) == test::brute_width(g));
  }
}

TEST_CASE("width.antichain_and_chains_prove_each_other") {
  rng_t rng(7);
  for (int i = 0; i < 300; ++i) {
    const graph g = test::random_small(rng, i % 5, 40);
    const auto c = min_chain_cover(g);
    const auto r = test::closure(g);
    CHECK(c.antichain.size() == c.num_chains);
    for (node_id a : c.antichain)
      for (node_id b : c.antichain) CHECK_FALSE(r[a][b]);
    std::size_t heads = 0;
    for (node_id v = 0; v < g.num_nodes(); ++v) {
      if (c.prev[v] == no_node) ++heads;
      if (c.next[v] != no_node) {
        CHECK(r[v][c.next[v]]);
        CHECK(c.prev[c.next[v]] == v);
      }
    }
    CHECK(heads == c.num_chains);
  }
}

TEST_CASE("width.passes_that_resume_keep_a_minimum_cover") {
  // Random DAGs with local edges: the chain cover ends in passes without layers that resume the
  // last one (detail::chain_cover_solver::solve; these seeds take 1-5 such passes). The cover they
  // give is still a minimum one, proved by an antichain of its size.
  for (std::uint64_t seed : {1, 2, 3}) {
    rng_t rng(seed);
    const graph g = test::random_dag(rng, 3000, 2, seed == 3 ? 32 : 64, true);
    const auto c = min_chain_cover(g);
    const auto r = test::closure(g);
    CHECK(c.antichain.size() == c.num_chains);
    bool unreachable = true;
    for (node_id a : c.antichain)
      for (node_id b : c.antichain) unreachable = unreachable && !r[a][b];
    CHECK(unreachable);
    std::size_t heads = 0;
    bool linked = true;
    for (node_id v = 0; v < g.num_nodes(); ++v) {
      if (c.prev[v] == no_node) ++heads;
      if (c.next[v] != no_node) linked = linked && r[v][c.next[v]] && c.prev[c.next[v]] == v;
    }
    CHECK(linked);
    CHECK(heads == c.num_chains);
  }
}

TEST_CASE("width.100k_nodes") {
  rng_t rng(8);
  CHECK(width(test::fan_out(100000)) == 99999);
  CHECK(width(test::fan_out(100000, true)) == 99998);
  CHECK(width(test::chain(100000)) == 1);
  const graph l = test::layered(rng, 4000, 50, 2, 0.05);
  const auto c = min_chain_cover(l);
  CHECK(c.antichain.size() == c.num_chains);
  CHECK(c.num_chains >= 1);
}

TEST_CASE("analyses.accept_any_operator_graph") {
  // A user's adjacency lists (no opara::graph in sight), as make_plan accepts them.
  struct adjacency {
    std::vector<std::vector<int>> succ;
    std::size_t num_nodes() const { return succ.size(); }
    const std::vector<int>& successors(node_id v) const { return succ[v]; }
  };
  const adjacency diamond_user{{{1, 2}, {3}, {3}, {}}};
  CHECK(width(diamond_user) == 2);
  CHECK(max_antichain(diamond_user) == std::vector<node_id>{1, 2});
  CHECK(min_chain_cover(diamond_user).num_chains == 2);
  CHECK(depth_levels(diamond_user) == std::vector<std::uint32_t>{0, 1, 1, 2});
  const std::vector<double> cost{1, 5, 2, 1};
  CHECK(critical_path(diamond_user, cost).length == 7);
  CHECK(bottom_levels(diamond_user, cost) == std::vector<double>{7, 6, 3, 1});
  CHECK(top_levels(diamond_user, cost) == std::vector<double>{0, 1, 1, 6});
  const adjacency cyclic{{{1}, {0}}};
  CHECK_THROWS_AS((void)width(cyclic), not_a_dag);
}
