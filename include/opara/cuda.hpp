#pragma once
//! opara's CUDA side, all of it: error checks, RAII handles, the cuda_operator_graph concept and
//! task_graph, capture policies, the executable, the profilers (CUPTI, event timing, none), the
//! scheduler, replay timing and autotune. Link opara::cupti (the CUPTI profiler, the scheduler's
//! default, needs it). A program that links opara::cuda alone includes the headers it uses
//! (opara/cuda/scheduler.hpp, ...) and names a profiler that needs no CUPTI
//! (opara::profiler::events or opara::profiler::none).
//! Never included by opara.hpp: the CPU planner builds without CUDA.

#include <opara/cuda/capture.hpp>
#include <opara/cuda/profiler.hpp>
#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/handles.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/cuda/scheduler.hpp>
#include <opara/cuda/tune/autotune.hpp>
#include <opara/cuda/tune/cache.hpp>
#include <opara/cuda/tune/measure.hpp>
#include <opara/cuda/tune/timing.hpp>
