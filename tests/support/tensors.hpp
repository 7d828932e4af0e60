#pragma once
// A user's engine graph with buffers (a tensor_graph, an arena_graph when it has offsets), random
// ones built on the DAGs of dags.hpp, the engine's own sequential arena, and a brute-force oracle
// for memory races. Deterministic for a given seed.

#include <opara/graph/graph.hpp>
#include <opara/memory/map.hpp>
#include <opara/plan/plan.hpp>

#include "support/dags.hpp"
#include "support/plans.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace opara::test {

// An engine's operator list: successors, buffers read and written, and (optionally) offsets.
struct tensor_dag {
  std::vector<std::vector<node_id>> succ;
  std::vector<std::vector<buffer_id>> in, out;
  std::vector<std::uint64_t> bytes, offset;
  std::vector<char> pinned;

  std::size_t num_nodes() const { return succ.size(); }
  const std::vector<node_id>& successors(node_id v) const { return succ[v]; }
  std::size_t num_buffers() const { return bytes.size(); }
  std::uint64_t buffer_bytes(buffer_id b) const { return bytes[b]; }
  const std::vector<buffer_id>& reads(node_id v) const { return in[v]; }
  const std::vector<buffer_id>& writes(node_id v) const { return out[v]; }
  bool buffer_pinned(buffer_id b) const { return pinned[b] != 0; }
  std::string buffer_name(buffer_id b) const {  // piecewise: "t" + to_string trips GCC 12's -Wrestrict (PR105651)
    std::string s = "t";
    s += std::to_string(b);
    return s;
  }
};

// The same engine with its arena offsets (an arena_graph).
struct arena_dag : tensor_dag {
  std::uint64_t buffer_offset(buffer_id b) const { return offset[b]; }
};

// An engine whose buffers may be parts of others (a concatenation's slices).
struct concat_dag : tensor_dag {
  std::vector<buffer_id> parent;  // per buffer: its parent, or itself
  std::size_t buffer_part_of(buffer_id b) const { return parent[b]; }
};

// Inception-like layers: each layer's operators write slices (parts) of the layer's one output
// (a concatenation) and read the layer before's output whole; some operators are two-step branches
// (a head writing a buffer of its own that a tail reads). The first layer reads a pinned input;
// the last layer's output is pinned. Ids are in program order.
inline concat_dag concat_layers(rng_t& rng, std::uint32_t layers, std::uint32_t max_width, std::uint32_t max_bytes = 64) {
  concat_dag t;
  auto buffer = [&](std::uint64_t bytes, bool pinned, buffer_id parent) {
    t.bytes.push_back(bytes);
    t.pinned.push_back(pinned ? 1 : 0);
    const auto id = static_cast<buffer_id>(t.bytes.size() - 1);
    t.parent.push_back(parent == no_buffer ? id : parent);
    return id;
  };
  auto op = [&](std::vector<buffer_id> in, buffer_id out) {
    t.succ.emplace_back();
    t.in.push_back(std::move(in));
    t.out.push_back({out});
    return static_cast<node_id>(t.succ.size() - 1);
  };
  buffer_id input = buffer(uniform(rng, 1, max_bytes), true, no_buffer);
  std::vector<node_id> writers_before;  // operators that wrote `input`'s slices (none for the first)
  for (std::uint32_t l = 0; l < layers; ++l) {
    const bool last = l + 1 == layers;
    const std::uint32_t width = uniform(rng, 1, max_width);
    const buffer_id whole = buffer(uniform(rng, 1, max_bytes), last, no_buffer);
    std::vector<node_id> writers;
    for (std::uint32_t i = 0; i < width; ++i) {
      const buffer_id slice = width > 1 ? buffer(t.bytes[whole], last, whole) : whole;
      node_id head;
      if (uniform(rng, 0, 1)) {  // a two-step branch
        const buffer_id mid = buffer(uniform(rng, 1, max_bytes), false, no_buffer);
        head = op({input}, mid);
        const node_id tail = op({mid}, slice);
        t.succ[head].push_back(tail);
        writers.push_back(tail);
      } else {
        head = op({input}, slice);
        writers.push_back(head);
      }
      for (node_id w : writers_before) t.succ[w].push_back(head);
    }
    input = whole;
    writers_before = std::move(writers);
  }
  t.offset.assign(t.bytes.size(), 0);
  return t;
}

// Each operator of g (ids in program order) writes one buffer of 1..max_bytes bytes and reads its
// predecessors' buffers; roots also read a pinned input, sinks' buffers are pinned outputs.
inline tensor_dag tensors_on(const graph& g, rng_t& rng, std::uint32_t max_bytes = 64) {
  tensor_dag t;
  const std::size_t n = g.num_nodes();
  t.succ.resize(n);
  t.in.resize(n);
  t.out.resize(n);
  t.bytes.push_back(uniform(rng, 1, max_bytes));  // buffer 0: the input
  t.pinned.push_back(1);
  for (node_id v = 0; v < n; ++v) {
    t.succ[v].assign(g.successors(v).begin(), g.successors(v).end());
    t.bytes.push_back(uniform(rng, 1, max_bytes));
    t.pinned.push_back(g.successors(v).empty() ? 1 : 0);
    t.out[v].push_back(v + 1);
    for (node_id u : g.predecessors(v)) t.in[v].push_back(u + 1);
    if (g.predecessors(v).empty()) t.in[v].push_back(0);
  }
  t.offset.assign(t.bytes.size(), 0);
  return t;
}

