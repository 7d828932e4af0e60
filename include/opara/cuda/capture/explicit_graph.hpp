#pragma once
//! capture::explicit_graph — builds the CUDA graph node by node (Taskflow >= 3.10's way): each
//! operator is captured alone into a child graph, which is added as a child-graph node with
//! explicit dependency edges; the runtime maps the nodes onto hardware queues itself.

#include <opara/cuda/capture/common.hpp>
#include <opara/graph/graph.hpp>

#include <optional>

namespace opara::capture {

//! Where explicit_graph takes its dependency edges from.
enum class edge_source : std::uint8_t {
  plan,  //!< the plan's waits plus stream order: the same dependencies stream_capture produces
  dag,   //!< the graph's own edges (every predecessor): ignores the plan's streams entirely
};

//! Builds the CUDA graph with the explicit node API, one child-graph node per operator.
struct explicit_graph {
  static constexpr std::string_view name = "explicit_graph";
  edge_source edges = edge_source::plan;  //!< which dependencies become graph edges

  //! Builds and instantiates the graph for g as planned by p. `s` is not captured (each operator
  //! is captured alone on an internal stream). Throws capture_error naming a failing operator
  //! (everything built so far is released), bad_policy when p does not fit g, cuda_error otherwise.
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t /*s*/, const capture_options& o = {}) const {
    const std::size_t n = graph_traits<G>::num_nodes(g);
    detail::check_plan_size(p, n, name);
    const auto t0 = std::chrono::steady_clock::now();
    (void)cudaGetLastError();
    std::optional<opara::graph> cg;
    if (edges == edge_source::dag) cg.emplace(to_graph(g));

    auto top = cuda::graph::create();
    auto cs = cuda::stream::create();
    std::vector<cudaGraphNode_t> node_of(n, nullptr);
    std::vector<cudaGraphNode_t> last_on(p.num_streams, nullptr);
    std::vector<cudaGraphNode_t> deps;
    for (node_id v : p.order) {
      cuda::graph child = capture_alone(g, v, cs.get(), o);
      deps.clear();
      if (edges == edge_source::plan) {
        if (cudaGraphNode_t prev = last_on[p.stream_of[v]]) deps.push_back(prev);
        for (node_id u : p.waits_of(v)) deps.push_back(node_of[u]);
      } else {
        for (node_id u : cg->predecessors(v)) deps.push_back(node_of[u]);
      }
      for (cudaGraphNode_t d : deps)
        if (d == nullptr)
          throw bad_policy("opara::capture::explicit_graph: the plan launches '" + node_name(g, v) +
                           "' before one of its producers (the order is not topological)");
      cudaGraphNode_t node = nullptr;
      if (child.num_nodes() == 0) {
        OPARA_CUDA_CHECK(cudaGraphAddEmptyNode(&node, top.get(), deps.data(), deps.size()));
      } else {
        OPARA_CUDA_CHECK(cudaGraphAddChildGraphNode(&node, top.get(), deps.data(), deps.size(), child.get()));
      }
      node_of[v] = node;
      last_on[p.stream_of[v]] = node;
    }
    return detail::instantiate_executable(
        p, std::move(top), detail::plan_stats(p, std::string(name) + (edges == edge_source::dag ? "(dag)" : "(plan)"), t0));
  }

private:
  //! Captures operator v alone on `cs` into its own graph.
  template <class G>
  static cuda::graph capture_alone(const G& g, node_id v, cudaStream_t cs, const capture_options& o) {
    constexpr std::string_view stage = "explicit graph capture";
    OPARA_CUDA_CHECK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeGlobal));
    try {
      detail::capture_state before;
      if (const cudaError_t e = detail::query_capture(cs, before); e != cudaSuccess) {
        (void)cudaGetLastError();
        throw detail::operator_failure(g, v, e, "cannot query the capture state of its stream", stage);
      }
      detail::launch_guarded(g, v, cs, o.nvtx, stage);
      detail::check_captured(g, v, cs, before, o.require_work, stage);
    } catch (...) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(cs, &partial);
      if (partial) (void)cudaGraphDestroy(partial);
      (void)cudaGetLastError();
      throw;
    }
    cudaGraph_t child = nullptr;
    if (const cudaError_t e = cudaStreamEndCapture(cs, &child); e != cudaSuccess) {
      (void)cudaGetLastError();
      if (child) (void)cudaGraphDestroy(child);
      throw detail::operator_failure(g, v, e, "ending its capture failed", stage);
    }
    return cuda::graph(child);
  }
};

} // namespace opara::capture
