#pragma once
//! opara's built-in operator graph: compact CSR storage in both directions, node names, and a
//! builder. Every planning algorithm runs on this type; any other operator_graph is converted to
//! it once by `to_graph`, which validates it (unknown nodes, self-loops, cycles, empty graphs).

#include <opara/error.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/graph/traits.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opara {

class graph_builder;

//! The most operators a graph may have: 2^24 (16,777,216), far past any operator graph a CUDA graph
//! is captured from (bench/planning plans 10^6). graph_builder and to_graph refuse more at once
//! with bad_graph, where building would end in std::bad_alloc after minutes and gigabytes.
inline constexpr std::size_t max_nodes = std::size_t{1} << 24;

namespace detail {
//! The bad_graph for a graph of `count` operators, more than max_nodes.
[[noreturn]] inline void too_many_nodes(std::string_view who, std::size_t count) {
  throw bad_graph("opara: " + std::string(who) + ": the graph has " + std::to_string(count) +
                  " operators, more than the " + std::to_string(max_nodes) + " an opara graph holds (opara::max_nodes)");
}
} // namespace detail

//! An immutable, validated DAG of operators with O(1) access to successors and predecessors.
class graph {
public:
  graph() = default;

  //! Number of operators.
  [[nodiscard]] std::size_t num_nodes() const noexcept { return succ_begin_.empty() ? 0 : succ_begin_.size() - 1; }
  //! Number of (deduplicated) edges.
  [[nodiscard]] std::size_t num_edges() const noexcept { return succ_.size(); }
  //! Operators consuming v's output, in increasing id order.
  [[nodiscard]] std::span<const node_id> successors(node_id v) const noexcept {
    return {succ_.data() + succ_begin_[v], succ_.data() + succ_begin_[v + 1]};
  }
  //! Operators whose output v consumes, in increasing id order.
  [[nodiscard]] std::span<const node_id> predecessors(node_id v) const noexcept {
    return {pred_.data() + pred_begin_[v], pred_.data() + pred_begin_[v + 1]};
  }
  //! Name given at build time, or "n<v>".
  [[nodiscard]] std::string name(node_id v) const {
    if (v < names_.size() && !names_[v].empty()) return names_[v];
    std::string s = "n";  // not "n" + to_string(v): GCC 12 -O2 gives a false -Wrestrict there
    s += std::to_string(v);
    return s;
  }
  //! A topological order (Kahn's algorithm, smallest ready id first), computed at validation.
  [[nodiscard]] std::span<const node_id> topological_order() const noexcept { return topo_; }
  //! True when no name was given to any node.
  [[nodiscard]] bool unnamed() const noexcept { return names_.empty(); }

private:
  friend class graph_builder;
  std::vector<std::uint32_t> succ_begin_, pred_begin_;
  std::vector<node_id> succ_, pred_, topo_;
  std::vector<std::string> names_;
};

//! Builds an opara::graph from nodes and edges; `build()` validates and throws on bad input.
class graph_builder {
public:
  //! Adds an operator and returns its id (ids are assigned 0, 1, 2, ... in call order). Throws
  //! bad_graph past max_nodes operators.
  node_id add_node(std::string name = {}) {
    if (names_.size() >= max_nodes) detail::too_many_nodes("graph_builder", names_.size() + 1);
    if (!name.empty()) any_name_ = true;
    names_.push_back(std::move(name));
    return static_cast<node_id>(names_.size() - 1);
  }
  //! Adds `count` unnamed operators; returns the id of the first. Throws bad_graph, adding none,
  //! when that would pass max_nodes operators.
  node_id add_nodes(std::size_t count) {
    if (count > max_nodes - names_.size()) detail::too_many_nodes("graph_builder", names_.size() + count);
    const auto first = static_cast<node_id>(names_.size());
    for (std::size_t i = 0; i < count; ++i) add_node();
    return first;
  }
  //! Declares that `to` consumes the output of `from`. Checked in build().
  graph_builder& add_edge(node_id from, node_id to) {
    edges_.emplace_back(from, to);
    return *this;
  }
  //! Reserves room for `nodes` operators and `edges` edges. Throws bad_graph when `nodes` is more
  //! than max_nodes.
  void reserve(std::size_t nodes, std::size_t edges) {
    if (nodes > max_nodes) detail::too_many_nodes("graph_builder", nodes);
    names_.reserve(nodes);
    edges_.reserve(edges);
  }
  //! Number of operators added so far.
  [[nodiscard]] std::size_t num_nodes() const noexcept { return names_.size(); }

