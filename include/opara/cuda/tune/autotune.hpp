#pragma once
//! opara::autotune: a scheduler that picks itself, in a fraction of a second. It profiles the
//! user's graph once, plans it with every candidate scheduler (cheap), ranks the plans by the
//! makespan the GPU model predicts (model/gpu_model.hpp), and captures and replays only the few
//! candidates the model cannot separate (cuda/tune/select.hpp: within a tolerance of the predicted
//! best, at most a few, at least two so that the winner's margin is measured). Their replays race:
//! a candidate leaves as soon as it is clearly slower than the leader, and its executable is
//! released at once. The winner's executable, the very instance that was timed, is returned; the
//! choice is remembered in a JSON cache (cuda/tune/cache.hpp) keyed by device (name, SM count,
//! UUID), driver (CUDA version and release), graph fingerprint and the caller's user_key, so the
//! next start compiles only the winner. Tuners in several threads or processes may share one cache
//! file (its updates are locked and merged); compile() is const and may be called from several
//! threads, for the device of the stream it is given, like scheduler::compile. A cache entry made
//! for another candidate list is ignored (and said so on stderr): the candidates changed, so the old
//! winner means nothing. Candidates are told apart by their label() ("round_robin[4]/program_order/
//! stream_capture"), which each policy gives itself.
//!
//!   opara::autotune tuner;                           // opara's default candidates
//!   tuner.options.cache_path = "model.tune.json";
//!   tuner.options.mode = opara::tune::replay_mode::back_to_back;  // tune for throughput
//!   opara::autotune_report why;
//!   auto run = tuner.compile(net, stream, &why);     // why.label: the winner, why.margin: by how much
//!
//!   opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
//!                      opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
//!       mine;                                        // candidates of your own

#include <opara/cuda/profiler/cupti.hpp>
#include <opara/cuda/scheduler.hpp>
#include <opara/cuda/tune/cache.hpp>
#include <opara/cuda/tune/measure.hpp>
#include <opara/cuda/tune/select.hpp>
#include <opara/cuda/tune/timing.hpp>
#include <opara/gpu_model/model.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/model_guided.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/model_guided.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace opara {

//! How autotune chooses and where it remembers.
struct autotune_options {
  std::filesystem::path cache_path;    //!< JSON cache of choices (empty: measure every time)
  bool reuse = true;                   //!< use a matching cache entry instead of measuring
  //! How long storing the choice waits for the cache's lock (a holder may be stopped); then the
  //! winner is returned unremembered, as when the cache cannot be written (said on stderr and in
  //! autotune_report::cache_failure), unless cache_write_required.
  std::chrono::milliseconds cache_lock_timeout = tune::autotune_cache::default_lock_timeout;
  bool cache_write_required = false;   //!< a choice that cannot be stored throws instead (opara::error)
  tune::replay_mode mode = tune::replay_mode::isolated;  //!< tune for one inference's latency, or
                                                         //!< for inferences queued back to back
  //! warmup: untimed replays per measured candidate before its first turn (one before each later
  //! turn); replays: at most this many samples each (min_samples is cut to it); flush_l2:
  //! overwrite the L2 before each sample (isolated mode only).
  tune::timing_options timing{2, 30, false};
  int round = 5;                       //!< samples per candidate per turn in the race (tune::race_options)
  int min_samples = 10;                //!< samples of each before one is dropped (two turns: see select.hpp)
  double budget_ms = 150;              //!< the race stops after the round in which its replays add up to this
  int batch = 4;                       //!< back_to_back: replays queued per sample
  tune::shortlist_options shortlist{}; //!< which predictions are too close to call (measured)
  gpu_model model{};                   //!< the costs the plans are ranked with
  //! How the profile shared by all candidates is taken. One profiled run after one warm-up run
  //! (the warm-up loads the modules): on an H200 (bench/autotune, three runs) a profile of 3 runs
  //! shortlisted the same candidates on both graphs and took twice as long (115 against 60 ms for
  //! 2,000 operators); the shortlist's tolerance is far wider than the profile's run-to-run spread.
  cuda::profiler_options profiler{1, 1};
  std::string user_key;                //!< the caller's own part of the cache key (e.g. "batch=8")
};

