// Lower bounds from a profile: resident blocks, a kernel's share of the GPU, the work bound.
#include <opara/graph/graph.hpp>
#include <opara/profile/bounds.hpp>
#include <opara/profile/check.hpp>

#include "support/model_fixtures.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

using namespace opara;

namespace {

using test::h100;  // the H100-like device of the GPU model's tests

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

TEST_CASE("bounds.extreme_grids_and_blocks_stay_finite") {
  const auto l = h100();
  constexpr std::uint32_t most = std::numeric_limits<std::uint32_t>::max();
  profile p;
  p.limits = l;
  p.ops.resize(1);
  for (std::array<std::uint32_t, 3> grid : {std::array<std::uint32_t, 3>{most, 1, 1}, {most, most, 1}, {most, most, most}})
    for (std::array<std::uint32_t, 3> block : {std::array<std::uint32_t, 3>{256, 1, 1}, {most, 1, 1}, {most, most, most}}) {
      kernel_record k = kernel(1, 1, 1.0, 10.0);
      k.grid = grid;
      k.block = block;
      p.ops[0].kernels = {k};
      const double share = gpu_share(k, l);
      CHECK(share >= 0.0);
      CHECK(share <= 1.0);
      CHECK(std::isfinite(work_bound_us(p)));
      CHECK(work_bound_us(p) <= 10.0);
    }
  kernel_record k = kernel(1, 256, 1.0, 10.0);
  k.grid = {most, most, most};  // 2^96 blocks: saturates, never wraps to a small count
  CHECK(k.blocks() == std::numeric_limits<std::uint64_t>::max());
  CHECK(gpu_share(k, l) == doctest::Approx(1.0));
  // Every slot busy for all but a sliver of the last wave.
  k.grid = {most, 1, 1};
  CHECK(gpu_share(k, l) > 0.999);
  device_limits huge = l;
  huge.sm_count = most;
  huge.max_threads_per_sm = most;
  CHECK(std::isfinite(gpu_share(k, huge)));
  CHECK(gpu_share(k, huge) <= 1.0);
}

TEST_CASE("bounds.shared_memory_sums_do_not_wrap") {
  kernel_record k;
  k.static_shared_bytes = 1u << 31;
  k.dynamic_shared_bytes = 1u << 31;
  CHECK(k.shared_bytes() == (std::uint64_t{1} << 32));  // was 0 in 32 bits
  operator_record op;
  op.kernels = {k};
  CHECK(classify_bound(op) == boundness::compute);
}

TEST_CASE("bounds.work_bound_rejects_a_non_finite_duration") {
  profile p;
  p.limits = h100();
  p.ops.resize(2);
  p.ops[1].kernels = {kernel(1, 256, 0.125, std::numeric_limits<double>::infinity())};
  CHECK_THROWS_WITH_AS((void)work_bound_us(p), doctest::Contains("of operator 1"), opara::error);
}

TEST_CASE("bounds.lower_bound_is_the_larger_of_critical_path_and_work") {
  graph_builder b;
  b.add_nodes(3);
  b.add_edge(0, 1);  // 0 -> 1, and 2 alone
  const graph g = b.build();
  profile p;
  p.limits = h100();
  p.ops.resize(3);
  p.ops[0].duration_us = 3;
  p.ops[1].duration_us = 4;
  p.ops[2].duration_us = 5;
  CHECK(lower_bound_us(g, p) == doctest::Approx(7.0));  // critical path 0 -> 1; no kernels, no work
  p.ops[2].kernels = {kernel(132, 256, 0.125, 20.0)};  // the whole GPU for 20 us
  CHECK(lower_bound_us(g, p) == doctest::Approx(20.0));
  p.ops.pop_back();
  CHECK_THROWS_AS((void)lower_bound_us(g, p), opara::error);  // one record per node
}

TEST_CASE("classify_bound.one_rule_for_profiler_and_order") {
  operator_record op;
  CHECK(classify_bound(op) == boundness::unknown);  // no kernels (event timing)
  kernel_record small = kernel(64, 256, 0.5, 1.0), tiled = kernel(64, 256, 0.5, 9.0);
  tiled.static_shared_bytes = 4096;
  op.kernels = {small, tiled};
  CHECK(classify_bound(op) == boundness::compute);  // the longest kernel tiles in shared memory
  op.kernels[1].duration_us = 0.5;
  CHECK(classify_bound(op) == boundness::memory);   // now the longest is element-wise
  op.kernels[0].registers_per_thread = 128;
  CHECK(classify_bound(op) == boundness::compute);  // deep register blocking
  op.bound = boundness::memory;
  CHECK(classify_bound(op) == boundness::memory);   // a recorded bound wins
}

TEST_CASE("bounds.durations_that_add_up_past_a_double_are_an_error_not_infinity") {
  graph_builder b;
  b.add_nodes(2);
  b.add_edge(0, 1);
  const graph g = b.build();
  profile p;
  p.limits = h100();
  p.ops.resize(2);
  p.ops[0].duration_us = 1e308;
  p.ops[1].duration_us = 1e308;  // each finite, the path is not
  CHECK_THROWS_WITH_AS((void)lower_bound_us(g, p), doctest::Contains("past the largest double"), opara::error);
  p.ops[1].duration_us = 1;
  p.ops[0].kernels = {kernel(132, 256, 0.125, 1e308), kernel(132, 256, 0.125, 1e308)};
  CHECK_THROWS_WITH_AS((void)work_bound_us(p), doctest::Contains("past the largest double"), opara::error);
  p.ops[0].kernels.pop_back();
  CHECK(std::isfinite(lower_bound_us(g, p)));
}
