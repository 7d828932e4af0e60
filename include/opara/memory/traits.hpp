#pragma once
//! The optional memory side of an operator graph: which buffers each operator reads and writes,
//! how large they are, and (for an engine that already shares activation memory through an arena)
//! where each buffer sits in it. A graph that says nothing of memory plans as before.
//!
//! Like graph_traits, memory_traits reads natural member functions by default:
//!   g.num_buffers()        -> integral: buffers are identified by dense ids 0..num_buffers-1
//!   g.buffer_bytes(b)      -> integral: the buffer's size in bytes
//!   g.reads(v)             -> a range of buffer ids operator v reads
//!   g.writes(v)            -> a range of buffer ids operator v writes
//!   g.buffer_offset(b)     -> optional: the byte offset of b in the engine's arena. A graph that has
//!                             it is an arena_graph: make_plan then orders every two operators whose
//!                             byte ranges overlap (one writing) as the engine's sequential program
//!                             order does, so a parallel plan cannot race on the reused memory
//!   g.buffer_pinned(b)     -> optional bool: b lives outside the arena (weights, the request's inputs and
//!                             outputs): it keeps its own memory, arena planning never places it, and
//!                             its offset (if any) is ignored
//!   g.buffer_part_of(b)    -> optional: the buffer b is a part of (b itself when none): a part is a
//!                             slice of its parent's bytes that no other part of it touches
//!                             (a concatenation's channel slices, written by different branches,
//!                             interleaved in memory). Accesses to different parts of one parent never
//!                             conflict; anything else touching the parent's bytes does. A part has no
//!                             offset, size or pinning of its own: it takes its parent's
//!   g.buffer_name(b)       -> optional: something convertible to std::string, for messages
//! Specialize memory_traits<G> to adapt a type you cannot change, as with graph_traits.

#include <opara/graph/traits.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ranges>
#include <string>

namespace opara {

//! Dense index of a buffer (a tensor's memory) in a graph.
using buffer_id = std::uint32_t;

//! Specialize to adapt a graph type you cannot change. The primary template forwards to members.
template <class G>
struct memory_traits {
  //! Number of buffers.
  static std::size_t num_buffers(const G& g)
    requires requires { { g.num_buffers() } -> std::convertible_to<std::size_t>; }
  {
    return static_cast<std::size_t>(g.num_buffers());
  }
  //! Size of buffer b in bytes.
  static std::uint64_t buffer_bytes(const G& g, buffer_id b)
    requires requires { { g.buffer_bytes(b) } -> std::convertible_to<std::uint64_t>; }
  {
    return static_cast<std::uint64_t>(g.buffer_bytes(b));
  }
  //! Buffers operator v reads.
  static decltype(auto) reads(const G& g, node_id v)
    requires requires { { g.reads(v) } -> std::ranges::input_range; }
  {
    return g.reads(v);
  }
  //! Buffers operator v writes.
  static decltype(auto) writes(const G& g, node_id v)
    requires requires { { g.writes(v) } -> std::ranges::input_range; }
  {
    return g.writes(v);
  }
  //! Byte offset of b in the engine's arena (optional).
  static std::uint64_t buffer_offset(const G& g, buffer_id b)
    requires requires { { g.buffer_offset(b) } -> std::convertible_to<std::uint64_t>; }
  {
    return static_cast<std::uint64_t>(g.buffer_offset(b));
  }
  //! True when b lives outside the arena (optional).
  static bool buffer_pinned(const G& g, buffer_id b)
    requires requires { { g.buffer_pinned(b) } -> std::convertible_to<bool>; }
  {
    return static_cast<bool>(g.buffer_pinned(b));
  }
  //! The buffer b is a part of, or b (optional).
  static std::size_t buffer_part_of(const G& g, buffer_id b)
    requires requires { { g.buffer_part_of(b) } -> std::convertible_to<std::size_t>; }
  {
    return static_cast<std::size_t>(g.buffer_part_of(b));
  }
  //! Human-readable name of b (optional).
  static std::string buffer_name(const G& g, buffer_id b)
    requires requires { { g.buffer_name(b) } -> std::convertible_to<std::string>; }
  {
    return std::string(g.buffer_name(b));
  }
};

namespace detail {
template <class R>
concept buffer_range = std::ranges::input_range<R> &&
                       std::convertible_to<std::ranges::range_value_t<R>, std::size_t>;
} // namespace detail

//! An operator_graph that says which buffers each operator reads and writes, and their sizes.
template <class G>
concept tensor_graph = operator_graph<G> && requires(const G& g, node_id v, buffer_id b) {
  { memory_traits<G>::num_buffers(g) } -> std::convertible_to<std::size_t>;
  { memory_traits<G>::buffer_bytes(g, b) } -> std::convertible_to<std::uint64_t>;
  { memory_traits<G>::reads(g, v) } -> detail::buffer_range;
  { memory_traits<G>::writes(g, v) } -> detail::buffer_range;
};

//! A tensor_graph whose buffers already have offsets in the engine's own arena.
template <class G>
concept arena_graph = tensor_graph<G> && requires(const G& g, buffer_id b) {
  { memory_traits<G>::buffer_offset(g, b) } -> std::convertible_to<std::uint64_t>;
};

//! A tensor_graph that marks buffers living outside the arena (weights, inputs, outputs).
template <class G>
concept pinning_tensor_graph = tensor_graph<G> && requires(const G& g, buffer_id b) {
  { memory_traits<G>::buffer_pinned(g, b) } -> std::convertible_to<bool>;
};

//! A tensor_graph some of whose buffers are parts of others (slices no other part touches).
template <class G>
concept partitioned_tensor_graph = tensor_graph<G> && requires(const G& g, buffer_id b) {
  { memory_traits<G>::buffer_part_of(g, b) } -> std::convertible_to<std::size_t>;
};

//! A tensor_graph whose buffers have names.
template <class G>
concept named_tensor_graph = tensor_graph<G> && requires(const G& g, buffer_id b) {
  { memory_traits<G>::buffer_name(g, b) } -> std::convertible_to<std::string>;
};

} // namespace opara
