#pragma once
//! A plan as a Graphviz drawing, so a user can see what opara decided (which operators share a
//! stream, where streams wait for each other, which waits were found redundant) instead of
//! trusting that work did not silently land on one stream.
//!
//!   dot -Tsvg plan.dot -o plan.svg

#include <opara/detail/json.hpp>
#include <opara/error.hpp>
#include <opara/graph/traits.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

namespace detail::plan_export {

// waited_by[u]: the consumers that wait for u's event (the plan's wait table transposed, CSR), so
// that "does v wait for u" is one mark per edge instead of a search through v's wait list.
struct waiters {
  std::vector<std::uint32_t> begin;
  std::vector<node_id> consumer;
  explicit waiters(const plan& p) : begin(p.num_nodes() + 1, 0), consumer(p.wait_on.size()) {
    const std::size_t n = p.num_nodes();
    for (node_id u : p.wait_on) ++begin[u + 1];
    for (std::size_t u = 0; u < n; ++u) begin[u + 1] += begin[u];
    std::vector<std::uint32_t> fill(begin.begin(), begin.end() - 1);
    for (node_id v = 0; v < n; ++v)
      for (node_id u : p.waits_of(v)) consumer[fill[u]++] = v;
  }
  [[nodiscard]] std::span<const node_id> of(node_id u) const noexcept {
    return {consumer.data() + begin[u], consumer.data() + begin[u + 1]};
  }
};

// A DOT double-quoted string body that Graphviz accepts whatever the name holds: quotes and
// backslashes escaped, newlines as \n, other control characters (NUL included) shown as the
// text \xNN, and bytes that are not valid UTF-8 as U+FFFD (as to_json writes them).
inline std::string dot_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      const std::size_t len = detail::json::impl::utf8_sequence_length(s, i);
      if (len == 0) {
        out += "\xef\xbf\xbd";
      } else {
        out.append(s.substr(i, len));
        i += len - 1;
      }
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
    } else {
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
//! O(n + e + waits) time. Throws invalid_plan when `p` does not have the shape of a plan for g
//! (check_plan_shape), bad_graph for an edge to an unknown node.
template <operator_graph G>
[[nodiscard]] std::string to_dot(const plan& p, const G& g) {
  namespace plan_export = detail::plan_export;
  const std::size_t n = graph_traits<G>::num_nodes(g);
  const auto pos = detail::plan_shape_positions(p, n, "to_dot");
  const plan_export::waiters waited(p);
  std::vector<node_id> waits_for(n, no_node);  // waits_for[v] == u: v's stream waits for u

  std::string out;
  out += "digraph opara_plan {\n";
  out += "  label=\"" + plan_export::dot_escape("opara plan: " + std::to_string(n) + " operators on " +
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
    out += "    label=\"stream " + k + "\";\n    color=\"" + std::string(plan_export::stream_colour(s)) + "\";\n";
    for (node_id v : by_stream[s])
      out += "    n" + std::to_string(v) + " [label=\"" + plan_export::dot_escape(node_name(g, v)) + "\\n#" +
             std::to_string(pos[v]) + "\"];\n";
    out += "  }\n";
  }

  for (node_id u = 0; u < n; ++u) {
    for (node_id v : waited.of(u)) waits_for[v] = u;
    for (auto raw : graph_traits<G>::successors(g, u)) {
      const auto v = static_cast<std::size_t>(raw);
      if (v >= n)
        throw bad_graph("opara::to_dot: edge " + node_name(g, u) + " -> " + detail::id_text(raw) +
                        " refers to unknown node " + detail::id_text(raw) + " (the graph has " + std::to_string(n) + " nodes)");
      out += "  n" + std::to_string(u) + " -> n" + std::to_string(v);
      if (p.stream_of[u] == p.stream_of[v]) {
        out += ";\n";
        continue;
      }
      if (waits_for[v] == u)
        out += " [style=dashed, color=\"" + std::string(plan_export::stream_colour(p.stream_of[u])) + "\", penwidth=1.5];\n";
      else
        out += " [style=dotted, color=grey];\n";
    }
  }
  out += "}\n";
  return out;
}

} // namespace opara
