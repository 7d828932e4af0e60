#pragma once
//! Hopper (sm_90a) convolution: fused conv + bias + ReLU over NHWC tensors as an implicit GEMM on the
//! wgmma tensor-core instructions, fp32 accumulation; fp32 tensors with TF32 products, or bf16 tensors
//! with bf16 products (the element type T, float or __nv_bfloat16: one kernel, see "BF16" below).
//!
//!   out[p, c_off + n] = relu(bias[n] + sum_k im2col(in)[p, k] * W[n, k])
//!
//! M = output pixels (batch * ho * wo), N = output channels, K = kh * kw * cin4 in (r, s, ci) order,
//! where cin4 = round_up(cin, 4) is the channel count each input pixel stores (the extra channels hold
//! zeros). Both GEMM operands are K-major, as TF32 wgmma requires: a pixel's channels are contiguous
//! in NHWC, and the weights are packed [cout][kh][kw][cin4], zero-padded to k_pad_nhwc() (see shapes.hpp).
//! The result goes straight into channels [c_off, c_off + cout) of a c_total-channel NHWC tensor, so
//! concatenation costs nothing, and is rounded to TF32 (round to nearest), which is what the next
//! convolution's tensor cores would read anyway: wgmma truncates fp32 operands to TF32, so operands
//! rounded beforehand (the engine also rounds weights and the input image) lose nothing to truncation.
//!
//! Pipeline: BK = 32 floats (one 128-byte row per pixel or channel), a STAGES-deep ring of cp.async
//! 16-byte copies (zero-filled for padding and past K) into 128-byte-swizzled tiles, one warpgroup per
//! 64 pixels issuing m64nBNk8 wgmmas straight from shared memory. A stage is refilled once
//! `wgmma.wait_group` has retired its wgmmas in every warpgroup (one or two groups stay in flight).
//! Everything that does not read the previous operator's output (index set-up, the weight tiles of
//! the first stages) is issued before the first read of the input activations, so that a later
//! programmatic dependent launch can overlap it with the producer's tail.
//!
//! Two more main loops (sm90_pipeline; the ring above is the default): specialized, where a producer
//! warpgroup issues every copy and the consumer warpgroups only wait on an mbarrier per stage, run the
//! wgmmas and hand the stage back through a second mbarrier (no block barrier, no thread both copying
//! and waiting), and persistent, the same with at most as many blocks as the GPU holds at once, each
//! looping over output tiles so that the ring's fill for the next tile overlaps the epilogue of the
//! last. Measured on an H100 (examples/googlenet/RESULTS.md) neither beats the ring on these models:
//! a K step costs 8-19% less, the block's fixed cost 0.4-0.7 us more, and the 128-pixel tiles fit
//! once per SM instead of twice (384 threads x ~130 registers), which the parallel schedule feels.
//!
//! Fused 3x3/s1/p1 max pool (POOL): an inception block's pool-projection 1x1 conv reads the block
//! input and takes the 3x3 maximum on the fly while gathering its A tile (synchronous 16-byte loads),
//! which removes the pool kernel and its round trip through memory.
//!
//! Split-K across a thread-block cluster (gridDim.z = splits, cluster 1x1xsplits): block z runs a
//! contiguous share of the K steps, leaves its partial tile in shared memory, and after a cluster
//! barrier each block reduces a share of the rows by reading all partial tiles through distributed
//! shared memory in rank order (deterministic). One launch, no workspace: graph- and replay-safe.
//!
//! BF16 (T = __nv_bfloat16): a 128-byte swizzle row holds 64 bf16 instead of 32 fp32, and one
//! m64nNk16 bf16 wgmma consumes 32 bytes of each row as one m64nNk8 TF32 wgmma does, so the tiles,
//! their descriptors and the per-step descriptor advance are the same; what changes is the elements
//! per 16-byte chunk (8), BK (64 elements), the channel padding (a pixel stores cin8 channels, the
//! weights are [cout][kh][kw][cin8] padded to a multiple of 64: conv_shape's precision argument), the
//! instruction, and the epilogue: bias and ReLU in fp32 on the fp32 accumulators (split-K partials
//! stay fp32), then one rounding to bf16, to nearest even. The fused pool is fp32 only.

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include <opara/cuda/runtime/pdl.cuh>

#include "cp_async.cuh"
#include "elem.cuh"
#include "launch_helpers.cuh"
#include "shapes.hpp"

//! Shared memory the cp.async ring may take per block, in KB (conv_sweep builds other values).
#ifndef GOOGLENET_SM90_PIPE_KB
#define GOOGLENET_SM90_PIPE_KB 96
#endif

