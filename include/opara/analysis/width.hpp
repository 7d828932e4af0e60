#pragma once
//! Width of a DAG (the size of its largest antichain: the most operators that can ever run at
//! once) and a minimum chain cover reaching it (Dilworth's theorem).
//!
//! Fulkerson's reduction: width = n - (maximum matching of the bipartite graph "u_out -> v_in when
//! u reaches v"). The closure is never built. Augmenting paths are searched over it implicitly: from
//! a left vertex u every node reachable from u in g is a candidate right vertex, so one search walks
//! g itself. Hopcroft–Karp over that implicit graph: each phase layers it with a 0-1 BFS (walking
//! within a reach is free, crossing a matched pair costs one) and then applies a maximal set of
//! vertex-disjoint shortest augmenting paths by DFS along the layers. Hopcroft–Karp's argument
//! gives O(sqrt(n)) phases (each phase's shortest length is longer than the last). A path uses its
//! right vertices, not the nodes it walks through, so after a success those stay open for the
//! phase's other roots (the path set must stay maximal); a phase therefore costs O(n + e) plus the
//! depth of each successful walk. The greedy start (which already joins chains through the
//! closure) and trying the latest chain ends first keep those walks short: the planning benchmark
//! measures it on chains, fan-outs, layered and random DAGs up to 10^6 operators.
//! Memory O(n+e) at any size, no n^2 closure.

#include <opara/analysis/topological.hpp>
#include <opara/graph/graph.hpp>

#include <algorithm>
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

// The solver works on g relabelled by launch position (node i = order[i]), so that graphs whose
// ids are shuffled are still walked mostly in memory order; results are mapped back to ids.
struct chain_cover_solver {
  static constexpr std::uint32_t inf = no_node;
  std::size_t n;
  std::vector<std::uint32_t> succ_begin, pred_begin;
  std::vector<std::uint32_t> succ, pred;  // by position
  std::vector<std::uint32_t> next, prev, parent_left;
  std::vector<std::uint32_t> dist_right, dist_left;  // alternations needed to reach a node (as right / as left)
  std::vector<std::uint32_t> rvis, lvis;
  // A node is marked (visited in this pass) when its rvis / lvis entry is >= mark_floor; marks are
  // written as `stamp` (mark_floor <= stamp; 0 is never a mark). See solve() for passes that resume.
  std::uint32_t stamp = 0, mark_floor = 0;
  // Passes without layers, until their first augmenting path: the current walk's marks, logged in
  // dist_right (rvis) and dist_left (lvis), which such passes do not read.
  bool logging = false;
  std::uint32_t rlogged = 0, llogged = 0;
  struct frame {
    std::uint32_t x;       // node whose successors are walked
    std::uint32_t k, end;  // its successors left: succ[k .. end)
    std::uint32_t owner;   // left vertex whose reach is being walked
    std::uint32_t level;
  };
  [[nodiscard]] frame frame_of(std::uint32_t x, std::uint32_t owner, std::uint32_t level) const noexcept {
    return {x, succ_begin[x], succ_begin[x + 1], owner, level};
  }
  std::vector<frame> stack;
  std::vector<std::uint32_t> cur, nxt;  // the 0-1 BFS's two stacks (label d, label d+1); bit 31: left

