//! conv_sweep: times the sm_90 convolution kernel on GoogLeNet's (or Inception-v3's) heaviest layers
//! for every main loop (sm90_pipeline; CONV_SWEEP_PIPELINES=ring,specialized,persistent picks), tile
//! and split-K counts 1, 2, 4, 8, to choose the per-layer rule from measurements (a tuning tool, not a
//! test) and to check the rule's pick against the best.
//! Each figure: 20 launches captured in one CUDA graph, median of 20 replays, divided by 20.
//! Build variants with -DGOOGLENET_SM90_PIPE_KB=N to compare shared-memory ring sizes.
//!   conv_sweep [googlenet|inception_v3]   prints one line per layer x config: us and TFLOP/s
//!   conv_sweep fixed                      a small layer's fixed cost against its K loop (fixed_cost)
//!   conv_sweep stamps                     where its blocks spend their time (googlenet_conv_sweep_stamps)
//!   conv_sweep copies                     how fast one SM fills its shared memory: cp.async against bulk copies
#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include <opara/cuda/runtime/timed_event.hpp>

#include "kernels/conv_sm90.cuh"
#include "kernels/launch.hpp"
#include "kernels/layout.hpp"
#include "test_util.hpp"

namespace k = convnet::kernels;
using namespace convnet::test;

