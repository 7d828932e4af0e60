#pragma once
//! The single adaptation point for a user's operator graph, and the concept it must satisfy.
//!
//! Nodes are identified by dense indices 0..num_nodes-1 (opara::node_id). A user graph whose
//! nodes are named otherwise maps them to indices in its graph_traits specialization.
//! By default graph_traits reads natural member functions:
//!   g.num_nodes()          -> integral
//!   g.successors(v)        -> a range of integral node ids
//!   g.predecessors(v)      -> optional; opara never reads it (to_graph builds both directions
//!                             from the successor lists), it is there for the user's own algorithms
//!   g.name(v)              -> optional; something convertible to std::string (used in messages, DOT)

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ranges>
#include <string>
#include <type_traits>

namespace opara {

//! Dense index of an operator in a graph.
using node_id = std::uint32_t;

//! The one sentinel for "no node" (and "no position", "no stream" where a 32-bit index is meant):
//! never a valid id, since graphs hold fewer than 2^32 - 1 nodes.
inline constexpr node_id no_node = std::numeric_limits<node_id>::max();

namespace detail {
//! A successor id as the user's graph wrote it (-1 stays -1, not 18446744073709551615), for
//! error messages.
template <class Id>
std::string id_text(const Id& id) {
  if constexpr (std::is_integral_v<Id>) return std::to_string(id);
  else return std::to_string(static_cast<std::size_t>(id));
}
} // namespace detail

//! Specialize to adapt a graph type you cannot change. The primary template forwards to members.
template <class G>
struct graph_traits {
  //! Number of operators.
  static std::size_t num_nodes(const G& g)
    requires requires { { g.num_nodes() } -> std::convertible_to<std::size_t>; }
  {
    return static_cast<std::size_t>(g.num_nodes());
  }
  //! Operators that consume v's output.
  static decltype(auto) successors(const G& g, node_id v)
    requires requires { { g.successors(v) } -> std::ranges::input_range; }
  {
    return g.successors(v);
  }
  //! Operators whose outputs v consumes (optional).
  static decltype(auto) predecessors(const G& g, node_id v)
    requires requires { { g.predecessors(v) } -> std::ranges::input_range; }
  {
    return g.predecessors(v);
  }
  //! Human-readable name of v (optional).
  static std::string name(const G& g, node_id v)
    requires requires { { g.name(v) } -> std::convertible_to<std::string>; }
  {
    return std::string(g.name(v));
  }
};

namespace detail {
template <class R>
concept node_range = std::ranges::input_range<R> &&
                     std::convertible_to<std::ranges::range_value_t<R>, std::size_t>;
} // namespace detail

//! A directed graph of operators: a node count and, per node, the range of its successors.
template <class G>
concept operator_graph = requires(const G& g, node_id v) {
  { graph_traits<G>::num_nodes(g) } -> std::convertible_to<std::size_t>;
  { graph_traits<G>::successors(g, v) } -> detail::node_range;
};

//! An operator_graph that also lists each node's predecessors. opara's algorithms do not need them
//! (to_graph derives predecessors from successors in the same pass that sorts the edges); the
//! concept is for code that walks a user's graph backwards without converting it.
template <class G>
concept bidirectional_operator_graph =
    operator_graph<G> && requires(const G& g, node_id v) {
      { graph_traits<G>::predecessors(g, v) } -> detail::node_range;
    };

//! An operator_graph whose nodes have names.
template <class G>
concept named_operator_graph = operator_graph<G> && requires(const G& g, node_id v) {
  { graph_traits<G>::name(g, v) } -> std::convertible_to<std::string>;
};

//! Name of node v: the graph's own name if it has one, else "n<v>".
template <operator_graph G>
std::string node_name(const G& g, node_id v) {
  if constexpr (named_operator_graph<G>) {
    return graph_traits<G>::name(g, v);
  } else {
    std::string s = "n";  // not "n" + to_string(v): GCC 12 -O2 gives a false -Wrestrict there (PR105651)
    s += std::to_string(v);
    return s;
  }
}

} // namespace opara
