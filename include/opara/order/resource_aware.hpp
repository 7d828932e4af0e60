#pragma once
//! Opara's resource-aware launch order (Alg. 2 of Opara, IEEE TC 2025). Kernels are never
//! preempted, so a heavy kernel launched early can hold SM resources (shared memory above all)
//! that small independent kernels then wait for. Interleaving memory-bound and compute-bound
//! operators and, within each kind, launching the lightest first lets more kernels co-reside.

#include <opara/graph/list_schedule.hpp>
#include <opara/order/concept.hpp>
#include <opara/profile/check.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <tuple>
#include <vector>

namespace opara::order {

//! list_schedule (Kahn's algorithm) with two ready queues, memory-bound and compute-bound operators, taken in
//! turn (memory first; when the queue whose turn it is is empty, the other one is used). Within a
//! queue the operator whose kernels need the least shared memory per block relative to the
//! device limit (its largest kernel's need; the raw byte count when the limit is unknown) goes
//! first; ties go to fewer blocks*threads (its largest kernel's), then to the smaller id.
//! Operators go to the queue classify_bound (profile/check.hpp) gives them, the rule the profiler
//! records bounds by; operators it cannot classify (no kernel records) go to the memory queue.
//! O((n + e) log n). Throws opara::bad_policy without a profile of one record per node.
struct resource_aware {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "resource_aware";
  //! "resource_aware" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  //! The queue an operator goes to: classify_bound(op), with unknown as memory.
  [[nodiscard]] static boundness classify(const operator_record& op) noexcept {
    return classify_bound(op) == boundness::compute ? boundness::compute : boundness::memory;
  }

  //! A launch order for g (a topological order). Throws bad_policy as described above.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* p) const {
    require_profile(name, g, p);
    const std::size_t n = g.num_nodes();
    const double limit = p->limits.shared_bytes_per_block;

    // Rank within a queue: (share of the shared-memory limit, threads, id), smallest first.
    struct key {
      double shared;          // share of the per-block limit (or bytes)
      std::uint64_t threads;  // blocks * threads per block
      node_id id;
      bool operator<(const key& o) const noexcept { return std::tie(shared, threads, id) < std::tie(o.shared, o.threads, o.id); }
    };
    constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    std::vector<key> keys(n);
    std::vector<std::uint8_t> is_compute(n);
    for (node_id v = 0; v < n; ++v) {
      const auto& op = p->ops[v];
      std::uint64_t shared = 0, threads = 0;
      for (const auto& k : op.kernels) {
        shared = std::max(shared, k.shared_bytes());
        const std::uint64_t blocks = k.blocks(), per_block = k.threads_per_block();
        threads = std::max(threads, per_block != 0 && blocks > most / per_block ? most : blocks * per_block);
      }
      keys[v] = {limit > 0 ? static_cast<double>(shared) / limit : static_cast<double>(shared), threads, v};
      is_compute[v] = classify(op) == boundness::compute;
    }

    auto before = [&keys](node_id a, node_id b) { return keys[a] < keys[b]; };
    // The two queues taken in turn, memory first; when the one whose turn it is is empty, the other.
    struct alternating {
      ready_heap<decltype(before)> queue[2];  // [0] memory-bound, [1] compute-bound
      const std::vector<std::uint8_t>& is_compute;
      int turn = 0;
      void push(node_id v) { queue[is_compute[v]].push(v); }
      [[nodiscard]] bool empty() const noexcept { return queue[0].empty() && queue[1].empty(); }
      node_id pop() {
        if (queue[turn].empty()) turn ^= 1;
        const node_id v = queue[turn].pop();
        turn ^= 1;
        return v;
      }
    };
    return list_schedule(g, alternating{{ready_heap(before), ready_heap(before)}, is_compute});
  }
};

} // namespace opara::order
