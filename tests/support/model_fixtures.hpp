#pragma once
// Hand-made graphs and profiles for the GPU model's and the bounds' tests (model.cpp,
// model_guided.cpp, bounds.cpp, bounds_latency.cpp): an H100-like device and kernels whose resident
// blocks per SM follow from their occupancy.

#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace opara::test {

// A graph of n nodes and the given edges (producer, consumer).
inline graph graph_of(std::size_t n, std::initializer_list<std::pair<node_id, node_id>> edges = {}) {
  graph_builder b;
  b.add_nodes(n);
  for (const auto& [u, v] : edges) b.add_edge(u, v);
  return b.build();
}

// 132 SMs, 2048 threads, 32 blocks, 228 KiB of shared memory and 65536 registers per SM.
inline device_limits h100() {
  device_limits l;
  l.sm_count = 132;
  l.max_threads_per_sm = 2048;
  l.max_blocks_per_sm = 32;
  l.shared_bytes_per_block = 227 * 1024;
  l.shared_bytes_per_sm = 228 * 1024;
  l.registers_per_sm = 65536;
  return l;
}

// A kernel of `blocks` 256-thread blocks; occupancy 0.125 = one resident block per SM (8 of 64 warps).
inline kernel_record kernel(std::uint32_t blocks, double us, double occupancy = 0.125) {
  kernel_record k;
  k.grid = {blocks, 1, 1};
  k.block = {256, 1, 1};
  k.occupancy = occupancy;
  k.duration_us = us;
  return k;
}

// A profile on h100() with one operator per kernel, each as long as its kernel.
inline profile one_kernel_each(const std::vector<kernel_record>& ks) {
  profile p;
  p.limits = h100();
  for (const auto& k : ks) {
    operator_record op;
    op.duration_us = k.duration_us;
    op.kernels = {k};
    p.ops.push_back(op);
  }
  return p;
}

} // namespace opara::test
