//! Checks every kernel of the portable path against the float64 CPU reference: GoogLeNet's and
//! Inception-v3's shapes (batch 1 and 8) and odd ones (non-square images and windows, channel counts
//! off multiples of 4/8/16, stride 2 on odd sizes, channel slices), every conv tile and both precisions. Outputs are poisoned (NaN) first; channels outside a
//! kernel's slice must still hold the poison afterwards. Exits 77 when there is no GPU. Host C++ over
//! the kernels library (kernels/launch.hpp): the kernels are compiled once, in convnet_kernels, and
//! tested as the engine calls them.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/launch.hpp"
#include "kernels/layout.hpp"
#include "reference.hpp"
#include "test_util.hpp"

namespace k = convnet::kernels;
namespace launch = convnet::launch;
namespace ref = convnet::reference;

using namespace convnet::test;

namespace {

// splits: 0 = the default rule (k::conv_splits), n = split-K over a cluster of n blocks. A split
// result must also be bit-identical on a second launch (fixed order of summation).
void test_conv(k::conv_shape s, std::vector<int> splits = {0}) {
  if (s.c_total == 0) s.c_total = s.cout;
  if (!selected(conv_name(s))) return;
  const int ho = s.ho(), wo = s.wo();
  const auto in = random_vec(static_cast<std::size_t>(s.batch) * s.cin * s.h * s.w);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k()));
  const auto w = random_vec(static_cast<std::size_t>(s.cout) * s.k(), -scale, scale);
  const auto bias = random_vec(s.cout, -0.5f, 0.5f);
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * ho * wo, 0.0);
  ref::conv(s, in, w, bias, want);

  dev_buf d_in(in), d_w(k::pad_weights_nchw(w, s.cout, s.k(), s.k_pad())), d_b(bias);
  dev_buf d_out(want.size());
  for (auto p : {k::conv_precision::tf32, k::conv_precision::tf32x3})
    for (auto t : {k::conv_tile::m64n64, k::conv_tile::m32n64, k::conv_tile::m64n32, k::conv_tile::m32n32,
                   k::conv_tile::m16n64})
      for (int sp : splits) {
        const int eff = sp == 0 ? k::conv_splits(s, t) : sp;
        d_out.poison();
        CHECK_CUDA(launch::conv_bias_relu(s, t, p, d_in.p, d_w.p, d_b.p, d_out.p, nullptr, sp));
        CHECK_CUDA(cudaDeviceSynchronize());
        const auto got = d_out.get();
        char what[240];
        std::snprintf(what, sizeof what, "conv %s %s %s split%d%s", conv_name(s).c_str(), k::tile_name(t),
                      k::precision_name(p), eff, sp == 0 ? "(auto)" : "");
        compare_slice(what, got, want, s.batch, s.c_total, s.c_off, s.cout, ho * wo,
                      p == k::conv_precision::tf32 ? 2e-3 : 5e-5);  // tf32x3: fp32-level, but the tensor cores accumulate in fp32 without round-to-nearest: 1.8e-5 seen at K=1728
        if (eff > 1)
          expect_same_bits(what, got, [&] {
            CHECK_CUDA(launch::conv_bias_relu(s, t, p, d_in.p, d_w.p, d_b.p, d_out.p, nullptr, sp));
            CHECK_CUDA(cudaDeviceSynchronize());
            return d_out.get();
          });
      }
}

