#pragma once
//! GoogLeNet as torchvision builds it (transform_input=False, aux_logits=False, 224x224), in the
//! vocabulary of examples/common/network.hpp, and one inception block alone (examples/inception_block).
//! Plain C++, no CUDA.

#include <string>

#include "network.hpp"

namespace googlenet {

// The engine, kernels, reference and bench helpers are examples/common's (namespace convnet); they
// keep their GoogLeNet-era names here (googlenet::engine, googlenet::kernels, ...).
using namespace convnet;

namespace detail {

//! torchvision's Inception (GoogLeNet's block): four branches concatenated in channel order 1, 2, 3, 4.
inline int inception(topology_builder& b, const std::string& n, int in, int ch1, int ch3r, int ch3, int ch5r, int ch5,
                     int pp) {
  const auto& s = b.t.tensors[in];
  const int out = b.tensor(ch1 + ch3 + ch5 + pp, s.h, s.w);
  const conv_geom pw = conv_geom::square(1), k3 = conv_geom::square(3, 1, 1);
  b.conv(n + ".branch1", in, out, 0, ch1, pw);
  const int r2 = b.conv_new(n + ".branch2.0", in, ch3r, pw);
  b.conv(n + ".branch2.1", r2, out, ch1, ch3, k3);
  const int r3 = b.conv_new(n + ".branch3.0", in, ch5r, pw);
  b.conv(n + ".branch3.1", r3, out, ch1 + ch3, ch5, k3);  // torchvision uses 3x3 here (known quirk)
  const int p4 = b.pool_new(n + ".branch4.0", op_kind::max_pool, in, 3, 1, 1, true);
  b.conv(n + ".branch4.1", p4, out, ch1 + ch3 + ch5, pp, pw);
  return out;
}

} // namespace detail

//! torchvision.models.googlenet(aux_logits=False, transform_input=False) at 224x224.
inline topology make_googlenet() {
  topology_builder b;
  int x = b.tensor(3, 224, 224);
  b.t.input = x;
  x = b.conv_new("conv1", x, 64, conv_geom::square(7, 2, 3));
  x = b.pool_new("maxpool1", op_kind::max_pool, x, 3, 2, 0, true);
  x = b.conv_new("conv2", x, 64, conv_geom::square(1));
  x = b.conv_new("conv3", x, 192, conv_geom::square(3, 1, 1));
  x = b.pool_new("maxpool2", op_kind::max_pool, x, 3, 2, 0, true);
  x = detail::inception(b, "inception3a", x, 64, 96, 128, 16, 32, 32);
  x = detail::inception(b, "inception3b", x, 128, 128, 192, 32, 96, 64);
  x = b.pool_new("maxpool3", op_kind::max_pool, x, 3, 2, 0, true);
  x = detail::inception(b, "inception4a", x, 192, 96, 208, 16, 48, 64);
  x = detail::inception(b, "inception4b", x, 160, 112, 224, 24, 64, 64);
  x = detail::inception(b, "inception4c", x, 128, 128, 256, 24, 64, 64);
  x = detail::inception(b, "inception4d", x, 112, 144, 288, 32, 64, 64);
  x = detail::inception(b, "inception4e", x, 256, 160, 320, 32, 128, 128);
  x = b.pool_new("maxpool4", op_kind::max_pool, x, 2, 2, 0, true);
  x = detail::inception(b, "inception5a", x, 256, 160, 320, 32, 128, 128);
  x = detail::inception(b, "inception5b", x, 384, 192, 384, 48, 128, 128);
  b.classifier(x);
  return b.t;
}

//! One inception block alone (for examples/inception_block): input [cin, hw, hw].
inline topology make_inception_block(const std::string& name = "inception3a", int cin = 192, int hw = 28,
                                     int ch1 = 64, int ch3r = 96, int ch3 = 128, int ch5r = 16, int ch5 = 32,
                                     int pp = 32) {
  topology_builder b;
  const int x = b.tensor(cin, hw, hw);
  b.t.input = x;
  b.t.output = detail::inception(b, name, x, ch1, ch3r, ch3, ch5r, ch5, pp);
  b.t.num_classes = 0;
  return b.t;
}

} // namespace googlenet
