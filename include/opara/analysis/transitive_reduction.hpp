#pragma once
//! Transitive reduction of a DAG: the edges that no longer path implies. Nimble reduces the graph
//! before matching; opara exposes it for analysis, tests and DOT output.
//!
//! Method: bitsets of reachability over topological positions. Successors of u are visited in
//! increasing topological position; an edge u->s is redundant exactly when s is already reachable
//! from a successor visited before it. To bound memory the target positions are processed in
//! column blocks: one block needs (rows reaching it) x (block width) bits, so memory stays under
//! `memory_budget` bytes at any n. Only nodes with successors get rows (a sink reaches nothing), so
//! time is O(e * n / 64) word operations plus O(n) per column block, and the blocks are as wide as
//! the budget allows for those rows.

#include <opara/graph/graph.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace opara {

namespace detail {
//! transitive_reduction_edges, also reporting the largest bitset allocation in bytes.
inline std::vector<std::pair<node_id, node_id>> transitive_reduction_edges(const graph& g, std::size_t memory_budget,
                                                                          std::size_t* peak_bitset_bytes) {
  const std::size_t n = g.num_nodes();
  const auto topo = g.topological_order();
  std::vector<std::uint32_t> pos(n);
  for (std::size_t i = 0; i < n; ++i) pos[topo[i]] = static_cast<std::uint32_t>(i);

  // Successors of each position, as positions, ascending.
  std::vector<std::uint32_t> succ_begin(n + 1, 0), succ_pos;
  succ_pos.reserve(g.num_edges());
  for (std::size_t p = 0; p < n; ++p) {
    const auto first = succ_pos.size();
    for (node_id s : g.successors(topo[p])) succ_pos.push_back(pos[s]);
    std::sort(succ_pos.begin() + static_cast<std::ptrdiff_t>(first), succ_pos.end());
    succ_begin[p + 1] = static_cast<std::uint32_t>(succ_pos.size());
  }
  std::vector<char> redundant(succ_pos.size(), 0);

  // Only nodes with successors reach anything: rows are kept for them alone, numbered in
  // position order (row_end[p]: rows of the positions before p), so a graph of few edges needs
  // few rows whatever its node count.
  constexpr std::uint32_t no_row = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> row_of(n, no_row), row_end(n + 1, 0);
  std::uint32_t num_rows = 0;
  for (std::size_t p = 0; p < n; ++p) {
    if (succ_begin[p + 1] > succ_begin[p]) row_of[p] = num_rows++;
    row_end[p + 1] = num_rows;
  }

  const std::size_t max_words_total = std::max<std::size_t>(memory_budget / sizeof(std::uint64_t), 1);
  std::size_t block_words = std::max<std::size_t>(max_words_total / std::max<std::size_t>(num_rows, 1), 1);
  block_words = std::min(block_words, (n + 63) / 64);
  const std::size_t block_cols = block_words * 64;

  std::vector<std::uint64_t> rows;
  if (num_rows > 0) rows.reserve(std::size_t{num_rows} * block_words);  // allocated once, not per block
  for (std::size_t first_col = 0; first_col < n && num_rows > 0; first_col += block_cols) {
    const std::size_t end_col = std::min(n, first_col + block_cols);
    const std::size_t w = (end_col - first_col + 63) / 64;
    // Only positions < end_col can reach columns of this block.
    rows.assign(std::size_t{row_end[end_col]} * w, 0);
    if (peak_bitset_bytes) *peak_bitset_bytes = std::max(*peak_bitset_bytes, rows.size() * sizeof(std::uint64_t));
    for (std::size_t p = end_col; p-- > 0;) {
      if (row_of[p] == no_row) continue;
      std::uint64_t* acc = rows.data() + std::size_t{row_of[p]} * w;
      for (std::uint32_t k = succ_begin[p]; k < succ_begin[p + 1]; ++k) {
        const std::size_t q = succ_pos[k];
        if (q >= end_col) break;  // ascending: the rest cannot reach this block either
        if (q >= first_col) {
          const std::size_t b = q - first_col;
          const std::uint64_t bit = std::uint64_t{1} << (b & 63);
          if (acc[b >> 6] & bit) redundant[k] = 1;
          acc[b >> 6] |= bit;
        }
        if (row_of[q] == no_row) continue;  // a sink reaches nothing
        const std::uint64_t* reach_of_q = rows.data() + std::size_t{row_of[q]} * w;
        for (std::size_t i = 0; i < w; ++i) acc[i] |= reach_of_q[i];
      }
    }
  }

  std::vector<std::pair<node_id, node_id>> out;
  out.reserve(succ_pos.size());
  for (std::size_t p = 0; p < n; ++p)
    for (std::uint32_t k = succ_begin[p]; k < succ_begin[p + 1]; ++k)
      if (!redundant[k]) out.emplace_back(topo[p], topo[succ_pos[k]]);
  std::sort(out.begin(), out.end());
  return out;
}
} // namespace detail

//! Edges of the transitive reduction of g, sorted by (from, to). `memory_budget` bounds the
//! bitset memory in bytes (at least one 64-column block is always used). Throws std::bad_alloc only.
[[nodiscard]] inline std::vector<std::pair<node_id, node_id>>
transitive_reduction_edges(const graph& g, std::size_t memory_budget = std::size_t{64} << 20) {
  return detail::transitive_reduction_edges(g, memory_budget, nullptr);
}

//! The transitive reduction of g as a graph with the same nodes and names. Throws std::bad_alloc only.
[[nodiscard]] inline graph transitive_reduction(const graph& g) {
  graph_builder b;
  const auto edges = transitive_reduction_edges(g);
  b.reserve(g.num_nodes(), edges.size());
  for (node_id v = 0; v < g.num_nodes(); ++v) b.add_node(g.unnamed() ? std::string() : g.name(v));
  for (auto [a, c] : edges) b.add_edge(a, c);
  return b.build();
}

} // namespace opara