namespace {

struct layer {
  const char* name;
  k::conv_shape s;
};

double time_config(const k::conv_shape& s, k::sm90_config c, const float* in, const float* w, const float* b,
                   float* out, cudaStream_t st) {
  constexpr int per_graph = 20;
  cudaGraph_t g = nullptr;
  cudaGraphExec_t ge = nullptr;
  CHECK_CUDA(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < per_graph; ++i)
    CHECK_CUDA(k::sm90::conv_bias_relu_nhwc(s, c, false, in, w, b, out, st));
  CHECK_CUDA(cudaStreamEndCapture(st, &g));
  CHECK_CUDA(cudaGraphInstantiate(&ge, g, 0));
  for (int i = 0; i < 3; ++i) CHECK_CUDA(cudaGraphLaunch(ge, st));
  const opara::cuda::event_timer timer;
  std::vector<double> t;  // us per replay
  for (int r = 0; r < 20; ++r) t.push_back(timer.time(st, [&] { CHECK_CUDA(cudaGraphLaunch(ge, st)); }).count());
  std::sort(t.begin(), t.end());
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  return t[t.size() / 2] / per_graph;
}

__global__ void empty_kernel() {}

// The fixed cost of a small layer, split: an empty kernel's launch in a graph, then a 1x1 layer of
// 14x14 pixels at batch 8 (GoogLeNet's inception-4 maps; 13 blocks of 128 pixels) with K = cin from 32
// to 1024 timed per pipeline and fitted to fixed + per_step * K steps: the intercept less the launch
// is what the kernel spends outside the K loop (set-up, the ring's fill, the epilogue).
void fixed_cost(const std::vector<k::sm90_pipeline>& pipelines, cudaStream_t st) {
  {
    constexpr int per_graph = 20;
    cudaGraph_t g = nullptr;
    cudaGraphExec_t ge = nullptr;
    CHECK_CUDA(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < per_graph; ++i) empty_kernel<<<1, 32, 0, st>>>();
    CHECK_CUDA(cudaStreamEndCapture(st, &g));
    CHECK_CUDA(cudaGraphInstantiate(&ge, g, 0));
    for (int i = 0; i < 3; ++i) CHECK_CUDA(cudaGraphLaunch(ge, st));
    const opara::cuda::event_timer timer;
    std::vector<double> t;
    for (int r = 0; r < 20; ++r) t.push_back(timer.time(st, [&] { CHECK_CUDA(cudaGraphLaunch(ge, st)); }).count());
    std::sort(t.begin(), t.end());
    std::printf("FIXED empty kernel in a graph: %.2f us per launch\n", t[t.size() / 2] / per_graph);
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
  }
  for (auto pipe : pipelines)
    for (auto tile : {k::sm90_tile::m128n64, k::sm90_tile::m64n64}) {
      std::vector<double> xs, ys;
      for (int cin : {32, 64, 128, 256, 512, 1024}) {
        k::conv_shape s = cs(8, cin, 14, 14, 128, 1, 1, 0);
        dev_buf in(random_vec(static_cast<std::size_t>(s.batch) * s.h * s.w * s.cin4()));
        dev_buf w(random_vec(static_cast<std::size_t>(s.cout) * s.k_pad_nhwc(), -0.05f, 0.05f)), b(random_vec(s.cout));
        dev_buf out(static_cast<std::size_t>(s.batch) * s.ho() * s.wo() * s.total_channels());
        const double us = time_config(s, {tile, 1, pipe}, in.p, w.p, b.p, out.p, st);
        xs.push_back(s.k_pad_nhwc() / 32.0);
        ys.push_back(us);
        std::printf("FIXED %-11s %-7s cin %4d  %2.0f K steps  %6.2f us\n", k::pipeline_name(pipe), k::tile_name(tile), cin,
                    xs.back(), us);
      }
      double mx = 0, my = 0;
      for (std::size_t i = 0; i < xs.size(); ++i) mx += xs[i] / xs.size(), my += ys[i] / ys.size();
      double sxy = 0, sxx = 0;
      for (std::size_t i = 0; i < xs.size(); ++i) sxy += (xs[i] - mx) * (ys[i] - my), sxx += (xs[i] - mx) * (xs[i] - mx);
      const double slope = sxy / sxx;
      std::printf("FIXED %-11s %-7s fit: %.2f us + %.3f us per K step\n", k::pipeline_name(pipe), k::tile_name(tile),
                  my - slope * mx, slope);
    }
}

#ifdef GOOGLENET_SM90_STAMPS
// Where a small layer's block spends its time (the ring; stamps in conv_sm90.cuh): the layer of
// fixed_cost at 1 and 16 K steps, 20 launches each, the parts averaged over blocks.
void block_parts(cudaStream_t st) {
  int khz = 0;
  CHECK_CUDA(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0));
  for (auto tile : {k::sm90_tile::m128n64, k::sm90_tile::m64n64})
    for (int cin : {32, 512}) {
      k::conv_shape s = cs(8, cin, 14, 14, 128, 1, 1, 0);
      dev_buf in(random_vec(static_cast<std::size_t>(s.batch) * s.h * s.w * s.cin4()));
      dev_buf w(random_vec(static_cast<std::size_t>(s.cout) * s.k_pad_nhwc(), -0.05f, 0.05f)), b(random_vec(s.cout));
      dev_buf out(static_cast<std::size_t>(s.batch) * s.ho() * s.wo() * s.total_channels());
      const double us = time_config(s, {tile, 1}, in.p, w.p, b.p, out.p, st);
      const unsigned long long zero[6] = {};
      CHECK_CUDA(cudaMemcpyToSymbol(k::sm90::detail::stamp_cycles, zero, sizeof zero));
      for (int i = 0; i < 20; ++i) CHECK_CUDA(k::sm90::conv_bias_relu_nhwc(s, {tile, 1}, false, in.p, w.p, b.p, out.p, st));
      CHECK_CUDA(cudaStreamSynchronize(st));
      unsigned long long sum[6];
      CHECK_CUDA(cudaMemcpyFromSymbol(sum, k::sm90::detail::stamp_cycles, sizeof sum));
      const double per = 1e3 / khz / static_cast<double>(sum[5]);  // cycles summed over blocks -> us per block
      // One launch at a time (nothing before it on the GPU): its span from the first block's start to
      // the last block's stores issued, on the global timer.
      double span_ns = 0;
      constexpr int spans = 10;
      for (int i = 0; i < spans; ++i) {
        const unsigned long long init[2] = {~0ull, 0ull};
        CHECK_CUDA(cudaMemcpyToSymbol(k::sm90::detail::stamp_span, init, sizeof init));
        CHECK_CUDA(k::sm90::conv_bias_relu_nhwc(s, {tile, 1}, false, in.p, w.p, b.p, out.p, st));
        CHECK_CUDA(cudaStreamSynchronize(st));
        unsigned long long got[2];
        CHECK_CUDA(cudaMemcpyFromSymbol(got, k::sm90::detail::stamp_span, sizeof got));
        span_ns += static_cast<double>(got[1] - got[0]) / spans;
      }
      std::printf("PARTS ring %-7s cin %4d (%2d K steps, %llu blocks): kernel %6.2f us in a graph, span alone %.2f us; "
                  "per block: set-up %.2f, activation copies issued %.2f, first stage landed %.2f, rest of the K loop "
                  "%.2f, epilogue %.2f us\n",
                  k::tile_name(tile), cin, s.k_pad_nhwc() / 32, sum[5] / 20, us, span_ns * 1e-3, sum[0] * per,
                  sum[1] * per, sum[2] * per, sum[3] * per, sum[4] * per);
    }
}
#endif

