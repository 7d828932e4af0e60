#pragma once
//! Fused convolution + bias + ReLU for NCHW fp32 tensors, as an implicit GEMM on the tensor cores.
//!
//!   out[b, c_off + m, p] = relu(bias[m] + sum_k W[m, k] * im2col(in)[k, (b, p)])
//!
//! M = output channels, N = batch * output pixels, K = Cin * kh * kw. Batch-norm is folded into
//! W and bias on the host (see fold_batch_norm), and the result goes straight into its channel
//! slice [c_off, c_off + Cout) of a tensor with c_total channels, so concatenation costs nothing.
//!
//! Precision: tf32 (one TF32 product, about 3e-4 relative per layer) or tf32x3 (the split
//! a = hi + lo, b = hi + lo, accumulating hi*hi + hi*lo + lo*hi: fp32-level accuracy, 3x the MMAs,
//! which at batch 1 are not the bottleneck). Accumulation is always fp32.
//!
//! Pipeline: BK = 32, three cp.async stages (weights as 16-byte copies, the im2col gather as
//! 4-byte copies with zero-fill for padding, its (ci, r, s) decomposition read from a per-block
//! table), 256 threads: two groups of 4 warps each multiply one half of every BK slice (in-block
//! split-K, for latency hiding at batch 1 where a layer has few blocks) and are summed in the
//! epilogue. Tile BM x BN chosen per layer.
//!
//! Split-K across blocks (layers with few blocks and a long K loop, chosen by conv_splits): the grid
//! gets a z dimension of `splits` blocks launched as one thread-block cluster (sm_90); block z runs
//! the K steps [z*T/splits, (z+1)*T/splits), keeps its partial tile in shared memory, and after a
//! cluster barrier every block reduces a share of the tile's rows by reading all the partial tiles
//! through distributed shared memory in rank order (deterministic), adds the bias and applies ReLU.
//! One launch, no workspace, no counters: graph-capturable and replay-safe.

#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include <opara/cuda/runtime/pdl.cuh>

#include "cp_async.cuh"
#include "launch_helpers.cuh"
#include "shapes.hpp"

