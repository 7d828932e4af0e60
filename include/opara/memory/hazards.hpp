#pragma once
//! Memory hazards: what an engine's buffer reuse requires of a plan, and the proof that a plan
//! meets it.
//!
//! An engine that plans its arena for its sequential program order lets two buffers share bytes
//! when one is dead before the other is written *in that order*. On several streams that order is
//! gone: a consumer on one stream may still read bytes that a producer on another stream, launched
//! later, already overwrites. memory_orderings lists the orderings the memory needs: for every two
//! operators whose byte ranges overlap, one writing, the one that comes first in the reference
//! order must happen before the other. It keeps only what the others do not already imply: along
//! each byte, each write after the previous write and after the reads since it, each read after the
//! previous write (a shadow memory over the arena, as race detectors keep). A plan that honours all
//! of them orders every conflicting pair: along a byte, any two conflicting accesses are linked by a
//! chain of listed orderings.
//!
//! check_memory(p, g, m) proves a plan race-free on the memory map (throws invalid_plan naming the
//! two operators and their buffers); make_plan adds the orderings as dependencies for an
//! arena_graph, so that every plan of every policy honours them (compose/make_plan.hpp).

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/memory/map.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/validate.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! Two accesses that must happen in this order: `before` (touching `before_buffer`) happens before
//! `after` (touching `after_buffer`), and their byte ranges overlap, one of them writing.
struct memory_ordering {
  node_id before = no_node;
  node_id after = no_node;
  buffer_id before_buffer = 0;
  buffer_id after_buffer = 0;
  bool before_writes = false;
  bool after_writes = false;
};

namespace detail {

//! A race detector's shadow memory: per range of bytes, the last writes and the reads since. The
//! arena's ranges are [start, next start) entries of an ordered map, cut where an access begins or
//! ends; a write makes the ranges it covers one again, so they stay about as few as the buffers
//! live at once. Writes and reads are kept as lists that share their tails, so cutting a range
//! copies no list. A pinned or unplaced buffer is a range of its own (shared with its parts). The
//! last writes are several only where different parts of one parent wrote their slices.
class shadow_memory {
public:
  explicit shadow_memory(const memory_map& m) : m_(m), own_(m.num_buffers()) { arena_.emplace(0, cell{}); }

  //! Calls emit(u, u's buffer, u writes) for the accesses v's access to b must follow: the last
  //! writes of each byte, and for a write also the reads since. Then records the access.
  //! A read whose bytes were last written for another buffer calls clobbered(writer, its buffer).
  template <class Emit, class Clobbered>
  void access(node_id v, buffer_id b, bool write, Emit&& emit, Clobbered&& clobbered) {
    const buffer_id root = m_.root(b);
    const buffer_info& info = m_.buffers[root];
    auto visit = [&](cell& c) {
      for (std::uint32_t w = c.writes; w != no_node; w = list_[w].next) {
        if (list_[w].op != v && m_.may_conflict(list_[w].buffer, b)) emit(list_[w].op, list_[w].buffer, true);
        if (!write && list_[w].op != v && m_.root(list_[w].buffer) != root) clobbered(list_[w].op, list_[w].buffer);
      }
      if (write) {
        for (std::uint32_t r = c.reads; r != no_node; r = list_[r].next)
          if (list_[r].op != v && m_.may_conflict(list_[r].buffer, b)) emit(list_[r].op, list_[r].buffer, false);
        // What stays: other parts' writes and reads (their slices are untouched), then this write.
        c.writes = keep_apart(c.writes, b);
        c.reads = keep_apart(c.reads, b);
        c.writes = push(v, b, c.writes);
      } else if (c.reads == no_node || list_[c.reads].op != v || list_[c.reads].buffer != b) {
        c.reads = push(v, b, c.reads);
      }
    };
    if (info.pinned || info.offset == no_offset) {
      visit(own_[root]);
      return;
    }
    auto first = split(info.offset);
    auto last = split(info.offset + info.bytes);
    for (auto it = first; it != last; ++it) visit(it->second);
    if (write && m_.buffers[b].part_of == no_buffer && first != last)
      arena_.erase(std::next(first), last);  // a whole write: all alike now, one range
  }

private:
  struct cell {
    std::uint32_t writes = no_node;  // the last writes (a list through list_)
    std::uint32_t reads = no_node;   // the reads since
  };
  struct entry {
    node_id op;
    buffer_id buffer;
    std::uint32_t next;  // the entry before it, or no_node
  };
  std::uint32_t push(node_id v, buffer_id b, std::uint32_t next) {
    list_.push_back({v, b, next});
    return static_cast<std::uint32_t>(list_.size() - 1);
  }
  //! The entries of `head` that b's write leaves standing: those of other parts of b's parent.
  std::uint32_t keep_apart(std::uint32_t head, buffer_id b) {
    if (m_.buffers[b].part_of == no_buffer) return no_node;
    std::uint32_t out = no_node;
    for (std::uint32_t e = head; e != no_node; e = list_[e].next)
      if (!m_.may_conflict(list_[e].buffer, b)) out = push(list_[e].op, list_[e].buffer, out);
    return out;
  }
  std::map<std::uint64_t, cell>::iterator split(std::uint64_t at) {
    auto it = std::prev(arena_.upper_bound(at));  // the range holding `at` (the first starts at 0)
    if (it->first == at) return it;
    return arena_.emplace_hint(std::next(it), at, it->second);
  }
  const memory_map& m_;
  std::map<std::uint64_t, cell> arena_;
  std::vector<cell> own_;
  std::vector<entry> list_;
};

} // namespace detail

