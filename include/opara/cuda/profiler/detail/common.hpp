#pragma once
//! What opara's profilers share (internals; a profiler of your own needs only concept.hpp): the
//! profiling runs (warm-up, then each operator launched alone, in topological order, on one
//! stream), the empty profile to fill, and the boundness of the operators measured (the user's
//! hint, else opara's one rule, classify_bound).

#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <concepts>
#include <span>

namespace opara::cuda::detail {

//! Calls `body(compact)` with g as an opara::graph: g itself when it is one, else to_graph(g), so
//! that a compile (or a profiling call) converts the user's graph once.
template <class G, class Body>
decltype(auto) with_compact_graph(const G& g, Body&& body) {
  if constexpr (std::same_as<G, opara::graph>) return body(g);
  else return body(to_graph(g));
}

//! The operator runs of one profiling session: `warm_up` first, then `run` launches every
//! operator of g once, alone, in topological order on `stream`, and waits for the stream.
template <cuda_operator_graph G>
class profiling_runs {
public:
  //! Throws bad_policy for unusable options.
  profiling_runs(const G& g, const opara::graph& compact, cudaStream_t stream, const profiler::options& options)
      : graph_(g), order_(compact.topological_order()), stream_(stream), options_(options) {
    profiler::check_options(options);
  }

  //! The unprofiled runs. Throws capture_error naming a failing operator, cuda_error.
  void warm_up() const {
    (void)cudaGetLastError();  // an earlier, unrelated failure must not be blamed on an operator
    for (int run = 0; run < options_.warmup; ++run) {
      for (node_id v : order_) launch(v, /*nvtx=*/false);
      OPARA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  }

  //! One profiled run: `around(v, launch)` for each operator v, where calling `launch()` launches
  //! v; then waits for the stream. Throws capture_error naming a failing operator, cuda_error.
  template <class Around>
  void run(Around&& around) const {
    for (node_id v : order_) around(v, [&] { launch(v, options_.nvtx); });
    OPARA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  [[nodiscard]] int iterations() const noexcept { return options_.iterations; }
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

private:
  void launch(node_id v, bool nvtx) const { cuda::launch_guarded(graph_, v, stream_, nvtx, "profiling"); }

  const G& graph_;
  std::span<const node_id> order_;  // the compact graph's, which outlives these runs
  cudaStream_t stream_;
  profiler::options options_;
};

//! A profile of `compact` on the current device, keyed, with one empty record per operator.
//! Throws cuda_error.
inline profile empty_profile(const opara::graph& compact) {
  profile result;
  result.key = current_key(compact);
  result.limits = current_limits();
  result.ops.assign(compact.num_nodes(), {});
  return result;
}

//! Gives every operator its boundness: the user's hint (launch_traits<G>::bound) where there is
//! one, otherwise opara's one rule (classify_bound, opara/profile/check.hpp).
template <cuda_operator_graph G>
void assign_boundness(profile& measured, const G& g) {
  for (node_id v = 0; v < measured.ops.size(); ++v) {
    measured.ops[v].bound = bound_hint(g, v);
    measured.ops[v].bound = classify_bound(measured.ops[v]);
  }
}

} // namespace opara::cuda::detail
