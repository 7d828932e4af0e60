#pragma once
//! float64 CPU reference of every kernel of examples/common (plain C++, no CUDA).
//! Inputs are float (what the GPU sees), arithmetic and outputs are double.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <thread>
#include <vector>

#include "kernels/shapes.hpp"

namespace convnet::reference {

using kernels::conv_shape;
using kernels::pool_shape;

//! Runs f(i) for i in [0, n) on the machine's cores (the batch-8 model reference is ~12 GMAC).
template <class F>
void parallel_for(int n, F&& f) {
  const int t = std::max(1, std::min<int>(n, static_cast<int>(std::thread::hardware_concurrency())));
  if (t == 1) {
    for (int i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::thread> pool;
  for (int w = 0; w < t; ++w)
    pool.emplace_back([&, w] {
      for (int i = w; i < n; i += t) f(i);
    });
  for (auto& th : pool) th.join();
}

//! out[b, c_off+m, :, :] = relu?(bias[m] + conv(in, w)[b, m]). w: [cout][cin*kh*kw] (unpadded).
//! out must already have batch*c_total*ho*wo elements (other channels are left untouched).
template <class T, class U>
void conv(const conv_shape& s, const std::vector<T>& in, const std::vector<U>& w, const std::vector<U>& bias,
          std::vector<double>& out, bool relu = true) {
  const int ho = s.ho(), wo = s.wo(), ct = s.total_channels();
  parallel_for(s.batch * s.cout, [&](int bm) {
    const int b = bm / s.cout, m = bm % s.cout;
    std::vector<double> acc(static_cast<std::size_t>(ho) * wo, static_cast<double>(bias[m]));
    for (int ci = 0; ci < s.cin; ++ci) {
      const T* src = in.data() + (static_cast<std::size_t>(b) * s.cin + ci) * s.h * s.w;
      for (int r = 0; r < s.kh; ++r)
        for (int q = 0; q < s.kw; ++q) {
          const double wv = w[(static_cast<std::size_t>(m) * s.cin + ci) * s.kh * s.kw + r * s.kw + q];
          for (int oh = 0; oh < ho; ++oh) {
            const int ih = oh * s.stride - s.pad_h + r;
            if (ih < 0 || ih >= s.h) continue;
            double* a = acc.data() + static_cast<std::size_t>(oh) * wo;
            const T* row = src + static_cast<std::size_t>(ih) * s.w;
            for (int ow = 0; ow < wo; ++ow) {
              const int iw = ow * s.stride - s.pad_w + q;
              if (iw >= 0 && iw < s.w) a[ow] += wv * static_cast<double>(row[iw]);
            }
          }
        }
    }
    double* dst = out.data() + (static_cast<std::size_t>(b) * ct + s.c_off + m) * ho * wo;
    for (std::size_t i = 0; i < acc.size(); ++i) dst[i] = relu ? std::max(acc[i], 0.0) : acc[i];
  });
}

//! Max pooling with PyTorch's padding (-inf) and ceil_mode rules, or (s.average) average pooling
//! with count_include_pad=True (divisor: the window clipped to the padded input), into a channel slice.
template <class T>
void pool(const pool_shape& s, const std::vector<T>& in, std::vector<double>& out) {
  const int ho = s.ho(), wo = s.wo(), ct = s.total_channels();
  for (int b = 0; b < s.batch; ++b)
    for (int c = 0; c < s.c; ++c)
      for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
          double m = -std::numeric_limits<double>::infinity(), sum = 0;
          const int h0 = oh * s.stride - s.pad, w0 = ow * s.stride - s.pad;
          for (int r = 0; r < s.k; ++r)
            for (int q = 0; q < s.k; ++q) {
              const int ih = h0 + r, iw = w0 + q;
              if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) {
                const double v = static_cast<double>(in[((static_cast<std::size_t>(b) * s.c + c) * s.h + ih) * s.w + iw]);
                m = std::max(m, v);
                sum += v;
              }
            }
          const int count = (std::min(h0 + s.k, s.h + s.pad) - h0) * (std::min(w0 + s.k, s.w + s.pad) - w0);
          out[((static_cast<std::size_t>(b) * ct + s.c_off + c) * ho + oh) * wo + ow] = s.average ? sum / count : m;
        }
}

//! Adaptive average pooling to 1x1: [batch][c][hw] -> [batch][c].
template <class T>
std::vector<double> avg_pool_1x1(int batch, int c, int hw, const std::vector<T>& in) {
  std::vector<double> out(static_cast<std::size_t>(batch) * c);
  for (std::size_t p = 0; p < out.size(); ++p) {
    double s = 0;
    for (int i = 0; i < hw; ++i) s += static_cast<double>(in[p * hw + i]);
    out[p] = s / hw;
  }
  return out;
}

//! out[b][j] = bias[j] + sum_i in[b][i] * w[j][i].
template <class T, class U>
std::vector<double> linear(int batch, int k, int n, const std::vector<T>& in, const std::vector<U>& w,
                           const std::vector<U>& bias) {
  std::vector<double> out(static_cast<std::size_t>(batch) * n);
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < n; ++j) {
      double s = bias[j];
      for (int i = 0; i < k; ++i)
        s += static_cast<double>(in[static_cast<std::size_t>(b) * k + i]) * static_cast<double>(w[static_cast<std::size_t>(j) * k + i]);
      out[static_cast<std::size_t>(b) * n + j] = s;
    }
  return out;
}

//! ||a - ref|| / ||ref|| (infinite if a holds a NaN or ref is zero).
template <class T>
double rel_error(const std::vector<T>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(a[i]) - ref[i];
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::numeric_limits<double>::infinity();
}

} // namespace convnet::reference
