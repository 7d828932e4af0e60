#pragma once
//! opara::scheduler: the one call that turns a user's operator graph into a replayable CUDA graph:
//! profile it (or reuse a saved profile of the same device and graph), plan streams and launch
//! order, capture, instantiate. Policies are template parameters with defaults; state-holding
//! policies are members, so `scheduler<streams::round_robin>{.streams{.streams = 8}}` works.

#include <opara/cuda/capture.hpp>
#include <opara/cuda/executable.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/cuda/profiler.hpp>
#include <opara/graph/graph.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/plan/make_plan.hpp>
#include <opara/plan/validate.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace opara {

template <class>
inline constexpr bool dependent_false = false;

//! When the scheduler profiles.
enum class profiling : std::uint8_t {
  when_needed,  //!< only when the launch order policy needs a profile (order::resource_aware does)
  always,       //!< always (the executable then carries the profile for inspection)
  never,        //!< never; an order policy that needs one throws bad_policy
};

//! What scheduler::compile does besides planning.
struct scheduler_options {
  std::filesystem::path profile_path;  //!< where to save the profile (empty: keep it in memory only)
  bool reuse_profile = true;           //!< load profile_path when it exists and matches device and graph
  profiling profile = profiling::when_needed;
  cuda::profiler_options profiler{};   //!< how to profile
  bool nvtx = false;                   //!< NVTX ranges per operator (profiling, capture, eager launches)
  bool prune_waits = true;             //!< drop waits implied by other waits and stream order
  bool require_work = true;            //!< an operator that enqueues nothing on its stream is an error
  bool validate = true;                //!< check the plan against the graph before capturing
};

//! Plans and captures a cuda_operator_graph with the given stream, order and capture policies.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::resource_aware,
          class C = capture::stream_capture>
struct scheduler {
  [[no_unique_address]] S streams{};
  [[no_unique_address]] O order{};
  [[no_unique_address]] C capture{};
  scheduler_options options{};

  //! Profiles (or loads the saved profile), plans, captures on `stream` and instantiates.
  //! Throws capture_error naming a failing operator, bad_policy, invalid_plan, bad_graph or
  //! not_a_dag for a malformed graph, cuda_error, parse_error for an unreadable saved profile.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream) const {
    return compile_impl(g, stream, nullptr);
  }

  //! Like compile(g, stream), with a profile the caller already has (checked against g's size).
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
                    "`executable capture(const G&, const plan&, cudaStream_t, const capture_options&) const` "
                    "and a static `name`)");
    } else {
      const opara::graph cg = to_graph(g);
      std::optional<profile> prof;
      double profile_ms = 0;
      bool reused = false;
      if (given) {
        prof = *given;
      } else if (options.profile != profiling::never && (O::needs_profile || options.profile == profiling::always)) {
        if (options.reuse_profile && !options.profile_path.empty() && std::filesystem::exists(options.profile_path)) {
          try {
            prof = cuda::load_profile_for(options.profile_path, cg);
            reused = true;
          } catch (const profile_mismatch& e) {
            std::fprintf(stderr, "%s; profiling again\n", e.what());
          }
        }
        if (!prof) {
          const auto t0 = std::chrono::steady_clock::now();
          auto po = options.profiler;
          po.nvtx = po.nvtx || options.nvtx;
          prof = cuda::profile_graph(g, stream, po);
          profile_ms = opara::detail::ms_since(t0);
          if (!options.profile_path.empty()) save_profile(*prof, options.profile_path);
        }
      }
      const auto t1 = std::chrono::steady_clock::now();
      plan p = make_plan(cg, prof ? &*prof : static_cast<const profile*>(nullptr), plan_options{options.prune_waits},
                         streams, order);
      const double plan_ms = opara::detail::ms_since(t1);
      if (options.validate) validate(p, cg);
      capture_options co;
      co.nvtx = options.nvtx;
      co.require_work = options.require_work;
      executable exe = capture.capture(g, p, stream, co);
      exe.stats().profile_ms = profile_ms;
      exe.stats().plan_ms = plan_ms;
      exe.stats().profile_reused = reused;
      if (prof) exe.set_profile(std::move(*prof));
      return exe;
    }
  }
};

} // namespace opara
