// CPU tests of examples/common's host-side layout code and launch rules (no GPU needed): the
// sm_90 path's NHWC conversions and weight packing compute the same convolution as the float64
// NCHW reference (fp32 and bf16 packing), TF32 rounding is round-to-nearest on 10 mantissa bits and
// BF16 rounding round-to-nearest-even on 7, and the per-layer rules only return launch shapes the
// kernels accept.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/layout.hpp"
#include "kernels/shapes.hpp"
#include "../googlenet/model.hpp"
#include "../inception_v3/model.hpp"
#include "reference.hpp"

namespace k = convnet::kernels;
namespace ref = convnet::reference;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// The implicit GEMM of conv_sm90.cuh, on the CPU: out[p][n] = bias[n] + sum_k A[p][k] * W[n][k] with
// A gathered from an NHWC input whose pixels hold cin4 channels (bf16: cin8) and k = (r, s, ci), W
// packed by pack_weights_nhwc (bf16: pack_weights_nhwc_bf16, widened to float). Returns NCHW (batch,
// cout, ho, wo), before ReLU.
std::vector<double> nhwc_gemm(const k::conv_shape& s, const std::vector<float>& in_nhwc, const std::vector<float>& w,
                              const std::vector<float>& bias, k::conv_precision p = k::conv_precision::tf32) {
  const int ho = s.ho(), wo = s.wo(), c4 = s.cin_nhwc(p);
  std::vector<double> out(static_cast<std::size_t>(s.batch) * s.cout * ho * wo);
  for (int b = 0; b < s.batch; ++b)
    for (int oh = 0; oh < ho; ++oh)
      for (int ow = 0; ow < wo; ++ow)
        for (int n = 0; n < s.cout; ++n) {
          double acc = bias[n];
          for (int kk = 0; kk < s.k_pad_nhwc(p); ++kk) {
            const int rs = kk / c4, ci = kk % c4, r = rs / s.kw, c = rs % s.kw;
            const int ih = oh * s.stride - s.pad_h + r, iw = ow * s.stride - s.pad_w + c;
            if (kk >= s.k_nhwc(p) || ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
            acc += static_cast<double>(in_nhwc[((static_cast<std::size_t>(b) * s.h + ih) * s.w + iw) * c4 + ci]) *
                   w[static_cast<std::size_t>(n) * s.k_pad_nhwc(p) + kk];
          }
          out[((static_cast<std::size_t>(b) * s.cout + n) * ho + oh) * wo + ow] = acc;
        }
  return out;
}

k::conv_shape shape(int batch, int cin, int h, int w, int cout, int ks, int stride, int pad) {
  k::conv_shape s;
  s.batch = batch; s.cin = cin; s.h = h; s.w = w; s.cout = cout; s.kh = s.kw = ks; s.stride = stride;
  s.pad_h = s.pad_w = pad;
  return s;
}

} // namespace

TEST_CASE("layout.nhwc_round_trip_keeps_values_and_zero_pads") {
  const int batch = 2, c = 3, hw = 5 * 7, c_store = 4;
  const auto x = random_values(static_cast<std::size_t>(batch) * c * hw, 1);
  const auto y = k::nchw_to_nhwc(x, batch, c, hw, c_store);
  REQUIRE(y.size() == static_cast<std::size_t>(batch) * hw * c_store);
  for (int b = 0; b < batch; ++b)
    for (int p = 0; p < hw; ++p) CHECK(y[(static_cast<std::size_t>(b) * hw + p) * c_store + 3] == 0.0f);
  CHECK(y[(1 * hw + 4) * c_store + 2] == x[(1 * c + 2) * hw + 4]);
  CHECK(k::nhwc_to_nchw(y, batch, c, hw, c_store) == x);
}

