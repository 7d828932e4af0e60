#pragma once
// Synthetic workloads for the bench suite: DAGs of calibrated kernels whose duration and resource
// use (blocks, threads, shared memory, registers) are set per node.
//
// A compute node spins on clock64() for a calibrated number of cycles while holding its shared
// memory and registers, so it occupies SM slots for a known time like a real tile-based kernel;
// a memory node streams a buffer (read + write) sized for its target duration.
// Both keep the programmatic-dependent-launch contract (opara/cuda/runtime/pdl.cuh): every block waits for
// its producers before it starts and lets its dependents launch once its work is done, so a
// workload's nodes may declare input_wait::programmatic (calibrated_device::programmatic).

#include "../common/kernels.hpp"

#include <opara/cuda.hpp>
#include <opara/cuda/runtime/timed_event.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace bench {

// The kernels (spin_kernel8/32/64, stream_kernel, empty_kernel) and `stamp` are in
// bench/common/kernels.hpp, compiled by nvcc in opara_bench_kernels.

// One node's kernel.
struct node_spec {
  bool memory = false;           // memory-bound streaming node, else compute (spin) node
  unsigned blocks = 1, threads = 128;
  unsigned shared_bytes = 0;     // dynamic shared memory per block (compute nodes)
  int regs = 8;                  // 8, 32 or 64 live registers (compute nodes)
  double target_us = 5;          // duration when run alone
};

// Device resources shared by a workload's nodes; calibrates cycles per microsecond once.
class calibrated_device {
public:
  calibrated_device() {
    OPARA_CUDA_CHECK(cudaMalloc(&sink_, 1 << 20));
    int dev = 0;
    OPARA_CUDA_CHECK(cudaGetDevice(&dev));
    for (auto* f : {symbol(spin_kernel8), symbol(spin_kernel32), symbol(spin_kernel64)})
      OPARA_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    OPARA_CUDA_CHECK(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, dev));
    calibrate();
  }
  ~calibrated_device() {
    OPARA_CUDA_CHECK_NOTHROW(cudaFree(sink_));
    for (float* p : buffers_) OPARA_CUDA_CHECK_NOTHROW(cudaFree(p));
  }
  calibrated_device(const calibrated_device&) = delete;
  calibrated_device& operator=(const calibrated_device&) = delete;

  // Sets every synthetic kernel's preferred shared-memory carveout (cudaFuncAttributePreferredSharedMemoryCarveout:
  // percent of the SM's unified L1/shared memory, or cudaSharedmemCarveoutDefault = -1). Graphs
  // captured afterwards launch with it. bench_anatomy tries one carveout for all: an SM runs blocks
  // of kernels with different shared-memory configurations only one configuration at a time.
  static void set_carveout(int percent) {
    for (auto* f : {symbol(spin_kernel8), symbol(spin_kernel32), symbol(spin_kernel64),
                    symbol(stream_kernel), symbol(empty_kernel)})
      OPARA_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributePreferredSharedMemoryCarveout, percent));
  }

  // Enqueues a one-block spin of about `us` microseconds on `s` (keeps a stream busy: queued timing).
  void busy(cudaStream_t s, double us) const {
    launch(spin_kernel8, 1, 32, 128, s, static_cast<long long>(us * cycles_per_us_), sink_, nullptr);
    OPARA_CUDA_CHECK(cudaGetLastError());
  }

  [[nodiscard]] double cycles_per_us() const noexcept { return cycles_per_us_; }
  [[nodiscard]] double bytes_per_us_per_block() const noexcept { return bytes_per_us_per_block_; }
  [[nodiscard]] int sm_count() const noexcept { return sms_; }

  // Whether the nodes add_node makes declare input_wait::programmatic (their kernels keep the PDL
  // contract either way; capture::options::programmatic decides whether a graph uses it).
  bool programmatic = true;

  // When set (bench_anatomy), add_node gives node v's kernel stamps + v to record its timeline in;
  // the buffer holds stamp_capacity entries.
  stamp* stamps = nullptr;
  std::size_t stamp_capacity = 0;

  // A launcher for a node: enqueues its kernel on the stream it is given (recording its timeline
  // in *st when st is not null).
  opara::cuda::task_graph::launcher make(const node_spec& s, stamp* st = nullptr) {
    if (s.memory) {
      // Bytes moved (read + write) so that the node takes about target_us with s.blocks blocks.
      const double bytes = std::max(4096.0, s.target_us * bytes_per_us_per_block_ * s.blocks);
      const std::size_t n4 = static_cast<std::size_t>(bytes / 32.0) + 1;  // 16 B read + 16 B written per float4
      float* src = alloc(n4 * 4);
      float* dst = alloc(n4 * 4);
      const unsigned blocks = s.blocks, threads = s.threads;
      return [=](cudaStream_t stream) {
        launch(stream_kernel, blocks, threads, 0, stream, reinterpret_cast<const float4*>(src), reinterpret_cast<float4*>(dst), n4, st);
        OPARA_CUDA_CHECK(cudaGetLastError());
      };
    }
    const long long cycles = static_cast<long long>(s.target_us * cycles_per_us_);
    const unsigned blocks = s.blocks, threads = s.threads;
    const unsigned smem = std::max<unsigned>(s.shared_bytes, threads * sizeof(float));
    float* sink = sink_;
    const int regs = s.regs;
    return [=](cudaStream_t stream) {
      if (regs >= 64) launch(spin_kernel64, blocks, threads, smem, stream, cycles, sink, st);
      else if (regs >= 32) launch(spin_kernel32, blocks, threads, smem, stream, cycles, sink, st);
      else launch(spin_kernel8, blocks, threads, smem, stream, cycles, sink, st);
      OPARA_CUDA_CHECK(cudaGetLastError());
    };
  }

