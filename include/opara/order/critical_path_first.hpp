#pragma once
//! Critical-path-first list scheduling: among ready operators, launch the one with the longest
//! remaining path to a sink (its bottom level under profiled durations). Operators on the
//! critical path then never wait behind work that has slack.

#include <opara/analysis/critical_path.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/order/concept.hpp>

#include <cmath>
#include <string_view>
#include <vector>

namespace opara::order {

//! list_schedule (Kahn's algorithm) taking the ready operator with the largest bottom level (by the profile's
//! duration_us), ties to the smaller id. O(n + e) (the levels ranked by a radix sort, a rank_queue). Throws opara::bad_policy without a
//! profile of one record per node, or when a duration is negative or not finite (naming the node).
struct critical_path_first {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "critical_path_first";
  //! "critical_path_first" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  //! A launch order for g (a topological order). Throws bad_policy as described above.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* p) const {
    require_profile(name, g, p);
    const std::size_t n = g.num_nodes();
    std::vector<double> cost(n);
    for (node_id v = 0; v < n; ++v) {
      cost[v] = p->ops[v].duration_us;
      if (!std::isfinite(cost[v]) || cost[v] < 0)
        throw bad_policy("opara: launch order policy 'critical_path_first': node " + g.name(v) + " has duration_us " +
                         std::to_string(cost[v]) + " (durations must be finite and non-negative)");
    }
    return list_schedule(g, rank_queue(by_decreasing_key(bottom_levels(g, cost))));
  }
};

} // namespace opara::order
