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
#include <concepts>
#include <cstdint>
#include <functional>
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