namespace convnet::kernels::sm90 {

namespace detail {

using kernels::detail::cp_async16;
using kernels::detail::cp_async16_l1;
using kernels::detail::cp_async4;
using kernels::detail::cp_async_commit;
using kernels::detail::cp_async_wait;

template <int N>
struct wgmma_tf32;
#include "wgmma_tf32.inc"
template <int N>
struct wgmma_bf16;
#include "wgmma_bf16.inc"

constexpr int row_bytes = 128;  // one K step: a 128-byte swizzle row per pixel or channel
template <class T>
constexpr int bk = row_bytes / static_cast<int>(sizeof(T));  // elements per K step: 32 fp32, 64 bf16
template <class T>
constexpr int chunk = elem::traits<T>::per_chunk;            // elements per 16-byte chunk: 4 fp32, 8 bf16
template <class T>
constexpr conv_precision precision_of = std::is_same_v<T, float> ? conv_precision::tf32 : conv_precision::bf16;

// One wgmma of a K step (32 bytes of every row; four per step): m64nBNk8 TF32 or m64nBNk16 BF16.
template <class T, int BN>
__device__ __forceinline__ void mma(float* acc, std::uint64_t da, std::uint64_t db) {
  if constexpr (std::is_same_v<T, float>) wgmma_tf32<BN>::mma(acc, da, db);
  else wgmma_bf16<BN>::mma(acc, da, db);
}

// Shared-memory matrix descriptor of a K-major tile with 128-byte swizzle: rows of 128 bytes, 8-row
// atoms 1024 bytes apart (stride byte offset), the leading byte offset unused for this layout.
__device__ __forceinline__ std::uint64_t desc_sw128(std::uint32_t saddr) {
  std::uint64_t d = (saddr & 0x3FFFFu) >> 4;
  d |= std::uint64_t{1} << 16;
  d |= std::uint64_t{1024 >> 4} << 32;
  d |= std::uint64_t{1} << 62;
  return d;
}

__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmmas.
template <int R>
__device__ __forceinline__ void pin(float (&acc)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+f"(acc[i])::"memory");
}
__device__ __forceinline__ void fence_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

__device__ __forceinline__ float round_tf32(float x) {
  std::uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return __uint_as_float(r);
}
__device__ __forceinline__ float bias_relu_tf32(float acc, float b) {
  const float v = acc + b;
  return round_tf32(v > 0.0f ? v : 0.0f);
}
// The epilogue's value before the store: fp32 rounded to TF32; bf16 left in fp32 (the store rounds it
// to bf16, to nearest even).
template <class T>
__device__ __forceinline__ float bias_relu(float acc, float b) {
  if constexpr (std::is_same_v<T, float>) {
    return bias_relu_tf32(acc, b);
  } else {
    const float v = acc + b;
    return v > 0.0f ? v : 0.0f;
  }
}

// Byte offset of 16-byte chunk j (0..7) of row r in a 128-byte-swizzled tile (tile 1024-aligned).
__device__ __forceinline__ std::uint32_t swz(int r, int j) {
  return static_cast<std::uint32_t>(r * row_bytes + ((j ^ (r & 7)) << 4));
}

//! Slices one fused GEMM may write (horizontal fusion: an inception block's 1x1 convolutions).
constexpr int max_slices = kernels::max_conv_outputs;

template <class T>
struct conv_args {
  const T* in;
  const T* wgt;
  const float* bias;
  T* out;
  int h, w, cinp, cout;  // cinp: channels an input pixel stores (cin4 fp32, cin8 bf16)
  int kw;  // window width (the generic KS = 0 instantiation reads it; the others know it)
  int stride, pad_h, pad_w, ho, wo;
  int c_off, c_total;
  int m_total;  // batch * ho * wo
  int k;        // kh * kw * cinp
  int k_pad;    // round_up(k, bk<T>)
  // Horizontal fusion: columns from more[i].n_begin on (until the next slice's) go to channels
  // more[i].c_off + (n - n_begin) of the more[i].c_total-channel tensor more[i].out; the columns
  // before more[0].n_begin to out, c_off, c_total as above. slices - 1 of them are used.
  int slices;
  struct slice {
    T* out;
    int n_begin, c_off, c_total;
  } more[max_slices - 1];
};

// Where column n of output pixel m goes (slice 0, or the fused GEMM's later slice holding n).
template <class E>
__device__ __forceinline__ E* out_at(const conv_args<E>& a, int m, int n) {
  E* base = a.out;
  int off = a.c_off, total = a.c_total, nb = 0;
#pragma unroll
  for (int i = 0; i < max_slices - 1; ++i)
    if (i + 1 < a.slices && n >= a.more[i].n_begin) {
      base = a.more[i].out;
      off = a.more[i].c_off;
      total = a.more[i].c_total;
      nb = a.more[i].n_begin;
    }
  return base + static_cast<long long>(m) * total + off + (n - nb);
}

template <int BM, int BN>
struct tile_traits {
  static_assert(BM == 64 || BM == 128, "one warpgroup per 64 pixels");
  static_assert(BN % 8 == 0 && BN >= 8 && BN <= 256, "wgmma N");
  static constexpr int threads = 2 * BM;  // 128 per warpgroup
  static constexpr int a_bytes = BM * row_bytes;
  static constexpr int b_bytes = BN * row_bytes;
  static constexpr int stage_bytes = a_bytes + b_bytes;
  // As deep as the ring budget allows (96 KB: two blocks per SM), 4 to 8 stages: the K loop of these
  // thin GEMMs is bound by the latency of the copies, so the more in flight the better.
  static constexpr int budget = GOOGLENET_SM90_PIPE_KB * 1024;
  static constexpr int stages = budget / stage_bytes < 4 ? 4 : budget / stage_bytes > 8 ? 8 : budget / stage_bytes;
  static constexpr int pipe_bytes = stages * stage_bytes;
  // The tile in shared memory (the ring's staged epilogue, split-K's partial tile), floats per row:
  // + 8 puts the 8 rows a warp's float2 writes touch at once 8 banks apart (no conflicts).
  static constexpr int part_pitch = BN + 8;
  static constexpr int part_bytes = BM * part_pitch * 4;
  // The ring loop's copy of the tile's BN biases, past the ring and the staged tile.
  static constexpr int bias_offset = pipe_bytes > part_bytes ? pipe_bytes : part_bytes;
  static constexpr int smem_bytes = bias_offset + BN * 4 + 1024;  // + alignment
  static constexpr int a_per_thread = BM * 8 / threads;  // 16-byte chunks per stage: 4
  static constexpr int b_per_thread = (BN * 8 + threads - 1) / threads;
  static constexpr int acc_regs = BN / 2;
};

// The epilogue of a finished tile without split-K, stored from the registers (the specialized
// loops, whose ring is still in use): consumer thread `tid` (0 .. 2 BM - 1) holds rows wrow and
// wrow + 8 of its warpgroup's 64 and columns wcol + 8 i, + 1 (the wgmma accumulator layout).
// One output (a.slices == 1, uniform across the grid): the row's base pointer once; fused (several
// slices, 1x1 windows only: kFusable): each column pair's own (slices start at even columns: n, n + 1
// in one).
template <class E, int BM, int BN, bool kFusable>
__device__ __forceinline__ void store_tile(const conv_args<E>& a, const float (&acc)[BN / 2], int m0, int n0, int tid) {
  const int lane = tid % 32;
  const int wrow = (tid / 128) * 64 + ((tid / 32) % 4) * 16 + lane / 4;
  const int wcol = 2 * (lane % 4);
  const bool one = !kFusable || a.slices == 1;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int m = m0 + wrow + 8 * half;
    if (m >= a.m_total) continue;
    E* dst = a.out + static_cast<long long>(m) * a.c_total + a.c_off;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) {
      const int n = n0 + 8 * i + wcol;
      const float v0 = acc[4 * i + 2 * half], v1 = acc[4 * i + 2 * half + 1];
      E* p = dst + n;
      if constexpr (kFusable)
        if (!one) p = out_at(a, m, n);
      if (n + 1 < a.cout) {
        elem::traits<E>::store2(p, bias_relu<E>(v0, __ldg(a.bias + n)), bias_relu<E>(v1, __ldg(a.bias + n + 1)));
      } else if (n < a.cout) {
        elem::traits<E>::store1(p, bias_relu<E>(v0, __ldg(a.bias + n)));
      }
    }
  }
}

