#pragma once
//! Helpers around topological orders: positions of nodes in an order, the check that an order
//! is topological, and depth levels (longest path from a source), which round_robin reads.
//! Every "is this a permutation of the nodes, and where is each node" question in opara is
//! answered by detail::fill_positions below, so the rule and its messages exist once.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

//! Sentinel for "no position" in the vectors `positions` returns (the same value as no_node).
inline constexpr std::uint32_t no_position = no_node;

namespace detail {

//! What is wrong with an order, if anything (see fill_positions).
struct order_problem {
  enum class kind : std::uint8_t { none, size, unknown, repeat } what = kind::none;
  std::size_t index = 0;  //!< position in the order of the offending entry
  node_id node = 0;       //!< the offending entry
  std::uint32_t first = 0;  //!< for repeat: the earlier position of the same node
  explicit operator bool() const noexcept { return what != kind::none; }
};

//! pos[v] = index of v in `order` (pos must hold num_nodes entries of no_position on entry).
//! With `complete`, the order must name every node (order.size() == num_nodes). Stops at the
//! first entry >= num_nodes or repeated node and reports it; never throws.
inline order_problem fill_positions(std::span<const node_id> order, std::size_t num_nodes, bool complete,
                                    std::vector<std::uint32_t>& pos) noexcept {
  if (order.size() > num_nodes || (complete && order.size() != num_nodes))
    return {order_problem::kind::size, order.size(), 0, 0};
  for (std::size_t i = 0; i < order.size(); ++i) {
    const node_id v = order[i];
    if (v >= num_nodes) return {order_problem::kind::unknown, i, v, 0};
    if (pos[v] != no_position) return {order_problem::kind::repeat, i, v, pos[v]};
    pos[v] = static_cast<std::uint32_t>(i);
  }
  return {};
}

//! The end of a sentence about an order problem, to follow "the order" or "an order that":
//! "names node 7 at position 2 but the graph has 4 nodes".
inline std::string describe(const order_problem& problem, std::size_t num_nodes) {
  switch (problem.what) {
    case order_problem::kind::size:
      return "has " + std::to_string(problem.index) + " entries for " + std::to_string(num_nodes) + " nodes";
    case order_problem::kind::unknown:
      return "names node " + std::to_string(problem.node) + " at position " + std::to_string(problem.index) +
             " but the graph has " + std::to_string(num_nodes) + " nodes";
    case order_problem::kind::repeat:
      return "names node " + std::to_string(problem.node) + " twice (at positions " + std::to_string(problem.first) + " and " +
             std::to_string(problem.index) + ")";
    case order_problem::kind::none: break;
  }
  return "is a permutation";
}

//! Positions of the nodes in `order`; throws E("opara: <subject> <problem>") when `order` is not
//! a permutation (with `complete`) or a repetition-free selection of 0..num_nodes-1. `subject`
//! reads like "launch order policy 'x' returned an order that" or "to_dot: the plan's order".
template <class E>
std::vector<std::uint32_t> checked_positions(std::span<const node_id> order, std::size_t num_nodes, bool complete,
                                             std::string_view subject) {
  std::vector<std::uint32_t> pos(num_nodes, no_position);
  if (const auto problem = fill_positions(order, num_nodes, complete, pos))
    throw E("opara: " + std::string(subject) + " " + describe(problem, num_nodes));
  return pos;
}

} // namespace detail

//! pos[v] = index of v in `order`, or no_position for nodes the order does not contain.
//! Throws bad_graph when `order` names a node >= n or the same node twice.
[[nodiscard]] inline std::vector<std::uint32_t> positions(std::span<const node_id> order, std::size_t n) {
  return detail::checked_positions<bad_graph>(order, n, false, "the order");
}

namespace detail {
//! The first edge u -> s of g that goes backwards under `pos`, as (u, s); (no_node, no_node) if none.
inline std::pair<node_id, node_id> first_backward_edge(const graph& g, std::span<const std::uint32_t> pos) noexcept {
  for (node_id u = 0; u < g.num_nodes(); ++u)
    for (node_id s : g.successors(u))
      if (pos[s] < pos[u]) return {u, s};
  return {no_node, no_node};
}
} // namespace detail

//! True when `order` holds every node of g exactly once and every edge goes forward in it. O(n+e).
[[nodiscard]] inline bool is_topological_order(const graph& g, std::span<const node_id> order) {
  std::vector<std::uint32_t> pos(g.num_nodes(), no_position);
  if (detail::fill_positions(order, g.num_nodes(), true, pos)) return false;
  return detail::first_backward_edge(g, pos).first == no_node;
}

//! Throws bad_policy, naming `who` and the first offending node or edge, unless `order` is a
//! topological order of g. Returns the position of every node in it. O(n+e).
inline std::vector<std::uint32_t> require_topological_order(const graph& g, std::span<const node_id> order,
                                                            std::string_view who) {
  auto pos = detail::checked_positions<bad_policy>(order, g.num_nodes(), true,
                                                   std::string(who) + " returned an order that");
  if (const auto [u, s] = detail::first_backward_edge(g, pos); u != no_node)
    throw bad_policy("opara: " + std::string(who) + " returned an order that launches " + g.name(s) + " before " +
                     g.name(u) + ", which it depends on");
  return pos;
}

//! level[v] = length of the longest path from a source to v (sources are level 0); the levels of
//! Taskflow's BFS "levelize". O(n+e). Any operator_graph is accepted (converted with to_graph,
//! which throws bad_graph / not_a_dag for a malformed one).
[[nodiscard]] inline std::vector<std::uint32_t> depth_levels(const graph& g) {
  std::vector<std::uint32_t> level(g.num_nodes(), 0);
  for (node_id v : g.topological_order())
    for (node_id s : g.successors(v))
      if (level[s] < level[v] + 1) level[s] = level[v] + 1;
  return level;
}

//! depth_levels for any operator_graph.
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] std::vector<std::uint32_t> depth_levels(const G& g) {
  return depth_levels(to_graph(g));
}

} // namespace opara
