#pragma once
//! Everything opara plans with, on any host: graphs, analyses, policies, plans, profiles, export.
//! Never includes CUDA (that is <opara/cuda.hpp>) nor Boost (<opara/graph/boost.hpp> adapts
//! Boost.Graph types and is included on its own by those who use them).

// Layer 0: base
#include <opara/error.hpp>
#include <opara/policy/label.hpp>

// Layer 1: graphs
#include <opara/graph/graph.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/graph/traits.hpp>

// Layer 2: analyses
#include <opara/analysis/critical_path.hpp>
#include <opara/analysis/topological.hpp>
#include <opara/analysis/transitive_reduction.hpp>
#include <opara/analysis/width.hpp>

// Layer 3: profiles
#include <opara/profile/bounds.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

// Layer 4: the plan as data
#include <opara/plan/dot.hpp>
#include <opara/plan/json.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/segments.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/validate.hpp>
#include <opara/plan/waits.hpp>

// Layer 5: models of the GPU and of memory
#include <opara/gpu_model/list_planner.hpp>
#include <opara/gpu_model/model.hpp>
#include <opara/memory/arena.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/memory/traits.hpp>

// Layer 6: policies (stream assignment and launch order)
#include <opara/order/concept.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/model_guided.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/concept.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/model_guided.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

// Layer 7: the composer (policies -> plan)
#include <opara/compose/budget.hpp>
#include <opara/compose/make_plan.hpp>
