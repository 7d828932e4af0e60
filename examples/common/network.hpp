#pragma once
//! GoogLeNet as torchvision builds it (transform_input=False, aux_logits=False, 224x224), as a
//! list of fused operators over tensors, plus its weights (seeded, or read from the file written by
//! scripts/export_googlenet_weights.py) and the float64 whole-model reference. Plain C++, no CUDA.
//!
//! Weights file format (little-endian), written by scripts/export_googlenet_weights.py:
//!   char[8]  magic "OPARAGWT"
//!   uint32   version (1)
//!   uint32   tensor count
//!   per tensor: uint32 name length, name bytes (UTF-8, no terminator), uint32 ndim,
//!               int64 dims[ndim], float32 data[prod(dims)] (row-major)
//! Names are torchvision's state_dict names ("conv1.conv.weight", "inception3a.branch2.1.bn.running_var",
//! "fc.weight", ...) plus "<conv>.bn.eps" (one element), "input" [batch,3,224,224] and "output"
//! [batch,1000] (PyTorch's fp32 output for that input, TF32 off).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/shapes.hpp"
#include "reference.hpp"

namespace googlenet {

//! Shape of one activation tensor (per image).
struct tensor_desc {
  int c = 0, h = 0, w = 0;
  [[nodiscard]] std::size_t size() const { return static_cast<std::size_t>(c) * h * w; }
};

enum class op_kind : std::uint8_t { conv, max_pool, avg_pool, linear };

//! One fused operator: conv(+BN folded)+bias+ReLU, max pool, global average pool or the classifier.
struct op_desc {
  std::string name;
  op_kind kind = op_kind::conv;
  int input = -1, output = -1;  //!< tensor indices
  int c_off = 0;                //!< output channel slice start (the concatenation)
  int conv = -1;                //!< index into topology::convs
  int k = 1, stride = 1, pad = 0;
  bool ceil_mode = true;
};

//! A BasicConv2d: conv(bias=False) + BatchNorm(eps=1e-3) + ReLU.
struct conv_spec {
  std::string name;  //!< torchvision module path, e.g. "inception3a.branch2.1"
  int cin = 0, cout = 0, k = 1, stride = 1, pad = 0;
};

//! The whole network: tensors, operators in torchvision's forward order, convolutions.
struct topology {
  std::vector<tensor_desc> tensors;
  std::vector<op_desc> ops;
  std::vector<conv_spec> convs;
  int input = 0, output = 0;
  int num_classes = 1000;

  //! Ops that write tensor t (several for a block output: one per branch).
  [[nodiscard]] std::vector<int> writers(int t) const {
    std::vector<int> r;
    for (int i = 0; i < static_cast<int>(ops.size()); ++i)
      if (ops[i].output == t) r.push_back(i);
    return r;
  }

