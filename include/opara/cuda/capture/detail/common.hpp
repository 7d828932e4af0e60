#pragma once
//! What opara's capture policies share (internals; a policy of your own needs only concept.hpp):
//! the code that launches a plan on its streams (fork from one event, per-operator waits, join
//! back), the capture checks, node options, launch segments and instantiation.
//!
//! Threads: a capture policy object holds options only; capture() may be called on one policy
//! object from several threads at once (each call makes its own streams, events and graph). The
//! captured graph (the user's) must not be launched by another thread while it is captured unless
//! its operators are safe to run concurrently (opara calls launch(v, s) from the capturing thread).

#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/detail/node_options.hpp>
#include <opara/cuda/capture/detail/segments.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/handles.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/segments.hpp>
#include <opara/plan/shape.hpp>

#include <cuda_runtime_api.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

namespace capture {
//! The CUDA runtime's name for `mode`.
[[nodiscard]] constexpr cudaStreamCaptureMode to_cuda(capture_mode mode) noexcept {
  switch (mode) {
    case capture_mode::global: return cudaStreamCaptureModeGlobal;
    case capture_mode::relaxed: return cudaStreamCaptureModeRelaxed;
    case capture_mode::per_thread: break;
  }
  return cudaStreamCaptureModeThreadLocal;
}
} // namespace capture

[[deprecated("use opara::capture::to_cuda")]] constexpr cudaStreamCaptureMode to_cuda(capture::capture_mode mode) noexcept {
  return capture::to_cuda(mode);
}

namespace detail {

//! Milliseconds since `start`.
inline double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

//! Build statistics of plan `p` captured by `policy`, capture having started at `start`.
inline capture_stats plan_stats(const plan& p, std::string policy, std::chrono::steady_clock::time_point start) {
  capture_stats stats;
  stats.capture_policy = std::move(policy);
  stats.capture_ms = ms_since(start);
  stats.streams = p.num_streams;
  stats.waits = p.num_waits();
  stats.pruned_waits = p.pruned_waits;
  return stats;
}

//! Where capture::options::launch_segments cuts plan p: launch positions (empty for one graph).
//! Throws invalid_plan for a malformed plan.
inline std::vector<std::size_t> launch_cuts(const plan& p, const capture::options& o) {
  return o.launch_segments > 1 ? segment_cuts(p, static_cast<std::size_t>(o.launch_segments), o.segment_growth)
                               : std::vector<std::size_t>{};
}

//! A built graph as a captured_graph: whole, or split at `cuts` (launch_cuts; `nodes` then says
//! which operator made each node) into launch segments. The split's time counts as instantiation.
//! Throws cuda_error, opara::error when a node belongs to no operator.
inline captured_graph split_captured(const plan& p, cuda::graph_handle whole, capture_stats stats,
                                     unsigned long long flags = 0, const operator_nodes* nodes = nullptr,
                                     const std::vector<std::size_t>& cuts = {}) {
  const auto start = std::chrono::steady_clock::now();
  captured_graph built{std::move(whole), {}, flags, std::move(stats)};
  if (!cuts.empty() && nodes != nullptr)
    built.segments = split_graph(built.whole.get(), *nodes, segment_of(p, cuts), static_cast<std::uint32_t>(cuts.size() + 1));
  built.stats.instantiate_ms = ms_since(start);
  return built;
}

//! Instantiates a captured graph (each launch segment, or the whole graph when it was not split)
//! and wraps it, with its plan and statistics, as an executable. Throws cuda_error.
inline executable instantiate_executable(const plan& p, captured_graph built) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<cuda::graph_exec_handle> instances;
  if (built.segments.empty()) instances.push_back(cuda::graph_exec_handle::instantiate(built.whole.get(), built.instantiate_flags));
  for (const cuda::graph_handle& part : built.segments)
    instances.push_back(cuda::graph_exec_handle::instantiate(part.get(), built.instantiate_flags));
  built.stats.instantiate_ms += ms_since(start);
  built.stats.graph_nodes = built.whole.num_nodes();
  built.stats.segments = instances.size();
  return executable(p, std::move(built.whole), std::move(instances), std::move(built.stats), built.instantiate_flags);
}

//! True when `o` asks for something that needs to know each operator's graph nodes: priorities,
//! or programmatic edges in a graph where some operator declares them.
template <cuda_operator_graph G>
bool wants_node_options(const G& g, const capture::options& o) {
  if (o.priorities) return true;
  if (!o.programmatic) return false;
  for (node_id v = 0; v < graph_traits<G>::num_nodes(g); ++v)
    if (declares_programmatic(g, v)) return true;
  return false;
}

