#pragma once
// Moved: <opara/plan/label.hpp> is now <opara/policy/label.hpp>. This forwarding header
// goes away in the next release.
#include <opara/policy/label.hpp>