// How fast one SM fills its shared memory from L2, without the tensor cores (conv_sweep copies):
// each block (one per SM: 128 KB of shared memory) streams `steps` 16 KB stages from an 8 MB buffer
// that stays in L2, either the ring's way (256 threads, 16-byte cp.async, `Ahead` stages in flight,
// a block barrier per stage) or with bulk copies (the tensor-memory accelerator's 1-D cp.async.bulk,
// issued by one warp in `Pieces` copies per stage, every stage in flight, an mbarrier each).
constexpr int copy_stage = 16384, copy_stages = 6, copy_smem = 128 * 1024;

__device__ __forceinline__ std::size_t copy_offset(int step, std::size_t mask) {
  return (static_cast<std::size_t>(blockIdx.x) * 97 + static_cast<std::size_t>(step)) * copy_stage & mask;
}

template <int Ahead>
__global__ void __launch_bounds__(256) copy_cp_async(const char* src, std::size_t mask, int steps) {
  extern __shared__ __align__(1024) std::uint8_t copy_raw[];
  const std::uint32_t base = k::detail::shared_address(copy_raw);
  const int t = static_cast<int>(threadIdx.x);
  auto issue = [&](int step) {
    if (step < steps) {
      const std::uint32_t dst = base + static_cast<std::uint32_t>(step % copy_stages * copy_stage);
      const char* from = src + copy_offset(step, mask);
#pragma unroll
      for (int i = 0; i < copy_stage / 16 / 256; ++i)
        k::detail::cp_async16(dst + static_cast<std::uint32_t>((i * 256 + t) * 16), from + (i * 256 + t) * 16, true);
    }
    k::detail::cp_async_commit();
  };
  for (int s = 0; s < Ahead; ++s) issue(s);
  for (int step = 0; step < steps; ++step) {
    k::detail::cp_async_wait<Ahead - 1>();
    __syncthreads();
    issue(step + Ahead);
  }
  k::detail::cp_async_wait<0>();
}

template <int Pieces>
__global__ void __launch_bounds__(128) copy_bulk(const char* src, std::size_t mask, int steps) {
  extern __shared__ __align__(1024) std::uint8_t copy_raw[];
  __shared__ __align__(8) std::uint64_t full[copy_stages];
  constexpr int piece = copy_stage / Pieces;
  static_assert(piece % 16 == 0, "bulk copies move multiples of 16 bytes");
  const std::uint32_t base = k::detail::shared_address(copy_raw);
  const int t = static_cast<int>(threadIdx.x);
  if (t == 0)
    for (int s = 0; s < copy_stages; ++s)
      k::sm90::detail::mbar_init(k::detail::shared_address(&full[s]), 1);
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  __syncthreads();
  if (t >= 32) return;
  auto issue = [&](int step) {
    const int s = step % copy_stages;
    const std::uint32_t bar = k::detail::shared_address(&full[s]);
    if (t == 0)
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(copy_stage) : "memory");
    __syncwarp();
    const std::uint32_t dst = base + static_cast<std::uint32_t>(s * copy_stage);
    const char* from = src + copy_offset(step, mask);
    for (int p = t; p < Pieces; p += 32)
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                       dst + static_cast<std::uint32_t>(p * piece)),
                   "l"(from + p * piece), "r"(piece), "r"(bar)
                   : "memory");
  };
  for (int s = 0; s < copy_stages && s < steps; ++s) issue(s);
  for (int step = 0; step < steps; ++step) {
    const std::uint32_t bar = k::detail::shared_address(&full[step % copy_stages]);
    const std::uint32_t parity = static_cast<std::uint32_t>(step / copy_stages) & 1u;
    k::sm90::detail::mbar_wait(bar, parity);
    __syncwarp();
    if (step + copy_stages < steps) issue(step + copy_stages);
  }
}

template <class Kernel>
void time_copies(const char* what, Kernel kernel, int threads, const char* src, std::size_t bytes, cudaStream_t st) {
  CHECK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, copy_smem));
  constexpr int steps = 1024;
  for (int blocks : {1, 8, 26, 66, 132}) {
    const opara::cuda::event_timer timer;
    std::vector<double> t;
    for (int r = 0; r < 7; ++r) {
      const double us = timer.time(st, [&] {
        kernel<<<blocks, threads, copy_smem, st>>>(src, bytes - 1, steps);
        CHECK_CUDA(cudaGetLastError());
      }).count();
      if (r > 1) t.push_back(us);
    }
    std::sort(t.begin(), t.end());
    const double us = t[t.size() / 2];
    const double per_block = static_cast<double>(steps) * copy_stage / (us * 1e-6) / 1e9;
    std::printf("COPIES %-34s blocks %3d  %7.1f GB/s per SM  %6.2f TB/s in all  (%.2f us per 16 KB stage)\n", what, blocks,
                per_block, per_block * blocks / 1e3, us / steps);
  }
}

