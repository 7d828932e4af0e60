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

#include <opara/analysis/topological.hpp>
#include <opara/analysis/width.hpp>
#include <opara/streams/concept.hpp>

#include <cstdint>

namespace opara::streams {

//! Minimum path cover (Nimble): width(g) streams. Throws bad_policy when `order` is not a
//! topological order of g (an empty order means g's own).
struct min_path_cover {
  static constexpr std::string_view name = "min_path_cover";
  //! "min_path_cover" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    if (order.empty()) order = g.topological_order();
    const auto pos = require_topological_order(g, order, "min_chain_cover was given an order that");
    // The chains by launch position, without the antichain min_chain_cover also proves.
    const detail::chain_cover_solver c = detail::chains_by_position(g, order, pos);
    stream_assignment a;
    a.stream_of.assign(g.num_nodes(), 0);
    // Chains in order of their heads' launch positions, so stream 0 holds order[0].
    for (std::uint32_t head = 0; head < order.size(); ++head) {
      if (c.prev[head] != no_node) continue;
      for (std::uint32_t i = head; i != no_node; i = c.next[i]) a.stream_of[order[i]] = a.num_streams;
      ++a.num_streams;
    }
    return a;
  }
};

} // namespace opara::streams
