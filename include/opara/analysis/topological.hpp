#pragma once
//! Helpers around topological orders: positions of nodes in an order, the check that an order
//! is topological, and depth levels (longest path from a source), which round_robin reads.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace opara {

//! Sentinel for "no position" / "no node".
inline constexpr std::uint32_t no_position = std::numeric_limits<std::uint32_t>::max();

//! pos[v] = index of v in `order`, or no_position for nodes the order does not contain.
//! Throws bad_graph when `order` names a node >= n or the same node twice.
[[nodiscard]] inline std::vector<std::uint32_t> positions(std::span<const node_id> order, std::size_t n) {
  std::vector<std::uint32_t> pos(n, no_position);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const node_id v = order[i];
    if (v >= n)
      throw bad_graph("opara: order names node " + std::to_string(v) + " but the graph has " + std::to_string(n) +
                      " nodes");
    if (pos[v] != no_position)
      throw bad_graph("opara: order names node " + std::to_string(v) + " twice (at " + std::to_string(pos[v]) +
                      " and " + std::to_string(i) + ")");
    pos[v] = static_cast<std::uint32_t>(i);
  }
  return pos;
}

//! True when `order` holds every node of g exactly once and every edge goes forward in it. O(n+e).
[[nodiscard]] inline bool is_topological_order(const graph& g, std::span<const node_id> order) noexcept {
  const std::size_t n = g.num_nodes();
  if (order.size() != n) return false;
  std::vector<std::uint32_t> pos(n, no_position);
  for (std::size_t i = 0; i < n; ++i) {
    const node_id v = order[i];
    if (v >= n || pos[v] != no_position) return false;
    pos[v] = static_cast<std::uint32_t>(i);
  }
  for (node_id u = 0; u < n; ++u)
    for (node_id s : g.successors(u))
      if (pos[s] < pos[u]) return false;
  return true;
}

//! Throws bad_policy, naming `who` and the first offending node or edge, unless `order` is a
//! topological order of g. O(n+e).
inline void require_topological_order(const graph& g, std::span<const node_id> order, std::string_view who) {
  const std::size_t n = g.num_nodes();
  const std::string w(who);
  if (order.size() != n)
    throw bad_policy("opara: " + w + " returned an order of " + std::to_string(order.size()) +
                     " nodes for a graph of " + std::to_string(n));
  std::vector<std::uint32_t> pos(n, no_position);
  for (std::size_t i = 0; i < n; ++i) {
    const node_id v = order[i];
    if (v >= n) throw bad_policy("opara: " + w + " returned unknown node " + std::to_string(v) + " in its order");
    if (pos[v] != no_position)
      throw bad_policy("opara: " + w + " returned node " + g.name(v) + " twice in its order");
    pos[v] = static_cast<std::uint32_t>(i);
  }
  for (node_id u = 0; u < n; ++u)
    for (node_id s : g.successors(u))
      if (pos[s] < pos[u])
        throw bad_policy("opara: " + w + " returned an order that launches " + g.name(s) + " before " + g.name(u) +
                         ", which it depends on");
}

//! level[v] = length of the longest path from a source to v (sources are level 0); the levels of
//! Taskflow's BFS "levelize". O(n+e).
[[nodiscard]] inline std::vector<std::uint32_t> depth_levels(const graph& g) {
  std::vector<std::uint32_t> level(g.num_nodes(), 0);
  for (node_id v : g.topological_order())
    for (node_id s : g.successors(v))
      if (level[s] < level[v] + 1) level[s] = level[v] + 1;
  return level;
}

} // namespace opara
