//! Checks the sm_90 path (NHWC tensors, wgmma convolutions, kernels/conv_sm90.cuh and pool_nhwc.cuh)
//! against the float64 CPU reference: GoogLeNet's and Inception-v3's shapes (1x7 / 7x1 and 1x3 / 3x1
//! windows, stride 2 without padding, 147x147 to 8x8 maps, average pools) and odd ones (channels off
//! multiples of the tile and of 4, 1-pixel images, batch 1/3/8, stride 2, 5x5 and 7x7, rectangular
//! windows with stride 2), every tile, split-K off and on
//! (a split result must also be bit-identical on a second launch), the fused 3x3 max pool, and
//! horizontal fusion (1x1 convolutions of one input as one GEMM writing several tensors).
//! Operands are TF32-rounded first, as the engine stores them. Outputs are poisoned (NaN) first and
//! channels outside a kernel's slice must still hold the poison. Exits 77 without a GPU and reports
//! (and exits 77) when the GPU is not compute capability 9.0, where these kernels cannot run.

#include <cstdio>
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

std::vector<float> rounded(std::vector<float> v) {
  for (auto& x : v) x = k::round_tf32(x);
  return v;
}

k::pool_shape pool3x3(int batch, int c, int h, int w) {
  k::pool_shape p;
  p.batch = batch; p.c = c; p.h = h; p.w = w; p.k = 3; p.stride = 1; p.pad = 1; p.ceil_mode = true;
  return p;
}