TEST_CASE("layout.packed_nhwc_weights_compute_the_reference_convolution") {
  // Stride 2 with padding, cin off a multiple of 4 (padded channels), K off a multiple of 32.
  for (const k::conv_shape& s : {shape(2, 3, 9, 11, 5, 7, 2, 3), shape(1, 6, 6, 5, 4, 3, 1, 1), shape(1, 8, 4, 4, 3, 1, 1, 0)}) {
    const auto in = random_values(static_cast<std::size_t>(s.batch) * s.cin * s.h * s.w, 2);
    const auto w = random_values(static_cast<std::size_t>(s.cout) * s.k(), 3);
    const auto bias = random_values(s.cout, 4);
    std::vector<double> want(static_cast<std::size_t>(s.batch) * s.cout * s.ho() * s.wo());
    ref::conv(s, in, w, bias, want, /*relu=*/false);
    const auto got = nhwc_gemm(s, k::nchw_to_nhwc(in, s.batch, s.cin, s.h * s.w, s.cin4()),
                               k::pack_weights_nhwc(s, w.data(), false), bias);
    CHECK(ref::rel_error(got, want) < 1e-12);
  }
}

TEST_CASE("layout.packed_rectangular_weights_compute_the_reference_convolution") {
  // Inception-v3's 1x7 / 7x1 and 1x3 / 3x1 windows (padding per dimension), one with stride 2, cin off
  // a multiple of 4: [cout][kh][kw][cin4] packing and the (r, s, ci) order of K must hold for kh != kw.
  auto rect = [](int batch, int cin, int h, int w, int cout, int kh, int kw, int stride, int pad_h, int pad_w) {
    k::conv_shape s = shape(batch, cin, h, w, cout, kh, stride, pad_h);
    s.kw = kw;
    s.pad_w = pad_w;
    return s;
  };
  for (const k::conv_shape& s : {rect(2, 5, 9, 8, 6, 1, 7, 1, 0, 3), rect(1, 6, 8, 7, 5, 7, 1, 1, 3, 0),
                                 rect(1, 8, 6, 6, 4, 1, 3, 1, 0, 1), rect(2, 3, 7, 9, 5, 3, 1, 2, 1, 0)}) {
    CAPTURE(s.kh);
    CAPTURE(s.kw);
    const auto in = random_values(static_cast<std::size_t>(s.batch) * s.cin * s.h * s.w, 6);
    const auto w = random_values(static_cast<std::size_t>(s.cout) * s.k(), 7);
    const auto bias = random_values(s.cout, 8);
    std::vector<double> want(static_cast<std::size_t>(s.batch) * s.cout * s.ho() * s.wo());
    ref::conv(s, in, w, bias, want, /*relu=*/false);
    const auto packed = k::pack_weights_nhwc(s, w.data(), false);
    CHECK(packed.size() == static_cast<std::size_t>(s.cout) * s.k_pad_nhwc());
    const auto got = nhwc_gemm(s, k::nchw_to_nhwc(in, s.batch, s.cin, s.h * s.w, s.cin4()), packed, bias);
    CHECK(ref::rel_error(got, want) < 1e-12);
  }
  // The padded windows keep the map size.
  for (const k::conv_shape& s : {rect(1, 4, 17, 17, 4, 1, 7, 1, 0, 3), rect(1, 4, 17, 17, 4, 7, 1, 1, 3, 0)}) {
    CHECK(s.ho() == 17);
    CHECK(s.wo() == 17);
  }
}

TEST_CASE("layout.packed_bf16_weights_compute_the_reference_convolution") {
  // [cout][kh][kw][cin8] bf16 weights padded to a multiple of 64, inputs of cin8 channels per pixel:
  // cin off a multiple of 8 (padded channels), K off a multiple of 64, a rectangular window.
  k::conv_shape rect = shape(2, 11, 8, 7, 5, 1, 1, 0);
  rect.kw = 3;
  rect.pad_w = 1;
  for (const k::conv_shape& s : {shape(2, 3, 9, 11, 5, 7, 2, 3), shape(1, 6, 6, 5, 4, 3, 1, 1), shape(1, 16, 4, 4, 3, 1, 1, 0),
                                 shape(1, 9, 5, 5, 7, 5, 1, 2), rect}) {
    CAPTURE(s.cin);
    auto in = random_values(static_cast<std::size_t>(s.batch) * s.cin * s.h * s.w, 9);
    auto w = random_values(static_cast<std::size_t>(s.cout) * s.k(), 10);
    for (auto& x : in) x = k::round_bf16(x);  // the operands as the engine stores them
    for (auto& x : w) x = k::round_bf16(x);
    const auto bias = random_values(s.cout, 11);
    std::vector<double> want(static_cast<std::size_t>(s.batch) * s.cout * s.ho() * s.wo());
    ref::conv(s, in, w, bias, want, /*relu=*/false);
    const auto packed = k::pack_weights_nhwc_bf16(s, w.data());
    REQUIRE(packed.size() == static_cast<std::size_t>(s.cout) * s.k_pad_nhwc(k::conv_precision::bf16));
    CHECK(s.k_pad_nhwc(k::conv_precision::bf16) % 64 == 0);
    std::vector<float> wide(packed.size());
    for (std::size_t i = 0; i < packed.size(); ++i) wide[i] = k::from_bf16(packed[i]);
    const auto got = nhwc_gemm(s, k::nchw_to_nhwc(in, s.batch, s.cin, s.h * s.w, s.cin_nhwc(k::conv_precision::bf16)),
                               wide, bias, k::conv_precision::bf16);
    CHECK(ref::rel_error(got, want) < 1e-12);
  }
}

