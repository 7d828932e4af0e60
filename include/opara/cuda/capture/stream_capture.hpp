#pragma once
//! capture::stream_capture — Opara's way of building the graph: capture the caller's stream in
//! global mode, fork every plan stream from one event, launch in plan order with the plan's
//! (pruned) waits, join every stream back, end the capture and instantiate.

#include <opara/cuda/capture/common.hpp>

namespace opara::capture {

//! Builds the CUDA graph by stream capture across the plan's streams.
struct stream_capture {
  static constexpr std::string_view name = "stream_capture";

  //! Captures g as planned by p, starting on `s` (an internal stream is used when `s` is the
  //! legacy default stream, which cannot be captured). Throws capture_error naming the operator
  //! when one fails (the capture is ended, every resource released, `s` is left usable),
  //! bad_policy when p does not fit g, cuda_error for other CUDA failures.
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t s, const capture_options& o = {}) const {
    detail::check_plan_size(p, graph_traits<G>::num_nodes(g), name);
    const auto t0 = std::chrono::steady_clock::now();
    (void)cudaGetLastError();  // an earlier, unrelated failure must not be blamed on an operator
    auto res = detail::plan_resources::create(p);
    cuda::stream own;
    if (s == nullptr || s == cudaStreamLegacy) {
      own = cuda::stream::create();
      s = own.get();
    }
    OPARA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    cudaGraph_t raw = nullptr;
    try {
      detail::launch_plan(g, p, res, s, o, /*capturing=*/true, "stream capture");
    } catch (...) {
      abort(s, res);
      throw;
    }
    if (const cudaError_t e = cudaStreamEndCapture(s, &raw); e != cudaSuccess) {
      (void)cudaGetLastError();
      if (raw) OPARA_CUDA_CHECK_NOTHROW(cudaGraphDestroy(raw));
      throw capture_error(std::string("opara: cudaStreamEndCapture failed: ") + cudaGetErrorName(e) + " (" +
                              cudaGetErrorString(e) + ")",
                          static_cast<node_id>(p.num_nodes()), "", e);
    }
    cuda::graph graph(raw);
    return detail::instantiate_executable(p, std::move(graph), detail::plan_stats(p, std::string(name), t0));
  }

private:
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
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(s, &st) == cudaSuccess && st != cudaStreamCaptureStatusNone)
      std::fputs("opara: stream_capture: the caller's stream is still capturing after an aborted capture\n", stderr);
    (void)cudaGetLastError();
  }
};

} // namespace opara::capture