//! Applies capture::options::programmatic and ::priorities (node_options.hpp) to a graph built from
//! plan p whose nodes `nodes` attributes to g's operators. Returns the instantiation flags the graph then needs.
//! Throws cuda_error, opara::error for bad priority costs or slack.
//! `compact` is g converted (the scheduler's); null converts g here, once, when priorities need it.
template <cuda_operator_graph G>
unsigned long long apply_node_options(const G& g, const opara::graph* compact, const plan& p, cudaGraph_t graph,
                                      const operator_nodes& nodes, const capture::options& o) {
  if (o.programmatic) make_programmatic_edges(g, p, o.programmatic_edges, graph, nodes);
  if (!o.priorities) return 0;
  std::optional<opara::graph> converted;
  if (compact == nullptr) compact = &converted.emplace(to_graph(g));
  const auto critical = near_critical(*compact, o.priority_costs, o.priority_slack);
  int least = 0, greatest = 0;
  OPARA_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  for (node_id v = 0; v < critical.size(); ++v)
    if (critical[v])
      for (cudaGraphNode_t node : nodes.of(v)) set_kernel_priority(node, greatest);
  return cudaGraphInstantiateFlagUseNodePriority;
}

//! Throws bad_policy when capture::options::shared_carveout is outside [-1, 100], launch_segments
//! outside [1, 64] or segment_growth outside [1, 1000]: the checks every capture policy makes
//! before capturing.
inline void check_capture_options(const capture::options& o) {
  if (o.shared_carveout < -1 || o.shared_carveout > 100)
    throw bad_policy("opara: capture::options::shared_carveout is " + std::to_string(o.shared_carveout) +
                     " (it must be -1, each kernel's own, or a percentage in [0, 100])");
  if (o.launch_segments < 1 || o.launch_segments > 64)
    throw bad_policy("opara: capture::options::launch_segments is " + std::to_string(o.launch_segments) +
                     " (it must lie in [1, 64]; 1 builds one graph)");
  if (!(o.segment_growth >= 1 && o.segment_growth <= 1000))
    throw bad_policy("opara: capture::options::segment_growth is " + std::to_string(o.segment_growth) +
                     " (it must lie in [1, 1000])");
}

//! Applies capture::options::shared_carveout to every kernel node of a built graph (nothing at -1).
//! Throws cuda_error.
inline void apply_shared_carveout(cudaGraph_t graph, const capture::options& o) {
  if (o.shared_carveout >= 0) set_shared_carveout(graph, o.shared_carveout);
}

//! Streams and events to carry out one plan: side streams 1..n-1 (stream 0 is the caller's), one
//! event after each producer that some consumer waits for, one fork event, one join per side stream.
struct plan_resources {
  std::vector<cuda::stream_handle> side;
  std::vector<cuda::event_handle> done;  // indexed by node id; null where nobody waits
  cuda::event_handle fork;
  std::vector<cuda::event_handle> join;

  //! Creates what `p` needs. Throws cuda_error.
  static plan_resources create(const plan& p) {
    plan_resources created;
    for (std::uint32_t i = 1; i < p.num_streams; ++i) {
      created.side.push_back(cuda::stream_handle::create(cudaStreamNonBlocking));
      created.join.push_back(cuda::event_handle::create());
    }
    created.done.resize(p.num_nodes());
    for (node_id u : p.wait_on)
      if (!created.done[u]) created.done[u] = cuda::event_handle::create();
    created.fork = cuda::event_handle::create();
    return created;
  }
  [[nodiscard]] cudaStream_t stream(stream_id i, cudaStream_t caller) const noexcept {
    return i == 0 ? caller : side[i - 1].get();
  }
};

using cuda::launch_guarded;
using cuda::operator_failure;

//! The dependency set of a capturing stream (what its next node will depend on).
struct capture_state {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  unsigned long long id = 0;
  std::vector<cudaGraphNode_t> deps;
};

inline cudaError_t query_capture(cudaStream_t s, capture_state& out) {
  const cudaGraphNode_t* deps = nullptr;
  std::size_t count = 0;
  const cudaError_t status = cudaStreamGetCaptureInfo(s, &out.status, &out.id, nullptr, &deps, nullptr, &count);
  out.deps.assign(deps, deps + (out.status == cudaStreamCaptureStatusActive ? count : 0));
  return status;
}

//! After operator v returned on capturing stream `s`: the capture must still be active, belong to
//! the same sequence, and (with require_work) have gained a node on `s`.
template <class G>
void check_captured(const G& g, node_id v, cudaStream_t s, const capture_state& before, bool require_work,
                    std::string_view stage) {
  capture_state after;
  if (const cudaError_t e = query_capture(s, after); e != cudaSuccess) {
    (void)cudaGetLastError();
    throw operator_failure(g, v, e, "cannot query the capture state of its stream afterwards", stage);
  }
  if (after.status == cudaStreamCaptureStatusInvalidated)
    throw operator_failure(g, v, cudaErrorStreamCaptureInvalidated,
                           "it invalidated the stream capture (it synchronized, or used the legacy default stream "
                           "or another operation not permitted during capture)",
                           stage);
  if (after.status != cudaStreamCaptureStatusActive || after.id != before.id)
    throw operator_failure(g, v, cudaErrorStreamCaptureUnmatched,
                           "its stream is no longer in the capture opara began (did it end or restart the capture?)",
                           stage);
  if (require_work && after.deps == before.deps)
    throw operator_failure(g, v, cudaErrorStreamCaptureUnmatched,
                           "it enqueued no work on the stream it was given (did it launch on another stream?); "
                           "set capture::options::require_work = false for operators that may do nothing",
                           stage);
}

