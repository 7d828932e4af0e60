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
//! The larger of the two is the bound a schedule is measured against.

#include <opara/profile/profile.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace opara {

//! Resident blocks of kernel `k` per SM, from its theoretical occupancy (0 when unknown). Assumes
//! 32-thread warps.
[[nodiscard]] inline std::uint32_t resident_blocks_per_sm(const kernel_record& k, const device_limits& l) {
  const std::uint64_t warps_per_block = (k.threads_per_block() + 31) / 32;
  if (k.occupancy <= 0 || warps_per_block == 0 || l.max_threads_per_sm == 0) return 0;
  const double max_warps = l.max_threads_per_sm / 32.0;
  return static_cast<std::uint32_t>(std::lround(k.occupancy * max_warps / static_cast<double>(warps_per_block)));
}

//! Average share of the GPU's block slots that kernel `k` holds while it runs, 0..1 (0 when its
//! occupancy or the device's limits are unknown).
[[nodiscard]] inline double gpu_share(const kernel_record& k, const device_limits& l) {
  const std::uint64_t slots = std::uint64_t{resident_blocks_per_sm(k, l)} * l.sm_count;
  const std::uint64_t blocks = k.blocks();
  if (slots == 0 || blocks == 0) return 0;
  const std::uint64_t waves = (blocks + slots - 1) / slots;
  return static_cast<double>(blocks) / static_cast<double>(waves * slots);
}

//! The work bound of profile `p` in microseconds (see above).
[[nodiscard]] inline double work_bound_us(const profile& p) {
  double us = 0;
  for (const auto& op : p.ops)
    for (const auto& k : op.kernels) us += k.duration_us * gpu_share(k, p.limits);
  return us;
}

} // namespace opara
