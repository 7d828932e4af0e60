#pragma once
// Moved: <opara/tune/autotune.hpp> is now <opara/cuda/tune/autotune.hpp> (since 2026-11-26). This forwarding
// header goes away in the next release.
#include <opara/cuda/tune/autotune.hpp>
