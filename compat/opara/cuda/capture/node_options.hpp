#pragma once
// Moved: <opara/cuda/capture/node_options.hpp> is now <opara/cuda/capture/detail/node_options.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/capture/detail/node_options.hpp>
