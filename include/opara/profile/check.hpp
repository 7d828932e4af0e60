#pragma once
//! Whether a profile belongs to a device and graph, and the one rule for an operator's boundness.
//! CPU-only: make_plan refuses a profile of another graph with the same exception that the CUDA
//! scheduler uses for a stale saved profile.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace opara {

//! A profile belongs to another device, driver, graph or user key. `field()` names the first key
//! field that differs ("device_name", "sm_count", "driver_version", "graph_fingerprint",
//! "device_uuid", "driver_release", "user_key" or "ops").
class profile_mismatch : public error {
public:
  profile_mismatch(const std::string& what, std::string field) : error(what), field_(std::move(field)) {}
  //! The first key field that differs.
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
  std::string field_;
};

namespace detail {
[[noreturn]] inline void refuse_profile(const std::string& origin, const std::string& field, const std::string& have,
                                        const std::string& want) {
  throw profile_mismatch("opara: " + origin + " does not match: " + field + " is '" + have + "' but the current " +
                             (field == "graph_fingerprint" || field == "ops" ? "graph"
                              : field == "user_key"                          ? "caller"
                                                                             : "device") +
                             " has '" + want +
                             "' (profile again, or delete the file)",
                         field);
}
} // namespace detail

//! Throws profile_mismatch unless `p` was taken for `expected` (device, driver, graph and user key)
//! and holds one record per node of a graph of `num_nodes` operators.
inline void check_profile(const profile& p, const profile_key& expected, std::size_t num_nodes,
                          const std::string& origin = "the profile") {
  using detail::refuse_profile;
  if (p.key.device_name != expected.device_name) refuse_profile(origin, "device_name", p.key.device_name, expected.device_name);
  if (p.key.sm_count != expected.sm_count)
    refuse_profile(origin, "sm_count", std::to_string(p.key.sm_count), std::to_string(expected.sm_count));
  if (p.key.driver_version != expected.driver_version)
    refuse_profile(origin, "driver_version", std::to_string(p.key.driver_version),
                   std::to_string(expected.driver_version));
  if (p.key.graph_fingerprint != expected.graph_fingerprint)
    refuse_profile(origin, "graph_fingerprint", p.key.graph_fingerprint, expected.graph_fingerprint);
  if (p.key.device_uuid != expected.device_uuid) refuse_profile(origin, "device_uuid", p.key.device_uuid, expected.device_uuid);
  if (p.key.driver_release != expected.driver_release)
    refuse_profile(origin, "driver_release", p.key.driver_release, expected.driver_release);
  if (p.key.user_key != expected.user_key) refuse_profile(origin, "user_key", p.key.user_key, expected.user_key);
  if (p.ops.size() != num_nodes)
    refuse_profile(origin, "ops", std::to_string(p.ops.size()) + " operators", std::to_string(num_nodes) + " operators");
}

//! Throws bad_policy when `p` does not hold one record per operator of g (whatever policy plans
//! with it: one that does not read it would otherwise ignore a profile of another graph silently),
//! and profile_mismatch (field "graph_fingerprint") when `p` names a graph fingerprint and it is
//! not g's. A profile without one (written by hand) is taken to be g's. The device is not checked:
//! planning on the CPU has no current device to compare with.
inline void check_profile_graph(const profile& p, const graph& g, const std::string& origin = "the profile") {
  if (p.ops.size() != g.num_nodes())
    throw bad_policy("opara: " + origin + " has " + std::to_string(p.ops.size()) + " operator records, the graph has " +
                     std::to_string(g.num_nodes()) + " operators (a profile of another graph?)");
  if (p.key.graph_fingerprint.empty()) return;
  if (const std::string mine = fingerprint(g); p.key.graph_fingerprint != mine)
    detail::refuse_profile(origin, "graph_fingerprint", p.key.graph_fingerprint, mine);
}

//! The one rule for an operator's boundness (Opara's two ready queues). A recorded bound (a user's
//! hint, or one written in the profile) wins. Otherwise the operator's longest kernel decides: it
//! is compute-bound when it stages data in shared memory or uses 128 or more registers per thread
//! (tiled convolutions and GEMMs do), memory-bound otherwise (element-wise, pooling, copies).
//! Without kernel records (an event-timed profile) the bound stays unknown; order::resource_aware
//! puts unknown operators in its memory-bound queue.
[[nodiscard]] inline boundness classify_bound(const operator_record& op) noexcept {
  if (op.bound != boundness::unknown) return op.bound;
  if (op.kernels.empty()) return boundness::unknown;
  const auto& longest = *std::ranges::max_element(
      op.kernels, [](const kernel_record& a, const kernel_record& b) { return a.duration_us < b.duration_us; });
  return longest.shared_bytes() > 0 || longest.registers_per_thread >= 128 ? boundness::compute : boundness::memory;
}

//! The profile saved at `path` when it can be reused for `expected` and a graph of `num_nodes`
//! operators; nothing when no file is there, and nothing either when the file cannot be read, is
//! torn or not a profile, is of another format version, or belongs to another device, driver,
//! graph or user key: each of those is said on stderr ("...; profiling again"), and the caller
//! measures again and replaces the file. A server's restart never stops on a stale or damaged
//! profile. Throws opara::error only when the path cannot be examined at all.
[[nodiscard]] inline std::optional<profile> load_reusable_profile(const std::filesystem::path& path,
                                                                  const profile_key& expected, std::size_t num_nodes) {
  std::error_code failure;
  const bool present = std::filesystem::exists(path, failure);
  if (failure) throw error("opara: cannot look for the saved profile '" + path.string() + "': " + failure.message());
  if (!present) return std::nullopt;
  try {
    profile loaded = load_profile(path);
    check_profile(loaded, expected, num_nodes, "the saved profile " + path.string());
    return loaded;
  } catch (const error& unusable) {  // profile_mismatch, parse_error (torn, foreign, old version), read errors
    std::fprintf(stderr, "%s; profiling again\n", unusable.what());
    return std::nullopt;
  }
}

} // namespace opara
