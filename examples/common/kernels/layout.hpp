#pragma once
//! Host-side layout conversions between the portable path (NCHW tensors, [cout][cin*kh*kw] weights)
//! and the sm_90 path (NHWC tensors whose pixels hold a padded channel count, [cout][kh][kw][cin4]
//! weights), and TF32 and BF16 rounding. Plain C++, no CUDA.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "shapes.hpp"

namespace convnet::kernels {

//! fp32 -> nearest TF32 (10 mantissa bits; ties away from zero, as cvt.rna.tf32.f32), kept in a float.
inline float round_tf32(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // leave inf and NaN alone
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

//! fp32 -> bf16, round to nearest, ties to even (as __float2bfloat16_rn); inf stays inf, a NaN stays a
//! (quiet) NaN, and values past the largest bf16 round to inf.
inline bfloat16 to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<std::uint16_t>(u >> 16)};
}
//! bf16 -> fp32 (exact).
inline float from_bf16(bfloat16 h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h.bits) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
//! fp32 -> nearest bf16 (ties to even), kept in a float.
inline float round_bf16(float x) { return from_bf16(to_bf16(x)); }

//! [batch][c][hw] -> [batch][hw][c_store] (channels c..c_store-1 are zero).
template <class T>
std::vector<T> nchw_to_nhwc(const std::vector<T>& x, int batch, int c, int hw, int c_store) {
  std::vector<T> y(static_cast<std::size_t>(batch) * hw * c_store, T{});
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int p = 0; p < hw; ++p)
        y[(static_cast<std::size_t>(b) * hw + p) * c_store + ch] = x[(static_cast<std::size_t>(b) * c + ch) * hw + p];
  return y;
}

//! [batch][hw][c_store] -> [batch][c][hw] (the first c stored channels).
template <class T>
std::vector<T> nhwc_to_nchw(const std::vector<T>& y, int batch, int c, int hw, int c_store) {
  std::vector<T> x(static_cast<std::size_t>(batch) * c * hw);
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int p = 0; p < hw; ++p)
        x[(static_cast<std::size_t>(b) * c + ch) * hw + p] = y[(static_cast<std::size_t>(b) * hw + p) * c_store + ch];
  return x;
}

//! Portable path: weights [cout][k] -> [cout][k_pad], each row zero-padded.
inline std::vector<float> pad_weights_nchw(const std::vector<float>& w, int cout, int k, int k_pad) {
  std::vector<float> p(static_cast<std::size_t>(cout) * k_pad, 0.0f);
  for (int m = 0; m < cout; ++m)
    std::copy(w.begin() + static_cast<std::ptrdiff_t>(m) * k, w.begin() + static_cast<std::ptrdiff_t>(m + 1) * k,
              p.begin() + static_cast<std::ptrdiff_t>(m) * k_pad);
  return p;
}

//! Weights [cout][cin][kh][kw] -> [cout][kh][kw][cinp] of T, each row zero-padded to
//! s.k_pad_nhwc(p), cinp = s.cin_nhwc(p) (cin4 for tf32, cin8 for bf16); `convert` makes each T.
template <class T, class Convert>
std::vector<T> pack_weights_nhwc_as(const conv_shape& s, const float* w, conv_precision prec, Convert&& convert) {
  const int kp = s.k_pad_nhwc(prec), cp = s.cin_nhwc(prec);
  std::vector<T> p(static_cast<std::size_t>(s.cout) * kp, T{});
  for (int m = 0; m < s.cout; ++m)
    for (int ci = 0; ci < s.cin; ++ci)
      for (int r = 0; r < s.kh; ++r)
        for (int c = 0; c < s.kw; ++c) {
          const float v = w[((static_cast<std::size_t>(m) * s.cin + ci) * s.kh + r) * s.kw + c];
          p[static_cast<std::size_t>(m) * kp + (r * s.kw + c) * cp + ci] = convert(v);
        }
  return p;
}

//! Weights [cout][cin][kh][kw] -> [cout][kh][kw][cin4], each row zero-padded to s.k_pad_nhwc().
//! round: TF32-round every weight (what the tensor cores would use; wgmma truncates otherwise).
inline std::vector<float> pack_weights_nhwc(const conv_shape& s, const float* w, bool round) {
  return pack_weights_nhwc_as<float>(s, w, conv_precision::tf32, [round](float v) { return round ? round_tf32(v) : v; });
}

//! Weights [cout][cin][kh][kw] -> [cout][kh][kw][cin8] bf16 (nearest even), each row zero-padded to
//! s.k_pad_nhwc(conv_precision::bf16) (a multiple of 64): the sm_90 path's bf16 weights.
inline std::vector<bfloat16> pack_weights_nhwc_bf16(const conv_shape& s, const float* w) {
  return pack_weights_nhwc_as<bfloat16>(s, w, conv_precision::bf16, to_bf16);
}

} // namespace convnet::kernels
