#pragma once
//! capture::stream_capture — Opara's way of building the graph: capture the caller's stream (in
//! options::mode, thread-local by default), fork every plan stream from one event, launch
//! in plan order with the plan's (pruned) waits, join every stream back, end the capture and
//! instantiate.

#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/detail/common.hpp>
#include <opara/cuda/capture/options.hpp>

#include <optional>
#include <vector>

namespace opara::capture {

//! Builds the CUDA graph by stream capture across the plan's streams.
struct stream_capture {
  static constexpr std::string_view name = "stream_capture";

  //! Captures g as planned by p, starting on `s` (an internal stream is used when `s` is the
  //! legacy default stream, which cannot be captured). Throws capture_error naming the operator
  //! when one fails (the capture is ended, every resource released, `s` is left usable),
  //! invalid_plan when p does not have the shape of a plan for g, cuda_error for other CUDA failures.
  //! With o.programmatic or o.priorities, each operator's nodes are found during capture (the nodes
  //! behind its stream's capture dependencies that no earlier operator made) and edited afterwards;
  //! with o.launch_segments, the same attribution splits the graph. The executable can be updated
  //! (executable::update captures again with this policy and `o`).
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t s, const options& o = {}) const {
    return detail::updatable_executable(*this, g, p, build(g, p, s, o), o);
  }

  //! capture() with g already converted (`compact`, what the scheduler passes): priorities read
  //! it instead of converting g again.
  template <cuda_operator_graph G>
  executable capture(const G& g, const opara::graph& compact, const plan& p, cudaStream_t s, const options& o) const {
    detail::check_capture_inputs(p, graph_traits<G>::num_nodes(g), name, o);
    const auto res = detail::plan_resources::create(p);
    return detail::updatable_executable(*this, g, p, build_on(g, &compact, p, s, o, res), o);
  }

  //! What this capture is told apart by (options.hpp).
  [[nodiscard]] capture::key key(const options& o) const { return make_key(std::string(name), o); }

  //! capture() without the instantiation: the graph, split into its launch segments, and the flags
  //! to instantiate them with (what executable::update needs). Throws like capture().
  template <cuda_operator_graph G>
  captured_graph build(const G& g, const plan& p, cudaStream_t s, const options& o = {}) const {
    detail::check_capture_inputs(p, graph_traits<G>::num_nodes(g), name, o);
    const auto res = detail::plan_resources::create(p);
    return build(g, p, s, o, res);
  }

  //! build() with the side streams and events of an earlier detail::plan_resources::create(p),
  //! which executable::update keeps from one update to the next (creating them costs microseconds
  //! per stream). They must not be in use by another capture meanwhile. Throws like capture().
  template <cuda_operator_graph G>
  captured_graph build(const G& g, const plan& p, cudaStream_t s, const options& o,
                       const detail::plan_resources& res) const {
    detail::check_capture_inputs(p, graph_traits<G>::num_nodes(g), name, o);
    return build_on(g, nullptr, p, s, o, res);
  }

private:
  //! build() after the checks; `compact`: g converted, or null (converted here when priorities need it).
  template <cuda_operator_graph G>
  captured_graph build_on(const G& g, const opara::graph* compact, const plan& p, cudaStream_t s, const options& o,
                          const detail::plan_resources& res) const {
    const std::vector<std::size_t> cuts = detail::launch_cuts(p, o);
    const auto start = std::chrono::steady_clock::now();
    (void)cudaGetLastError();  // an earlier, unrelated failure must not be blamed on an operator
    cuda::stream_handle own;
    if (s == nullptr || s == cudaStreamLegacy) {
      own = cuda::stream_handle::create();
      s = own.get();
    }
    std::optional<detail::operator_nodes> nodes;
    const bool node_options = detail::wants_node_options(g, o);
    if (node_options || !cuts.empty()) nodes.emplace(p.num_nodes());
    OPARA_CUDA_CHECK(cudaStreamBeginCapture(s, to_cuda(o.mode)));
    cudaGraph_t raw = nullptr;
    try {
      detail::launch_plan(g, p, res, s, o, /*capturing=*/true, "stream capture", nodes ? &*nodes : nullptr);
    } catch (...) {
      abort(s, res);
      throw;
    }
    if (const cudaError_t status = cudaStreamEndCapture(s, &raw); status != cudaSuccess) {
      (void)cudaGetLastError();
      if (raw) OPARA_CUDA_CHECK_NOTHROW(cudaGraphDestroy(raw));
      throw capture_error(std::string("opara: cudaStreamEndCapture failed: ") + cudaGetErrorName(status) + " (" +
                              cudaGetErrorString(status) + ")",
                          no_node, "", status);
    }
    cuda::graph_handle captured(raw);
    detail::apply_shared_carveout(captured.get(), o);
    const unsigned long long flags = node_options ? detail::apply_node_options(g, compact, p, captured.get(), *nodes, o) : 0;
    return detail::split_captured(p, std::move(captured), detail::plan_stats(p, std::string(name), start), flags,
                                  nodes ? &*nodes : nullptr, cuts);
  }

  //! Ends a broken capture: joins what can be joined, ends the capture, drops the partial graph,
  //! clears the last error. Never throws.
  static void abort(cudaStream_t s, const detail::plan_resources& res) noexcept {
    for (std::size_t i = 0; i < res.side.size(); ++i) {
      if (cudaEventRecord(res.join[i], res.side[i]) == cudaSuccess) (void)cudaStreamWaitEvent(s, res.join[i], 0);
    }
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(s, &partial);
    if (partial) (void)cudaGraphDestroy(partial);
    (void)cudaGetLastError();
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone)
      std::fputs("opara: stream_capture: the caller's stream is still capturing after an aborted capture\n", stderr);
    (void)cudaGetLastError();
  }
};

} // namespace opara::capture