// A consumer's accumulators into a BM x BN float tile in shared memory (part_pitch floats per row).
template <int BM, int BN>
__device__ __forceinline__ void acc_to_smem(const float (&acc)[BN / 2], float* tile, int tid) {
  constexpr int pitch = tile_traits<BM, BN>::part_pitch;
  const int lane = tid % 32;
  const int wrow = (tid / 128) * 64 + ((tid / 32) % 4) * 16 + lane / 4;
  const int wcol = 2 * (lane % 4);
#pragma unroll
  for (int half = 0; half < 2; ++half)
#pragma unroll
    for (int i = 0; i < BN / 8; ++i)
      *reinterpret_cast<float2*>(tile + (wrow + 8 * half) * pitch + 8 * i + wcol) =
          make_float2(acc[4 * i + 2 * half], acc[4 * i + 2 * half + 1]);
}

// Output pixel m's columns n .. n + 3 (n a multiple of 4, so within one slice) from the sums v, with
// bias(column) and ReLU; columns past cout are left alone.
template <class E, bool kFusable, class Bias>
__device__ __forceinline__ void store_chunk(const conv_args<E>& a, int m, int n, float4 v, Bias bias) {
  E* dst = a.out + static_cast<long long>(m) * a.c_total + a.c_off + n;
  if constexpr (kFusable) dst = out_at(a, m, n);
  if (n + 3 < a.cout) {
    elem::traits<E>::store4(dst, bias_relu<E>(v.x, bias(n)), bias_relu<E>(v.y, bias(n + 1)),
                            bias_relu<E>(v.z, bias(n + 2)), bias_relu<E>(v.w, bias(n + 3)));
  } else {
    const float vv[4] = {v.x, v.y, v.z, v.w};
    for (int e = 0; e < 4 && n + e < a.cout; ++e) elem::traits<E>::store1(dst + e, bias_relu<E>(vv[e], bias(n + e)));
  }
}

// The ring loop's epilogue without split-K, staged through shared memory: the accumulators into
// `tile` (the ring, free once the block synchronized after the main loop), then the NT threads store
// 4-column chunks, consecutive threads consecutive chunks of a row, so a warp writes whole 128-byte
// lines where the register layout writes 32-byte pieces of 8 rows. bias_s: the tile's BN biases in
// shared memory (copied with the first stage, so no global load waits here).
template <class E, int BM, int BN, bool kFusable, int NT>
__device__ __forceinline__ void store_tile_staged(const conv_args<E>& a, const float (&acc)[BN / 2], float* tile,
                                                  const float* bias_s, int m0, int n0, int tid) {
  constexpr int pitch = tile_traits<BM, BN>::part_pitch;
  constexpr int quads = BN / 4;
  acc_to_smem<BM, BN>(acc, tile, tid);
  __syncthreads();
  for (int idx = tid; idx < BM * quads; idx += NT) {
    const int row = idx / quads, c4 = (idx - row * quads) * 4;
    const int m = m0 + row, n = n0 + c4;
    if (m >= a.m_total || n >= a.cout) continue;
    store_chunk<E, kFusable>(a, m, n, *reinterpret_cast<const float4*>(tile + row * pitch + c4),
                             [&](int c) { return bias_s[c - n0]; });
  }
}

// Split-K: each block's partial tile to its shared memory `part` (free: the caller synchronized the
// block after the main loop), then a deterministic reduction across the cluster: all NT threads of
// every block reduce a share of the rows, reading the partial tiles through distributed shared memory
// in rank order. `has_acc`: this thread holds accumulators (a consumer; tid < 2 BM).
template <class E, int BM, int BN, bool kFusable, int NT>
__device__ __forceinline__ void reduce_split_k(const conv_args<E>& a, const float (&acc)[BN / 2], float* part, int m0,
                                               int n0, int tid, bool has_acc) {
  constexpr int pitch = tile_traits<BM, BN>::part_pitch;
  const int splits = static_cast<int>(gridDim.z);
  const int rank = static_cast<int>(blockIdx.z);
  if (has_acc) acc_to_smem<BM, BN>(acc, part, tid);
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();
  constexpr int quads = BN / 4;
  constexpr int rows_per_pass = NT / quads;
  const int c4 = (tid % quads) * 4;
  const int first_row = tid < rows_per_pass * quads ? rank + (tid / quads) * splits : BM;  // spare threads idle
  for (int row = first_row; row < BM; row += rows_per_pass * splits) {
    const int m = m0 + row;
    if (m >= a.m_total) continue;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int q = 0; q < splits; ++q) {
      const float* p = cluster.map_shared_rank(part, static_cast<unsigned>(q));
      const float4 x = *reinterpret_cast<const float4*>(p + row * pitch + c4);
      v.x += x.x; v.y += x.y; v.z += x.z; v.w += x.w;
    }
    store_chunk<E, kFusable>(a, m, n0 + c4, v, [&](int c) { return __ldg(a.bias + c); });
  }
  cluster.sync();  // no block leaves while another still reads its shared memory
}

