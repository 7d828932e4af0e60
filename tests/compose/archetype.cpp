// The policy archetypes (streams/archetype.hpp, order/archetype.hpp): planning needs only what the
// concepts stream_allocation_policy and launch_order_policy require. make_plan, make_plan_within
// and capped<> are instantiated with policies that offer nothing else (no default constructor, no
// copy, no label(), names that only convert to std::string_view) and their plans validate. Also:
// every built-in policy satisfies its concept.

#include <doctest/doctest.h>

#include <opara/compose/budget.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/order/archetype.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/model_guided.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/plan/validate.hpp>
#include <opara/policy/label.hpp>
#include <opara/streams/archetype.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/model_guided.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/tensors.hpp"

#include <string>
#include <type_traits>
#include <vector>

using namespace opara;

// --- the built-in policies satisfy the concepts ----------------------------------------------
static_assert(stream_allocation_policy<streams::sequential>);
static_assert(stream_allocation_policy<streams::round_robin>);
static_assert(stream_allocation_policy<streams::opara_greedy>);
static_assert(stream_allocation_policy<streams::min_path_cover>);
static_assert(stream_allocation_policy<streams::model_guided>);
static_assert(profile_reading_stream_policy<streams::model_guided>);
static_assert(stream_allocation_policy<streams::capped<streams::opara_greedy>>);
static_assert(stream_allocation_policy<streams::capped<streams::archetype>>);
static_assert(launch_order_policy<order::program_order>);
static_assert(launch_order_policy<order::critical_path_first>);
static_assert(launch_order_policy<order::resource_aware>);
static_assert(launch_order_policy<order::model_guided>);

// --- the archetypes satisfy them and offer nothing more -----------------------------------------
static_assert(stream_allocation_policy<streams::archetype>);
static_assert(!profile_reading_stream_policy<streams::archetype>);
static_assert(!launch_order_policy<streams::archetype>);
static_assert(launch_order_policy<order::archetype>);
static_assert(!stream_allocation_policy<order::archetype>);
template <class P>
constexpr bool bare = !std::is_default_constructible_v<P> && !std::is_copy_constructible_v<P> &&
                      !std::is_copy_assignable_v<P> && !std::is_move_assignable_v<P> &&
                      std::is_nothrow_move_constructible_v<P> && !requires(const P& p) { p.label(); } &&
                      !std::is_convertible_v<decltype(P::name), const char*> &&
                      !requires { P::name.data(); } && !requires { P::name == P::name; };
static_assert(bare<streams::archetype>);
static_assert(bare<order::archetype>);
template <class P>
constexpr bool name_has_size = requires { P::name.size(); };
static_assert(!name_has_size<streams::archetype>);  // the stream concept does not ask for it
static_assert(!std::is_same_v<std::remove_cv_t<decltype(order::archetype::needs_profile)>, bool>);

namespace {
streams::archetype stream_archetype() { return streams::archetype{streams::archetype::token{}}; }
order::archetype order_archetype() { return order::archetype{order::archetype::token{}}; }

// in -> {a, b, c} -> out, plus a -> b: a small DAG with a fan-out, a fan-in and a chain.
graph small_dag() {
  graph_builder b;
  const auto in = b.add_node("in");
  const auto a = b.add_node("a");
  const auto bb = b.add_node("b");
  const auto c = b.add_node("c");
  const auto out = b.add_node("out");
  b.add_edge(in, a).add_edge(in, bb).add_edge(in, c).add_edge(a, bb);
  b.add_edge(a, out).add_edge(bb, out).add_edge(c, out);
  return b.build();
}
}  // namespace

TEST_CASE("archetype: make_plan with only what the concepts require") {
  const graph g = small_dag();
  const plan p = make_plan(g, nullptr, {}, stream_archetype(), order_archetype());
  CHECK_NOTHROW(validate(p, g));
  CHECK(p.stream_policy == "archetype");
  CHECK(p.order_policy == "archetype");
  CHECK(p.order == std::vector<node_id>(g.topological_order().begin(), g.topological_order().end()));
  CHECK(p.num_streams == 2);
  CHECK(p.num_waits() > 0);  // two streams over a DAG with edges between them
  CHECK(policy_label(stream_archetype()) == "archetype");  // no label(): the name
  CHECK(policy_label(order_archetype()) == "archetype");

  // Each archetype beside a built-in policy, and the profile taken by reference too (the order
  // archetype needs none and ignores it).
  profile prof;
  prof.ops.resize(g.num_nodes());
  for (auto& op : prof.ops) op.duration_us = 1.0;
  const plan ps = make_plan(g, prof, {}, stream_archetype(), order::critical_path_first{});
  CHECK_NOTHROW(validate(ps, g));
  const plan po = make_plan(g, nullptr, {.prune_waits = false}, streams::opara_greedy{}, order_archetype());
  CHECK_NOTHROW(validate(po, g));
  const plan pr = make_plan(g, prof, {}, stream_archetype(), order_archetype());
  CHECK_NOTHROW(validate(pr, g));
  CHECK(pr.order == p.order);
}

TEST_CASE("archetype: capped<> over the stream archetype") {
  const graph g = small_dag();
  using capped = streams::capped<streams::archetype>;
  CHECK(std::string(capped::name) == "capped<archetype>");
  const capped one{stream_archetype(), 1};
  CHECK(policy_label(one) == "capped<archetype>[1]");
  const plan p = make_plan(g, nullptr, {}, capped{stream_archetype(), 1}, order_archetype());
  CHECK_NOTHROW(validate(p, g));
  CHECK(p.num_streams == 1);
}

TEST_CASE("archetype: make_plan_within and make_plan on random DAGs with memory") {
  test::rng_t rng(2222);
  for (int trial = 0; trial < 10; ++trial) {
    CAPTURE(trial);
    const graph g = test::layered(rng, test::uniform(rng, 3, 6), test::uniform(rng, 2, 5), 2, 0.2);
    const test::tensor_dag t = test::tensors_on(g, rng);
    const plan p = make_plan(t, nullptr, {}, stream_archetype(), order_archetype());
    CHECK_NOTHROW(validate(p, g));
    const budgeted_plan r = make_plan_within(t, sequential_arena, nullptr, {}, stream_archetype(), order_archetype(),
                                             {.alignment = 1});
    CHECK_NOTHROW(validate(r.plan, g));
    CHECK(r.arena.bytes <= r.budget_bytes);
  }
}