  //! Validates and returns the graph. Throws bad_graph (empty graph, edge to an unknown node,
  //! self-loop) or not_a_dag (naming the nodes of one cycle). Duplicate edges are merged.
  [[nodiscard]] graph build() const {
    const std::size_t n = names_.size();
    if (n == 0) throw bad_graph("opara: the graph is empty (it has no operators to plan)");
    auto quoted = [&](node_id v) {
      std::string s = names_[v].empty() ? "n" : "'";
      s += names_[v].empty() ? std::to_string(v) : names_[v] + "'";
      return s;
    };
    std::vector<std::pair<node_id, node_id>> e = edges_;
    for (auto [a, b] : e) {
      if (a >= n || b >= n) {
        const node_id bad = a >= n ? a : b;
        const std::string known = a >= n ? std::string("<unknown>") : quoted(a);
        throw bad_graph("opara: edge " + (a >= n ? std::to_string(a) : known) + " -> " +
                        (b >= n ? std::to_string(b) : quoted(b)) + " refers to unknown node " +
                        std::to_string(bad) + " (the graph has " + std::to_string(n) + " nodes)");
      }
      if (a == b) throw bad_graph("opara: self-loop on node " + quoted(a) + " (an operator cannot depend on itself)");
    }
    sort_edges(e, n);
    e.erase(std::unique(e.begin(), e.end()), e.end());
    if (e.size() >= std::numeric_limits<std::uint32_t>::max())  // the CSR offsets are 32-bit
      throw bad_graph("opara: the graph has " + std::to_string(e.size()) + " edges, more than 32-bit offsets can hold");

    graph g;
    g.succ_begin_.assign(n + 1, 0);
    g.pred_begin_.assign(n + 1, 0);
    for (auto [a, b] : e) {
      ++g.succ_begin_[a + 1];
      ++g.pred_begin_[b + 1];
    }
    for (std::size_t i = 0; i < n; ++i) {
      g.succ_begin_[i + 1] += g.succ_begin_[i];
      g.pred_begin_[i + 1] += g.pred_begin_[i];
    }
    g.succ_.resize(e.size());
    g.pred_.resize(e.size());
    {
      std::vector<std::uint32_t> succ_fill(g.succ_begin_.begin(), g.succ_begin_.end() - 1);
      std::vector<std::uint32_t> pred_fill(g.pred_begin_.begin(), g.pred_begin_.end() - 1);
      for (auto [a, b] : e) {  // sorted by (a, b): successor lists come out sorted
        g.succ_[succ_fill[a]++] = b;
      }
      for (auto [a, b] : e) g.pred_[pred_fill[b]++] = a;
      for (std::size_t v = 0; v < n; ++v)
        std::sort(g.pred_.begin() + g.pred_begin_[v], g.pred_.begin() + g.pred_begin_[v + 1]);
    }
    if (any_name_) g.names_ = names_;
    g.topo_ = list_schedule(g, ready_heap<>{});  // smallest ready id first: keeps program order
    if (g.topo_.size() != n) throw_cycle(g);
    return g;
  }

private:
  //! Sorts edges by (from, to) with two stable counting sorts (by `to`, then by `from`): O(n + e),
  //! where a comparison sort of millions of edges dominated building.
  static void sort_edges(std::vector<std::pair<node_id, node_id>>& e, std::size_t n) {
    std::vector<std::pair<node_id, node_id>> by_to(e.size());
    std::vector<std::size_t> at(n + 1);
    auto pass = [&](const std::vector<std::pair<node_id, node_id>>& from, std::vector<std::pair<node_id, node_id>>& to,
                    auto key) {
      std::fill(at.begin(), at.end(), 0);
      for (const auto& x : from) ++at[key(x) + 1];
      for (std::size_t i = 0; i < n; ++i) at[i + 1] += at[i];
      for (const auto& x : from) to[at[key(x)]++] = x;
    };
    pass(e, by_to, [](const std::pair<node_id, node_id>& x) { return x.second; });
    pass(by_to, e, [](const std::pair<node_id, node_id>& x) { return x.first; });
  }

