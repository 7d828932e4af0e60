#pragma once
//! What the capture policies do to a built CUDA graph besides its structure: programmatic edges
//! into operators that declare programmatic dependent launch (capture::options::programmatic) and
//! high priority for the kernel nodes of operators on or near the critical path
//! (capture::options::priorities); detail::apply_node_options in common.hpp puts them together.
//! Both need to know which graph nodes each operator made: operator_nodes records that.

#include <opara/analysis/critical_path.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace opara {

namespace detail {

//! The nodes `node` depends on, and the data of those edges when `data` is given. Throws cuda_error.
inline void dependencies_of(cudaGraphNode_t node, std::vector<cudaGraphNode_t>& preds,
                            std::vector<cudaGraphEdgeData>* data) {
  std::size_t n = 0;
  OPARA_CUDA_CHECK(cudaGraphNodeGetDependencies(node, nullptr, nullptr, &n));
  preds.resize(n);
  if (data) data->resize(n);
  if (n == 0) return;  // a non-null array with a count of 0 is cudaErrorInvalidValue (CUDA 13)
  OPARA_CUDA_CHECK(cudaGraphNodeGetDependencies(node, preds.data(), data ? data->data() : nullptr, &n));
  preds.resize(n);
  if (data) data->resize(n);
}

//! The graph nodes each operator added, top level (a child-graph node counts as one node).
class operator_nodes {
public:
  explicit operator_nodes(std::size_t num_operators) : of_(num_operators) {}

  //! Records `node` as operator v's.
  void add(node_id v, cudaGraphNode_t node) {
    of_[v].push_back(node);
    owner_.emplace(node, v);
  }
  //! After operator v was launched on capturing stream `s`: every node reachable backwards from
  //! the stream's capture dependencies that no earlier operator owns is v's (launching in plan
  //! order, every earlier node is owned). Throws cuda_error.
  void record_captured(node_id v, cudaStream_t s) {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    const cudaGraphNode_t* deps = nullptr;
    std::size_t count = 0;
    OPARA_CUDA_CHECK(cudaStreamGetCaptureInfo(s, &status, nullptr, nullptr, &deps, nullptr, &count));
    std::vector<cudaGraphNode_t> todo(deps, deps + count), preds;
    while (!todo.empty()) {
      const cudaGraphNode_t node = todo.back();
      todo.pop_back();
      if (owner_.contains(node)) continue;
      add(v, node);
      dependencies_of(node, preds, nullptr);
      todo.insert(todo.end(), preds.begin(), preds.end());
    }
  }
  [[nodiscard]] std::span<const cudaGraphNode_t> of(node_id v) const noexcept { return of_[v]; }
  //! The operator that made `node`, or no_node.
  [[nodiscard]] node_id owner(cudaGraphNode_t node) const {
    const auto it = owner_.find(node);
    return it == owner_.end() ? no_node : it->second;
  }

private:
  std::vector<std::vector<cudaGraphNode_t>> of_;
  std::unordered_map<cudaGraphNode_t, node_id> owner_;
};

inline bool is_kernel_node(cudaGraphNode_t node) {
  cudaGraphNodeType type{};
  OPARA_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
  return type == cudaGraphNodeTypeKernel;
}

//! The edge data of a programmatic dependency (the producer may trigger early; the consumer waits).
inline cudaGraphEdgeData programmatic_edge() noexcept {
  cudaGraphEdgeData e{};
  e.type = cudaGraphDependencyTypeProgrammatic;
  e.from_port = cudaGraphKernelNodePortProgrammatic;
  return e;
}

//! Turns full edges into a kernel node of a declaring operator from a kernel node of another
//! operator into programmatic ones: every such edge (capture::programmatic_scope::all), or only the one from
//! the operator just before on the consumer's stream in plan p (stream_order). Returns how many
//! edges changed. Throws cuda_error.
template <cuda_operator_graph G>
std::size_t make_programmatic_edges(const G& g, const plan& p, capture::programmatic_scope scope, cudaGraph_t graph,
                                    const operator_nodes& nodes) {
  std::size_t changed = 0;
  std::vector<cudaGraphNode_t> preds;
  std::vector<cudaGraphEdgeData> data;
  const cudaGraphEdgeData programmatic = programmatic_edge();
  const std::vector<node_id> previous = scope == capture::programmatic_scope::stream_order ? previous_on_stream(p) : std::vector<node_id>{};
  for (node_id v = 0; v < graph_traits<G>::num_nodes(g); ++v) {
    if (!declares_programmatic(g, v)) continue;
    for (cudaGraphNode_t node : nodes.of(v)) {
      if (!is_kernel_node(node)) continue;
      dependencies_of(node, preds, &data);
      for (std::size_t i = 0; i < preds.size(); ++i) {
        const node_id producer = nodes.owner(preds[i]);
        if (producer == v || producer == no_node || data[i].type != cudaGraphDependencyTypeDefault ||
            data[i].from_port != cudaGraphKernelNodePortDefault || !is_kernel_node(preds[i]))
          continue;
        if (scope == capture::programmatic_scope::stream_order && (v >= previous.size() || previous[v] != producer)) continue;
        OPARA_CUDA_CHECK(cudaGraphRemoveDependencies(graph, &preds[i], &node, &data[i], 1));
        OPARA_CUDA_CHECK(cudaGraphAddDependencies(graph, &preds[i], &node, &programmatic, 1));
        ++changed;
      }
    }
  }
  return changed;
}

//! Which operators lie on or near a critical path: top level + cost + bottom level (the longest
//! path through the operator) at least (1 - slack) times the longest path. Unit costs when `cost`
//! is empty. Throws opara::error for a cost vector of the wrong size or a bad cost or slack.
inline std::vector<bool> near_critical(const graph& g, std::span<const double> cost, double slack) {
  if (!(slack >= 0 && slack <= 1))
    throw error("opara: capture::options::priority_slack is " + std::to_string(slack) + " (it must lie in [0, 1])");
  const std::vector<double> unit(cost.empty() ? g.num_nodes() : 0, 1.0);
  if (cost.empty()) cost = unit;
  const auto top = top_levels(g, cost);
  const auto bottom = bottom_levels(g, cost);  // includes the node's own cost
  double longest = 0;
  for (node_id v = 0; v < g.num_nodes(); ++v) longest = std::max(longest, top[v] + bottom[v]);
  std::vector<bool> critical(g.num_nodes());
  for (node_id v = 0; v < g.num_nodes(); ++v) critical[v] = top[v] + bottom[v] >= (1 - slack) * longest;
  return critical;
}

//! The top-level nodes of `graph`. Throws cuda_error.
inline std::vector<cudaGraphNode_t> top_level_nodes(cudaGraph_t graph) {
  std::size_t n = 0;
  OPARA_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  if (n > 0) OPARA_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &n));  // see dependencies_of
  nodes.resize(n);
  return nodes;
}