//! The orderings the memory of `m` requires, for accesses made in `reference_order` (the order the
//! engine's arena was planned for; usually the graph's program order, g.topological_order()).
//! Buffers with an arena offset share one address space; a pinned or unplaced buffer is its own;
//! a part uses its parent's bytes, and different parts of one parent never conflict.
//! Grouped by `after`, in reference order; one entry per pair of operators. Cost O((A + R) log A +
//! orderings) for A accesses, where R counts each access once per range it covers (writes merge
//! the ranges they cover, so about A for an arena's buffers).
//! With `clobbers`, also lists the reads that the arena breaks in that order: a read of buffer b
//! whose bytes were last written for another buffer (the arena gives two buffers that are live at
//! once the same bytes), as (that writer, the reader) pairs.
[[nodiscard]] inline std::vector<memory_ordering> memory_orderings(const memory_map& m,
                                                                   std::span<const node_id> reference_order,
                                                                   std::vector<memory_ordering>* clobbers = nullptr) {
  const std::size_t n = m.num_nodes();
  if (reference_order.size() != n)
    throw bad_policy("opara: memory_orderings: the reference order has " + std::to_string(reference_order.size()) +
                     " operators, the memory map " + std::to_string(n));
  std::vector<memory_ordering> out;
  detail::shadow_memory shadow(m);
  std::vector<char> seen(n, 0);
  std::vector<node_id> met(n, no_node);  // met[u] == v: (u, v) already listed
  for (node_id v : reference_order) {
    if (v >= n || seen[v]) throw bad_policy("opara: memory_orderings: the reference order is not a permutation of the operators");
    seen[v] = 1;
    // Reads first, then writes: an operator that reads one buffer and writes an overlapping one
    // (in place) needs no ordering with itself.
    for (int pass = 0; pass < 2; ++pass)
      for (const buffer_access& a : m.accesses_of(v)) {
        if (a.write != (pass == 1)) continue;
        shadow.access(
            v, a.buffer, a.write,
            [&](node_id u, buffer_id ub, bool u_writes) {
              if (met[u] == v) return;
              met[u] = v;
              out.push_back({u, v, ub, a.buffer, u_writes, a.write});
            },
            [&](node_id u, buffer_id ub) {
              if (clobbers && (clobbers->empty() || clobbers->back().after != v || clobbers->back().before != u))
                clobbers->push_back({u, v, ub, a.buffer, true, false});
            });
      }
  }
  return out;
}

