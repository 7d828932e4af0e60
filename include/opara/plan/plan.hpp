#pragma once
//! The plan: the complete decision of how to run a graph on several streams. Pure data; the
//! planners in opara/compose/make_plan.hpp produce it and opara/cuda carries it out.

#include <opara/graph/traits.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace opara {

//! Index of a stream within a plan (0..num_streams-1). Stream 0 is the caller's stream.
using stream_id = std::uint32_t;

//! A stream allocation policy's answer: a stream per node.
struct stream_assignment {
  std::vector<stream_id> stream_of;  //!< indexed by node id
  std::uint32_t num_streams = 0;
};

//! How to run a graph: launch order, stream per operator, and the cross-stream waits to insert.
//! Before launching `order[i]` on `stream_of[order[i]]`, that stream waits for the events
//! recorded after each producer in `waits_of(order[i])`.
struct plan {
  std::vector<node_id> order;        //!< launch order, a topological order of the graph
  std::vector<stream_id> stream_of;  //!< indexed by node id
  std::uint32_t num_streams = 0;
  std::vector<std::uint32_t> wait_begin;  //!< CSR offsets, size num_nodes+1, indexed by consumer id
  std::vector<node_id> wait_on;           //!< producers each consumer's stream waits for
  std::size_t pruned_waits = 0;           //!< cross-stream edges whose wait was implied by others
  std::size_t memory_orderings = 0;       //!< dependencies added for the engine's shared arena (memory/hazards.hpp)
  std::string stream_policy;              //!< name of the stream allocation policy used
  std::string order_policy;               //!< name of the launch order policy used

  //! Number of operators planned.
  [[nodiscard]] std::size_t num_nodes() const noexcept { return stream_of.size(); }
  //! Producers whose events `consumer`'s stream waits for before launching it.
  [[nodiscard]] std::span<const node_id> waits_of(node_id consumer) const noexcept {
    return {wait_on.data() + wait_begin[consumer], wait_on.data() + wait_begin[consumer + 1]};
  }
  //! Total number of cross-stream waits kept.
  [[nodiscard]] std::size_t num_waits() const noexcept { return wait_on.size(); }
};

} // namespace opara
