#pragma once
//! Taskflow's round-robin capturer (up to v3.9): an operator's stream is its index within its BFS
//! level, modulo `streams`. Levels are longest-path depths (Taskflow's levelize); within a level
//! operators are counted in launch order, so the first operator launched lands on stream 0. O(n+e).

#include <opara/analysis/topological.hpp>
#include <opara/streams/concept.hpp>

namespace opara::streams {

//! Round-robin over `streams` streams. Throws bad_policy when streams == 0.
struct round_robin {
  static constexpr std::string_view name = "round_robin";
  std::uint32_t streams = 4;  //!< number of streams to spread each level over (Taskflow: 4)

  //! "round_robin[<streams>]", e.g. "round_robin[4]".
  [[nodiscard]] std::string label() const { return std::string(name) + "[" + std::to_string(streams) + "]"; }

  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    if (streams == 0)
      throw bad_policy("opara: round_robin needs at least one stream (streams == 0 leaves nowhere to launch)");
    const std::size_t n = g.num_nodes();
    const auto level = depth_levels(g);
    std::vector<std::uint32_t> seen;
    stream_assignment a;
    a.stream_of.assign(n, 0);
    for (node_id v : order) {
      if (v >= n) throw bad_graph("opara: order names node " + std::to_string(v) + " outside the graph");
      const std::uint32_t l = level[v];
      if (l >= seen.size()) seen.resize(l + 1, 0);
      const stream_id s = seen[l]++ % streams;
      a.stream_of[v] = s;
      if (s + 1 > a.num_streams) a.num_streams = s + 1;
    }
    return a;
  }
};

} // namespace opara::streams
