#pragma once
//! The profilers (namespace opara::profiler), the fourth policy of opara::scheduler: how a graph's
//! operators are measured before planning.
//!   cupti   every kernel of every operator, via CUPTI activity records (default; link opara::cupti)
//!   events  operator durations from CUDA events (link opara::cuda only)
//!   none    never measures (plans use the profile the caller gives, or none)
//! profiler/concept.hpp says what a profiler of your own needs (profiler/archetype.hpp is the
//! least one). Including this header needs CUPTI; include opara/cuda/profiler/events.hpp (or
//! concept.hpp, none.hpp) alone to stay on opara::cuda.

#include <opara/cuda/profiler/archetype.hpp>
#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/cupti.hpp>
#include <opara/cuda/profiler/events.hpp>
#include <opara/cuda/profiler/measure.hpp>
#include <opara/cuda/profiler/none.hpp>
#include <opara/cuda/profiler/options.hpp>
