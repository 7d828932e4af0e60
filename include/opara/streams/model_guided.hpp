#pragma once
//! Streams chosen by the GPU model (gpu_model/list_planner.hpp): each operator, in launch order, goes
//! to the stream on which the profile says it can start earliest, under a stream cap only where
//! the model (gpu_model/model.hpp) predicts that capping pays (critical kernels that would wait
//! behind non-critical ones holding every SM); otherwise as many streams as that rule opens.
//!
//! The model needs the profile: make_plan hands it the profile the plan is made with (the
//! three-argument assign), and a scheduler takes one for it. The `profile` member, when set, is used
//! instead (and by the two-argument assign). Without either it places operators as if each took the
//! same time, on at most `streams_without_profile` streams.

#include <opara/gpu_model/list_planner.hpp>
#include <opara/streams/concept.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace opara::streams {

//! Model-guided stream allocation. Throws bad_policy when the profile does not hold one record
//! per node, an option is negative or streams_without_profile is 0; opara::error when a duration
//! is negative or not finite; bad_graph when `order` is not a permutation of g's nodes.
struct model_guided {
  static constexpr std::string_view name = "model_guided";
  const opara::profile* profile = nullptr;  //!< the profile to decide from (not owned)
  model_planner_options options{};          //!< model costs, caps tried, tolerance
  std::uint32_t streams_without_profile = 8;  //!< the cap when no profile is known

  //! "model_guided", followed by every option that differs from its default, since each changes
  //! the plan: e.g. "model_guided[dependency_us=0.3,streams_without_profile=4]" (see
  //! detail::model_options_label). The `profile` member is not named: it is data, like the
  //! profile make_plan is given.
  [[nodiscard]] std::string label() const {
    std::string options_label = opara::detail::model_options_label(options);
    if (streams_without_profile != model_guided{}.streams_without_profile)
      options_label += (options_label.empty() ? "" : ",") + std::string("streams_without_profile=") +
                       std::to_string(streams_without_profile);
    return options_label.empty() ? std::string(name) : std::string(name) + "[" + options_label + "]";
  }

  //! Streams for `order` from `profile` (the member), see the header comment.
  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    return assign(g, order, profile);
  }

  //! Streams for `order` from the `profile` member when set, else from `p` (nullptr: equal
  //! durations, streams_without_profile streams).
  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order, const opara::profile* p) const {
    (void)positions(order, g.num_nodes());  // throws bad_graph for a foreign order
    if (profile != nullptr) p = profile;
    if (p != nullptr) {
      // Windowed: only the window is simulated, so only its operators are flattened.
      const auto in = opara::detail::model_input_of(g, *p, options, "opara: stream policy 'model_guided'", true);
      return opara::detail::choose_placement(g, order, in, options, false).streams;
    }
    if (streams_without_profile == 0)
      throw bad_policy("opara: stream policy 'model_guided' without a profile needs streams_without_profile >= 1 "
                       "(set it, or give make_plan the graph's profile)");
    const std::vector<double> unit(g.num_nodes(), 1.0);
    return opara::detail::place_earliest_start(g, order, unit, streams_without_profile, options.gpu.dependency_us,
                                               options.gpu.stream_latency_us());
  }
};

} // namespace opara::streams
