#pragma once
// Moved: <opara/cuda/handles.hpp> is now <opara/cuda/runtime/handles.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/handles.hpp>
