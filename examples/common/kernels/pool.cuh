#pragma once
//! Max and average pooling (any window, stride, padding, PyTorch's ceil_mode; the average counts the
//! padding, count_include_pad=True), adaptive average pooling to 1x1, and the final fully connected layer. fp32 throughout (exact up to summation order).

#include <cuda_runtime.h>

#include <cmath>

#include <opara/cuda/runtime/pdl.cuh>

#include "shapes.hpp"

namespace convnet::kernels {

namespace detail {

template <bool AVG>
__global__ void pool_kernel(const float* __restrict__ in, float* __restrict__ out, int c, int h, int w,
                            int k, int stride, int pad, int ho, int wo, int c_off, int c_total,
                            long long total) {
  opara::pdl::wait_for_producers();  // programmatic dependent launch: nothing to do before the input
  opara::pdl::launch_dependents();
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int ow = static_cast<int>(i % wo);
    long long t = i / wo;
    const int oh = static_cast<int>(t % ho);
    t /= ho;
    const int ch = static_cast<int>(t % c);
    const int b = static_cast<int>(t / c);
    const float* src = in + (static_cast<long long>(b) * c + ch) * h * w;
    const int h0 = oh * stride - pad, w0 = ow * stride - pad;
    const int h1 = min(h0 + k, h), w1 = min(w0 + k, w);
    float m = AVG ? 0.0f : -INFINITY;
    for (int y = max(h0, 0); y < h1; ++y)
      for (int x = max(w0, 0); x < w1; ++x) m = AVG ? m + __ldg(src + y * w + x) : fmaxf(m, __ldg(src + y * w + x));
    // count_include_pad: the window clipped to the padded input, padding included.
    if constexpr (AVG) m /= static_cast<float>((min(h0 + k, h + pad) - h0) * (min(w0 + k, w + pad) - w0));
    out[((static_cast<long long>(b) * c_total + c_off + ch) * ho + oh) * wo + ow] = m;
  }
}

// One warp per (batch, channel): mean over h*w.
__global__ void avg_pool_kernel(const float* __restrict__ in, float* __restrict__ out, int planes, int hw) {
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= planes) return;
  const float* src = in + static_cast<long long>(warp) * hw;
  float s = 0.0f;
  for (int i = lane; i < hw; i += 32) s += __ldg(src + i);
#pragma unroll
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) out[warp] = s / static_cast<float>(hw);
}

// One warp per output feature j, all batch rows at once (the weight row is read once). The block's
// warps share the input: it is staged through shared memory in slices of `slice` features, so each
// input element is read from L2 once per block instead of once per warp.
// in: [batch][k], w: [n][k] (k % 4 == 0, 16-byte aligned), out: [batch][n].
template <int MAXB>
__global__ void linear_kernel(const float* __restrict__ in, const float* __restrict__ wgt,
                              const float* __restrict__ bias, float* __restrict__ out, int batch, int k, int n) {
  constexpr int slice = 512;
  __shared__ __align__(16) float x_s[MAXB][slice];
  const int j = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const bool active = j < n;
  const float4* wrow = reinterpret_cast<const float4*>(wgt + static_cast<long long>(active ? j : 0) * k);
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  for (int b0 = 0; b0 < batch; b0 += MAXB) {
    float acc[MAXB];
#pragma unroll
    for (int b = 0; b < MAXB; ++b) acc[b] = 0.0f;
    for (int k0 = 0; k0 < k; k0 += slice) {
      const int len = min(slice, k - k0);
      __syncthreads();  // the previous slice is consumed
      for (int e = threadIdx.x; e < MAXB * (len / 4); e += blockDim.x) {
        const int b = e / (len / 4), q = e % (len / 4);
        const float4 v = b0 + b < batch
                             ? __ldg(reinterpret_cast<const float4*>(in + static_cast<long long>(b0 + b) * k + k0) + q)
                             : make_float4(0.f, 0.f, 0.f, 0.f);
        reinterpret_cast<float4*>(x_s[b])[q] = v;
      }
      __syncthreads();
      if (active) {
        for (int i = lane; i < len / 4; i += 32) {
          const float4 wv = __ldg(wrow + k0 / 4 + i);
#pragma unroll
          for (int b = 0; b < MAXB; ++b) {
            const float4 x = reinterpret_cast<const float4*>(x_s[b])[i];
            acc[b] += wv.x * x.x + wv.y * x.y + wv.z * x.z + wv.w * x.w;
          }
        }
      }
    }
#pragma unroll
    for (int b = 0; b < MAXB; ++b) {
#pragma unroll
      for (int o = 16; o > 0; o /= 2) acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], o);
      if (active && lane == 0 && b0 + b < batch) out[static_cast<long long>(b0 + b) * n + j] = acc[b] + bias[j];
    }
  }
}

} // namespace detail

//! Max or (s.average) average pooling into a channel slice. Never throws; returns the launch's error.
inline cudaError_t pool(const pool_shape& s, const float* in, float* out, cudaStream_t stream) {
  const long long total = 1LL * s.batch * s.c * s.ho() * s.wo();
  const int threads = 256;
  const long long want = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 4096 ? want : 4096);
  auto* kernel = s.average ? &detail::pool_kernel<true> : &detail::pool_kernel<false>;
  kernel<<<blocks, threads, 0, stream>>>(in, out, s.c, s.h, s.w, s.k, s.stride, s.pad, s.ho(), s.wo(), s.c_off,
                                         s.total_channels(), total);
  return cudaGetLastError();
}

//! Adaptive average pooling to 1x1: out[b][c] = mean(in[b][c][:][:]).
inline cudaError_t avg_pool_1x1(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream) {
  const int planes = batch * c;
  const int threads = 256;
  detail::avg_pool_kernel<<<(planes * 32 + threads - 1) / threads, threads, 0, stream>>>(in, out, planes, hw);
  return cudaGetLastError();
}

//! out[b][j] = bias[j] + sum_i in[b][i] * w[j][i]. k must be a multiple of 4 and the pointers 16-byte aligned.
inline cudaError_t linear(int batch, int k, int n, const float* in, const float* w, const float* bias, float* out,
                          cudaStream_t stream) {
  if (k % 4 != 0) return cudaErrorInvalidValue;
  const int threads = 256;
  detail::linear_kernel<8><<<(n * 32 + threads - 1) / threads, threads, 0, stream>>>(in, w, bias, out, batch, k, n);
  return cudaGetLastError();
}

} // namespace convnet::kernels