private:
  float* alloc(std::size_t floats) {
    float* p = nullptr;
    OPARA_CUDA_CHECK(cudaMalloc(&p, floats * sizeof(float)));
    OPARA_CUDA_CHECK(cudaMemset(p, 0x3f, floats * sizeof(float)));  // 0.75f-ish values, never zeros
    buffers_.push_back(p);
    return p;
  }

  void calibrate() {
    const opara::cuda::event_timer timer;  // on the default stream, as the launches below
    // The GPU leaves its idle clock only under load: half a second of spinning on every SM first,
    // so that calibration and the first workload's measurements see the clock the rest will.
    launch(spin_kernel8, 4 * sms_, 128, 512, 0, 1'000'000'000LL, sink_, nullptr);  // ~0.5 s at 2 GHz
    OPARA_CUDA_CHECK(cudaGetLastError());
    OPARA_CUDA_CHECK(cudaDeviceSynchronize());
    // Cycles per microsecond: a one-block spin of 2M cycles.
    const long long cyc = 2'000'000;
    opara::cuda::gpu_duration t{};  // the last repetition's
    for (int rep = 0; rep < 2; ++rep)
      t = timer.time(nullptr, [&] {
        launch(spin_kernel8, 1, 32, 128, 0, cyc, sink_, nullptr);
        OPARA_CUDA_CHECK(cudaGetLastError());
      });
    cycles_per_us_ = static_cast<double>(cyc) / t.count();
    // Streaming rate of one 256-thread block, over 64 MiB with 4 blocks per SM.
    const std::size_t n4 = (64u << 20) / 16;
    float* src = alloc(n4 * 4);
    float* dst = alloc(n4 * 4);
    const unsigned blocks = static_cast<unsigned>(4 * sms_);
    for (int rep = 0; rep < 3; ++rep)
      t = timer.time(nullptr, [&] {
        launch(stream_kernel, blocks, 256, 0, 0, reinterpret_cast<const float4*>(src), reinterpret_cast<float4*>(dst), n4, nullptr);
        OPARA_CUDA_CHECK(cudaGetLastError());
      });
    bytes_per_us_per_block_ = (32.0 * static_cast<double>(n4)) / t.count() / blocks;
  }

  float* sink_ = nullptr;
  std::vector<float*> buffers_;
  double cycles_per_us_ = 1000, bytes_per_us_per_block_ = 1;
  int sms_ = 1;
};

// A workload: a task graph whose launchers refer to buffers held by the calibrated device.
struct workload {
  std::string name;
  std::string description;
  opara::cuda::task_graph graph;
};

