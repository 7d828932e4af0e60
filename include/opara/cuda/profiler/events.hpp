#pragma once
//! The event-timing profiler (link opara::cuda; no CUPTI): times each operator between two CUDA
//! events, averaged over the profiled runs. It gives durations only (profile.source == "events", no
//! kernel records), so boundness comes from the user's hints alone. It is also what the CUPTI
//! profiler falls back to when CUPTI cannot be initialized. Threads: each call uses its own events
//! and the caller's stream, so several threads may profile at once (other threads' kernels on the
//! same GPU lengthen the measured durations, not the records).

#include <opara/cuda/profiler/detail/common.hpp>
#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
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
                                const options& options) {
    const cuda::detail::profiling_runs<G> runs(g, compact, stream, options);
    opara::profile measured = cuda::detail::empty_profile(compact);
    const std::size_t num_nodes = compact.num_nodes();
    runs.warm_up();
    std::vector<cuda::timed_event> start(num_nodes), stop(num_nodes);
    std::vector<double> total_us(num_nodes, 0.0);
    for (int run = 0; run < runs.iterations(); ++run) {
      runs.run([&](node_id v, auto&& launch) {
        start[v].record(stream);
        launch();
        stop[v].record(stream);
      });
      for (node_id v = 0; v < num_nodes; ++v) total_us[v] += (stop[v] - start[v]).count();
    }
    for (node_id v = 0; v < num_nodes; ++v) measured.ops[v].duration_us = total_us[v] / runs.iterations();
    measured.source = "events";
    cuda::detail::assign_boundness(measured, g);
    return measured;
  }
};

} // namespace opara::profiler
