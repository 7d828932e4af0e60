#pragma once
//! opara's CUDA side: error checks, RAII handles, the cuda_operator_graph concept and task_graph,
//! capture policies, the executable, the CUPTI profiler and the scheduler. Link opara::cupti
//! (the profiler needs CUPTI; opara::cuda alone is enough when no header that profiles is used).
//! Never included by opara.hpp: the CPU planner builds without CUDA.

#include <opara/cuda/capture.hpp>
#include <opara/cuda/device.hpp>
#include <opara/cuda/error.hpp>
#include <opara/cuda/executable.hpp>
#include <opara/cuda/handles.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/cuda/profiler.hpp>
#include <opara/cuda/scheduler.hpp>
