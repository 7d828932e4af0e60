#pragma once
//! make_plan: launch order, streams and waits for a graph, from two swappable policies.
//!
//!   auto p = opara::make_plan(g);                                            // defaults
//!   auto q = opara::make_plan<opara::streams::min_path_cover>(g);
//!   auto r = opara::make_plan<opara::streams::capped<opara::streams::opara_greedy>,
//!                             opara::order::resource_aware>(g, profile, {}, {.max_streams = 8});
//!
//! For a tensor_graph (memory/traits.hpp: an engine that says which buffers each operator reads and
//! writes, and, as an arena_graph, where they sit in the arena it planned for its sequential
//! program order), make_plan also orders every two operators whose buffers share bytes, one
//! writing, as the program order does (memory/hazards.hpp), so that every plan of every policy is
//! race-free on that memory; plan::memory_orderings says how many dependencies that added.

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/memory/traits.hpp>
#include <opara/order/concept.hpp>
#include <opara/order/program_order.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/waits.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/profile.hpp>
#include <opara/streams/concept.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! Knobs of make_plan that are not policies.
struct plan_options {
  bool prune_waits = true;  //!< drop waits already implied by stream order and other waits (exact)
  //! For a graph with a memory map (a tensor_graph): add the orderings its shared bytes need
  //! (memory/hazards.hpp) as dependencies. Off, a plan may race on the engine's arena (or on a
  //! buffer two operators write without an edge between them); check_memory then says where.
  bool memory_hazards = true;
  //! The order the memory's contents are defined by: each read reads what the last write before it
  //! in this order wrote. Empty: the graph's program order (g.topological_order()), the order an
  //! engine plans its own arena for. An arena opara placed for plan p (plan_arena) is right in
  //! p.order: pass that. It must be a topological order of the graph.
  std::vector<node_id> memory_order{};
};

namespace detail {

//! Plans on `g` (the graph itself, or it with the memory's orderings added); `identity` is the
//! graph the caller gave, which a profile must match.
template <stream_allocation_policy S, launch_order_policy O>
plan plan_graph(const graph& g, const graph& identity, const profile* prof, plan_options opt, const S& s, const O& o) {
  const std::size_t n = g.num_nodes();
  if constexpr (O::needs_profile) {
    if (prof == nullptr || prof->ops.size() != n)
      order::require_profile(O::name, g, prof);  // throws bad_policy naming the policy
  }
  if (prof != nullptr) check_profile_graph(*prof, identity, "make_plan: the profile");
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
  p.memory_orderings = g.num_edges() - identity.num_edges();
  return p;
}

//! make_plan on opara::graph, with the memory map of the graph when it has one.
template <stream_allocation_policy S, launch_order_policy O>
plan make_plan_on(const graph& g, const profile* prof, plan_options opt, const S& s, const O& o,
                  const memory_map* memory = nullptr) {
  if (memory != nullptr && opt.memory_hazards) {
    check_memory_map(*memory, g.num_nodes(), "make_plan");
    const std::span<const node_id> reference =
        opt.memory_order.empty() ? g.topological_order() : std::span<const node_id>(opt.memory_order);
    if (!opt.memory_order.empty())
      (void)require_topological_order(g, reference, "plan_options::memory_order");
    const auto orderings = memory_orderings(*memory, reference);
    if (!orderings.empty()) return plan_graph(with_orderings(g, orderings), g, prof, opt, s, o);
  }
  return plan_graph(g, g, prof, opt, s, o);
}

} // namespace detail

//! Plans g: order from O (reading `prof` when O::needs_profile), streams from S, then the
//! cross-stream waits (pruned when options.prune_waits). Stream 0 is the stream of the first
//! operator launched (the caller's stream). G is converted with to_graph unless it is
//! opara::graph. For a tensor_graph the memory's orderings are added (plan_options::memory_hazards).
//! Throws bad_graph / not_a_dag for a malformed graph (or memory map), bad_policy when a policy
//! cannot plan it (missing profile, a profile of another size, cap of zero, an order that is not
//! topological), profile_mismatch when `prof` names another graph's fingerprint.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order,
          operator_graph G>
[[nodiscard]] plan make_plan(const G& g, const profile* prof = nullptr, plan_options options = {}, S s = {},
                             O o = {}) {
  if constexpr (std::same_as<G, graph>) {
    return detail::make_plan_on(g, prof, options, s, o);
  } else if constexpr (tensor_graph<G>) {
    const memory_map memory = memory_of(g);
    return detail::make_plan_on(to_graph(g), prof, options, s, o, &memory);
  } else {
    return detail::make_plan_on(to_graph(g), prof, options, s, o);
  }
}

//! make_plan for opara::graph with the engine's memory map (buffers with arena offsets): the
//! orderings its shared bytes need are added (plan_options::memory_hazards).
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order>
[[nodiscard]] plan make_plan(const graph& g, const memory_map& memory, const profile* prof = nullptr,
                             plan_options options = {}, S s = {}, O o = {}) {
  return detail::make_plan_on(g, prof, options, s, o, &memory);
}

//! As above, with a profile taken by reference.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order,
          operator_graph G>
[[nodiscard]] plan make_plan(const G& g, const profile& prof, plan_options options = {}, S s = {}, O o = {}) {
  return make_plan<S, O, G>(g, &prof, options, std::move(s), std::move(o));
}

} // namespace opara
