#pragma once
//! The launch order the GPU model (gpu_model/model.hpp) predicts to be fastest: among candidate
//! orders (longest remaining path first with the per-dependency latency counted, and program
//! order), each placed on streams by the model-guided placement (gpu_model/list_planner.hpp), the one
//! with the smallest predicted makespan. Pair it with streams::model_guided: the two then give
//! exactly the schedule model_schedule chose.

#include <opara/gpu_model/list_planner.hpp>
#include <opara/order/concept.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace opara::order {

//! Model-guided launch order. Throws bad_policy without a profile of one record per node or for a
//! negative option, opara::error when a duration is negative or not finite (naming the operator).
struct model_guided {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "model_guided";
  model_planner_options options{};  //!< model costs, caps tried, tolerance

  //! "model_guided", followed by every option that differs from its default, since each changes
  //! the order: e.g. "model_guided[launch_us=0.5,stream_caps={1,4}]" (see
  //! detail::model_options_label).
  [[nodiscard]] std::string label() const {
    const std::string options_label = opara::detail::model_options_label(options);
    return options_label.empty() ? std::string(name) : std::string(name) + "[" + options_label + "]";
  }

  //! A launch order for g (a topological order). Throws as described above.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* p) const {
    require_profile(name, g, p);
    // Windowed: only the windows are simulated, so only their operators are flattened.
    const auto in = opara::detail::model_input_of(g, *p, options, "opara: launch order policy 'model_guided'", true);
    return opara::detail::model_schedule_on(g, in, options, false).order;
  }
};

} // namespace opara::order
