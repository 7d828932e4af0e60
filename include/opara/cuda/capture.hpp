#pragma once
//! The capture policies (namespace opara::capture): how a plan becomes something to run.
//!   stream_capture  Opara's fork/join stream capture (default)
//!   explicit_graph  one child-graph node per operator, explicit edges
//!   eager           no graph; the plan is launched on every call

#include <opara/cuda/capture/common.hpp>
#include <opara/cuda/capture/eager.hpp>
#include <opara/cuda/capture/explicit_graph.hpp>
#include <opara/cuda/capture/stream_capture.hpp>
