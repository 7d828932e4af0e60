#pragma once
//! How autotune decides what to measure and when to stop, apart from the GPU (no CUDA here, so
//! the logic is tested with a fake timer in tests/tune.cpp):
//! - shortlist(): the candidates the GPU model cannot separate. Candidates are ranked by their
//!   plans' predicted makespans (model/gpu_model.hpp); only those within `tolerance` of the
//!   predicted best are measured, at most `max_measured`, at least `min_measured` (so the winner's
//!   margin is always a measured one). A candidate whose plan is the same as a better-ranked one's
//!   is never measured (it would race itself). Candidates with the same plan but another capture
//!   (a carveout, launch segments: the model predicts them alike) are measured with their plan,
//!   beyond max_measured, which counts plans. Without predictions (no profile) all are measured.
//! - race(): replays the shortlisted candidates in rounds (each candidate takes a turn of `round`
//!   samples) and drops a candidate as soon as its samples are clearly slower than the leader's
//!   (its lower quartile above the leader's upper quartile, once each has `min_samples`), so a
//!   clear ranking costs min_samples / round rounds. Samples from two turns or more: on the bench machine a
//!   burst of slow replays (1.3-1.5x for ~10 ms) could fill one candidate's whole turn. It stops
//!   when one candidate is left, when every one has `max_samples`, or when the replays timed so
//!   far add up to `budget_us`.

#include <opara/cuda/tune/timing.hpp>
#include <opara/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace opara::tune {

//! Which candidates the model's predictions leave to be measured.
struct shortlist_options {
  double tolerance = 0.15;        //!< measured: predicted within (1 + tolerance) x the predicted best
  std::size_t max_measured = 3;   //!< at most this many are measured
  std::size_t min_measured = 2;   //!< at least this many (when there are), however far the model puts them
};

//! Throws bad_policy naming the field when `options` cannot be carried out.
inline void check_shortlist_options(const shortlist_options& options) {
  if (!(options.tolerance >= 0) || !std::isfinite(options.tolerance))
    throw bad_policy("opara::autotune: shortlist_options::tolerance is " + std::to_string(options.tolerance) +
                     "; it must be finite and 0 or more");
  if (options.max_measured < 1)
    throw bad_policy("opara::autotune: shortlist_options::max_measured is 0; at least one candidate must be measured");
  if (options.min_measured > options.max_measured)
    throw bad_policy("opara::autotune: shortlist_options::min_measured (" + std::to_string(options.min_measured) +
                     ") is more than max_measured (" + std::to_string(options.max_measured) + ")");
}

//! The candidates to measure, best predicted first. `predicted_us[i]` is candidate i's predicted
//! makespan (NaN: the model could not predict it); `same_plan_as[i]` is the first candidate that
//! runs like i, same plan and same capture (i itself when none; empty: all differ); `plan_of[i]`
//! is the first candidate with i's plan, whatever its capture (empty: every plan is its own). A
//! distinct candidate whose plan_of is a chosen one's is chosen with it, right after it. When any
//! prediction is missing, every distinct candidate is measured, beyond max_measured (the model
//! cannot rank them). Throws bad_policy for unusable options or mismatched sizes.
[[nodiscard]] inline std::vector<std::size_t> shortlist(std::span<const double> predicted_us,
                                                        std::span<const std::size_t> same_plan_as,
                                                        const shortlist_options& options = {},
                                                        std::span<const std::size_t> plan_of = {}) {
  check_shortlist_options(options);
  if (!same_plan_as.empty() && same_plan_as.size() != predicted_us.size())
    throw bad_policy("opara::autotune: shortlist needs one plan identity per prediction");
  if (!plan_of.empty() && plan_of.size() != predicted_us.size())
    throw bad_policy("opara::autotune: shortlist needs one plan per prediction");
  std::vector<std::size_t> distinct;
  for (std::size_t i = 0; i < predicted_us.size(); ++i)
    if (same_plan_as.empty() || same_plan_as[i] == i) distinct.push_back(i);
  const bool all_predicted =
      std::all_of(predicted_us.begin(), predicted_us.end(), [](double t) { return std::isfinite(t); });
  if (!all_predicted) return distinct;
  std::stable_sort(distinct.begin(), distinct.end(),
                   [&](std::size_t a, std::size_t b) { return predicted_us[a] < predicted_us[b]; });
  if (distinct.empty()) return distinct;
  const double limit = predicted_us[distinct.front()] * (1.0 + options.tolerance);
  auto plan_id = [&](std::size_t i) { return plan_of.empty() ? i : plan_of[i]; };
  std::vector<std::size_t> chosen;
  std::size_t plans = 0;
  for (std::size_t i : distinct) {
    if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) continue;  // a variant, already in
    if (plans >= options.max_measured) break;
    if (plans >= options.min_measured && predicted_us[i] > limit) break;
    chosen.push_back(i);
    ++plans;
    for (std::size_t j : distinct)  // the same plan, captured otherwise
      if (j != i && plan_id(j) == plan_id(i)) chosen.push_back(j);
  }
  return chosen;
}

