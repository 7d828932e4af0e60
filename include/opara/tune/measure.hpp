#pragma once
//! Timing of executables the way the bench suite and autotune need it: CUDA events around each
//! replay, after warm-up, optionally flushing L2 between replays; summary statistics.

#include <opara/cuda/error.hpp>
#include <opara/cuda/executable.hpp>
#include <opara/cuda/handles.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace opara::tune {

//! How to time replays.
struct timing_options {
  int warmup = 20;         //!< untimed replays first
  int replays = 200;       //!< timed replays (each between its own pair of events)
  bool flush_l2 = false;   //!< overwrite a buffer twice the L2 size before each timed replay
};

//! Median, minimum and 90th percentile of a set of samples (microseconds).
struct timing_summary {
  double median_us = 0, min_us = 0, p90_us = 0, mean_us = 0;
  std::size_t samples = 0;
};

//! Summarizes samples; empty input gives all zeros.
[[nodiscard]] inline timing_summary summarize(std::vector<double> us) {
  timing_summary s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  s.samples = us.size();
  s.min_us = us.front();
  s.median_us = us.size() % 2 ? us[us.size() / 2] : 0.5 * (us[us.size() / 2 - 1] + us[us.size() / 2]);
  s.p90_us = us[std::min(us.size() - 1, static_cast<std::size_t>(0.9 * static_cast<double>(us.size())))];
  double sum = 0;
  for (double x : us) sum += x;
  s.mean_us = sum / static_cast<double>(us.size());
  return s;
}

//! Times `run(stream)` (anything enqueuing work on a stream: an executable, a lambda).
//! Throws cuda_error.
template <class Run>
[[nodiscard]] timing_summary time_on_stream(Run&& run, cudaStream_t stream, const timing_options& o = {}) {
  void* flush = nullptr;
  std::size_t flush_bytes = 0;
  if (o.flush_l2) {
    int dev = 0, l2 = 0;
    OPARA_CUDA_CHECK(cudaGetDevice(&dev));
    OPARA_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    flush_bytes = 2 * static_cast<std::size_t>(l2);
    OPARA_CUDA_CHECK(cudaMalloc(&flush, flush_bytes));
  }
  struct freer {
    void* p;
    ~freer() { if (p) OPARA_CUDA_CHECK_NOTHROW(cudaFree(p)); }
  } guard{flush};
  for (int i = 0; i < o.warmup; ++i) run(stream);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(stream));
  const auto start = cuda::event::create(cudaEventDefault), stop = cuda::event::create(cudaEventDefault);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(o.replays));
  for (int i = 0; i < o.replays; ++i) {
    if (flush) OPARA_CUDA_CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, stream));
    OPARA_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    run(stream);
    OPARA_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    OPARA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0;
    OPARA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    us.push_back(1000.0 * ms);
  }
  return summarize(std::move(us));
}

//! Times replays of an executable on `stream`.
[[nodiscard]] inline timing_summary time_replays(const executable& exe, cudaStream_t stream, const timing_options& o = {}) {
  return time_on_stream([&](cudaStream_t s) { exe(s); }, stream, o);
}

} // namespace opara::tune
