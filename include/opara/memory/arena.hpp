#pragma once
//! opara plans the arena: offsets for every intermediate buffer such that two buffers share bytes
//! only if one's last use happens before the other's first access *under the plan* (stream order
//! plus waits), not merely in launch order. Liveness comes from the plan's partial order, so a
//! parallel plan gets an arena that is race-free on its own streams; check_memory proves it.
//!
//!   const opara::memory_map m = opara::memory_of(engine);       // buffers, reads, writes
//!   const opara::plan p = opara::make_plan(engine);
//!   const opara::arena a = opara::plan_arena(p, opara::to_graph(engine), m);
//!   // a.offset[b]: where buffer b lives; a.bytes: the arena's size
//!
//! How: happens-before as vector clocks over the plan's streams (at most max_tracked_streams of
//! them, the busiest; a buffer touched on another stream gets bytes of its own); the conflict
//! graph (pairs of buffers that may be live at once) from a sweep in launch order that keeps, per
//! stream, the buffers not yet dead there (a buffer dead at an operator is dead at every later one
//! on its stream), so its cost is the conflicts it finds plus O(buffers x streams); then offsets
//! greedy (TFLite's and TVM's greedy by size, and largest "size x bytes it conflicts with" first;
//! the smaller arena is kept): each buffer into the tightest gap its placed conflicts leave. Pinned buffers (weights, inputs, outputs) are never placed.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/memory/map.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/waits.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! How plan_arena places buffers.
struct arena_options {
  std::uint64_t alignment = 256;  //!< every offset is a multiple of it (a power of two; cudaMalloc's is 256)
};

//! Offsets for a memory map's buffers: a plan's arena.
struct arena {
  std::vector<std::uint64_t> offset;  //!< per buffer; no_offset for pinned buffers
  std::uint64_t bytes = 0;            //!< the arena's size: the end of its highest buffer
  std::size_t conflicts = 0;          //!< pairs of buffers the plan may keep live at once (a pair found
                                      //!< at two entries of a buffer counts twice)
  std::size_t unshared = 0;           //!< buffers given bytes of their own: touched on a stream whose
                                      //!< happens-before is not tracked, or past max_conflict_pairs
};

//! Plans with more streams than this track happens-before for the busiest of them only.
inline constexpr std::uint32_t max_tracked_streams = 64;

namespace detail {

//! Happens-before of a plan's operators, as vector clocks over (at most max_tracked_streams of)
//! its streams: clock(v)[t] = how many operators of stream t happen before v or are v.
class plan_clocks {
public:
  explicit plan_clocks(const plan& p)
      : stream_of_(p.stream_of), layout_(p.order, p.stream_of, p.num_streams), slot_(p.num_streams, no_node) {
    const std::size_t n = p.num_nodes();
    std::vector<std::uint32_t> ops(p.num_streams, 0);
    for (stream_id s : p.stream_of) ++ops[s];
    std::vector<stream_id> busiest(p.num_streams);
    std::iota(busiest.begin(), busiest.end(), stream_id{0});
    std::stable_sort(busiest.begin(), busiest.end(), [&](stream_id a, stream_id b) { return ops[a] > ops[b]; });
    k_ = std::min<std::uint32_t>(p.num_streams, max_tracked_streams);
    for (std::uint32_t i = 0; i < k_; ++i) slot_[busiest[i]] = i;
    clock_.assign(n * k_, 0);
    on_stream_.resize(p.num_streams);
    for (node_id v : p.order) {
      on_stream_[p.stream_of[v]].push_back(v);
      std::uint32_t* c = clock_.data() + std::size_t{v} * k_;
      if (const node_id before = layout_.before[v]; before != no_node) merge(c, before);
      for (node_id u : p.waits_of(v)) merge(c, u);
      if (const std::uint32_t s = slot_[p.stream_of[v]]; s != no_node) c[s] = layout_.index[v] + 1;
    }
  }