//! What autotune did and what it cost. Per-candidate vectors are in the candidates' order; they
//! are empty when the choice came from the cache (nothing was planned but the winner).
struct autotune_report {
  std::vector<std::string> labels;
  std::vector<double> predicted_us;    //!< the model's makespan for each plan (NaN: no profile)
  std::vector<std::size_t> same_plan_as;  //!< the first candidate with the same plan and capture (itself when none)
  std::vector<bool> measured;          //!< compiled and replayed (the model could not rule it out)
  std::vector<double> median_us;       //!< median replay time (NaN: not measured)
  std::vector<std::size_t> samples;    //!< samples taken of each (0: not measured)
  std::size_t choice = 0;
  std::string label;                   //!< labels[choice]
  std::size_t runner_up = 0;           //!< the measured candidate with the next-best median (== choice: none)
  double margin = 0;                   //!< runner-up's median / winner's - 1 (0 with fewer than two measured)
  bool clear = false;                  //!< the race ended because one candidate was left (not on a limit)
  bool reused = false;                 //!< the choice came from the cache
  std::string cache_failure;           //!< why the measured choice was not stored (empty: it was, or no cache)
  tune::replay_mode mode = tune::replay_mode::isolated;  //!< what the medians mean
  double profile_ms = 0;               //!< taking the profile (0 when the caller gave it)
  double plan_ms = 0;                  //!< planning every candidate and predicting each plan
  double capture_ms = 0;               //!< capturing and instantiating the measured candidates
  double measure_ms = 0;               //!< warm-up and timed replays (wall clock)
  double total_ms = 0;                 //!< the whole compile(), profile included
};

//! Compiles with whichever of the candidate schedulers runs fastest on this device and graph.
//! The profile all candidates plan with is taken once, by the first candidate's profiler, with
//! options.profiler.
template <class... Candidates>
  requires(sizeof...(Candidates) > 0)
struct autotune_of {
  std::tuple<Candidates...> candidates{};
  autotune_options options{};

  //! Profiles once, then ranks, measures (or recalls) and compiles the winner, for the device of
  //! `stream`. A torn, foreign or old cache is said on stderr and measured again. Throws like
  //! scheduler::compile, bad_policy for unusable timing, race or shortlist options, opara::error
  //! when the cache cannot be read (a directory, a FIFO, a device) or, with
  //! options.cache_write_required, locked or written (otherwise that is said on stderr and in
  //! report->cache_failure, and the winner is returned all the same).
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream, autotune_report* report = nullptr) const {
    using profiler_type = typename std::tuple_element_t<0, std::tuple<Candidates...>>::profiler_policy;
    const auto start = std::chrono::steady_clock::now();
    const cuda::device_guard on_stream_device(cuda::device_of(stream));
    return cuda::detail::with_compact_graph(g, [&](const opara::graph& compact) {
      if constexpr (profiler_type::measures) {
        const opara::profile measured = profiler_type::measure(g, compact, stream, options.profiler);
        const double profile_ms = opara::detail::ms_since(start);
        return choose(g, compact, stream, &measured, report, start, profile_ms);
      } else {
        return choose(g, compact, stream, nullptr, report, start, 0.0);
      }
    });
  }

  //! Like compile(g, stream, report), with a profile the caller already has.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream, const opara::profile& given,
                                   autotune_report* report = nullptr) const {
    const auto start = std::chrono::steady_clock::now();
    const cuda::device_guard on_stream_device(cuda::device_of(stream));
    return cuda::detail::with_compact_graph(
        g, [&](const opara::graph& compact) { return choose(g, compact, stream, &given, report, start, 0.0); });
  }

  //! The candidates' labels, in order.
  [[nodiscard]] std::vector<std::string> labels() const {
    std::vector<std::string> out;
    std::apply([&](const auto&... candidate) { (out.push_back(candidate.label()), ...); }, candidates);
    return out;
  }

  //! Calls body(candidate) with the candidate scheduler at `index` (autotune_report::choice: the
  //! winner), e.g. to capture another graph the way the winner was captured.
  template <class Body>
  void with_candidate(std::size_t index, Body&& body) const {
    std::size_t at = 0;
    std::apply([&](const auto&... candidate) { ((at++ == index ? (void)body(candidate) : (void)0), ...); }, candidates);
  }

