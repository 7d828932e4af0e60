//! Checks the sm_90 path's BF16 kernels (kernels/launch_sm90_bf16.cu: bf16 NHWC tensors and weights,
//! m64nNk16 bf16 wgmma with fp32 accumulation, bf16 pools, the bf16 -> fp32 global average pool)
//! against the float64 CPU reference computed on the same bf16-rounded operands: the convolutions of
//! test_kernels_sm90.cpp (GoogLeNet's and Inception-v3's shapes and the odd ones, sm90_conv_cases in
//! test_util.hpp) with their channel slices moved to multiples of 8 (the bf16 kernels' 16-byte
//! chunks), every tile, split-K off and on (a split result bit-identical on a second launch); the
//! fused pool is fp32 only, so those cases run as plain 1x1 convolutions; horizontal fusion (1x1
//! convolutions of one input as one GEMM writing several tensors) on the models' block heads. Outputs are poisoned (NaN)
//! first and channels outside a kernel's slice must still hold the poison. Exits 77 without a GPU and
//! when the GPU is not compute capability 9.0.
//!
//! Tolerance of a convolution (norm-wise, ||out - ref|| / ||ref||): the operands are exact in bf16 and
//! their products exact in fp32, so the kernel's only errors are the fp32 accumulation over K terms
//! (at most about K * 2^-24 relative, the usual worst-case bound, far less in practice) and the one
//! rounding of each output to bf16 (nearest even: at most 2^-8 relative per element, so at most 2^-8
//! norm-wise too). Hence tol = 2^-8 + K * 2^-24: 3.9e-3 to 4.2e-3 over these shapes (K up to 4608),
//! a strict bound, yet one that any indexing, layout or descriptor mistake exceeds by orders of
//! magnitude (it gives O(1) errors). Typical results sit near 2^-8 / sqrt(3) ~ 2.3e-3 or below.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/launch.hpp"
#include "kernels/layout.hpp"
#include "reference.hpp"
#include "test_util.hpp"

namespace k = convnet::kernels;
namespace ref = convnet::reference;
using namespace convnet::test;

namespace {

constexpr k::sm90_tile all_tiles[] = {k::sm90_tile::m128n192, k::sm90_tile::m128n128, k::sm90_tile::m128n96,
                                      k::sm90_tile::m128n64,  k::sm90_tile::m64n128,  k::sm90_tile::m64n64,
                                      k::sm90_tile::m64n32,   k::sm90_tile::m64n16};
constexpr auto bf16 = k::conv_precision::bf16;

// Device buffer of n elements of T, filled with 0xff bytes by poison() (a bf16 NaN, 0xffff).
template <class T>
struct dev_vec {
  T* p = nullptr;
  std::size_t n = 0;
  explicit dev_vec(std::size_t count) : n(count) { CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&p), count * sizeof(T) + 16)); }
  explicit dev_vec(const std::vector<T>& h) : dev_vec(h.size()) {
    CHECK_CUDA(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~dev_vec() { cudaFree(p); }
  dev_vec(const dev_vec&) = delete;
  dev_vec& operator=(const dev_vec&) = delete;
  void poison() { CHECK_CUDA(cudaMemset(p, 0xff, n * sizeof(T))); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CHECK_CUDA(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

std::vector<float> rounded(std::vector<float> v) {
  for (auto& x : v) x = k::round_bf16(x);
  return v;
}
std::vector<k::bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<k::bfloat16> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = k::to_bf16(v[i]);
  return r;
}
// bf16 -> float, the poison (0xffff) kept as the fp32 poison compare_slice looks for (0xffffffff).
std::vector<float> widen(const std::vector<k::bfloat16>& v) {
  std::vector<float> r(v.size());
  const std::uint32_t poison = 0xffffffffu;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].bits == 0xffffu) std::memcpy(&r[i], &poison, 4);
    else r[i] = k::from_bf16(v[i]);
  }
  return r;
}

int round_up8(int x) { return (x + 7) / 8 * 8; }

