#pragma once
//! opara::autotune: a scheduler that picks itself. It compiles each candidate scheduler for the
//! user's graph, times their replays on the user's GPU, keeps the fastest, and remembers the
//! choice in a JSON cache (cuda/tune/cache.hpp) keyed by device (name, SM count, UUID), driver
//! (CUDA version and release), graph fingerprint and the caller's user_key, so the next start
//! compiles only the winner. Tuners in several threads or processes may share one cache file (its
//! updates are locked and merged); compile() is const and may be called from several threads, for
//! the device of the stream it is given, like scheduler::compile. A cache entry made for another
//! candidate list is ignored (and said so on stderr): the candidates changed, so the old winner
//! means nothing. Candidates are told apart by their label() ("round_robin[4]/program_order/
//! stream_capture"), which each policy gives itself.
//!
//!   opara::autotune tuner;                           // opara's default candidates
//!   tuner.options.cache_path = "model.tune.json";
//!   opara::autotune_report why;
//!   auto run = tuner.compile(net, stream, &why);     // why.label: the winner
//!
//!   opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
//!                      opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
//!       mine;                                        // candidates of your own

#include <opara/cuda/profiler/cupti.hpp>
#include <opara/cuda/scheduler.hpp>
#include <opara/cuda/tune/cache.hpp>
#include <opara/cuda/tune/measure.hpp>
#include <opara/cuda/tune/timing.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace opara {

//! How autotune measures and where it remembers.
struct autotune_options {
  std::filesystem::path cache_path;    //!< JSON cache of choices (empty: measure every time)
  bool reuse = true;                   //!< use a matching cache entry instead of measuring
  tune::timing_options timing{10, 100, false};
  cuda::profiler_options profiler{};   //!< how the profile shared by all candidates is taken
  std::string user_key;                //!< the caller's own part of the cache key (e.g. "batch=8")
};

//! What autotune did: the candidates' labels and median replay times, and the winner.
struct autotune_report {
  std::vector<std::string> labels;
  std::vector<double> median_us;  //!< empty when the choice came from the cache
  std::size_t choice = 0;
  std::string label;              //!< labels[choice]
  bool reused = false;            //!< the choice came from the cache
};

//! Compiles with whichever of the candidate schedulers runs fastest on this device and graph.
//! The profile all candidates plan with is taken once, by the first candidate's profiler.
template <class... Candidates>
  requires(sizeof...(Candidates) > 0)
struct autotune_of {
  std::tuple<Candidates...> candidates{};
  autotune_options options{};

  //! Profiles once, then measures (or recalls) and compiles the winner, for the device of `stream`.
  //! A torn, foreign or old cache is said on stderr and measured again. Throws like
  //! scheduler::compile, bad_policy for unusable timing options, opara::error when the cache
  //! cannot be locked or written.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream, autotune_report* report = nullptr) const {
    using profiler_type = typename std::tuple_element_t<0, std::tuple<Candidates...>>::profiler_policy;
    const cuda::device_guard on_stream_device(cuda::device_of(stream));
    return cuda::detail::with_compact_graph(g, [&](const opara::graph& compact) {
      if constexpr (profiler_type::measures) {
        const opara::profile measured = profiler_type::measure(g, compact, stream, options.profiler);
        return choose(g, compact, stream, &measured, report);
      } else {
        return choose(g, compact, stream, nullptr, report);
      }
    });
  }

  //! Like compile(g, stream, report), with a profile the caller already has.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t stream, const opara::profile& given,
                                   autotune_report* report = nullptr) const {
    const cuda::device_guard on_stream_device(cuda::device_of(stream));
    return cuda::detail::with_compact_graph(
        g, [&](const opara::graph& compact) { return choose(g, compact, stream, &given, report); });
  }

  //! The candidates' labels, in order.
  [[nodiscard]] std::vector<std::string> labels() const {
    std::vector<std::string> out;
    std::apply([&](const auto&... candidate) { (out.push_back(candidate.label()), ...); }, candidates);
    return out;
  }

private:
  template <class G>
  executable choose(const G& g, const opara::graph& compact, cudaStream_t stream, const opara::profile* prof,
                    autotune_report* report) const {
    tune::check_timing_options(options.timing);
    autotune_report decision;
    decision.labels = labels();
    const profile_key key = cuda::current_key(compact, options.user_key);
    std::optional<tune::autotune_cache> cache;
    if (!options.cache_path.empty()) cache.emplace(options.cache_path);

    executable winner;
    std::optional<std::size_t> remembered;
    if (cache && options.reuse) remembered = cache->lookup(key, decision.labels);
    if (remembered) {
      decision.choice = *remembered;
      decision.reused = true;
      std::size_t index = 0;
      std::apply([&](const auto&... candidate) {
        ((index++ == decision.choice ? (void)(winner = compile_one(candidate, g, stream, prof)) : (void)0), ...);
      }, candidates);
    } else {
      // The winner is the very executable that was measured, not a fresh compile of it: no second
      // capture and instantiation, and the instance that was timed is the one the caller runs.
      decision.median_us.assign(decision.labels.size(), 0.0);
      std::size_t index = 0;
      auto measure = [&](const auto& candidate) {
        executable compiled = compile_one(candidate, g, stream, prof);
        decision.median_us[index] = tune::time_replays(compiled, stream, options.timing).median_us;
        if (index == 0 || decision.median_us[index] < decision.median_us[decision.choice]) {
          decision.choice = index;
          winner = std::move(compiled);
        }
        ++index;
      };
      std::apply([&](const auto&... candidate) { (measure(candidate), ...); }, candidates);
      if (cache) cache->store({key, decision.labels, decision.choice, decision.median_us});
    }
    decision.label = decision.labels[decision.choice];
    if (report) *report = std::move(decision);
    return winner;
  }

  template <class Candidate, class G>
  static executable compile_one(const Candidate& candidate, const G& g, cudaStream_t stream, const opara::profile* prof) {
    return prof ? candidate.compile(g, stream, *prof) : candidate.compile(g, stream);
  }
};

//! opara's default candidates: Opara's own policies (greedy streams, resource-aware order), the
//! fewest streams (minimum path cover) and round-robin over 4 streams, each in program order and
//! critical-path-first order. On the H100 the winner differed per workload (bench/results), which
//! is why a measured choice beats any fixed default. Stream capture only: explicit_graph gave the
//! same replay times for the same plan in every bench run.
using autotune = autotune_of<
    scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::program_order, capture::stream_capture>,
    scheduler<streams::opara_greedy, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::min_path_cover, order::program_order, capture::stream_capture>,
    scheduler<streams::min_path_cover, order::critical_path_first, capture::stream_capture>,
    scheduler<streams::round_robin, order::program_order, capture::stream_capture>,
    scheduler<streams::round_robin, order::critical_path_first, capture::stream_capture>>;

} // namespace opara
