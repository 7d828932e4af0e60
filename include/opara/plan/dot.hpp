#pragma once
//! A plan as a Graphviz drawing, so a user can see what opara decided (which operators share a
//! stream, where streams wait for each other, which waits were found redundant) instead of
//! trusting that work did not silently land on one stream.
//!
//!   dot -Tsvg plan.dot -o plan.svg

#include <opara/error.hpp>
#include <opara/graph/traits.hpp>
#include <opara/plan/plan.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

namespace detail::plan_export {

// Throws invalid_plan unless `p` has the shape of a plan for a graph of n nodes.
inline void check_shape(const plan& p, std::size_t n, const char* who) {
  auto fail = [&](const std::string& what) { throw invalid_plan(std::string("opara::") + who + ": " + what); };
  if (p.stream_of.size() != n)
    fail("the plan has " + std::to_string(p.stream_of.size()) + " nodes, the graph has " + std::to_string(n));
  if (p.order.size() != n)
    fail("the plan's order has " + std::to_string(p.order.size()) + " entries, the graph has " + std::to_string(n) + " nodes");
  if (p.wait_begin.size() != n + 1 || p.wait_begin.back() != p.wait_on.size())
    fail("the plan's wait table does not match its " + std::to_string(n) + " nodes");
  for (std::size_t v = 0; v < n; ++v) {
    if (p.stream_of[v] >= p.num_streams)
      fail("node " + std::to_string(v) + " is on stream " + std::to_string(p.stream_of[v]) + " but the plan has " +
           std::to_string(p.num_streams) + " streams");
    if (p.wait_begin[v] > p.wait_begin[v + 1]) fail("the plan's wait table is not monotonic");
  }
  for (node_id w : p.wait_on)
    if (w >= n) fail("a wait names node " + std::to_string(w) + " but the graph has " + std::to_string(n) + " nodes");
  std::vector<char> seen(n, 0);
  for (node_id v : p.order) {
    if (v >= n || seen[v]) fail("the plan's order is not a permutation of the graph's nodes (node " + std::to_string(v) + ")");
    seen[v] = 1;
  }
}

// Launch position of every node.
inline std::vector<std::uint32_t> launch_positions(const plan& p) {
  std::vector<std::uint32_t> pos(p.order.size());
  for (std::size_t i = 0; i < p.order.size(); ++i) pos[p.order[i]] = static_cast<std::uint32_t>(i);
  return pos;
}

// A DOT double-quoted string body: quotes and backslashes escaped, newlines as \n.
inline std::string dot_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

inline std::string_view stream_colour(stream_id s) {
  static constexpr std::array<std::string_view, 10> palette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                            "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
  return palette[s % palette.size()];
}

} // namespace detail::plan_export

//! Graphviz DOT of plan `p` for graph `g`: one `subgraph cluster_s<k>` per stream (label
//! "stream k"), nodes labelled with their name and launch position ("#i"); for every edge u -> v
//! of g: solid if u and v share a stream, dashed in the colour of u's stream if v's stream waits
//! for u's event, dotted grey if the wait was pruned (implied by other waits and stream order).
//! Throws invalid_plan when `p` does not fit g (sizes, stream ids, order), bad_graph for an edge
//! to an unknown node.
template <operator_graph G>
[[nodiscard]] std::string to_dot(const plan& p, const G& g) {
  namespace pe = detail::plan_export;
  const std::size_t n = graph_traits<G>::num_nodes(g);
  pe::check_shape(p, n, "to_dot");
  const auto pos = pe::launch_positions(p);

  std::string out;
  out += "digraph opara_plan {\n";
  out += "  label=\"" + pe::dot_escape("opara plan: " + std::to_string(n) + " operators on " +
                                       std::to_string(p.num_streams) + " streams, " + std::to_string(p.num_waits()) +
                                       " waits (" + std::to_string(p.pruned_waits) + " pruned); streams: " +
                                       (p.stream_policy.empty() ? "?" : p.stream_policy) +
                                       ", order: " + (p.order_policy.empty() ? "?" : p.order_policy)) +
         "\";\n";
  out += "  labelloc=t;\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";

  // Nodes of each stream in launch order.
  std::vector<std::vector<node_id>> by_stream(p.num_streams);
  for (node_id v : p.order) by_stream[p.stream_of[v]].push_back(v);
  for (stream_id s = 0; s < p.num_streams; ++s) {
    const std::string k = std::to_string(s);
    out += "  subgraph cluster_s" + k + " {\n";
    out += "    label=\"stream " + k + "\";\n    color=\"" + std::string(pe::stream_colour(s)) + "\";\n";
    for (node_id v : by_stream[s])
      out += "    n" + std::to_string(v) + " [label=\"" + pe::dot_escape(node_name(g, v)) + "\\n#" +
             std::to_string(pos[v]) + "\"];\n";
    out += "  }\n";
  }

  for (node_id u = 0; u < n; ++u) {
    for (auto raw : graph_traits<G>::successors(g, u)) {
      const auto v = static_cast<std::size_t>(raw);
      if (v >= n)
        throw bad_graph("opara::to_dot: edge " + node_name(g, u) + " -> " + std::to_string(v) +
                        " refers to unknown node " + std::to_string(v) + " (the graph has " + std::to_string(n) + " nodes)");
      out += "  n" + std::to_string(u) + " -> n" + std::to_string(v);
      if (p.stream_of[u] == p.stream_of[v]) {
        out += ";\n";
        continue;
      }
      const auto waits = p.waits_of(static_cast<node_id>(v));
      if (std::find(waits.begin(), waits.end(), u) != waits.end())
        out += " [style=dashed, color=\"" + std::string(pe::stream_colour(p.stream_of[u])) + "\", penwidth=1.5];\n";
      else
        out += " [style=dotted, color=grey];\n";
    }
  }
  out += "}\n";
  return out;
}

} // namespace opara