// splits: 0 = the rule's choice (choose_sm90_config for bf16), n = split-K over a cluster of n blocks.
void test_conv(k::conv_shape s, const std::vector<int>& splits) {
  // The bf16 kernels store 16-byte chunks of 8 channels: the slice starts and the tensor's channel
  // count move to multiples of 8 (the models' already are).
  s.c_off = round_up8(s.c_off);
  s.c_total = round_up8(std::max(s.c_total, s.c_off + s.cout));
  if (!selected(conv_name(s))) return;
  const int ho = s.ho(), wo = s.wo(), hw_in = s.h * s.w;
  const auto in = rounded(random_vec(static_cast<std::size_t>(s.batch) * s.cin * hw_in));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k()));
  const auto w = rounded(random_vec(static_cast<std::size_t>(s.cout) * s.k(), -scale, scale));
  const auto bias = random_vec(s.cout, -0.5f, 0.5f);
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * ho * wo, 0.0);
  ref::conv(s, in, w, bias, want);

  dev_vec<k::bfloat16> d_in(to_bf16(k::nchw_to_nhwc(in, s.batch, s.cin, hw_in, s.cin_nhwc(bf16))));
  dev_vec<k::bfloat16> d_w(k::pack_weights_nhwc_bf16(s, w.data()));
  dev_vec<float> d_b(bias);
  dev_vec<k::bfloat16> d_out(want.size());
  const double tol = std::ldexp(1.0, -8) + s.k_nhwc(bf16) * std::ldexp(1.0, -24);
  const k::sm90_config rule = k::choose_sm90_config(s, 264, bf16);
  for (auto pipe : test_pipelines())
  for (auto t : all_tiles)
    for (int sp : splits) {
      k::sm90_config c{t, sp == 0 ? rule.splits : sp, pipe};
      if (sp == 0 && t != rule.tile) continue;  // the rule's own pick, once
      d_out.poison();
      CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc_bf16(s, c, false, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
      CHECK_CUDA(cudaDeviceSynchronize());
      const auto got = widen(d_out.get());
      char what[240];
      std::snprintf(what, sizeof what, "sm90 bf16 conv %s %s split%d%s %s", conv_name(s).c_str(), k::tile_name(t), c.splits,
                    sp == 0 ? "(rule)" : "", k::pipeline_name(pipe));
      compare_slice(what, k::nhwc_to_nchw(got, s.batch, s.c_total, ho * wo, s.c_total), want, s.batch, s.c_total,
                    s.c_off, s.cout, ho * wo, tol);
      if (c.splits > 1)
        expect_same_bits(what, got, [&] {
          CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc_bf16(s, c, false, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
          CHECK_CUDA(cudaDeviceSynchronize());
          return widen(d_out.get());
        });
    }
}

// Horizontal fusion in bf16 (make_fused_case; every cout but the last, c_off and c_total multiples of
// 8), each output checked against its own float64 convolution with the tolerance above.
void test_fused(int batch, int cin, int h, int w, const std::vector<fused_out>& outs, const std::vector<int>& splits) {
  const fused_case f = make_fused_case(batch, cin, h, w, outs, k::round_bf16);
  const k::conv_shape& s = f.s;
  const std::string& name = f.name;
  if (!selected(name)) return;
  const int hw = h * w;
  const auto& want = f.want;
  std::vector<std::unique_ptr<dev_vec<k::bfloat16>>> d_out;
  for (const auto& wv : want) d_out.push_back(std::make_unique<dev_vec<k::bfloat16>>(wv.size()));
  dev_vec<k::bfloat16> d_in(to_bf16(k::nchw_to_nhwc(f.in, batch, cin, hw, s.cin_nhwc(bf16))));
  dev_vec<k::bfloat16> d_w(k::pack_weights_nhwc_bf16(s, f.w_all.data()));
  dev_vec<float> d_b(f.b_all);
  const double tol = std::ldexp(1.0, -8) + s.k_nhwc(bf16) * std::ldexp(1.0, -24);
  const k::sm90_config rule = k::choose_sm90_config(s, 264, bf16);
  for (auto pipe : test_pipelines())
  for (auto t : all_tiles)
    for (int sp : splits) {
      k::sm90_config c{t, sp == 0 ? rule.splits : sp, pipe};
      if (sp == 0 && t != rule.tile) continue;
      std::vector<k::conv_output<k::bfloat16>> o;
      for (std::size_t i = 0; i < outs.size(); ++i) {
        d_out[i]->poison();
        o.push_back({d_out[i]->p, outs[i].cout, outs[i].c_off, outs[i].c_total});
      }
      CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc_bf16(s, c, d_in.p, d_w.p, d_b.p, o.data(), static_cast<int>(o.size()),
                                                           nullptr));
      CHECK_CUDA(cudaDeviceSynchronize());
      for (std::size_t i = 0; i < outs.size(); ++i) {
        char what[300];
        std::snprintf(what, sizeof what, "sm90 bf16 %s %s split%d%s %s: output %zu", name.c_str(), k::tile_name(t), c.splits,
                      sp == 0 ? "(rule)" : "", k::pipeline_name(pipe), i);
        compare_slice(what, k::nhwc_to_nchw(widen(d_out[i]->get()), batch, outs[i].c_total, hw, outs[i].c_total), want[i],
                      batch, outs[i].c_total, outs[i].c_off, outs[i].cout, hw, tol);
      }
    }
}

