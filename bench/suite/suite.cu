// opara's bench suite: which scheduling policy should I use on this GPU, and how close is it to
// the best possible? Runs every mode on synthetic DAGs of calibrated kernels and (when built with
// the GoogLeNet example) on an inception block and GoogLeNet at batch 1 and 8.
//
//   bench_suite [--json FILE] [--replays N] [--flush-l2] [--quick] [--only NAME[,NAME...]]
//               [--instances K]
// --instances K: instead of the suite, compile K instances of a few schedules per workload and time
// each twice (does a schedule's time depend on its instance?).
// Exits 77 when no CUDA device is present.

#include "suite.hpp"
#include "synthetic.cuh"
#if OPARA_BENCH_HAS_GOOGLENET
#include "googlenet_workloads.cuh"
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>

namespace {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool wanted(const std::string& only, const std::string& name) {
  if (only.empty()) return true;
  std::size_t pos = 0;
  while (pos <= only.size()) {
    const std::size_t end = std::min(only.find(',', pos), only.size());
    if (only.compare(pos, end - pos, name) == 0) return true;
    pos = end + 1;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) try {
  std::string json_path, only;
  int instances = 0;
  bench::suite_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json") json_path = next();
    else if (a == "--replays") o.timing.replays = std::stoi(next());
    else if (a == "--flush-l2") o.timing.flush_l2 = true;
    else if (a == "--quick") o.all_modes = false;
    else if (a == "--only") only = next();
    else if (a == "--instances") instances = std::stoi(next());
    else if (a == "--help" || a == "-h") {
      std::puts("bench_suite [--json FILE] [--replays N] [--flush-l2] [--quick] [--only NAME[,NAME...]] [--instances K]");
      return 0;
    } else throw std::invalid_argument("unknown argument " + a + " (see --help)");
  }
  if (o.timing.replays < 200) std::fprintf(stderr, "bench_suite: note: %d replays per mode (the suite's standard is 200)\n", o.timing.replays);

  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    (void)cudaGetLastError();
    std::puts("bench_suite: no CUDA device: GPU figures need a GPU (the planning benchmark runs without one)");
    return 77;
  }
  cudaDeviceProp prop{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int driver = 0;
  OPARA_CUDA_CHECK(cudaDriverGetVersion(&driver));
  auto stream = opara::cuda::stream_handle::create();

  bench::calibrated_device dev;
  std::fprintf(stderr, "bench_suite on %s (%d SMs, driver %d): %.0f cycles/us, %.1f bytes/us per streaming block\n",
               prop.name, prop.multiProcessorCount, driver, dev.cycles_per_us(), dev.bytes_per_us_per_block());

  std::vector<bench::workload_result> results;
  auto run = [&](const std::string& name, const std::string& desc, const auto& g) {
    if (!wanted(only, name)) return;
    if (instances > 0) return bench::instance_spread(name, g, stream.get(), o, instances);
    results.push_back(bench::run_workload(name, desc, g, stream.get(), o));
    bench::print_workload(results.back());
  };

  std::vector<bench::workload> synthetic;
  synthetic.push_back(bench::wide_fanout(dev, 64));
  synthetic.push_back(bench::deep_chain(dev, 64));
  synthetic.push_back(bench::random_layered(dev, 12, 8, 7));
  synthetic.push_back(bench::mixed_bound(dev, 6));
  for (const auto& w : synthetic) run(w.name, w.description, w.graph);
#if OPARA_BENCH_HAS_GOOGLENET
  bench::run_googlenet_workloads(run);
#endif

  if (instances > 0) return 0;

  // Summary: each workload's best mode against the sequential graph and the critical-path bound.
  std::printf("\n== summary on %s: best mode per workload (median of %d replays)\n", prop.name, o.timing.replays);
  std::printf("%-16s %10s %10s %-56s %10s %10s %8s %8s  %s\n", "workload", "seq graph", "best", "best policies",
              "cp bound", "work bound", "vs seq", "/bound", "autotune");
  for (const auto& r : results) {
    const auto* seq = r.find("sequential graph");
    const auto* b = r.best();
    std::printf("%-16s %10.1f %10.1f %-56s %10.1f %10.1f %7.2fx %8.2f  %s (%.1f us)\n", r.name.c_str(),
                seq->t.median_us, b->t.median_us, (b->mode == "graph" ? b->label : b->mode + " " + b->label).c_str(),
                r.critical_path_us, r.work_bound_us, seq->t.median_us / b->t.median_us, r.over_bound(*b),
                r.autotune_choice.c_str(), r.autotune_us);
  }

  if (!json_path.empty()) {
    bench::json::value doc = bench::json::object{};
    doc["suite"] = "opara bench_suite";
    doc["gpu"] = prop.name;
    doc["sm_count"] = prop.multiProcessorCount;
    doc["driver_version"] = driver;  // the CUDA version the driver supports (13000 = 13.0)
    doc["driver"] = opara::cuda::driver_release();
    doc["date"] = utc_now();
    const char* commit = std::getenv("OPARA_COMMIT");
    doc["commit"] = commit ? commit : "unknown";
    doc["replays"] = o.timing.replays;
    doc["warmup"] = o.timing.warmup;
    doc["flush_l2"] = o.timing.flush_l2;
    bench::json::array ws;
    for (const auto& r : results) ws.push_back(bench::to_json(r));
    doc["workloads"] = std::move(ws);
    std::ofstream out(json_path);
    out << bench::json::write(doc, 2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + json_path);
    std::fprintf(stderr, "bench_suite: wrote %s\n", json_path.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_suite: %s\n", e.what());
  return 1;
}
