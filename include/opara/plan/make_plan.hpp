#pragma once
//! make_plan: launch order, streams and waits for a graph, from two swappable policies.
//!
//!   auto p = opara::make_plan(g);                                            // defaults
//!   auto q = opara::make_plan<opara::streams::min_path_cover>(g);
//!   auto r = opara::make_plan<opara::streams::capped<opara::streams::opara_greedy>,
//!                             opara::order::resource_aware>(g, profile, {}, {.max_streams = 8});

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/order/concept.hpp>
#include <opara/order/program_order.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/waits.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/profile.hpp>
#include <opara/streams/concept.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <string>
#include <utility>

namespace opara {

//! Knobs of make_plan that are not policies.
struct plan_options {
  bool prune_waits = true;  //!< drop waits already implied by stream order and other waits (exact)
};

namespace detail {

template <stream_allocation_policy S, launch_order_policy O>
plan make_plan_on(const graph& g, const profile* prof, plan_options opt, const S& s, const O& o) {
  const std::size_t n = g.num_nodes();
  if constexpr (O::needs_profile) {
    if (prof == nullptr || prof->ops.size() != n)
      order::require_profile(O::name, g, prof);  // throws bad_policy naming the policy
  }
  if (prof != nullptr) check_profile_graph(*prof, g, "make_plan: the profile");
  plan p;
  p.order = o.order(g, prof);
  const auto pos = require_topological_order(g, p.order, "launch order policy '" + std::string(O::name) + "' returned an order that");
  stream_assignment a = assign_streams(s, g, p.order, prof);
  renumber_by_first_use(a, p.order, S::name);  // checks every stream id; dense, so <= n streams
  wait_lists w = compute_waits_unchecked(g, p.order, pos, a, opt.prune_waits);
  p.stream_of = std::move(a.stream_of);
  p.num_streams = a.num_streams;
  p.wait_begin = std::move(w.wait_begin);
  p.wait_on = std::move(w.wait_on);
  p.pruned_waits = w.pruned;
  p.stream_policy = std::string(S::name);
  p.order_policy = std::string(O::name);
  return p;
}

} // namespace detail

//! Plans g: order from O (reading `prof` when O::needs_profile), streams from S, then the
//! cross-stream waits (pruned when options.prune_waits). Stream 0 is the stream of the first
//! operator launched (the caller's stream). G is converted with to_graph unless it is
//! opara::graph. Throws bad_graph / not_a_dag for a malformed graph, bad_policy when a policy
//! cannot plan it (missing profile, a profile of another size, cap of zero, an order that is not
//! topological), profile_mismatch when `prof` names another graph's fingerprint.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order,
          operator_graph G>
[[nodiscard]] plan make_plan(const G& g, const profile* prof = nullptr, plan_options options = {}, S s = {},
                             O o = {}) {
  if constexpr (std::same_as<G, graph>) {
    return detail::make_plan_on(g, prof, options, s, o);
  } else {
    return detail::make_plan_on(to_graph(g), prof, options, s, o);
  }
}

//! As above, with a profile taken by reference.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order,
          operator_graph G>
[[nodiscard]] plan make_plan(const G& g, const profile& prof, plan_options options = {}, S s = {}, O o = {}) {
  return make_plan<S, O, G>(g, &prof, options, std::move(s), std::move(o));
}

} // namespace opara
