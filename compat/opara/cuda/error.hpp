#pragma once
// Moved: <opara/cuda/error.hpp> is now <opara/cuda/runtime/error.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/error.hpp>