namespace convnet::kernels {

namespace detail {

constexpr int conv_bk = 32;
constexpr int conv_stages = 3;
constexpr int conv_threads = 256;  // 8 warps: 2 groups of 4, splitting each BK slice

template <int BM, int BN>
struct conv_layout {
  static constexpr int warps_m = BM >= 32 ? 2 : 1;  // 4 warps tile BM x BN; two such groups split K
  static constexpr int warps_n = 4 / warps_m;
  static constexpr int fm = BM / (16 * warps_m);  // 16x16 fragments per warp along M
  static constexpr int fn = BN / (16 * warps_n);  // ... along N
  static_assert(fm >= 1 && fn >= 1, "tile too small for 4 warps of 16x16 fragments");
  static_assert(conv_threads % BN == 0, "a thread gathers one fixed column");
  static constexpr int lda = conv_bk + 4;  // A stage: [BM][BK+4], row-major (M x K)
  static constexpr int ldb = BN + 4;       // B stage: [BK][BN+4], row-major (K x N)
  static constexpr int ldc = BN + 4;       // epilogue: 2 x [BM][BN+4] (one per K group)
  static constexpr int a_stage = BM * lda;
  static constexpr int b_stage = conv_bk * ldb;
  static constexpr int pipe_floats = conv_stages * (a_stage + b_stage);
  static constexpr int c_floats = 2 * BM * ldc;
  static constexpr int main_floats = pipe_floats > c_floats ? pipe_floats : c_floats;
  static constexpr int max_k_table = 16384;  // k_pad limit of the im2col table (64 KB)
  static constexpr int max_smem_bytes = 4 * (main_floats + max_k_table);
};

// The im2col table: for k = (ci, r, s), (r << 27) | (s << 24) | (ci*h*w + r*w + s); -1 past K.
// Built once per block so the gather needs no division (needs cin*h*w < 2^24, r, s < 8).
// KS: the square window compiled in, or 0 for any kh x kw window (kh, kw < 8) read at run time.
template <int KS>
__device__ __forceinline__ void build_k_table(int* tab, int k, int k_begin, int k_end, int hw, int w, int kh, int kw) {
  if constexpr (KS != 0) kh = kw = KS;
  for (int kk = k_begin + static_cast<int>(threadIdx.x); kk < k_end; kk += conv_threads) {
    int t = -1;
    if (kk < k) {
      const int ci = kk / (kh * kw);
      const int rs = kk - ci * (kh * kw);
      const int r = rs / kw;
      const int s = rs - r * kw;
      t = (r << 27) | (s << 24) | (ci * hw + r * w + s);
    }
    tab[kk] = t;
  }
}

template <int BM, int BN, int KS, conv_precision P>
__global__ void __launch_bounds__(conv_threads)
conv_bias_relu_kernel(const float* __restrict__ in, const float* __restrict__ wgt,
                      const float* __restrict__ bias, float* __restrict__ out,
                      int cin, int h, int w, int cout, int kh, int kw, int stride, int pad_h, int pad_w, int ho, int wo,
                      int c_off, int c_total, int n_total, int k, int k_pad) {
  using namespace nvcuda;
  using L = conv_layout<BM, BN>;
  extern __shared__ __align__(128) float smem[];
  float* a_s = smem;
  float* b_s = smem + conv_stages * L::a_stage;
  int* k_tab = reinterpret_cast<int*>(smem + L::main_floats);

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int group = warp / 4;  // which half of each BK slice this warp multiplies
  const int wl = warp % 4;
  const int m0 = blockIdx.y * BM;
  const int n0 = blockIdx.x * BN;
  const int hwo = ho * wo;
  const int hw = h * w;
  (void)cin;

  // Split-K: this block's share of the K steps (gridDim.z == 1: all of them).
  const int splits = static_cast<int>(gridDim.z);
  const int rank = static_cast<int>(blockIdx.z);
  const int k_tiles_all = k_pad / conv_bk;
  const int kt_begin = static_cast<int>(1LL * rank * k_tiles_all / splits);
  const int kt_end = static_cast<int>(1LL * (rank + 1) * k_tiles_all / splits);

  // Only the entries of this block's K steps (indices stay absolute).
  if constexpr (KS != 1) build_k_table<KS>(k_tab, k, kt_begin * conv_bk, kt_end * conv_bk, hw, w, kh, kw);

  // Each thread gathers B for one fixed column n (an output pixel) and rows bk0, bk0 + rows_per_pass, ...
  constexpr int b_rows_per_pass = conv_threads / BN;
  constexpr int b_loads = conv_bk / b_rows_per_pass;
  const int bn = tid % BN;
  const int bk0 = tid / BN;
  const int n = n0 + bn;
  const bool n_ok = n < n_total;
  int ih0 = 0, iw0 = 0;
  const float* in_b = in;
  if (n_ok) {
    const int b = n / hwo;
    const int p = n - b * hwo;
    const int oh = p / wo;
    const int ow = p - oh * wo;
    ih0 = oh * stride - pad_h;
    iw0 = ow * stride - pad_w;
    in_b = in + static_cast<long long>(b) * cin * hw;
  }
  const int pix = ih0 * w + iw0;  // may be negative when padded; only used where in range
  const bool pix_ok = n_ok && (unsigned)ih0 < (unsigned)h && (unsigned)iw0 < (unsigned)w;

  constexpr int a_chunks = BM * (conv_bk / 4);
  constexpr int a_loads = (a_chunks + conv_threads - 1) / conv_threads;

  auto load_stage = [&](int stage, int kt) {
    float* as = a_s + stage * L::a_stage;
    float* bs = b_s + stage * L::b_stage;
    const int kbase = kt * conv_bk;
#pragma unroll
    for (int i = 0; i < a_loads; ++i) {
      const int c = tid + i * conv_threads;
      if (a_chunks % conv_threads == 0 || c < a_chunks) {
        const int row = c / (conv_bk / 4);
        const int col = (c % (conv_bk / 4)) * 4;
        const bool ok = m0 + row < cout;
        const float* src = ok ? wgt + static_cast<long long>(m0 + row) * k_pad + kbase + col : wgt;
        cp_async16(shared_address(as + row * L::lda + col), src, ok);
      }
    }
#pragma unroll
    for (int i = 0; i < b_loads; ++i) {
      const int kr = bk0 + i * b_rows_per_pass;
      const int kk = kbase + kr;
      bool ok;
      const float* src;
      if constexpr (KS == 1) {
        ok = pix_ok && kk < k;
        src = ok ? in_b + (kk * hw + pix) : in;
      } else {
        const int t = k_tab[kk];
        const int ih = ih0 + ((t >> 27) & 7);
        const int iw = iw0 + ((t >> 24) & 7);
        ok = n_ok && t >= 0 && (unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w;
        src = ok ? in_b + (pix + (t & 0xffffff)) : in;
      }
      cp_async4(shared_address(bs + kr * L::ldb + bn), src, ok);
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[L::fm][L::fn];
#pragma unroll
  for (int i = 0; i < L::fm; ++i)
#pragma unroll
    for (int j = 0; j < L::fn; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int wm = (wl / L::warps_n) * (L::fm * 16);
  const int wn = (wl % L::warps_n) * (L::fn * 16);
  const int k_tiles = kt_end - kt_begin;

  if constexpr (KS != 1) __syncthreads();  // the k table is read by the gather
  // Programmatic dependent launch: the set-up above reads no global memory; weights and
  // activations load together below, so both wait for the producers.
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
#pragma unroll
  for (int s = 0; s < conv_stages - 1; ++s) {
    if (s < k_tiles) load_stage(s, kt_begin + s);
    cp_async_commit();
  }

  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<conv_stages - 2>();
    __syncthreads();
    // Refill the stage consumed in the previous iteration (every warp is past it now).
    const int next = kt + conv_stages - 1;
    if (next < k_tiles) load_stage(next % conv_stages, kt_begin + next);
    cp_async_commit();

    const float* as = a_s + (kt % conv_stages) * L::a_stage;
    const float* bs = b_s + (kt % conv_stages) * L::b_stage;
#pragma unroll
    for (int kh = 0; kh < conv_bk / 2; kh += 8) {
      const int kk = group * (conv_bk / 2) + kh;
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a_hi[L::fm], a_lo[L::fm];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b_hi[L::fn], b_lo[L::fn];
#pragma unroll
      for (int i = 0; i < L::fm; ++i) {
        wmma::load_matrix_sync(a_hi[i], as + (wm + i * 16) * L::lda + kk, L::lda);
#pragma unroll
        for (int e = 0; e < a_hi[i].num_elements; ++e) {
          const float v = a_hi[i].x[e];
          const float hi = wmma::__float_to_tf32(v);
          a_hi[i].x[e] = hi;
          if constexpr (P == conv_precision::tf32x3) a_lo[i].x[e] = wmma::__float_to_tf32(v - hi);
        }
      }
#pragma unroll
      for (int j = 0; j < L::fn; ++j) {
        wmma::load_matrix_sync(b_hi[j], bs + kk * L::ldb + wn + j * 16, L::ldb);
#pragma unroll
        for (int e = 0; e < b_hi[j].num_elements; ++e) {
          const float v = b_hi[j].x[e];
          const float hi = wmma::__float_to_tf32(v);
          b_hi[j].x[e] = hi;
          if constexpr (P == conv_precision::tf32x3) b_lo[j].x[e] = wmma::__float_to_tf32(v - hi);
        }
      }
#pragma unroll
      for (int i = 0; i < L::fm; ++i)
#pragma unroll
        for (int j = 0; j < L::fn; ++j) {
          if constexpr (P == conv_precision::tf32x3) {
            wmma::mma_sync(acc[i][j], a_lo[i], b_hi[j], acc[i][j]);
            wmma::mma_sync(acc[i][j], a_hi[i], b_lo[j], acc[i][j]);
          }
          wmma::mma_sync(acc[i][j], a_hi[i], b_hi[j], acc[i][j]);
        }
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  // Epilogue: each K group stores its partial tile, then every thread sums the two for one fixed
  // column (one output pixel) and rows r0, r0 + rows_per_pass, ... (stores run along pixels).
  float* c_s = smem + group * (BM * L::ldc);
#pragma unroll
  for (int i = 0; i < L::fm; ++i)
#pragma unroll
    for (int j = 0; j < L::fn; ++j)
      wmma::store_matrix_sync(c_s + (wm + i * 16) * L::ldc + wn + j * 16, acc[i][j], L::ldc, wmma::mem_row_major);
  if (splits == 1) {
    __syncthreads();
    if (n_ok) {
      const int b = n / hwo;
      const int p = n - b * hwo;
      float* dst = out + (static_cast<long long>(b) * c_total + c_off) * hwo + p;
      const float* c0 = smem;
      const float* c1 = smem + BM * L::ldc;
#pragma unroll 4
      for (int mr = bk0; mr < BM; mr += b_rows_per_pass) {
        const int m = m0 + mr;
        if (m < cout) {
          const float v = c0[mr * L::ldc + bn] + c1[mr * L::ldc + bn] + __ldg(bias + m);
          dst[static_cast<long long>(m) * hwo] = v > 0.0f ? v : 0.0f;
        }
      }
    }
    return;
  }

  // Split-K: every block of the cluster holds its partial tile; block `rank` reduces the row passes
  // rank, rank + splits, ... reading the partial tiles of ranks 0..splits-1 in that order.
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // all partial tiles written (and visible across the cluster)
  if (n_ok) {
    const int b = n / hwo;
    const int p = n - b * hwo;
    float* dst = out + (static_cast<long long>(b) * c_total + c_off) * hwo + p;
    for (int mr = bk0 + rank * b_rows_per_pass; mr < BM; mr += splits * b_rows_per_pass) {
      const int m = m0 + mr;
      if (m < cout) {
        float v = 0.0f;
        for (int q = 0; q < splits; ++q) {
          const float* c = cluster.map_shared_rank(smem, static_cast<unsigned>(q));
          v += c[mr * L::ldc + bn] + c[BM * L::ldc + mr * L::ldc + bn];
        }
        v += __ldg(bias + m);
        dst[static_cast<long long>(m) * hwo] = v > 0.0f ? v : 0.0f;
      }
    }
  }
  cluster.sync();  // no block leaves while another still reads its shared memory
}

template <int BM, int BN, int KS, conv_precision P>
inline cudaError_t launch_conv_t(const conv_shape& s, int splits, const float* in, const float* w,
                                 const float* bias, float* out, cudaStream_t stream) {
  using L = conv_layout<BM, BN>;
  auto* fn = &conv_bias_relu_kernel<BM, BN, KS, P>;
  if (const cudaError_t e = allow_dynamic_smem<&conv_bias_relu_kernel<BM, BN, KS, P>>(L::max_smem_bytes); e != cudaSuccess)
    return e;
  if (s.k_pad() > L::max_k_table || 1LL * s.cin * s.h * s.w >= (1LL << 24) || s.kh > 7 || s.kw > 7)
    return cudaErrorInvalidValue;
  const int ho = s.ho(), wo = s.wo();
  const int n_total = s.batch * ho * wo;
  const int smem = 4 * (L::main_floats + (KS == 1 ? 0 : s.k_pad()));
  if (splits > s.k_pad() / conv_bk) splits = s.k_pad() / conv_bk;
  if (splits < 1) splits = 1;
  return launch_split_k(fn, dim3((n_total + BN - 1) / BN, (s.cout + BM - 1) / BM), conv_threads, smem, splits, stream,
                        in, w, bias, out, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad_h, s.pad_w, ho, wo, s.c_off,
                        s.total_channels(), n_total, s.k(), s.k_pad());
}

template <int BM, int BN, conv_precision P>
inline cudaError_t launch_conv_ks(const conv_shape& s, int splits, const float* in, const float* w,
                                  const float* bias, float* out, cudaStream_t stream) {
  if (s.kh != s.kw) return launch_conv_t<BM, BN, 0, P>(s, splits, in, w, bias, out, stream);
  switch (s.kh) {
    case 1: return launch_conv_t<BM, BN, 1, P>(s, splits, in, w, bias, out, stream);
    case 3: return launch_conv_t<BM, BN, 3, P>(s, splits, in, w, bias, out, stream);
    case 5: return launch_conv_t<BM, BN, 5, P>(s, splits, in, w, bias, out, stream);
    case 7: return launch_conv_t<BM, BN, 7, P>(s, splits, in, w, bias, out, stream);
    default: return launch_conv_t<BM, BN, 0, P>(s, splits, in, w, bias, out, stream);
  }
}

template <conv_precision P>
inline cudaError_t launch_conv_p(const conv_shape& s, conv_tile t, int splits, const float* in, const float* w,
                                 const float* bias, float* out, cudaStream_t stream) {
  switch (t) {
    case conv_tile::m64n64: return launch_conv_ks<64, 64, P>(s, splits, in, w, bias, out, stream);
    case conv_tile::m32n64: return launch_conv_ks<32, 64, P>(s, splits, in, w, bias, out, stream);
    case conv_tile::m64n32: return launch_conv_ks<64, 32, P>(s, splits, in, w, bias, out, stream);
    case conv_tile::m32n32: return launch_conv_ks<32, 32, P>(s, splits, in, w, bias, out, stream);
    case conv_tile::m16n64: return launch_conv_ks<16, 64, P>(s, splits, in, w, bias, out, stream);
  }
  return cudaErrorInvalidValue;
}

} // namespace detail

//! Launches out[:, c_off:c_off+cout] = relu(conv(in, w) + bias). Any kh x kw window up to 7x7 (1, 3, 5,
//! 7 square compiled in; the rest, e.g. 1x7 or 3x1, build their im2col table from kh and kw).
//! `splits`: split-K over a cluster of that many blocks (1 to 8; 0: conv_splits(s, t) with the
//! default rule). Returns the launch's error (never throws: it may run inside stream capture).
inline cudaError_t conv_bias_relu(const conv_shape& s, conv_tile t, conv_precision p, const float* in,
                                  const float* w, const float* bias, float* out, cudaStream_t stream,
                                  int splits = 0) {
  if (s.kh < 1 || s.kw < 1 || splits < 0) return cudaErrorInvalidValue;
  if (p != conv_precision::tf32 && p != conv_precision::tf32x3) return cudaErrorInvalidValue;  // bf16: sm_90 path only
  if (splits == 0) splits = conv_splits(s, t);
  return p == conv_precision::tf32
             ? detail::launch_conv_p<conv_precision::tf32>(s, t, splits, in, w, bias, out, stream)
             : detail::launch_conv_p<conv_precision::tf32x3>(s, t, splits, in, w, bias, out, stream);
}

} // namespace convnet::kernels