void copies(cudaStream_t st) {
  constexpr std::size_t bytes = std::size_t{8} << 20;
  dev_buf buf(random_vec(bytes / sizeof(float)));
  const char* src = reinterpret_cast<const char*>(buf.p);
  time_copies("cp.async 16 B, 3 stages in flight", copy_cp_async<3>, 256, src, bytes, st);
  time_copies("cp.async 16 B, 5 stages in flight", copy_cp_async<5>, 256, src, bytes, st);
  time_copies("bulk, 128 B pieces, 6 in flight", copy_bulk<128>, 128, src, bytes, st);
  time_copies("bulk, 1 KB pieces, 6 in flight", copy_bulk<16>, 128, src, bytes, st);
  time_copies("bulk, 16 KB pieces, 6 in flight", copy_bulk<1>, 128, src, bytes, st);
}

} // namespace

int main(int argc, char** argv) {
  devices_or_skip();
  const std::string model = argc > 1 ? argv[1] : "googlenet";
  if (model != "googlenet" && model != "inception_v3" && model != "fixed" && model != "stamps" && model != "copies") {
    std::fprintf(stderr, "conv_sweep: unknown model '%s' (googlenet, inception_v3, fixed, stamps or copies)\n",
                 model.c_str());
    return 2;
  }
  if (!convnet::launch::sm90_supported(0)) {
    std::puts("GPU is not compute capability 9.0: skipped");
    return 77;
  }
  const std::vector<layer> googlenet_layers = {
      {"b8 conv1", cs(8, 3, 224, 224, 64, 7, 2, 3)},      {"b8 conv3", cs(8, 64, 56, 56, 192, 3, 1, 1)},
      {"b8 3a.b2.0", cs(8, 192, 28, 28, 96, 1, 1, 0)},    {"b8 3a.b2.1", cs(8, 96, 28, 28, 128, 3, 1, 1)},
      {"b8 3b.b2.1", cs(8, 128, 28, 28, 192, 3, 1, 1)},   {"b8 4a.b1", cs(8, 480, 14, 14, 192, 1, 1, 0)},
      {"b8 4e.b2.1", cs(8, 160, 14, 14, 320, 3, 1, 1)},   {"b8 5b.b2.1", cs(8, 192, 7, 7, 384, 3, 1, 1)},
      {"b1 conv3", cs(1, 64, 56, 56, 192, 3, 1, 1)},      {"b1 4e.b2.1", cs(1, 160, 14, 14, 320, 3, 1, 1)},
      {"b1 5b.b1", cs(1, 832, 7, 7, 384, 1, 1, 0)},
  };
  // Inception-v3: the 147x147 and 71x71 stem, 35x35, the 17x17 1x7 / 7x1 and the 8x8 maps.
  const std::vector<layer> inception_layers = {
      {"b8 2b_3x3", cs(8, 32, 147, 147, 64, 3, 1, 1)},          {"b8 4a_3x3", cs(8, 80, 73, 73, 192, 3, 1, 0)},
      {"b8 5b.5x5_2", cs(8, 48, 35, 35, 64, 5, 1, 2)},          {"b8 5b.dbl_3", cs(8, 96, 35, 35, 96, 3, 1, 1)},
      {"b8 6a.3x3", cs(8, 288, 35, 35, 384, 3, 2, 0)},          {"b8 6b.1x1", cs(8, 768, 17, 17, 192, 1, 1, 0)},
      {"b8 6e.7x7_2", cs_rect(8, 192, 17, 17, 192, 1, 7, 1, 0, 3)}, {"b8 7b.dbl_2", cs(8, 448, 8, 8, 384, 3, 1, 1)},
      {"b8 7b.3x3_2a", cs_rect(8, 384, 8, 8, 384, 1, 3, 1, 0, 1)}, {"b8 7c.1x1", cs(8, 2048, 8, 8, 320, 1, 1, 0)},
      {"b1 4a_3x3", cs(1, 80, 73, 73, 192, 3, 1, 0)},           {"b1 5b.dbl_3", cs(1, 96, 35, 35, 96, 3, 1, 1)},
      {"b1 6a.3x3", cs(1, 288, 35, 35, 384, 3, 2, 0)},          {"b1 6e.7x7_2", cs_rect(1, 192, 17, 17, 192, 1, 7, 1, 0, 3)},
      {"b1 7b.dbl_2", cs(1, 448, 8, 8, 384, 3, 1, 1)},          {"b1 7c.1x1", cs(1, 2048, 8, 8, 320, 1, 1, 0)},
  };
  const std::vector<layer>& layers = model == "googlenet" ? googlenet_layers : inception_layers;
  const k::sm90_tile tiles[] = {k::sm90_tile::m128n192, k::sm90_tile::m128n128, k::sm90_tile::m128n96,
                                k::sm90_tile::m128n64,  k::sm90_tile::m64n128,  k::sm90_tile::m64n64,
                                k::sm90_tile::m64n32};
  // CONV_SWEEP_PIPELINES: which main loops to time (default all three).
  std::vector<k::sm90_pipeline> pipelines;
  const char* env = std::getenv("CONV_SWEEP_PIPELINES");
  const std::string want = env != nullptr ? env : "ring,specialized,persistent";
  for (k::sm90_pipeline p : {k::sm90_pipeline::ring, k::sm90_pipeline::specialized, k::sm90_pipeline::persistent})
    if (want.find(k::pipeline_name(p)) != std::string::npos) pipelines.push_back(p);
  cudaStream_t st;
  CHECK_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  if (model == "fixed") {
    fixed_cost(pipelines, st);
    return 0;
  }
  if (model == "copies") {
    copies(st);
    return 0;
  }
  if (model == "stamps") {
#ifdef GOOGLENET_SM90_STAMPS
    block_parts(st);
    return 0;
#else
    std::fputs("conv_sweep stamps: needs the build with GOOGLENET_SM90_STAMPS (googlenet_conv_sweep_stamps)\n", stderr);
    return 2;
#endif
  }
  std::printf("pipeline ring budget %d KB\n", GOOGLENET_SM90_PIPE_KB);
  for (const layer& l : layers) {
    k::conv_shape s = l.s;
    s.c_total = (s.cout + 3) / 4 * 4;
    dev_buf in(k::nchw_to_nhwc(random_vec(static_cast<std::size_t>(s.batch) * s.cin * s.h * s.w), s.batch, s.cin,
                               s.h * s.w, s.cin4()));
    std::vector<float> wraw = random_vec(static_cast<std::size_t>(s.cout) * s.k(), -0.05f, 0.05f);
    dev_buf w(k::pack_weights_nhwc(s, wraw.data(), true)), b(random_vec(s.cout));
    dev_buf out(static_cast<std::size_t>(s.batch) * s.ho() * s.wo() * s.total_channels());
    const k::sm90_config rule = k::choose_sm90_config(s);
    double best = 1e30;
    k::sm90_config best_c;
    for (auto pipe : pipelines)
    for (auto t : tiles)
      for (int sp : {1, 2, 4, 8}) {
        const k::sm90_config c{t, sp, pipe};
        if (sp > 1 && pipe == k::sm90_pipeline::persistent) continue;  // split-K keeps one tile per block
        if (sp > 1 && (k::sm90_blocks(s, t) > 264 || s.k_pad_nhwc() / 32 / sp < 3)) continue;
        const double us = time_config(s, c, in.p, w.p, b.p, out.p, st);
        if (us < best) {
          best = us;
          best_c = c;
        }
        std::printf("%-12s %-11s %-8s split %d blocks %5lld  %7.2f us %7.1f TFLOP/s%s\n", l.name, k::pipeline_name(pipe),
                    k::tile_name(t), sp, k::sm90_blocks(s, t) * sp, us, s.flops() / (us * 1e-6) / 1e12,
                    t == rule.tile && sp == rule.splits && pipe == k::sm90_pipeline::ring ? "  <- rule" : "");
      }
    std::printf("BEST %-12s %-11s %-8s split %d %7.2f us %7.1f TFLOP/s (rule: %s split %d)\n", l.name,
                k::pipeline_name(best_c.pipeline), k::tile_name(best_c.tile), best_c.splits, best,
                s.flops() / (best * 1e-6) / 1e12, k::tile_name(rule.tile), rule.splits);
  }
  return 0;
}
