// CPU tests of the Inception-v3 topology (no GPU needed): torchvision's operator and parameter
// counts, every block's output shape, the concatenation slices (each channel written once), the
// rectangular convolutions' windows (the launch rule on every layer: examples/common/test_layout.cpp).

#include <doctest/doctest.h>

#include <string>

#include "model.hpp"

namespace iv3 = inception_v3;

namespace {

const convnet::op_desc& op_named(const convnet::topology& t, const std::string& name) {
  for (const auto& op : t.ops)
    if (op.name == name) return op;
  FAIL("no operator " << name);
  return t.ops.front();
}

} // namespace

TEST_CASE("inception_v3.has_torchvisions_operators_and_parameters") {
  const auto t = iv3::make_inception_v3();
  CHECK(t.convs.size() == 94);  // BasicConv2d modules of inception_v3(aux_logits=False)
  int max_pools = 0, avg_pools = 0;
  for (const auto& op : t.ops) {
    max_pools += op.kind == convnet::op_kind::max_pool;
    avg_pools += op.kind == convnet::op_kind::avg_pool;
  }
  CHECK(max_pools == 4);  // maxpool1, maxpool2, Mixed_6a's and Mixed_7a's pool branches
  CHECK(avg_pools == 9);  // the pool branches of Mixed_5b-5d, 6b-6e, 7b, 7c
  CHECK(t.ops.size() == 94 + 4 + 9 + 2);
  long long params = 0;
  for (const auto& c : t.convs) params += 1LL * c.k() * c.cout + 2LL * c.cout;  // weight, BN gamma and beta
  params += 1LL * t.features() * t.num_classes + t.num_classes;
  CHECK(params == 23834568);  // torchvision's count for aux_logits=False
}

TEST_CASE("inception_v3.block_outputs_have_torchvisions_shapes") {
  const auto t = iv3::make_inception_v3();
  struct expect {
    const char* op;
    int c, hw;
  };
  for (const expect& e : {expect{"Conv2d_1a_3x3", 32, 149}, expect{"Conv2d_2a_3x3", 32, 147}, expect{"Conv2d_2b_3x3", 64, 147},
                          expect{"maxpool1", 64, 73}, expect{"Conv2d_4a_3x3", 192, 71}, expect{"maxpool2", 192, 35},
                          expect{"Mixed_5b.branch1x1", 256, 35}, expect{"Mixed_5c.branch1x1", 288, 35},
                          expect{"Mixed_5d.branch1x1", 288, 35}, expect{"Mixed_6a.branch3x3", 768, 17},
                          expect{"Mixed_6e.branch1x1", 768, 17}, expect{"Mixed_7a.branch3x3_2", 1280, 8},
                          expect{"Mixed_7b.branch1x1", 2048, 8}, expect{"Mixed_7c.branch_pool", 2048, 8}}) {
    CAPTURE(e.op);
    const auto& out = t.tensors[op_named(t, e.op).output];
    CHECK(out.c == e.c);
    CHECK(out.h == e.hw);
    CHECK(out.w == e.hw);
  }
  CHECK(t.tensors[t.input].c == 3);
  CHECK(t.tensors[t.input].h == 299);
  CHECK(t.features() == 2048);
  CHECK(t.tensors[t.output].c == 1000);
}

TEST_CASE("inception_v3.concatenations_write_every_channel_once") {
  const auto t = iv3::make_inception_v3();
  CHECK(t.problems().empty());
  // The E block's split branches: adjacent slices in torchvision's order.
  CHECK(op_named(t, "Mixed_7b.branch3x3_2a").c_off == 320);
  CHECK(op_named(t, "Mixed_7b.branch3x3_2b").c_off == 704);
  CHECK(op_named(t, "Mixed_7b.branch3x3dbl_3a").c_off == 1088);
  CHECK(op_named(t, "Mixed_7b.branch3x3dbl_3b").c_off == 1472);
  CHECK(op_named(t, "Mixed_7b.branch_pool").c_off == 1856);
  CHECK(op_named(t, "Mixed_6a.max_pool").c_off == 480);
  CHECK(op_named(t, "Mixed_7a.max_pool").c_off == 512);
  // Every slice starts on a multiple of 4 channels (the sm_90 path's 16-byte stores).
  for (const auto& op : t.ops) {
    CAPTURE(op.name);
    CHECK(op.c_off % 4 == 0);
  }
}

TEST_CASE("inception_v3.problems_catches_a_broken_concatenation") {
  auto t = iv3::make_inception_v3();
  for (auto& op : t.ops)
    if (op.name == "Mixed_6b.branch7x7_3") op.c_off += 4;  // overlaps branch7x7dbl_5, leaves a gap
  const auto p = t.problems();
  REQUIRE(!p.empty());
  CHECK(p.front().find("channel") != std::string::npos);
}

TEST_CASE("inception_v3.rectangular_windows_keep_the_map_size") {
  const auto t = iv3::make_inception_v3();
  int rect = 0;
  for (const auto& op : t.ops) {
    if (op.kind != convnet::op_kind::conv) continue;
    const auto& c = t.convs[op.conv];
    if (c.kh == c.kw) continue;
    ++rect;
    CAPTURE(op.name);
    const auto s = t.conv_shape_of(op, 1);
    CHECK(s.ho() == s.h);
    CHECK(s.wo() == s.w);
    CHECK(c.pad_h == (c.kh - 1) / 2);
    CHECK(c.pad_w == (c.kw - 1) / 2);
  }
  CHECK(rect == 4 * 6 + 2 + 2 * 4);  // 6 per C block, 2 in D, 4 per E block
}
