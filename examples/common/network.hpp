#pragma once
//! A convolutional network as a list of fused operators over tensors (the graph both examples'
//! engine runs: examples/googlenet builds GoogLeNet with it, examples/inception_v3 Inception-v3),
//! its weights (seeded, or read from a file exported from torchvision) and the float64 whole-model
//! reference. Plain C++, no CUDA.
//!
//! Weights file format (little-endian), written by scripts/export_torchvision_weights.py:
//!   char[8]  magic "OPARAGWT"
//!   uint32   version (1)
//!   uint32   tensor count
//!   per tensor: uint32 name length, name bytes (UTF-8, no terminator), uint32 ndim,
//!               int64 dims[ndim], float32 data[prod(dims)] (row-major)
//! Names are torchvision's state_dict names ("conv1.conv.weight", "Mixed_6b.branch7x7_2.bn.running_var",
//! "fc.weight", ...) plus "<conv>.bn.eps" (one element), "input" [batch,3,H,W] and "output"
//! [batch,classes] (PyTorch's fp32 output for that input, TF32 off).

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

namespace convnet {

//! Shape of one activation tensor (per image).
struct tensor_desc {
  int c = 0, h = 0, w = 0;
  [[nodiscard]] std::size_t size() const { return static_cast<std::size_t>(c) * h * w; }
};

//! avg_pool: a k x k window averaged with the padding counted (PyTorch's count_include_pad=True);
//! global_avg_pool: adaptive average pooling to 1x1.
enum class op_kind : std::uint8_t { conv, max_pool, avg_pool, global_avg_pool, linear };

//! One fused operator: conv(+BN folded)+bias+ReLU, a pool, global average pool or the classifier.
struct op_desc {
  std::string name;
  op_kind kind = op_kind::conv;
  int input = -1, output = -1;  //!< tensor indices
  int c_off = 0;                //!< output channel slice start (the concatenation)
  int conv = -1;                //!< index into topology::convs
  int k = 1, stride = 1, pad = 0;  //!< pools: square window
  bool ceil_mode = false;          //!< pools
};

//! A BasicConv2d: conv(bias=False) + BatchNorm(eps=1e-3) + ReLU; kh x kw window, one stride,
//! padding per dimension (Inception-v3's 1x7 / 7x1 and 1x3 / 3x1 convolutions).
struct conv_spec {
  std::string name;  //!< torchvision module path, e.g. "inception3a.branch2.1"
  int cin = 0, cout = 0, kh = 1, kw = 1, stride = 1, pad_h = 0, pad_w = 0;
  [[nodiscard]] int k() const { return cin * kh * kw; }
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
    s.cout = c.cout; s.kh = c.kh; s.kw = c.kw; s.stride = c.stride; s.pad_h = c.pad_h; s.pad_w = c.pad_w;
    s.c_off = op.c_off; s.c_total = tensors[op.output].c;
    return s;
  }
  [[nodiscard]] kernels::pool_shape pool_shape_of(const op_desc& op, int batch) const {
    const tensor_desc& in = tensors[op.input];
    kernels::pool_shape s;
    s.batch = batch; s.c = in.c; s.h = in.h; s.w = in.w;
    s.k = op.k; s.stride = op.stride; s.pad = op.pad; s.ceil_mode = op.ceil_mode;
    s.average = op.kind == op_kind::avg_pool;
    s.c_off = op.c_off; s.c_total = tensors[op.output].c;
    return s;
  }
  //! What is wrong with the bookkeeping, one sentence per problem naming the operator or tensor (empty:
  //! none): an operator whose output size does not follow from its input and window, a channel
  //! slice outside its tensor, or a tensor (other than the input) whose channels are not written
  //! exactly once by its writers' slices (a concatenation with a gap or an overlap).
  [[nodiscard]] std::vector<std::string> problems() const {
    std::vector<std::string> r;
    std::vector<std::vector<int>> written(tensors.size());
    for (std::size_t t = 0; t < tensors.size(); ++t) written[t].assign(tensors[t].c, 0);
    for (const op_desc& op : ops) {
      const tensor_desc& in = tensors[op.input];
      const tensor_desc& out = tensors[op.output];
      int c = 0, h = 1, w = 1;
      switch (op.kind) {
        case op_kind::conv: {
          const auto s = conv_shape_of(op, 1);
          if (convs[op.conv].cin != in.c)
            r.push_back("operator '" + op.name + "' reads " + std::to_string(in.c) + " channels, its conv expects " +
                        std::to_string(convs[op.conv].cin));
          c = s.cout; h = s.ho(); w = s.wo();
          break;
        }
        case op_kind::max_pool:
        case op_kind::avg_pool: {
          const auto s = pool_shape_of(op, 1);
          c = s.c; h = s.ho(); w = s.wo();
          break;
        }
        case op_kind::global_avg_pool: c = in.c; break;
        case op_kind::linear: c = num_classes; break;
      }
      if (h != out.h || w != out.w)
        r.push_back("operator '" + op.name + "' makes " + std::to_string(h) + "x" + std::to_string(w) +
                    " pixels, its output tensor has " + std::to_string(out.h) + "x" + std::to_string(out.w));
      if (op.c_off < 0 || op.c_off + c > out.c) {
        r.push_back("operator '" + op.name + "' writes channels [" + std::to_string(op.c_off) + ", " +
                    std::to_string(op.c_off + c) + ") of a " + std::to_string(out.c) + "-channel tensor");
        continue;
      }
      for (int ch = op.c_off; ch < op.c_off + c; ++ch) ++written[op.output][ch];
    }
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      if (static_cast<int>(t) == input) continue;
      for (int ch = 0; ch < tensors[t].c; ++ch)
        if (written[t][ch] != 1) {
          r.push_back("tensor " + std::to_string(t) + " channel " + std::to_string(ch) + " is written " +
                      std::to_string(written[t][ch]) + " times");
          break;
        }
    }
    return r;
  }
  //! Features the classifier reads (the global average pool's channels).
  [[nodiscard]] int features() const {
    for (const op_desc& op : ops)
      if (op.kind == op_kind::linear) return tensors[op.input].c;
    return 0;
  }
};

