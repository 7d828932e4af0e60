// bench_autotune: how long does autotune take, end to end (profile included), and is its pick as
// good as measuring every candidate? On GoogLeNet's DAG of calibrated synthetic kernels
// (bench/corpus/googlenet.json, 195 operators) and a 2,000-operator layered graph (16 layers of 125
// kernels of 1-16 blocks, 2-20 us), per workload:
//   - fast: opara::autotune with its defaults (one profiled run, the model ranks the plans, at most
//     3 candidates captured and raced), three starts in a row (no cache);
//   - fast, profile of 3 runs (the profiler's own default): does a better profile change the pick?
//   - fast, back_to_back: tuned for throughput instead of latency;
//   - exhaustive: the same candidates, every one captured and replayed 10 + 100 times, profile of 3
//     runs (what autotune did before the model ranked plans);
//   - the fast and exhaustive winners' executables, and a second instance of the exhaustive pick,
//     replayed in turns (10 turns of 20 isolated replays each): the fast pick's median over the
//     exhaustive pick's, and the second instance's over the first (the spread between instances of
//     one plan, what a comparison of picks can resolve).
//
//   bench_autotune [--json FILE] [--corpus DIR] [--only googlenet|layered16x125]
// Records OPARA_COMMIT from the environment. Exits 77 when no CUDA device is present.

#include "cli.hpp"
#include "corpus.hpp"
#include "result_header.hpp"
#include "synthetic.hpp"

#include <opara/cuda.hpp>
#include <opara/cuda/profiler/cupti.hpp>
#include <opara/cuda/tune/autotune.hpp>
#include <opara/detail/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace json = opara::detail::json;

json::value number_or_null(double x) { return std::isfinite(x) ? json::value(x) : json::value(nullptr); }

json::value report_json(const std::string& variant, const opara::autotune_report& r) {
  json::value v = json::object{};
  v["variant"] = variant;
  v["mode"] = opara::tune::replay_mode_name(r.mode);
  v["total_ms"] = r.total_ms;
  v["profile_ms"] = r.profile_ms;
  v["plan_ms"] = r.plan_ms;
  v["capture_instantiate_ms"] = r.capture_ms;
  v["measure_ms"] = r.measure_ms;
  v["choice"] = r.label;
  v["runner_up"] = r.labels[r.runner_up];
  v["margin"] = r.margin;
  v["clear"] = r.clear;
  json::array candidates;
  for (std::size_t i = 0; i < r.labels.size(); ++i) {
    json::value c = json::object{};
    c["label"] = r.labels[i];
    c["predicted_us"] = number_or_null(r.predicted_us[i]);
    c["same_plan_as"] = r.labels[r.same_plan_as[i]];
    c["measured"] = static_cast<bool>(r.measured[i]);
    c["median_us"] = number_or_null(r.median_us[i]);
    c["samples"] = r.samples[i];
    candidates.push_back(std::move(c));
  }
  v["candidates"] = std::move(candidates);
  return v;
}

void print_report(const std::string& variant, const opara::autotune_report& r) {
  std::size_t measured = 0;
  for (bool m : r.measured) measured += m;
  std::printf("  %-26s %8.1f ms = profile %6.1f + plan %6.1f + capture %6.1f + measure %6.1f | %zu of %zu measured | "
              "%s %.1f us, +%.1f%% over %s%s\n",
              variant.c_str(), r.total_ms, r.profile_ms, r.plan_ms, r.capture_ms, r.measure_ms, measured, r.labels.size(),
              r.label.c_str(), r.median_us[r.choice], 100 * r.margin, r.labels[r.runner_up].c_str(),
              r.clear ? "" : " (not clear)");
}

bool wanted(const std::string& only, const std::string& name) { return only.empty() || only == name; }

} // namespace

