#pragma once
//! From raw kernel activity to per-operator records: the part of profiling that needs no GPU, so it
//! is tested on any machine. The CUPTI profiler (opara/cuda/profiler/cupti.hpp) runs every operator
//! `runs` times and tags each launch with an id saying which run and which operator launched it
//! (operator_tag); it hands every kernel it saw to aggregate_kernels, which groups them per run and
//! operator and averages:
//!   - an operator's kernels are those of its first run, in start order; each kernel's duration is
//!     the mean over the runs that launched as many kernels as the first (a run that launched a
//!     different set says nothing about these kernels);
//!   - an operator's duration is the mean, over all runs, of the sum of its kernels' durations.
//! Kernels without a tag, or with one outside runs x operators, are counted as unattributed.
//! CUPTI's tags are per thread: kernels an operator launches from a helper thread carry none, so
//! that operator shows no kernels. unattributed_operators_message says so when it may have
//! happened (operators without kernels while unattributed kernels were seen).

#include <opara/error.hpp>
#include <opara/graph/traits.hpp>
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace opara {

//! Which profiling run and which operator launched a kernel. Encoded as one nonzero 64-bit id
//! (CUPTI's external correlation id), so that 0 can mean "no operator".
struct operator_tag {
  std::uint32_t run = 0;
  node_id node = 0;

  //! The id of this tag in a graph of `num_nodes` operators: run * num_nodes + node + 1.
  [[nodiscard]] constexpr std::uint64_t encode(std::size_t num_nodes) const noexcept {
    return std::uint64_t{run} * num_nodes + node + 1;
  }
  //! The tag an id stands for, or nothing for 0 and for ids beyond `runs` runs of `num_nodes`.
  [[nodiscard]] static constexpr std::optional<operator_tag> decode(std::uint64_t encoded, std::size_t num_nodes,
                                                                    std::size_t runs) noexcept {
    if (encoded == 0 || num_nodes == 0 || encoded > std::uint64_t{runs} * num_nodes) return std::nullopt;
    const std::uint64_t index = encoded - 1;
    return operator_tag{static_cast<std::uint32_t>(index / num_nodes), static_cast<node_id>(index % num_nodes)};
  }
};

//! One kernel as a profiler saw it: its record, when it started, and the id of its operator_tag
//! (0 when the profiler could not tie it to an operator).
struct kernel_activity {
  std::uint64_t tag = 0;
  std::uint64_t start_ns = 0;
  kernel_record record;
};

//! What aggregate_kernels makes of a profiling session.
struct kernel_aggregate {
  std::vector<operator_record> ops;  //!< one per operator: kernels and duration (boundness left unknown)
  std::size_t unattributed = 0;      //!< kernels that belong to no run and operator
  std::vector<node_id> without_kernels;  //!< operators that launched no attributed kernel in any run
};

//! Groups `kernels` (in any order) by run and operator and averages them as the file comment says.
//! Throws bad_policy when `runs` is 0 (nothing to average over).
[[nodiscard]] inline kernel_aggregate aggregate_kernels(std::vector<kernel_activity> kernels, std::size_t num_nodes,
                                                        std::size_t runs) {
  if (runs == 0) throw bad_policy("opara: aggregate_kernels: profiling needs at least one run, got 0");
  std::stable_sort(kernels.begin(), kernels.end(),
                   [](const kernel_activity& a, const kernel_activity& b) { return a.start_ns < b.start_ns; });
  kernel_aggregate result;
  // launched[run][node]: the kernels that run of that operator launched, in start order.
  std::vector<std::vector<std::vector<kernel_record>>> launched(runs, std::vector<std::vector<kernel_record>>(num_nodes));
  for (auto& activity : kernels) {
    const auto tag = operator_tag::decode(activity.tag, num_nodes, runs);
    if (!tag) {
      ++result.unattributed;
      continue;
    }
    launched[tag->run][tag->node].push_back(std::move(activity.record));
  }
  result.ops.resize(num_nodes);
  for (std::size_t node = 0; node < num_nodes; ++node) {
    operator_record& record = result.ops[node];
    record.kernels = launched[0][node];
    for (auto& kernel : record.kernels) kernel.duration_us = 0;
    double total_us = 0;
    std::size_t same_shape_runs = 0;
    for (std::size_t run = 0; run < runs; ++run) {
      const auto& seen = launched[run][node];
      for (const auto& kernel : seen) total_us += kernel.duration_us;
      if (seen.size() != record.kernels.size()) continue;
      ++same_shape_runs;
      for (std::size_t k = 0; k < seen.size(); ++k) record.kernels[k].duration_us += seen[k].duration_us;
    }
    for (auto& kernel : record.kernels) kernel.duration_us /= static_cast<double>(same_shape_runs);
    record.duration_us = total_us / static_cast<double>(runs);
    if (std::all_of(launched.begin(), launched.end(), [&](const auto& run) { return run[node].empty(); }))
      result.without_kernels.push_back(static_cast<node_id>(node));
  }
  return result;
}

//! The warning a profiler gives when `aggregate` may have missed kernels of operators: some
//! operators have none while kernels without an operator were seen (launched from a helper thread,
//! or by another thread meanwhile). Names at most 5 operators (`name(v)` names operator v); empty
//! when there is nothing to say.
template <class Name>
[[nodiscard]] std::string unattributed_operators_message(const kernel_aggregate& aggregate, Name&& name) {
  if (aggregate.without_kernels.empty() || aggregate.unattributed == 0) return {};
  std::string names;
  for (std::size_t i = 0; i < aggregate.without_kernels.size() && i < 5; ++i)
    names += (i ? ", " : "") + std::string(name(aggregate.without_kernels[i]));
  if (aggregate.without_kernels.size() > 5) names += ", ...";
  return "opara: profiler: " + std::to_string(aggregate.without_kernels.size()) +
         " operator(s) launched no kernel tied to them (" + names + ") while " + std::to_string(aggregate.unattributed) +
         " kernel(s) were tied to no operator: kernels an operator launches from another thread than the one that "
         "calls its launch are not attributed (CUPTI's tags are per thread), so these show 0 kernels and 0 us in the "
         "profile; profile with profiler::events, or launch on the calling thread";
}

} // namespace opara
