#pragma once
// Moved: <opara/cuda/operator_graph.hpp> is now <opara/cuda/runtime/operator_graph.hpp>. This forwarding header
// goes away in the next release.
#include <opara/cuda/runtime/operator_graph.hpp>
