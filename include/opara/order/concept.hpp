#pragma once
//! What a launch order policy is: a type that turns a graph (and, optionally, a profile) into the
//! order in which operators are launched. The order decides which ready kernels reach the GPU
//! first, and with Opara's greedy stream rule it also shapes the streams.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/policy/label.hpp>
#include <opara/profile/profile.hpp>

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace opara {

//! A launch order policy O:
//!   std::vector<node_id> O::order(const opara::graph&, const opara::profile*) const;  // topological
//!   static constexpr bool needs_profile;      // true: order() throws bad_policy without a profile
//!   static constexpr std::string_view name;   // recorded in the plan, printed in DOT/JSON
//!   std::string label() const;                 // optional: name plus parameters (policy_label)
template <class O>
concept launch_order_policy = requires(const O& o, const graph& g, const profile* p) {
  { o.order(g, p) } -> std::same_as<std::vector<node_id>>;
  { O::needs_profile } -> std::convertible_to<bool>;
  { O::name } -> std::convertible_to<std::string_view>;
  typename std::bool_constant<O::needs_profile>;                 // a constant expression
  typename std::integral_constant<std::size_t, O::name.size()>;  // likewise
};

namespace order {

//! Throws opara::bad_policy unless `p` is a profile with one operator record per node of `g`.
//! The message names the policy and both sizes. For policies with needs_profile.
inline void require_profile(std::string_view policy, const graph& g, const profile* p) {
  if (p == nullptr)
    throw bad_policy("opara: launch order policy '" + std::string(policy) +
                     "' needs a profile (got none); profile the graph first or use order::program_order");
  if (p->ops.size() != g.num_nodes())
    throw bad_policy("opara: launch order policy '" + std::string(policy) + "' needs one profile record per node: the profile has " +
                     std::to_string(p->ops.size()) + " operator records, the graph has " +
                     std::to_string(g.num_nodes()) + " nodes");
}

} // namespace order
} // namespace opara
