#pragma once
//! Width of a DAG (the size of its largest antichain: the most operators that can ever run at
//! once) and a minimum chain cover reaching it (Dilworth's theorem).
//!
//! Fulkerson's reduction: width = n - (maximum matching of the bipartite graph "u_out -> v_in when
//! u reaches v"). The closure is never built. Augmenting paths are searched over it implicitly: from
//! a left vertex u every node reachable from u in g is a candidate right vertex, so one search walks
//! g itself. Hopcroft–Karp over that implicit graph: each phase layers it with a 0-1 BFS (walking
//! within a reach is free, crossing a matched pair costs one) and then applies a maximal set of
//! vertex-disjoint shortest augmenting paths by DFS along the layers, each node walked at most once
//! per phase: O(n+e) per phase, O(sqrt(n)) phases, so O((n+e) sqrt(n)) time after a greedy chain
//! start in topological order. Memory O(n+e) at any size, no n^2 closure.

#include <opara/analysis/topological.hpp>
#include <opara/graph/graph.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace opara {

//! A partition of a DAG's nodes into chains (each chain a path in the transitive closure).
struct chain_cover {
  std::vector<node_id> next;  //!< next[v]: the node after v on its chain (v reaches it), or no_node
  std::vector<node_id> prev;  //!< prev[v]: the node before v on its chain, or no_node
  std::size_t num_chains = 0;
  //! max_antichain: an antichain of num_chains nodes (pairwise unreachable), the proof of minimality.
  std::vector<node_id> antichain;
};

namespace detail {

struct chain_cover_solver {
  static constexpr std::uint32_t inf = static_cast<std::uint32_t>(-1);
  const graph& g;
  std::vector<node_id> next, prev, parent_left;
  std::vector<std::uint32_t> dist_right, dist_left;  // alternations needed to reach a node (as right / as left)
  std::vector<std::uint32_t> rvis, lvis;
  std::uint32_t stamp = 0;
  struct frame {
    node_id x;        // node whose successors are walked
    std::uint32_t k;  // next successor index
    node_id owner;    // left vertex whose reach is being walked
    std::uint32_t level;
  };
  std::vector<frame> stack;
  std::vector<std::pair<node_id, bool>> deque_;  // (node, is_left), used as a 0-1 BFS deque

  explicit chain_cover_solver(const graph& gr)
      : g(gr), next(gr.num_nodes(), no_node), prev(gr.num_nodes(), no_node), parent_left(gr.num_nodes(), no_node),
        dist_right(gr.num_nodes(), inf), dist_left(gr.num_nodes(), inf), rvis(gr.num_nodes(), 0),
        lvis(gr.num_nodes(), 0) {}

  void greedy(std::span<const node_id> order) {
    for (node_id v : order)
      for (node_id u : g.predecessors(v))
        if (next[u] == no_node) {
          next[u] = v;
          prev[v] = u;
          break;
        }
  }

  // Hopcroft–Karp layering over the implicit closure, as a 0-1 BFS: walking along g within a left
  // vertex's reach costs 0, stepping from a matched right vertex to its left mate costs 1.
  // Returns the length of the shortest augmenting paths, or inf when there are none.
  std::uint32_t layer() {
    const std::size_t n = g.num_nodes();
    std::fill(dist_right.begin(), dist_right.end(), inf);
    std::fill(dist_left.begin(), dist_left.end(), inf);
    // Two stacks emulate the deque: `cur` holds label d, `nxt` label d+1.
    std::vector<std::pair<node_id, bool>> cur, nxt;
    for (node_id u = 0; u < n; ++u)
      if (next[u] == no_node) {
        dist_left[u] = 0;
        cur.emplace_back(u, true);
      }
    std::uint32_t best = inf;
    for (std::uint32_t d = 0; !cur.empty() && d <= best; ++d) {
      while (!cur.empty()) {
        auto [x, is_left] = cur.back();
        cur.pop_back();
        if (!is_left) {
          if (prev[x] == no_node) {
            best = d;
          } else if (dist_left[prev[x]] == inf) {
            dist_left[prev[x]] = d + 1;
            nxt.emplace_back(prev[x], true);
          }
        }
        for (node_id z : g.successors(x))
          if (dist_right[z] == inf) {
            dist_right[z] = d;
            cur.emplace_back(z, false);
          }
      }
      std::swap(cur, nxt);
    }
    return best;
  }

