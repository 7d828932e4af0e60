#pragma once
//! Opara's stream allocation (Alg. 1): walk operators in launch order; an operator takes the stream
//! of its first predecessor (in launch order) that has not yet handed its stream on, otherwise it
//! opens a new stream. O(n+e), no cap: a 1,000-wide fan-out opens 1,000 streams.

#include <opara/analysis/topological.hpp>
#include <opara/streams/concept.hpp>

namespace opara::streams {

//! Opara Alg. 1. Throws bad_graph when `order` is not a permutation of g's nodes.
struct opara_greedy {
  static constexpr std::string_view name = "opara_greedy";
  //! "opara_greedy" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }
  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    const std::size_t n = g.num_nodes();
    const auto pos = positions(order, n);
    stream_assignment a;
    a.stream_of.assign(n, 0);
    std::vector<char> handed(n, 0);
    for (node_id v : order) {
      node_id best = no_node;
      std::uint32_t best_pos = no_position;
      for (node_id u : g.predecessors(v))
        if (!handed[u] && pos[u] < best_pos) {
          best_pos = pos[u];
          best = u;
        }
      if (best != no_node) {
        handed[best] = 1;
        a.stream_of[v] = a.stream_of[best];
      } else {
        a.stream_of[v] = a.num_streams++;
      }
    }
    return a;
  }
};

} // namespace opara::streams
