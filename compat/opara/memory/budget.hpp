#pragma once
// Moved: <opara/memory/budget.hpp> is now <opara/compose/budget.hpp>. This forwarding header
// goes away in the next release.
#include <opara/compose/budget.hpp>
