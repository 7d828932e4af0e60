// opara's bench suite: which scheduling policy should I use on this GPU, and how close is it to
// the best possible? Runs every mode on synthetic DAGs of calibrated kernels, on the corpus (the
// traced torchvision models of bench/corpus/ and generated wide graphs, corpus.hpp) and (when
// built with the GoogLeNet example) on an inception block and GoogLeNet at batch 1 and 8.
//
//   bench_suite [--json FILE] [--replays N] [--flush-l2] [--quick] [--only NAME[,NAME...]]
//               [--instances K] [--rounds R] [--corpus-only] [--corpus DIR] [--sweep] [--segments-sweep]
// --sweep: also the model's placement rule under fixed stream caps of 8-256 (bench/suite/suite.hpp).
// --segments-sweep: also the default scheduler in launch segments of several counts and growths.
// --fit-model: fit the GPU model's costs to every measured plan and print the fit (fit_model).
// --model L,D,S,W,U: the GPU model's launch, dependency, stream dependency, wait and submit costs
// (us) for the model-guided modes and the predictions (default: gpu_model's).
// --corpus-only: only the corpus, in its mode set (sequential graph with and without PDL, Opara's
// policies without PDL, scheduler<>'s default with and without node priorities, the model-guided
// policies and five others, autotune). --corpus DIR: where the traced models are
// (default: this source tree's bench/corpus).
// --rounds R: a workload's modes are timed in R rounds (default 5), each through every mode in
// turn, so that drift over the minutes a workload takes falls on all modes alike (time_interleaved).
// Every graph mode and floor is also timed queued (behind 1 ms of GPU work: the GPU's own time, the
// host's launch call hidden; floors.hpp) against a queued bound; --no-queued: isolated only.
// --instances K: instead of the suite, compile K instances of a few schedules per workload and time
// each twice (does a schedule's time depend on its instance?).
// Exits 77 when no CUDA device is present.

#include "cli.hpp"
#include "result_header.hpp"
#include "suite.hpp"
#include "corpus.hpp"
#include "synthetic.hpp"
#if OPARA_BENCH_HAS_GOOGLENET
#include "googlenet_workloads.hpp"
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>


