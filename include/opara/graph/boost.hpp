#pragma once
//! Boost.Graph adapter: a boost::adjacency_list with vecS vertex storage is an operator_graph as
//! is (node ids are vertex indices), so it can be handed straight to make_plan, to_dot, etc.
//!   - bidirectionalS: successors (adjacent_vertices) and predecessors (inv_adjacent_vertices);
//!   - directedS: successors only (to_graph derives the predecessors);
//!   - any OutEdgeList selector, any vertex/edge/graph properties; parallel edges are merged and
//!     self-loops rejected by to_graph;
//!   - a bundled vertex property with a `name` member convertible to std::string names the nodes.
//! An undirected graph, or vertex storage other than vecS, is rejected with a static_assert that
//! says why. This is the only opara header that includes Boost; opara.hpp does not include it.

#include <opara/graph/traits.hpp>

#include <boost/graph/adjacency_list.hpp>

#include <cstddef>
#include <ranges>
#include <string>
#include <type_traits>

namespace opara {

namespace detail::boost_adapter {

// Traits shared by the directed and bidirectional specializations.
template <class G>
struct base {
  //! Number of vertices.
  static std::size_t num_nodes(const G& g) { return static_cast<std::size_t>(boost::num_vertices(g)); }
  //! Targets of v's out-edges (vertex indices).
  static auto successors(const G& g, node_id v) {
    auto [first, last] = boost::adjacent_vertices(static_cast<typename G::vertex_descriptor>(v), g);
    return std::ranges::subrange(first, last);
  }
  //! The bundled vertex property's `name`, when it has one.
  static std::string name(const G& g, node_id v)
    requires requires(const G& x, typename G::vertex_descriptor u) {
      { x[u].name } -> std::convertible_to<std::string>;
    }
  {
    return std::string(g[static_cast<typename G::vertex_descriptor>(v)].name);
  }
};

} // namespace detail::boost_adapter

//! Any other adjacency_list: rejected with a reason (see the specializations below).
template <class OEL, class VL, class D, class VP, class EP, class GP, class EL>
struct graph_traits<boost::adjacency_list<OEL, VL, D, VP, EP, GP, EL>> {
  static_assert(std::is_same_v<VL, boost::vecS>,
                "opara: a boost::adjacency_list needs vecS vertex storage (VertexList = boost::vecS) so that "
                "vertex descriptors are the dense indices opara uses as node ids");
  static_assert(!std::is_same_v<D, boost::undirectedS>,
                "opara: an undirected boost::adjacency_list has no edge direction, so it cannot say which "
                "operator feeds which; use boost::directedS or boost::bidirectionalS");
};

//! boost::adjacency_list<..., vecS, directedS, ...>: successors only.
template <class OEL, class VP, class EP, class GP, class EL>
struct graph_traits<boost::adjacency_list<OEL, boost::vecS, boost::directedS, VP, EP, GP, EL>>
    : detail::boost_adapter::base<boost::adjacency_list<OEL, boost::vecS, boost::directedS, VP, EP, GP, EL>> {};

//! boost::adjacency_list<..., vecS, bidirectionalS, ...>: successors and predecessors.
template <class OEL, class VP, class EP, class GP, class EL>
struct graph_traits<boost::adjacency_list<OEL, boost::vecS, boost::bidirectionalS, VP, EP, GP, EL>>
    : detail::boost_adapter::base<boost::adjacency_list<OEL, boost::vecS, boost::bidirectionalS, VP, EP, GP, EL>> {
  using graph_type = boost::adjacency_list<OEL, boost::vecS, boost::bidirectionalS, VP, EP, GP, EL>;
  //! Sources of v's in-edges (vertex indices).
  static auto predecessors(const graph_type& g, node_id v) {
    auto [first, last] = boost::inv_adjacent_vertices(static_cast<typename graph_type::vertex_descriptor>(v), g);
    return std::ranges::subrange(first, last);
  }
};

} // namespace opara