  //! True when happens-before is known for operators of v's stream.
  [[nodiscard]] bool tracked(node_id v) const noexcept { return slot_[stream_of_[v]] != no_node; }
  //! True when u happens before v (u != v; u's stream tracked, or u and v on one stream).
  [[nodiscard]] bool before(node_id u, node_id v) const noexcept {
    if (stream_of_[u] == stream_of_[v]) return layout_.index[u] < layout_.index[v];
    const std::uint32_t s = slot_[stream_of_[u]];
    return s != no_node && clock_[std::size_t{v} * k_ + s] > layout_.index[u];
  }
  //! The operators of stream t in launch order.
  [[nodiscard]] std::span<const node_id> stream(stream_id t) const noexcept { return on_stream_[t]; }
  [[nodiscard]] std::uint32_t index(node_id v) const noexcept { return layout_.index[v]; }
  [[nodiscard]] std::uint32_t slot(stream_id t) const noexcept { return slot_[t]; }
  //! How many operators of tracked stream slot s happen before v or are v.
  [[nodiscard]] std::uint32_t clock(node_id v, std::uint32_t s) const noexcept { return clock_[std::size_t{v} * k_ + s]; }
  [[nodiscard]] std::uint32_t tracked_streams() const noexcept { return k_; }

private:
  void merge(std::uint32_t* c, node_id u) const {
    const std::uint32_t* o = clock_.data() + std::size_t{u} * k_;
    for (std::uint32_t i = 0; i < k_; ++i) c[i] = std::max(c[i], o[i]);
  }
  std::span<const stream_id> stream_of_;
  stream_layout layout_;
  std::vector<std::uint32_t> slot_;
  std::uint32_t k_ = 0;
  std::vector<std::uint32_t> clock_;
  std::vector<std::vector<node_id>> on_stream_;
};

//! Each buffer's accessors, and the few of them that decide its liveness: its entries (one, when
//! its first accessor happens before all the others) and exits (one, when all others happen
//! before its last). A buffer is dead before another when every exit of the one happens before
//! every entry of the other.
struct buffer_lives {
  std::vector<std::uint32_t> begin;  // CSR by buffer into `ops`: accessors by launch position
  std::vector<node_id> ops;
  std::vector<char> one_entry, one_exit, shareable;