// The copies of one K step (the producer's side of either main loop): NT threads, thread t copying
// 16-byte chunk t % 8 of rows t / 8, t / 8 + NT / 8, ... of the BM-pixel activation tile (an im2col
// gather) and of the BN-channel weight tile, each into its stage with the 128-byte swizzle. start()
// sets up an output tile; then load_b and load_a each copy the next K step (steps go in order).
// KS: the square window's size, compiled in (1, 3, 5, 7); 0 for any other window (kh x kw read from
// the arguments: Inception-v3's 1x7, 7x1, 1x3 and 3x1), which only the cursor's wrap needs.
template <class E, int BM, int BN, int KS, bool POOL, int NT>
struct im2col_loader {
  static_assert(!POOL || KS == 1, "the fused pool feeds a 1x1 convolution");
  static_assert(!POOL || std::is_same_v<E, float>, "the fused pool is fp32 only");
  static constexpr int bk = detail::bk<E>;
  static constexpr int vec = chunk<E>;
  static constexpr int a_per = BM * 8 / NT;             // 16-byte chunks per thread and stage
  static constexpr int b_per = (BN * 8 + NT - 1) / NT;
  static constexpr int rows_apart = NT / 8;
  static_assert(BM * 8 % NT == 0, "whole activation rows per pass");

  const conv_args<E>& a;
  const int t, j, kw;
  int a_ih0[a_per], a_iw0[a_per];
  bool a_ok[a_per];
  const E* a_src[a_per];  // the window corner's channel 0 (only dereferenced in range)
  const E* b_src[b_per];
  bool b_ok[b_per];
  // The A cursor: this thread's k = (r, c, ci) of the next K step to load and its offset
  // (r * w + c) * cinp + ci from the window corner, advanced by bk per step (no division in the loop).
  int cur_k, cur_ci, cur_r, cur_c, cur_off;

  __device__ __forceinline__ im2col_loader(const conv_args<E>& args, int thread)
      : a(args), t(thread), j(thread % 8), kw(KS != 0 ? KS : args.kw) {}

  static __device__ __forceinline__ bool b_row(int t, int i) { return BN * 8 % NT == 0 || t / 8 + i * rows_apart < BN; }

  // Set-up of output tile (m0, n0) from K step kt_begin on; reads no activations.
  __device__ __forceinline__ void start(int m0, int n0, int kt_begin) {
#pragma unroll
    for (int i = 0; i < a_per; ++i) {
      const int m = m0 + t / 8 + i * rows_apart;
      a_ok[i] = m < a.m_total;
      const int mm = a_ok[i] ? m : 0;
      const int hwo = a.ho * a.wo;
      const int b = mm / hwo;
      const int p = mm - b * hwo;
      const int oh = p / a.wo;
      const int ow = p - oh * a.wo;
      a_ih0[i] = oh * a.stride - a.pad_h;
      a_iw0[i] = ow * a.stride - a.pad_w;
      const int corner = (b * a.h + a_ih0[i]) * a.w + a_iw0[i];  // may lie outside the image (padding)
      a_src[i] = a.in + static_cast<long long>(corner) * a.cinp;
    }
#pragma unroll
    for (int i = 0; i < b_per; ++i) {
      const int n = n0 + t / 8 + i * rows_apart;
      b_ok[i] = n < a.cout && b_row(t, i);
      b_src[i] = a.wgt + static_cast<long long>(b_ok[i] ? n : 0) * a.k_pad + kt_begin * bk + j * vec;
    }
    cur_k = kt_begin * bk + j * vec;
    cur_ci = cur_k;
    cur_r = 0;
    cur_c = 0;
    cur_off = cur_k;
    if constexpr (KS != 1) {
      const int rs = cur_k / a.cinp;
      cur_ci = cur_k - rs * a.cinp;
      cur_r = rs / kw;
      cur_c = rs - cur_r * kw;
      cur_off = (cur_r * a.w + cur_c) * a.cinp + cur_ci;
    }
  }

  // The next weight tile into the stage's B tile at shared address `base`.
  __device__ __forceinline__ void load_b(std::uint32_t base) {
#pragma unroll
    for (int i = 0; i < b_per; ++i) {
      if (b_row(t, i)) cp_async16(base + swz(t / 8 + i * rows_apart, j), b_src[i], b_ok[i]);
      b_src[i] += bk;
    }
  }

  // The next activation tile into the stage's A tile at shared address `base` (with POOL: synchronous
  // loads and shared stores, not cp.async).
  __device__ __forceinline__ void load_a(std::uint32_t base) {
    const bool k_ok = cur_k < a.k;
#pragma unroll
    for (int i = 0; i < a_per; ++i) {
      const std::uint32_t dst = base + swz(t / 8 + i * rows_apart, j);
      if constexpr (POOL) {
        // The 3x3 window's 9 loads go out together: out-of-image taps read the clamped (valid) pixel
        // and are left out of the maximum afterwards, so no load waits behind a branch.
        const bool ok = a_ok[i] && k_ok;
        float4 x[9];
#pragma unroll
        for (int q = 0; q < 9; ++q) {
          const int dy = min(max(a_ih0[i] + q / 3 - 1, 0), a.h - 1) - a_ih0[i];
          const int dx = min(max(a_iw0[i] + q % 3 - 1, 0), a.w - 1) - a_iw0[i];
          x[q] = ok ? __ldg(reinterpret_cast<const float4*>(a_src[i] + (dy * a.w + dx) * a.cinp + cur_ci))
                    : make_float4(0.f, 0.f, 0.f, 0.f);
        }
        float4 v = x[4];  // the centre tap is always inside the image
#pragma unroll
        for (int q = 0; q < 9; ++q) {
          const int ih = a_ih0[i] + q / 3 - 1, iw = a_iw0[i] + q % 3 - 1;
          if ((unsigned)ih < (unsigned)a.h && (unsigned)iw < (unsigned)a.w) {
            v.x = fmaxf(v.x, x[q].x); v.y = fmaxf(v.y, x[q].y); v.z = fmaxf(v.z, x[q].z); v.w = fmaxf(v.w, x[q].w);
          }
        }
        asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w)
                     : "memory");
      } else {
        const int ih = a_ih0[i] + cur_r, iw = a_iw0[i] + cur_c;
        const bool ok = a_ok[i] && k_ok && (unsigned)ih < (unsigned)a.h && (unsigned)iw < (unsigned)a.w;
        // 5x5 and 7x7 gathers read each input pixel up to K*K times in a block: through L1 (measured on
        // an H200: conv1 at batch 8 34.4 -> 32.4 us; the 3x3 layers 2-7% slower that way, so L2 only;
        // the rectangular windows, KS = 0, too).
        if constexpr (KS < 5) cp_async16(dst, ok ? a_src[i] + cur_off : a.in, ok);
        else cp_async16_l1(dst, ok ? a_src[i] + cur_off : a.in, ok);
      }
    }
    cur_k += bk;
    cur_off += bk;
    cur_ci += bk;
    if constexpr (KS != 1) {
      while (cur_ci >= a.cinp) {
        cur_ci -= a.cinp;
        if (++cur_c == kw) {
          cur_c = 0;
          ++cur_r;
          cur_off += (a.w - kw) * a.cinp;
        }
      }
    }
  }
};