//! g with the orderings added as edges (those it does not already have), keeping its names.
[[nodiscard]] inline graph with_orderings(const graph& g, std::span<const memory_ordering> orderings) {
  graph_builder b;
  const std::size_t n = g.num_nodes();
  b.reserve(n, g.num_edges() + orderings.size());
  for (node_id v = 0; v < n; ++v) b.add_node(g.unnamed() ? std::string() : g.name(v));
  for (node_id v = 0; v < n; ++v)
    for (node_id s : g.successors(v)) b.add_edge(v, s);
  for (const memory_ordering& o : orderings) b.add_edge(o.before, o.after);
  return b.build();
}

namespace detail {

inline std::string describe_access(const graph& g, const memory_map& m, node_id v, buffer_id b, bool write) {
  std::string s(1, '\'');
  s += g.name(v);
  s += write ? "' (writes '" : "' (reads '";
  s += m.buffer_name(b);
  s += '\'';
  const buffer_info& info = m.buffers[b];
  if (!info.pinned && info.offset != no_offset)
    s += ", bytes " + std::to_string(info.offset) + ".." + std::to_string(info.offset + info.bytes);
  s += ')';
  return s;
}

} // namespace detail

//! Throws opara::invalid_plan unless the arena is right in `reference_order` (no read finds its
//! bytes last written for another buffer) and plan `p` for g orders every two operators whose
//! buffers share bytes (one of them writing) as `reference_order` does: the earlier one happens
//! before the later one through stream order and waits, not merely by launch order. The message names both
//! operators, their buffers and the bytes. The plan's shape and dependencies are checked first
//! (validate). Cost O(n + e + waits + orderings), plus memory_orderings.
inline void check_memory(const plan& p, const graph& g, const memory_map& m, std::span<const node_id> reference_order) {
  detail::check_memory_map(m, g.num_nodes(), "check_memory");
  validate(p, g);
  std::vector<memory_ordering> clobbers;
  const auto orderings = memory_orderings(m, reference_order, &clobbers);
  if (!clobbers.empty()) {
    const memory_ordering& c = clobbers.front();
    throw invalid_plan("opara: check_memory: the arena is wrong in the reference order, whatever the plan: " +
                       detail::describe_access(g, m, c.before, c.before_buffer, true) + " overwrites bytes that " +
                       detail::describe_access(g, m, c.after, c.after_buffer, false) +
                       " still reads (the two buffers are live at once there; plan the arena for that order, or pass "
                       "the order it was planned for)");
  }
  const auto pos = detail::plan_shape_positions(p, g.num_nodes(), "check_memory");
  auto race = [&](const memory_ordering& o, const std::string& why) {
    throw invalid_plan("opara: check_memory: the plan races on shared memory: " +
                       detail::describe_access(g, m, o.before, o.before_buffer, o.before_writes) + " and " +
                       detail::describe_access(g, m, o.after, o.after_buffer, o.after_writes) + " overlap, " + why);
  };
  std::vector<std::pair<node_id, node_id>> required;
  required.reserve(orderings.size());
  for (const memory_ordering& o : orderings) {
    if (pos[o.before] > pos[o.after])
      race(o, "and the plan launches the second before the first (the engine's order has them the other way)");
    required.emplace_back(o.after, o.before);
  }
  if (const std::size_t i = detail::first_unhonoured(p, pos, required); i < required.size())
    race(orderings[i], "and nothing orders them: '" + g.name(orderings[i].after) + "' (stream " +
                           std::to_string(p.stream_of[orderings[i].after]) + ") neither follows '" +
                           g.name(orderings[i].before) + "' (stream " + std::to_string(p.stream_of[orderings[i].before]) +
                           ") on one stream nor waits for it through events");
}

//! check_memory with the graph's program order (g.topological_order()) as the reference: the
//! order an engine's sequential arena is planned for. An arena that plan_arena placed for plan p
//! is right in p's order: check it with check_memory(p, g, m, p.order).
inline void check_memory(const plan& p, const graph& g, const memory_map& m) {
  check_memory(p, g, m, g.topological_order());
}

//! check_memory for any tensor_graph (converted with to_graph and memory_of).
template <tensor_graph G>
  requires(!std::same_as<G, graph>)
void check_memory(const plan& p, const G& g) {
  check_memory(p, to_graph(g), memory_of(g));
}

} // namespace opara
