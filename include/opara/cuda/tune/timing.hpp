#pragma once
//! What timing replays means, apart from the GPU: the options (how many warm-up and timed replays)
//! and the summary statistics of the samples. No CUDA here; cuda/tune/measure.hpp does the timing.

#include <opara/error.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace opara::tune {

//! What a replay time means: the latency of one inference alone, or the time per inference when
//! they are queued back to back (the next replay's launch overlaps the previous one's tail).
enum class replay_mode : unsigned char {
  isolated,      //!< each replay between its own pair of events, synchronized before the next
  back_to_back,  //!< a batch of replays queued at once, events around the batch, time / batch size
};

//! "isolated" or "back_to_back".
[[nodiscard]] inline const char* replay_mode_name(replay_mode mode) noexcept {
  return mode == replay_mode::isolated ? "isolated" : "back_to_back";
}

//! How to time replays.
struct timing_options {
  int warmup = 20;         //!< untimed replays first; at least 0
  int replays = 200;       //!< timed replays (each between its own pair of events); at least 1
  bool flush_l2 = false;   //!< overwrite a buffer twice the L2 size before each timed replay
};

//! Throws bad_policy naming the field when `options` cannot be carried out (a negative count, or
//! no timed replay at all, whose "median" of 0 would win every comparison).
inline void check_timing_options(const timing_options& options) {
  if (options.warmup < 0)
    throw bad_policy("opara::tune: timing_options::warmup is " + std::to_string(options.warmup) +
                     "; it must be 0 or more");
  if (options.replays < 1)
    throw bad_policy("opara::tune: timing_options::replays is " + std::to_string(options.replays) +
                     "; at least one timed replay is needed");
}

//! Median, minimum, 90th percentile and mean of a set of samples (microseconds).
struct timing_summary {
  double median_us = 0, min_us = 0, p90_us = 0, mean_us = 0;
  std::size_t samples = 0;
};

namespace detail {
//! The median of sorted, non-empty samples.
[[nodiscard]] inline double median_of_sorted(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}
} // namespace detail

//! Summarizes samples; empty input gives all zeros.
[[nodiscard]] inline timing_summary summarize(std::vector<double> samples_us) {
  timing_summary summary;
  if (samples_us.empty()) return summary;
  std::sort(samples_us.begin(), samples_us.end());
  const std::size_t count = samples_us.size();
  summary.samples = count;
  summary.min_us = samples_us.front();
  summary.median_us = detail::median_of_sorted(samples_us);
  summary.p90_us = samples_us[std::min(count - 1, static_cast<std::size_t>(0.9 * static_cast<double>(count)))];
  double sum = 0;
  for (double sample : samples_us) sum += sample;
  summary.mean_us = sum / static_cast<double>(count);
  return summary;
}

} // namespace opara::tune