// The K steps of one split (gridDim.z splits of a_k_pad / bk steps, block z taking a contiguous share).
struct k_range {
  int begin, count;
};
template <class E>
__device__ __forceinline__ k_range split_k_range(const conv_args<E>& a) {
  const int splits = static_cast<int>(gridDim.z), rank = static_cast<int>(blockIdx.z);
  const int all = a.k_pad / bk<E>;
  const int b = static_cast<int>(1LL * rank * all / splits), e = static_cast<int>(1LL * (rank + 1) * all / splits);
  return {b, e - b};
}

// The block's 1024-aligned shared memory (the swizzle atoms' alignment).
__device__ __forceinline__ std::uint8_t* aligned_smem(std::uint8_t* raw) {
  const std::uint32_t s = static_cast<std::uint32_t>(__cvta_generic_to_shared(raw));
  return raw + (((s + 1023u) & ~1023u) - s);
}

// The four wgmmas of one K step on stage (sa, sb): this warpgroup's 64 rows of A times all of B.
template <class E, int BN>
__device__ __forceinline__ void mma_step(float (&acc)[BN / 2], std::uint32_t sa, std::uint32_t sb, int wg) {
  wg_fence();
#pragma unroll
  for (int kk = 0; kk < row_bytes / 32; ++kk) {
    const std::uint64_t da = desc_sw128(sa + static_cast<std::uint32_t>(wg * 64 * row_bytes + kk * 32));
    const std::uint64_t db = desc_sw128(sb + static_cast<std::uint32_t>(kk * 32));
    detail::mma<E, BN>(acc, da, db);
  }
  wg_commit();
}

// Where a ring block's time goes, in builds with GOOGLENET_SM90_STAMPS only (conv_sweep stamps):
// thread 0's clock64() at the kernel's milestones, the parts summed over the blocks of the launches
// that ran (split-K launches are left out). Elsewhere the calls compile to nothing.
#ifdef GOOGLENET_SM90_STAMPS
__device__ unsigned long long stamp_cycles[6];  // parts 0..4 summed over blocks; [5]: blocks
// The launch's span on the GPU's global timer (ns): the first block's start, the last block's end.
__device__ unsigned long long stamp_span[2];
__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
struct stamps {
  long long t[6];
  unsigned long long g0 = 0;
  __device__ __forceinline__ void at(int i) {
    t[i] = clock64();
    if (i == 0) g0 = global_ns();
  }
  __device__ __forceinline__ void publish() {
    for (int i = 0; i < 5; ++i) atomicAdd(&stamp_cycles[i], static_cast<unsigned long long>(t[i + 1] - t[i]));
    atomicAdd(&stamp_cycles[5], 1ull);
    atomicMin(&stamp_span[0], g0);
    atomicMax(&stamp_span[1], global_ns());
  }
};
#else
struct stamps {
  __device__ __forceinline__ void at(int) {}
  __device__ __forceinline__ void publish() {}
};
#endif

// The ring main loop (sm90_pipeline::ring): every thread copies, a block barrier per K step.
template <class E, int BM, int BN, int KS, bool POOL>
__global__ void __launch_bounds__(tile_traits<BM, BN>::threads)
conv_nhwc_kernel(const conv_args<E> a) {
  using T = tile_traits<BM, BN>;
  // Horizontal fusion (several output slices) is compiled into the 1x1 kernels only, the windows it
  // serves; the others keep the one-output epilogue (the launcher refuses slices for them).
  constexpr bool kFusable = KS == 1 && !POOL;
  extern __shared__ std::uint8_t smem_raw[];
  std::uint8_t* smem = aligned_smem(smem_raw);
  const std::uint32_t smem_base = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));

  stamps st;
  st.at(0);
  const int tid = static_cast<int>(threadIdx.x);
  const int wg = tid / 128;
  const int m0 = static_cast<int>(blockIdx.x) * BM;
  const int n0 = static_cast<int>(blockIdx.y) * BN;
  const k_range kr = split_k_range(a);
  const int k_tiles = kr.count;

  im2col_loader<E, BM, BN, KS, POOL, T::threads> ld(a, tid);
  ld.start(m0, n0, kr.begin);
  auto stage_a = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * T::stage_bytes); };
  auto stage_b = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * T::stage_bytes + T::a_bytes); };

  float acc[T::acc_regs];
