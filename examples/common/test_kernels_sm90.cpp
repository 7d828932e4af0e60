//! Checks the sm_90 path (NHWC tensors, wgmma convolutions, kernels/conv_sm90.cuh and pool_nhwc.cuh)
//! against the float64 CPU reference: GoogLeNet's and Inception-v3's shapes (1x7 / 7x1 and 1x3 / 3x1
//! windows, stride 2 without padding, 147x147 to 8x8 maps, average pools) and odd ones (channels off
//! multiples of the tile and of 4, 1-pixel images, batch 1/3/8, stride 2, 5x5 and 7x7, rectangular
//! windows with stride 2), every tile, split-K off and on
//! (a split result must also be bit-identical on a second launch), and the fused 3x3 max pool.
//! Operands are TF32-rounded first, as the engine stores them. Outputs are poisoned (NaN) first and
//! channels outside a kernel's slice must still hold the poison. Exits 77 without a GPU and reports
//! (and exits 77) when the GPU is not compute capability 9.0, where these kernels cannot run.

#include <cstdio>
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
  for (auto t : all_tiles)
    for (int sp : splits) {
      k::sm90_config c{t, sp == 0 ? rule.splits : sp};
      if (sp == 0 && t != rule.tile) continue;  // the rule's own pick, once
      d_out.poison();
      CHECK_CUDA(convnet::launch::conv_bias_relu_nhwc(s, c, fused_pool, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
      CHECK_CUDA(cudaDeviceSynchronize());
      const auto got = d_out.get();
      char what[240];
      std::snprintf(what, sizeof what, "sm90 %sconv %s %s split%d%s", fused_pool ? "pool+" : "", conv_name(s).c_str(),
                    k::tile_name(t), c.splits, sp == 0 ? "(rule)" : "");
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
  // GoogLeNet's convolutions at batch 1, 3 and 8 (into their concat slices).
  test_conv(cs(1, 3, 224, 224, 64, 7, 2, 3));              // conv1 (cin 3: pixels store 4 channels)
  test_conv(cs(1, 64, 56, 56, 64, 1, 1, 0));               // conv2
  test_conv(cs(1, 64, 56, 56, 192, 3, 1, 1));              // conv3
  test_conv(cs(3, 192, 28, 28, 96, 1, 1, 0));              // inception3a.branch2.0
  test_conv(cs(1, 96, 28, 28, 128, 3, 1, 1, 64, 256));     // inception3a.branch2.1 into its slice
  test_conv(cs(8, 16, 28, 28, 32, 3, 1, 1, 192, 256));     // inception3a.branch3.1, batch 8
  test_conv(cs(1, 480, 14, 14, 192, 1, 1, 0, 0, 512));     // inception4a.branch1
  test_conv(cs(1, 24, 14, 14, 64, 3, 1, 1, 384, 512));     // inception4b.branch3.1
  test_conv(cs(1, 832, 7, 7, 384, 1, 1, 0, 0, 1024), {1, 0, 2, 4, 8});    // inception5b.branch1
  test_conv(cs(8, 192, 7, 7, 384, 3, 1, 1, 384, 1024), {1, 0, 3});         // inception5b.branch2.1, batch 8
  test_conv(cs(1, 160, 14, 14, 320, 3, 1, 1, 256, 832), {1, 0, 2, 5});     // inception4e.branch2.1
  // Odd shapes: cin and cout off multiples of 4 and of the tile, non-square, stride 2, 5x5, 7x7.
  test_conv(cs(1, 5, 11, 9, 13, 3, 2, 1));
  test_conv(cs(3, 7, 17, 13, 37, 5, 1, 2, 4, 44), {1, 0, 3});
  test_conv(cs(2, 3, 23, 19, 10, 7, 2, 3));
  test_conv(cs(1, 33, 9, 15, 70, 1, 1, 0, 4, 76), {1, 0, 2});
  test_conv(cs(3, 17, 15, 15, 29, 3, 2, 0));
  test_conv(cs(1, 65, 7, 7, 18, 1, 2, 0));
  test_conv(cs(3, 130, 10, 6, 200, 3, 1, 1, 8, 212), {1, 0, 4, 7});
  // 1-pixel images.
  test_conv(cs(1, 64, 1, 1, 48, 3, 1, 1), {1, 0, 2});
  test_conv(cs(3, 20, 1, 1, 13, 1, 1, 0), {1, 0});
  test_conv(cs(8, 1, 1, 1, 1, 1, 1, 0));
  // Fused 3x3/s1/p1 max pool + 1x1 conv (an inception block's pool projection).
  test_conv(cs(1, 192, 28, 28, 32, 1, 1, 0, 224, 256), {1, 0}, true);     // inception3a.branch4
  test_conv(cs(8, 832, 7, 7, 128, 1, 1, 0, 896, 1024), {1, 0, 4}, true);  // inception5b.branch4, batch 8
  test_conv(cs(3, 20, 5, 7, 13, 1, 1, 0, 4, 20), {1, 0, 2}, true);
  test_conv(cs(1, 8, 1, 1, 9, 1, 1, 0), {1}, true);

  // Inception-v3 (batch 1 and 8): stride-2 3x3 without padding (stem, Mixed_6a, Mixed_7a), the
  // 147x147 and 35x35 layers, the 5x5, the 1x7 / 7x1 and 1x3 / 3x1 pairs into their concat slices;
  // odd rectangular windows (stride 2, channels off multiples of 4, split-K).
  for (int b : {1, 8}) {
    test_conv(cs(b, 3, 299, 299, 32, 3, 2, 0));                                     // Conv2d_1a_3x3
    test_conv(cs(b, 32, 147, 147, 64, 3, 1, 1));                                    // Conv2d_2b_3x3
    test_conv(cs(b, 80, 73, 73, 192, 3, 1, 0));                                     // Conv2d_4a_3x3
    test_conv(cs(b, 48, 35, 35, 64, 5, 1, 2, 64, 256));                             // Mixed_5b.branch5x5_2
    test_conv(cs(b, 288, 35, 35, 384, 3, 2, 0, 0, 768), {1, 0, 2});                 // Mixed_6a.branch3x3
    test_conv(cs_rect(b, 128, 17, 17, 128, 1, 7, 1, 0, 3));                         // Mixed_6b.branch7x7_2
    test_conv(cs_rect(b, 128, 17, 17, 192, 7, 1, 1, 3, 0, 192, 768), {1, 0, 2});    // Mixed_6b.branch7x7_3
    test_conv(cs(b, 192, 17, 17, 320, 3, 2, 0, 0, 1280), {1, 0, 4});                // Mixed_7a.branch3x3_2
    test_conv(cs_rect(b, 384, 8, 8, 384, 1, 3, 1, 0, 1, 320, 2048), {1, 0, 4});     // Mixed_7b.branch3x3_2a
    test_conv(cs_rect(b, 384, 8, 8, 384, 3, 1, 1, 1, 0, 704, 2048), {1, 0, 8});     // Mixed_7b.branch3x3_2b
  }
  test_conv(cs_rect(2, 7, 9, 13, 11, 1, 5, 1, 0, 2, 4, 16));
  test_conv(cs_rect(3, 5, 11, 10, 6, 5, 3, 2, 2, 1), {1, 0, 2});
  test_conv(cs_rect(1, 33, 6, 7, 19, 7, 1, 1, 3, 0), {1, 0, 3});
  test_conv(cs_rect(3, 130, 5, 9, 70, 3, 1, 1, 1, 0, 8, 80), {1, 0, 2, 5});

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