  buffer_lives(const memory_map& m, std::span<const std::uint32_t> pos, const plan_clocks& hb) {
    const std::size_t nb = m.num_buffers();
    // Accesses to a part count as accesses to its parent (the buffer that has the bytes).
    std::vector<std::uint32_t> raw_begin(nb + 1, 0);
    for (const buffer_access& a : m.accesses) ++raw_begin[m.root(a.buffer) + 1];
    for (std::size_t b = 0; b < nb; ++b) raw_begin[b + 1] += raw_begin[b];
    std::vector<node_id> raw(m.accesses.size());
    std::vector<std::uint32_t> fill(raw_begin.begin(), raw_begin.end() - 1);
    for (node_id v = 0; v < m.num_nodes(); ++v)
      for (const buffer_access& a : m.accesses_of(v)) raw[fill[m.root(a.buffer)]++] = v;
    begin.assign(nb + 1, 0);
    ops.reserve(raw.size());
    for (buffer_id b = 0; b < nb; ++b) {  // by launch position, each operator once
      const auto first = raw.begin() + raw_begin[b], last = raw.begin() + raw_begin[b + 1];
      std::sort(first, last, [&](node_id x, node_id y) { return pos[x] < pos[y]; });
      ops.insert(ops.end(), first, std::unique(first, last));
      begin[b + 1] = static_cast<std::uint32_t>(ops.size());
    }
    one_entry.assign(nb, 0);
    one_exit.assign(nb, 0);
    shareable.assign(nb, 0);
    for (buffer_id b = 0; b < nb; ++b) {
      const auto acc = std::span<node_id>(ops).subspan(begin[b], begin[b + 1] - begin[b]);
      if (m.buffers[b].pinned || acc.empty()) continue;
      shareable[b] = std::all_of(acc.begin(), acc.end(), [&](node_id x) { return hb.tracked(x); });
      one_entry[b] = std::all_of(acc.begin() + 1, acc.end(), [&](node_id x) { return hb.before(acc.front(), x); });
      one_exit[b] = std::all_of(acc.begin(), acc.end() - 1, [&](node_id x) { return hb.before(x, acc.back()); });
    }
  }
  [[nodiscard]] std::span<const node_id> accessors(buffer_id b) const noexcept {
    return {ops.data() + begin[b], ops.data() + begin[b + 1]};
  }
  [[nodiscard]] std::span<const node_id> entries(buffer_id b) const noexcept {
    const auto a = accessors(b);
    return one_entry[b] ? a.first(1) : a;
  }
  [[nodiscard]] std::span<const node_id> exits(buffer_id b) const noexcept {
    const auto a = accessors(b);
    return one_exit[b] ? a.last(1) : a;
  }
};

//! Pairs of shareable buffers the plan may keep live at once, as adjacency lists.
struct conflict_graph {
  std::vector<std::uint32_t> begin;
  std::vector<buffer_id> adj;
  std::size_t pairs = 0;
  [[nodiscard]] std::span<const buffer_id> of(buffer_id b) const noexcept {
    return {adj.data() + begin[b], adj.data() + begin[b + 1]};
  }
};

//! The most conflict pairs plan_arena lists for nb buffers; past it the buffers left get bytes of
//! their own (a plan that keeps nearly every buffer live at once, such as a fan-out of 10^5
//! branches joined at the end, gains nothing from reuse and would list 10^10 pairs).
[[nodiscard]] inline std::size_t max_conflict_pairs(std::size_t nb) noexcept { return 8 * nb + (std::size_t{1} << 16); }

//! The conflict graph of the shareable buffers, from a sweep over their entries in launch order:
//! at each entry y of b, the buffers not yet dead on y's stream are b's conflicts (a buffer dead at
//! y is dead at every later operator of y's stream, so it leaves that stream's list); b joins
//! every list at its first entry. A buffer with pending entries when the pair limit is hit, or
//! not yet reached, is marked in `own` (bytes of its own) and its conflicts are not used.
inline conflict_graph conflicts_of(const memory_map& m, const plan& p, std::span<const std::uint32_t> pos,
                                   const plan_clocks& hb, const buffer_lives& lives, std::vector<char>& own) {
  const std::size_t nb = m.num_buffers();
  own.assign(nb, 0);
  struct entry_event {
    std::uint32_t pos;
    buffer_id b;
    node_id y;
  };
  std::vector<entry_event> events;
  std::vector<std::uint32_t> pending(nb, 0);  // entries not yet swept
  for (buffer_id b = 0; b < nb; ++b)
    if (lives.shareable[b])
      for (node_id y : lives.entries(b)) {
        events.push_back({pos[y], b, y});
        ++pending[b];
      }
  std::sort(events.begin(), events.end(), [](const entry_event& x, const entry_event& y) {
    return x.pos != y.pos ? x.pos < y.pos : x.b < y.b;
  });
  std::vector<std::vector<buffer_id>> alive(hb.tracked_streams());  // per tracked stream: not yet dead there
  std::vector<char> joined(nb, 0);
  std::vector<std::pair<buffer_id, buffer_id>> pairs;  // (a, b): b's entry found a alive; a buffer
                                                       // with several entries may list a pair twice
  std::vector<buffer_id> met(nb, no_buffer);           // met[a] == b: (a, b) listed at this entry
  auto dead_at = [&](buffer_id a, node_id y) {
    for (node_id x : lives.exits(a))
      if (x == y || !hb.before(x, y)) return false;
    return true;
  };
  const std::size_t limit = max_conflict_pairs(nb);
  for (const entry_event& e : events) {
    if (pairs.size() > limit) {  // stop: what is not fully swept gets bytes of its own
      for (buffer_id b = 0; b < nb; ++b)
        if (lives.shareable[b] && pending[b] > 0) own[b] = 1;
      break;
    }
    std::vector<buffer_id>& list = alive[hb.slot(p.stream_of[e.y])];
    for (std::size_t i = 0; i < list.size();) {
      const buffer_id a = list[i];
      if (a != e.b && dead_at(a, e.y)) {  // dead at y: dead at every later operator of y's stream
        list[i] = list.back();
        list.pop_back();
        continue;
      }
      if (a != e.b && met[a] != e.b) {
        met[a] = e.b;
        pairs.emplace_back(a, e.b);
      }
      ++i;
    }
    if (!joined[e.b]) {
      joined[e.b] = 1;
      for (auto& l : alive) l.push_back(e.b);
    }
    --pending[e.b];
  }
  // A repeated pair only repeats an interval when placing: no need to sort them away.
  pairs.erase(std::remove_if(pairs.begin(), pairs.end(), [&](const auto& x) { return own[x.first] || own[x.second]; }),
              pairs.end());
  conflict_graph c;
  c.pairs = pairs.size();
  c.begin.assign(nb + 1, 0);
  for (auto [a, b] : pairs) {
    ++c.begin[a + 1];
    ++c.begin[b + 1];
  }
  for (std::size_t b = 0; b < nb; ++b) c.begin[b + 1] += c.begin[b];
  c.adj.resize(2 * pairs.size());
  std::vector<std::uint32_t> fill(c.begin.begin(), c.begin.end() - 1);
  for (auto [a, b] : pairs) {
    c.adj[fill[a]++] = b;
    c.adj[fill[b]++] = a;
  }
  return c;
}

inline std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

inline void check_alignment(const arena_options& o, const char* who) {
  if (o.alignment == 0 || (o.alignment & (o.alignment - 1)) != 0)
    throw bad_policy(std::string("opara: ") + who + ": arena alignment must be a power of two (got " +
                     std::to_string(o.alignment) + ")");
}

//! The lowest offset (aligned) where `bytes` fit between `busy` intervals, tightest gap first:
//! the smallest gap that holds it, else the end of the highest.
inline std::uint64_t best_fit(std::vector<std::pair<std::uint64_t, std::uint64_t>>& busy, std::uint64_t bytes,
                              std::uint64_t alignment) {
  std::sort(busy.begin(), busy.end());
  std::uint64_t at = 0, best = no_offset, best_gap = no_offset;
  for (auto [s, e] : busy) {
    if (s > at && s - at >= bytes && s - at < best_gap) {
      best = at;
      best_gap = s - at;
    }
    at = std::max(at, align_up(e, alignment));
  }
  return best != no_offset ? best : at;
}

//! Places `order`'s buffers one by one into the tightest gap their placed neighbours leave.
//! Fills `offset` (no_offset = not placed yet); returns the highest end.
inline std::uint64_t place_in_order(const memory_map& m, const conflict_graph& c, std::span<const buffer_id> order,
                                    std::vector<std::uint64_t>& offset, std::uint64_t alignment) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy;
  std::uint64_t top = 0;
  for (buffer_id b : order) {
    busy.clear();
    for (buffer_id a : c.of(b))
      if (offset[a] != no_offset) busy.emplace_back(offset[a], offset[a] + m.buffers[a].bytes);
    offset[b] = best_fit(busy, m.buffers[b].bytes, alignment);
    top = std::max(top, offset[b] + m.buffers[b].bytes);
  }
  return top;
}

