#pragma once
//! opara::memory_map: the memory side of a graph in compact form (buffers, and each operator's
//! reads and writes), what the hazard check and the arena planner work on. memory_of(g) builds it
//! once from any tensor_graph and checks it; an engine may also fill one by hand.

#include <opara/error.hpp>
#include <opara/memory/traits.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace opara {

//! "No offset": a buffer that is not placed in the arena.
inline constexpr std::uint64_t no_offset = std::numeric_limits<std::uint64_t>::max();
//! "No buffer": a buffer that is no part of another.
inline constexpr buffer_id no_buffer = std::numeric_limits<buffer_id>::max();

//! One buffer: its size, where it sits in the arena, and whether it lives outside it.
struct buffer_info {
  std::uint64_t bytes = 0;
  std::uint64_t offset = no_offset;  //!< byte offset in the arena; no_offset when not placed (or pinned)
  bool pinned = false;               //!< outside the arena (weights, inputs, outputs): never shares bytes
  buffer_id part_of = no_buffer;     //!< the parent of a part (a slice no other part touches): a part
                                     //!< has its parent's bytes, offset and pinning
  std::string name;                  //!< for messages; "b<id>" when empty
};

//! One operator's access to one buffer.
struct buffer_access {
  buffer_id buffer = 0;
  bool write = false;  //!< writes (or reads and writes) the buffer
};

//! The buffers of a graph and every operator's accesses (CSR, indexed by node id).
struct memory_map {
  std::vector<buffer_info> buffers;
  std::vector<std::uint32_t> access_begin;  //!< size num_nodes+1
  std::vector<buffer_access> accesses;      //!< per operator, sorted by buffer, one entry per buffer

  [[nodiscard]] std::size_t num_nodes() const noexcept { return access_begin.empty() ? 0 : access_begin.size() - 1; }
  [[nodiscard]] std::size_t num_buffers() const noexcept { return buffers.size(); }
  //! What operator v reads and writes.
  [[nodiscard]] std::span<const buffer_access> accesses_of(node_id v) const noexcept {
    return {accesses.data() + access_begin[v], accesses.data() + access_begin[v + 1]};
  }
  //! True when every buffer that is not pinned has an arena offset (an engine's own arena).
  [[nodiscard]] bool placed() const noexcept {
    return std::all_of(buffers.begin(), buffers.end(), [](const buffer_info& b) { return b.pinned || b.offset != no_offset; });
  }
  //! The arena's size: the end of the highest placed buffer (0 when none is placed).
  [[nodiscard]] std::uint64_t arena_bytes() const noexcept {
    std::uint64_t end = 0;
    for (const buffer_info& b : buffers)
      if (!b.pinned && b.offset != no_offset) end = std::max(end, b.offset + b.bytes);
    return end;
  }
  //! The buffer whose bytes b uses: its parent for a part, else b.
  [[nodiscard]] buffer_id root(buffer_id b) const noexcept { return buffers[b].part_of == no_buffer ? b : buffers[b].part_of; }
  //! True when accesses to a and b may conflict: anything but two different parts of one parent.
  [[nodiscard]] bool may_conflict(buffer_id a, buffer_id b) const noexcept {
    return a == b || buffers[a].part_of == no_buffer || buffers[a].part_of != buffers[b].part_of;
  }
  //! Name of buffer b for messages.
  [[nodiscard]] std::string buffer_name(buffer_id b) const {
    if (b < buffers.size() && !buffers[b].name.empty()) return buffers[b].name;
    std::string s = "b";
    s += std::to_string(b);
    return s;
  }
};