#pragma unroll
  for (int i = 0; i < T::acc_regs; ++i) acc[i] = 0.0f;

  // Prologue: the tile's biases and the weight tiles of the first stages, then (only now) the
  // activations. The biases land with the first stage (its copy group), so the epilogue reads them
  // from shared memory instead of waiting on a global load after the K loop.
  static_assert(BN <= T::threads, "a thread per bias");
  float* const bias_s = reinterpret_cast<float*>(smem + T::bias_offset);
  if (tid < BN)
    cp_async4(smem_base + static_cast<std::uint32_t>(T::bias_offset + 4 * tid), a.bias + (n0 + tid < a.cout ? n0 + tid : 0),
              n0 + tid < a.cout);
  // wgmma groups left in flight at the end of an iteration, and copies in flight: a stage is refilled
  // only once every warpgroup has retired the wgmmas that read it (ahead <= stages - 1 - mma_in_flight).
  constexpr int mma_in_flight = T::stages >= 6 ? 2 : 1;
  constexpr int ahead = T::stages - 1 - mma_in_flight;
#pragma unroll
  for (int s = 0; s < ahead; ++s)
    if (s < k_tiles) ld.load_b(stage_b(s));
  st.at(1);  // set-up and the first weight copies issued
  // Programmatic dependent launch: the weight loads above overlap the producers' tail; activations
  // and the output only after they completed. Dependents may be launched now (they wait in turn).
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
#pragma unroll
  for (int s = 0; s < ahead; ++s) {
    if (s < k_tiles) ld.load_a(stage_a(s));
    cp_async_commit();
  }
  st.at(2);  // the first activation copies issued

  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<ahead - 1>();
    fence_async_shared();  // this thread's copies and stores, seen by the tensor cores' proxy
    __syncthreads();       // everyone's stage kt landed; every warpgroup retired the wgmmas of kt-2
    if (kt == 0) st.at(3);  // the first stage landed
    const int s = kt % T::stages;
    mma_step<E, BN>(acc, stage_a(s), stage_b(s), wg);
    // Refill the stage whose wgmmas every warpgroup retired before this iteration's barrier.
    const int next = kt + ahead;
    if (next < k_tiles) {
      ld.load_b(stage_b(next % T::stages));
      ld.load_a(stage_a(next % T::stages));
    }
    cp_async_commit();
    wg_wait<mma_in_flight>();
    pin(acc);
  }
  wg_wait<0>();
  pin(acc);
  cp_async_wait<0>();
  st.at(4);  // the K loop done

  if (gridDim.z == 1) {
    __syncthreads();  // every warpgroup is done with the ring: it holds the staged tile now
    store_tile_staged<E, BM, BN, kFusable, T::threads>(a, acc, reinterpret_cast<float*>(smem), bias_s, m0, n0, tid);
#ifdef GOOGLENET_SM90_STAMPS
    __syncthreads();  // every thread's stores issued
    st.at(5);
    if (tid == 0) st.publish();
#endif
    return;
  }
  __syncthreads();  // every warpgroup is done with the pipeline's shared memory
  reduce_split_k<E, BM, BN, kFusable, T::threads>(a, acc, reinterpret_cast<float*>(smem), m0, n0, tid, true);
}

// ---- mbarriers (the specialized main loop's hand-offs) -------------------------------------------
__device__ __forceinline__ void mbar_init(std::uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Waits until the phase of parity `parity` completed (a fresh barrier counts parity 1 as completed).
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, std::uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives on `bar` once every cp.async this thread issued so far has landed (counts as one arrival).
__device__ __forceinline__ void mbar_arrive_cp_async(std::uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

//! The specialized main loop's layout: BM / 64 consumer warpgroups (wgmma and epilogue), then one
//! producer warpgroup (all the copies), and `stages` stages handed over through two mbarriers each:
//! full (the producer's 128 threads arrive when their copies landed) and empty (each consumer warp
//! arrives when its wgmmas that read the stage retired).
template <int BM, int BN>
struct specialized_traits {
  using R = tile_traits<BM, BN>;
  static constexpr int consumers = 2 * BM;
  static constexpr int producers = 128;
  static constexpr int threads = consumers + producers;
  static constexpr int stages = R::stages;
  static constexpr int region = R::smem_bytes - 1024;  // the ring or the split-K partial tile
  static constexpr int smem_bytes = R::smem_bytes + 2 * stages * 8;
};

// The specialized main loop (sm90_pipeline::specialized and persistent). The block loops over output
// tiles blockIdx.x, + gridDim.x, ... of `tiles` (m fastest, `m_tiles` of them; split-K: one tile per
// block); the ring's stage and phase run on across tiles, so the producer fills the next tile's first
// stages while the consumers still store the last one.
template <class E, int BM, int BN, int KS>
__global__ void __launch_bounds__(specialized_traits<BM, BN>::threads)
conv_nhwc_specialized_kernel(const conv_args<E> a, int m_tiles, int tiles) {
  using T = tile_traits<BM, BN>;
  using W = specialized_traits<BM, BN>;
  constexpr int S = W::stages;
  constexpr bool kFusable = KS == 1;
  extern __shared__ std::uint8_t smem_raw[];
  std::uint8_t* smem = aligned_smem(smem_raw);
  const std::uint32_t smem_base = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
  const std::uint32_t full0 = smem_base + W::region, empty0 = full0 + 8 * S;
  auto stage_a = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * T::stage_bytes); };
  auto stage_b = [&](int s) { return smem_base + static_cast<std::uint32_t>(s * T::stage_bytes + T::a_bytes); };

  const int tid = static_cast<int>(threadIdx.x);
  const int wg = tid / 128;
  if (tid == 0) {
    for (int s = 0; s < S; ++s) {
      mbar_init(full0 + 8 * s, W::producers);
      mbar_init(empty0 + 8 * s, W::consumers / 32);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");  // the inits, before any arrival
  }
  __syncthreads();
  const k_range kr = split_k_range(a);
  const int k_tiles = kr.count;

  float acc[T::acc_regs];
  if (wg == BM / 64) {
    // ---- producer warpgroup ----
    im2col_loader<E, BM, BN, KS, false, W::producers> ld(a, tid - W::consumers);
    // Stage s copied: its full barrier completes once the copies landed.
    auto publish = [&](int s) { mbar_arrive_cp_async(full0 + 8 * s); };
    int s = 0;
    std::uint32_t phase = 0;
    bool first = true;
    for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x)) {
      ld.start((tile % m_tiles) * BM, (tile / m_tiles) * BN, kr.begin);
      int kt = 0;
      if (first) {
        // The weight tiles of the first stages (all free) before the wait for the producers, as the
        // ring does; then their activations.
        first = false;
        const int pre = k_tiles < S ? k_tiles : S;
        for (int q = 0; q < pre; ++q) ld.load_b(stage_b(q));
        opara::pdl::wait_for_producers();
        opara::pdl::launch_dependents();
        for (int q = 0; q < pre; ++q) {
          ld.load_a(stage_a(q));
          publish(q);
        }
        kt = pre;
        s = pre == S ? 0 : pre;
        phase = pre == S ? 1 : 0;
      }
      for (; kt < k_tiles; ++kt) {
        mbar_wait(empty0 + 8 * s, phase ^ 1);  // the consumers retired the stage's last reads
        ld.load_b(stage_b(s));
        ld.load_a(stage_a(s));
        publish(s);
        if (++s == S) {
          s = 0;
          phase ^= 1;
        }
      }
    }
    cp_async_wait<0>();  // leave no copy in flight
  } else {
    // ---- consumer warpgroups ----
    opara::pdl::wait_for_producers();  // before the epilogue's stores
    opara::pdl::launch_dependents();
    int s = 0;
    std::uint32_t phase = 0;
    int last = 0;  // the stage of the previous K step
    for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x)) {
#pragma unroll
      for (int i = 0; i < T::acc_regs; ++i) acc[i] = 0.0f;
      for (int kt = 0; kt < k_tiles; ++kt) {
        mbar_wait(full0 + 8 * s, phase);
        fence_async_shared();  // the copies' results, seen by the tensor cores' proxy
        mma_step<E, BN>(acc, stage_a(s), stage_b(s), wg);
        wg_wait<1>();  // the previous step's wgmmas retired: its stage goes back to the producer
        pin(acc);
        if (kt > 0 && tid % 32 == 0) mbar_arrive(empty0 + 8 * last);
        last = s;
        if (++s == S) {
          s = 0;
          phase ^= 1;
        }
      }
      wg_wait<0>();
      pin(acc);
      if (tid % 32 == 0) mbar_arrive(empty0 + 8 * last);
      if (gridDim.z == 1) store_tile<E, BM, BN, kFusable>(a, acc, (tile % m_tiles) * BM, (tile / m_tiles) * BN, tid);
    }
  }
  if (gridDim.z == 1) return;
  // Split-K (one tile per block): every stage was consumed, so the ring's memory is free.
  __syncthreads();
  const int tile = static_cast<int>(blockIdx.x);
  reduce_split_k<E, BM, BN, kFusable, W::threads>(a, acc, reinterpret_cast<float*>(smem), (tile % m_tiles) * BM,
                                                   (tile / m_tiles) * BN, tid, wg < BM / 64);
}