void test_pool(k::pool_shape s) {
  if (s.c_total == 0) s.c_total = s.c;
  if (!selected(pool_name(s))) return;
  const auto in = random_vec(static_cast<std::size_t>(s.batch) * s.c * s.h * s.w);
  std::vector<double> want(static_cast<std::size_t>(s.batch) * s.c_total * s.ho() * s.wo(), 0.0);
  ref::pool(s, in, want);
  dev_buf d_in(in), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(launch::pool(s, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  compare_slice(pool_name(s), d_out.get(), want, s.batch, s.c_total, s.c_off, s.c, s.ho() * s.wo(),
                s.average ? 1e-6 : 1e-7);
}

void test_avg(int batch, int c, int h, int w) {
  const auto in = random_vec(static_cast<std::size_t>(batch) * c * h * w);
  const auto want = ref::avg_pool_1x1(batch, c, h * w, in);
  dev_buf d_in(in), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(launch::avg_pool_1x1(batch, c, h * w, d_in.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  char what[160];
  std::snprintf(what, sizeof what, "avgpool b%d c%d %dx%d", batch, c, h, w);
  compare_slice(what, d_out.get(), want, batch, c, 0, c, 1, 1e-6);
}

void test_linear(int batch, int kk, int n) {
  const auto in = random_vec(static_cast<std::size_t>(batch) * kk);
  const auto w = random_vec(static_cast<std::size_t>(n) * kk, -0.05f, 0.05f);
  const auto bias = random_vec(n);
  const auto want = ref::linear(batch, kk, n, in, w, bias);
  dev_buf d_in(in), d_w(w), d_b(bias), d_out(want.size());
  d_out.poison();
  CHECK_CUDA(launch::linear(batch, kk, n, d_in.p, d_w.p, d_b.p, d_out.p, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  char what[160];
  std::snprintf(what, sizeof what, "linear b%d %d->%d", batch, kk, n);
  compare_slice(what, d_out.get(), want, batch, n, 0, n, 1, 1e-5);
}

} // namespace

int main() {
  devices_or_skip();
  // GoogLeNet's convolutions (batch 1 and 2).
  test_conv(cs(1, 3, 224, 224, 64, 7, 2, 3));           // conv1
  test_conv(cs(1, 64, 56, 56, 64, 1, 1, 0));            // conv2
  test_conv(cs(1, 64, 56, 56, 192, 3, 1, 1));           // conv3
  test_conv(cs(2, 192, 28, 28, 96, 1, 1, 0, 64, 256));  // inception3a.branch2.0 into a slice... (own buffer in the model)
  test_conv(cs(1, 96, 28, 28, 128, 3, 1, 1, 64, 256));  // inception3a.branch2.1 into its slice
  test_conv(cs(1, 480, 14, 14, 192, 1, 1, 0, 0, 512));  // inception4a.branch1
  test_conv(cs(1, 24, 14, 14, 64, 3, 1, 1, 384, 512));  // inception4b.branch3.1
  test_conv(cs(1, 832, 7, 7, 384, 1, 1, 0, 0, 1024));   // inception5b.branch1
  test_conv(cs(2, 192, 7, 7, 384, 3, 1, 1, 384, 1024)); // inception5b.branch2.1
  // Odd shapes: non-square, channels off multiples of 4/8/16, stride 2 on odd sizes, 5x5.
  test_conv(cs(1, 5, 11, 9, 13, 3, 2, 1));
  test_conv(cs(3, 7, 17, 13, 37, 5, 1, 2, 3, 45));
  test_conv(cs(2, 3, 23, 19, 10, 7, 2, 3));
  test_conv(cs(1, 33, 9, 15, 70, 1, 1, 0, 1, 71));
  test_conv(cs(2, 17, 15, 15, 29, 3, 2, 0));
  test_conv(cs(1, 1, 5, 3, 1, 3, 1, 1));
  test_conv(cs(1, 65, 7, 7, 18, 1, 2, 0));
  // Split-K across a cluster: GoogLeNet's 7x7 and 14x14 layers, odd shapes, uneven splits, more
  // splits than K steps (clamped), 8 (the largest portable cluster).
  test_conv(cs(1, 832, 7, 7, 128, 1, 1, 0, 896, 1024), {1, 2, 3, 4});  // inception5b.branch4.1
  test_conv(cs(1, 160, 7, 7, 320, 3, 1, 1, 256, 832), {2, 4});         // inception5a.branch2.1
  test_conv(cs(2, 48, 7, 7, 128, 5, 1, 2, 832, 1024), {3, 8});         // inception5b.branch3.1, batch 2
  test_conv(cs(1, 160, 14, 14, 320, 3, 1, 1, 256, 832), {2, 3});       // inception4e.branch2.1
  test_conv(cs(2, 67, 9, 11, 45, 3, 1, 1, 5, 53), {2, 3, 5, 7});
  test_conv(cs(1, 37, 5, 7, 19, 5, 2, 2), {3, 4, 6});
  test_conv(cs(3, 9, 5, 5, 7, 3, 1, 1, 1, 9), {4, 8});                  // 3 K steps: clamped to 3

  test_pool(ps(1, 64, 112, 112, 3, 2, 0, true));           // maxpool1
  test_pool(ps(2, 192, 56, 56, 3, 2, 0, true));            // maxpool2
  test_pool(ps(1, 192, 28, 28, 3, 1, 1, true));            // inception branch4 pool
  test_pool(ps(1, 832, 14, 14, 2, 2, 0, true));            // maxpool4 (2x2)
  test_pool(ps(3, 5, 13, 9, 3, 2, 0, true));               // ceil on odd sizes
  test_pool(ps(2, 7, 12, 10, 3, 2, 1, true, 2, 11));       // padding + ceil + slice
  test_pool(ps(1, 3, 9, 8, 3, 2, 0, false));               // floor mode
  test_pool(ps(1, 6, 7, 7, 2, 2, 0, true));                // 2x2 ceil on odd

  // Inception-v3 (batch 1 and 8): the stride-2 3x3 convolutions without padding (stem, Mixed_6a,
  // Mixed_7a), the 147x147 and 35x35 layers, the 5x5, the 1x7 / 7x1 and 1x3 / 3x1 pairs into their
  // concat slices; odd rectangular windows (stride 2, channels off multiples of 4, split-K).
  for (int b : {1, 8}) {
    test_conv(cs(b, 3, 299, 299, 32, 3, 2, 0));                           // Conv2d_1a_3x3
    test_conv(cs(b, 32, 147, 147, 64, 3, 1, 1));                          // Conv2d_2b_3x3
    test_conv(cs(b, 80, 73, 73, 192, 3, 1, 0));                           // Conv2d_4a_3x3
    test_conv(cs(b, 48, 35, 35, 64, 5, 1, 2, 64, 256));                   // Mixed_5b.branch5x5_2
    test_conv(cs(b, 288, 35, 35, 384, 3, 2, 0, 0, 768));                  // Mixed_6a.branch3x3
    test_conv(cs_rect(b, 128, 17, 17, 128, 1, 7, 1, 0, 3));               // Mixed_6b.branch7x7_2
    test_conv(cs_rect(b, 128, 17, 17, 192, 7, 1, 1, 3, 0, 192, 768));     // Mixed_6b.branch7x7_3
    test_conv(cs(b, 192, 17, 17, 320, 3, 2, 0, 0, 1280));                 // Mixed_7a.branch3x3_2
    test_conv(cs_rect(b, 384, 8, 8, 384, 1, 3, 1, 0, 1, 320, 2048));      // Mixed_7b.branch3x3_2a
    test_conv(cs_rect(b, 384, 8, 8, 384, 3, 1, 1, 1, 0, 704, 2048));      // Mixed_7b.branch3x3_2b
  }
  test_conv(cs_rect(2, 7, 9, 13, 11, 1, 5, 1, 0, 2, 3, 17));
  test_conv(cs_rect(3, 5, 11, 10, 6, 5, 3, 2, 2, 1));
  test_conv(cs_rect(1, 33, 6, 7, 19, 7, 1, 1, 3, 0), {1, 2, 3});
  test_conv(cs_rect(1, 160, 17, 17, 192, 1, 7, 1, 0, 3, 576, 768), {0, 2, 4});

  for (int b : {1, 8})
    for (const auto& p : inception_v3_pools(b)) test_pool(p);
  test_pool(avg_ps(3, 5, 7, 6, 3, 1, 1, false, 2, 9));
  test_pool(avg_ps(2, 6, 10, 9, 3, 2, 1, true));  // ceil: the last window runs past the padding (clipped divisor)
  test_pool(avg_ps(1, 3, 5, 5, 2, 2, 0, false));

  test_avg(1, 2048, 8, 8);
  test_avg(8, 2048, 8, 8);
  test_linear(1, 2048, 1000);
  test_linear(8, 2048, 1000);

  test_avg(1, 1024, 7, 7);
  test_avg(8, 1024, 7, 7);
  test_avg(3, 13, 5, 3);
  test_avg(2, 9, 11, 10);

  test_linear(1, 1024, 1000);
  test_linear(8, 1024, 1000);
  test_linear(11, 1024, 1000);
  test_linear(3, 20, 37);
  test_linear(5, 1032, 70);  // input staged in slices of 512 features: a partial last slice

  std::printf("%d of %d checks passed\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
