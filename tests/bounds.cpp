// Lower bounds from a profile: resident blocks, a kernel's share of the GPU, the work bound.
#include <opara/profile/bounds.hpp>

#include <doctest/doctest.h>

using namespace opara;

namespace {

// An H100-like device: 132 SMs, 2048 threads per SM.
device_limits h100() {
  device_limits l;
  l.sm_count = 132;
  l.max_threads_per_sm = 2048;
  l.max_blocks_per_sm = 32;
  l.shared_bytes_per_block = 227 * 1024;
  l.shared_bytes_per_sm = 228 * 1024;
  l.registers_per_sm = 65536;
  return l;
}

kernel_record kernel(std::uint32_t blocks, std::uint32_t threads, double occupancy, double us) {
  kernel_record k;
  k.grid = {blocks, 1, 1};
  k.block = {threads, 1, 1};
  k.occupancy = occupancy;
  k.duration_us = us;
  return k;
}

} // namespace

TEST_CASE("bounds.resident_blocks_follow_occupancy") {
  // 256 threads = 8 warps; 64 warps per SM: occupancy 0.5 means 4 resident blocks.
  CHECK(resident_blocks_per_sm(kernel(1, 256, 0.5, 1), h100()) == 4);
  CHECK(resident_blocks_per_sm(kernel(1, 256, 1.0, 1), h100()) == 8);
  CHECK(resident_blocks_per_sm(kernel(1, 128, 0.0625, 1), h100()) == 1);
  CHECK(resident_blocks_per_sm(kernel(1, 100, 0.0625, 1), h100()) == 1);  // 100 threads: 4 warps
  CHECK(resident_blocks_per_sm(kernel(1, 256, 0.0, 1), h100()) == 0);     // unknown
}

TEST_CASE("bounds.gpu_share_counts_partial_waves") {
  const auto l = h100();
  // One resident block per SM (occupancy 8/64 for 256 threads): 132 slots.
  CHECK(gpu_share(kernel(66, 256, 0.125, 1), l) == doctest::Approx(0.5));
  CHECK(gpu_share(kernel(132, 256, 0.125, 1), l) == doctest::Approx(1.0));
  CHECK(gpu_share(kernel(198, 256, 0.125, 1), l) == doctest::Approx(198.0 / 264.0));  // 1.5 waves
  CHECK(gpu_share(kernel(2, 256, 0.125, 1), l) == doctest::Approx(2.0 / 132.0));
  // Two resident blocks per SM: 264 slots.
  CHECK(gpu_share(kernel(132, 256, 0.25, 1), l) == doctest::Approx(0.5));
  CHECK(gpu_share(kernel(132, 256, 0.0, 1), l) == 0.0);  // unknown occupancy counts nothing
  device_limits unknown;
  CHECK(gpu_share(kernel(132, 256, 0.25, 1), unknown) == 0.0);
}

TEST_CASE("bounds.work_bound_sums_every_kernel") {
  profile p;
  p.limits = h100();
  p.ops.resize(3);
  p.ops[0].kernels = {kernel(66, 256, 0.125, 10.0)};                           // half the GPU for 10 us
  p.ops[1].kernels = {kernel(132, 256, 0.125, 4.0), kernel(2, 256, 0.125, 66.0)};  // 4 us + 1 us
  p.ops[2].duration_us = 50;                                                     // event-timed: no kernels
  CHECK(work_bound_us(p) == doctest::Approx(5.0 + 4.0 + 1.0));
  // 64 one-block kernels of 8 us (a wide fan-out) fit side by side: 64 * 8 / 132 us of work.
  profile fan;
  fan.limits = h100();
  fan.ops.resize(64);
  for (auto& op : fan.ops) op.kernels = {kernel(1, 256, 0.125, 8.0)};
  CHECK(work_bound_us(fan) == doctest::Approx(64 * 8.0 / 132));
  CHECK(work_bound_us(profile{}) == 0.0);
}