int main(int argc, char** argv) try {
  const auto gpu = bench::find_gpu("bench_autotune", "autotune measures on a GPU");
  if (!gpu) return 77;
  std::string json_path, only;
  std::filesystem::path corpus_dir = OPARA_BENCH_CORPUS_DIR;
  for (bench::arguments args(argc, argv); args.next();) {
    const std::string& a = args.flag();
    auto next = [&] { return args.value(); };
    if (a == "--json") json_path = next();
    else if (a == "--corpus") corpus_dir = next();
    else if (a == "--only") only = next();
    else throw std::invalid_argument("unknown argument " + a +
                                     " (bench_autotune [--json FILE] [--corpus DIR] [--only googlenet|layered16x125])");
  }
  const cudaDeviceProp& prop = gpu->prop;
  const int driver = gpu->driver_version;
  bench::calibrated_device dev;
  std::printf("bench_autotune on %s (%d SMs, driver %s)\n", prop.name, prop.multiProcessorCount,
              opara::cuda::driver_release().c_str());
  std::vector<bench::workload> workloads;
  if (wanted(only, "googlenet")) workloads.push_back(bench::corpus_workload(dev, corpus_dir / "googlenet.json"));
  if (wanted(only, "layered16x125")) workloads.push_back(bench::random_layered(dev, 16, 125, 2026));
  if (workloads.empty()) throw std::invalid_argument("--only names no workload: " + only);
  const auto stream = opara::cuda::stream_handle::create();
  const cudaStream_t s = stream.get();

  json::array results;
  for (const bench::workload& w : workloads) {
    const opara::graph shape = opara::to_graph(w.graph);
    std::printf("%s: %zu operators, %zu edges\n", w.name.c_str(), shape.num_nodes(), shape.num_edges());
    json::value entry = json::object{};
    entry["workload"] = w.name;
    entry["description"] = w.description;
    entry["operators"] = shape.num_nodes();
    entry["edges"] = shape.num_edges();
    json::array runs;
    auto record = [&](const std::string& variant, const opara::autotune_report& r) {
      print_report(variant, r);
      runs.push_back(report_json(variant, r));
    };

    opara::autotune fast;
    opara::executable fast_pick;
    std::string fast_label;
    json::array fast_totals;
    for (int start = 0; start < 3; ++start) {
      opara::autotune_report r;
      fast_pick = fast.compile(w.graph, s, &r);
      fast_label = r.label;
      record("fast #" + std::to_string(start + 1), r);
      fast_totals.push_back(r.total_ms);
    }
    {
      opara::autotune careful = fast;
      careful.options.profiler = {1, 3};
      opara::autotune_report r;
      (void)careful.compile(w.graph, s, &r);
      record("fast, profile of 3 runs", r);
    }
    {
      opara::autotune queued = fast;
      queued.options.mode = opara::tune::replay_mode::back_to_back;
      opara::autotune_report r;
      (void)queued.compile(w.graph, s, &r);
      record("fast, back_to_back", r);
    }
    opara::autotune exhaustive;
    exhaustive.options.profiler = {1, 3};
    exhaustive.options.timing = {10, 100, false};
    exhaustive.options.min_samples = 100;
    exhaustive.options.budget_ms = 1e9;
    exhaustive.options.shortlist = {1e9, 100, 100};
    const auto cache = std::filesystem::temp_directory_path() / ("bench-autotune-" + w.name + ".json");
    std::filesystem::remove(cache);
    exhaustive.options.cache_path = cache;
    opara::autotune_report exhaustive_report;
    const opara::executable exhaustive_pick = exhaustive.compile(w.graph, s, &exhaustive_report);
    record("exhaustive", exhaustive_report);
    // A second instance of the exhaustive pick (from the cache: only the winner is compiled): how
    // far apart two instances of one plan replay, the resolution of the comparison below.
    opara::autotune_report again;
    const opara::executable exhaustive_again = exhaustive.compile(w.graph, s, &again);
    std::filesystem::remove(cache);
    std::filesystem::remove(cache.string() + ".lock");

    // The picks replayed in turns of 20 (10 turns each), so that drift over time hits all alike.
    std::vector<double> fast_medians, exhaustive_medians, again_medians;
    for (int turn = 0; turn < 10; ++turn) {
      fast_medians.push_back(opara::tune::time_replays(fast_pick, s, {2, 20, false}).median_us);
      exhaustive_medians.push_back(opara::tune::time_replays(exhaustive_pick, s, {2, 20, false}).median_us);
      again_medians.push_back(opara::tune::time_replays(exhaustive_again, s, {2, 20, false}).median_us);
    }
    const double fast_us = opara::tune::summarize(fast_medians).median_us;
    const double exhaustive_us = opara::tune::summarize(exhaustive_medians).median_us;
    const double again_us = opara::tune::summarize(again_medians).median_us;
    const double ratio = fast_us / exhaustive_us;
    std::printf("  picks replayed: fast %s %.1f us, exhaustive %s %.1f us (another instance %.1f us): "
                "fast / exhaustive %.3f, instance / instance %.3f\n",
                fast_label.c_str(), fast_us, exhaustive_report.label.c_str(), exhaustive_us, again_us, ratio,
                again_us / exhaustive_us);
    entry["runs"] = std::move(runs);
    entry["fast_total_ms"] = std::move(fast_totals);
    entry["exhaustive_total_ms"] = exhaustive_report.total_ms;
    entry["fast_pick_median_us"] = fast_us;
    entry["exhaustive_pick_median_us"] = exhaustive_us;
    entry["exhaustive_pick_second_instance_median_us"] = again_us;
    entry["fast_pick"] = fast_label;
    entry["exhaustive_pick"] = exhaustive_report.label;
    entry["fast_over_exhaustive"] = ratio;
    results.push_back(std::move(entry));
  }

  if (!json_path.empty()) {
    json::value doc = json::object{};
    doc["bench"] = "autotune";
    bench::add_result_header(doc, prop, driver);
    doc["workloads"] = std::move(results);
    std::ofstream out(json_path);
    out << json::write(doc, 2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + json_path);
    std::printf("bench_autotune: wrote %s\n", json_path.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_autotune: %s\n", e.what());
  return 1;
}