//! A convolution's window: kh x kw, stride, padding per dimension.
struct conv_geom {
  int kh = 1, kw = 1, stride = 1, pad_h = 0, pad_w = 0;
  //! k x k, one stride and padding.
  static constexpr conv_geom square(int k, int stride = 1, int pad = 0) { return {k, k, stride, pad, pad}; }
  //! kh x kw, stride 1.
  static constexpr conv_geom rect(int kh, int kw, int pad_h, int pad_w) { return {kh, kw, 1, pad_h, pad_w}; }
};

//! Appends tensors and operators to a topology in program order (the model files' vocabulary).
struct topology_builder {
  topology t;
  int tensor(int c, int h, int w) {
    t.tensors.push_back({c, h, w});
    return static_cast<int>(t.tensors.size()) - 1;
  }
  //! A BasicConv2d writing channels [c_off, c_off + cout) of tensor out.
  void conv(const std::string& name, int in, int out, int c_off, int cout, conv_geom g) {
    t.convs.push_back({name, t.tensors[in].c, cout, g.kh, g.kw, g.stride, g.pad_h, g.pad_w});
    op_desc op;
    op.name = name; op.kind = op_kind::conv; op.input = in; op.output = out; op.c_off = c_off;
    op.conv = static_cast<int>(t.convs.size()) - 1;
    t.ops.push_back(op);
  }
  //! A BasicConv2d into a fresh tensor of its own.
  int conv_new(const std::string& name, int in, int cout, conv_geom g) {
    const auto& s = t.tensors[in];
    const int out = tensor(cout, (s.h + 2 * g.pad_h - g.kh) / g.stride + 1, (s.w + 2 * g.pad_w - g.kw) / g.stride + 1);
    conv(name, in, out, 0, cout, g);
    return out;
  }
  //! A max or average pool (kind) writing channels [c_off, c_off + c) of tensor out.
  void pool(const std::string& name, op_kind kind, int in, int out, int c_off, int k, int stride, int pad,
            bool ceil_mode) {
    op_desc op;
    op.name = name; op.kind = kind; op.input = in; op.output = out; op.c_off = c_off;
    op.k = k; op.stride = stride; op.pad = pad; op.ceil_mode = ceil_mode;
    t.ops.push_back(op);
  }
  int pool_new(const std::string& name, op_kind kind, int in, int k, int stride, int pad, bool ceil_mode) {
    const auto& s = t.tensors[in];
    const int out = tensor(s.c, kernels::pool_out_size(s.h, k, stride, pad, ceil_mode),
                           kernels::pool_out_size(s.w, k, stride, pad, ceil_mode));
    pool(name, kind, in, out, 0, k, stride, pad, ceil_mode);
    return out;
  }
  //! Global average pool + fully connected layer ("avgpool", "fc"); the logits become the output.
  void classifier(int x) {
    const int pooled = tensor(t.tensors[x].c, 1, 1);
    op_desc pool;
    pool.name = "avgpool"; pool.kind = op_kind::global_avg_pool; pool.input = x; pool.output = pooled;
    t.ops.push_back(pool);
    const int logits = tensor(t.num_classes, 1, 1);
    op_desc fc;
    fc.name = "fc"; fc.kind = op_kind::linear; fc.input = pooled; fc.output = logits;
    t.ops.push_back(fc);
    t.output = logits;
  }
};