template <class E, int BM, int BN, int KS>
inline cudaError_t launch_specialized(const conv_args<E>& a, int m_tiles, int n_tiles, int splits, sm90_pipeline pipe,
                                      cudaStream_t stream);

template <class E, int BM, int BN, int KS, bool POOL>
inline cudaError_t launch_t(const conv_args<E>& a, int splits, sm90_pipeline pipe, cudaStream_t stream) {
  const int m_tiles = (a.m_total + BM - 1) / BM, n_tiles = (a.cout + BN - 1) / BN;
  if (pipe == sm90_pipeline::ring) {
    using T = tile_traits<BM, BN>;
    auto* fn = &conv_nhwc_kernel<E, BM, BN, KS, POOL>;
    if (const cudaError_t e = kernels::detail::allow_dynamic_smem<&conv_nhwc_kernel<E, BM, BN, KS, POOL>>(T::smem_bytes);
        e != cudaSuccess)
      return e;
    return kernels::detail::launch_split_k(fn, dim3(m_tiles, n_tiles), T::threads, T::smem_bytes, splits, stream, a);
  }
  // The fused pool runs on the ring only: the producer warpgroup would hold 8 rows x 9 taps of loads
  // (spilled), and the fusion is off by default anyway (slower than pool + conv).
  if constexpr (POOL) return cudaErrorInvalidValue;
  else return launch_specialized<E, BM, BN, KS>(a, m_tiles, n_tiles, splits, pipe, stream);
}

template <class E, int BM, int BN, int KS>
inline cudaError_t launch_specialized(const conv_args<E>& a, int m_tiles, int n_tiles, int splits, sm90_pipeline pipe,
                                      cudaStream_t stream) {
  using W = specialized_traits<BM, BN>;
  auto* fn = &conv_nhwc_specialized_kernel<E, BM, BN, KS>;
  if (const cudaError_t e = kernels::detail::allow_dynamic_smem<&conv_nhwc_specialized_kernel<E, BM, BN, KS>>(W::smem_bytes);
      e != cudaSuccess)
    return e;
  const int tiles = m_tiles * n_tiles;
  int grid = tiles;
  if (pipe == sm90_pipeline::persistent && splits == 1) {
    // No more blocks than the GPU holds at once.
    int device = 0, sms = 0, per_sm = 0;
    if (const cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) return e;
    if (const cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device); e != cudaSuccess) return e;
    if (const cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, W::threads, W::smem_bytes);
        e != cudaSuccess)
      return e;
    const long long resident = 1LL * sms * (per_sm > 0 ? per_sm : 1);
    if (resident < grid) grid = static_cast<int>(resident);
  }
  return kernels::detail::launch_split_k(fn, dim3(grid, 1), W::threads, W::smem_bytes, splits, stream, a, m_tiles, tiles);
}

