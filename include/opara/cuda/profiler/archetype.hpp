#pragma once
//! The least profiler policy that measures (concept.hpp): a name, `measures`, and a static
//! measure(). It launches each operator once, in topological order, and gives every operator the
//! same duration: the time of the whole run divided by the operator count (one event pair). A
//! profiler of your own starts from here; checking it:
//!   static_assert(opara::profiler::profiler_policy<my_profiler, my_graph>);

#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <string_view>

namespace opara::profiler {

struct archetype {
  static constexpr std::string_view name = "archetype";
  static constexpr bool measures = true;

  //! One keyed record per operator of `compact`, each with the run's mean operator time. Throws
  //! bad_policy for unusable options, capture_error naming a failing operator, cuda_error.
  template <cuda_operator_graph G>
  static opara::profile measure(const G& g, const opara::graph& compact, cudaStream_t stream, const options& o) {
    check_options(o);
    opara::profile measured;
    measured.key = cuda::current_key(compact);
    measured.limits = cuda::current_limits();
    measured.ops.assign(compact.num_nodes(), {});
    if (compact.num_nodes() == 0) return measured;
    const cuda::gpu_duration run = cuda::time_on(stream, [&] {
      for (node_id v : compact.topological_order()) cuda::launch_guarded(g, v, stream, o.nvtx, "profiling");
    });
    for (operator_record& op : measured.ops) op.duration_us = run.count() / static_cast<double>(compact.num_nodes());
    measured.source = "archetype";
    return measured;
  }
};

} // namespace opara::profiler