//! Calls f(kernel_node) for `node` when it is a kernel node, and for every kernel node inside it
//! when it is a child graph node (at any depth). Throws cuda_error.
template <class F>
void for_each_kernel_node(cudaGraphNode_t node, F&& f) {
  cudaGraphNodeType type{};
  OPARA_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
  if (type == cudaGraphNodeTypeKernel) {
    f(node);
  } else if (type == cudaGraphNodeTypeGraph) {
    cudaGraph_t child = nullptr;
    OPARA_CUDA_CHECK(cudaGraphChildGraphNodeGetGraph(node, &child));
    for (cudaGraphNode_t inner : top_level_nodes(child)) for_each_kernel_node(inner, f);
  }
}

//! Sets the launch priority of every kernel node of `graph`'s node `node` (descending into child
//! graphs). Throws cuda_error.
inline void set_kernel_priority(cudaGraphNode_t node, int priority) {
  for_each_kernel_node(node, [priority](cudaGraphNode_t kernel) {
    cudaLaunchAttributeValue value{};
    value.priority = priority;
    OPARA_CUDA_CHECK(cudaGraphKernelNodeSetAttribute(kernel, cudaLaunchAttributePriority, &value));
  });
}

//! Sets the preferred shared-memory carveout (percent of the unified L1/shared memory) of every
//! kernel node of `graph`, child graphs included. Throws cuda_error.
inline void set_shared_carveout(cudaGraph_t graph, int percent) {
  for (cudaGraphNode_t node : top_level_nodes(graph))
    for_each_kernel_node(node, [percent](cudaGraphNode_t kernel) {
      cudaLaunchAttributeValue value{};
      value.sharedMemCarveout = static_cast<unsigned>(percent);
      OPARA_CUDA_CHECK(cudaGraphKernelNodeSetAttribute(kernel, cudaLaunchAttributePreferredSharedMemoryCarveout, &value));
    });
}

} // namespace detail
} // namespace opara
