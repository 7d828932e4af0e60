#pragma once
// Moved: <opara/cuda/executable.hpp> is now <opara/cuda/runtime/executable.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/executable.hpp>
