#pragma once
//! opara::autotune: a scheduler that picks itself. It compiles each candidate scheduler for the
//! user's graph, times their replays on the user's GPU, keeps the fastest, and remembers the
//! choice in a JSON cache keyed by device (name, SM count, driver) and graph fingerprint, so the
//! next start compiles only the winner. A cache entry made for another candidate list is ignored
//! (and said so on stderr): the candidates changed, so the old winner means nothing.
//!
//!   opara::autotune<> tuner;                         // opara's default candidates
//!   tuner.options.cache_path = "model.tune.json";
//!   opara::autotune_report why;
//!   auto run = tuner.compile(net, stream, &why);     // why.label: the winner
//!
//! Cache format: {"opara_autotune": 1, "entries": [{"key": {device_name, sm_count,
//! driver_version, graph_fingerprint}, "candidates": [labels...], "choice": index,
//! "median_us": [per candidate]}]}.

#include <opara/cuda/profiler.hpp>
#include <opara/cuda/scheduler.hpp>
#include <opara/detail/json.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/tune/measure.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace opara {

//! A short, stable description of a scheduler's policies, e.g. "round_robin[4]/program_order/stream_capture".
template <class S, class O, class C>
[[nodiscard]] std::string scheduler_label(const scheduler<S, O, C>& s) {
  std::string l(S::name);
  if constexpr (requires { s.streams.streams; }) l += "[" + std::to_string(s.streams.streams) + "]";
  if constexpr (requires { s.streams.max_streams; }) l += "[" + std::to_string(s.streams.max_streams) + "]";
  l += "/";
  l += O::name;
  l += "/";
  l += C::name;
  return l;
}

//! How autotune measures and where it remembers.
struct autotune_options {
  std::filesystem::path cache_path;  //!< JSON cache of choices (empty: measure every time)
  bool reuse = true;                 //!< use a matching cache entry instead of measuring
  tune::timing_options timing{10, 100, false};
  cuda::profiler_options profiler{}; //!< how the profile shared by all candidates is taken
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
template <class... Candidates>
  requires(sizeof...(Candidates) > 0)
struct autotune_of {
  std::tuple<Candidates...> candidates{};
  autotune_options options{};

  //! Profiles once, then measures (or recalls) and compiles the winner. Throws like
  //! scheduler::compile, parse_error for a corrupt cache, opara::error when the cache cannot be written.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t s, autotune_report* report = nullptr) const {
    const opara::profile prof = cuda::profile_graph(g, s, options.profiler);
    return compile(g, s, prof, report);
  }

  //! Like compile(g, s, report), with a profile the caller already has.
  template <class G>
  [[nodiscard]] executable compile(const G& g, cudaStream_t s, const opara::profile& prof,
                                   autotune_report* report = nullptr) const {
    autotune_report rep;
    std::apply([&](const auto&... c) { (rep.labels.push_back(scheduler_label(c)), ...); }, candidates);
    const opara::graph cg = to_graph(g);
    const profile_key key = cuda::current_key(cg);

    std::optional<std::size_t> cached;
    if (options.reuse && !options.cache_path.empty()) cached = lookup(key, rep.labels);
    if (cached) {
      rep.choice = *cached;
      rep.reused = true;
    } else {
      // The winner is the very executable that was measured, not a fresh compile of it: no second
      // capture and instantiation, and the instance that was timed is the one the caller runs.
      executable best;
      rep.median_us.assign(rep.labels.size(), 0.0);
      std::size_t i = 0;
      auto measure = [&](const auto& c) {
        executable exe = c.compile(g, s, prof);
        rep.median_us[i] = tune::time_replays(exe, s, options.timing).median_us;
        if (i == 0 || rep.median_us[i] < rep.median_us[rep.choice]) {
          rep.choice = i;
          best = std::move(exe);
        }
        ++i;
      };
      std::apply([&](const auto&... c) { (measure(c), ...); }, candidates);
      if (!options.cache_path.empty()) store(key, rep);
      rep.label = rep.labels[rep.choice];
      if (report) *report = std::move(rep);
      return best;
    }
    rep.label = rep.labels[rep.choice];
    executable winner = compile_index(g, s, prof, rep.choice, std::index_sequence_for<Candidates...>{});
    if (report) *report = std::move(rep);
    return winner;
  }

private:
  template <class G, std::size_t... I>
  executable compile_index(const G& g, cudaStream_t s, const opara::profile& prof, std::size_t want,
                           std::index_sequence<I...>) const {
    executable out;
    ((I == want ? (void)(out = std::get<I>(candidates).compile(g, s, prof)) : (void)0), ...);
    return out;
  }