  [[nodiscard]] kernels::conv_shape conv_shape_of(const op_desc& op, int batch) const {
    const conv_spec& c = convs[op.conv];
    const tensor_desc& in = tensors[op.input];
    kernels::conv_shape s;
    s.batch = batch;
    s.cin = c.cin; s.h = in.h; s.w = in.w;
    s.cout = c.cout; s.kh = s.kw = c.k; s.stride = c.stride; s.pad = c.pad;
    s.c_off = op.c_off; s.c_total = tensors[op.output].c;
    return s;
  }
  [[nodiscard]] kernels::pool_shape pool_shape_of(const op_desc& op, int batch) const {
    const tensor_desc& in = tensors[op.input];
    kernels::pool_shape s;
    s.batch = batch; s.c = in.c; s.h = in.h; s.w = in.w;
    s.k = op.k; s.stride = op.stride; s.pad = op.pad; s.ceil_mode = op.ceil_mode;
    s.c_off = op.c_off; s.c_total = tensors[op.output].c;
    return s;
  }
};

namespace detail {

struct topology_builder {
  topology t;
  int tensor(int c, int h, int w) {
    t.tensors.push_back({c, h, w});
    return static_cast<int>(t.tensors.size()) - 1;
  }
  void conv(const std::string& name, int in, int out, int c_off, int cout, int k, int stride, int pad) {
    t.convs.push_back({name, t.tensors[in].c, cout, k, stride, pad});
    op_desc op;
    op.name = name; op.kind = op_kind::conv; op.input = in; op.output = out; op.c_off = c_off;
    op.conv = static_cast<int>(t.convs.size()) - 1; op.k = k; op.stride = stride; op.pad = pad;
    t.ops.push_back(op);
  }
  // A conv into a fresh tensor of its own.
  int conv_new(const std::string& name, int in, int cout, int k, int stride, int pad) {
    const auto& s = t.tensors[in];
    const int out = tensor(cout, (s.h + 2 * pad - k) / stride + 1, (s.w + 2 * pad - k) / stride + 1);
    conv(name, in, out, 0, cout, k, stride, pad);
    return out;
  }
  void pool(const std::string& name, int in, int out, int c_off, int k, int stride, int pad) {
    op_desc op;
    op.name = name; op.kind = op_kind::max_pool; op.input = in; op.output = out; op.c_off = c_off;
    op.k = k; op.stride = stride; op.pad = pad; op.ceil_mode = true;
    t.ops.push_back(op);
  }
  int pool_new(const std::string& name, int in, int k, int stride, int pad) {
    const auto& s = t.tensors[in];
    const int out = tensor(s.c, kernels::pool_out_size(s.h, k, stride, pad, true),
                           kernels::pool_out_size(s.w, k, stride, pad, true));
    pool(name, in, out, 0, k, stride, pad);
    return out;
  }
  // torchvision's Inception: four branches concatenated in channel order 1, 2, 3, 4.
  int inception(const std::string& n, int in, int ch1, int ch3r, int ch3, int ch5r, int ch5, int pp) {
    const auto& s = t.tensors[in];
    const int out = tensor(ch1 + ch3 + ch5 + pp, s.h, s.w);
    conv(n + ".branch1", in, out, 0, ch1, 1, 1, 0);
    const int r2 = conv_new(n + ".branch2.0", in, ch3r, 1, 1, 0);
    conv(n + ".branch2.1", r2, out, ch1, ch3, 3, 1, 1);
    const int r3 = conv_new(n + ".branch3.0", in, ch5r, 1, 1, 0);
    conv(n + ".branch3.1", r3, out, ch1 + ch3, ch5, 3, 1, 1);  // torchvision uses 3x3 here (known quirk)
    const int p4 = pool_new(n + ".branch4.0", in, 3, 1, 1);
    conv(n + ".branch4.1", p4, out, ch1 + ch3 + ch5, pp, 1, 1, 0);
    return out;
  }
};

} // namespace detail

//! torchvision.models.googlenet(aux_logits=False, transform_input=False) at 224x224.
inline topology make_googlenet() {
  detail::topology_builder b;
  int x = b.tensor(3, 224, 224);
  b.t.input = x;
  x = b.conv_new("conv1", x, 64, 7, 2, 3);
  x = b.pool_new("maxpool1", x, 3, 2, 0);
  x = b.conv_new("conv2", x, 64, 1, 1, 0);
  x = b.conv_new("conv3", x, 192, 3, 1, 1);
  x = b.pool_new("maxpool2", x, 3, 2, 0);
  x = b.inception("inception3a", x, 64, 96, 128, 16, 32, 32);
  x = b.inception("inception3b", x, 128, 128, 192, 32, 96, 64);
  x = b.pool_new("maxpool3", x, 3, 2, 0);
  x = b.inception("inception4a", x, 192, 96, 208, 16, 48, 64);
  x = b.inception("inception4b", x, 160, 112, 224, 24, 64, 64);
  x = b.inception("inception4c", x, 128, 128, 256, 24, 64, 64);
  x = b.inception("inception4d", x, 112, 144, 288, 32, 64, 64);
  x = b.inception("inception4e", x, 256, 160, 320, 32, 128, 128);
  x = b.pool_new("maxpool4", x, 2, 2, 0);
  x = b.inception("inception5a", x, 256, 160, 320, 32, 128, 128);
  x = b.inception("inception5b", x, 384, 192, 384, 48, 128, 128);
  const int pooled = b.tensor(b.t.tensors[x].c, 1, 1);
  {
    op_desc op;
    op.name = "avgpool"; op.kind = op_kind::avg_pool; op.input = x; op.output = pooled;
    b.t.ops.push_back(op);
  }
  const int logits = b.tensor(b.t.num_classes, 1, 1);
  {
    op_desc op;
    op.name = "fc"; op.kind = op_kind::linear; op.input = pooled; op.output = logits;
    b.t.ops.push_back(op);
  }
  b.t.output = logits;
  return b.t;
}

//! One inception block alone (for examples/inception_block): input [cin, hw, hw].
inline topology make_inception_block(const std::string& name = "inception3a", int cin = 192, int hw = 28,
                                     int ch1 = 64, int ch3r = 96, int ch3 = 128, int ch5r = 16, int ch5 = 32,
                                     int pp = 32) {
  detail::topology_builder b;
  const int x = b.tensor(cin, hw, hw);
  b.t.input = x;
  b.t.output = b.inception(name, x, ch1, ch3r, ch3, ch5r, ch5, pp);
  b.t.num_classes = 0;
  return b.t;
}

//! Raw parameters of one BasicConv2d, as torchvision stores them.
struct conv_params {
  std::vector<float> w;  //!< [cout][cin][k][k]
  std::vector<float> gamma, beta, mean, var;
  float eps = 1e-3f;
};

//! All parameters of a topology.
struct weights {
  std::vector<conv_params> convs;  //!< indexed like topology::convs
  std::vector<float> fc_w, fc_b;   //!< [classes][features], [classes]
};

//! Deterministic weights: He-uniform convs and non-trivial batch-norm (gamma, beta, running stats).
inline weights make_random_weights(const topology& t, std::uint64_t seed = 2024) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double lo, double hi) {
    return static_cast<float>(lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53));
  };
  weights w;
  for (const conv_spec& c : t.convs) {
    conv_params p;
    const int fan_in = c.cin * c.k * c.k;
    const double a = std::sqrt(6.0 / fan_in);
    p.w.resize(static_cast<std::size_t>(c.cout) * fan_in);
    for (auto& x : p.w) x = uni(-a, a);
    for (int m = 0; m < c.cout; ++m) {
      p.gamma.push_back(uni(0.5, 1.5));
      p.beta.push_back(uni(-0.2, 0.2));
      p.mean.push_back(uni(-0.2, 0.2));
      p.var.push_back(uni(0.5, 2.0));
    }
    w.convs.push_back(std::move(p));
  }
  if (t.num_classes > 0) {
    const int f = t.tensors[t.tensors.size() - 2].c;
    const double a = 1.0 / std::sqrt(static_cast<double>(f));
    w.fc_w.resize(static_cast<std::size_t>(t.num_classes) * f);
    for (auto& x : w.fc_w) x = uni(-a, a);
    for (int j = 0; j < t.num_classes; ++j) w.fc_b.push_back(uni(-a, a));
  }
  return w;
}

