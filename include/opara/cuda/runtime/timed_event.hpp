#pragma once
//! The one way opara measures GPU time: a timed_event is an event that keeps a timestamp, and
//! `end - start` is the time between two of them as a std::chrono duration (as in cudax's
//! timed_event). event_timer is the pair around enqueued work, and time_on(stream, f) times one call.
//!
//!   opara::cuda::event_timer t;
//!   t.start(stream); exec.launch(stream); t.stop(stream);
//!   const double us = t.elapsed().count();        // waits for the stop event
//!
//! Every CUDA call is checked (cuda_error). Threads: like the events they own, not synchronized.
#include <opara/cuda/runtime/handles.hpp>

#include <cuda_runtime_api.h>

#include <chrono>
#include <utility>

namespace opara::cuda {

//! GPU time, in microseconds (the unit of opara's profiles and plans).
using gpu_duration = std::chrono::duration<double, std::micro>;

//! An owned event that records a timestamp (created without cudaEventDisableTiming).
class timed_event {
public:
  //! Throws cuda_error when the event cannot be created.
  timed_event() : event_(event_handle::create(cudaEventDefault)) {}

  //! Records the event on `stream`. Throws cuda_error.
  void record(cudaStream_t stream) const { event_.record(stream); }
  //! Blocks until the event has completed. Throws cuda_error.
  void synchronize() const { event_.synchronize(); }
  [[nodiscard]] cudaEvent_t get() const noexcept { return event_.get(); }

  //! The time from `start` to `end`. Both must have been recorded and `end` must have completed
  //! (synchronize it first); otherwise CUDA's error is thrown as cuda_error.
  friend gpu_duration operator-(const timed_event& end, const timed_event& start) {
    float ms = 0.0f;
    OPARA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()));
    return std::chrono::duration<double, std::milli>(ms);
  }

private:
  event_handle event_;
};

//! A start/stop pair of timed events, made once and reused for many measurements.
class event_timer {
public:
  void start(cudaStream_t stream) const { start_.record(stream); }
  void stop(cudaStream_t stream) const { stop_.record(stream); }
  //! Waits for the stop event and returns stop - start. Throws cuda_error.
  [[nodiscard]] gpu_duration elapsed() const {
    stop_.synchronize();
    return stop_ - start_;
  }
  //! Times `f()`, which enqueues work on `stream`: start, f(), stop, elapsed().
  template <class F>
  gpu_duration time(cudaStream_t stream, F&& f) const {
    start(stream);
    std::forward<F>(f)();
    stop(stream);
    return elapsed();
  }

private:
  timed_event start_, stop_;
};

//! Times one call of `f()` (which enqueues work on `stream`) with a fresh pair of events.
template <class F>
gpu_duration time_on(cudaStream_t stream, F&& f) {
  return event_timer{}.time(stream, std::forward<F>(f));
}

} // namespace opara::cuda