  static detail::json::value key_json(const profile_key& k) {
    detail::json::value v = detail::json::object{};
    v["device_name"] = k.device_name;
    v["sm_count"] = k.sm_count;
    v["driver_version"] = k.driver_version;
    v["graph_fingerprint"] = k.graph_fingerprint;
    return v;
  }

  detail::json::value read_cache() const {
    std::ifstream in(options.cache_path, std::ios::binary);
    if (!in) return detail::json::value{};
    std::stringstream ss;
    ss << in.rdbuf();
    detail::json::value doc;
    try {
      doc = detail::json::parse(ss.str());
    } catch (const parse_error& e) {
      throw parse_error("opara::autotune: cache " + options.cache_path.string() + " is not valid JSON: " + e.what());
    }
    const auto* ver = doc.is_object() ? doc.find("opara_autotune") : nullptr;
    if (!ver || !ver->is_number() || ver->as_number() != 1 || !doc.find("entries") || !doc.find("entries")->is_array())
      throw parse_error("opara::autotune: " + options.cache_path.string() +
                        " is not an opara autotune cache (expected {\"opara_autotune\": 1, \"entries\": [...]})");
    return doc;
  }

  std::optional<std::size_t> lookup(const profile_key& key, const std::vector<std::string>& labels) const {
    const detail::json::value doc = read_cache();
    if (doc.is_null()) return std::nullopt;
    const detail::json::value want = key_json(key);
    for (const auto& e : doc.find("entries")->as_array()) {
      const auto* k = e.find("key");
      if (!k || !(*k == want)) continue;
      const auto* c = e.find("candidates");
      const auto* ch = e.find("choice");
      detail::json::array mine;
      for (const auto& l : labels) mine.emplace_back(l);
      if (!c || !(*c == detail::json::value(mine)) || !ch || !ch->is_number()) {
        std::fprintf(stderr, "opara::autotune: %s has a choice for this device and graph, but for other "
                             "candidates; measuring again\n", options.cache_path.string().c_str());
        return std::nullopt;
      }
      const auto idx = static_cast<std::size_t>(ch->as_number());
      if (idx < labels.size()) return idx;
    }
    return std::nullopt;
  }

  void store(const profile_key& key, const autotune_report& rep) const {
    detail::json::value doc = read_cache();
    if (doc.is_null()) {
      doc = detail::json::object{};
      doc["opara_autotune"] = 1;
      doc["entries"] = detail::json::array{};
    }
    const detail::json::value kj = key_json(key);
    auto& entries = doc["entries"].as_array();
    std::erase_if(entries, [&](const detail::json::value& e) { const auto* k = e.find("key"); return k && *k == kj; });
    detail::json::value e = detail::json::object{};
    e["key"] = kj;
    detail::json::array labels, times;
    for (const auto& l : rep.labels) labels.emplace_back(l);
    for (double t : rep.median_us) times.emplace_back(t);
    e["candidates"] = std::move(labels);
    e["median_us"] = std::move(times);
    e["choice"] = rep.choice;
    entries.push_back(std::move(e));
    std::ofstream out(options.cache_path, std::ios::binary | std::ios::trunc);
    if (!out) throw error("opara::autotune: cannot write " + options.cache_path.string());
    out << detail::json::write(doc, 2) << "\n";
    if (!out) throw error("opara::autotune: writing " + options.cache_path.string() + " failed");
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
