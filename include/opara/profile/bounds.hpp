#pragma once
//! Lower bounds on a graph's latency from its profile: how close a schedule is to the best possible.
//!
//! - Critical path: no schedule beats the longest chain of dependent operators (analysis/critical_path).
//! - Work: no schedule beats the time the GPU needs to hold every kernel's blocks. A kernel of B
//!   blocks on a GPU with C block slots (SMs x blocks resident per SM, from its theoretical
//!   occupancy) runs in ceil(B / C) waves; over its profiled duration d it holds on average
//!   B / (ceil(B / C) * C) of the slots, so it needs at least d * B / (ceil(B / C) * C) of the whole
//!   GPU's time, even when other kernels fill its idle slots. The sum over all kernels is the work
//!   bound. It idealises (perfect packing, no slow-down from sharing SMs or memory bandwidth), so it
//!   is a bound, not a prediction. Kernels whose occupancy is unknown (0) count nothing, and an
//!   event-timed profile (no kernel records) gives a work bound of 0: what is unknown never raises
//!   the bound.
//! The larger of the two is the bound a schedule is measured against: lower_bound_us. Given a
//! device's least dependent-launch latency (bound_options::dependency_us, measured), the critical
//! path also counts it once per dependency along the path: a tighter bound that is still a bound.
//! Hand-written profiles may hold any 32-bit grid, block and limits: products saturate instead of
//! wrapping and every share stays in [0, 1], so the bound is finite for finite durations.

#include <opara/analysis/critical_path.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace opara {

//! Resident blocks of kernel `k` per SM, from its theoretical occupancy (0 when unknown). Assumes
//! 32-thread warps.
[[nodiscard]] inline std::uint32_t resident_blocks_per_sm(const kernel_record& k, const device_limits& l) {
  const std::uint64_t threads = k.threads_per_block();
  const std::uint64_t warps_per_block = threads / 32 + (threads % 32 != 0);  // no overflow near 2^64
  if (!(k.occupancy > 0) || warps_per_block == 0 || l.max_threads_per_sm == 0) return 0;
  const double max_warps = l.max_threads_per_sm / 32.0;
  const double resident = std::round(std::min(k.occupancy, 1.0) * max_warps / static_cast<double>(warps_per_block));
  return static_cast<std::uint32_t>(std::min(resident, max_warps));  // <= 2^27: fits
}

//! Average share of the GPU's block slots that kernel `k` holds while it runs, 0..1 (0 when its
//! occupancy or the device's limits are unknown).
[[nodiscard]] inline double gpu_share(const kernel_record& k, const device_limits& l) {
  const std::uint64_t slots = std::uint64_t{resident_blocks_per_sm(k, l)} * l.sm_count;  // < 2^59
  const std::uint64_t blocks = k.blocks();
  if (slots == 0 || blocks == 0) return 0;
  const std::uint64_t waves = blocks / slots + (blocks % slots != 0);  // no overflow near 2^64
  // waves * slots >= blocks, computed in double: it may exceed 2^64.
  return std::min(1.0, static_cast<double>(blocks) / (static_cast<double>(waves) * static_cast<double>(slots)));
}

//! The work bound of profile `p` in microseconds (see above). Throws opara::error naming the
//! operator and kernel when a kernel's duration is negative or not finite.
[[nodiscard]] inline double work_bound_us(const profile& p) {
  double total_us = 0;
  for (std::size_t v = 0; v < p.ops.size(); ++v)
    for (std::size_t i = 0; i < p.ops[v].kernels.size(); ++i) {
      const auto& k = p.ops[v].kernels[i];
      if (!std::isfinite(k.duration_us) || k.duration_us < 0)
        throw error("opara::work_bound_us: kernel " + std::to_string(i) + " ('" + k.name + "') of operator " +
                    std::to_string(v) + " has duration_us " + std::to_string(k.duration_us) +
                    " (durations must be finite and non-negative)");
      total_us += k.duration_us * gpu_share(k, p.limits);
    }
  if (!std::isfinite(total_us))
    throw error("opara::work_bound_us: the kernels' durations add up past the largest double (durations near 1e308?)");
  return total_us;
}

//! What a bound may assume about the device beyond the profile.
struct bound_options {
  //! The least time from a kernel's end to the start of a kernel that depends on it, on this
  //! device (a CUDA graph's dependent launch: about 0.5-1 us measured). 0 assumes none. Only a
  //! floor measured on the device keeps the bound a bound.
  double dependency_us = 0;
};

//! The critical path of g where each dependency also costs `dependency_us`: along any path of
//! operators v1 -> ... -> vk, vk cannot end before the sum of their durations plus (k - 1) x
//! dependency_us, since each operator's first kernel waits for its producer's last kernel and that
//! wait is at least dependency_us. (Latencies between the kernels of one operator are not counted:
//! an event-timed duration already contains them.) Throws opara::error like lower_bound_us.
[[nodiscard]] inline double critical_path_with_latency_us(const graph& g, const profile& p, double dependency_us) {
  if (!std::isfinite(dependency_us) || dependency_us < 0)
    throw error("opara::lower_bound_us: dependency_us is " + std::to_string(dependency_us) +
                " (it must be finite and non-negative)");
  if (p.ops.size() != g.num_nodes())
    throw error("opara::lower_bound_us: the profile has " + std::to_string(p.ops.size()) +
                " operator records, the graph has " + std::to_string(g.num_nodes()) + " nodes");
  std::vector<double> cost(p.ops.size());
  for (std::size_t v = 0; v < cost.size(); ++v) cost[v] = p.ops[v].duration_us;
  auto finite = [](double length) {
    if (!std::isfinite(length))
      throw error("opara::lower_bound_us: the critical path's durations add up past the largest double "
                  "(durations near 1e308?)");
    return length;
  };
  const double plain = finite(critical_path(g, cost).length);  // checks every duration, naming the node
  if (dependency_us == 0) return plain;
  // Every node of a path but its last pays one dependency: cost + latency per node, less one latency.
  for (double& c : cost) c += dependency_us;
  return finite(critical_path(g, cost).length - dependency_us);
}

//! The best latency any schedule of g can reach under profile `p`, in microseconds:
//! max(critical path under the operators' duration_us, plus o.dependency_us per dependency,
//! work_bound_us(p)). With o.dependency_us = 0 (the default) the path part is the plain critical
//! path. Throws opara::error when p does not hold one record per node, a duration is negative or
//! not finite (naming the node) or o.dependency_us is, when the durations add up past the largest
//! double (the bound is always finite), and like to_graph for a malformed graph.
[[nodiscard]] inline double lower_bound_us(const graph& g, const profile& p, const bound_options& o = {}) {
  return std::max(critical_path_with_latency_us(g, p, o.dependency_us), work_bound_us(p));
}

//! lower_bound_us for any operator_graph (converted with to_graph).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] double lower_bound_us(const G& g, const profile& p, const bound_options& o = {}) {
  return lower_bound_us(to_graph(g), p, o);
}

} // namespace opara
