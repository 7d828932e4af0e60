#pragma once
// Moved: <opara/cuda/profiler/common.hpp> is now <opara/cuda/profiler/concept.hpp> (the concept),
// <opara/cuda/profiler/options.hpp> (profiler::options), <opara/cuda/profiler/none.hpp>,
// <opara/cuda/profiler/measure.hpp> (cuda::measure, cuda::load_saved_profile) and
// <opara/cuda/profiler/detail/common.hpp> (internals). This forwarding header goes away in the
// next release.
#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/detail/common.hpp>
#include <opara/cuda/profiler/measure.hpp>
#include <opara/cuda/profiler/none.hpp>
#include <opara/cuda/profiler/options.hpp>