//! Greedy placement over a conflict graph in two orders, keeping the smaller arena: largest
//! buffer first (TFLite's and TVM's greedy by size), and largest "size x conflicts" first (the
//! buffers that constrain most, first). Fills offset for the buffers in `which`.
inline std::uint64_t place_by_size(const memory_map& m, const conflict_graph& c, std::span<const buffer_id> which,
                                   std::vector<std::uint64_t>& offset, std::uint64_t alignment) {
  std::vector<buffer_id> order(which.begin(), which.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](buffer_id a, buffer_id b) { return m.buffers[a].bytes > m.buffers[b].bytes; });
  std::vector<std::uint64_t> best = offset;
  const std::uint64_t by_size = place_in_order(m, c, order, best, alignment);
  auto weight = [&](buffer_id b) {
    std::uint64_t w = 0;
    for (buffer_id a : c.of(b)) w += m.buffers[a].bytes;
    return static_cast<double>(m.buffers[b].bytes) * static_cast<double>(w + m.buffers[b].bytes);
  };
  std::vector<double> key(m.num_buffers(), 0);
  for (buffer_id b : which) key[b] = weight(b);
  std::stable_sort(order.begin(), order.end(), [&](buffer_id a, buffer_id b) { return key[a] > key[b]; });
  const std::uint64_t by_pressure = place_in_order(m, c, order, offset, alignment);
  if (by_size <= by_pressure) {
    offset = std::move(best);
    return by_size;
  }
  return by_pressure;
}

} // namespace detail

//! The arena for plan `p` of g: an offset for every buffer of `m` that is not pinned, such that
//! two buffers share bytes only when every access of one happens before every access of the other
//! under the plan. Buffers a plan never touches get offset 0 (they share with anything). Throws
//! bad_graph for a memory map of another graph, bad_policy for an alignment that is not a power
//! of two, invalid_plan for a plan of another graph (its shape).
[[nodiscard]] inline arena plan_arena(const plan& p, const graph& g, const memory_map& m, arena_options o = {}) {
  detail::check_alignment(o, "plan_arena");
  detail::check_memory_map(m, g.num_nodes(), "plan_arena");
  const auto pos = detail::plan_shape_positions(p, g.num_nodes(), "plan_arena");
  const detail::plan_clocks hb(p);
  const detail::buffer_lives lives(m, pos, hb);
  std::vector<char> past_limit;
  const detail::conflict_graph c = detail::conflicts_of(m, p, pos, hb, lives, past_limit);
  arena a;
  a.offset.assign(m.num_buffers(), no_offset);
  a.conflicts = c.pairs;
  std::vector<buffer_id> shared, own;
  for (buffer_id b = 0; b < m.num_buffers(); ++b) {
    if (m.buffers[b].pinned || m.buffers[b].part_of != no_buffer) continue;  // parts: their parent's offset
    if (lives.accessors(b).empty()) a.offset[b] = 0;
    else (lives.shareable[b] && !past_limit[b] ? shared : own).push_back(b);
  }
  a.bytes = detail::place_by_size(m, c, shared, a.offset, o.alignment);
  for (buffer_id b : own) {  // on an untracked stream, or past the pair limit: bytes of its own
    a.offset[b] = detail::align_up(a.bytes, o.alignment);
    a.bytes = a.offset[b] + m.buffers[b].bytes;
  }
  for (buffer_id b = 0; b < m.num_buffers(); ++b) {
    if (m.buffers[b].pinned) continue;
    if (m.buffers[b].part_of != no_buffer) a.offset[b] = a.offset[m.buffers[b].part_of];
    else if (lives.accessors(b).empty()) a.bytes = std::max(a.bytes, m.buffers[b].bytes);
  }
  a.unshared = own.size();
  return a;
}

