#pragma once
//! The event-timing profiler (link opara::cuda; no CUPTI): times each operator between two CUDA
//! events, averaged over the profiled runs. It gives durations only (profile.source == "events", no
//! kernel records), so boundness comes from the user's hints alone. It is also what the CUPTI
//! profiler falls back to when CUPTI cannot be initialized. Threads: each call uses its own events
//! and the caller's stream, so several threads may profile at once (other threads' kernels on the
//! same GPU lengthen the measured durations, not the records).

#include <opara/cuda/error.hpp>
#include <opara/cuda/handles.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/cuda/profiler/common.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <string_view>
#include <vector>

namespace opara::profiler {

//! Event timing: operator durations only, no CUPTI needed (see the file comment). From the user's
//! graph alone: cuda::measure<profiler::events>(g, stream).
struct events {
  static constexpr std::string_view name = "events";
  static constexpr bool measures = true;

  //! Profiles g (whose converted form is `compact`) by timing each operator alone with CUDA
  //! events on `stream`. Throws bad_policy for unusable options, capture_error naming an operator
  //! that fails, cuda_error for other CUDA failures.
  template <cuda_operator_graph G>
  static opara::profile measure(const G& g, const opara::graph& compact, cudaStream_t stream,
                                const cuda::profiler_options& options) {
    const cuda::detail::profiling_runs<G> runs(g, compact, stream, options);
    opara::profile measured = cuda::detail::empty_profile(compact);
    const std::size_t num_nodes = compact.num_nodes();
    runs.warm_up();
    std::vector<cuda::event_handle> start, stop;
    start.reserve(num_nodes);
    stop.reserve(num_nodes);
    for (std::size_t i = 0; i < num_nodes; ++i) {
      start.push_back(cuda::event_handle::create(cudaEventDefault));
      stop.push_back(cuda::event_handle::create(cudaEventDefault));
    }
    std::vector<double> total_us(num_nodes, 0.0);
    for (int run = 0; run < runs.iterations(); ++run) {
      runs.run([&](node_id v, auto&& launch) {
        start[v].record(stream);
        launch();
        stop[v].record(stream);
      });
      for (node_id v = 0; v < num_nodes; ++v) {
        float elapsed_ms = 0;
        OPARA_CUDA_CHECK(cudaEventElapsedTime(&elapsed_ms, start[v], stop[v]));
        total_us[v] += 1000.0 * elapsed_ms;
      }
    }
    for (node_id v = 0; v < num_nodes; ++v) measured.ops[v].duration_us = total_us[v] / runs.iterations();
    measured.source = "events";
    cuda::detail::assign_boundness(measured, g);
    return measured;
  }
};

} // namespace opara::profiler