private:
  //! The candidate's plan (make_plan hands the profile to a stream policy that reads one).
  template <class Candidate>
  static plan plan_one(const Candidate& candidate, const opara::graph& compact, const opara::profile* prof) {
    plan planned = make_plan(compact, prof, candidate.options.plan, candidate.streams, candidate.order);
    if (candidate.options.validate) validate(planned, compact);
    return planned;
  }

  template <class Candidate, class G>
  static executable capture_one(const Candidate& candidate, const G& g, const plan& planned, cudaStream_t stream) {
    return candidate.capture.capture(g, planned, stream, candidate.options.capture);
  }

  static bool same_plan(const plan& a, const plan& b) {
    return a.order == b.order && a.stream_of == b.stream_of && a.wait_begin == b.wait_begin && a.wait_on == b.wait_on;
  }
  //! What a candidate's capture adds to its plan: its label after the stream and order policies
  //! ("stream_capture+own_carveout"). Two candidates run alike only when plan and capture agree.
  static std::string_view capture_part(std::string_view label) {
    const auto first = label.find('/');
    const auto second = first == std::string_view::npos ? first : label.find('/', first + 1);
    return second == std::string_view::npos ? label : label.substr(second + 1);
  }

  template <class G>
  executable choose(const G& g, const opara::graph& compact, cudaStream_t stream, const opara::profile* prof,
                    autotune_report* report, std::chrono::steady_clock::time_point start, double profile_ms) const {
    tune::check_timing_options(options.timing);
    if (options.timing.flush_l2 && options.mode == tune::replay_mode::back_to_back)
      throw bad_policy("opara::autotune: timing.flush_l2 needs replay_mode::isolated (a back-to-back batch has no gap to flush in)");
    if (options.mode == tune::replay_mode::back_to_back && options.batch < 1)
      throw bad_policy("opara::autotune: options.batch is " + std::to_string(options.batch) +
                       "; a back-to-back sample needs at least 1 replay");
    // A back-to-back sample is the mean of `batch` replays: the budget counts every replay.
    const double replays_per_sample = options.mode == tune::replay_mode::back_to_back ? options.batch : 1;
    const tune::race_options race_settings{options.round, std::min(options.min_samples, options.timing.replays),
                                           options.timing.replays, options.budget_ms * 1000.0 / replays_per_sample};
    tune::check_race_options(race_settings);
    tune::check_shortlist_options(options.shortlist);
    autotune_report decision;
    decision.labels = labels();
    decision.mode = options.mode;
    decision.profile_ms = profile_ms;
    const std::size_t count = decision.labels.size();
    const profile_key key = cuda::current_key(compact, options.user_key);
    std::optional<tune::autotune_cache> cache;
    if (!options.cache_path.empty()) cache.emplace(options.cache_path, options.cache_lock_timeout);

    executable winner;
    std::optional<std::size_t> remembered;
    if (cache && options.reuse) remembered = cache->lookup(key, decision.labels);
    if (remembered) {
      decision.choice = *remembered;
      decision.runner_up = decision.choice;
      decision.reused = true;
      with_candidate(decision.choice, [&](const auto& candidate) {
        auto phase = std::chrono::steady_clock::now();
        const plan planned = plan_one(candidate, compact, prof);
        decision.plan_ms = opara::detail::ms_since(phase);
        phase = std::chrono::steady_clock::now();
        winner = capture_one(candidate, g, planned, stream);
        decision.capture_ms = opara::detail::ms_since(phase);
      });
    } else {
      // Plan every candidate and rank the plans by the model's makespan.
      auto phase = std::chrono::steady_clock::now();
      std::vector<plan> plans(count);
      decision.predicted_us.assign(count, std::numeric_limits<double>::quiet_NaN());
      decision.same_plan_as.resize(count);
      std::vector<std::size_t> plan_of(count);  // the first candidate with the same plan, any capture
      for (std::size_t i = 0; i < count; ++i) {
        with_candidate(i, [&](const auto& candidate) { plans[i] = plan_one(candidate, compact, prof); });
        if (prof) decision.predicted_us[i] = predicted_makespan_us(compact, plans[i], *prof, options.model);
        decision.same_plan_as[i] = i;
        plan_of[i] = i;
        for (std::size_t k = 0; k < i; ++k)
          if (plan_of[k] == k && same_plan(plans[k], plans[i])) {
            plan_of[i] = k;
            break;
          }
        for (std::size_t k = 0; k < i; ++k)
          if (decision.same_plan_as[k] == k && plan_of[k] == plan_of[i] &&
              capture_part(decision.labels[k]) == capture_part(decision.labels[i])) {
            decision.same_plan_as[i] = k;
            break;
          }
      }
      const std::vector<std::size_t> shortlisted =
          tune::shortlist(decision.predicted_us, decision.same_plan_as, options.shortlist, plan_of);
      decision.plan_ms = opara::detail::ms_since(phase);

      // Capture only the shortlisted candidates.
      phase = std::chrono::steady_clock::now();
      decision.measured.assign(count, false);
      decision.median_us.assign(count, std::numeric_limits<double>::quiet_NaN());
      decision.samples.assign(count, 0);
      std::vector<std::optional<executable>> compiled(shortlisted.size());
      for (std::size_t k = 0; k < shortlisted.size(); ++k) {
        const std::size_t i = shortlisted[k];
        with_candidate(i, [&](const auto& candidate) { compiled[k].emplace(capture_one(candidate, g, plans[i], stream)); });
        compiled[k]->stats().plan_ms = decision.plan_ms;
        decision.measured[i] = true;
      }
      decision.capture_ms = opara::detail::ms_since(phase);

      // Race them; a candidate that falls behind is released at once.
      phase = std::chrono::steady_clock::now();
      std::size_t won = 0;
      if (shortlisted.size() > 1) {
        const tune::replay_sampler sampler(stream, options.mode, options.batch, options.timing.flush_l2);
        std::vector<bool> warmed(shortlisted.size(), false);
        // Candidates take turns, so each turn starts with one untimed replay too: on an H200 a
        // 2,000-operator graph timed right after other graphs ran ~1.5x its steady replay time.
        const tune::race_result raced = tune::race(
            shortlisted.size(),
            [&](std::size_t k, int n) {
              sampler.warm_up(*compiled[k], warmed[k] ? 1 : std::max(options.timing.warmup, 1));
              warmed[k] = true;
              return sampler.sample(*compiled[k], n);
            },
            [&](std::size_t k) { compiled[k].reset(); }, race_settings);
        for (std::size_t k = 0; k < shortlisted.size(); ++k) {
          decision.median_us[shortlisted[k]] = raced.median_us[k];
          decision.samples[shortlisted[k]] = raced.samples[k];
        }
        won = raced.winner;
        decision.runner_up = shortlisted[raced.runner_up];
        decision.margin = raced.margin;
        decision.clear = raced.clear;
      } else {
        decision.runner_up = shortlisted.at(0);
        decision.clear = true;  // one distinct plan: nothing to race
      }
      decision.measure_ms = opara::detail::ms_since(phase);
      decision.choice = shortlisted.at(won);
      winner = std::move(*compiled[won]);
      compiled.clear();
      if (cache) {
        const tune::cache_entry entry{key, decision.labels, decision.choice, decision.median_us};
        if (options.cache_write_required) cache->store(entry);
        else decision.cache_failure = cache->try_store(entry);
      }
    }
    decision.label = decision.labels[decision.choice];
    winner.stats().plan_ms = decision.plan_ms;
    winner.stats().profile_ms = profile_ms;
    if (prof) winner.set_profile(*prof);
    decision.total_ms = opara::detail::ms_since(start);
    if (report) *report = std::move(decision);
    return winner;
  }
};

