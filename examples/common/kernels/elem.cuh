#pragma once
//! The sm_90 path's element types, fp32 and bf16, as the kernels see them: how many make one 16-byte
//! chunk, loading a chunk as floats (bf16 widens exactly) and storing floats back (bf16: round to
//! nearest even), one pair or one group of 4 at a time in the convolution's epilogue.
//! Templating the kernels on the element type keeps one piece of code per job; the fp32 versions are
//! the plain float4 / float2 loads and stores the fp32 kernels always had.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace convnet::kernels::elem {

template <class T>
struct traits;

template <>
struct traits<float> {
  static constexpr int per_chunk = 4;  // elements in 16 bytes
  //! 16 bytes at p (16-byte aligned), read-only path.
  static __device__ __forceinline__ void load(const float* p, float (&v)[4]) {
    const float4 x = __ldg(reinterpret_cast<const float4*>(p));
    v[0] = x.x; v[1] = x.y; v[2] = x.z; v[3] = x.w;
  }
  static __device__ __forceinline__ void store(float* p, const float (&v)[4]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  }
  //! Two adjacent elements (8-byte aligned).
  static __device__ __forceinline__ void store2(float* p, float a, float b) {
    *reinterpret_cast<float2*>(p) = make_float2(a, b);
  }
  //! Four adjacent elements (16-byte aligned).
  static __device__ __forceinline__ void store4(float* p, float a, float b, float c, float d) {
    *reinterpret_cast<float4*>(p) = make_float4(a, b, c, d);
  }
  static __device__ __forceinline__ void store1(float* p, float a) { *p = a; }
};

template <>
struct traits<__nv_bfloat16> {
  static constexpr int per_chunk = 8;
  static __device__ __forceinline__ void load(const __nv_bfloat16* p, float (&v)[8]) {
    const uint4 x = __ldg(reinterpret_cast<const uint4*>(p));
    const std::uint32_t w[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      // bf16 -> fp32 is exact: the bf16 bits are the upper half of the fp32.
      v[2 * i] = __uint_as_float(w[i] << 16);
      v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  static __device__ __forceinline__ std::uint32_t pack(float a, float b) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);  // .x = a (low half), .y = b
    return *reinterpret_cast<const std::uint32_t*>(&h);
  }
  static __device__ __forceinline__ void store(__nv_bfloat16* p, const float (&v)[8]) {
    *reinterpret_cast<uint4*>(p) = make_uint4(pack(v[0], v[1]), pack(v[2], v[3]), pack(v[4], v[5]), pack(v[6], v[7]));
  }
  //! Two adjacent elements (4-byte aligned).
  static __device__ __forceinline__ void store2(__nv_bfloat16* p, float a, float b) {
    *reinterpret_cast<std::uint32_t*>(p) = pack(a, b);
  }
  //! Four adjacent elements (8-byte aligned).
  static __device__ __forceinline__ void store4(__nv_bfloat16* p, float a, float b, float c, float d) {
    *reinterpret_cast<uint2*>(p) = make_uint2(pack(a, b), pack(c, d));
  }
  static __device__ __forceinline__ void store1(__nv_bfloat16* p, float a) { *p = __float2bfloat16_rn(a); }
};

} // namespace convnet::kernels::elem
