#pragma once
//! Every operator on the caller's stream: the baseline a single-stream CUDA Graph gives.

#include <opara/streams/concept.hpp>

namespace opara::streams {

//! One stream for everything. Never throws except std::bad_alloc.
struct sequential {
  static constexpr std::string_view name = "sequential";
  //! "sequential" (no parameters).
  [[nodiscard]] std::string label() const { return std::string(name); }
  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> /*order*/) const {
    return {std::vector<stream_id>(g.num_nodes(), 0), 1};
  }
};

} // namespace opara::streams
