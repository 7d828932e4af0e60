#pragma once
//! A small inference engine for inception-style networks (examples/googlenet: GoogLeNet,
//! examples/inception_v3: Inception-v3), written the way a user's engine would be (its own operator
//! list, its own names for producers and consumers), and adapted to opara from the outside:
//! graph_traits<convnet::engine> gives opara the structure, launch_traits the kernels.
//!
//! Why an own engine rather than opara::cuda::task_graph: it shows that opara plans a graph type it
//! has never seen without changing it (Boost.Graph's habit), and launching needs no std::function
//! per operator. One operator = one fused kernel; every activation has its own buffer, so the only
//! dependencies are read-after-write ones and concurrent branches never alias. The engine also says
//! which tensor each operator reads and writes (opara::memory_traits below), so it can share its
//! activations through an arena opara plans for the parallel schedule (set_arena), and take each
//! request's own input and output buffers (bind, then opara::executable::update).

#include <cuda_runtime_api.h>

#include <opara/graph/traits.hpp>
#include <opara/memory/traits.hpp>
#include <opara/profile/profile.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/launch.hpp"
#include "kernels/layout.hpp"
#include "network.hpp"

namespace convnet {

//! Thrown when a CUDA call of the engine fails; names the call or operator.
struct engine_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void engine_check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throw engine_error(what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

//! Engine options.
struct engine_options {
  //! tf32 (either path), tf32x3 (portable path only), or bf16 (sm_90 path only: bf16 activations and
  //! weights in memory, fp32 accumulation; the classifier's pooled features and logits stay fp32).
  //! Asking for a precision the path cannot run throws.
  kernels::conv_precision precision = kernels::conv_precision::tf32;
  //! Per-layer launch shape. Portable path: the largest tile that still gives this many blocks. sm90
  //! path: the block slots the cost model of choose_sm90_config assumes the layer has to itself.
  long long min_conv_blocks = 96;
  //! Which kernels: automatic takes the sm_90 path (NHWC, wgmma) on a compute-capability-9.0 GPU with
  //! TF32 or BF16 precision, the portable path (NCHW) otherwise (BF16 elsewhere throws). Asking for
  //! sm90 where it cannot run throws.
  kernels::conv_path path = kernels::conv_path::automatic;
  //! sm_90 path: fold each 3x3/s1/p1 max pool that feeds a single 1x1 convolution into that
  //! convolution (the pool operator disappears from the graph). Off by default: measured on an H200
  //! the fused kernel (synchronous 3x3 gathers) is slower than pool + conv, and the whole model too
  //! (examples/googlenet/RESULTS.md). fp32 only: ignored with bf16 (no fused bf16 kernel).
  bool fuse_pools = false;
  //! sm_90 path (TF32 or BF16): horizontal fusion. The 1x1 stride-1 convolutions that read the same
  //! tensor (an inception block's branch heads) run as one GEMM over their stacked weights, each
  //! writing its own output (kernels::conv_output): one operator instead of up to four, in the place
  //! of the first of them. A convolution whose output channels are not a multiple of 4 (TF32) or 8
  //! (BF16), or that absorbed a pool (fuse_pools), stays alone. Off by default; the portable path
  //! throws (examples/googlenet/RESULTS.md has fused against unfused).
  bool fuse_pointwise = false;
  //! sm_90 path: the convolutions' main loop (kernels::sm90_pipeline: ring, specialized or
  //! persistent). Ring by default: measured on an H100 the warp-specialized loops are 4-14% slower
  //! at batch 8 on both models' parallel plans (examples/googlenet/RESULTS.md). A convolution that absorbed a
  //! pool (fuse_pools) runs the ring whatever this says: the fused pool has no specialized kernel.
  kernels::sm90_pipeline pipeline = kernels::sm90_pipeline::ring;
};

//! A network loaded on the GPU for a fixed batch size: folded weights, one buffer per activation.
//! On the sm_90 path activations are NHWC (a pixel's channels contiguous; the input image's 3
//! channels stored as 4, the fourth zero), weights [cout][kh][kw][cin4], both TF32-rounded; on the
//! portable path NCHW. With BF16 (sm_90 path) activations and weights are bf16 (nearest even), a
//! pixel's channels padded to a multiple of 8 (the image's 3 stored as 8), weights [cout][kh][kw][cin8];
//! biases, the globally pooled features and the logits stay fp32. upload_input and download take and
//! give fp32 NCHW either way. Engine operators are the topology's operators, less the max pools fused
//! into their 1x1 convolution (fuse_pools), with the 1x1 convolutions of one input merged into one
//! operator (fuse_pointwise).
class engine {
public:
  engine(topology t, const weights& w, int batch, engine_options o = {})
      : net_(std::move(t)), batch_(batch), opt_(o) {
    if (batch <= 0) throw std::invalid_argument("convnet::engine: batch must be positive");
    if (const auto p = net_.problems(); !p.empty())
      throw std::invalid_argument("convnet::engine: the topology is inconsistent: " + p.front());
    resolve_path();
    build_ops();
    build_edges();
    build_buffers();
    build_types();
    // Activations: one region, 256-byte aligned slices, each tensor its own (set_arena shares them).
    std::size_t total = 0;
    for (std::size_t t = 0; t < net_.tensors.size(); ++t) {
      act_off_.push_back(total);
      total += round256(stored_bytes(static_cast<int>(t)));
    }
    engine_check(cudaMalloc(reinterpret_cast<void**>(&act_), total), "cudaMalloc(activations)");
    act_bytes_ = total;
    point_tensors();
    // Parameters: per conv the folded weights in the path's layout and precision, then the bias
    // (fp32); then fc (fp32). Each part 256-byte aligned; offsets in bytes.
    std::vector<std::byte> host;
    auto align = [&] { host.resize(round256(host.size()), std::byte{0}); };
    auto append = [&](const auto& v) {
      const auto* p = reinterpret_cast<const std::byte*>(v.data());
      host.insert(host.end(), p, p + v.size() * sizeof(v[0]));
    };
    for (std::size_t c = 0; c < net_.convs.size(); ++c) {
      const conv_spec& cs = net_.convs[c];
      const auto f = fold_batch_norm<float>(cs, w.convs[c]);
      align();
      w_off_.push_back(host.size());
      if (nhwc()) {
        kernels::conv_shape shape;
        shape.cin = cs.cin; shape.cout = cs.cout; shape.kh = cs.kh; shape.kw = cs.kw;
        if (bf16_) append(kernels::pack_weights_nhwc_bf16(shape, f.w.data()));
        else append(kernels::pack_weights_nhwc(shape, f.w.data(), true));
      } else {
        const int kk = cs.k();
        append(kernels::pad_weights_nchw(f.w, cs.cout, kk, (kk + 31) / 32 * 32));
      }
      align();
      b_off_.push_back(host.size());
      append(f.bias);
    }
    // A horizontally fused operator's stacked weights (its convolutions' packed rows one after the
    // other: one input, 1x1 windows, so one K) and biases.
    gw_off_.assign(ops_.size(), 0);
    gb_off_.assign(ops_.size(), 0);
    for (int op = 0; op < static_cast<int>(ops_.size()); ++op) {
      if (members_[op].size() < 2) continue;
      align();
      gw_off_[op] = host.size();
      for (int m : members_[op]) {
        const std::size_t c = static_cast<std::size_t>(net_.ops[m].conv);
        const std::vector<std::byte> rows(host.begin() + static_cast<std::ptrdiff_t>(w_off_[c]),
                                          host.begin() + static_cast<std::ptrdiff_t>(w_off_[c] + weight_bytes(c)));
        host.insert(host.end(), rows.begin(), rows.end());
      }
      align();
      gb_off_[op] = host.size();
      for (int m : members_[op]) {
        const std::size_t c = static_cast<std::size_t>(net_.ops[m].conv);
        const std::vector<std::byte> b(host.begin() + static_cast<std::ptrdiff_t>(b_off_[c]),
                                       host.begin() + static_cast<std::ptrdiff_t>(b_off_[c] + net_.convs[c].cout * sizeof(float)));
        host.insert(host.end(), b.begin(), b.end());
      }
    }
    if (net_.num_classes > 0) {
      align();
      fc_w_off_ = host.size();
      append(w.fc_w);
      align();
      fc_b_off_ = host.size();
      append(w.fc_b);
    }
    engine_check(cudaMalloc(reinterpret_cast<void**>(&params_), host.size()), "cudaMalloc(parameters)");
    engine_check(cudaMemcpy(params_, host.data(), host.size(), cudaMemcpyHostToDevice), "cudaMemcpy(parameters)");
    for (int op = 0; op < static_cast<int>(ops_.size()); ++op) {
      const op_desc& d = desc(op);
      tiles_.push_back(kernels::conv_tile::m64n64);
      sm90_.push_back({});
      if (d.kind != op_kind::conv) continue;
      const auto shape = conv_shape(op);
      if (nhwc()) {
        sm90_.back() = kernels::choose_sm90_config(shape, opt_.min_conv_blocks, opt_.precision);
        sm90_.back().pipeline = fused_[op] ? kernels::sm90_pipeline::ring : opt_.pipeline;
      } else tiles_.back() = kernels::choose_conv_tile(shape, opt_.min_conv_blocks);
    }
  }
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  ~engine() {
    cudaFree(act_);
    cudaFree(params_);
  }

  [[nodiscard]] const topology& net() const noexcept { return net_; }
  [[nodiscard]] int batch() const noexcept { return batch_; }
  //! The kernels this engine runs (never automatic).
  [[nodiscard]] kernels::conv_path path() const noexcept { return path_; }
  [[nodiscard]] bool nhwc() const noexcept { return path_ == kernels::conv_path::sm90; }
  //! BF16 activations and weights (the sm_90 path with conv_precision::bf16).
  [[nodiscard]] bool bf16() const noexcept { return bf16_; }
  [[nodiscard]] std::size_t op_count() const noexcept { return ops_.size(); }
  //! The topology operator behind engine operator `op` (for a fused pool + conv: the conv; for a
  //! horizontally fused one: the first of its convolutions, see members).
  [[nodiscard]] const op_desc& desc(int op) const { return net_.ops[ops_[op]]; }
  //! The topology operators engine operator `op` runs: one, or (fuse_pointwise) the 1x1 convolutions
  //! it computes as one GEMM, in the order of its output columns.
  [[nodiscard]] std::span<const int> members(int op) const { return members_[op]; }
  //! A convolution operator's GEMM shape: its convolution's; for a horizontally fused operator, the
  //! first one's with every member's output channels (cout summed, c_off 0, c_total = cout).
  [[nodiscard]] kernels::conv_shape conv_shape(int op) const {
    kernels::conv_shape s = net_.conv_shape_of(desc(op), batch_);
    if (members_[op].size() < 2) return s;
    s.cout = 0;
    for (int m : members_[op]) s.cout += net_.convs[net_.ops[m].conv].cout;
    s.c_off = 0;
    s.c_total = s.cout;
    return s;
  }
  //! Operators that read what `op` writes / that write what `op` reads.
  [[nodiscard]] std::span<const int> consumers(int op) const { return consumers_[op]; }
  [[nodiscard]] std::span<const int> producers(int op) const { return producers_[op]; }
  [[nodiscard]] const std::string& op_name(int op) const { return names_[op]; }
  //! The convolution's launch configuration, e.g. "64x32 split 4" (empty for other operators).
  [[nodiscard]] std::string config_name(int op) const {
    if (desc(op).kind != op_kind::conv) return {};
    if (!nhwc()) return kernels::tile_name(tiles_[op]);
    std::string r = kernels::tile_name(sm90_[op].tile);
    if (sm90_[op].splits > 1) r += " split " + std::to_string(sm90_[op].splits);
    if (members_[op].size() > 1) r += " fused " + std::to_string(members_[op].size());
    return r;
  }
  [[nodiscard]] long long blocks(int op) const {
    const op_desc& d = desc(op);
    if (d.kind != op_kind::conv) return 0;
    const auto shape = conv_shape(op);
    return nhwc() ? kernels::sm90_blocks(shape, sm90_[op].tile) * sm90_[op].splits
                  : kernels::conv_blocks(shape, tiles_[op]);
  }
  //! The engine operators of the longest dependency chain, first to last, each operator weighing
  //! `us(op)` (e.g. its measured time: no schedule of these kernels finishes sooner than that chain).
  template <class Cost>
  [[nodiscard]] std::vector<int> critical_path(Cost&& us) const {
    const int n = static_cast<int>(ops_.size());
    std::vector<double> finish(n, 0.0);
    std::vector<int> via(n, -1);
    int last = -1;
    for (int op = 0; op < n; ++op) {  // program order is a topological order
      double start = 0;
      for (int p : producers_[op])
        if (finish[p] > start) {
          start = finish[p];
          via[op] = p;
        }
      finish[op] = start + us(op);
      if (last < 0 || finish[op] > finish[last]) last = op;
    }
    std::vector<int> chain;
    for (int op = last; op >= 0; op = via[op]) chain.insert(chain.begin(), op);
    return chain;
  }
  //! Memory-bound (pools, classifier) or compute-bound (convolutions): Opara's two ready queues.
  [[nodiscard]] opara::boundness bound_of(int op) const {
    return desc(op).kind == op_kind::conv ? opara::boundness::compute : opara::boundness::memory;
  }

  //! Where tensor t is on the device, in the engine's layout and element type (tensor_is_bf16).
  [[nodiscard]] void* tensor(int t) const noexcept { return ptr_[t]; }
  //! Elements of tensor t as the user sees it (NCHW, its own channel count).
  [[nodiscard]] std::size_t tensor_floats(int t) const { return net_.tensors[t].size() * batch_; }
  //! True when tensor t holds bf16 elements (a BF16 engine's activations, except the globally pooled
  //! features and the logits, which are fp32); false: fp32.
  [[nodiscard]] bool tensor_is_bf16(int t) const { return elem_bytes_[t] == 2; }
  [[nodiscard]] void* input() const noexcept { return tensor(net_.input); }
  [[nodiscard]] const void* output() const noexcept { return tensor(net_.output); }

  //! Copies an NCHW fp32 input to the GPU (sm_90 path: as NHWC, TF32-rounded or converted to bf16,
  //! padding channels zero).
  void upload_input(const std::vector<float>& x) const {
    const std::vector<std::byte> staged = stage_input(x);
    engine_check(cudaMemcpy(input(), staged.data(), staged.size(), cudaMemcpyHostToDevice), "upload input");
  }
  //! Tensor t, NCHW fp32, whatever the engine's layout and element type.
  [[nodiscard]] std::vector<float> download(int t) const { return download_from(tensor(t), t); }
  //! Fills every activation with NaN (0xff bytes: an fp32 and a bf16 NaN), so that an unwritten
  //! element cannot pass a check.
  void poison() const {
    engine_check(cudaMemset(act_, 0xff, act_bytes_), "poison");
    for (int t : {net_.input, net_.output})
      if (ptr_[t] < act_ || ptr_[t] >= act_ + act_bytes_)  // a request's own buffer
        engine_check(cudaMemset(ptr_[t], 0xff, stored_bytes(t)), "poison");
  }

  // ---- Memory, as opara sees it (a tensor_graph; memory_traits below) ----
  //! Buffers: one per tensor, then one per slice that an operator writes of a tensor that several
  //! operators write (a concatenation's channel slices: parts of that tensor, interleaved in NHWC).
  [[nodiscard]] std::size_t buffer_count() const noexcept { return part_of_.size(); }
  //! Bytes of buffer b (a part: its tensor's), 256-byte aligned.
  [[nodiscard]] std::uint64_t buffer_size(int b) const { return round256(stored_bytes(tensor_of(b))); }
  //! Where buffer b sits in the activation arena, in bytes (a part: its tensor's place).
  [[nodiscard]] std::uint64_t buffer_place(int b) const { return act_off_[tensor_of(b)]; }
  //! The input and output tensors are the request's: they live outside the arena.
  [[nodiscard]] bool buffer_is_io(int b) const { return tensor_of(b) == net_.input || tensor_of(b) == net_.output; }
  //! The tensor buffer b is (a part of).
  [[nodiscard]] int tensor_of(int b) const { return part_of_[b]; }
  [[nodiscard]] std::span<const int> op_reads(int op) const { return {&in_tensor_[op], 1}; }
  [[nodiscard]] std::span<const int> op_writes(int op) const { return out_buffers_[op]; }

  //! Shares the activations through one arena: `offset[b]` is the byte offset of buffer b (a
  //! tensor; parts follow their tensor, the input and output are ignored), as opara::plan_arena
  //! places them for the plan that will run. The input and output get buffers of their own until a
  //! request binds its own (bind). Reallocates: compile executables after it. Throws engine_error.
  void set_arena(std::span<const std::uint64_t> offset, std::uint64_t bytes) {
    if (offset.size() != buffer_count()) throw engine_error("convnet::engine::set_arena: one offset per buffer needed");
    const std::size_t in_bytes = round256(stored_bytes(net_.input));
    const std::size_t out_bytes = round256(stored_bytes(net_.output));
    const std::size_t arena = round256(static_cast<std::size_t>(bytes));
    std::vector<std::size_t> off(net_.tensors.size(), 0);
    for (std::size_t t = 0; t < net_.tensors.size(); ++t) {
      if (static_cast<int>(t) == net_.input || static_cast<int>(t) == net_.output) continue;
      if (offset[t] % 256 != 0 || offset[t] + stored_bytes(static_cast<int>(t)) > bytes)
        throw engine_error("convnet::engine::set_arena: tensor " + std::to_string(t) + " is misplaced (offset " +
                           std::to_string(offset[t]) + ", arena of " + std::to_string(bytes) + " bytes)");
      off[t] = offset[t];
    }
    off[net_.input] = arena;
    off[net_.output] = arena + in_bytes;
    std::byte* region = nullptr;
    engine_check(cudaMalloc(reinterpret_cast<void**>(&region), arena + in_bytes + out_bytes), "cudaMalloc(arena)");
    cudaFree(act_);
    act_ = region;
    act_bytes_ = arena + in_bytes + out_bytes;
    act_off_ = std::move(off);
    arena_bytes_ = bytes;
    point_tensors();
  }
  //! Bytes of activation memory besides the input and output (the arena, or every tensor's own).
  [[nodiscard]] std::uint64_t activation_bytes() const noexcept {
    if (arena_bytes_ != 0) return arena_bytes_;
    std::uint64_t total = 0;
    for (std::size_t t = 0; t < net_.tensors.size(); ++t)
      if (static_cast<int>(t) != net_.input && static_cast<int>(t) != net_.output)
        total += round256(stored_bytes(static_cast<int>(t)));
    return total;
  }
  //! Points the input and output tensors at a request's own device buffers (the engine's layout and
  //! element type: stage_input's, stored_bytes each), or back at the engine's (nullptr). Executables
  //! captured before record the old pointers: opara::executable::update re-points them.
  void bind(const void* input, void* output) {
    ptr_[net_.input] = input ? static_cast<std::byte*>(const_cast<void*>(input)) : act_ + act_off_[net_.input];
    ptr_[net_.output] = output ? static_cast<std::byte*>(output) : act_ + act_off_[net_.output];
  }
  //! Elements of tensor t as stored (the engine's layout, padding channels included).
  [[nodiscard]] std::size_t stored_size(int t) const { return stored_elems(t); }
  //! Bytes of tensor t as stored (fp32 or bf16 elements).
  [[nodiscard]] std::size_t stored_bytes(int t) const { return stored_elems(t) * elem_bytes_[t]; }
  //! An NCHW fp32 input in the engine's layout and element type (its bytes), ready to copy to a bound
  //! input buffer.
  [[nodiscard]] std::vector<std::byte> stage_input(const std::vector<float>& x) const {
    if (x.size() != tensor_floats(net_.input)) throw std::invalid_argument("convnet::engine: input has the wrong size");
    if (!nhwc()) return bytes_of(x);
    const tensor_desc& td = net_.tensors[net_.input];
    auto staged = kernels::nchw_to_nhwc(x, batch_, td.c, td.h * td.w, stored_channels(net_.input));
    if (tensor_is_bf16(net_.input)) {
      std::vector<kernels::bfloat16> h(staged.size());
      for (std::size_t i = 0; i < staged.size(); ++i) h[i] = kernels::to_bf16(staged[i]);
      return bytes_of(h);
    }
    for (float& v : staged) v = kernels::round_tf32(v);
    return bytes_of(staged);
  }
  //! Tensor t, NCHW fp32, from a device buffer in the engine's layout and element type (a bound output).
  [[nodiscard]] std::vector<float> download_from(const void* device, int t) const {
    std::vector<float> h(stored_elems(t));
    if (tensor_is_bf16(t)) {
      std::vector<kernels::bfloat16> raw(h.size());
      engine_check(cudaMemcpy(raw.data(), device, stored_bytes(t), cudaMemcpyDeviceToHost), "download");
      for (std::size_t i = 0; i < h.size(); ++i) h[i] = kernels::from_bf16(raw[i]);
    } else {
      engine_check(cudaMemcpy(h.data(), device, stored_bytes(t), cudaMemcpyDeviceToHost), "download");
    }
    if (!nhwc()) return h;
    const tensor_desc& td = net_.tensors[t];
    return kernels::nhwc_to_nchw(h, batch_, td.c, td.h * td.w, stored_channels(t));
  }

  //! Enqueues operator `op`'s one kernel on `s`. Throws engine_error naming the operator.
  void enqueue(int op, cudaStream_t s) const {
    using kernels::bfloat16;
    const op_desc& d = desc(op);
    const int in = in_tensor_[op];
    cudaError_t e = cudaSuccess;
    switch (d.kind) {
      case op_kind::conv: {
        if (members_[op].size() > 1) {
          e = enqueue_fused(op, s);
          break;
        }
        const auto shape = net_.conv_shape_of(d, batch_);
        const float* bias = param<float>(b_off_[d.conv]);
        if (bf16_)
          e = launch::conv_bias_relu_nhwc_bf16(shape, sm90_[op], fused_[op], at<bfloat16>(in), param<bfloat16>(w_off_[d.conv]),
                                               bias, at<bfloat16>(d.output), s);
        else if (nhwc())
          e = launch::conv_bias_relu_nhwc(shape, sm90_[op], fused_[op], at<float>(in), param<float>(w_off_[d.conv]), bias,
                                          at<float>(d.output), s);
        else
          e = launch::conv_bias_relu(shape, tiles_[op], opt_.precision, at<float>(in), param<float>(w_off_[d.conv]), bias,
                                     at<float>(d.output), s);
        break;
      }
      case op_kind::max_pool:
      case op_kind::avg_pool: {
        const auto shape = net_.pool_shape_of(d, batch_);
        e = bf16_    ? launch::pool_nhwc_bf16(shape, at<bfloat16>(in), at<bfloat16>(d.output), s)
            : nhwc() ? launch::pool_nhwc(shape, at<float>(in), at<float>(d.output), s)
                     : launch::pool(shape, at<float>(in), at<float>(d.output), s);
        break;
      }
      case op_kind::global_avg_pool: {
        const tensor_desc& td = net_.tensors[d.input];
        e = bf16_    ? launch::avg_pool_1x1_nhwc_bf16(batch_, td.c, td.h * td.w, at<bfloat16>(in), at<float>(d.output), s)
            : nhwc() ? launch::avg_pool_1x1_nhwc(batch_, td.c, td.h * td.w, at<float>(in), at<float>(d.output), s)
                     : launch::avg_pool_1x1(batch_, td.c, td.h * td.w, at<float>(in), at<float>(d.output), s);
        break;
      }
      case op_kind::linear:  // fp32 features and weights on every path
        e = launch::linear(batch_, net_.tensors[d.input].c, net_.num_classes, at<float>(in), param<float>(fc_w_off_),
                           param<float>(fc_b_off_), at<float>(d.output), s);
        break;
    }
    engine_check(e, "operator '" + names_[op] + "'");
  }
  //! The whole network on one stream, in program order (the engine's operators').
  void enqueue_all(cudaStream_t s) const {
    for (std::size_t i = 0; i < ops_.size(); ++i) enqueue(static_cast<int>(i), s);
  }

private:
  void resolve_path() {
    int dev = 0;
    engine_check(cudaGetDevice(&dev), "cudaGetDevice");
    const bool sm90_ok = launch::sm90_supported(dev);
    const bool tf32 = opt_.precision == kernels::conv_precision::tf32;
    const bool half = opt_.precision == kernels::conv_precision::bf16;
    if (opt_.path == kernels::conv_path::portable && half)
      throw engine_error("convnet::engine: bf16 runs on the sm90 path only (NHWC, wgmma); the portable path runs tf32 "
                         "and tf32x3");
    if (opt_.path == kernels::conv_path::sm90 && !sm90_ok)
      throw engine_error("convnet::engine: the sm90 path needs a GPU of compute capability 9.0 (device " +
                         std::to_string(dev) + " is not)");
    if (half && !sm90_ok)
      throw engine_error("convnet::engine: bf16 runs on the sm90 path only, which needs a GPU of compute capability 9.0 "
                         "(device " + std::to_string(dev) + " is not)");
    if (opt_.path == kernels::conv_path::sm90 && !tf32 && !half)
      throw engine_error("convnet::engine: the sm90 path runs TF32 and BF16; tf32x3 needs the portable path");
    path_ = opt_.path != kernels::conv_path::automatic ? opt_.path
            : sm90_ok && (tf32 || half)                 ? kernels::conv_path::sm90
                                                        : kernels::conv_path::portable;
    bf16_ = half;
    if (opt_.fuse_pointwise && path_ != kernels::conv_path::sm90)
      throw engine_error("convnet::engine: fuse_pointwise (horizontal fusion of 1x1 convolutions) runs on the sm90 path "
                         "only; this engine runs the portable path");
  }
  // Engine operators: the topology's, except a 3x3/s1/p1 max pool whose output only one 1x1 stride-1
  // conv reads (and nothing else writes), which becomes part of that conv (sm_90 path, fuse_pools).
  void build_ops() {
    const int n = static_cast<int>(net_.ops.size());
    std::vector<int> readers(net_.tensors.size(), 0), writers(net_.tensors.size(), 0);
    for (const op_desc& d : net_.ops) {
      ++readers[d.input];
      ++writers[d.output];
    }
    std::vector<int> pool_feeding(net_.tensors.size(), -1);  // tensor -> the fusable pool writing it
    for (int i = 0; i < n; ++i) {
      const op_desc& d = net_.ops[i];
      if (nhwc() && !bf16_ && opt_.fuse_pools && d.kind == op_kind::max_pool && d.k == 3 && d.stride == 1 && d.pad == 1 &&
          d.c_off == 0 && readers[d.output] == 1 && writers[d.output] == 1)
        pool_feeding[d.output] = i;
    }
    std::vector<int> fused_into(n, -1);   // conv -> the pool it absorbs
    std::vector<bool> absorbed(n, false);  // pool -> absorbed by its one reader
    for (int i = 0; i < n; ++i) {
      const op_desc& d = net_.ops[i];
      const int pool = pool_feeding[d.input];
      if (pool >= 0 && d.kind == op_kind::conv && is_pointwise(net_.convs[d.conv])) {
        fused_into[i] = pool;
        absorbed[pool] = true;
      }
    }
    // Horizontal fusion: the 1x1 stride-1 convolutions of one input tensor (none absorbing a pool,
    // output channels a multiple of the kernels' 16-byte chunk) join the first of them, up to
    // kernels::max_conv_outputs per operator.
    std::vector<int> head(n, -1);              // conv -> the fused operator's first conv (itself if first)
    std::vector<std::vector<int>> group(n);    // first conv -> its members
    if (opt_.fuse_pointwise) {
      const int chunk = bf16_ ? 8 : 4;
      std::vector<int> open(net_.tensors.size(), -1);  // tensor -> the group still taking members
      for (int i = 0; i < n; ++i) {
        const op_desc& d = net_.ops[i];
        if (absorbed[i] || fused_into[i] >= 0 || d.kind != op_kind::conv || !is_pointwise(net_.convs[d.conv]) ||
            net_.convs[d.conv].cout % chunk != 0)
          continue;
        int& g = open[d.input];
        if (g < 0 || static_cast<int>(group[g].size()) == kernels::max_conv_outputs) g = i;
        head[i] = g;
        group[g].push_back(i);
      }
    }
    for (int i = 0; i < n; ++i) {
      if (absorbed[i] || (head[i] >= 0 && head[i] != i)) continue;
      const op_desc& d = net_.ops[i];
      const int pool = fused_into[i];
      ops_.push_back(i);
      fused_.push_back(pool >= 0);
      in_tensor_.push_back(pool >= 0 ? net_.ops[pool].input : d.input);
      if (head[i] == i && group[i].size() > 1) {
        members_.push_back(group[i]);
        std::string name;
        for (int m : group[i]) name += (name.empty() ? "" : "+") + net_.ops[m].name;
        names_.push_back(std::move(name));
      } else {
        members_.push_back({i});
        names_.push_back(pool >= 0 ? net_.ops[pool].name + "+" + d.name : d.name);
      }
    }
  }
  static bool is_pointwise(const conv_spec& c) {
    return c.kh == 1 && c.kw == 1 && c.stride == 1 && c.pad_h == 0 && c.pad_w == 0;
  }
  void build_edges() {
    const int n = static_cast<int>(ops_.size());
    consumers_.assign(n, {});
    producers_.assign(n, {});
    std::vector<std::vector<int>> writers(net_.tensors.size());
    for (int i = 0; i < n; ++i)
      for (int m : members_[i]) {
        auto& w = writers[net_.ops[m].output];
        if (w.empty() || w.back() != i) w.push_back(i);  // a fused operator writing two slices of one tensor
      }
    for (int i = 0; i < n; ++i)
      for (int p : writers[in_tensor_[i]]) {
        producers_[i].push_back(p);
        consumers_[p].push_back(i);
      }
  }
  // One buffer per tensor, then a part per slice writer of a tensor that several operators write.
  // (A horizontally fused operator writes one buffer per convolution.)
  void build_buffers() {
    const int n = static_cast<int>(ops_.size());
    std::vector<int> writers(net_.tensors.size(), 0);
    for (int i = 0; i < n; ++i)
      for (int m : members_[i]) ++writers[net_.ops[m].output];
    part_of_.resize(net_.tensors.size());
    for (std::size_t t = 0; t < net_.tensors.size(); ++t) part_of_[t] = static_cast<int>(t);
    out_buffers_.assign(n, {});
    for (int i = 0; i < n; ++i)
      for (int m : members_[i]) {
        const int t = net_.ops[m].output;
        if (writers[t] > 1) {
          out_buffers_[i].push_back(static_cast<int>(part_of_.size()));
          part_of_.push_back(t);
        } else {
          out_buffers_[i].push_back(t);
        }
      }
  }
  // Bytes of convolution c's packed weights (the path's layout and element type).
  [[nodiscard]] std::size_t weight_bytes(std::size_t c) const {
    const conv_spec& cs = net_.convs[c];
    if (!nhwc()) return static_cast<std::size_t>(cs.cout) * ((cs.k() + 31) / 32 * 32) * sizeof(float);
    kernels::conv_shape shape;
    shape.cin = cs.cin; shape.cout = cs.cout; shape.kh = cs.kh; shape.kw = cs.kw;
    return static_cast<std::size_t>(cs.cout) * shape.k_pad_nhwc(opt_.precision) * (bf16_ ? 2 : 4);
  }
  // A horizontally fused operator's one launch: its GEMM, each member's columns into its output.
  [[nodiscard]] cudaError_t enqueue_fused(int op, cudaStream_t s) const {
    using kernels::bfloat16;
    const auto shape = conv_shape(op);
    const float* bias = param<float>(gb_off_[op]);
    const int k = static_cast<int>(members_[op].size());
    if (bf16_) {
      kernels::conv_output<bfloat16> o[kernels::max_conv_outputs];
      for (int i = 0; i < k; ++i) o[i] = output_of<bfloat16>(members_[op][i]);
      return launch::conv_bias_relu_nhwc_bf16(shape, sm90_[op], at<bfloat16>(in_tensor_[op]), param<bfloat16>(gw_off_[op]),
                                              bias, o, k, s);
    }
    kernels::conv_output<float> o[kernels::max_conv_outputs];
    for (int i = 0; i < k; ++i) o[i] = output_of<float>(members_[op][i]);
    return launch::conv_bias_relu_nhwc(shape, sm90_[op], at<float>(in_tensor_[op]), param<float>(gw_off_[op]), bias, o, k, s);
  }
  // Where topology convolution m writes: its output tensor's slice.
  template <class T>
  [[nodiscard]] kernels::conv_output<T> output_of(int m) const {
    const op_desc& d = net_.ops[m];
    return {at<T>(d.output), net_.convs[d.conv].cout, d.c_off, net_.tensors[d.output].c};
  }
  // Element size of every tensor: 4 (fp32) everywhere, except on a BF16 engine, where the input and
  // everything convolutions and pools write is bf16 (2) and what the classifier reads and writes (the
  // global average pool's output, the logits) stays fp32. Throws engine_error for a topology the bf16
  // kernels cannot run: an operator reading the other type than its kernel takes, or a bf16 slice or
  // tensor off a multiple of 8 channels (the kernels' 16-byte chunks).
  void build_types() {
    elem_bytes_.assign(net_.tensors.size(), bf16_ ? 2 : 4);
    if (!bf16_) return;
    for (const op_desc& d : net_.ops)
      if (d.kind == op_kind::global_avg_pool || d.kind == op_kind::linear) elem_bytes_[d.output] = 4;
    for (const op_desc& d : net_.ops) {
      const bool classifier = d.kind == op_kind::linear;
      if (elem_bytes_[d.input] != (classifier ? 4 : 2))
        throw engine_error("convnet::engine: bf16: operator '" + d.name + "' reads " +
                           (classifier ? "a bf16 tensor (the classifier takes the fp32 output of a global average pool)"
                                       : "an fp32 tensor (only the classifier reads fp32 on a bf16 engine)"));
      if (d.kind == op_kind::global_avg_pool || classifier) continue;
      if (d.c_off % 8 != 0 || net_.tensors[d.output].c % 8 != 0)
        throw engine_error("convnet::engine: bf16: operator '" + d.name + "' writes channels from " +
                           std::to_string(d.c_off) + " of a " + std::to_string(net_.tensors[d.output].c) +
                           "-channel tensor; bf16 needs both multiples of 8");
    }
  }
  void point_tensors() {
    ptr_.resize(net_.tensors.size());
    for (std::size_t t = 0; t < net_.tensors.size(); ++t) ptr_[t] = act_ + act_off_[t];
  }
  [[nodiscard]] int stored_channels(int t) const {
    const int c = net_.tensors[t].c;
    const int v = elem_bytes_[t] == 2 ? 8 : 4;  // 16 bytes of a pixel's channels
    return nhwc() ? (c + v - 1) / v * v : c;
  }
  [[nodiscard]] std::size_t stored_elems(int t) const {
    const tensor_desc& td = net_.tensors[t];
    return static_cast<std::size_t>(stored_channels(t)) * td.h * td.w * batch_;
  }
  static std::size_t round256(std::size_t bytes) { return (bytes + 255) / 256 * 256; }
  template <class T>
  static std::vector<std::byte> bytes_of(const std::vector<T>& v) {
    std::vector<std::byte> b(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
  }
  // Tensor t and the parameter at byte offset `off`, typed (the engine knows which type each is).
  template <class T>
  [[nodiscard]] T* at(int t) const noexcept { return reinterpret_cast<T*>(ptr_[t]); }
  template <class T>
  [[nodiscard]] const T* param(std::size_t off) const noexcept { return reinterpret_cast<const T*>(params_ + off); }

  topology net_;
  int batch_;
  engine_options opt_;
  kernels::conv_path path_ = kernels::conv_path::portable;
  bool bf16_ = false;                    // bf16 activations and weights (sm_90 path)
  std::vector<std::uint8_t> elem_bytes_;  // per tensor: 4 (fp32) or 2 (bf16)
  std::vector<int> ops_;           // engine op -> topology op
  std::vector<bool> fused_;        // engine op reads its input through a fused 3x3 max pool
  std::vector<int> in_tensor_;     // the tensor it reads
  std::vector<std::string> names_;
  std::vector<std::vector<int>> consumers_, producers_;
  std::vector<kernels::conv_tile> tiles_;   // portable path
  std::vector<kernels::sm90_config> sm90_;  // sm_90 path
  std::vector<std::vector<int>> members_;  // engine op -> its topology ops (several: horizontally fused)
  std::vector<std::vector<int>> out_buffers_;  // engine op -> the buffers it writes (a part for a slice writer)
  std::vector<int> part_of_;     // buffer -> its tensor
  std::byte* act_ = nullptr;
  std::size_t act_bytes_ = 0;
  std::vector<std::size_t> act_off_;  // bytes
  std::vector<std::byte*> ptr_;   // where each tensor is now (the input and output may be a request's)
  std::uint64_t arena_bytes_ = 0;  // set_arena's arena (0: every tensor its own bytes)
  std::byte* params_ = nullptr;
  std::vector<std::size_t> w_off_, b_off_;  // bytes into params_
  std::vector<std::size_t> gw_off_, gb_off_;  // per engine op: a horizontally fused one's stacked weights and biases
  std::size_t fc_w_off_ = 0, fc_b_off_ = 0;
};

} // namespace convnet

//! opara's view of the engine's structure (CPU side): nodes are operator indices.
template <>
struct opara::graph_traits<convnet::engine> {
  static std::size_t num_nodes(const convnet::engine& e) { return e.op_count(); }
  static std::span<const int> successors(const convnet::engine& e, opara::node_id v) { return e.consumers(static_cast<int>(v)); }
  static std::span<const int> predecessors(const convnet::engine& e, opara::node_id v) { return e.producers(static_cast<int>(v)); }
  static std::string name(const convnet::engine& e, opara::node_id v) { return e.op_name(static_cast<int>(v)); }
};

static_assert(opara::bidirectional_operator_graph<convnet::engine>);
static_assert(opara::named_operator_graph<convnet::engine>);

//! opara's view of the engine's memory: which tensor each operator reads and writes (a slice writer
//! writes its part), where the engine keeps each (its arena), and that the input and output are the
//! request's. make_plan and the scheduler then order every two operators whose tensors share bytes.
template <>
struct opara::memory_traits<convnet::engine> {
  static std::size_t num_buffers(const convnet::engine& e) { return e.buffer_count(); }
  static std::uint64_t buffer_bytes(const convnet::engine& e, opara::buffer_id b) { return e.buffer_size(static_cast<int>(b)); }
  static std::span<const int> reads(const convnet::engine& e, opara::node_id v) { return e.op_reads(static_cast<int>(v)); }
  static std::span<const int> writes(const convnet::engine& e, opara::node_id v) { return e.op_writes(static_cast<int>(v)); }
  static std::uint64_t buffer_offset(const convnet::engine& e, opara::buffer_id b) { return e.buffer_place(static_cast<int>(b)); }
  static bool buffer_pinned(const convnet::engine& e, opara::buffer_id b) { return e.buffer_is_io(static_cast<int>(b)); }
  static std::size_t buffer_part_of(const convnet::engine& e, opara::buffer_id b) {
    return static_cast<std::size_t>(e.tensor_of(static_cast<int>(b)));
  }
};

static_assert(opara::arena_graph<convnet::engine>);
static_assert(opara::partitioned_tensor_graph<convnet::engine>);

#include <opara/cuda/runtime/operator_graph.hpp>

//! opara's way to launch the engine's operators, the boundness hints for Opara's launch order, and
//! the declaration that its kernels take programmatic dependent launch.
template <>
struct opara::launch_traits<convnet::engine> {
  static void launch(const convnet::engine& e, opara::node_id v, cudaStream_t s) { e.enqueue(static_cast<int>(v), s); }
  static opara::boundness bound(const convnet::engine& e, opara::node_id v) { return e.bound_of(static_cast<int>(v)); }
  //! Every kernel waits for its producers first (opara::pdl::wait_for_producers; the convolutions
  //! load their first weight tiles before it), so every operator may take programmatic edges.
  static bool programmatic(const convnet::engine&, opara::node_id) { return true; }
};

static_assert(opara::cuda_operator_graph<convnet::engine>);
static_assert(opara::bound_hinted_graph<convnet::engine>);
static_assert(opara::programmatic_graph<convnet::engine>);