  //! "opara: the graph has a cycle: a -> b -> c -> a"; a cycle of more than max_listed nodes is
  //! shown by its first and last few nodes and its length, so the message stays short at any size
  //! (not_a_dag::cycle() has every node).
  static std::string cycle_message(const graph& g, const std::vector<node_id>& cycle) {
    constexpr std::size_t max_listed = 8;
    std::string msg = "opara: the graph has a cycle";
    if (cycle.size() > max_listed) msg += " of " + std::to_string(cycle.size()) + " nodes";
    msg += ": ";
    for (std::size_t i = 0; i < cycle.size(); ++i) {
      if (cycle.size() > max_listed && i == max_listed / 2) {
        msg += "... (" + std::to_string(cycle.size() - max_listed) + " more) -> ";
        i = cycle.size() - max_listed / 2;
      }
      msg += g.name(cycle[i]);
      msg += " -> ";
    }
    msg += g.name(cycle.front());
    return msg;
  }

  [[noreturn]] static void throw_cycle(const graph& g) {
    const std::size_t n = g.num_nodes();
    std::vector<char> done(n, 0);
    for (node_id v : g.topological_order()) done[v] = 1;
    // Every node left over has a predecessor that is also left over: walk back until a repeat.
    node_id start = 0;
    while (done[start]) ++start;
    std::vector<std::int64_t> seen_at(n, -1);
    std::vector<node_id> walk;
    node_id v = start;
    while (seen_at[v] < 0) {
      seen_at[v] = static_cast<std::int64_t>(walk.size());
      walk.push_back(v);
      for (node_id p : g.predecessors(v))
        if (!done[p]) {
          v = p;
          break;
        }
    }
    std::vector<node_id> cycle(walk.begin() + seen_at[v], walk.end());
    std::ranges::reverse(cycle);  // walked backwards along edges
    std::string msg = cycle_message(g, cycle);  // before the move below: argument order is unspecified
    throw not_a_dag(msg, std::move(cycle));
  }

  std::vector<std::string> names_;
  std::vector<std::pair<node_id, node_id>> edges_;
  bool any_name_ = false;
};

//! Converts any operator_graph into a validated opara::graph (names kept when it has them).
//! Throws like graph_builder::build(), and bad_graph at once for more than max_nodes operators.
template <operator_graph G>
[[nodiscard]] graph to_graph(const G& g) {
  if constexpr (std::same_as<G, graph>) {
    return g;
  } else {
    graph_builder b;
    const std::size_t n = graph_traits<G>::num_nodes(g);
    if (n > max_nodes) detail::too_many_nodes("to_graph", n);
    b.reserve(n, 2 * n);
    for (std::size_t v = 0; v < n; ++v) {
      if constexpr (named_operator_graph<G>) b.add_node(graph_traits<G>::name(g, static_cast<node_id>(v)));
      else b.add_node();
    }
    for (std::size_t v = 0; v < n; ++v)
      for (auto s : graph_traits<G>::successors(g, static_cast<node_id>(v))) {
        const auto target = static_cast<std::size_t>(s);
        if (target >= n)
          throw bad_graph("opara: edge " + node_name(g, static_cast<node_id>(v)) + " -> " + detail::id_text(s) +
                          " refers to unknown node " + detail::id_text(s) + " (the graph has " +
                          std::to_string(n) + " nodes)");
        b.add_edge(static_cast<node_id>(v), static_cast<node_id>(target));
      }
    return b.build();
  }
}

//! A 64-bit FNV-1a fingerprint of the graph's structure and names, as 16 hex digits. Profiles
//! and tuned choices are keyed by it, so a changed graph never reuses a stale profile.
[[nodiscard]] inline std::string fingerprint(const graph& g) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::uint64_t x) {
    for (int i = 0; i < 8; ++i) {
      h ^= (x >> (8 * i)) & 0xffu;
      h *= 1099511628211ull;
    }
  };
  mix(g.num_nodes());
  for (node_id v = 0; v < g.num_nodes(); ++v) {
    for (char c : g.name(v)) mix(static_cast<unsigned char>(c));
    mix(0xfeedull);
    for (node_id s : g.successors(v)) mix(s);
    mix(0xbeefull);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[15 - i] = hex[(h >> (4 * i)) & 0xf];
  return out;
}

} // namespace opara
