#pragma once
//! capture::explicit_graph — builds the CUDA graph node by node (Taskflow >= 3.10's way): each
//! operator is captured alone into a child graph, which is added as a child-graph node with
//! explicit dependency edges; the runtime maps the nodes onto hardware queues itself. With
//! options::programmatic or ::priorities, an operator that captured exactly one kernel is
//! added as a kernel node instead (a programmatic edge joins two kernel nodes).

#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/detail/common.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/error.hpp>

#include <string>
#include <vector>

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

  //! Its label, for autotune and reports: "explicit_graph", or "explicit_graph(dag)" with the
  //! graph's own edges.
  [[nodiscard]] std::string label() const { return std::string(name) + (edges == edge_source::dag ? "(dag)" : ""); }

  //! Builds and instantiates the graph for g as planned by p. `s` is not captured (each operator
  //! is captured alone on an internal stream). Throws capture_error naming a failing operator
  //! (everything built so far is released), invalid_plan when p does not have the shape of a plan
  //! for g or launches an operator before one of its producers, cuda_error otherwise. The
  //! executable can be updated (executable::update builds again with this policy and `o`).
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t s, const options& o = {}) const {
    return detail::updatable_executable(*this, g, p, build(g, p, s, o), o);
  }

  //! capture() with g already converted (`compact`, what the scheduler passes): priorities read
  //! it instead of converting g again.
  template <cuda_operator_graph G>
  executable capture(const G& g, const opara::graph& compact, const plan& p, cudaStream_t /*s*/, const options& o) const {
    return detail::updatable_executable(*this, g, p, build_on(g, &compact, p, o), o);
  }

  //! What this capture is told apart by (options.hpp): its label and the options.
  [[nodiscard]] capture::key key(const options& o) const { return make_key(label(), o); }

  //! capture() without the instantiation: the graph, split into its launch segments, and the flags
  //! to instantiate them with (what executable::update needs). Throws like capture().
  template <cuda_operator_graph G>
  captured_graph build(const G& g, const plan& p, cudaStream_t /*s*/, const options& o = {}) const {
    return build_on(g, nullptr, p, o);
  }

