#pragma once
//! Timing helpers shared by the model benches (googlenet_bench, inception_v3_bench) and the
//! inception_block example: CUDA-event medians and a plain one-stream CUDA Graph (the baseline opara
//! is compared against).

#include <opara/cuda/runtime/timed_event.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <random>
#include <vector>

#include "engine.hpp"

namespace convnet {

//! Median (and spread) of per-run times, each bracketed by its own pair of CUDA events
//! (opara::cuda::event_timer).
struct timing {
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
  int runs = 0;
};

//! back_to_back: runs are enqueued one after another (the GPU never idles; what a server under load
//! sees). isolated: the host waits for each run before launching the next (the GPU starts idle and
//! the launch latency is included; what a single request sees).
enum class timing_mode { back_to_back, isolated };

inline timing time_runs(const std::function<void(cudaStream_t)>& run, cudaStream_t s, int reps = 300,
                        int warmup = 30, timing_mode mode = timing_mode::back_to_back) {
  for (int i = 0; i < warmup; ++i) run(s);
  engine_check(cudaStreamSynchronize(s), "warm-up");
  std::vector<opara::cuda::event_timer> timers(static_cast<std::size_t>(reps));
  for (const auto& timer : timers) {
    timer.start(s);
    run(s);
    timer.stop(s);
    if (mode == timing_mode::isolated) engine_check(cudaStreamSynchronize(s), "isolated run");
  }
  engine_check(cudaStreamSynchronize(s), "timed runs");
  std::vector<double> t;
  t.reserve(timers.size());
  for (const auto& timer : timers) t.push_back(std::chrono::duration<double, std::milli>(timer.elapsed()).count());
  std::sort(t.begin(), t.end());
  return {t[reps / 2], t[reps / 10], t[reps * 9 / 10], reps};
}

//! The engine captured on one stream, in program order: the "sequential CUDA Graph".
class sequential_graph {
public:
  sequential_graph(const engine& e, cudaStream_t s) {
    engine_check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      e.enqueue_all(s);
    } catch (...) {
      cudaGraph_t g = nullptr;
      cudaStreamEndCapture(s, &g);
      if (g) cudaGraphDestroy(g);
      throw;
    }
    engine_check(cudaStreamEndCapture(s, &graph_), "cudaStreamEndCapture");
    engine_check(cudaGraphInstantiate(&exec_, graph_, 0), "cudaGraphInstantiate");
  }
  sequential_graph(const sequential_graph&) = delete;
  sequential_graph& operator=(const sequential_graph&) = delete;
  ~sequential_graph() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }
  void operator()(cudaStream_t s) const { engine_check(cudaGraphLaunch(exec_, s), "cudaGraphLaunch"); }

private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

//! Seeded uniform(-1, 1) values, never exactly zero.
inline std::vector<float> random_input(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) {
    do x = static_cast<float>(static_cast<double>(rng() >> 11) * 0x1.0p-52 - 1.0); while (x == 0.0f);
  }
  return v;
}

} // namespace convnet