  chain_cover_solver(const graph& g, std::span<const node_id> order, std::span<const std::uint32_t> pos)
      : n(g.num_nodes()), succ_begin(n + 1, 0), pred_begin(n + 1, 0), next(n, no_node), prev(n, no_node),
        parent_left(n, no_node), dist_right(n, inf), dist_left(n, inf), rvis(n, 0), lvis(n, 0) {
    succ.reserve(g.num_edges());
    pred.reserve(g.num_edges());
    for (std::size_t i = 0; i < n; ++i) {
      for (node_id s : g.successors(order[i])) succ.push_back(pos[s]);
      for (node_id p : g.predecessors(order[i])) pred.push_back(pos[p]);
      succ_begin[i + 1] = static_cast<std::uint32_t>(succ.size());
      pred_begin[i + 1] = static_cast<std::uint32_t>(pred.size());
    }
  }
  [[nodiscard]] std::span<const std::uint32_t> successors(std::uint32_t x) const noexcept {
    return {succ.data() + succ_begin[x], succ.data() + succ_begin[x + 1]};
  }
  [[nodiscard]] std::span<const std::uint32_t> predecessors(std::uint32_t x) const noexcept {
    return {pred.data() + pred_begin[x], pred.data() + pred_begin[x + 1]};
  }

  // Greedy start in launch order, on the closure: v follows a producer whose chain still ends
  // there (a real edge) or, failing that, the free chain end that some producer inherited from
  // its own ancestors (`tail`: a free chain end reaching the node). Each such link is an
  // augmenting path of length zero found in O(deg), which leaves Hopcroft–Karp little to do.
  void greedy() {
    std::vector<std::uint32_t> tail(n, no_node);
    auto free_end = [&](std::uint32_t t) { return t != no_node && next[t] == no_node; };
    for (std::uint32_t v = 0; v < n; ++v) {
      std::uint32_t chosen = no_node;
      for (std::uint32_t u : predecessors(v))
        if (next[u] == no_node) {
          chosen = u;
          break;
        }
      if (chosen == no_node)
        for (std::uint32_t u : predecessors(v))
          if (free_end(tail[u])) {
            chosen = tail[u];
            break;
          }
      if (chosen != no_node) {
        next[chosen] = v;
        prev[v] = chosen;
      }
      for (std::uint32_t u : predecessors(v)) {
        if (next[u] == no_node) {
          tail[v] = u;
          break;
        }
        if (free_end(tail[u])) {
          tail[v] = tail[u];
          break;
        }
      }
    }
  }

  // Hopcroft–Karp layering over the implicit closure, as a 0-1 BFS: walking along g within a left
  // vertex's reach costs 0, stepping from a matched right vertex to its left mate costs 1.
  // Returns the length of the shortest augmenting paths, or inf when there are none.
  std::uint32_t layer() {
    constexpr std::uint32_t left_bit = 1u << 31;
    std::fill(dist_right.begin(), dist_right.end(), inf);
    std::fill(dist_left.begin(), dist_left.end(), inf);
    cur.clear();
    nxt.clear();
    for (std::uint32_t u = 0; u < n; ++u)
      if (next[u] == no_node) {
        dist_left[u] = 0;
        cur.push_back(u | left_bit);
      }
    std::uint32_t best = inf;
    for (std::uint32_t d = 0; !cur.empty() && d <= best; ++d) {
      while (!cur.empty()) {
        const std::uint32_t item = cur.back();
        cur.pop_back();
        const std::uint32_t x = item & ~left_bit;
        if (!(item & left_bit)) {
          if (prev[x] == no_node) {
            best = d;
          } else if (dist_left[prev[x]] == inf) {
            dist_left[prev[x]] = d + 1;
            nxt.push_back(prev[x] | left_bit);
          }
        }
        for (std::uint32_t z : successors(x))
          if (dist_right[z] == inf) {
            dist_right[z] = d;
            cur.push_back(z);
          }
      }
      std::swap(cur, nxt);
    }
    return best;
  }

  void augment(std::uint32_t w) {
    for (;;) {
      const std::uint32_t x = parent_left[w];
      const std::uint32_t old = next[x];
      next[x] = w;
      prev[w] = x;
      if (old == no_node) return;
      w = old;
    }
  }

