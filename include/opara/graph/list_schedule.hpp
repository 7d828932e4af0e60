#pragma once
//! The one list scheduler: Kahn's algorithm with a pluggable ready queue. graph_builder::build
//! (topological order and cycle check), order::program_order, order::critical_path_first and
//! order::resource_aware all run this loop and differ only in which ready operator goes next.
//!
//!   auto order = opara::list_schedule(g, opara::ready_heap{[&](node_id a, node_id b) {
//!     return rank[a] > rank[b] || (rank[a] == rank[b] && a < b);  // true: a goes before b
//!   }});

#include <opara/graph/traits.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

namespace opara {

//! A ready queue for list_schedule: nodes whose producers have all been scheduled.
template <class Q>
concept ready_queue = requires(Q& q, node_id v) {
  q.push(v);
  { q.pop() } -> std::same_as<node_id>;
  { q.empty() } -> std::convertible_to<bool>;
};

//! A ready queue that pops the node `before` ranks first (`before(a, b)`: a goes before b; a
//! strict weak order). O(log n) per push and pop.
template <class Before = std::less<node_id>>
class ready_heap {
public:
  explicit ready_heap(Before before = {}) : before_(std::move(before)) {}
  //! Adds a ready node.
  void push(node_id v) {
    heap_.push_back(v);
    std::push_heap(heap_.begin(), heap_.end(), after());
  }
  //! Removes and returns the node to schedule next.
  node_id pop() {
    std::pop_heap(heap_.begin(), heap_.end(), after());
    const node_id v = heap_.back();
    heap_.pop_back();
    return v;
  }
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

private:
  // std heaps put the largest first: "a comes after b" makes the first-to-go the top.
  auto after() {
    return [this](node_id a, node_id b) { return before_(b, a); };
  }
  std::vector<node_id> heap_;
  Before before_;
};

//! A ready queue that pops the ready node of the smallest rank, the ranks fixed up front:
//! `by_rank` lists every node once, first to go first. Ready nodes are bits of a bitset over the
//! ranks with a summary bit per word above it (n / 8 bytes, in cache where a heap of thousands of
//! ready nodes is not), so push and pop cost a few word operations whatever the number of ready
//! nodes. Pops the same
//! nodes as a ready_heap ordering the nodes as `by_rank` does.
class rank_queue {
public:
  explicit rank_queue(std::vector<node_id> by_rank) : by_rank_(std::move(by_rank)), rank_(by_rank_.size()) {
    for (std::uint32_t r = 0; r < by_rank_.size(); ++r) rank_[by_rank_[r]] = r;
    std::size_t words = std::max<std::size_t>((by_rank_.size() + 63) / 64, 1);
    bits_.emplace_back(words, 0);
    while (words > 1) {
      words = (words + 63) / 64;
      bits_.emplace_back(words, 0);
    }
  }
  //! Adds a ready node.
  void push(node_id v) {
    std::size_t r = rank_[v];
    for (auto& bits : bits_) {
      const bool was_empty = bits[r / 64] == 0;
      bits[r / 64] |= std::uint64_t{1} << (r % 64);
      if (!was_empty) break;  // the levels above already mark this word
      r /= 64;
    }
  }
  //! Removes and returns the ready node of the smallest rank.
  node_id pop() {
    std::size_t r = 0;
    for (std::size_t level = bits_.size(); level-- > 0;) r = r * 64 + std::countr_zero(bits_[level][r]);
    const node_id v = by_rank_[r];
    for (auto& bits : bits_) {
      bits[r / 64] &= ~(std::uint64_t{1} << (r % 64));
      if (bits[r / 64] != 0) break;  // the word still has ready nodes: the levels above stay
      r /= 64;
    }
    return v;
  }
  [[nodiscard]] bool empty() const noexcept { return bits_.back()[0] == 0; }

private:
  std::vector<node_id> by_rank_;
  std::vector<std::uint32_t> rank_;
  // bits_[0]: one bit per rank; bits_[k + 1]: one bit per non-empty word of bits_[k], up to a
  // level of one word (three levels up to 64^3 = 262,144 nodes, four up to 16.7 million).
  std::vector<std::vector<std::uint64_t>> bits_;
};

//! The nodes by decreasing `key` (no NaN; -0 and +0 alike), ties to the smaller id: a stable
//! least-significant-digit radix sort on the keys' bits, 8 bits a pass, passes whose digit is the
//! same for every key skipped. O(n) per pass, at most 8 passes.
[[nodiscard]] inline std::vector<node_id> by_decreasing_key(std::span<const double> key) {
  const std::size_t n = key.size();
  // Order-preserving unsigned images of the keys, complemented: ascending images = decreasing keys.
  std::vector<std::uint64_t> image(n);
  for (std::size_t v = 0; v < n; ++v) {
    const double x = key[v] == 0 ? 0.0 : key[v];
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits = (bits >> 63) != 0 ? ~bits : bits | (std::uint64_t{1} << 63);
    image[v] = ~bits;
  }
  std::vector<node_id> out(n), tmp(n);
  for (std::size_t v = 0; v < n; ++v) out[v] = static_cast<node_id>(v);
  for (unsigned shift = 0; shift < 64; shift += 8) {
    std::array<std::uint32_t, 257> start{};
    for (node_id v : out) ++start[((image[v] >> shift) & 0xff) + 1];
    if (std::find(start.begin() + 1, start.end(), static_cast<std::uint32_t>(n)) != start.end()) continue;
    for (std::size_t d = 0; d < 256; ++d) start[d + 1] += start[d];
    for (node_id v : out) tmp[start[(image[v] >> shift) & 0xff]++] = v;
    out.swap(tmp);
  }
  return out;
}

//! Kahn's algorithm over g (anything with num_nodes(), successors(v) and predecessors(v) as
//! opara::graph has): sources are pushed in id order, then every node whose last producer was
//! scheduled. Returns the order; it holds fewer than num_nodes() nodes exactly when g has a
//! cycle (the nodes left out are those on or after one). O(n + e) plus the queue's cost.
template <class G, ready_queue Q>
[[nodiscard]] std::vector<node_id> list_schedule(const G& g, Q&& ready) {
  const std::size_t n = g.num_nodes();
  std::vector<std::uint32_t> waiting(n);  // producers not yet scheduled
  for (node_id v = 0; v < n; ++v) {
    waiting[v] = static_cast<std::uint32_t>(g.predecessors(v).size());
    if (waiting[v] == 0) ready.push(v);
  }
  std::vector<node_id> order;
  order.reserve(n);
  while (!ready.empty()) {
    const node_id v = ready.pop();
    order.push_back(v);
    for (node_id s : g.successors(v))
      if (--waiting[s] == 0) ready.push(s);
  }
  return order;
}

} // namespace opara
