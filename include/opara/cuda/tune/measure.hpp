#pragma once
//! Timing of executables the way the bench suite and autotune need it: an event_timer
//! (cuda/runtime/timed_event.hpp) around each replay, after warm-up, optionally flushing L2
//! between replays; summary statistics (cuda/tune/timing.hpp).

#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/cuda/tune/timing.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace opara::tune {

//! A device buffer twice the L2 size, overwritten before a timed replay so that it starts with
//! a cold L2 (none when not wanted). Throws cuda_error.
class l2_flush {
public:
  explicit l2_flush(bool wanted) {
    if (!wanted) return;
    int device = 0, l2_bytes = 0;
    OPARA_CUDA_CHECK(cudaGetDevice(&device));
    OPARA_CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    bytes_ = 2 * static_cast<std::size_t>(l2_bytes);
    OPARA_CUDA_CHECK(cudaMalloc(&buffer_, bytes_));
  }
  ~l2_flush() {
    if (buffer_) OPARA_CUDA_CHECK_NOTHROW(cudaFree(buffer_));
  }
  l2_flush(const l2_flush&) = delete;
  l2_flush& operator=(const l2_flush&) = delete;

  //! Enqueues the overwrite on `stream` (nothing when not wanted). Throws cuda_error.
  void operator()(cudaStream_t stream, int pattern) const {
    if (buffer_) OPARA_CUDA_CHECK(cudaMemsetAsync(buffer_, pattern & 0xff, bytes_, stream));
  }

private:
  void* buffer_ = nullptr;
  std::size_t bytes_ = 0;
};

//! Times `run(stream)` (anything enqueuing work on a stream: an executable, a lambda).
//! Throws bad_policy for unusable options (before anything runs), cuda_error.
template <class Run>
[[nodiscard]] timing_summary time_on_stream(Run&& run, cudaStream_t stream, const timing_options& options = {}) {
  check_timing_options(options);
  const l2_flush flush(options.flush_l2);
  for (int i = 0; i < options.warmup; ++i) run(stream);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(stream));
  const cuda::event_timer timer;
  std::vector<double> samples_us;
  samples_us.reserve(static_cast<std::size_t>(options.replays));
  for (int i = 0; i < options.replays; ++i) {
    flush(stream, i);
    samples_us.push_back(timer.time(stream, [&] { run(stream); }).count());
  }
  return summarize(std::move(samples_us));
}

//! Times replays of an executable on `stream`. Throws like time_on_stream.
[[nodiscard]] inline timing_summary time_replays(const executable& exe, cudaStream_t stream,
                                                 const timing_options& options = {}) {
  return time_on_stream([&](cudaStream_t replay_stream) { exe(replay_stream); }, stream, options);
}

//! Samples of an executable's replay time on one stream, taken a few at a time (autotune's race
//! asks for more only while the ranking is unclear). isolated: one sample per replay, each
//! synchronized. back_to_back: one sample per batch of `batch` replays queued together, the
//! batch's time divided by `batch`. `flush_l2`: the L2 is overwritten before each sample. The
//! events (and the flush buffer) are made once per sampler. Not thread-safe.
class replay_sampler {
public:
  //! Throws bad_policy for a batch below 1, cuda_error.
  replay_sampler(cudaStream_t stream, replay_mode mode, int batch = 4, bool flush_l2 = false)
      : stream_(stream), mode_(mode), batch_(checked_batch(mode, batch)), flush_(flush_l2),
        timer_() {}

  //! Runs `warmup` untimed replays of `exe` and waits for them. Throws cuda_error.
  void warm_up(const executable& exe, int warmup) const {
    for (int i = 0; i < warmup; ++i) exe(stream_);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  //! `count` more samples of `exe` (microseconds per replay). Throws cuda_error.
  [[nodiscard]] std::vector<double> sample(const executable& exe, int count) const {
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(std::max(count, 0)));
    for (int i = 0; i < count; ++i) {
      flush_(stream_, i);
      const cuda::gpu_duration batch_time = timer_.time(stream_, [&] {
        for (int k = 0; k < batch_; ++k) exe(stream_);
      });
      out.push_back(batch_time.count() / batch_);
    }
    return out;
  }

  [[nodiscard]] replay_mode mode() const noexcept { return mode_; }
  [[nodiscard]] int batch() const noexcept { return batch_; }

private:
  static int checked_batch(replay_mode mode, int batch) {
    if (mode == replay_mode::isolated) return 1;
    if (batch < 1)
      throw bad_policy("opara::tune: replay_sampler needs a batch of at least 1 replay (got " + std::to_string(batch) + ")");
    return batch;
  }

  cudaStream_t stream_;
  replay_mode mode_;
  int batch_;
  l2_flush flush_;
  cuda::event_timer timer_;
};

} // namespace opara::tune
