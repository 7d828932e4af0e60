#pragma once
// Moved: <opara/cuda/capture/common.hpp> is now <opara/cuda/capture/concept.hpp> (the concept),
// <opara/cuda/capture/options.hpp> (capture::options), <opara/cuda/runtime/launch.hpp>
// (cuda::launch_guarded) and <opara/cuda/capture/detail/common.hpp> (internals). This forwarding
// header goes away in the next release.
#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/detail/common.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/runtime/launch.hpp>