//! When the race over measured candidates stops.
struct race_options {
  int round = 5;           //!< samples per candidate per round (one turn)
  int min_samples = 10;    //!< per candidate before any is dropped
  int max_samples = 30;    //!< per candidate at most
  double budget_us = 150'000;  //!< stop after the round in which the timed replays add up to this
};

//! Throws bad_policy naming the field when `options` cannot be carried out.
inline void check_race_options(const race_options& options) {
  if (options.round < 1)
    throw bad_policy("opara::autotune: race_options::round is " + std::to_string(options.round) +
                     "; at least one sample per round is needed");
  if (options.min_samples < 1)
    throw bad_policy("opara::autotune: race_options::min_samples is " + std::to_string(options.min_samples) +
                     "; at least one sample is needed before a candidate can be dropped");
  if (options.max_samples < options.min_samples)
    throw bad_policy("opara::autotune: race_options::max_samples (" + std::to_string(options.max_samples) +
                     ") is less than min_samples (" + std::to_string(options.min_samples) + ")");
  if (!(options.budget_us > 0))
    throw bad_policy("opara::autotune: race_options::budget_us must be positive");
}

//! What a race found, per raced candidate (in the order they were given).
struct race_result {
  std::vector<double> median_us;       //!< median of each one's samples
  std::vector<std::size_t> samples;    //!< samples each one got
  std::vector<bool> dropped;           //!< left the race early (clearly slower than the leader)
  std::size_t winner = 0;              //!< index into the raced candidates
  std::size_t runner_up = 0;           //!< the next-best median (== winner when only one raced)
  double margin = 0;                   //!< runner-up median / winner median - 1 (0 with one candidate)
  bool clear = false;                  //!< stopped because one was left, not at max_samples or budget
  double timed_us = 0;                 //!< sum of every sample: replay time spent measuring
};

namespace detail {
//! The q-quantile (0..1) of sorted samples, by the nearest rank below.
inline double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[rank];
}
} // namespace detail

//! Races `count` candidates. `sample(i, n)` replays candidate i and returns n more samples
//! (microseconds); `drop(i)` is called once for each candidate as it leaves the race (so its
//! executable can be released at once). Throws bad_policy for unusable options or a sampler that
//! returns another number of samples or a negative or non-finite one; whatever sample throws.
template <class Sample, class Drop>
[[nodiscard]] race_result race(std::size_t count, Sample&& sample, Drop&& drop, const race_options& options = {}) {
  check_race_options(options);
  race_result result;
  if (count == 0) return result;
  result.median_us.assign(count, 0.0);
  result.samples.assign(count, 0);
  result.dropped.assign(count, false);
  std::vector<std::vector<double>> sorted(count);
  std::vector<std::size_t> alive(count);
  std::iota(alive.begin(), alive.end(), std::size_t{0});
  int taken = 0;
  while (true) {
    const int n = std::min(options.round, options.max_samples - taken);
    for (std::size_t i : alive) {
      const std::vector<double> more = sample(i, n);
      if (more.size() != static_cast<std::size_t>(n))
        throw bad_policy("opara::autotune: the sampler returned " + std::to_string(more.size()) + " samples for " +
                         std::to_string(n) + " replays");
      for (double t : more) {
        if (!std::isfinite(t) || t < 0) throw bad_policy("opara::autotune: a replay was timed at " + std::to_string(t) + " us");
        result.timed_us += t;
      }
      sorted[i].insert(sorted[i].end(), more.begin(), more.end());
      std::sort(sorted[i].begin(), sorted[i].end());
      result.median_us[i] = detail::median_of_sorted(sorted[i]);
      result.samples[i] = sorted[i].size();
    }
    taken += n;
    if (taken < options.min_samples && result.timed_us < options.budget_us) continue;
    const std::size_t leader =
        *std::min_element(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) { return result.median_us[a] < result.median_us[b]; });
    const double leader_high = detail::quantile_of_sorted(sorted[leader], 0.75);
    std::erase_if(alive, [&](std::size_t i) {
      if (i == leader || detail::quantile_of_sorted(sorted[i], 0.25) <= leader_high) return false;
      result.dropped[i] = true;
      drop(i);
      return true;
    });
    if (alive.size() == 1) {
      result.clear = true;
      break;
    }
    if (taken >= options.max_samples || result.timed_us >= options.budget_us) break;
  }
  std::vector<std::size_t> ranked(count);
  std::iota(ranked.begin(), ranked.end(), std::size_t{0});
  // The winner is the best median among those still in the race; the runner-up the best of the rest.
  std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) {
    if (result.dropped[a] != result.dropped[b]) return !result.dropped[a];
    return result.median_us[a] < result.median_us[b];
  });
  result.winner = ranked[0];
  result.runner_up = count > 1 ? *std::min_element(ranked.begin() + 1, ranked.end(), [&](std::size_t a, std::size_t b) {
    return result.median_us[a] < result.median_us[b];
  }) : ranked[0];
  result.margin = count > 1 ? result.median_us[result.runner_up] / result.median_us[result.winner] - 1.0 : 0.0;
  return result;
}

} // namespace opara::tune
