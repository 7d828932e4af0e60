#pragma once
//! The default launch order: the graph's own topological order (list_schedule with the smallest
//! ready id first, computed once when the graph is built), so a graph whose ids are already in
//! program order is launched in that order.

#include <opara/order/concept.hpp>

#include <string_view>
#include <vector>

namespace opara::order {

//! Launches operators in the graph's topological order; needs no profile and never throws
//! (except std::bad_alloc).
struct program_order {
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "program_order";
  //! "program_order" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }

  //! g.topological_order(); the profile is ignored.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* = nullptr) const {
    const auto t = g.topological_order();
    return {t.begin(), t.end()};
  }
};

} // namespace opara::order
