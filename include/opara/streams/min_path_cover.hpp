#pragma once
//! Nimble's stream allocation: the fewest streams that still let every pair of independent
//! operators run concurrently. A minimum path cover of the transitive closure (Fulkerson: maximum
//! bipartite matching "u_out -> v_in when u reaches v") has exactly width(g) chains (Dilworth);
//! each chain becomes a stream.
//!
//! Nimble computes this in two steps: a matching on the transitive reduction gives vertex-disjoint
//! paths, then a second matching lets a later chain reuse an earlier chain's stream when it can
//! follow it. Both steps are augmenting paths of the closure matching, so opara runs them as one:
//! a greedy matching on g's edges in launch order (the first step's chains, on real edges), then
//! augmenting paths searched implicitly over the closure (the re-joining of chains), until the
//! count is the width. No O(n^2) closure or reduction is built: see analysis/width.hpp for the
//! algorithm and its cost (O(n+e) memory).

#include <opara/analysis/width.hpp>
#include <opara/streams/concept.hpp>

namespace opara::streams {

//! Minimum path cover (Nimble): width(g) streams. Throws bad_policy when `order` is not a
//! topological order of g (an empty order means g's own).
struct min_path_cover {
  static constexpr std::string_view name = "min_path_cover";
  //! "min_path_cover" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    if (order.empty()) order = g.topological_order();
    const chain_cover c = min_chain_cover(g, order);  // checks `order`
    stream_assignment a;
    a.stream_of.assign(g.num_nodes(), 0);
    // Chains in order of their heads' launch positions, so stream 0 holds order[0].
    for (node_id head : order) {
      if (c.prev[head] != no_node) continue;
      for (node_id v = head; v != no_node; v = c.next[v]) a.stream_of[v] = a.num_streams;
      ++a.num_streams;
    }
    return a;
  }
};

} // namespace opara::streams
