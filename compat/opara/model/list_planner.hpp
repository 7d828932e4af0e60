#pragma once
// Moved: <opara/model/list_planner.hpp> is now <opara/gpu_model/list_planner.hpp>. This
// forwarding header goes away in the next release.
#include <opara/gpu_model/list_planner.hpp>