  void augment(node_id w) {
    for (;;) {
      const node_id x = parent_left[w];
      const node_id old = next[x];
      next[x] = w;
      prev[w] = x;
      if (old == no_node) return;
      w = old;
    }
  }

  // Walks shortest augmenting paths only (labels from layer()); returns true after augmenting.
  bool search(node_id root, std::uint32_t best) {
    lvis[root] = stamp;
    stack.clear();
    stack.push_back({root, 0, root, 0});
    while (!stack.empty()) {
      frame& f = stack.back();
      const auto succ = g.successors(f.x);
      if (f.k == succ.size()) {
        stack.pop_back();
        continue;
      }
      const node_id w = succ[f.k++];
      const std::uint32_t level = f.level;
      if (dist_right[w] != level || rvis[w] == stamp) continue;
      rvis[w] = stamp;
      const node_id owner = f.owner;
      parent_left[w] = owner;
      if (prev[w] == no_node) {
        augment(w);
        // Nodes the walk only passed through are not part of the path: reopen them for the other
        // roots of this phase (keeping them closed would leave the phase's path set non-maximal).
        // A walk frame directly below a left frame is that left vertex's entry, on the path.
        for (std::size_t i = 0; i < stack.size(); ++i) {
          const frame& fr = stack[i];
          const bool entry = i + 1 < stack.size() && stack[i + 1].x == stack[i + 1].owner;
          if (fr.x != fr.owner && !entry) rvis[fr.x] = 0;
        }
        return true;
      }
      stack.push_back({w, 0, owner, level});  // the rest of owner's reach goes on through w
      const node_id y = prev[w];
      if (level < best && dist_left[y] == level + 1 && lvis[y] != stamp) {
        lvis[y] = stamp;
        stack.push_back({y, 0, y, level + 1});  // alternate: w's chain predecessor looks further
      }
    }
    return false;
  }

  chain_cover run(std::span<const node_id> order) {
    const std::size_t n = g.num_nodes();
    greedy(order);
    for (;;) {
      const std::uint32_t best = layer();
      if (best == inf) break;
      ++stamp;
      bool any = false;
      for (node_id u = 0; u < n; ++u)
        if (next[u] == no_node && lvis[u] != stamp) any = search(u, best) || any;
      if (!any) break;  // cannot happen: a layered phase always finds one of its shortest paths
    }
    chain_cover c;
    for (node_id v = 0; v < n; ++v) {
      if (prev[v] == no_node) ++c.num_chains;
      // König: reachable as a left vertex, unreachable as a right one, from the free left vertices.
      if (dist_left[v] != inf && dist_right[v] == inf) c.antichain.push_back(v);
    }
    c.next = std::move(next);
    c.prev = std::move(prev);
    return c;
  }
};

} // namespace detail

//! A minimum chain cover of g (num_chains == width(g)) and a maximum antichain proving it.
//! `order` (a topological order, default g's own) seeds the greedy start, so chains tend to follow
//! it. Throws std::bad_alloc only.
[[nodiscard]] inline chain_cover min_chain_cover(const graph& g, std::span<const node_id> order = {}) {
  detail::chain_cover_solver s(g);
  return s.run(order.empty() ? g.topological_order() : order);
}

//! Width of g: the size of its largest antichain (most operators that can run concurrently).
[[nodiscard]] inline std::size_t width(const graph& g) { return min_chain_cover(g).num_chains; }

//! A largest antichain of g (pairwise unreachable nodes), ascending ids.
[[nodiscard]] inline std::vector<node_id> max_antichain(const graph& g) { return min_chain_cover(g).antichain; }

} // namespace opara