inline opara::node_id add_node(workload& w, calibrated_device& dev, const std::string& name, const node_spec& s) {
  stamp* st = nullptr;
  if (dev.stamps) {
    const std::size_t v = w.graph.num_nodes();
    if (v >= dev.stamp_capacity) throw std::length_error("bench: more nodes than the stamp buffer holds");
    st = dev.stamps + v;
  }
  return w.graph.add(name, dev.make(s, st), s.memory ? opara::boundness::memory : opara::boundness::compute,
                     dev.programmatic ? opara::input_wait::programmatic : opara::input_wait::full);
}

// One source, `width` independent small kernels, one sink.
inline workload wide_fanout(calibrated_device& dev, int width = 64) {
  workload w{"fanout" + std::to_string(width), "1 -> " + std::to_string(width) + " independent 8 us kernels (2 blocks) -> 1", {}};
  const auto src = add_node(w, dev, "src", {false, 1, 128, 0, 8, 2});
  const auto sink = add_node(w, dev, "sink", {false, 1, 128, 0, 8, 2});
  for (int i = 0; i < width; ++i) {
    const auto v = add_node(w, dev, "k" + std::to_string(i), {false, 2, 128, 0, 8, 8});
    w.graph.depends(src, v);
    w.graph.depends(v, sink);
  }
  return w;
}

// A dependent chain: nothing to overlap; measures each policy's overhead.
inline workload deep_chain(calibrated_device& dev, int length = 64) {
  workload w{"chain" + std::to_string(length), std::to_string(length) + " dependent 4 us kernels", {}};
  opara::node_id prev = 0;
  for (int i = 0; i < length; ++i) {
    const auto v = add_node(w, dev, "c" + std::to_string(i), {false, 4, 128, 0, 8, 4});
    if (i) w.graph.depends(prev, v);
    prev = v;
  }
  return w;
}

// Random layered DAG: `layers` x `width`, each node depends on 1-3 nodes of the previous layer.
inline workload random_layered(calibrated_device& dev, int layers = 12, int width = 8, unsigned seed = 7) {
  workload w{"layered" + std::to_string(layers) + "x" + std::to_string(width),
             "random layered DAG, 2-20 us kernels of 1-16 blocks", {}};
  std::mt19937 rng(seed);
  std::vector<opara::node_id> prev, cur;
  for (int l = 0; l < layers; ++l) {
    cur.clear();
    for (int i = 0; i < width; ++i) {
      node_spec s;
      s.blocks = 1u << std::uniform_int_distribution<int>(0, 4)(rng);
      s.threads = 128;
      s.target_us = std::uniform_real_distribution<double>(2, 20)(rng);
      s.regs = 8;
      const auto v = add_node(w, dev, "L" + std::to_string(l) + "_" + std::to_string(i), s);
      if (!prev.empty()) {
        const int k = std::uniform_int_distribution<int>(1, 3)(rng);
        for (int j = 0; j < k; ++j) w.graph.depends(prev[std::uniform_int_distribution<std::size_t>(0, prev.size() - 1)(rng)], v);
      }
      cur.push_back(v);
    }
    prev = cur;
  }
  return w;
}

// Memory- and compute-bound kernels mixed, where launch order matters: in each stage a few heavy
// compute kernels that fill every SM's shared memory (one block per SM) and many light memory
// kernels. Launching the heavy ones first blocks the light ones behind them (no preemption).
inline workload mixed_bound(calibrated_device& dev, int stages = 6) {
  workload w{"mixed" + std::to_string(stages), "stages of 3 smem-heavy compute + 8 light memory kernels", {}};
  const unsigned sms = static_cast<unsigned>(dev.sm_count());
  opara::node_id join = add_node(w, dev, "input", {true, 8, 256, 0, 8, 2});
  for (int s = 0; s < stages; ++s) {
    std::vector<opara::node_id> stage;
    for (int i = 0; i < 3; ++i)
      stage.push_back(add_node(w, dev, "S" + std::to_string(s) + "_heavy" + std::to_string(i),
                               {false, sms, 256, 160 * 1024, 64, 15}));
    for (int i = 0; i < 8; ++i)
      stage.push_back(add_node(w, dev, "S" + std::to_string(s) + "_mem" + std::to_string(i), {true, 8, 256, 0, 8, 6}));
    const auto next = add_node(w, dev, "S" + std::to_string(s) + "_join", {true, 8, 256, 0, 8, 2});
    for (auto v : stage) {
      w.graph.depends(join, v);
      w.graph.depends(v, next);
    }
    join = next;
  }
  return w;
}

} // namespace bench
