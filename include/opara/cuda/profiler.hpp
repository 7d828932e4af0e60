#pragma once
//! The profilers (namespace opara::profiler), the fourth policy of opara::scheduler: how a graph's
//! operators are measured before planning.
//!   cupti   every kernel of every operator, via CUPTI activity records (default; link opara::cupti)
//!   events  operator durations from CUDA events (link opara::cuda only)
//!   none    never measures (plans use the profile the caller gives, or none)
//! Including this header needs CUPTI; include opara/cuda/profiler/events.hpp (or common.hpp) alone
//! to stay on opara::cuda.

#include <opara/cuda/profiler/common.hpp>
#include <opara/cuda/profiler/cupti.hpp>
#include <opara/cuda/profiler/events.hpp>
