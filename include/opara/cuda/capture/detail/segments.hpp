#pragma once
//! Launch segments on the CUDA side (capture::options::launch_segments): the whole graph a capture
//! policy built is split at the plan's free cuts (plan/segments.hpp) into one graph per segment,
//! each a clone of the whole that keeps only its own operators' nodes, with their node options
//! (programmatic edges, priorities, carveout) as they were. An edge across a cut disappears with
//! its other end; launching the segments in turn on one stream orders them instead, and at a free
//! cut that adds no dependency. A programmatic edge across a cut becomes that stream order (the
//! consumer's cudaGridDependencySynchronize() then returns at once).

#include <opara/cuda/capture/detail/node_options.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/handles.hpp>
#include <opara/error.hpp>
#include <opara/plan/plan.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace opara::detail {

//! One graph per launch segment of `whole`: segment k keeps the nodes of the operators v with
//! segment[v] == k (`nodes` says which operator made each node). Segments left without a node are
//! dropped. Throws cuda_error, opara::error when a node of `whole` belongs to no operator.
inline std::vector<cuda::graph_handle> split_graph(cudaGraph_t whole, const operator_nodes& nodes,
                                                   const std::vector<std::uint32_t>& segment, std::uint32_t count) {
  const std::vector<cudaGraphNode_t> all = top_level_nodes(whole);
  std::vector<std::uint32_t> segment_of_node(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const node_id owner = nodes.owner(all[i]);
    if (owner == no_node)
      throw error("opara: capture::options::launch_segments: node " + std::to_string(i) +
                  " of the captured graph was made by no operator, so it cannot be put in a launch segment "
                  "(set launch_segments = 1)");
    segment_of_node[i] = segment[owner];
  }
  std::vector<cuda::graph_handle> parts;
  for (std::uint32_t k = 0; k < count; ++k) {
    cudaGraph_t raw = nullptr;
    OPARA_CUDA_CHECK(cudaGraphClone(&raw, whole));
    cuda::graph_handle part(raw);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (segment_of_node[i] == k) {
        ++kept;
        continue;
      }
      cudaGraphNode_t copy = nullptr;
      OPARA_CUDA_CHECK(cudaGraphNodeFindInClone(&copy, all[i], part.get()));
      OPARA_CUDA_CHECK(cudaGraphDestroyNode(copy));
    }
    if (kept > 0) parts.push_back(std::move(part));
  }
  return parts;
}

} // namespace opara::detail