TEST_CASE("layout.k_of_the_stem_pads_three_channels_to_eight_in_bf16") {
  const auto s = shape(1, 3, 224, 224, 64, 7, 2, 3);
  CHECK(s.cin_nhwc(k::conv_precision::bf16) == 8);
  CHECK(s.k_nhwc(k::conv_precision::bf16) == 392);
  CHECK(s.k_pad_nhwc(k::conv_precision::bf16) == 448);
  CHECK(s.cin_nhwc() == s.cin4());
  CHECK(s.k_pad_nhwc(k::conv_precision::tf32) == s.k_pad_nhwc());
  CHECK(std::string(k::precision_name(k::conv_precision::bf16)) == "bf16");
}

TEST_CASE("layout.round_bf16_is_nearest_even_on_seven_mantissa_bits") {
  const auto v = random_values(10000, 12);
  for (float x : v) {
    const float r = k::round_bf16(x);
    std::uint32_t u;
    std::memcpy(&u, &r, 4);
    CHECK((u & 0xffffu) == 0u);                                // 16 low bits cleared
    CHECK(std::fabs(r - x) <= std::ldexp(std::fabs(x), -8));   // within half a bf16 unit (2^-8 relative)
  }
  CHECK(k::round_bf16(1.0f) == 1.0f);
  CHECK(k::round_bf16(1.0f + std::ldexp(1.0f, -8)) == 1.0f);                                // a tie goes to even (down)
  CHECK(k::round_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 1.0f + std::ldexp(1.0f, -6));     // a tie goes to even (up)
  CHECK(k::round_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 1.0f + std::ldexp(1.0f, -7));
  CHECK(k::round_bf16(-2.5f) == -2.5f);
  CHECK(k::to_bf16(1.0f).bits == 0x3f80);
  CHECK(k::to_bf16(-0.0f).bits == 0x8000);
  CHECK(std::isinf(k::round_bf16(INFINITY)));
  CHECK(std::isinf(k::round_bf16(3.4e38f)));  // past the largest bf16 (about 3.39e38)
  CHECK(std::isnan(k::round_bf16(NAN)));
}

TEST_CASE("layout.k_of_the_stem_pads_three_channels_to_four") {
  const auto s = shape(1, 3, 224, 224, 64, 7, 2, 3);
  CHECK(s.cin4() == 4);
  CHECK(s.k_nhwc() == 196);
  CHECK(s.k_pad_nhwc() == 224);
}

TEST_CASE("layout.round_tf32_is_nearest_on_ten_mantissa_bits") {
  const auto v = random_values(10000, 5);
  for (float x : v) {
    const float r = k::round_tf32(x);
    std::uint32_t u;
    std::memcpy(&u, &r, 4);
    CHECK((u & 0x1fffu) == 0u);                                 // 13 low bits cleared
    CHECK(std::fabs(r - x) <= std::ldexp(std::fabs(x), -11));  // within half a TF32 unit
  }
  CHECK(k::round_tf32(1.0f) == 1.0f);
  CHECK(k::round_tf32(1.0f + std::ldexp(1.0f, -11)) == 1.0f + std::ldexp(1.0f, -10));  // a tie goes away from zero
  CHECK(std::isinf(k::round_tf32(INFINITY)));
  CHECK(std::isnan(k::round_tf32(NAN)));
}