//! opara's default candidates: Opara's own policies (greedy streams, resource-aware order), the
//! fewest streams (minimum path cover) and round-robin over 4 streams, each in program order and
//! critical-path-first order, the model-guided policies, and the default scheduler captured two
//! more ways. On the H100 the winner differed per workload (bench/results), which is
//! why a measured choice beats any fixed default. Stream capture only: explicit_graph gave the
//! same replay times for the same plan in every bench run. The last two candidates plan like the
//! third and differ in their capture only: each kernel's own shared-memory carveout instead of
//! one (capture_options::shared_carveout = -1: for kernels that rely on L1), and one graph instead of
//! two launch segments (capture_options::launch_segments = 1: for back-to-back replays, which pay
//! for a cut without its gain). The model predicts a plan alike however it is captured, so the
//! shortlist measures every capture of a shortlisted plan (tune::shortlist's plan_of), and the race
//! decides.
using default_candidates = autotune_of<
    scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::program_order, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::min_path_cover, order::program_order, capture::stream_capture>,
    scheduler<streams::min_path_cover, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::round_robin, order::program_order, capture::stream_capture>,
    scheduler<streams::round_robin, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::model_guided, order::model_guided, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::critical_path_first, capture::stream_capture>>;

//! autotune with opara's default candidates (default_candidates; the last two's capture options set).
struct autotune : default_candidates {
  autotune() {
    std::get<8>(candidates).options.capture.shared_carveout = -1;
    std::get<9>(candidates).options.capture.launch_segments = 1;
  }
};

} // namespace opara