//! plan_arena for any tensor_graph (converted with to_graph and memory_of).
template <tensor_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] arena plan_arena(const plan& p, const G& g, arena_options o = {}) {
  return plan_arena(p, to_graph(g), memory_of(g), o);
}

//! `m` with the arena's offsets: the memory map a plan is then checked against (check_memory).
[[nodiscard]] inline memory_map with_arena(memory_map m, const arena& a) {
  if (a.offset.size() != m.num_buffers())
    throw bad_policy("opara: with_arena: the arena places " + std::to_string(a.offset.size()) + " buffers, the memory map has " +
                     std::to_string(m.num_buffers()));
  for (buffer_id b = 0; b < m.num_buffers(); ++b)
    if (!m.buffers[b].pinned) m.buffers[b].offset = a.offset[m.root(b)];  // a part: its parent's
  return m;
}

//! A lower bound on any arena for plan `p`: the most bytes of buffers that must be live at once,
//! at one operator v (a buffer is live at v when one of its entries happens before v, or is v,
//! and v happens before one of its accesses, or is it; buffers live at one operator pairwise
//! conflict, so no arena fits them in fewer bytes). Counted on the streams of each buffer's
//! accesses. Pinned buffers are not counted.
[[nodiscard]] inline std::uint64_t arena_lower_bound(const plan& p, const graph& g, const memory_map& m) {
  detail::check_memory_map(m, g.num_nodes(), "arena_lower_bound");
  const auto pos = detail::plan_shape_positions(p, g.num_nodes(), "arena_lower_bound");
  const detail::plan_clocks hb(p);
  const detail::buffer_lives lives(m, pos, hb);
  std::vector<std::vector<std::int64_t>> delta(p.num_streams);
  for (stream_id t = 0; t < p.num_streams; ++t) delta[t].assign(hb.stream(t).size() + 1, 0);
  std::vector<stream_id> streams;
  for (buffer_id b = 0; b < m.num_buffers(); ++b) {
    if (m.buffers[b].pinned || !lives.shareable[b]) continue;  // parts are counted in their parent
    streams.clear();
    for (node_id x : lives.accessors(b)) streams.push_back(p.stream_of[x]);
    std::sort(streams.begin(), streams.end());
    streams.erase(std::unique(streams.begin(), streams.end()), streams.end());
    for (stream_id t : streams) {
      const auto ops = hb.stream(t);
      const std::uint32_t st = hb.slot(t);
      std::uint32_t start = static_cast<std::uint32_t>(ops.size());
      for (node_id y : lives.entries(b)) {
        if (p.stream_of[y] == t) {
          start = std::min(start, hb.index(y));
          continue;
        }
        // The first operator of t that y happens before (clocks grow along a stream).
        const std::uint32_t sy = hb.slot(p.stream_of[y]);
        const auto it = std::partition_point(ops.begin(), ops.end(), [&](node_id v) { return hb.clock(v, sy) <= hb.index(y); });
        start = std::min(start, static_cast<std::uint32_t>(it - ops.begin()));
      }
      std::int64_t end = -1;  // the last operator of t that happens before an access, or is one
      for (node_id x : lives.accessors(b))
        end = std::max<std::int64_t>(end, p.stream_of[x] == t ? hb.index(x) : std::int64_t{hb.clock(x, st)} - 1);
      if (static_cast<std::int64_t>(start) <= end) {
        delta[t][start] += static_cast<std::int64_t>(m.buffers[b].bytes);
        delta[t][static_cast<std::size_t>(end) + 1] -= static_cast<std::int64_t>(m.buffers[b].bytes);
      }
    }
  }
  std::int64_t best = 0;
  for (const auto& d : delta) {
    std::int64_t run = 0;
    for (std::size_t i = 0; i + 1 < d.size(); ++i) best = std::max(best, run += d[i]);
  }
  return static_cast<std::uint64_t>(best);
}

} // namespace opara
