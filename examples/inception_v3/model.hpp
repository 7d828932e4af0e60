#pragma once
//! Inception-v3 as torchvision builds it (torchvision.models.inception_v3(weights=None,
//! aux_logits=False, init_weights=True): 299x299 input, transform_input=False, eval mode), in the
//! vocabulary of examples/common/network.hpp. Every BasicConv2d (conv without bias + BatchNorm with
//! eps 1e-3 + ReLU) is one fused operator (the batch-norm is folded at load time); each block's
//! branches write their channel slices of the block output directly, in torchvision's
//! concatenation order (InceptionE's 1x3 / 3x1 pairs write adjacent slices), so there is no concat
//! operator; dropout is the identity at eval. Plain C++, no CUDA.

#include <string>

#include "network.hpp"

namespace inception_v3 {

using namespace convnet;

namespace detail {

inline constexpr conv_geom pointwise = conv_geom::square(1);
inline constexpr conv_geom k3 = conv_geom::square(3);
inline constexpr conv_geom k3_pad = conv_geom::square(3, 1, 1);
inline constexpr conv_geom k3_s2 = conv_geom::square(3, 2, 0);
inline constexpr conv_geom k5_pad = conv_geom::square(5, 1, 2);
inline constexpr conv_geom k1x7 = conv_geom::rect(1, 7, 0, 3);
inline constexpr conv_geom k7x1 = conv_geom::rect(7, 1, 3, 0);
inline constexpr conv_geom k1x3 = conv_geom::rect(1, 3, 0, 1);
inline constexpr conv_geom k3x1 = conv_geom::rect(3, 1, 1, 0);

// F.avg_pool2d(x, kernel_size=3, stride=1, padding=1) (count_include_pad=True), then the pool
// projection into channels [c_off, c_off + cout) of out.
inline void pool_branch(topology_builder& b, const std::string& n, int in, int out, int c_off, int cout) {
  const int pooled = b.pool_new(n + ".avg_pool", op_kind::avg_pool, in, 3, 1, 1, false);
  b.conv(n + ".branch_pool", pooled, out, c_off, cout, pointwise);
}

//! InceptionA: 1x1 (64) | 1x1 (48) -> 5x5 (64) | 1x1 (64) -> 3x3 (96) -> 3x3 (96) | avg pool -> 1x1.
inline int block_a(topology_builder& b, const std::string& n, int in, int pool_features) {
  const auto& s = b.t.tensors[in];
  const int out = b.tensor(64 + 64 + 96 + pool_features, s.h, s.w);
  b.conv(n + ".branch1x1", in, out, 0, 64, pointwise);
  const int b5 = b.conv_new(n + ".branch5x5_1", in, 48, pointwise);
  b.conv(n + ".branch5x5_2", b5, out, 64, 64, k5_pad);
  int b3 = b.conv_new(n + ".branch3x3dbl_1", in, 64, pointwise);
  b3 = b.conv_new(n + ".branch3x3dbl_2", b3, 96, k3_pad);
  b.conv(n + ".branch3x3dbl_3", b3, out, 128, 96, k3_pad);
  pool_branch(b, n, in, out, 224, pool_features);
  return out;
}

//! InceptionB (grid reduction 35 -> 17): 3x3/s2 (384) | 1x1 (64) -> 3x3 (96) -> 3x3/s2 (96) | max pool 3/s2.
inline int block_b(topology_builder& b, const std::string& n, int in) {
  const auto& s = b.t.tensors[in];
  const int cin = s.c, ho = (s.h - 3) / 2 + 1, wo = (s.w - 3) / 2 + 1;
  const int out = b.tensor(384 + 96 + cin, ho, wo);
  b.conv(n + ".branch3x3", in, out, 0, 384, k3_s2);
  int d = b.conv_new(n + ".branch3x3dbl_1", in, 64, pointwise);
  d = b.conv_new(n + ".branch3x3dbl_2", d, 96, k3_pad);
  b.conv(n + ".branch3x3dbl_3", d, out, 384, 96, k3_s2);
  b.pool(n + ".max_pool", op_kind::max_pool, in, out, 480, 3, 2, 0, false);
  return out;
}

//! InceptionC (17x17): 1x1 (192) | 1x1 (c7) -> 1x7 -> 7x1 (192) | 1x1 (c7) -> 7x1 -> 1x7 -> 7x1 -> 1x7 (192)
//! | avg pool -> 1x1 (192).
inline int block_c(topology_builder& b, const std::string& n, int in, int c7) {
  const auto& s = b.t.tensors[in];
  const int out = b.tensor(768, s.h, s.w);
  b.conv(n + ".branch1x1", in, out, 0, 192, pointwise);
  int x = b.conv_new(n + ".branch7x7_1", in, c7, pointwise);
  x = b.conv_new(n + ".branch7x7_2", x, c7, k1x7);
  b.conv(n + ".branch7x7_3", x, out, 192, 192, k7x1);
  int d = b.conv_new(n + ".branch7x7dbl_1", in, c7, pointwise);
  d = b.conv_new(n + ".branch7x7dbl_2", d, c7, k7x1);
  d = b.conv_new(n + ".branch7x7dbl_3", d, c7, k1x7);
  d = b.conv_new(n + ".branch7x7dbl_4", d, c7, k7x1);
  b.conv(n + ".branch7x7dbl_5", d, out, 384, 192, k1x7);
  pool_branch(b, n, in, out, 576, 192);
  return out;
}

//! InceptionD (grid reduction 17 -> 8): 1x1 (192) -> 3x3/s2 (320) | 1x1 (192) -> 1x7 -> 7x1 -> 3x3/s2 (192)
//! | max pool 3/s2.
inline int block_d(topology_builder& b, const std::string& n, int in) {
  const auto& s = b.t.tensors[in];
  const int cin = s.c, ho = (s.h - 3) / 2 + 1, wo = (s.w - 3) / 2 + 1;
  const int out = b.tensor(320 + 192 + cin, ho, wo);
  const int x = b.conv_new(n + ".branch3x3_1", in, 192, pointwise);
  b.conv(n + ".branch3x3_2", x, out, 0, 320, k3_s2);
  int y = b.conv_new(n + ".branch7x7x3_1", in, 192, pointwise);
  y = b.conv_new(n + ".branch7x7x3_2", y, 192, k1x7);
  y = b.conv_new(n + ".branch7x7x3_3", y, 192, k7x1);
  b.conv(n + ".branch7x7x3_4", y, out, 320, 192, k3_s2);
  b.pool(n + ".max_pool", op_kind::max_pool, in, out, 512, 3, 2, 0, false);
  return out;
}

//! InceptionE (8x8): 1x1 (320) | 1x1 (384) -> [1x3 (384), 3x1 (384)] | 1x1 (448) -> 3x3 (384) ->
//! [1x3 (384), 3x1 (384)] | avg pool -> 1x1 (192). The branches that split write adjacent slices.
inline int block_e(topology_builder& b, const std::string& n, int in) {
  const auto& s = b.t.tensors[in];
  const int out = b.tensor(2048, s.h, s.w);
  b.conv(n + ".branch1x1", in, out, 0, 320, pointwise);
  const int x = b.conv_new(n + ".branch3x3_1", in, 384, pointwise);
  b.conv(n + ".branch3x3_2a", x, out, 320, 384, k1x3);
  b.conv(n + ".branch3x3_2b", x, out, 704, 384, k3x1);
  int d = b.conv_new(n + ".branch3x3dbl_1", in, 448, pointwise);
  d = b.conv_new(n + ".branch3x3dbl_2", d, 384, k3_pad);
  b.conv(n + ".branch3x3dbl_3a", d, out, 1088, 384, k1x3);
  b.conv(n + ".branch3x3dbl_3b", d, out, 1472, 384, k3x1);
  pool_branch(b, n, in, out, 1856, 192);
  return out;
}

} // namespace detail

//! torchvision.models.inception_v3(weights=None, aux_logits=False) at 299x299, eval mode.
inline topology make_inception_v3() {
  using namespace detail;
  topology_builder b;
  int x = b.tensor(3, 299, 299);
  b.t.input = x;
  x = b.conv_new("Conv2d_1a_3x3", x, 32, k3_s2);  // 149x149
  x = b.conv_new("Conv2d_2a_3x3", x, 32, k3);     // 147x147
  x = b.conv_new("Conv2d_2b_3x3", x, 64, k3_pad);
  x = b.pool_new("maxpool1", op_kind::max_pool, x, 3, 2, 0, false);  // 73x73
  x = b.conv_new("Conv2d_3b_1x1", x, 80, pointwise);
  x = b.conv_new("Conv2d_4a_3x3", x, 192, k3);                       // 71x71
  x = b.pool_new("maxpool2", op_kind::max_pool, x, 3, 2, 0, false);  // 35x35
  x = block_a(b, "Mixed_5b", x, 32);
  x = block_a(b, "Mixed_5c", x, 64);
  x = block_a(b, "Mixed_5d", x, 64);
  x = block_b(b, "Mixed_6a", x);  // 17x17
  x = block_c(b, "Mixed_6b", x, 128);
  x = block_c(b, "Mixed_6c", x, 160);
  x = block_c(b, "Mixed_6d", x, 160);
  x = block_c(b, "Mixed_6e", x, 192);
  x = block_d(b, "Mixed_7a", x);  // 8x8
  x = block_e(b, "Mixed_7b", x);
  x = block_e(b, "Mixed_7c", x);
  b.classifier(x);  // avgpool, (dropout: identity at eval), fc 2048 -> 1000
  return b.t;
}

} // namespace inception_v3