//! A convolution with its batch-norm folded in (computed in double): W' = W * s, b = beta - mean * s,
//! s = gamma / sqrt(var + eps).
template <class T>
struct folded_conv {
  std::vector<T> w;  //!< [cout][cin*k*k]
  std::vector<T> bias;
};

template <class T>
folded_conv<T> fold_batch_norm(const conv_spec& c, const conv_params& p) {
  folded_conv<T> f;
  const std::size_t kk = static_cast<std::size_t>(c.cin) * c.k * c.k;
  f.w.resize(p.w.size());
  for (int m = 0; m < c.cout; ++m) {
    const double s = static_cast<double>(p.gamma[m]) / std::sqrt(static_cast<double>(p.var[m]) + p.eps);
    for (std::size_t i = 0; i < kk; ++i) f.w[m * kk + i] = static_cast<T>(static_cast<double>(p.w[m * kk + i]) * s);
    f.bias.push_back(static_cast<T>(static_cast<double>(p.beta[m]) - static_cast<double>(p.mean[m]) * s));
  }
  return f;
}

//! Whole-model float64 reference: returns the output tensor [batch][...] (logits for GoogLeNet).
inline std::vector<double> run_reference(const topology& t, const weights& w, const std::vector<float>& input,
                                         int batch) {
  std::vector<std::vector<double>> act(t.tensors.size());
  for (std::size_t i = 0; i < t.tensors.size(); ++i) act[i].assign(batch * t.tensors[i].size(), 0.0);
  act[t.input].assign(input.begin(), input.end());
  for (const op_desc& op : t.ops) {
    switch (op.kind) {
      case op_kind::conv: {
        const auto f = fold_batch_norm<double>(t.convs[op.conv], w.convs[op.conv]);
        reference::conv(t.conv_shape_of(op, batch), act[op.input], f.w, f.bias, act[op.output]);
        break;
      }
      case op_kind::max_pool: reference::max_pool(t.pool_shape_of(op, batch), act[op.input], act[op.output]); break;
      case op_kind::avg_pool: {
        const auto& in = t.tensors[op.input];
        act[op.output] = reference::avg_pool_1x1(batch, in.c, in.h * in.w, act[op.input]);
        break;
      }
      case op_kind::linear:
        act[op.output] = reference::linear(batch, t.tensors[op.input].c, t.num_classes, act[op.input], w.fc_w, w.fc_b);
        break;
    }
  }
  return act[t.output];
}

//! A named float32 tensor from a weights file.
struct file_tensor {
  std::vector<std::int64_t> dims;
  std::vector<float> data;
};