template <class E, int BM, int BN>
inline cudaError_t launch_ks(const conv_shape& s, bool pool, const conv_args<E>& a, int splits, sm90_pipeline pipe,
                             cudaStream_t stream) {
  if constexpr (std::is_same_v<E, float>) {
    if (pool) return launch_t<E, BM, BN, 1, true>(a, splits, pipe, stream);
  } else {
    if (pool) return cudaErrorInvalidValue;  // the fused pool is fp32 only (not instantiated for bf16)
  }
  if (s.kh != s.kw) return launch_t<E, BM, BN, 0, false>(a, splits, pipe, stream);
  switch (s.kh) {
    case 1: return launch_t<E, BM, BN, 1, false>(a, splits, pipe, stream);
    case 3: return launch_t<E, BM, BN, 3, false>(a, splits, pipe, stream);
    case 5: return launch_t<E, BM, BN, 5, false>(a, splits, pipe, stream);
    case 7: return launch_t<E, BM, BN, 7, false>(a, splits, pipe, stream);
    default: return launch_t<E, BM, BN, 0, false>(a, splits, pipe, stream);
  }
}

} // namespace detail

//! Launches out[p, c_off:c_off+cout] = relu(conv(in, w) + bias) over NHWC tensors of element type E,
//! float or __nv_bfloat16 (see the file comment), for each output of `outs` in turn (one output: a
//! plain convolution; several, 1x1 windows without the fused pool only: horizontal fusion, the
//! GEMM's columns split among them in order, their couts summing to s.cout; s.c_off and s.c_total
//! are then not used). `fused_pool` (fp32 only): the
//! input is first max-pooled 3x3/s1/p1 (1x1 stride-1 convs only). Any kh x kw window (1, 3, 5, 7
//! square compiled in; the rest, e.g. 1x7 or 3x1, on the generic kernel), c_off, c_total and every
//! output's cout but the last multiples of 16 bytes' worth of elements (4 fp32, 8 bf16), 1 <= splits
//! <= 8, 16-byte aligned pointers; w packed for E (conv_shape::k_pad_nhwc of its precision; fused:
//! the outputs' weight rows one after the other, bias likewise). Returns the launch's error (never
//! throws: it may run inside stream capture).
template <class E>
inline cudaError_t conv_bias_relu_nhwc(const conv_shape& s, const sm90_config& c, bool fused_pool, const E* in,
                                       const E* w, const float* bias, const conv_output<E>* outs, int n_outs,
                                       cudaStream_t stream) {
  int splits = c.splits;
  constexpr conv_precision p = detail::precision_of<E>;
  constexpr int vec = detail::chunk<E>, bk = detail::bk<E>;
  if (s.kh < 1 || s.kw < 1 || splits < 1 || splits > 8) return cudaErrorInvalidValue;
  if (n_outs < 1 || n_outs > detail::max_slices) return cudaErrorInvalidValue;
  if (n_outs > 1 && (s.kh != 1 || s.kw != 1 || fused_pool)) return cudaErrorInvalidValue;  // 1x1 kernels only
  int n_sum = 0;
  for (int i = 0; i < n_outs; ++i) {
    const conv_output<E>& o = outs[i];
    if (o.out == nullptr || o.cout < 1 || o.c_off < 0 || o.c_off + o.cout > o.c_total) return cudaErrorInvalidValue;
    if (o.c_off % vec != 0 || o.c_total % vec != 0 || (i + 1 < n_outs && o.cout % vec != 0)) return cudaErrorInvalidValue;
    n_sum += o.cout;
  }
  if (n_sum != s.cout) return cudaErrorInvalidValue;
  if (fused_pool && (s.kh != 1 || s.kw != 1 || s.stride != 1 || s.pad_h != 0 || s.pad_w != 0)) return cudaErrorInvalidValue;
  if (1LL * s.batch * s.h * s.w * s.cin_nhwc(p) >= (1LL << 31)) return cudaErrorInvalidValue;
  detail::conv_args<E> a{};
  a.in = in; a.wgt = w; a.bias = bias; a.out = outs[0].out;
  a.h = s.h; a.w = s.w; a.cinp = s.cin_nhwc(p); a.cout = s.cout;
  a.kw = s.kw; a.stride = s.stride; a.pad_h = s.pad_h; a.pad_w = s.pad_w; a.ho = s.ho(); a.wo = s.wo();
  a.c_off = outs[0].c_off; a.c_total = outs[0].c_total;
  a.m_total = s.batch * a.ho * a.wo;
  a.k = s.k_nhwc(p); a.k_pad = s.k_pad_nhwc(p);
  a.slices = n_outs;
  for (int i = 1, n = outs[0].cout; i < n_outs; n += outs[i].cout, ++i)
    a.more[i - 1] = {outs[i].out, n, outs[i].c_off, outs[i].c_total};
  if (splits > a.k_pad / bk) splits = a.k_pad / bk;
  switch (c.tile) {
    case sm90_tile::m128n128: return detail::launch_ks<E, 128, 128>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m128n64: return detail::launch_ks<E, 128, 64>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m64n128: return detail::launch_ks<E, 64, 128>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m64n64: return detail::launch_ks<E, 64, 64>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m64n32: return detail::launch_ks<E, 64, 32>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m64n16: return detail::launch_ks<E, 64, 16>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m128n192: return detail::launch_ks<E, 128, 192>(s, fused_pool, a, splits, c.pipeline, stream);
    case sm90_tile::m128n96: return detail::launch_ks<E, 128, 96>(s, fused_pool, a, splits, c.pipeline, stream);
  }
  return cudaErrorInvalidValue;
}

//! One convolution into channels [s.c_off, s.c_off + s.cout) of an s.total_channels()-channel tensor.
template <class E>
inline cudaError_t conv_bias_relu_nhwc(const conv_shape& s, const sm90_config& c, bool fused_pool, const E* in,
                                       const E* w, const float* bias, E* out, cudaStream_t stream) {
  const conv_output<E> o{out, s.cout, s.c_off, s.total_channels()};
  return conv_bias_relu_nhwc(s, c, fused_pool, in, w, bias, &o, 1, stream);
}

} // namespace convnet::kernels::sm90