// A fused pool is refused (fp32 only), and so is a slice off a multiple of 8 channels.
void test_refusals() {
  dev_vec<k::bfloat16> buf(1024);
  dev_vec<float> b(64);
  ++checks;
  const bool pool_refused = convnet::launch::conv_bias_relu_nhwc_bf16(cs(1, 8, 4, 4, 8, 1, 1, 0), {}, true, buf.p, buf.p,
                                                                      b.p, buf.p, nullptr) == cudaErrorInvalidValue;
  const bool slice_refused = convnet::launch::conv_bias_relu_nhwc_bf16(cs(1, 8, 4, 4, 8, 1, 1, 0, 4, 16), {}, false, buf.p,
                                                                       buf.p, b.p, buf.p, nullptr) == cudaErrorInvalidValue;
  (void)cudaGetLastError();
  if (!pool_refused || !slice_refused) ++failures;
  // Horizontal fusion: a first output of 4 channels (off the 8-channel chunk) is refused.
  const k::conv_output<k::bfloat16> odd[2] = {{buf.p, 4, 0, 8}, {buf.p, 4, 0, 8}};
  expect_refused("bf16 fused: a first output of 4 channels",
                 convnet::launch::conv_bias_relu_nhwc_bf16(cs(1, 8, 4, 4, 8, 1, 1, 0), {}, buf.p, buf.p, b.p, odd, 2, nullptr));
  std::printf("%-4s bf16 conv refuses a fused pool (%s) and a slice at channel 4 (%s)\n",
              pool_refused && slice_refused ? "ok" : "FAIL", pool_refused ? "yes" : "no", slice_refused ? "yes" : "no");
}

