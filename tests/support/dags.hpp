#pragma once
// Random and hand-made DAGs for opara's tests and benchmarks. Deterministic for a given seed.

#include <opara/analysis/topological.hpp>
#include <opara/graph/graph.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace opara::test {

using rng_t = std::mt19937_64;
using edge_list = std::vector<std::pair<node_id, node_id>>;

inline std::uint32_t uniform(rng_t& rng, std::uint32_t lo, std::uint32_t hi) {  // [lo, hi]
  return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
}

// Builds a graph of n nodes from edges; with `shuffle`, node ids are permuted so that id order is
// not a topological order (exercises orders and positions).
inline graph build(std::size_t n, const edge_list& edges, rng_t* shuffle = nullptr) {
  std::vector<node_id> perm(n);
  std::iota(perm.begin(), perm.end(), node_id{0});
  if (shuffle) std::shuffle(perm.begin(), perm.end(), *shuffle);
  graph_builder b;
  b.reserve(n, edges.size());
  b.add_nodes(n);
  for (auto [a, c] : edges) b.add_edge(perm[a], perm[c]);
  return b.build();
}

// Layers of 1..max_width nodes; each node of layer l > 0 takes 1..fan_in predecessors from layer
// l-1 and, with probability skip, one from an earlier layer.
inline graph layered(rng_t& rng, std::uint32_t layers, std::uint32_t max_width, std::uint32_t fan_in = 2,
                     double skip = 0.1, bool shuffle = false) {
  edge_list e;
  std::vector<std::pair<node_id, node_id>> range;  // [first, last) per layer
  node_id n = 0;
  std::bernoulli_distribution skip_d(skip);
  for (std::uint32_t l = 0; l < layers; ++l) {
    const std::uint32_t w = uniform(rng, 1, max_width);
    range.emplace_back(n, n + w);
    for (std::uint32_t i = 0; i < w; ++i) {
      const node_id v = n + i;
      if (l > 0) {
        auto [a, b] = range[l - 1];
        const std::uint32_t k = uniform(rng, 1, fan_in);
        for (std::uint32_t j = 0; j < k; ++j) e.emplace_back(uniform(rng, a, b - 1), v);
        if (l > 1 && skip_d(rng)) {
          auto [c, d] = range[uniform(rng, 0, l - 2)];
          e.emplace_back(uniform(rng, c, d - 1), v);
        }
      }
    }
    n += w;
  }
  return build(n, e, shuffle ? &rng : nullptr);
}

// Two-terminal series-parallel graph of n >= 2 nodes: start with s -> t, then repeatedly take a
// random edge a -> b and either subdivide it (series) or add a parallel branch a -> x -> b.
inline graph series_parallel(rng_t& rng, std::size_t n, bool shuffle = false) {
  edge_list e{{0, 1}};
  std::bernoulli_distribution series(0.5);
  for (node_id x = 2; x < n; ++x) {
    const std::size_t k = uniform(rng, 0, static_cast<std::uint32_t>(e.size() - 1));
    auto [a, b] = e[k];
    if (series(rng)) {
      e[k] = {a, x};
      e.emplace_back(x, b);
    } else {
      e.emplace_back(a, x);
      e.emplace_back(x, b);
    }
  }
  return build(std::max<std::size_t>(n, 2), e, shuffle ? &rng : nullptr);
}

// Each node i takes 0..2*avg_in predecessors among the `window` nodes before it (window 0: all).
inline graph random_dag(rng_t& rng, std::size_t n, std::uint32_t avg_in = 2, std::uint32_t window = 0,
                        bool shuffle = false) {
  edge_list e;
  e.reserve(n * avg_in);
  for (node_id v = 1; v < n; ++v) {
    const node_id lo = window == 0 || v <= window ? 0 : v - window;
    const std::uint32_t k = uniform(rng, 0, 2 * avg_in);
    for (std::uint32_t j = 0; j < k; ++j) e.emplace_back(uniform(rng, lo, v - 1), v);
  }
  return build(n, e, shuffle ? &rng : nullptr);
}

// One source feeding n-1 independent operators; with `join`, all of them feed one more sink.
inline graph fan_out(std::size_t n, bool join = false) {
  edge_list e;
  const node_id leaves = static_cast<node_id>(join ? n - 2 : n - 1);
  for (node_id i = 1; i <= leaves; ++i) e.emplace_back(0, i);
  if (join)
    for (node_id i = 1; i <= leaves; ++i) e.emplace_back(i, static_cast<node_id>(n - 1));
  return build(n, e);
}

// A chain 0 -> 1 -> ... -> n-1.
inline graph chain(std::size_t n) {
  edge_list e;
  for (node_id i = 1; i < n; ++i) e.emplace_back(i - 1, i);
  return build(n, e);
}

// A random graph of one of the shapes above, small (for property tests); `shape` in 0..4.
inline graph random_small(rng_t& rng, int shape, std::uint32_t max_nodes = 24) {
  switch (shape) {
    case 0: return layered(rng, uniform(rng, 1, 6), std::max<std::uint32_t>(1, max_nodes / 5), 3, 0.2, true);
    case 1: return series_parallel(rng, uniform(rng, 2, max_nodes), true);
    case 2: return random_dag(rng, uniform(rng, 1, max_nodes), 1, 0, true);
    case 3: return random_dag(rng, uniform(rng, 1, max_nodes), 2, 4, true);
    default: return fan_out(uniform(rng, 3, max_nodes), uniform(rng, 0, 1) == 1);
  }
}

// Transitive closure as a dense n x n matrix (small graphs only).
inline std::vector<std::vector<char>> closure(const graph& g) {
  const std::size_t n = g.num_nodes();
  std::vector<std::vector<char>> r(n, std::vector<char>(n, 0));
  const auto topo = g.topological_order();
  for (std::size_t i = n; i-- > 0;) {
    const node_id u = topo[i];
    for (node_id s : g.successors(u)) {
      r[u][s] = 1;
      for (std::size_t x = 0; x < n; ++x)
        if (r[s][x]) r[u][x] = 1;
    }
  }
  return r;
}

// Width by brute force over all subsets (n <= ~16).
inline std::size_t brute_width(const graph& g) {
  const std::size_t n = g.num_nodes();
  const auto r = closure(g);
  std::size_t best = 0;
  for (std::uint32_t mask = 1; mask < (1u << n); ++mask) {
    const auto size = static_cast<std::size_t>(__builtin_popcount(mask));
    if (size <= best) continue;
    bool ok = true;
    for (std::size_t a = 0; a < n && ok; ++a)
      if (mask >> a & 1)
        for (std::size_t b = 0; b < n && ok; ++b)
          if ((mask >> b & 1) && r[a][b]) ok = false;
    if (ok) best = size;
  }
  return best;
}

} // namespace opara::test
