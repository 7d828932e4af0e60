#pragma once
//! What every profiler shares (link opara::cuda; nothing here needs CUPTI): profiler_options, the
//! profiler_policy concept and profiler::none, the profiling runs (warm-up, then each operator
//! launched alone, in topological order, on one stream), the boundness of the operators measured
//! (the user's hint, else opara's one rule, classify_bound),
//! and the reuse of a profile saved earlier for this device and graph.
//!
//! A profiler policy P (the fourth template parameter of opara::scheduler) says how a graph is
//! measured:
//!   static constexpr std::string_view name;
//!   static constexpr bool measures;      // false: never measures (profiler::none)
//!   static profile measure(const G&, const opara::graph& compact, cudaStream_t,
//!                          const cuda::profiler_options&);            // only when `measures`
//! opara's are profiler::cupti (opara/cuda/profiler/cupti.hpp, link opara::cupti),
//! profiler::events (opara/cuda/profiler/events.hpp) and profiler::none (here).

#include <opara/cuda/capture/common.hpp>
#include <opara/cuda/device.hpp>
#include <opara/cuda/error.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <concepts>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace opara {

namespace cuda {

//! How a profiler runs the graph (part of scheduler_options and autotune_options).
struct profiler_options {
  int warmup = 1;      //!< unprofiled runs first (module loading, allocator warm-up); at least 0
  int iterations = 3;  //!< profiled runs; durations are averaged over them; at least 1
  bool nvtx = false;   //!< an NVTX range per operator
  bool require_cupti = false;  //!< profiler::cupti throws profiler_unavailable instead of falling back
                               //!< to event timing when CUPTI cannot be used (another CUPTI client,
                               //!< no permission)
};

//! profiler::cupti could not use CUPTI and profiler_options::require_cupti forbade the event-timing
//! fallback. The message says why (e.g. another CUPTI client, such as Nsight Systems, holds it).
class profiler_unavailable : public error {
public:
  using error::error;
};

//! Throws bad_policy naming the field when `options` cannot be carried out.
inline void check_profiler_options(const profiler_options& options) {
  if (options.warmup < 0)
    throw bad_policy("opara: profiler_options::warmup is " + std::to_string(options.warmup) + "; it must be 0 or more");
  if (options.iterations < 1)
    throw bad_policy("opara: profiler_options::iterations is " + std::to_string(options.iterations) +
                     "; at least one profiled run is needed");
}

namespace detail {

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
  profiling_runs(const G& g, const opara::graph& compact, cudaStream_t stream, const profiler_options& options)
      : graph_(g), order_(compact.topological_order()), stream_(stream), options_(options) {
    check_profiler_options(options);
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
  void launch(node_id v, bool nvtx) const { opara::detail::launch_guarded(graph_, v, stream_, nvtx, "profiling"); }

  const G& graph_;
  std::span<const node_id> order_;  // the compact graph's, which outlives these runs
  cudaStream_t stream_;
  profiler_options options_;
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

} // namespace detail

//! Profiles g with profiler policy P (converting g to opara::graph once), e.g.
//! `cuda::measure<profiler::events>(g, stream)`. Throws what P::measure throws.
template <class P, cuda_operator_graph G>
  requires(P::measures)
[[nodiscard]] opara::profile measure(const G& g, cudaStream_t stream, const profiler_options& options = {}) {
  return detail::with_compact_graph(
      g, [&](const opara::graph& compact) { return P::measure(g, compact, stream, options); });
}

//! Loads a saved profile and checks that it belongs to the current device and driver, to `compact`
//! (the converted graph) and to `user_key`. Throws profile_mismatch naming the differing field,
//! opara::error when the file cannot be read, parse_error for a malformed file, cuda_error.
[[nodiscard]] inline opara::profile load_profile_for(const std::filesystem::path& path, const opara::graph& compact,
                                                     std::string_view user_key = {}) {
  opara::profile loaded = load_profile(path);
  check_profile(loaded, current_key(compact, user_key), compact.num_nodes(), "the saved profile " + path.string());
  return loaded;
}

//! As above for any operator graph (converted with to_graph).
template <operator_graph G>
  requires(!std::same_as<G, opara::graph>)
[[nodiscard]] opara::profile load_profile_for(const std::filesystem::path& path, const G& g,
                                              std::string_view user_key = {}) {
  return load_profile_for(path, to_graph(g), user_key);
}

//! The profile saved at `path` when there is one for the current device and driver, `compact` and
//! `user_key`; nothing when no file is there, and nothing either (said on stderr: the caller
//! profiles again and replaces it) when it is torn, foreign, of an older format or of another
//! device, driver, graph or key (load_reusable_profile). Throws opara::error naming the path when
//! it cannot be examined, cuda_error.
[[nodiscard]] inline std::optional<opara::profile> load_saved_profile(const std::filesystem::path& path,
                                                                      const opara::graph& compact,
                                                                      std::string_view user_key = {}) {
  return load_reusable_profile(path, current_key(compact, user_key), compact.num_nodes());
}

} // namespace cuda

namespace profiler {

//! A profiler policy (see the file comment): named, says whether it measures, and measures G
//! when it does.
template <class P, class G>
concept profiler_policy =
    cuda_operator_graph<G> && requires {
      { P::name } -> std::convertible_to<std::string_view>;
      { P::measures } -> std::convertible_to<bool>;
    } && (!P::measures || requires(const G& g, const opara::graph& compact, cudaStream_t stream,
                                   const cuda::profiler_options& options) {
      { P::measure(g, compact, stream, options) } -> std::same_as<opara::profile>;
    });

//! Never measures: plans use the profile the caller gives, the one saved at
//! scheduler_options::profile_path (taken earlier, say with CUPTI, on this device for this graph),
//! or none (an order policy that needs one then throws bad_policy). Needs no CUPTI and no GPU time.
struct none {
  static constexpr std::string_view name = "none";
  static constexpr bool measures = false;
};

} // namespace profiler
} // namespace opara
