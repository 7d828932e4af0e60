#pragma once
// Moved: <opara/model/gpu_model.hpp> is now <opara/gpu_model/model.hpp>. This forwarding header
// goes away in the next release.
#include <opara/gpu_model/model.hpp>
