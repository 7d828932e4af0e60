#pragma once
//! The capture policies (namespace opara::capture): how a plan becomes something to run.
//!   stream_capture  Opara's fork/join stream capture (default)
//!   explicit_graph  one child-graph node per operator, explicit edges
//!   eager           no graph; the plan is launched on every call
//! capture/concept.hpp says what a policy of your own needs (capture/archetype.hpp is the least
//! one); capture/options.hpp holds the options and the capture key.

#include <opara/cuda/capture/archetype.hpp>
#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/eager.hpp>
#include <opara/cuda/capture/explicit_graph.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/capture/stream_capture.hpp>