// splits: 0 = the rule's choice (choose_sm90_config), n = split-K over a cluster of n blocks.
void test_conv(k::conv_shape s, std::vector<int> splits = {1, 0}, bool fused_pool = false) {
  if (s.c_total == 0) s.c_total = (s.cout + 3) / 4 * 4;
  if (!selected(conv_name(s))) return;
  const int ho = s.ho(), wo = s.wo(), hw_in = s.h * s.w;
  const auto in = rounded(random_vec(static_cast<std::size_t>(s.batch) * s.cin * hw_in));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k()));
  const auto w = rounded(random_vec(static_cast<std::size_t>(s.cout) * s.k(), -scale, scale));
  const auto bias = random_vec(s.cout, -0.5f, 0.5f);
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * ho * wo, 0.0);
  if (fused_pool) {
    std::vector<double> pooled(in.size());
    ref::pool(pool3x3(s.batch, s.cin, s.h, s.w), in, pooled);
    ref::conv(s, pooled, w, bias, want);
  } else {
    ref::conv(s, in, w, bias, want);
  }

  dev_buf d_in(k::nchw_to_nhwc(in, s.batch, s.cin, hw_in, s.cin4()));
  dev_buf d_w(k::pack_weights_nhwc(s, w.data(), false)), d_b(bias);
  dev_buf d_out(want.size());
  const k::sm90_config rule = k::choose_sm90_config(s);
  for (auto pipe : test_pipelines())
  for (auto t : all_tiles)
    for (int sp : splits) {
      k::sm90_config c{t, sp == 0 ? rule.splits : sp, pipe};
      if (sp == 0 && t != rule.tile) continue;  // the rule's own pick, once
      if (fused_pool && pipe != k::sm90_pipeline::ring) {  // the fused pool runs on the ring only
        expect_refused("sm90 pool+conv " + conv_name(s) + " " + k::pipeline_name(pipe),
                       convnet::launch::conv_bias_relu_nhwc(s, c, fused_pool, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
        continue;
      }
      d_out.poison();
      CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc(s, c, fused_pool, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
      CHECK_CUDA(cudaDeviceSynchronize());
      const auto got = d_out.get();
      char what[240];
      std::snprintf(what, sizeof what, "sm90 %sconv %s %s split%d%s %s", fused_pool ? "pool+" : "", conv_name(s).c_str(),
                    k::tile_name(t), c.splits, sp == 0 ? "(rule)" : "", k::pipeline_name(pipe));
      compare_slice(what, k::nhwc_to_nchw(got, s.batch, s.c_total, ho * wo, s.c_total), want, s.batch, s.c_total,
                    s.c_off, s.cout, ho * wo, 2e-3);
      if (c.splits > 1)
        expect_same_bits(what, got, [&] {
          CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc(s, c, fused_pool, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
          CHECK_CUDA(cudaDeviceSynchronize());
          return d_out.get();
        });
    }
}

// Horizontal fusion (make_fused_case): each output checked against its own float64 convolution, the
// channels around every slice still poisoned.
void test_fused(int batch, int cin, int h, int w, const std::vector<fused_out>& outs, std::vector<int> splits = {1, 0, 2}) {
  const fused_case f = make_fused_case(batch, cin, h, w, outs, k::round_tf32);
  const k::conv_shape& s = f.s;
  const std::string& name = f.name;
  if (!selected(name)) return;
  const int hw = h * w;
  const auto& want = f.want;
  std::vector<std::unique_ptr<dev_buf>> d_out;
  for (const auto& wv : want) d_out.push_back(std::make_unique<dev_buf>(wv.size()));
  dev_buf d_in(k::nchw_to_nhwc(f.in, batch, cin, hw, s.cin4()));
  dev_buf d_w(k::pack_weights_nhwc(s, f.w_all.data(), false)), d_b(f.b_all);
  const k::sm90_config rule = k::choose_sm90_config(s);
  for (auto pipe : test_pipelines())
  for (auto t : all_tiles)
    for (int sp : splits) {
      k::sm90_config c{t, sp == 0 ? rule.splits : sp, pipe};
      if (sp == 0 && t != rule.tile) continue;
      std::vector<k::conv_output<float>> o;
      for (std::size_t i = 0; i < outs.size(); ++i) {
        d_out[i]->poison();
        o.push_back({d_out[i]->p, outs[i].cout, outs[i].c_off, outs[i].c_total});
      }
      CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc(s, c, d_in.p, d_w.p, d_b.p, o.data(), static_cast<int>(o.size()), nullptr));
      CHECK_CUDA(cudaDeviceSynchronize());
      for (std::size_t i = 0; i < outs.size(); ++i) {
        char what[300];
        std::snprintf(what, sizeof what, "sm90 %s %s split%d%s %s: output %zu", name.c_str(), k::tile_name(t), c.splits,
                      sp == 0 ? "(rule)" : "", k::pipeline_name(pipe), i);
        compare_slice(what, k::nhwc_to_nchw(d_out[i]->get(), batch, outs[i].c_total, hw, outs[i].c_total), want[i], batch,
                      outs[i].c_total, outs[i].c_off, outs[i].cout, hw, 2e-3);
      }
    }
  // Misuse is refused, not run: couts that do not add up, a slice start off the 16-byte chunk, too many outputs.
  std::vector<k::conv_output<float>> bad;
  for (std::size_t i = 0; i < outs.size(); ++i) bad.push_back({d_out[i]->p, outs[i].cout, outs[i].c_off, outs[i].c_total});
  bad.back().cout -= 1;
  expect_refused(name + ": couts not summing to the GEMM's", convnet::launch::conv_bias_relu_nhwc(s, rule, d_in.p, d_w.p, d_b.p, bad.data(), static_cast<int>(bad.size()), nullptr));
}

void expect_refused_fusion() {
  dev_buf d(64);
  k::conv_shape s = cs(1, 4, 2, 2, 12, 1, 1, 0);
  const k::conv_output<float> odd[2] = {{d.p, 6, 0, 8}, {d.p, 6, 0, 8}};  // the first slice ends off a chunk
  expect_refused("fused: a slice of 6 channels first", convnet::launch::conv_bias_relu_nhwc(s, {}, d.p, d.p, d.p, odd, 2, nullptr));
  const k::conv_output<float> five[5] = {{d.p, 4, 0, 4}, {d.p, 4, 0, 4}, {d.p, 4, 0, 4}, {d.p, 4, 0, 4}, {d.p, 4, 0, 4}};
  s.cout = 20;
  expect_refused("fused: five outputs", convnet::launch::conv_bias_relu_nhwc(s, {}, d.p, d.p, d.p, five, 5, nullptr));
  const k::conv_output<float> two[2] = {{d.p, 4, 0, 4}, {d.p, 4, 0, 4}};
  expect_refused("fused: a 3x3 window (the fused epilogue is in the 1x1 kernels only)",
                 convnet::launch::conv_bias_relu_nhwc(cs(1, 4, 4, 4, 8, 3, 1, 1), {}, d.p, d.p, d.p, two, 2, nullptr));
}

void test_pool(k::pool_shape s) {
  if (s.c_total == 0) s.c_total = s.c;
  if (!selected(pool_name(s))) return;
  const int hw = s.h * s.w, hwo = s.ho() * s.wo();
  const auto in = random_vec(static_cast<std::size_t>(s.batch) * s.c * hw);
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * hwo, 0.0);
  ref::pool(s, in, want);
  dev_buf d_in(k::nchw_to_nhwc(in, s.batch, s.c, hw, s.c)), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(convnet::launch::pool_nhwc(s, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  compare_slice("nhwc " + pool_name(s), k::nhwc_to_nchw(d_out.get(), s.batch, s.c_total, hwo, s.c_total), want,
                s.batch, s.c_total, s.c_off, s.c, hwo, s.average ? 1e-6 : 1e-7);
}

void test_avg(int batch, int c, int h, int w) {
  const auto in = random_vec(static_cast<std::size_t>(batch) * c * h * w);
  const auto want = ref::avg_pool_1x1(batch, c, h * w, in);
  dev_buf d_in(k::nchw_to_nhwc(in, batch, c, h * w, c)), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(convnet::launch::avg_pool_1x1_nhwc(batch, c, h * w, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  char what[160];
  std::snprintf(what, sizeof what, "nhwc avgpool b%d c%d %dx%d", batch, c, h, w);
  compare_slice(what, d_out.get(), want, batch, c, 0, c, 1, 1e-6);
}

} // namespace

int main() {
  devices_or_skip();
  if (!convnet::launch::sm90_supported(0)) {
    std::puts("GPU is not compute capability 9.0: the sm_90a kernels cannot run here; skipped");
    return 77;
  }
  for (const conv_case& c : sm90_conv_cases()) test_conv(c.s, c.splits, c.fused_pool);
  // Horizontal fusion: GoogLeNet's inception3a and inception5b heads (branch1 into the block's output,
  // the reduces into their own tensors), Inception-v3's Mixed_5b and Mixed_7b heads, odd sizes (a
  // last slice off the chunk, outputs in one tensor, four outputs, split-K).
  test_fused(1, 192, 28, 28, {{64, 0, 256}, {96, 0, 96}, {16, 0, 16}});
  test_fused(8, 832, 7, 7, {{384, 0, 1024}, {192, 0, 192}, {48, 0, 48}}, {1, 0, 2, 4});
  test_fused(8, 192, 35, 35, {{64, 0, 256}, {48, 0, 48}, {64, 0, 64}});
  test_fused(1, 1280, 8, 8, {{320, 0, 2048}, {384, 0, 384}, {448, 0, 448}}, {1, 0, 4});
  test_fused(3, 20, 5, 7, {{8, 4, 20}, {12, 0, 12}, {4, 8, 16}, {5, 0, 8}}, {1, 0, 2});
  test_fused(2, 33, 9, 6, {{16, 0, 40}, {12, 24, 40}}, {1, 3});
  expect_refused_fusion();

  for (int b : {1, 8})
    for (const auto& p : inception_v3_pools(b)) test_pool(p);
  test_pool(avg_ps(3, 8, 7, 6, 3, 1, 1, false, 4, 16));
  test_pool(avg_ps(2, 12, 10, 9, 3, 2, 1, true));  // ceil: the last window runs past the padding (clipped divisor)
  test_avg(1, 2048, 8, 8);
  test_avg(8, 2048, 8, 8);

  test_pool(ps(1, 64, 112, 112, 3, 2, 0, true));   // maxpool1
  test_pool(ps(8, 192, 56, 56, 3, 2, 0, true));    // maxpool2, batch 8
  test_pool(ps(1, 192, 28, 28, 3, 1, 1, true));    // inception branch4 pool (unfused)
  test_pool(ps(1, 832, 14, 14, 2, 2, 0, true));    // maxpool4 (2x2)
  test_pool(ps(3, 4, 13, 9, 3, 2, 0, true));       // ceil on odd sizes
  test_pool(ps(2, 8, 12, 10, 3, 2, 1, true, 4, 16)); // padding + ceil + slice
  test_pool(ps(1, 12, 9, 8, 3, 2, 0, false));      // floor mode
  test_pool(ps(1, 4, 7, 7, 2, 2, 0, true));        // 2x2 ceil on odd

  test_avg(1, 1024, 7, 7);
  test_avg(8, 1024, 7, 7);
  test_avg(3, 12, 5, 3);
  test_avg(2, 1040, 3, 5);  // 260 channel groups: a partial block of 32

  std::printf("%d of %d checks passed\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
