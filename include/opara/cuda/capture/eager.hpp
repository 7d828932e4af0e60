#pragma once
//! capture::eager — no CUDA graph: every call launches the plan on its streams with events.
//! Useful as a baseline and for operators that cannot be captured. The executable keeps a
//! pointer to the graph: the graph must outlive it. options::mode does not apply (nothing
//! is captured). executable::update re-binds it to the graph it is given (nothing to capture: each
//! launch reads the operators' bindings live) and reports update_kind::rebound.
//!
//! Threads: every replay uses the executable's one set of side streams and events, so replays of
//! one eager executable must not interleave; the executable's launch mutex (cuda/runtime/executable.hpp)
//! serializes them, and concurrent replays therefore also run one after the other on the GPU (they
//! share the side streams). The graph's launch() is called from whichever thread launches.

#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/detail/common.hpp>
#include <opara/cuda/capture/options.hpp>

#include <memory>

namespace opara::capture {

//! Launches the plan directly on each call (no graph).
struct eager {
  static constexpr std::string_view name = "eager";

  //! Prepares streams and events for p. Nothing is launched until the executable is called.
  //! `s` is unused here (each call names its stream). Throws invalid_plan when p does not have
  //! the shape of a plan for g, cuda_error when streams or events cannot be created.
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t /*s*/, const options& o = {}) const {
    detail::check_capture_inputs(p, graph_traits<G>::num_nodes(g), name, o);
    const auto start = std::chrono::steady_clock::now();
    auto runner_ptr = std::make_unique<runner<G>>(g, p, detail::plan_resources::create(p), o);
    capture_stats stats = detail::plan_stats(p, std::string(name), start);
    executable result(p, std::move(runner_ptr), std::move(stats));
    result.enable_update<G>(detail::structure_digest(g), nullptr);
    return result;
  }

  //! What this capture is told apart by (options.hpp; eager ignores the graph options, but they
  //! stay in its key so that a key always says what was asked for).
  [[nodiscard]] capture::key key(const options& o) const { return make_key(std::string(name), o); }

private:
  template <class G>
  class runner final : public executable::replayer {
  public:
    runner(const G& g, plan p, detail::plan_resources resources, options o)
        : g_(&g), plan_(std::move(p)), res_(std::move(resources)), opts_(o) {}
    //! Throws capture_error naming a failing operator (work already enqueued stays enqueued).
    //! Called with the executable's launch mutex held (res_ is shared by every replay).
    void replay(cudaStream_t s) override {
      (void)cudaGetLastError();
      detail::launch_plan(*g_, plan_, res_, s, opts_, /*capturing=*/false, "eager launch");
    }
    //! executable::update checked that `g` is a G of the same structure; called with the launch mutex held.
    void rebind(const void* g) override { g_ = static_cast<const G*>(g); }

  private:
    const G* g_;
    plan plan_;
    detail::plan_resources res_;
    options opts_;
  };
};

} // namespace opara::capture
