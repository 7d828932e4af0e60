#pragma once
// Moved: <opara/cuda/pdl.cuh> is now <opara/cuda/runtime/pdl.cuh>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/pdl.cuh>
