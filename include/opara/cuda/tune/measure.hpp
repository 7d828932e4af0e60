#pragma once
//! Timing of executables the way the bench suite and autotune need it: CUDA events around each
//! replay, after warm-up, optionally flushing L2 between replays; summary statistics
//! (cuda/tune/timing.hpp).

#include <opara/cuda/error.hpp>
#include <opara/cuda/executable.hpp>
#include <opara/cuda/handles.hpp>
#include <opara/cuda/tune/timing.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <vector>

namespace opara::tune {

//! Times `run(stream)` (anything enqueuing work on a stream: an executable, a lambda).
//! Throws bad_policy for unusable options (before anything runs), cuda_error.
template <class Run>
[[nodiscard]] timing_summary time_on_stream(Run&& run, cudaStream_t stream, const timing_options& options = {}) {
  check_timing_options(options);
  void* flush = nullptr;
  std::size_t flush_bytes = 0;
  if (options.flush_l2) {
    int device = 0, l2_bytes = 0;
    OPARA_CUDA_CHECK(cudaGetDevice(&device));
    OPARA_CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    flush_bytes = 2 * static_cast<std::size_t>(l2_bytes);
    OPARA_CUDA_CHECK(cudaMalloc(&flush, flush_bytes));
  }
  struct freer {
    void* buffer;
    ~freer() {
      if (buffer) OPARA_CUDA_CHECK_NOTHROW(cudaFree(buffer));
    }
  } guard{flush};
  for (int i = 0; i < options.warmup; ++i) run(stream);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(stream));
  const auto start = cuda::event_handle::create(cudaEventDefault);
  const auto stop = cuda::event_handle::create(cudaEventDefault);
  std::vector<double> samples_us;
  samples_us.reserve(static_cast<std::size_t>(options.replays));
  for (int i = 0; i < options.replays; ++i) {
    if (flush) OPARA_CUDA_CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, stream));
    OPARA_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    run(stream);
    OPARA_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    OPARA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float elapsed_ms = 0;
    OPARA_CUDA_CHECK(cudaEventElapsedTime(&elapsed_ms, start.get(), stop.get()));
    samples_us.push_back(1000.0 * elapsed_ms);
  }
  return summarize(std::move(samples_us));
}

//! Times replays of an executable on `stream`. Throws like time_on_stream.
[[nodiscard]] inline timing_summary time_replays(const executable& exe, cudaStream_t stream,
                                                 const timing_options& options = {}) {
  return time_on_stream([&](cudaStream_t replay_stream) { exe(replay_stream); }, stream, options);
}

} // namespace opara::tune