private:
  //! build(); `compact`: g converted, or null (converted here when priorities need it).
  template <cuda_operator_graph G>
  captured_graph build_on(const G& g, const opara::graph* compact, const plan& p, const options& o) const {
    const std::size_t n = graph_traits<G>::num_nodes(g);
    detail::check_capture_inputs(p, n, name, o);
    const auto start = std::chrono::steady_clock::now();
    (void)cudaGetLastError();
    const std::vector<std::vector<node_id>> producers =
        edges == edge_source::dag ? predecessor_lists(g, n) : std::vector<std::vector<node_id>>{};
    // Launch segments are cut where the graph's edges add no dependency: the plan's own, or the DAG's.
    const std::vector<std::size_t> cuts =
        detail::launch_cuts(edges == edge_source::dag ? dag_dependencies(p, producers) : p, o);

    auto top = cuda::graph_handle::create();
    auto capture_stream = cuda::stream_handle::create();
    std::vector<cudaGraphNode_t> node_of(n, nullptr);
    std::vector<cudaGraphNode_t> last_on(p.num_streams, nullptr);
    std::vector<cudaGraphNode_t> deps;
    const bool node_options = detail::wants_node_options(g, o);
    const bool attribute = node_options || !cuts.empty();  // which operator made each node
    detail::operator_nodes nodes(attribute ? n : 0);
    for (node_id v : p.order) {
      cuda::graph_handle child = capture_alone(g, v, capture_stream.get(), o);
      deps.clear();
      if (edges == edge_source::plan) {
        if (cudaGraphNode_t previous = last_on[p.stream_of[v]]) deps.push_back(previous);
        for (node_id u : p.waits_of(v)) deps.push_back(node_of[u]);
      } else {
        for (node_id u : producers[v]) deps.push_back(node_of[u]);
      }
      for (cudaGraphNode_t dep : deps)
        if (dep == nullptr)
          throw invalid_plan("opara::capture::explicit_graph: the plan launches '" + node_name(g, v) +
                           "' before one of its producers (the order is not topological)");
      cudaGraphNode_t node = nullptr;
      const std::size_t child_nodes = child.num_nodes();
      if (child_nodes == 0) {
        OPARA_CUDA_CHECK(cudaGraphAddEmptyNode(&node, top.get(), deps.data(), deps.size()));
      } else if (cudaGraphNode_t kernel = node_options && child_nodes == 1 ? only_kernel(child.get()) : nullptr) {
        node = add_kernel_copy(top.get(), deps, kernel);
      } else {
        OPARA_CUDA_CHECK(cudaGraphAddChildGraphNode(&node, top.get(), deps.data(), deps.size(), child.get()));
      }
      if (attribute) nodes.add(v, node);
      node_of[v] = node;
      last_on[p.stream_of[v]] = node;
    }
    detail::apply_shared_carveout(top.get(), o);
    const unsigned long long flags = node_options ? detail::apply_node_options(g, compact, p, top.get(), nodes, o) : 0;
    return detail::split_captured(
        p, std::move(top),
        detail::plan_stats(p, std::string(name) + (edges == edge_source::dag ? "(dag)" : "(plan)"), start), flags,
        attribute ? &nodes : nullptr, cuts);
  }

  //! The node of a one-node graph when it is a kernel node, else null. Throws cuda_error.
  static cudaGraphNode_t only_kernel(cudaGraph_t child) {
    cudaGraphNode_t node = nullptr;
    std::size_t count = 1;
    OPARA_CUDA_CHECK(cudaGraphGetNodes(child, &node, &count));
    return count == 1 && detail::is_kernel_node(node) ? node : nullptr;
  }

  //! Adds a copy of kernel node `kernel` (parameters and launch attributes, e.g. its cluster shape)
  //! to `top` after `deps`: a kernel node, unlike a child graph, can take programmatic edges.
  //! Throws cuda_error.
  static cudaGraphNode_t add_kernel_copy(cudaGraph_t top, const std::vector<cudaGraphNode_t>& deps,
                                         cudaGraphNode_t kernel) {
    cudaKernelNodeParams params{};
    OPARA_CUDA_CHECK(cudaGraphKernelNodeGetParams(kernel, &params));
    cudaGraphNode_t node = nullptr;
    OPARA_CUDA_CHECK(cudaGraphAddKernelNode(&node, top, deps.data(), deps.size(), &params));
    OPARA_CUDA_CHECK(cudaGraphKernelNodeCopyAttributes(node, kernel));
    return node;
  }

  //! A plan with p's order whose dependencies are the graph's edges (each operator on a stream of
  //! its own, waiting for its producers): what the graph built with edge_source::dag holds, for
  //! finding its free cuts.
  static plan dag_dependencies(const plan& p, const std::vector<std::vector<node_id>>& producers) {
    plan d;
    d.order = p.order;
    const std::size_t n = producers.size();
    d.num_streams = static_cast<std::uint32_t>(n);
    d.stream_of.resize(n);
    d.wait_begin.assign(n + 1, 0);
    for (node_id v = 0; v < n; ++v) {
      d.stream_of[v] = v;
      d.wait_on.insert(d.wait_on.end(), producers[v].begin(), producers[v].end());
      d.wait_begin[v + 1] = static_cast<std::uint32_t>(d.wait_on.size());
    }
    return d;
  }

  //! Each node's producers, read from the graph's successor lists (no conversion to opara::graph:
  //! the scheduler has already converted and checked it once). Throws bad_graph for a successor
  //! id outside the graph; cycles and self-loops surface as a launch before a producer.
  template <class G>
  static std::vector<std::vector<node_id>> predecessor_lists(const G& g, std::size_t n) {
    std::vector<std::vector<node_id>> producers(n);
    for (node_id u = 0; u < n; ++u) {
      for (auto successor : graph_traits<G>::successors(g, u)) {
        const auto consumer = static_cast<std::size_t>(successor);
        if (consumer >= n)
          throw bad_graph("opara::capture::explicit_graph: operator '" + node_name(g, u) + "' has successor " +
                          std::to_string(consumer) + ", but the graph has " + std::to_string(n) + " operators");
        producers[consumer].push_back(u);
      }
    }
    return producers;
  }

  //! Captures operator v alone on `capture_stream` into its own graph.
  template <class G>
  static cuda::graph_handle capture_alone(const G& g, node_id v, cudaStream_t capture_stream, const options& o) {
    constexpr std::string_view stage = "explicit graph capture";
    OPARA_CUDA_CHECK(cudaStreamBeginCapture(capture_stream, to_cuda(o.mode)));
    try {
      detail::capture_state before;
      if (const cudaError_t e = detail::query_capture(capture_stream, before); e != cudaSuccess) {
        (void)cudaGetLastError();
        throw detail::operator_failure(g, v, e, "cannot query the capture state of its stream", stage);
      }
      detail::launch_guarded(g, v, capture_stream, o.nvtx, stage);
      detail::check_captured(g, v, capture_stream, before, o.require_work, stage);
    } catch (...) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(capture_stream, &partial);
      if (partial) (void)cudaGraphDestroy(partial);
      (void)cudaGetLastError();
      throw;
    }
    cudaGraph_t child = nullptr;
    if (const cudaError_t e = cudaStreamEndCapture(capture_stream, &child); e != cudaSuccess) {
      (void)cudaGetLastError();
      if (child) (void)cudaGraphDestroy(child);
      throw detail::operator_failure(g, v, e, "ending its capture failed", stage);
    }
    return cuda::graph_handle(child);
  }
};

} // namespace opara::capture
