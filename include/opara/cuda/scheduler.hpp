#pragma once
//! opara::scheduler: the one call that turns a user's operator graph into a replayable CUDA graph:
//! profile it (or reuse a saved profile of the same device and graph), plan streams and launch
//! order, capture, instantiate. Policies are template parameters with defaults; state-holding
//! policies are members, so `scheduler<streams::round_robin>{.streams{.streams = 8}}` works.
//!
//! The profiler is the fourth policy. The default, profiler::cupti, needs CUPTI: include
//! <opara/cuda.hpp> (or <opara/cuda/profiler/cupti.hpp>) and link opara::cupti. A program that
//! links opara::cuda alone names another profiler, e.g.
//!   opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware,
//!                    opara::capture::stream_capture, opara::profiler::events>
//!
//! Threads and devices: compile() is const and may be called on one scheduler from several
//! threads at once (opara's policies hold options only; a policy of your own must make its const
//! members safe to call concurrently). It compiles for the device of the stream it is given (that
//! device is made current for the call), so a server keeps one scheduler per device, or one for
//! all, and passes each thread's own stream. Concurrent CUPTI profiles take turns (one CUPTI
//! session at a time per process, cuda/profiler/cupti.hpp); captures are thread-local by default
//! (capture::options::mode), so other threads keep allocating and synchronizing meanwhile. Two
//! compiles that share a profile_path each write it atomically (the last one wins); give each
//! device (and each user_key) its own path. Changing `options` while another thread compiles is a
//! data race.

#include <opara/cuda/capture.hpp>
#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/detail/common.hpp>
#include <opara/cuda/profiler/events.hpp>
#include <opara/cuda/profiler/measure.hpp>
#include <opara/cuda/profiler/none.hpp>
#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/policy/label.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/plan/validate.hpp>
#include <opara/profile/json.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

namespace opara {

template <class>
inline constexpr bool dependent_false = false;

//! When the scheduler profiles.
enum class profiling : std::uint8_t {
  when_needed,  //!< only when a policy needs a profile: the launch order (order::resource_aware does) or a
                //!< stream policy that reads one (streams::model_guided)
  always,       //!< always (the executable then carries the profile for inspection)
  never,        //!< never; an order policy that needs one throws bad_policy
};

//! What scheduler::compile does besides choosing policies. Each step's options are its own struct.
struct scheduler_options {
  plan_options plan{};                //!< how make_plan plans (wait pruning)
  opara::capture::options capture{};    //!< what the capture checks and marks (require_work, NVTX ranges, PDL, priorities)
  opara::profiler::options profiler{};  //!< how the profiler runs the graph (warm-up, runs, NVTX ranges)
  profiling profile = profiling::when_needed;  //!< when to profile (the profiler policy says how)
  std::filesystem::path profile_path;  //!< where to save the profile (empty: keep it in memory only); a save
                                       //!< that fails is said on stderr and the compile goes on
  bool profile_save_required = false;  //!< a profile that cannot be saved at profile_path throws instead
  bool reuse_profile = true;           //!< load profile_path when it exists and matches device, driver,
                                       //!< graph and user_key (a torn or stale file is said on stderr and redone)
  std::string user_key;                //!< the caller's own part of the profile's key (e.g. "batch=8": the
                                       //!< graph's fingerprint cannot see input shapes)
  bool validate = true;                //!< check the plan against the graph before capturing
};

//! Plans and captures a cuda_operator_graph with the given stream, order, capture and profiler
//! policies. The defaults: Opara's greedy streams, launched critical path first (Opara's own order
//! is order::resource_aware: with PDL along stream order, critical-path-first took 0.79-1.01x its
//! time on the bench suite's 11 traced models in three runs, Swin-T 0.79-0.86x, and
//! 0.90-1.09x on the generated wide graphs; README "Benchmarks"), stream capture, CUPTI.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::critical_path_first,
          class C = capture::stream_capture, class P = profiler::cupti>
struct scheduler {
  using stream_policy = S;
  using order_policy = O;
  using capture_policy = C;
  using profiler_policy = P;

  [[no_unique_address]] S streams{};
  [[no_unique_address]] O order{};
  [[no_unique_address]] C capture{};
  scheduler_options options{};

  //! What the capture is told apart by: the capture policy's label and every capture option that
  //! changes the graph it builds (capture::key). Autotune compares candidates' keys.
  [[nodiscard]] capture::key capture_key() const { return capture::key_of(capture, options.capture); }

  //! The policies' labels, "streams/order/capture" (e.g. "round_robin[4]/program_order/stream_capture"):
  //! what autotune and the bench suite call this scheduler. The capture part is the capture key
  //! formatted (capture::to_string): capture options that change the graph off their defaults add
  //! "+no_pdl", "+pdl_all", "+priorities", "+carveout<percent>" ("+own_carveout" for -1),
  //! "+segments<count>" ("g<growth>" for another growth), ... so that autotune's candidates and the
  //! bench suite's modes stay apart.
  [[nodiscard]] std::string label() const {
    std::string label = policy_label(streams);
    label += "/";
    label += policy_label(order);
    label += "/";
    label += to_string(capture_key());
    return label;
  }

public:
  //! Profiles (or loads the saved profile), plans, captures on `stream` and instantiates, for the
  //! device of `stream` (made current for the call; the current device for the default-stream
  //! handles). The graph is converted to opara::graph once. A saved profile that is torn, foreign,
  //! old or stale is said on stderr and measured again. Throws capture_error naming a failing
  //! operator, bad_policy, invalid_plan, bad_graph or not_a_dag for a malformed graph, cuda_error,
  //! profiler::unavailable (profiler::options::require_cupti), opara::error when the profile path
  //! cannot be examined, or written with options.profile_save_required (without it, a failed save
  //! is said on stderr and the executable returned all the same).
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream) const {
    return compile_impl(g, stream, nullptr);
  }

