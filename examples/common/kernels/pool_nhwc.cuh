#pragma once
//! Pooling over NHWC fp32 tensors for the sm_90 path: max and average pooling (any window, stride,
//! padding, PyTorch's ceil_mode; the average counts the padding) into a channel slice, and adaptive
//! average pooling to 1x1. One thread per
//! output pixel and group of 4 channels, 16-byte loads and stores (channels, c_off and c_total must be
//! multiples of 4). Exact in fp32 (the max) and up to summation order (the mean).

#include <cuda_runtime.h>

#include <cmath>

#include <opara/cuda/runtime/pdl.cuh>

#include "shapes.hpp"

namespace convnet::kernels::nhwc {

namespace detail {

// One thread per output pixel and group of 4 channels; 32-bit index arithmetic (the launcher checks
// the sizes), since 64-bit division and remainder cost more than the pooling itself.
template <bool AVG>
__global__ void pool_kernel(const float* __restrict__ in, float* __restrict__ out, int c4, int h, int w, int k,
                            int stride, int pad, int ho, int wo, int c_off, int c_total, int total) {
  opara::pdl::wait_for_producers();  // programmatic dependent launch: nothing to do before the input
  opara::pdl::launch_dependents();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int c = (i % c4) * 4;
    const int pix = i / c4;  // (b * ho + oh) * wo + ow
    const int ow = pix % wo;
    const int boh = pix / wo;
    const int oh = boh % ho;
    const int b = boh / ho;
    const int h0 = oh * stride - pad, w0 = ow * stride - pad;
    const int h1 = min(h0 + k, h), w1 = min(w0 + k, w);
    const float* src = in + static_cast<long long>(b) * h * w * c4 * 4 + c;
    const float init = AVG ? 0.0f : -INFINITY;
    float4 m = make_float4(init, init, init, init);
    for (int y = max(h0, 0); y < h1; ++y)
      for (int x = max(w0, 0); x < w1; ++x) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(src + (y * w + x) * c4 * 4));
        if constexpr (AVG) {
          m.x += v.x; m.y += v.y; m.z += v.z; m.w += v.w;
        } else {
          m.x = fmaxf(m.x, v.x); m.y = fmaxf(m.y, v.y); m.z = fmaxf(m.z, v.z); m.w = fmaxf(m.w, v.w);
        }
      }
    if constexpr (AVG) {
      // count_include_pad: the window clipped to the padded input, padding included.
      const float inv = 1.0f / static_cast<float>((min(h0 + k, h + pad) - h0) * (min(w0 + k, w + pad) - w0));
      m.x *= inv; m.y *= inv; m.z *= inv; m.w *= inv;
    }
    *reinterpret_cast<float4*>(out + static_cast<long long>(pix) * c_total + c_off + c) = m;
  }
}

// out[b][c] = mean over the hw pixels of in[b][:][c]. A block takes 32 groups of 4 channels of one
// image and 8 pixel lanes: each thread sums every 8th pixel (independent loads in flight), then the
// 8 partial sums are added in a fixed order through shared memory (deterministic).
__global__ void avg_pool_kernel(const float* __restrict__ in, float* __restrict__ out, int batch, int c4, int hw) {
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  __shared__ float4 part[8][32];
  const int g = threadIdx.x % 32, lane = threadIdx.x / 32;
  const int blocks_per_image = (c4 + 31) / 32;
  const int b = blockIdx.x / blocks_per_image;
  const int cg = (blockIdx.x % blocks_per_image) * 32 + g;
  float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
  if (cg < c4) {
    const float* src = in + static_cast<long long>(b) * hw * c4 * 4 + cg * 4;
    for (int p = lane; p < hw; p += 8) {
      const float4 v = __ldg(reinterpret_cast<const float4*>(src + static_cast<long long>(p) * c4 * 4));
      s.x += v.x; s.y += v.y; s.z += v.z; s.w += v.w;
    }
  }
  part[lane][g] = s;
  __syncthreads();
  if (lane == 0 && cg < c4) {
    for (int l = 1; l < 8; ++l) {
      const float4 v = part[l][g];
      s.x += v.x; s.y += v.y; s.z += v.z; s.w += v.w;
    }
    const float inv = 1.0f / static_cast<float>(hw);
    *reinterpret_cast<float4*>(out + static_cast<long long>(b) * c4 * 4 + cg * 4) =
        make_float4(s.x * inv, s.y * inv, s.z * inv, s.w * inv);
  }
}

} // namespace detail

//! Max or (s.average) average pooling of an NHWC tensor into a channel slice. Never throws; returns
//! the launch's error.
inline cudaError_t pool(const pool_shape& s, const float* in, float* out, cudaStream_t stream) {
  if (s.c % 4 != 0 || s.c_off % 4 != 0 || s.total_channels() % 4 != 0) return cudaErrorInvalidValue;
  const long long total = 1LL * s.batch * s.ho() * s.wo() * (s.c / 4);
  if (total >= (1LL << 31) || 1LL * s.h * s.w * s.c >= (1LL << 31)) return cudaErrorInvalidValue;
  const int threads = 256;
  const long long want = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 8192 ? want : 8192);
  auto* kernel = s.average ? &detail::pool_kernel<true> : &detail::pool_kernel<false>;
  kernel<<<blocks, threads, 0, stream>>>(in, out, s.c / 4, s.h, s.w, s.k, s.stride, s.pad, s.ho(), s.wo(), s.c_off,
                                         s.total_channels(), static_cast<int>(total));
  return cudaGetLastError();
}

//! Adaptive average pooling of an NHWC tensor to 1x1: out[b][c] = mean(in[b][:][:][c]).
inline cudaError_t avg_pool_1x1(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream) {
  if (c % 4 != 0) return cudaErrorInvalidValue;
  const int blocks = batch * ((c / 4 + 31) / 32);
  detail::avg_pool_kernel<<<blocks, 256, 0, stream>>>(in, out, batch, c / 4, hw);
  return cudaGetLastError();
}

} // namespace convnet::kernels::nhwc