// Max pools are exact (the maximum of bf16 values is one of them); an average is summed in fp32 and
// rounded once to bf16: at most 2^-8 relative per element, so 2^-8 norm-wise (plus fp32 summation,
// ~k^2 * 2^-24: negligible).
void test_pool(k::pool_shape s) {
  if (s.c_total == 0) s.c_total = s.c;
  if (!selected(pool_name(s))) return;
  const int hw = s.h * s.w, hwo = s.ho() * s.wo();
  const auto in = rounded(random_vec(static_cast<std::size_t>(s.batch) * s.c * hw));
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * hwo, 0.0);
  ref::pool(s, in, want);
  dev_vec<k::bfloat16> d_in(to_bf16(k::nchw_to_nhwc(in, s.batch, s.c, hw, s.c))), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(convnet::launch::pool_nhwc_bf16(s, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  compare_slice("nhwc bf16 " + pool_name(s), k::nhwc_to_nchw(widen(d_out.get()), s.batch, s.c_total, hwo, s.c_total),
                want, s.batch, s.c_total, s.c_off, s.c, hwo, s.average ? std::ldexp(1.0, -8) + 1e-5 : 1e-7);
}

// bf16 in, fp32 sums and fp32 out: exact up to summation order.
void test_avg(int batch, int c, int h, int w) {
  const auto in = rounded(random_vec(static_cast<std::size_t>(batch) * c * h * w));
  const auto want = ref::avg_pool_1x1(batch, c, h * w, in);
  dev_vec<k::bfloat16> d_in(to_bf16(k::nchw_to_nhwc(in, batch, c, h * w, c)));
  dev_vec<float> d_out(want.size());
  d_out.poison();
  CHECK_CUDA(convnet::launch::avg_pool_1x1_nhwc_bf16(batch, c, h * w, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  char what[160];
  std::snprintf(what, sizeof what, "nhwc bf16 avgpool b%d c%d %dx%d", batch, c, h, w);
  compare_slice(what, d_out.get(), want, batch, c, 0, c, 1, 1e-6);
}

} // namespace

int main() {
  devices_or_skip();
  if (!convnet::launch::sm90_supported(0)) {
    std::puts("GPU is not compute capability 9.0: the sm_90a kernels cannot run here; skipped");
    return 77;
  }
  for (const conv_case& c : sm90_conv_cases()) test_conv(c.s, c.splits);
  // Horizontal fusion: GoogLeNet's inception3a and 5b heads, Inception-v3's Mixed_6b and Mixed_7b.
  test_fused(1, 192, 28, 28, {{64, 0, 256}, {96, 0, 96}, {16, 0, 16}}, {1, 0});
  test_fused(8, 832, 7, 7, {{384, 0, 1024}, {192, 0, 192}, {48, 0, 48}}, {1, 0, 4});
  test_fused(8, 768, 17, 17, {{192, 0, 768}, {128, 0, 128}, {128, 0, 128}}, {1, 0});
  test_fused(1, 1280, 8, 8, {{320, 0, 2048}, {384, 0, 384}, {448, 0, 448}}, {1, 0, 4});
  test_fused(3, 24, 5, 7, {{8, 8, 24}, {16, 0, 16}, {8, 16, 32}, {3, 0, 8}}, {1, 2});
  test_refusals();

  for (int b : {1, 8})
    for (const auto& p : inception_v3_pools(b)) test_pool(p);
  test_pool(avg_ps(3, 8, 7, 6, 3, 1, 1, false, 8, 24));
  test_pool(avg_ps(2, 16, 10, 9, 3, 2, 1, true));  // ceil: the last window runs past the padding (clipped divisor)
  test_pool(ps(1, 64, 112, 112, 3, 2, 0, true));    // GoogLeNet maxpool1
  test_pool(ps(8, 192, 56, 56, 3, 2, 0, true));     // maxpool2, batch 8
  test_pool(ps(1, 192, 28, 28, 3, 1, 1, true));     // inception branch4 pool
  test_pool(ps(1, 832, 14, 14, 2, 2, 0, true));     // maxpool4 (2x2)
  test_pool(ps(3, 8, 13, 9, 3, 2, 0, true));        // ceil on odd sizes
  test_pool(ps(2, 8, 12, 10, 3, 2, 1, true, 8, 24));  // padding + ceil + slice
  test_pool(ps(1, 16, 9, 8, 3, 2, 0, false));       // floor mode

  test_avg(1, 1024, 7, 7);
  test_avg(8, 1024, 7, 7);
  test_avg(1, 2048, 8, 8);
  test_avg(8, 2048, 8, 8);
  test_avg(3, 16, 5, 3);
  test_avg(2, 1040, 3, 5);  // 130 channel groups: a partial block of 32

  std::printf("%d of %d checks passed\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