namespace detail {

//! Checks a memory map's shape against a graph of n operators; throws bad_graph naming `who`.
inline void check_memory_map(const memory_map& m, std::size_t n, const char* who) {
  auto fail = [&](const std::string& what) { throw bad_graph(std::string("opara: ") + who + ": " + what); };
  if (m.access_begin.size() != n + 1)
    fail("the memory map describes " + std::to_string(m.num_nodes()) + " operators, the graph has " + std::to_string(n));
  if (m.access_begin.front() != 0 || m.access_begin.back() != m.accesses.size())
    fail("the memory map's access offsets do not span its accesses");
  for (std::size_t v = 0; v < n; ++v) {
    if (m.access_begin[v] > m.access_begin[v + 1]) fail("the memory map's access offsets decrease at operator " + std::to_string(v));
    for (std::uint32_t i = m.access_begin[v]; i < m.access_begin[v + 1]; ++i) {
      const buffer_id b = m.accesses[i].buffer;
      if (b >= m.buffers.size())
        fail("operator " + std::to_string(v) + " accesses unknown buffer " + std::to_string(b) + " (there are " +
             std::to_string(m.buffers.size()) + " buffers)");
      if (i > m.access_begin[v] && m.accesses[i - 1].buffer >= b)
        fail("operator " + std::to_string(v) + "'s accesses are not sorted by buffer, one entry each");
    }
  }
  for (buffer_id b = 0; b < m.buffers.size(); ++b) {
    const buffer_info& info = m.buffers[b];
    if (info.part_of != no_buffer) {
      if (info.part_of >= m.buffers.size())
        fail("buffer " + m.buffer_name(b) + " is a part of unknown buffer " + std::to_string(info.part_of));
      const buffer_info& parent = m.buffers[info.part_of];
      if (info.part_of == b || parent.part_of != no_buffer)
        fail("buffer " + m.buffer_name(b) + " is a part of " + m.buffer_name(info.part_of) +
             ", which is itself a part (parts are one level deep)");
      if (info.bytes != parent.bytes || info.offset != parent.offset || info.pinned != parent.pinned)
        fail("part " + m.buffer_name(b) + " does not have its parent " + m.buffer_name(info.part_of) +
             "'s bytes, offset and pinning");
    }
    if (info.bytes == 0) fail("buffer " + m.buffer_name(b) + " has no bytes");
    if (!info.pinned && info.offset != no_offset && info.offset > no_offset - 1 - info.bytes)
      fail("buffer " + m.buffer_name(b) + " ends past 2^64 bytes (offset " + std::to_string(info.offset) + ", " +
           std::to_string(info.bytes) + " bytes)");
  }
}

template <class R>
void add_buffer_ids(const R& range, bool write, std::size_t num_buffers, node_id v, std::vector<buffer_access>& out) {
  for (auto&& raw : range) {
    const auto b = static_cast<std::uint64_t>(raw);
    if constexpr (std::is_signed_v<std::remove_cvref_t<decltype(raw)>>)
      if (raw < 0) throw bad_graph("opara: operator " + std::to_string(v) + " accesses buffer " + std::to_string(raw) + ", a negative id");
    if (b >= num_buffers)
      throw bad_graph("opara: operator " + std::to_string(v) + " accesses unknown buffer " + std::to_string(b) +
                      " (the graph has " + std::to_string(num_buffers) + " buffers)");
    out.push_back({static_cast<buffer_id>(b), write});
  }
}

} // namespace detail

//! The memory map of a tensor_graph: buffers with sizes, offsets (arena_graph), pinning and names,
//! parts, and each operator's accesses (an operator that reads and writes a buffer writes it).
//! Throws bad_graph for an unknown or negative buffer id, a buffer of 0 bytes, an offset past 2^64,
//! a part of a part.
template <tensor_graph G>
[[nodiscard]] memory_map memory_of(const G& g) {
  using T = memory_traits<G>;
  const std::size_t n = graph_traits<G>::num_nodes(g);
  const std::size_t nb = T::num_buffers(g);
  if (nb >= std::numeric_limits<buffer_id>::max())
    throw bad_graph("opara: the graph declares " + std::to_string(nb) + " buffers, more than a 32-bit buffer id holds");
  memory_map m;
  m.buffers.resize(nb);
  for (buffer_id b = 0; b < nb; ++b) {
    buffer_info& info = m.buffers[b];
    info.bytes = T::buffer_bytes(g, b);
    if constexpr (arena_graph<G>) info.offset = T::buffer_offset(g, b);
    if constexpr (pinning_tensor_graph<G>) info.pinned = T::buffer_pinned(g, b);
    if constexpr (named_tensor_graph<G>) info.name = T::buffer_name(g, b);
    if constexpr (partitioned_tensor_graph<G>) {
      const std::size_t parent = T::buffer_part_of(g, b);
      if (parent >= nb)
        throw bad_graph("opara: buffer " + m.buffer_name(b) + " is a part of unknown buffer " + std::to_string(parent) +
                        " (the graph has " + std::to_string(nb) + " buffers)");
      if (parent != b) info.part_of = static_cast<buffer_id>(parent);
    }
    if (info.pinned) info.offset = no_offset;
  }
  for (buffer_info& info : m.buffers)  // a part takes its parent's bytes, offset and pinning
    if (info.part_of != no_buffer && m.buffers[info.part_of].part_of == no_buffer) {
      const buffer_info& parent = m.buffers[info.part_of];
      info.bytes = parent.bytes;
      info.offset = parent.offset;
      info.pinned = parent.pinned;
    }
  m.access_begin.reserve(n + 1);
  m.access_begin.push_back(0);
  std::vector<buffer_access> mine;
  for (node_id v = 0; v < n; ++v) {
    mine.clear();
    detail::add_buffer_ids(T::reads(g, v), false, nb, v, mine);
    detail::add_buffer_ids(T::writes(g, v), true, nb, v, mine);
    std::sort(mine.begin(), mine.end(), [](const buffer_access& a, const buffer_access& b) {
      return a.buffer != b.buffer ? a.buffer < b.buffer : a.write > b.write;  // a write first
    });
    // One entry per buffer: a read and a write of the same buffer is a write.
    mine.erase(std::unique(mine.begin(), mine.end(), [](const buffer_access& a, const buffer_access& b) { return a.buffer == b.buffer; }),
               mine.end());
    m.accesses.insert(m.accesses.end(), mine.begin(), mine.end());
    if (m.accesses.size() >= std::numeric_limits<std::uint32_t>::max())
      throw bad_graph("opara: the graph declares more than 2^32 buffer accesses");
    m.access_begin.push_back(static_cast<std::uint32_t>(m.accesses.size()));
  }
  detail::check_memory_map(m, n, "memory_of");
  return m;
}

} // namespace opara