int main(int argc, char** argv) try {
  std::string json_path, only;
  std::filesystem::path corpus_dir = OPARA_BENCH_CORPUS_DIR;
  bool corpus_only = false;
  int instances = 0;
  bench::suite_options o;
  bool fit = false, queued = true;
  bench::model_samples samples;
  for (bench::arguments args(argc, argv); args.next();) {
    const std::string& a = args.flag();
    auto next = [&] { return args.value(); };
    if (a == "--json") json_path = next();
    else if (a == "--replays") o.timing.replays = std::stoi(next());
    else if (a == "--rounds") o.rounds = std::stoi(next());
    else if (a == "--flush-l2") o.timing.flush_l2 = true;
    else if (a == "--quick") o.modes = bench::mode_set::quick;
    else if (a == "--corpus-only") corpus_only = true;
    else if (a == "--corpus") corpus_dir = next();
    else if (a == "--only") only = next();
    else if (a == "--instances") instances = std::stoi(next());
    else if (a == "--sweep") o.sweep = true;
    else if (a == "--segments-sweep") o.segments_sweep = true;
    else if (a == "--no-queued") queued = false;
    else if (a == "--fit-model") fit = true;
    else if (a == "--model") {  // launch,dependency,stream_dependency,wait,submit (us)
      const std::string v = next();
      double c[5] = {o.model.launch_us, o.model.dependency_us, o.model.stream_dependency_us, o.model.wait_us, o.model.submit_us};
      if (std::sscanf(v.c_str(), "%lf,%lf,%lf,%lf,%lf", &c[0], &c[1], &c[2], &c[3], &c[4]) != 5)
        throw std::invalid_argument("--model needs launch,dependency,stream_dependency,wait,submit (got " + v + ")");
      o.model = {c[0], c[1], c[4], c[2], c[3]};
    }
    else if (a == "--help" || a == "-h") {
      std::puts("bench_suite [--json FILE] [--replays N] [--flush-l2] [--quick] [--only NAME[,NAME...]] [--instances K] [--rounds R]\n"
                "            [--corpus-only] [--corpus DIR] [--sweep] [--segments-sweep] [--fit-model] [--model L,D,S,W,U] [--no-queued]");
      return 0;
    } else throw std::invalid_argument("unknown argument " + a + " (see --help)");
  }
  if (o.timing.replays < 200) std::fprintf(stderr, "bench_suite: note: %d replays per mode (the suite's standard is 200)\n", o.timing.replays);

  const auto gpu = bench::find_gpu("bench_suite", "GPU figures need a GPU (the planning benchmark runs without one)");
  if (!gpu) return 77;
  const cudaDeviceProp& prop = gpu->prop;
  const int driver = gpu->driver_version;
  auto stream = opara::cuda::stream_handle::create();

  bench::calibrated_device dev;
  std::fprintf(stderr, "bench_suite on %s (%d SMs, driver %d): %.0f cycles/us, %.1f bytes/us per streaming block\n",
               prop.name, prop.multiProcessorCount, driver, dev.cycles_per_us(), dev.bytes_per_us_per_block());

  if (fit) o.samples = &samples;
  if (queued) o.busy = [&dev](cudaStream_t st) { dev.busy(st, 1000); };
  std::vector<bench::workload_result> results;
  auto run_with = [&](const bench::suite_options& opts, const std::string& name, const std::string& desc, const auto& g) {
    if (!bench::wanted(only, name)) return;
    if (instances > 0) return bench::instance_spread(name, g, stream.get(), opts, instances);
    results.push_back(bench::run_workload(name, desc, g, stream.get(), opts));
    bench::print_workload(results.back());
  };
  auto run = [&](const std::string& name, const std::string& desc, const auto& g) { run_with(o, name, desc, g); };

  if (!corpus_only) {
    std::vector<bench::workload> synthetic;
    synthetic.push_back(bench::wide_fanout(dev, 64));
    synthetic.push_back(bench::deep_chain(dev, 64));
    synthetic.push_back(bench::random_layered(dev, 12, 8, 7));
    synthetic.push_back(bench::mixed_bound(dev, 6));
    for (const auto& w : synthetic) run(w.name, w.description, w.graph);
  }
  // The corpus, in its own mode set: traced models, then generated wide graphs. A workload's
  // buffers are freed with the calibrated device, so each is built only when it is wanted.
  bench::suite_options corpus_options = o;
  corpus_options.modes = bench::mode_set::corpus;
  for (const auto& file : bench::corpus_files(corpus_dir))
    if (bench::wanted(only, file.stem().string())) {
      const bench::workload w = bench::corpus_workload(dev, file);
      run_with(corpus_options, w.name, w.description, w.graph);
    }
  for (const auto& w : bench::wide_graphs(dev)) run_with(corpus_options, w.name, w.description, w.graph);
#if OPARA_BENCH_HAS_GOOGLENET
  if (!corpus_only) bench::run_googlenet_workloads(run);
#endif

  if (instances > 0) return 0;
  if (fit) o.model = bench::fit_model(samples, o.model);

  // Summary: each workload's best mode against the sequential graph (one stream, no PDL: the
  // peers' CUDA graph) and the bound, how far scheduler<>'s default, Opara's policies as the paper
  // runs them and the model-guided policies are from the bound, and autotune's pick.
  std::printf("\n== summary on %s: best mode per workload (median of %d replays, in %d rounds through the modes)\n", prop.name,
              o.timing.replays, o.rounds);
  std::printf("bound: max(critical chain measured alone, least skeleton of a measured plan, the work without edges) "
              "(bench/suite/floors.hpp), isolated replays; q: the same queued behind GPU work (the host's launch call "
              "hidden). 'profile': the profile's bound, a reference\n");
  std::printf("%-19s %5s %9s %9s %-62s %9s %9s %9s %9s %7s %7s %7s %7s %7s %8s %9s %7s %7s  %s\n", "workload", "ops",
              "seq graph", "best", "best mode / policies", "profile", "chain", "skeleton", "bound", "vs seq", "/bound",
              "default", "paper", "model", "/profile", "q bound", "q best", "q def", "autotune: pick, us, set-up ms");
  for (const auto& r : results) {
    const auto* seq = r.find("sequential graph");
    const auto* b = r.best();
    const auto* d = r.find("default");
    const auto* p = r.find("opara (paper)");
    const auto* m = r.fastest("model_guided");
    const auto* q = r.best_queued();
    std::printf("%-19s %5zu %9.1f %9.1f %-62s %9.1f %9.1f %9.1f %9.1f %6.2fx %7.2f %7.2f %7.2f %7.2f %8.2f %9.1f %7.2f %7.2f  %s, %.1f, %.0f\n",
                r.name.c_str(), r.nodes, seq->t.median_us, b->t.median_us,
                (b->mode == "graph" ? b->label : b->mode + " " + b->label).c_str(), r.plain_bound_us, r.chain.us,
                r.skeleton_floor_us, r.bound_us, seq->t.median_us / b->t.median_us, r.over_bound(*b),
                d ? r.over_bound(*d) : 0.0, p ? r.over_bound(*p) : 0.0, m ? r.over_bound(*m) : 0.0,
                b->t.median_us / r.plain_bound_us, r.queued_bound_us, q ? r.queued_over_bound(*q) : 0.0,
                d ? r.queued_over_bound(*d) : 0.0, r.autotune_choice.empty() ? "-" : r.autotune_choice.c_str(),
                r.autotune_us, r.autotune_setup_ms);
    if (q) std::printf("%-19s queued: best %.1f us (%s %s)\n", "", q->queued.median_us, q->mode.c_str(), q->label.c_str());
    // The gap to the chain, split at each plan's structure (floors.hpp): what its shape costs the
    // chain (structure / chain) and what sharing the GPU with the other work costs (replay / structure).
    auto split = [&](const char* what, const bench::mode_result* m) {
      if (!m || m->structure_us <= 0 || r.chain.us <= 0) return;
      std::printf("%-19s %s: %.1f us = chain %.1f x structure %.2f x sharing %.2f", "", what, m->t.median_us, r.chain.us,
                  m->structure_us / r.chain.us, m->t.median_us / m->structure_us);
      if (m->queued.samples && m->structure_queued_us > 0 && r.chain.queued_us > 0)
        std::printf("; queued %.1f = %.1f x %.2f x %.2f", m->queued.median_us, r.chain.queued_us,
                    m->structure_queued_us / r.chain.queued_us, m->queued.median_us / m->structure_queued_us);
      std::printf("\n");
    };
    split("best", b);
    split("default", d);
    if (const auto* br = r.best_in_a_round(); br && d)
      std::printf("%-19s fastest round's median / bound: best %.2f (%s %s), default %.2f\n", "", r.best_round_over_bound(*br),
                  br->mode.c_str(), br->label.c_str(), r.best_round_over_bound(*d));
  }

  if (!json_path.empty()) {
    bench::json::value doc = bench::json::object{};
    doc["suite"] = "opara bench_suite";
    bench::add_result_header(doc, prop, driver);
    doc["replays"] = o.timing.replays;
    doc["warmup"] = o.timing.warmup;
    doc["rounds"] = o.rounds;
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
