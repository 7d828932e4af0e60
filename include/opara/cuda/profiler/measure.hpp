#pragma once
//! Measuring a user's graph with a profiler policy (cuda::measure<P>), and finding the profile
//! saved earlier for this device and graph (cuda::load_profile_for, cuda::load_saved_profile).

#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/detail/common.hpp>
#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <concepts>
#include <filesystem>
#include <optional>
#include <string_view>

namespace opara::cuda {

//! Profiles g with profiler policy P (converting g to opara::graph once), e.g.
//! `cuda::measure<profiler::events>(g, stream)`. Throws what P::measure throws.
template <class P, cuda_operator_graph G>
  requires(P::measures)
[[nodiscard]] opara::profile measure(const G& g, cudaStream_t stream, const profiler::options& options = {}) {
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

} // namespace opara::cuda