//! Raw parameters of one BasicConv2d, as torchvision stores them.
struct conv_params {
  std::vector<float> w;  //!< [cout][cin][kh][kw]
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
    const int fan_in = c.k();
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
    const int f = t.features();
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
  std::vector<T> w;  //!< [cout][cin*kh*kw]
  std::vector<T> bias;
};

template <class T>
folded_conv<T> fold_batch_norm(const conv_spec& c, const conv_params& p) {
  folded_conv<T> f;
  const std::size_t kk = static_cast<std::size_t>(c.k());
  f.w.resize(p.w.size());
  for (int m = 0; m < c.cout; ++m) {
    const double s = static_cast<double>(p.gamma[m]) / std::sqrt(static_cast<double>(p.var[m]) + p.eps);
    for (std::size_t i = 0; i < kk; ++i) f.w[m * kk + i] = static_cast<T>(static_cast<double>(p.w[m * kk + i]) * s);
    f.bias.push_back(static_cast<T>(static_cast<double>(p.beta[m]) - static_cast<double>(p.mean[m]) * s));
  }
  return f;
}

//! Whole-model float64 reference: returns the output tensor [batch][...] (the logits).
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
      case op_kind::max_pool:
      case op_kind::avg_pool: reference::pool(t.pool_shape_of(op, batch), act[op.input], act[op.output]); break;
      case op_kind::global_avg_pool: {
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

//! Weights plus PyTorch's input and output, from scripts/export_torchvision_weights.py.
struct pytorch_export {
  weights w;
  int batch = 0;
  std::vector<float> input;   //!< [batch][3][H][W]
  std::vector<float> output;  //!< [batch][classes]
};

//! Loads a weights file for topology t; throws weights_error naming the problem.
inline pytorch_export load_pytorch_export(const topology& t, const std::string& path) {
  const auto m = read_tensor_file(path);
  pytorch_export e;
  for (const conv_spec& c : t.convs) {
    conv_params p;
    p.w = detail::take(m, path, c.name + ".conv.weight", {c.cout, c.cin, c.kh, c.kw});
    p.gamma = detail::take(m, path, c.name + ".bn.weight", {c.cout});
    p.beta = detail::take(m, path, c.name + ".bn.bias", {c.cout});
    p.mean = detail::take(m, path, c.name + ".bn.running_mean", {c.cout});
    p.var = detail::take(m, path, c.name + ".bn.running_var", {c.cout});
    p.eps = detail::take(m, path, c.name + ".bn.eps", {1})[0];
    e.w.convs.push_back(std::move(p));
  }
  const int features = t.features();
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

} // namespace convnet
