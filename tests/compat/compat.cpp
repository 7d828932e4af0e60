// The forwarding headers in compat/opara: each old path of a moved header still compiles (through
// the opara target's second include folder) and gives the moved header's names. This is the one
// file in the repository that includes the old paths on purpose: it stands in for a user's code.

#include <doctest/doctest.h>

#include <opara/memory/budget.hpp>        // -> opara/compose/budget.hpp
#include <opara/model/gpu_model.hpp>      // -> opara/gpu_model/model.hpp
#include <opara/model/list_planner.hpp>   // -> opara/gpu_model/list_planner.hpp
#include <opara/plan/label.hpp>           // -> opara/policy/label.hpp
#include <opara/plan/make_plan.hpp>       // -> opara/compose/make_plan.hpp

// The old and the new path are one header (#pragma once): including both must not redefine.
#include <opara/compose/budget.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/gpu_model/list_planner.hpp>
#include <opara/gpu_model/model.hpp>
#include <opara/policy/label.hpp>

#include <opara/plan/validate.hpp>
#include <opara/streams/round_robin.hpp>

using namespace opara;

namespace {
graph diamond() {
  graph_builder b;
  const auto in = b.add_node("in");
  const auto l = b.add_node("left");
  const auto r = b.add_node("right");
  const auto out = b.add_node("out");
  b.add_edge(in, l).add_edge(in, r).add_edge(l, out).add_edge(r, out);
  return b.build();
}
}  // namespace

TEST_CASE("compat: each old path gives the moved header's names") {
  const graph g = diamond();

  // plan/make_plan.hpp
  const plan p = make_plan(g);
  validate(p, g);
  CHECK(p.num_streams == 2);

  // plan/label.hpp
  CHECK(policy_label(streams::round_robin{.streams = 4}) == "round_robin[4]");

  // model/gpu_model.hpp
  const gpu_model model{};
  CHECK(model.stream_latency_us() == model.dependency_us);

  // model/list_planner.hpp
  const model_planner_options options{};
  CHECK(!options.stream_caps.empty());

  // memory/budget.hpp
  CHECK(sequential_arena == 0);
  const budgeted_plan within{};
  CHECK(within.memory_order.empty());
}
