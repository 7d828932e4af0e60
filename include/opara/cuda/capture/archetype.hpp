#pragma once
//! The least capture policy (concept.hpp): the 4-argument capture() and a name, nothing else.
//! It captures nothing: its executable launches every operator of the plan in plan order on the
//! caller's stream at each replay (the plan's streams are ignored), which is all a policy needs to
//! be usable by opara::scheduler. A policy of your own starts from here; checking it:
//!   static_assert(opara::capture::capture_policy<my_policy, my_graph>);

#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/plan/plan.hpp>

#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opara::capture {

struct archetype {
  static constexpr std::string_view name = "archetype";

  //! An executable that launches p's operators one after another on the replay's stream. The
  //! graph must outlive it. Throws capture_error naming a failing operator at replay.
  template <cuda_operator_graph G>
  executable capture(const G& g, const plan& p, cudaStream_t /*s*/, const options& o) const {
    capture_stats stats;
    stats.capture_policy = std::string(name);
    stats.streams = 1;
    return executable(p, std::make_unique<runner<G>>(g, p, o), std::move(stats));
  }

private:
  template <class G>
  class runner final : public executable::replayer {
  public:
    runner(const G& g, const plan& p, const options& o) : g_(&g), order_(p.order), nvtx_(o.nvtx) {}
    void replay(cudaStream_t s) override {
      for (node_id v : order_) cuda::launch_guarded(*g_, v, s, nvtx_, "archetype launch");
    }

  private:
    const G* g_;
    std::vector<node_id> order_;
    bool nvtx_;
  };
};

} // namespace opara::capture