//! Thrown for a missing, truncated or mismatched weights file; the message names the file and tensor.
struct weights_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

//! Reads every tensor of a weights file (format above).
inline std::map<std::string, file_tensor> read_tensor_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw weights_error("cannot open weights file '" + path + "'");
  auto need = [&](void* dst, std::size_t n, const std::string& what) {
    f.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(f.gcount()) != n)
      throw weights_error("weights file '" + path + "' is truncated while reading " + what);
  };
  char magic[8];
  need(magic, 8, "the header");
  if (std::memcmp(magic, "OPARAGWT", 8) != 0) throw weights_error("'" + path + "' is not an opara weights file (bad magic)");
  std::uint32_t version = 0, count = 0;
  need(&version, 4, "the header");
  if (version != 1) throw weights_error("weights file '" + path + "' has version " + std::to_string(version) + ", expected 1");
  need(&count, 4, "the header");
  std::map<std::string, file_tensor> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t len = 0;
    need(&len, 4, "tensor #" + std::to_string(i) + "'s name");
    if (len > 4096) throw weights_error("weights file '" + path + "': tensor #" + std::to_string(i) + " has a corrupt name length");
    std::string name(len, '\0');
    need(name.data(), len, "tensor #" + std::to_string(i) + "'s name");
    std::uint32_t ndim = 0;
    need(&ndim, 4, "tensor '" + name + "'");
    if (ndim > 8) throw weights_error("weights file '" + path + "': tensor '" + name + "' has a corrupt rank");
    file_tensor t;
    t.dims.resize(ndim);
    need(t.dims.data(), 8 * ndim, "tensor '" + name + "'");
    std::size_t n = 1;
    for (auto d : t.dims) {
      if (d < 0 || d > (1LL << 32)) throw weights_error("weights file '" + path + "': tensor '" + name + "' has a corrupt shape");
      n *= static_cast<std::size_t>(d);
    }
    t.data.resize(n);
    need(t.data.data(), 4 * n, "tensor '" + name + "' (" + std::to_string(n) + " floats)");
    out.emplace(std::move(name), std::move(t));
  }
  return out;
}

namespace detail {
inline std::string dims_str(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}
inline std::vector<float> take(const std::map<std::string, file_tensor>& m, const std::string& path,
                               const std::string& name, const std::vector<std::int64_t>& dims) {
  const auto it = m.find(name);
  if (it == m.end()) throw weights_error("weights file '" + path + "' has no tensor '" + name + "'");
  if (it->second.dims != dims)
    throw weights_error("weights file '" + path + "': tensor '" + name + "' has shape " + dims_str(it->second.dims) +
                        ", expected " + dims_str(dims));
  return it->second.data;
}
} // namespace detail

//! Weights plus PyTorch's input and output, from scripts/export_googlenet_weights.py.
struct pytorch_export {
  weights w;
  int batch = 0;
  std::vector<float> input;   //!< [batch][3][224][224]
  std::vector<float> output;  //!< [batch][classes]
};

//! Loads a weights file for topology t; throws weights_error naming the problem.
inline pytorch_export load_pytorch_export(const topology& t, const std::string& path) {
  const auto m = read_tensor_file(path);
  pytorch_export e;
  for (const conv_spec& c : t.convs) {
    conv_params p;
    p.w = detail::take(m, path, c.name + ".conv.weight", {c.cout, c.cin, c.k, c.k});
    p.gamma = detail::take(m, path, c.name + ".bn.weight", {c.cout});
    p.beta = detail::take(m, path, c.name + ".bn.bias", {c.cout});
    p.mean = detail::take(m, path, c.name + ".bn.running_mean", {c.cout});
    p.var = detail::take(m, path, c.name + ".bn.running_var", {c.cout});
    p.eps = detail::take(m, path, c.name + ".bn.eps", {1})[0];
    e.w.convs.push_back(std::move(p));
  }
  const int features = t.tensors[t.tensors.size() - 2].c;
  e.w.fc_w = detail::take(m, path, "fc.weight", {t.num_classes, features});
  e.w.fc_b = detail::take(m, path, "fc.bias", {t.num_classes});
  const auto in = m.find("input");
  if (in == m.end() || in->second.dims.size() != 4)
    throw weights_error("weights file '" + path + "' has no 4-d tensor 'input'");
  e.batch = static_cast<int>(in->second.dims[0]);
  const auto& it = t.tensors[t.input];
  e.input = detail::take(m, path, "input", {e.batch, it.c, it.h, it.w});
  e.output = detail::take(m, path, "output", {e.batch, t.num_classes});
  return e;
}

} // namespace googlenet
