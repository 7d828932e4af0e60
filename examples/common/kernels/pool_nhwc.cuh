#pragma once
//! Pooling over NHWC tensors for the sm_90 path, fp32 or bf16 elements (T: float or __nv_bfloat16):
//! max and average pooling (any window, stride, padding, PyTorch's ceil_mode; the average counts the
//! padding) into a channel slice, and adaptive average pooling to 1x1 (fp32 output either way: the
//! classifier's input). One thread per output pixel and 16-byte group of channels (4 fp32 or 8 bf16),
//! 16-byte loads and stores (channels, c_off and c_total must be multiples of that group). Arithmetic
//! in fp32: the max is exact, the mean is exact up to summation order and, for bf16, the one rounding
//! of the result to bf16 (nearest even).

#include <cuda_runtime.h>

#include <cmath>

#include <opara/cuda/runtime/pdl.cuh>

#include "elem.cuh"
#include "shapes.hpp"

namespace convnet::kernels::nhwc {

namespace detail {

// One thread per output pixel and group of V channels (16 bytes: V = 4 fp32 or 8 bf16); 32-bit index
// arithmetic (the launcher checks the sizes), since 64-bit division and remainder cost more than the
// pooling itself.
template <bool AVG, class T>
__global__ void pool_kernel(const T* __restrict__ in, T* __restrict__ out, int cv, int h, int w, int k,
                            int stride, int pad, int ho, int wo, int c_off, int c_total, int total) {
  using E = elem::traits<T>;
  constexpr int V = E::per_chunk;
  opara::pdl::wait_for_producers();  // programmatic dependent launch: nothing to do before the input
  opara::pdl::launch_dependents();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int c = (i % cv) * V;
    const int pix = i / cv;  // (b * ho + oh) * wo + ow
    const int ow = pix % wo;
    const int boh = pix / wo;
    const int oh = boh % ho;
    const int b = boh / ho;
    const int h0 = oh * stride - pad, w0 = ow * stride - pad;
    const int h1 = min(h0 + k, h), w1 = min(w0 + k, w);
    const T* src = in + static_cast<long long>(b) * h * w * cv * V + c;
    const float init = AVG ? 0.0f : -INFINITY;
    float m[V];
#pragma unroll
    for (int e = 0; e < V; ++e) m[e] = init;
    for (int y = max(h0, 0); y < h1; ++y)
      for (int x = max(w0, 0); x < w1; ++x) {
        float v[V];
        E::load(src + (y * w + x) * cv * V, v);
#pragma unroll
        for (int e = 0; e < V; ++e) m[e] = AVG ? m[e] + v[e] : fmaxf(m[e], v[e]);
      }
    if constexpr (AVG) {
      // count_include_pad: the window clipped to the padded input, padding included.
      const float inv = 1.0f / static_cast<float>((min(h0 + k, h + pad) - h0) * (min(w0 + k, w + pad) - w0));
#pragma unroll
      for (int e = 0; e < V; ++e) m[e] *= inv;
    }
    E::store(out + static_cast<long long>(pix) * c_total + c_off + c, m);
  }
}

// out[b][c] = mean over the hw pixels of in[b][:][c], in fp32 whatever T is. A block takes 32 groups
// of V channels of one image and 8 pixel lanes: each thread sums every 8th pixel (independent loads in
// flight), then the 8 partial sums are added in a fixed order through shared memory (deterministic).
template <class T>
__global__ void avg_pool_kernel(const T* __restrict__ in, float* __restrict__ out, int batch, int cv, int hw) {
  using E = elem::traits<T>;
  constexpr int V = E::per_chunk;
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  __shared__ float4 part[8][32][V / 4];
  const int g = threadIdx.x % 32, lane = threadIdx.x / 32;
  const int blocks_per_image = (cv + 31) / 32;
  const int b = blockIdx.x / blocks_per_image;
  const int cg = (blockIdx.x % blocks_per_image) * 32 + g;
  float s[V];
#pragma unroll
  for (int e = 0; e < V; ++e) s[e] = 0.0f;
  if (cg < cv) {
    const T* src = in + static_cast<long long>(b) * hw * cv * V + cg * V;
    for (int p = lane; p < hw; p += 8) {
      float v[V];
      E::load(src + static_cast<long long>(p) * cv * V, v);
#pragma unroll
      for (int e = 0; e < V; ++e) s[e] += v[e];
    }
  }
#pragma unroll
  for (int q = 0; q < V / 4; ++q) part[lane][g][q] = make_float4(s[4 * q], s[4 * q + 1], s[4 * q + 2], s[4 * q + 3]);
  __syncthreads();
  if (lane == 0 && cg < cv) {
    for (int l = 1; l < 8; ++l) {
#pragma unroll
      for (int q = 0; q < V / 4; ++q) {
        const float4 v = part[l][g][q];
        s[4 * q] += v.x; s[4 * q + 1] += v.y; s[4 * q + 2] += v.z; s[4 * q + 3] += v.w;
      }
    }
    const float inv = 1.0f / static_cast<float>(hw);
    float* dst = out + static_cast<long long>(b) * cv * V + cg * V;
#pragma unroll
    for (int q = 0; q < V / 4; ++q)
      *reinterpret_cast<float4*>(dst + 4 * q) =
          make_float4(s[4 * q] * inv, s[4 * q + 1] * inv, s[4 * q + 2] * inv, s[4 * q + 3] * inv);
  }
}

} // namespace detail

//! Max or (s.average) average pooling of an NHWC tensor of T (float or __nv_bfloat16) into a channel
//! slice. Never throws; returns the launch's error.
template <class T>
inline cudaError_t pool(const pool_shape& s, const T* in, T* out, cudaStream_t stream) {
  constexpr int V = elem::traits<T>::per_chunk;
  if (s.c % V != 0 || s.c_off % V != 0 || s.total_channels() % V != 0) return cudaErrorInvalidValue;
  const long long total = 1LL * s.batch * s.ho() * s.wo() * (s.c / V);
  if (total >= (1LL << 31) || 1LL * s.h * s.w * s.c >= (1LL << 31)) return cudaErrorInvalidValue;
  const int threads = 256;
  const long long want = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 8192 ? want : 8192);
  auto* kernel = s.average ? &detail::pool_kernel<true, T> : &detail::pool_kernel<false, T>;
  kernel<<<blocks, threads, 0, stream>>>(in, out, s.c / V, s.h, s.w, s.k, s.stride, s.pad, s.ho(), s.wo(), s.c_off,
                                         s.total_channels(), static_cast<int>(total));
  return cudaGetLastError();
}

//! Adaptive average pooling of an NHWC tensor of T to 1x1, in fp32: out[b][c] = mean(in[b][:][:][c]).
template <class T>
inline cudaError_t avg_pool_1x1(int batch, int c, int hw, const T* in, float* out, cudaStream_t stream) {
  constexpr int V = elem::traits<T>::per_chunk;
  if (c % V != 0) return cudaErrorInvalidValue;
  const int blocks = batch * ((c / V + 31) / 32);
  detail::avg_pool_kernel<T><<<blocks, 256, 0, stream>>>(in, out, batch, c / V, hw);
  return cudaGetLastError();
}

} // namespace convnet::kernels::nhwc
