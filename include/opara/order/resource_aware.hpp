#pragma once
//! Opara's resource-aware launch order (Alg. 2 of Opara, IEEE TC 2025). Kernels are never
//! preempted, so a heavy kernel launched early can hold SM resources (shared memory above all)
//! that small independent kernels then wait for. Interleaving memory-bound and compute-bound
//! operators and, within each kind, launching the lightest first lets more kernels co-reside.

#include <opara/order/concept.hpp>

#include <algorithm>
#include <cstdint>
#include <queue>
#include <string_view>
#include <tuple>
#include <vector>

namespace opara::order {

//! Kahn's algorithm with two ready queues, memory-bound and compute-bound operators, taken in
//! turn (memory first; when the queue whose turn it is is empty, the other one is used). Within a
//! queue the operator whose kernels need the least shared memory per block relative to the
//! device limit (its largest kernel's need; the raw byte count when the limit is unknown) goes
//! first; ties go to fewer blocks*threads (its largest kernel's), then to the smaller id.
//! Operators whose bound is unknown are classified by their kernels: compute-bound when any
//! kernel stages data in shared memory (tiled convolutions and GEMMs do), memory-bound otherwise
//! (element-wise, pooling, copies, and operators with no recorded kernel).
//! O((n + e) log n). Throws opara::bad_policy without a profile of one record per node.
struct resource_aware {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "resource_aware";
  //! "resource_aware" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  //! The queue an operator goes to, after the rule above for unknown bounds.
  [[nodiscard]] static boundness classify(const operator_record& op) noexcept {
    if (op.bound != boundness::unknown) return op.bound;
    for (const auto& k : op.kernels)
      if (k.shared_bytes() > 0) return boundness::compute;
    return boundness::memory;
  }

  //! A launch order for g (a topological order). Throws bad_policy as described above.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* p) const {
    require_profile(name, g, p);
    const std::size_t n = g.num_nodes();
    const double limit = p->limits.shared_bytes_per_block;

    struct key {
      double shared;         // share of the per-block limit (or bytes)
      std::uint64_t threads; // blocks * threads per block
      node_id id;
      bool operator>(const key& o) const noexcept {
        return std::tie(shared, threads, id) > std::tie(o.shared, o.threads, o.id);
      }
    };
    std::vector<key> keys(n);
    std::vector<std::uint8_t> is_compute(n);
    for (node_id v = 0; v < n; ++v) {
      const auto& op = p->ops[v];
      std::uint32_t shared = 0;
      std::uint64_t threads = 0;
      for (const auto& k : op.kernels) {
        shared = std::max(shared, k.shared_bytes());
        threads = std::max(threads, k.blocks() * k.threads_per_block());
      }
      keys[v] = {limit > 0 ? shared / limit : static_cast<double>(shared), threads, v};
      is_compute[v] = classify(op) == boundness::compute;
    }

    using heap = std::priority_queue<key, std::vector<key>, std::greater<>>;
    heap ready[2];  // [0] memory-bound, [1] compute-bound
    std::vector<std::uint32_t> indeg(n);
    for (node_id v = 0; v < n; ++v) {
      indeg[v] = static_cast<std::uint32_t>(g.predecessors(v).size());
      if (indeg[v] == 0) ready[is_compute[v]].push(keys[v]);
    }
    std::vector<node_id> out;
    out.reserve(n);
    int turn = 0;
    while (!ready[0].empty() || !ready[1].empty()) {
      if (ready[turn].empty()) turn ^= 1;
      const node_id v = ready[turn].top().id;
      ready[turn].pop();
      turn ^= 1;
      out.push_back(v);
      for (node_id s : g.successors(v))
        if (--indeg[s] == 0) ready[is_compute[s]].push(keys[s]);
    }
    return out;
  }
};

} // namespace opara::order
