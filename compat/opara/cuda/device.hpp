#pragma once
// Moved: <opara/cuda/device.hpp> is now <opara/cuda/runtime/device.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/device.hpp>
