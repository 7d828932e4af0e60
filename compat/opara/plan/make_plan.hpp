#pragma once
// Moved: <opara/plan/make_plan.hpp> is now <opara/compose/make_plan.hpp>. This forwarding header
// goes away in the next release.
#include <opara/compose/make_plan.hpp>