  //! Like compile(g, stream), with a profile the caller already has (nothing is measured).
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream, const profile& given) const {
    return compile_impl(g, stream, &given);
  }

private:
  template <class G>
  executable compile_impl(const G& g, cudaStream_t stream, const profile* given) const {
    if constexpr (!cuda_operator_graph<G>) {
      static_assert(dependent_false<G>,
                    "opara::scheduler::compile needs a cuda_operator_graph: give the graph a member "
                    "launch(node_id, cudaStream_t), or specialize opara::launch_traits<G> with a static launch");
    } else if constexpr (!capture::capture_policy<C, G>) {
      static_assert(dependent_false<G>,
                    "opara::scheduler: the capture policy C cannot capture this graph type (it needs "
                    "`executable capture(const G&, const plan&, cudaStream_t, const capture::options&) const` "
                    "(or the same with `const opara::graph&` after the graph) and a static `name`: "
                    "opara/cuda/capture/concept.hpp)");
    } else if constexpr (!profiler::defined<P>) {
      static_assert(dependent_false<G>,
                    "opara::scheduler: the profiler policy P (by default opara::profiler::cupti) is not defined here: "
                    "include <opara/cuda.hpp> or <opara/cuda/profiler/cupti.hpp> and link opara::cupti, or "
                    "name a profiler that needs no CUPTI as the fourth template argument "
                    "(opara::profiler::events or opara::profiler::none)");
    } else if constexpr (!profiler::profiler_policy<P, G>) {
      static_assert(dependent_false<G>,
                    "opara::scheduler: P is not a profiler policy (it needs a static `name`, a static "
                    "`measures`, and when it measures `static profile measure(const G&, const opara::graph&, "
                    "cudaStream_t, const profiler::options&)`: opara/cuda/profiler/concept.hpp)");
    } else {
      const cuda::device_guard on_stream_device(cuda::device_of(stream));
      return cuda::detail::with_compact_graph(g, [&](const opara::graph& compact) {
        return compile_on(g, compact, stream, given);
      });
    }
  }

  //! The profile to plan with: the caller's, the saved one, a new measurement, or none.
  template <class G>
  std::optional<profile> profile_for(const G& g, const opara::graph& compact, cudaStream_t stream,
                                     const profile* given, capture_stats& stats) const {
    if (given) return *given;
    const bool needed = O::needs_profile || profile_reading_stream_policy<S>;
    const bool wanted = options.profile == profiling::always || (options.profile == profiling::when_needed && needed);
    if (!wanted) return std::nullopt;
    const bool saved = !options.profile_path.empty();
    if (saved && options.reuse_profile) {
      if (auto loaded = cuda::load_saved_profile(options.profile_path, compact, options.user_key)) {
        stats.profile_reused = true;
        return loaded;
      }
    }
    if constexpr (!P::measures) {
      return std::nullopt;
    } else {
      const auto start = std::chrono::steady_clock::now();
      profile measured = P::measure(g, compact, stream, options.profiler);
      measured.key.user_key = options.user_key;
      stats.profile_ms = opara::detail::ms_since(start);
      if (saved && options.profile_save_required) save_profile(measured, options.profile_path);
      else if (saved) (void)try_save_profile(measured, options.profile_path);
      return measured;
    }
  }

  //! options.capture, with the profile's operator durations as priority costs when priorities are on
  //! and the caller gave none.
  opara::capture::options capture_options_for(const profile* measured) const {
    opara::capture::options o = options.capture;
    if (o.priorities && o.priority_costs.empty() && measured)
      for (const operator_record& op : measured->ops) o.priority_costs.push_back(op.duration_us);
    return o;
  }

  template <class G>
  executable compile_on(const G& g, const opara::graph& compact, cudaStream_t stream, const profile* given) const {
    capture_stats stats;
    std::optional<profile> measured = profile_for(g, compact, stream, given, stats);
    const auto start = std::chrono::steady_clock::now();
    std::optional<memory_map> memory;  // a tensor_graph's buffers: plans honour their shared bytes
    if constexpr (tensor_graph<G>) memory = memory_of(g);
    plan planned = opara::detail::make_plan_on(compact, measured ? &*measured : nullptr, options.plan, streams, order,
                                               memory ? &*memory : nullptr);
    stats.plan_ms = opara::detail::ms_since(start);
    if (options.validate) {
      validate(planned, compact);
      if (memory && options.plan.memory_hazards)
        check_memory(planned, compact, *memory,
                     options.plan.memory_order.empty() ? compact.topological_order()
                                                       : std::span<const node_id>(options.plan.memory_order));
    }
    executable result = capture::capture_with(capture, g, compact, planned, stream,
                                              capture_options_for(measured ? &*measured : nullptr));
    result.stats().profile_ms = stats.profile_ms;
    result.stats().plan_ms = stats.plan_ms;
    result.stats().profile_reused = stats.profile_reused;
    if (measured) result.set_profile(std::move(*measured));
    return result;
  }
};

} // namespace opara
