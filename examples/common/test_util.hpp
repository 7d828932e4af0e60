#pragma once
//! Shared by the kernel tests (test_kernels.cpp, test_kernels_sm90.cpp): CUDA checks, seeded random
//! data that is never zero, device buffers that can be poisoned with NaN, and the slice comparison
//! against the float64 reference.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "reference.hpp"

#define CHECK_CUDA(expr)                                                                              \
  do {                                                                                                \
    const cudaError_t e_ = (expr);                                                                    \
    if (e_ != cudaSuccess) {                                                                          \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                                   \
    }                                                                                                 \
  } while (0)

namespace convnet::test {

namespace ref = convnet::reference;

inline std::mt19937_64 rng(20261125);
inline int failures = 0;
inline int checks = 0;

inline std::vector<float> random_vec(std::size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) {
    do x = d(rng); while (x == 0.0f);
  }
  return v;
}

struct dev_buf {
  float* p = nullptr;
  std::size_t n = 0;
  explicit dev_buf(std::size_t count) : n(count) { CHECK_CUDA(cudaMalloc(&p, count * sizeof(float) + 16)); }
  dev_buf(const std::vector<float>& h) : dev_buf(h.size()) {
    CHECK_CUDA(cudaMemcpy(p, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~dev_buf() { cudaFree(p); }
  dev_buf(const dev_buf&) = delete;
  dev_buf& operator=(const dev_buf&) = delete;
  void poison() { CHECK_CUDA(cudaMemset(p, 0xff, n * sizeof(float))); }  // 0xffffffff is a NaN
  std::vector<float> get() const {
    std::vector<float> h(n);
    CHECK_CUDA(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }
};

inline bool is_poison(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u == 0xffffffffu;
}

// Compares the slice [c_off, c_off+c) of a [batch][c_total][hw] tensor; the rest must be poison.
inline void compare_slice(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
                   int batch, int c_total, int c_off, int c, int hw, double tol) {
  std::vector<float> g;
  std::vector<double> r;
  int untouched_bad = 0;
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < c_total; ++ch)
      for (int i = 0; i < hw; ++i) {
        const std::size_t idx = (static_cast<std::size_t>(b) * c_total + ch) * hw + i;
        if (ch >= c_off && ch < c_off + c) {
          g.push_back(got[idx]);
          r.push_back(want[idx]);
        } else if (!is_poison(got[idx])) {
          ++untouched_bad;
        }
      }
  const double err = ref::rel_error(g, r);
  const bool ok = err <= tol && untouched_bad == 0;
  ++checks;
  if (!ok) ++failures;
  std::printf("%-4s %-62s rel_err %.3e (tol %.0e)%s\n", ok ? "ok" : "FAIL", what.c_str(), err, tol,
              untouched_bad ? "  [wrote outside its channel slice]" : "");
}

//! Split-K sums its partial tiles in a fixed order: launching again (`relaunch` runs the kernel and
//! returns its output) must give the same bits as `first`.
template <class Relaunch>
void expect_same_bits(const char* what, const std::vector<float>& first, Relaunch&& relaunch) {
  const std::vector<float> again = relaunch();
  ++checks;
  if (again.size() != first.size() || std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) != 0) {
    ++failures;
    std::printf("FAIL %s: second launch not bit-identical\n", what);
  }
}

//! The sm_90 main loops every kernel test runs (kernels::sm90_pipeline).
inline constexpr convnet::kernels::sm90_pipeline all_pipelines[] = {
    convnet::kernels::sm90_pipeline::ring, convnet::kernels::sm90_pipeline::specialized,
    convnet::kernels::sm90_pipeline::persistent};

//! The main loops the sm_90 kernel tests run: CONVNET_TEST_PIPELINES="specialized,persistent" limits
//! them (for compute-sanitizer runs of the new loops); unset: every one. An unknown name is an error.
inline std::vector<convnet::kernels::sm90_pipeline> test_pipelines() {
  const char* only = std::getenv("CONVNET_TEST_PIPELINES");
  if (only == nullptr || *only == '\0') return {std::begin(all_pipelines), std::end(all_pipelines)};
  std::vector<convnet::kernels::sm90_pipeline> out;
  const std::string names = only;
  for (std::size_t b = 0; b <= names.size();) {
    const std::size_t e = std::min(names.find(',', b), names.size());
    const std::string name = names.substr(b, e - b);
    bool known = false;
    for (auto p : all_pipelines)
      if (name == convnet::kernels::pipeline_name(p)) out.push_back(p), known = true;
    if (!known) {
      std::fprintf(stderr, "CONVNET_TEST_PIPELINES: unknown main loop '%s' (ring, specialized, persistent)\n", name.c_str());
      std::exit(2);
    }
    b = e + 1;
  }
  return out;
}

//! A launch the kernels must refuse (cudaErrorInvalidValue, nothing launched).
inline void expect_refused(const std::string& what, cudaError_t e) {
  ++checks;
  if (e != cudaErrorInvalidValue) {
    ++failures;
    std::printf("FAIL %s: not refused (%s)\n", what.c_str(), cudaGetErrorName(e));
  }
}

//! A convolution's shape in one line (square kernel; c_total 0: the output tensor is the slice).
inline kernels::conv_shape cs(int batch, int cin, int h, int w, int cout, int ks, int stride, int pad, int c_off = 0,
                              int c_total = 0) {
  kernels::conv_shape s;
  s.batch = batch; s.cin = cin; s.h = h; s.w = w; s.cout = cout; s.kh = s.kw = ks;
  s.stride = stride; s.pad_h = s.pad_w = pad; s.c_off = c_off; s.c_total = c_total;
  return s;
}

//! A kh x kw convolution's shape in one line (Inception-v3's 1x7, 7x1, 1x3, 3x1).
inline kernels::conv_shape cs_rect(int batch, int cin, int h, int w, int cout, int kh, int kw, int stride, int pad_h,
                                   int pad_w, int c_off = 0, int c_total = 0) {
  kernels::conv_shape s = cs(batch, cin, h, w, cout, kh, stride, pad_h, c_off, c_total);
  s.kw = kw;
  s.pad_w = pad_w;
  return s;
}

//! Horizontal fusion's test case (test_kernels_sm90.cpp, fp32, and test_kernels_sm90_bf16.cpp): 1x1
//! convolutions of one batch x cin x h x w input, output i with its own weights and bias into channels
//! [c_off, c_off + cout) of its own c_total-channel tensor. `round` rounds the input and the weights as
//! the kernels' element type stores them; `want[i]` is output i's float64 convolution (NCHW, zeros
//! outside its slice); w_all and b_all are the outputs' weights and biases stacked, as the engine packs
//! them; s is the fused GEMM's shape (cout summed).
struct fused_out {
  int cout, c_off, c_total;
};
struct fused_case {
  std::string name;
  kernels::conv_shape s;
  std::vector<float> in, w_all, b_all;
  std::vector<std::vector<double>> want;
};
template <class Round>
fused_case make_fused_case(int batch, int cin, int h, int w, const std::vector<fused_out>& outs, Round&& round) {
  fused_case f;
  f.s = cs(batch, cin, h, w, 0, 1, 1, 0);
  f.name = "fused b" + std::to_string(batch) + " " + std::to_string(cin) + "x" + std::to_string(h) + "x" +
           std::to_string(w) + " ->";
  for (const fused_out& o : outs) {
    f.s.cout += o.cout;
    f.name += " " + std::to_string(o.cout) + "[" + std::to_string(o.c_off) + "/" + std::to_string(o.c_total) + "]";
  }
  f.s.c_total = f.s.cout;
  auto rounded = [&](std::vector<float> v) {
    for (float& x : v) x = round(x);
    return v;
  };
  f.in = rounded(random_vec(static_cast<std::size_t>(batch) * cin * h * w));
  const float scale = 1.0f / std::sqrt(static_cast<float>(cin));
  for (const fused_out& o : outs) {
    const kernels::conv_shape so = cs(batch, cin, h, w, o.cout, 1, 1, 0, o.c_off, o.c_total);
    const auto wo = rounded(random_vec(static_cast<std::size_t>(o.cout) * cin, -scale, scale));
    const auto bo = random_vec(o.cout, -0.5f, 0.5f);
    f.want.emplace_back(static_cast<std::size_t>(batch) * o.c_total * h * w, 0.0);
    reference::conv(so, f.in, wo, bo, f.want.back());
    f.w_all.insert(f.w_all.end(), wo.begin(), wo.end());
    f.b_all.insert(f.b_all.end(), bo.begin(), bo.end());
  }
  return f;
}

//! A convolution case of the sm_90 kernel tests: the shape, the split counts to try (0: the rule's
//! choice, choose_sm90_config), and whether the 3x3/s1/p1 max pool is fused in front.
struct conv_case {
  kernels::conv_shape s;
  std::vector<int> splits{1, 0};
  bool fused_pool = false;
};

//! The sm_90 kernel tests' convolutions (test_kernels_sm90.cpp, fp32; test_kernels_sm90_bf16.cpp
//! takes the same list): GoogLeNet's and Inception-v3's shapes and odd ones.
inline std::vector<conv_case> sm90_conv_cases() {
  std::vector<conv_case> r;
  // GoogLeNet's convolutions at batch 1, 3 and 8 (into their concat slices).
  r.push_back({cs(1, 3, 224, 224, 64, 7, 2, 3)});  // conv1 (cin 3: pixels store 4 channels)
  r.push_back({cs(1, 64, 56, 56, 64, 1, 1, 0)});  // conv2
  r.push_back({cs(1, 64, 56, 56, 192, 3, 1, 1)});  // conv3
  r.push_back({cs(3, 192, 28, 28, 96, 1, 1, 0)});  // inception3a.branch2.0
  r.push_back({cs(1, 96, 28, 28, 128, 3, 1, 1, 64, 256)});  // inception3a.branch2.1 into its slice
  r.push_back({cs(8, 16, 28, 28, 32, 3, 1, 1, 192, 256)});  // inception3a.branch3.1, batch 8
  r.push_back({cs(1, 480, 14, 14, 192, 1, 1, 0, 0, 512)});  // inception4a.branch1
  r.push_back({cs(1, 24, 14, 14, 64, 3, 1, 1, 384, 512)});  // inception4b.branch3.1
  r.push_back({cs(1, 832, 7, 7, 384, 1, 1, 0, 0, 1024), {1, 0, 2, 4, 8}});  // inception5b.branch1
  r.push_back({cs(8, 192, 7, 7, 384, 3, 1, 1, 384, 1024), {1, 0, 3}});  // inception5b.branch2.1, batch 8
  r.push_back({cs(1, 160, 14, 14, 320, 3, 1, 1, 256, 832), {1, 0, 2, 5}});  // inception4e.branch2.1
  // Odd shapes: cin and cout off multiples of 4 and of the tile, non-square, stride 2, 5x5, 7x7.
  r.push_back({cs(1, 5, 11, 9, 13, 3, 2, 1)});
  r.push_back({cs(3, 7, 17, 13, 37, 5, 1, 2, 4, 44), {1, 0, 3}});
  r.push_back({cs(2, 3, 23, 19, 10, 7, 2, 3)});
  r.push_back({cs(1, 33, 9, 15, 70, 1, 1, 0, 4, 76), {1, 0, 2}});
  r.push_back({cs(3, 17, 15, 15, 29, 3, 2, 0)});
  r.push_back({cs(1, 65, 7, 7, 18, 1, 2, 0)});
  r.push_back({cs(3, 130, 10, 6, 200, 3, 1, 1, 8, 212), {1, 0, 4, 7}});
  // 1-pixel images.
  r.push_back({cs(1, 64, 1, 1, 48, 3, 1, 1), {1, 0, 2}});
  r.push_back({cs(3, 20, 1, 1, 13, 1, 1, 0), {1, 0}});
  r.push_back({cs(8, 1, 1, 1, 1, 1, 1, 0)});
  // Fused 3x3/s1/p1 max pool + 1x1 conv (an inception block's pool projection).
  r.push_back({cs(1, 192, 28, 28, 32, 1, 1, 0, 224, 256), {1, 0}, true});  // inception3a.branch4
  r.push_back({cs(8, 832, 7, 7, 128, 1, 1, 0, 896, 1024), {1, 0, 4}, true});  // inception5b.branch4, batch 8
  r.push_back({cs(3, 20, 5, 7, 13, 1, 1, 0, 4, 20), {1, 0, 2}, true});
  r.push_back({cs(1, 8, 1, 1, 9, 1, 1, 0), {1}, true});

  // Inception-v3 (batch 1 and 8): stride-2 3x3 without padding (stem, Mixed_6a, Mixed_7a), the
  // 147x147 and 35x35 layers, the 5x5, the 1x7 / 7x1 and 1x3 / 3x1 pairs into their concat slices;
  // odd rectangular windows (stride 2, channels off multiples of 4, split-K).
  for (int b : {1, 8}) {
    r.push_back({cs(b, 3, 299, 299, 32, 3, 2, 0)});  // Conv2d_1a_3x3
    r.push_back({cs(b, 32, 147, 147, 64, 3, 1, 1)});  // Conv2d_2b_3x3
    r.push_back({cs(b, 80, 73, 73, 192, 3, 1, 0)});  // Conv2d_4a_3x3
    r.push_back({cs(b, 48, 35, 35, 64, 5, 1, 2, 64, 256)});  // Mixed_5b.branch5x5_2
    r.push_back({cs(b, 288, 35, 35, 384, 3, 2, 0, 0, 768), {1, 0, 2}});  // Mixed_6a.branch3x3
    r.push_back({cs_rect(b, 128, 17, 17, 128, 1, 7, 1, 0, 3)});  // Mixed_6b.branch7x7_2
    r.push_back({cs_rect(b, 128, 17, 17, 192, 7, 1, 1, 3, 0, 192, 768), {1, 0, 2}});  // Mixed_6b.branch7x7_3
    r.push_back({cs(b, 192, 17, 17, 320, 3, 2, 0, 0, 1280), {1, 0, 4}});  // Mixed_7a.branch3x3_2
    r.push_back({cs_rect(b, 384, 8, 8, 384, 1, 3, 1, 0, 1, 320, 2048), {1, 0, 4}});  // Mixed_7b.branch3x3_2a
    r.push_back({cs_rect(b, 384, 8, 8, 384, 3, 1, 1, 1, 0, 704, 2048), {1, 0, 8}});  // Mixed_7b.branch3x3_2b
  }
  r.push_back({cs_rect(2, 7, 9, 13, 11, 1, 5, 1, 0, 2, 4, 16)});
  r.push_back({cs_rect(3, 5, 11, 10, 6, 5, 3, 2, 2, 1), {1, 0, 2}});
  r.push_back({cs_rect(1, 33, 6, 7, 19, 7, 1, 1, 3, 0), {1, 0, 3}});
  r.push_back({cs_rect(3, 130, 5, 9, 70, 3, 1, 1, 1, 0, 8, 80), {1, 0, 2, 5}});
  return r;
}

//! A max pool's shape in one line.
inline kernels::pool_shape ps(int batch, int c, int h, int w, int ks, int stride, int pad, bool ceil_mode,
                              int c_off = 0, int c_total = 0) {
  kernels::pool_shape s;
  s.batch = batch; s.c = c; s.h = h; s.w = w; s.k = ks; s.stride = stride; s.pad = pad;
  s.ceil_mode = ceil_mode; s.c_off = c_off; s.c_total = c_total;
  return s;
}

//! An average pool's shape in one line (count_include_pad=True).
inline kernels::pool_shape avg_ps(int batch, int c, int h, int w, int ks, int stride, int pad, bool ceil_mode,
                                  int c_off = 0, int c_total = 0) {
  kernels::pool_shape s = ps(batch, c, h, w, ks, stride, pad, ceil_mode, c_off, c_total);
  s.average = true;
  return s;
}

//! Inception-v3's pools at `batch` (both layouts test them): the stem's 3x3/s2 max pools, the B and D
//! blocks' max-pool branches into their concat slices, the avg_pool2d(3, 1, 1) of the A, C and E blocks.
inline std::vector<kernels::pool_shape> inception_v3_pools(int batch) {
  return {ps(batch, 64, 147, 147, 3, 2, 0, false),           ps(batch, 192, 71, 71, 3, 2, 0, false),
          ps(batch, 288, 35, 35, 3, 2, 0, false, 480, 768),  ps(batch, 768, 17, 17, 3, 2, 0, false, 512, 1280),
          avg_ps(batch, 192, 35, 35, 3, 1, 1, false),        avg_ps(batch, 768, 17, 17, 3, 1, 1, false),
          avg_ps(batch, 2048, 8, 8, 3, 1, 1, false)};
}

//! "max 3x3 s2 p0 ceil1" / "avg 3x3 s1 p1 ceil0": a pool's shape for a check's name.
inline std::string pool_name(const kernels::pool_shape& s) {
  char b[200];
  std::snprintf(b, sizeof b, "%s b%d c%d %dx%d k%d s%d p%d ceil%d -> %dx%d [%d/%d]", s.average ? "avgpool" : "maxpool",
                s.batch, s.c, s.h, s.w, s.k, s.stride, s.pad, int(s.ceil_mode), s.ho(), s.wo(), s.c_off,
                s.total_channels());
  return b;
}

//! "b8 128x17x17->192 k7x1 s1 p3,0 [192+192/768]": a convolution's shape for a check's name.
inline std::string conv_name(const kernels::conv_shape& s) {
  char b[200];
  std::snprintf(b, sizeof b, "b%d %dx%dx%d->%d k%dx%d s%d p%d,%d [%d+%d/%d]", s.batch, s.cin, s.h, s.w, s.cout, s.kh,
                s.kw, s.stride, s.pad_h, s.pad_w, s.c_off, s.cout, s.total_channels());
  return b;
}

//! CONVNET_TEST_ONLY="k1x7|avgpool": only the shapes whose name (conv_name, pool_name) contains one of
//! the '|'-separated parts run (for compute-sanitizer runs of a subset); unset: every shape.
inline bool selected(const std::string& name) {
  const char* only = std::getenv("CONVNET_TEST_ONLY");
  if (only == nullptr || *only == '\0') return true;
  const std::string parts = only;
  for (std::size_t b = 0; b <= parts.size();) {
    const std::size_t e = std::min(parts.find('|', b), parts.size());
    if (e > b && name.find(parts.substr(b, e - b)) != std::string::npos) return true;
    b = e + 1;
  }
  return false;
}

inline int devices_or_skip() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    std::exit(77);
  }
  return devices;
}

} // namespace convnet::test
