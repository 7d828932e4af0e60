#pragma once
// Moved: <opara/tune/measure.hpp> is now <opara/cuda/tune/measure.hpp> (since 2026-11-26). This forwarding
// header goes away in the next release.
#include <opara/cuda/tune/measure.hpp>