TEST_CASE("network.models_write_every_channel_once") {
  CHECK(googlenet::make_googlenet().problems().empty());
  CHECK(googlenet::make_inception_block().problems().empty());
  CHECK(inception_v3::make_inception_v3().problems().empty());
  auto t = googlenet::make_googlenet();
  t.ops[3].c_off = 8;  // conv3 writes past its 192-channel tensor
  const auto p = t.problems();
  REQUIRE(!p.empty());
  CHECK(p.front().find("conv3") != std::string::npos);
}

TEST_CASE("rules.sm90_config_is_a_launch_the_kernel_accepts") {
  for (const auto& net : {googlenet::make_googlenet(), inception_v3::make_inception_v3()})
    for (int batch : {1, 3, 8})
      for (long long slots : {32LL, 96LL, 264LL})
        for (const auto& op : net.ops) {
          if (op.kind != convnet::op_kind::conv) continue;
          const auto s = net.conv_shape_of(op, batch);
          const auto c = k::choose_sm90_config(s, slots);
          CAPTURE(op.name);
          CHECK((c.splits == 1 || c.splits == 2 || c.splits == 4 || c.splits == 8));
          if (c.splits > 1) CHECK(s.k_pad_nhwc() / 32 / c.splits >= 3);
          if (c.tile == k::sm90_tile::m64n16) CHECK(s.cout <= 16);
          CHECK(k::sm90_blocks(s, c.tile) >= 1);
          CHECK(s.c_off % 4 == 0);  // the sm_90 epilogue's 16-byte stores
        }
}

TEST_CASE("rules.sm90_bf16_config_is_a_launch_the_kernel_accepts") {
  // BF16: K steps of 64, every split keeps at least 3 of them, and every slice and tensor the engine
  // writes holds a multiple of 8 channels (the bf16 kernels' 16-byte chunks; the engine checks it too).
  const auto p = k::conv_precision::bf16;
  for (const auto& net : {googlenet::make_googlenet(), inception_v3::make_inception_v3()})
    for (int batch : {1, 3, 8})
      for (long long slots : {32LL, 96LL, 264LL})
        for (const auto& op : net.ops) {
          CAPTURE(op.name);
          if (op.kind == convnet::op_kind::conv || op.kind == convnet::op_kind::max_pool ||
              op.kind == convnet::op_kind::avg_pool) {
            CHECK(op.c_off % 8 == 0);
            CHECK(net.tensors[op.output].c % 8 == 0);
          }
          if (op.kind != convnet::op_kind::conv) continue;
          const auto s = net.conv_shape_of(op, batch);
          const auto c = k::choose_sm90_config(s, slots, p);
          CHECK((c.splits == 1 || c.splits == 2 || c.splits == 4 || c.splits == 8));
          if (c.splits > 1) CHECK(s.k_pad_nhwc(p) / 64 / c.splits >= 3);
          if (c.tile == k::sm90_tile::m64n16) CHECK(s.cout <= 16);
        }
}

TEST_CASE("rules.sm90_config_follows_the_measured_picks") {
  // Picks measured fastest (or within 2%) by conv_sweep on an H200 (RESULTS.md).
  const auto conv3_b8 = k::choose_sm90_config(shape(8, 64, 56, 56, 192, 3, 1, 1));
  CHECK(conv3_b8.tile == k::sm90_tile::m128n192);
  CHECK(conv3_b8.splits == 1);
  const auto conv1_b8 = k::choose_sm90_config(shape(8, 3, 224, 224, 64, 7, 2, 3));
  CHECK(conv1_b8.tile == k::sm90_tile::m128n64);
  CHECK(conv1_b8.splits == 1);
  const auto late_1x1_b1 = k::choose_sm90_config(shape(1, 832, 7, 7, 384, 1, 1, 0));
  CHECK(late_1x1_b1.tile == k::sm90_tile::m64n32);
  CHECK(late_1x1_b1.splits == 4);
  // Fewer slots (other branches share the GPU): never more blocks in flight than with all of them.
  for (const auto& s : {shape(8, 480, 14, 14, 192, 1, 1, 0), shape(1, 160, 14, 14, 320, 3, 1, 1)}) {
    const auto wide = k::choose_sm90_config(s, 264), narrow = k::choose_sm90_config(s, 32);
    CHECK(k::sm90_blocks(s, narrow.tile) * narrow.splits <= k::sm90_blocks(s, wide.tile) * wide.splits);
  }
}
