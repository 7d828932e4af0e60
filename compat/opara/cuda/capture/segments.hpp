#pragma once
// Moved: <opara/cuda/capture/segments.hpp> is now <opara/cuda/capture/detail/segments.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/capture/detail/segments.hpp>
