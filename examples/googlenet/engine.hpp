#pragma once
//! A small inference engine for GoogLeNet-style networks, written the way a user's engine would be
//! (its own operator list, its own names for producers and consumers), and adapted to opara from
//! the outside: graph_traits<googlenet::engine> gives opara the structure, launch_traits the kernels.
//!
//! Why an own engine rather than opara::cuda::task_graph: it shows that opara plans a graph type it
//! has never seen without changing it (Boost.Graph's habit), and launching needs no std::function
//! per operator. One operator = one fused kernel; every activation has its own buffer, so the only
//! dependencies are read-after-write ones and concurrent branches never alias.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include <opara/graph/traits.hpp>
#include <opara/profile/profile.hpp>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/launch.hpp"
#include "model.hpp"

namespace googlenet {

//! Thrown when a CUDA call of the engine fails; names the call or operator.
struct engine_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void engine_check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throw engine_error(what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

//! Engine options.
struct engine_options {
  kernels::conv_precision precision = kernels::conv_precision::tf32;
  long long min_conv_blocks = 96;  //!< per-layer tile: the largest that still gives this many blocks
};

//! A network loaded on the GPU for a fixed batch size: folded weights, one buffer per activation.
class engine {
public:
  engine(topology t, const weights& w, int batch, engine_options o = {})
      : net_(std::move(t)), batch_(batch), opt_(o) {
    if (batch <= 0) throw std::invalid_argument("googlenet::engine: batch must be positive");
    build_edges();
    // Activations: one region, 256-byte aligned slices.
    std::size_t total = 0;
    for (const tensor_desc& td : net_.tensors) {
      act_off_.push_back(total);
      total += (td.size() * batch_ + 63) / 64 * 64;
    }
    engine_check(cudaMalloc(reinterpret_cast<void**>(&act_), total * sizeof(float)), "cudaMalloc(activations)");
    act_floats_ = total;
    // Parameters: per conv the folded weights padded to k_pad, then the bias; then fc.
    std::vector<float> host;
    auto align = [&] { host.resize((host.size() + 63) / 64 * 64, 0.0f); };
    for (std::size_t c = 0; c < net_.convs.size(); ++c) {
      const conv_spec& cs = net_.convs[c];
      const auto f = fold_batch_norm<float>(cs, w.convs[c]);
      const int kk = cs.cin * cs.k * cs.k, kp = (kk + 31) / 32 * 32;
      align();
      w_off_.push_back(host.size());
      for (int m = 0; m < cs.cout; ++m) {
        host.insert(host.end(), f.w.begin() + static_cast<std::ptrdiff_t>(m) * kk,
                    f.w.begin() + static_cast<std::ptrdiff_t>(m + 1) * kk);
        host.resize(host.size() + (kp - kk), 0.0f);
      }
      align();
      b_off_.push_back(host.size());
      host.insert(host.end(), f.bias.begin(), f.bias.end());
    }
    if (net_.num_classes > 0) {
      align();
      fc_w_off_ = host.size();
      host.insert(host.end(), w.fc_w.begin(), w.fc_w.end());
      align();
      fc_b_off_ = host.size();
      host.insert(host.end(), w.fc_b.begin(), w.fc_b.end());
    }
    engine_check(cudaMalloc(reinterpret_cast<void**>(&params_), host.size() * sizeof(float)), "cudaMalloc(parameters)");
    engine_check(cudaMemcpy(params_, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
                 "cudaMemcpy(parameters)");
    for (const op_desc& op : net_.ops)
      tiles_.push_back(op.kind == op_kind::conv
                           ? kernels::choose_conv_tile(net_.conv_shape_of(op, batch_), opt_.min_conv_blocks)
                           : kernels::conv_tile::m64n64);
  }
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  ~engine() {
    cudaFree(act_);
    cudaFree(params_);
  }

  [[nodiscard]] const topology& net() const noexcept { return net_; }
  [[nodiscard]] int batch() const noexcept { return batch_; }
  [[nodiscard]] std::size_t op_count() const noexcept { return net_.ops.size(); }
  //! Operators that read what `op` writes / that write what `op` reads.
  [[nodiscard]] std::span<const int> consumers(int op) const { return consumers_[op]; }
  [[nodiscard]] std::span<const int> producers(int op) const { return producers_[op]; }
  [[nodiscard]] const std::string& op_name(int op) const { return net_.ops[op].name; }
  [[nodiscard]] kernels::conv_tile tile(int op) const { return tiles_[op]; }
  [[nodiscard]] long long blocks(int op) const {
    const op_desc& d = net_.ops[op];
    return d.kind == op_kind::conv ? kernels::conv_blocks(net_.conv_shape_of(d, batch_), tiles_[op]) : 0;
  }
  //! Memory-bound (pools, classifier) or compute-bound (convolutions): Opara's two ready queues.
  [[nodiscard]] opara::boundness bound_of(int op) const {
    return net_.ops[op].kind == op_kind::conv ? opara::boundness::compute : opara::boundness::memory;
  }

  float* tensor(int t) const noexcept { return act_ + act_off_[t]; }
  [[nodiscard]] std::size_t tensor_floats(int t) const { return net_.tensors[t].size() * batch_; }
  [[nodiscard]] float* input() const noexcept { return tensor(net_.input); }
  [[nodiscard]] const float* output() const noexcept { return tensor(net_.output); }

  void upload_input(const std::vector<float>& x) const {
    if (x.size() != tensor_floats(net_.input)) throw std::invalid_argument("googlenet::engine: input has the wrong size");
    engine_check(cudaMemcpy(input(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), "upload input");
  }
  [[nodiscard]] std::vector<float> download(int t) const {
    std::vector<float> h(tensor_floats(t));
    engine_check(cudaMemcpy(h.data(), tensor(t), h.size() * sizeof(float), cudaMemcpyDeviceToHost), "download");
    return h;
  }
  //! Fills every activation with NaN (0xff bytes), so that an unwritten element cannot pass a check.
  void poison() const { engine_check(cudaMemset(act_, 0xff, act_floats_ * sizeof(float)), "poison"); }

  //! Enqueues operator `op`'s one kernel on `s`. Throws engine_error naming the operator.
  void enqueue(int op, cudaStream_t s) const {
    const op_desc& d = net_.ops[op];
    cudaError_t e = cudaSuccess;
    switch (d.kind) {
      case op_kind::conv:
        e = launch::conv_bias_relu(net_.conv_shape_of(d, batch_), tiles_[op], opt_.precision, tensor(d.input),
                                    params_ + w_off_[d.conv], params_ + b_off_[d.conv], tensor(d.output), s);
        break;
      case op_kind::max_pool: e = launch::max_pool(net_.pool_shape_of(d, batch_), tensor(d.input), tensor(d.output), s); break;
      case op_kind::avg_pool: {
        const tensor_desc& in = net_.tensors[d.input];
        e = launch::avg_pool_1x1(batch_, in.c, in.h * in.w, tensor(d.input), tensor(d.output), s);
        break;
      }
      case op_kind::linear:
        e = launch::linear(batch_, net_.tensors[d.input].c, net_.num_classes, tensor(d.input), params_ + fc_w_off_,
                            params_ + fc_b_off_, tensor(d.output), s);
        break;
    }
    engine_check(e, "operator '" + d.name + "'");
  }
  //! The whole network on one stream, in program order.
  void enqueue_all(cudaStream_t s) const {
    for (std::size_t i = 0; i < net_.ops.size(); ++i) enqueue(static_cast<int>(i), s);
  }

private:
  void build_edges() {
    const int n = static_cast<int>(net_.ops.size());
    consumers_.assign(n, {});
    producers_.assign(n, {});
    std::vector<std::vector<int>> writers(net_.tensors.size());
    for (int i = 0; i < n; ++i) writers[net_.ops[i].output].push_back(i);
    for (int i = 0; i < n; ++i)
      for (int p : writers[net_.ops[i].input]) {
        producers_[i].push_back(p);
        consumers_[p].push_back(i);
      }
  }

  topology net_;
  int batch_;
  engine_options opt_;
  std::vector<std::vector<int>> consumers_, producers_;
  std::vector<kernels::conv_tile> tiles_;
  float* act_ = nullptr;
  std::size_t act_floats_ = 0;
  std::vector<std::size_t> act_off_;
  float* params_ = nullptr;
  std::vector<std::size_t> w_off_, b_off_;
  std::size_t fc_w_off_ = 0, fc_b_off_ = 0;
};

} // namespace googlenet

//! opara's view of the engine's structure (CPU side): nodes are operator indices.
template <>
struct opara::graph_traits<googlenet::engine> {
  static std::size_t num_nodes(const googlenet::engine& e) { return e.op_count(); }
  static std::span<const int> successors(const googlenet::engine& e, opara::node_id v) { return e.consumers(static_cast<int>(v)); }
  static std::span<const int> predecessors(const googlenet::engine& e, opara::node_id v) { return e.producers(static_cast<int>(v)); }
  static std::string name(const googlenet::engine& e, opara::node_id v) { return e.op_name(static_cast<int>(v)); }
};

static_assert(opara::bidirectional_operator_graph<googlenet::engine>);
static_assert(opara::named_operator_graph<googlenet::engine>);

#include <opara/cuda/operator_graph.hpp>

//! opara's way to launch the engine's operators, and the boundness hints for Opara's launch order.
template <>
struct opara::launch_traits<googlenet::engine> {
  static void launch(const googlenet::engine& e, opara::node_id v, cudaStream_t s) { e.enqueue(static_cast<int>(v), s); }
  static opara::boundness bound(const googlenet::engine& e, opara::node_id v) { return e.bound_of(static_cast<int>(v)); }
};

static_assert(opara::cuda_operator_graph<googlenet::engine>);
static_assert(opara::bound_hinted_graph<googlenet::engine>);