// First-fit offsets for the buffers that are not pinned, live from their first to their last
// access in the engine's program order (ids ascending): the arena an engine plans for sequential
// execution, with reuse.
inline std::uint64_t sequential_first_fit(tensor_dag& t) {
  const std::size_t nb = t.num_buffers();
  std::vector<std::size_t> first(nb, SIZE_MAX), last(nb, 0);
  for (node_id v = 0; v < t.num_nodes(); ++v)
    for (const auto* list : {&t.in[v], &t.out[v]})
      for (buffer_id b : *list) {
        first[b] = std::min<std::size_t>(first[b], v);
        last[b] = std::max<std::size_t>(last[b], v);
      }
  std::uint64_t top = 0;
  std::vector<buffer_id> placed;
  for (buffer_id b = 0; b < nb; ++b) {
    if (t.pinned[b] || first[b] == SIZE_MAX) continue;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> busy;
    for (buffer_id a : placed)
      if (!(last[a] < first[b] || last[b] < first[a])) busy.emplace_back(t.offset[a], t.offset[a] + t.bytes[a]);
    std::sort(busy.begin(), busy.end());
    std::uint64_t at = 0;
    for (auto [s, e] : busy) {
      if (s >= at + t.bytes[b]) break;
      at = std::max(at, e);
    }
    t.offset[b] = at;
    top = std::max(top, at + t.bytes[b]);
    placed.push_back(b);
  }
  return top;
}

// Random offsets in an arena of `arena` bytes: buffers alias at will (the engine's program order
// still defines what each read sees).
inline void random_offsets(tensor_dag& t, rng_t& rng, std::uint64_t arena) {
  for (buffer_id b = 0; b < t.num_buffers(); ++b)
    t.offset[b] = t.pinned[b] ? 0 : uniform(rng, 0, static_cast<std::uint32_t>(arena));
}

// Brute force: the first pair of accesses (one writing, bytes overlapping) that the plan does not
// order as the reference order does, or {no_node, no_node} when there is none.
inline std::pair<node_id, node_id> oracle_race(const plan& p, const memory_map& m, std::span<const node_id> reference) {
  const std::size_t n = p.num_nodes();
  const auto anc = execution_ancestors(p);
  std::vector<std::size_t> rank(n);
  for (std::size_t i = 0; i < n; ++i) rank[reference[i]] = i;
  auto overlap = [&](buffer_id a, buffer_id b) {
    if (!m.may_conflict(a, b)) return false;  // two parts of one parent
    a = m.root(a);
    b = m.root(b);
    if (a == b) return true;
    const buffer_info &x = m.buffers[a], &y = m.buffers[b];
    const bool xa = !x.pinned && x.offset != no_offset, ya = !y.pinned && y.offset != no_offset;
    if (!xa || !ya) return false;  // a pinned or unplaced buffer shares bytes with no other
    return x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
  };
  for (node_id a = 0; a < n; ++a)
    for (node_id b = 0; b < n; ++b) {
      if (a == b || rank[a] > rank[b]) continue;
      for (const buffer_access& x : m.accesses_of(a))
        for (const buffer_access& y : m.accesses_of(b))
          if ((x.write || y.write) && overlap(x.buffer, y.buffer) && !anc[b][a]) return {a, b};
    }
  return {no_node, no_node};
}

// Brute force, byte by byte: true when some read, in the reference order, finds a byte of its
// buffer last written for another buffer (the arena is wrong in that order, whatever the plan).
inline bool oracle_clobbered(const memory_map& m, std::span<const node_id> reference) {
  std::uint64_t top = 0;
  for (const buffer_info& b : m.buffers)
    if (!b.pinned && b.offset != no_offset) top = std::max(top, b.offset + b.bytes);
  std::vector<buffer_id> last(top, no_buffer);  // root of the last buffer written at each byte
  for (node_id v : reference) {
    for (const buffer_access& a : m.accesses_of(v)) {  // reads first, as the operator reads before it writes
      const buffer_info& info = m.buffers[m.root(a.buffer)];
      if (a.write || info.pinned || info.offset == no_offset) continue;
      for (std::uint64_t x = info.offset; x < info.offset + info.bytes; ++x)
        if (last[x] != no_buffer && last[x] != m.root(a.buffer)) return true;
    }
    for (const buffer_access& a : m.accesses_of(v)) {
      const buffer_info& info = m.buffers[m.root(a.buffer)];
      if (!a.write || info.pinned || info.offset == no_offset) continue;
      for (std::uint64_t x = info.offset; x < info.offset + info.bytes; ++x) last[x] = m.root(a.buffer);
    }
  }
  return false;
}

} // namespace opara::test
