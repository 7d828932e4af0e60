#pragma once
//! Longest paths of a DAG under per-operator costs (profiled durations, say): the critical path
//! bounds the latency of any multi-stream schedule from below, and bottom levels rank ready
//! operators in order::critical_path_first.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>

#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace opara {

//! A longest path: its total cost and its nodes from a source to a sink.
struct critical_path_result {
  double length = 0;           //!< sum of the costs of `nodes`
  std::vector<node_id> nodes;  //!< the path, each node followed by one of its successors
};

namespace detail {
inline void check_costs(const graph& g, std::span<const double> cost, const char* who) {
  if (cost.size() != g.num_nodes())
    throw error(std::string("opara::") + who + ": " + std::to_string(cost.size()) + " costs given for a graph of " +
                std::to_string(g.num_nodes()) + " nodes (one cost per node id is needed)");
  for (node_id v = 0; v < cost.size(); ++v)
    if (!std::isfinite(cost[v]) || cost[v] < 0)
      throw error(std::string("opara::") + who + ": node " + g.name(v) + " has cost " + std::to_string(cost[v]) +
                  " (costs must be finite and non-negative)");
}
} // namespace detail

//! Bottom level of every node: its cost plus the largest bottom level among its successors, i.e.
//! the length of the longest path from it to a sink. O(n + e). Throws opara::error when
//! cost.size() != g.num_nodes() or a cost is negative or not finite (naming the node).
[[nodiscard]] inline std::vector<double> bottom_levels(const graph& g, std::span<const double> cost) {
  detail::check_costs(g, cost, "bottom_levels");
  std::vector<double> level(g.num_nodes(), 0.0);
  const auto topo = g.topological_order();
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    double best = 0;
    for (node_id s : g.successors(*it)) best = std::max(best, level[s]);
    level[*it] = cost[*it] + best;
  }
  return level;
}

//! Top level of every node: the length of the longest path from a source up to, but excluding,
//! the node (its earliest start with unlimited streams). O(n + e). Throws like bottom_levels.
[[nodiscard]] inline std::vector<double> top_levels(const graph& g, std::span<const double> cost) {
  detail::check_costs(g, cost, "top_levels");
  std::vector<double> level(g.num_nodes(), 0.0);
  for (node_id v : g.topological_order())
    for (node_id s : g.successors(v)) level[s] = std::max(level[s], level[v] + cost[v]);
  return level;
}

//! A longest source-to-sink path under `cost` (indexed by node id). Among equally long choices the
//! smaller node id wins, so the result is deterministic. O(n + e). Throws like bottom_levels.
[[nodiscard]] inline critical_path_result critical_path(const graph& g, std::span<const double> cost) {
  const auto level = bottom_levels(g, cost);
  critical_path_result r;
  const std::size_t n = g.num_nodes();
  node_id v = static_cast<node_id>(n);
  for (node_id u = 0; u < n; ++u)  // start at a source: with zero costs a non-source may tie
    if (g.predecessors(u).empty() && (v == n || level[u] > level[v])) v = u;
  if (v == n) return r;
  r.length = level[v];
  for (;;) {
    r.nodes.push_back(v);
    const auto succ = g.successors(v);
    if (succ.empty()) break;
    node_id next = succ.front();
    for (node_id s : succ)
      if (level[s] > level[next]) next = s;  // successors are sorted by id: ties keep the smaller
    v = next;
  }
  return r;
}

//! bottom_levels for any operator_graph (converted with to_graph; throws like it too).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] std::vector<double> bottom_levels(const G& g, std::span<const double> cost) {
  return bottom_levels(to_graph(g), cost);
}

//! top_levels for any operator_graph (converted with to_graph; throws like it too).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] std::vector<double> top_levels(const G& g, std::span<const double> cost) {
  return top_levels(to_graph(g), cost);
}

//! critical_path for any operator_graph (converted with to_graph; throws like it too).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] critical_path_result critical_path(const G& g, std::span<const double> cost) {
  return critical_path(to_graph(g), cost);
}

} // namespace opara