//! Launches the whole plan: fork side streams from `caller`, launch in plan order with the
//! plan's waits, join back into `caller`. `capturing` adds the per-operator capture checks;
//! `nodes`, when given (capturing only), records each operator's graph nodes.
template <cuda_operator_graph G>
void launch_plan(const G& g, const plan& p, const plan_resources& r, cudaStream_t caller, const capture::options& o,
                 bool capturing, std::string_view stage, operator_nodes* nodes = nullptr) {
  OPARA_CUDA_CHECK(cudaEventRecord(r.fork, caller));
  for (const auto& s : r.side) OPARA_CUDA_CHECK(cudaStreamWaitEvent(s, r.fork, 0));
  for (node_id v : p.order) {
    const cudaStream_t s = r.stream(p.stream_of[v], caller);
    try {
      for (node_id u : p.waits_of(v)) OPARA_CUDA_CHECK(cudaStreamWaitEvent(s, r.done[u], 0));
    } catch (const cuda_error& e) {
      throw operator_failure(g, v, e.code(), std::string("waiting for its producers failed: ") + e.what(), stage);
    }
    capture_state before;
    if (capturing) {
      if (const cudaError_t e = query_capture(s, before); e != cudaSuccess) {
        (void)cudaGetLastError();
        throw operator_failure(g, v, e, "cannot query the capture state of its stream", stage);
      }
    }
    launch_guarded(g, v, s, o.nvtx, stage);
    if (capturing) check_captured(g, v, s, before, o.require_work, stage);
    if (nodes) nodes->record_captured(v, s);
    if (r.done[v]) {
      if (const cudaError_t e = cudaEventRecord(r.done[v], s); e != cudaSuccess) {
        (void)cudaGetLastError();
        throw operator_failure(g, v, e, "recording its completion event failed", stage);
      }
    }
  }
  for (std::size_t i = 0; i < r.side.size(); ++i) {
    OPARA_CUDA_CHECK(cudaEventRecord(r.join[i], r.side[i]));
    OPARA_CUDA_CHECK(cudaStreamWaitEvent(caller, r.join[i], 0));
  }
}

//! The checks every capture policy makes before it captures: throws invalid_plan (naming the
//! capture policy and the node or stream) unless `p` has the shape of a plan for a graph of
//! `num_nodes` operators (plan/shape.hpp's one plan-shape check, run before anything is indexed by
//! node or stream, so that a hand-made plan captured without validate can never index past the
//! capture's arrays), and bad_policy for capture options out of range (check_capture_options).
inline void check_capture_inputs(const plan& p, std::size_t num_nodes, std::string_view policy, const capture::options& o) {
  check_plan_shape(p, num_nodes, "opara::capture::" + std::string(policy));
  check_capture_options(o);
}

//! executable::update's way back into a graph capture policy C for graphs of type G: a copy of the
//! policy object and of the capture options, no reference to any graph. C needs
//!   captured_graph C::build(const G&, const plan&, cudaStream_t, const capture::options&) const;
//! and when it also takes plan_resources (stream_capture), the side streams and events are created
//! at the first update and kept (updates of one executable then take turns on them).
template <class C, class G>
class policy_recapturer final : public executable::recapturer {
public:
  policy_recapturer(const C& policy, capture::options o) : policy_(policy), options_(std::move(o)) {}
  captured_graph recapture(const void* g, const plan& p, cudaStream_t s) const override {
    const G& graph = *static_cast<const G*>(g);
    if constexpr (requires(const plan_resources& r) { policy_.build(graph, p, s, options_, r); }) {
      const std::lock_guard one_at_a_time(mutex_);
      if (!resources_) {
        check_capture_inputs(p, graph_traits<G>::num_nodes(graph), C::name, options_);
        resources_.emplace(plan_resources::create(p));
      }
      return policy_.build(graph, p, s, options_, *resources_);
    } else {
      return policy_.build(graph, p, s, options_);
    }
  }

private:
  C policy_;
  capture::options options_;
  mutable std::mutex mutex_;                          // guards resources_
  mutable std::optional<plan_resources> resources_;   // kept from one update to the next
};

//! Instantiates what graph capture policy `policy` built for g and lets executable::update capture
//! it again the same way. Throws cuda_error.
template <class C, class G>
executable updatable_executable(const C& policy, const G& g, const plan& p, captured_graph built, const capture::options& o) {
  executable result = instantiate_executable(p, std::move(built));
  result.enable_update<G>(structure_digest(g), std::make_unique<policy_recapturer<C, G>>(policy, o));
  return result;
}

} // namespace detail
} // namespace opara