  // Walks shortest augmenting paths only (labels from layer()); returns true after augmenting.
  // Unlayered (best == inf): any augmenting path, the labels ignored (see solve()).
  bool search(std::uint32_t root, std::uint32_t best) {
    const bool layered = best != inf;
    lvis[root] = stamp;
    if (logging) dist_left[llogged++] = root;
    stack.clear();
    stack.push_back(frame_of(root, root, 0));
    while (!stack.empty()) {
      frame& f = stack.back();
      const std::uint32_t level = f.level;
      std::uint32_t w = no_node;
      while (f.k < f.end) {  // the top frame's next successor still open on this level
        const std::uint32_t z = succ[f.k++];
        if ((layered && dist_right[z] != level) || rvis[z] >= mark_floor) continue;
        w = z;
        break;
      }
      if (w == no_node) {
        stack.pop_back();
        continue;
      }
      rvis[w] = stamp;
      if (logging) dist_right[rlogged++] = w;
      const std::uint32_t owner = f.owner;
      parent_left[w] = owner;
      if (prev[w] == no_node) {
        augment(w);
        // The path used its right vertices (they are matched now and never free again), not the
        // nodes it walked through: every walk node, the path's right vertices included, stays
        // open as a way through to the other roots of this phase; keeping any closed would hide
        // what lies beyond it and leave the phase's path set non-maximal.
        rvis[w] = 0;
        for (const frame& f : stack)
          if (f.x != f.owner) rvis[f.x] = 0;
        return true;
      }
      stack.push_back(frame_of(w, owner, level));  // the rest of owner's reach goes on through w
      const std::uint32_t y = prev[w];
      if ((!layered || (level < best && dist_left[y] == level + 1)) && lvis[y] < mark_floor) {
        lvis[y] = stamp;
        if (logging) dist_left[llogged++] = y;
        stack.push_back(frame_of(y, y, level + 1));  // alternate: w's chain predecessor looks further
      }
    }
    return false;
  }

  // Phases until no augmenting path is left. Roots are tried latest first: a late chain end has a
  // small reach, so it finds its partner near it and leaves the nodes further up to earlier ends
  // (in launch order, the walks of early roots would cross the whole graph again and again).
  // Once a phase finds only a few paths (the long tail of Hopcroft–Karp: one path per O(n + e)
  // phase), passes without layers take over: each walks every free root's reach once and keeps
  // any augmenting path it meets, so one pass finds what several phases would. A pass that finds
  // none proves the matching maximum (a root's failed walk stays failed: nothing was augmented);
  // a last layer() then labels the nodes for the antichain (and would resume phases if a path
  // were left); `label_antichain` false skips it (the chains alone are wanted).
  // A pass without layers that follows another resumes it: it starts below r, the root of the
  // last pass's first augmenting path, and keeps the marks of that pass's walks before r's, exactly
  // as if it had walked them again. Those walks, from the roots above r, failed and met only nodes
  // that no augmentation of that pass touched (an augmenting path runs through nodes unmarked
  // when its walk began, and marks stay until the pass ends), so on the same marks they would
  // walk the same nodes and fail again. The marks from r's walk on are undone (r's walk is logged
  // and re-marked as stamp + 1 when it succeeds, like every later walk; one scan clears them).
  // Same paths, same chains; on random-local-100k the last passes each find one path low in the
  // order after re-walking most of the graph, which this skips.
  void solve(bool label_antichain = true) {
    greedy();
    constexpr std::size_t few_paths = 64;
    bool layered = true;
    bool resume = false;    // this pass resumes the last (see above)
    std::uint32_t top = 0;  // then: the roots below this are searched
    for (;;) {
      const std::uint32_t best = layered ? layer() : inf;
      if (layered && best == inf) break;
      if (!resume) {
        mark_floor = ++stamp;  // every old mark < mark_floor
        top = static_cast<std::uint32_t>(n);
      }
      logging = !layered;
      bool augmented = false;
      std::uint32_t first_root = 0;  // the root of this pass's first augmenting path
      std::size_t found = 0;
      for (std::uint32_t u = top; u-- > 0;)
        if (next[u] == no_node && lvis[u] < mark_floor) {
          rlogged = llogged = 0;
          if (!search(u, best)) continue;
          ++found;
          if (augmented) continue;
          augmented = true;
          first_root = u;
          if (logging) {  // u's walk and every later one: stamp + 1, undone if the next pass resumes
            for (std::uint32_t i = 0; i < rlogged; ++i)
              if (rvis[dist_right[i]] == stamp) rvis[dist_right[i]] = stamp + 1;
            for (std::uint32_t i = 0; i < llogged; ++i)
              if (lvis[dist_left[i]] == stamp) lvis[dist_left[i]] = stamp + 1;
            ++stamp;
            logging = false;
          }
        }
      logging = false;
      const bool was_layered = layered;
      if (layered && found == 0) break;  // cannot happen: a layered phase finds one of its shortest paths
      if (!layered && found == 0) {  // maximum: the last layer() labels the nodes
        if (!label_antichain) break;
        layered = true;
      }
      else if (found < few_paths) layered = false;
      resume = !was_layered && !layered && augmented;
      if (resume) {  // keep the marks below stamp (mark_floor .. stamp - 1), undo the rest
        for (auto& v : rvis) v = v == stamp ? 0 : v;
        for (auto& v : lvis) v = v == stamp ? 0 : v;
        --stamp;
        top = first_root;
      }
    }
  }
};

//! The chains of a minimum chain cover of g, by launch position: next[i] is the position after
//! position i on its chain (no_node at its end), prev[i] the one before. No antichain, nor the
//! layering that labels it; `pos` is the result of require_topological_order for `order`.
[[nodiscard]] inline chain_cover_solver chains_by_position(const graph& g, std::span<const node_id> order,
                                                           std::span<const std::uint32_t> pos) {
  chain_cover_solver s(g, order, pos);
  s.solve(false);
  return s;
}

} // namespace detail

//! A minimum chain cover of g (num_chains == width(g)) and a maximum antichain proving it.
//! `order` (a topological order, default g's own) seeds the greedy start, so chains tend to follow
//! it. Throws bad_policy, naming the first bad entry or edge, when `order` is given and is not a
//! topological order of g.
[[nodiscard]] inline chain_cover min_chain_cover(const graph& g, std::span<const node_id> order = {}) {
  if (order.empty()) order = g.topological_order();
  const auto pos = require_topological_order(g, order, "min_chain_cover was given an order that");
  detail::chain_cover_solver s(g, order, pos);
  s.solve();
  const std::size_t n = g.num_nodes();
  chain_cover c;
  c.next.assign(n, no_node);
  c.prev.assign(n, no_node);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (s.next[i] != no_node) c.next[order[i]] = order[s.next[i]];
    if (s.prev[i] == no_node) ++c.num_chains;
    else c.prev[order[i]] = order[s.prev[i]];
    // König: reachable as a left vertex, unreachable as a right one, from the free left vertices.
    if (s.dist_left[i] != s.inf && s.dist_right[i] == s.inf) c.antichain.push_back(order[i]);
  }
  std::sort(c.antichain.begin(), c.antichain.end());
  return c;
}

//! min_chain_cover for any operator_graph (converted with to_graph; throws like it too).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] chain_cover min_chain_cover(const G& g) {
  return min_chain_cover(to_graph(g));
}

//! Width of g: the size of its largest antichain (most operators that can run concurrently). Any
//! operator_graph (converted with to_graph, which throws bad_graph / not_a_dag for a bad one).
template <operator_graph G>
[[nodiscard]] std::size_t width(const G& g) {
  return min_chain_cover(g).num_chains;
}

//! A largest antichain of g (pairwise unreachable nodes), ascending ids. Any operator_graph.
template <operator_graph G>
[[nodiscard]] std::vector<node_id> max_antichain(const G& g) {
  return min_chain_cover(g).antichain;
}

} // namespace opara
