//! googlenet_bench: GoogLeNet (torchvision layout, fused kernels) run four ways at batch 1 and 8:
//! single-stream launches (eager), a sequential CUDA Graph, opara with Opara's policies
//! (opara_greedy + resource_aware + stream_capture), and opara with the fastest of several policies.
//!
//!   googlenet_bench [--batch 1,8] [--precision tf32|tf32x3] [--reps 300] [--check] [--check-only]
//!                   [--json FILE] [--weights FILE] [--min-blocks N] [--layers] [--quick]
//!
//! --check compares every variant's output with the float64 CPU reference; --weights FILE runs the
//! PyTorch check (file from scripts/export_googlenet_weights.py): opara's output must match
//! PyTorch's within 1e-3 relative. Exits 77 when there is no GPU.

#include <opara/cuda.hpp>
#include <opara/opara.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <queue>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "engine.hpp"
#include "model.hpp"
#include "reference.hpp"

using namespace googlenet;
namespace k = googlenet::kernels;

namespace {

struct args {
  std::vector<int> batches{1, 8};
  k::conv_precision precision = k::conv_precision::tf32;
  int reps = 300;
  bool check = false, check_only = false, layers = false, quick = false;
  std::string json, weights;
  long long min_blocks = 0;  // 0: auto (fastest sequential graph among a few)
};

args parse(int argc, char** argv) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(s + " needs a value");
      return argv[++i];
    };
    if (s == "--batch") {
      a.batches.clear();
      const std::string v = next();
      std::stringstream ss(v == "none" ? std::string() : v);
      for (std::string t; std::getline(ss, t, ',');) a.batches.push_back(std::stoi(t));
    } else if (s == "--precision") {
      const std::string p = next();
      if (p == "tf32") a.precision = k::conv_precision::tf32;
      else if (p == "tf32x3") a.precision = k::conv_precision::tf32x3;
      else throw std::invalid_argument("--precision must be tf32 or tf32x3");
    } else if (s == "--reps") a.reps = std::stoi(next());
    else if (s == "--check") a.check = true;
    else if (s == "--check-only") a.check = a.check_only = true;
    else if (s == "--layers") a.layers = true;
    else if (s == "--quick") a.quick = true;
    else if (s == "--json") a.json = next();
    else if (s == "--weights") a.weights = next();
    else if (s == "--min-blocks") {
      const std::string v = next();
      a.min_blocks = v == "auto" ? 0 : std::stoll(v);
    }
    else if (s == "--help" || s == "-h") {
      std::puts("googlenet_bench [--batch 1,8] [--precision tf32|tf32x3] [--reps N] [--check] [--check-only] "
                "[--json FILE] [--weights FILE] [--min-blocks N] [--layers]");
      std::exit(0);
    } else throw std::invalid_argument("unknown argument " + s);
  }
  return a;
}

// Tolerance of the whole model against the float64 reference: TF32 rounds both operands of
// every product to 10 mantissa bits; the split (tf32x3) is fp32-accurate.
double model_tolerance(k::conv_precision p) { return p == k::conv_precision::tf32 ? 1e-2 : 1e-4; }

struct variant_result {
  std::string name;
  double ms = 0;
  std::uint32_t streams = 0;
  std::size_t waits = 0;
  double max_diff = 0;  // vs the sequential graph's output (same kernels: should be exactly 0)
};

struct batch_result {
  int batch = 0;
  timing eager, seq;
  variant_result opara;
  variant_result best;
  std::vector<variant_result> variants;
  double ref_err_seq = -1, ref_err_opara = -1;
  double setup_ms = 0;
  long long min_blocks = 0;      // tile policy of the eager and sequential-graph baselines
  long long par_min_blocks = 0;  // tile policy of the opara variants
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

} // namespace

int main(int argc, char** argv) try {
  const args a = parse(argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  cudaDeviceProp prop{};
  engine_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  cudaStream_t s = nullptr;
  engine_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");

  const topology net_desc = make_googlenet();
  const weights w = make_random_weights(net_desc, 2024);
  int failures = 0;

  std::printf("GoogLeNet (torchvision layout, %zu fused operators) on %s, conv precision %s\n", net_desc.ops.size(),
              prop.name, k::precision_name(a.precision));

  // --- PyTorch weights check ---------------------------------------------------------------------
  if (!a.weights.empty()) {
    const pytorch_export ex = load_pytorch_export(net_desc, a.weights);
    engine net(net_desc, ex.w, ex.batch, {a.precision, a.min_blocks ? a.min_blocks : 96});
    opara::executable exe = opara::scheduler<>{}.compile(net, s);
    net.poison();
    net.upload_input(ex.input);
    exe(s);
    engine_check(cudaStreamSynchronize(s), "opara run (weights check)");
    const auto got = net.download(net_desc.output);
    const std::vector<double> torch_out(ex.output.begin(), ex.output.end());
    const double err = reference::rel_error(got, torch_out);
    const auto ref = run_reference(net_desc, ex.w, ex.input, ex.batch);
    const double ref_vs_torch = reference::rel_error(ex.output, ref);
    const double err_ref = reference::rel_error(got, ref);
    const bool ok = err <= 1e-3;
    if (!ok) ++failures;
    std::printf("%s PyTorch weights (%s, batch %d): opara vs PyTorch rel_err %.3e (tol 1e-3); "
                "opara vs float64 reference %.3e; PyTorch vs float64 reference %.3e\n",
                ok ? "ok  " : "FAIL", a.weights.c_str(), ex.batch, err, err_ref, ref_vs_torch);
  }

  std::vector<batch_result> results;
  for (int batch : a.batches) {
    batch_result br;
    br.batch = batch;
    // Tile policy: the largest tile per layer that still gives `min_blocks` blocks. Auto: each mode
    // gets its own, the sequential graph the value that makes it fastest, opara the value that makes
    // Opara's policies fastest (on one stream a kernel must fill the GPU alone; in parallel, fewer and
    // larger tiles waste less and the other streams fill the gaps).
    long long min_blocks = a.min_blocks ? a.min_blocks : (a.check_only ? 96 : 0);
    long long par_min_blocks = min_blocks;
    if (min_blocks == 0) {
      double best = INFINITY, par_best = INFINITY;
      for (long long mb : {32LL, 64LL, 96LL, 132LL, 200LL}) {
        engine trial(net_desc, w, batch, {a.precision, mb});
        trial.upload_input(random_input(trial.tensor_floats(net_desc.input), 5));
        sequential_graph g(trial, s);
        const double t = time_runs([&](cudaStream_t st) { g(st); }, s, 100, 10).median_ms;
        const opara::executable par =
            opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware>{}.compile(trial, s);
        const double tp = time_runs([&](cudaStream_t st) { par(st); }, s, 100, 10).median_ms;
        std::printf("  batch %d: tile policy min_blocks %3lld: sequential graph %.4f ms, opara (Opara's policies) %.4f ms\n",
                    batch, mb, t, tp);
        if (t < best) {
          best = t;
          min_blocks = mb;
        }
        if (tp < par_best) {
          par_best = tp;
          par_min_blocks = mb;
        }
      }
    }
    br.min_blocks = min_blocks;
    br.par_min_blocks = par_min_blocks;
    engine net(net_desc, w, batch, {a.precision, min_blocks});
    const auto input = random_input(net.tensor_floats(net_desc.input), 7 + batch);

    if (a.layers) {
      for (std::size_t i = 0; i < net_desc.ops.size(); ++i) {
        const auto& op = net_desc.ops[i];
        if (op.kind != op_kind::conv) continue;
        const auto cs = net_desc.conv_shape_of(op, batch);
        const timing t = time_runs([&](cudaStream_t st) { net.enqueue(static_cast<int>(i), st); }, s, 50, 5);
        std::printf("  layer %-24s %4d->%-4d k%d %3dx%-3d tile %-5s blocks %4lld  %7.2f us  %6.2f TFLOP/s\n",
                    op.name.c_str(), cs.cin, cs.cout, cs.kh, cs.ho(), cs.wo(), k::tile_name(net.tile(static_cast<int>(i))),
                    net.blocks(static_cast<int>(i)), t.median_ms * 1e3, cs.flops() / (t.median_ms * 1e-3) / 1e12);
      }
    }

    // Sequential graph: its output is the one every opara variant must reproduce bit for bit.
    net.poison();
    net.upload_input(input);
    sequential_graph seq(net, s);
    seq(s);
    engine_check(cudaStreamSynchronize(s), "sequential graph");
    const auto expect = net.download(net_desc.output);

    if (a.check) {
      const auto ref = run_reference(net_desc, w, input, batch);
      br.ref_err_seq = reference::rel_error(expect, ref);
      const bool ok = br.ref_err_seq <= model_tolerance(a.precision);
      if (!ok) ++failures;
      std::printf("%s batch %d: sequential graph vs float64 reference rel_err %.3e (tol %.0e)\n", ok ? "ok  " : "FAIL",
                  batch, br.ref_err_seq, model_tolerance(a.precision));
    }

    // The engine the opara variants run on: the same one unless opara's tile policy differs, then its
    // own, whose sequential graph gives the output every variant must reproduce bit for bit.
    std::unique_ptr<engine> own;
    std::vector<float> par_expect = expect;
    if (par_min_blocks != min_blocks) {
      own = std::make_unique<engine>(net_desc, w, batch, engine_options{a.precision, par_min_blocks});
      own->poison();
      own->upload_input(input);
      sequential_graph pseq(*own, s);
      pseq(s);
      engine_check(cudaStreamSynchronize(s), "sequential graph (opara's tile policy)");
      par_expect = own->download(net_desc.output);
      if (a.check) {
        const auto ref = run_reference(net_desc, w, input, batch);
        const double err = reference::rel_error(par_expect, ref);
        const bool ok = err <= model_tolerance(a.precision);
        if (!ok) ++failures;
        std::printf("%s batch %d: sequential graph (tile policy %lld) vs float64 reference rel_err %.3e (tol %.0e)\n",
                    ok ? "ok  " : "FAIL", batch, par_min_blocks, err, model_tolerance(a.precision));
      }
    }
    engine& pnet = own ? *own : net;

    // Runs an opara variant: compile, check its output against the sequential graph, time it.
    opara::profile saved;
    bool have_profile = false;
    auto try_variant = [&](const std::string& name, auto sched) -> variant_result {
      try {
      const auto t0 = std::chrono::steady_clock::now();
      opara::executable exe = have_profile ? sched.compile(pnet, s, saved) : sched.compile(pnet, s);
      const double setup = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!have_profile && exe.profile()) {
        saved = *exe.profile();
        have_profile = true;
        br.setup_ms = setup;
      }
      pnet.poison();
      pnet.upload_input(input);
      exe(s);
      engine_check(cudaStreamSynchronize(s), "opara variant " + name);
      variant_result r;
      r.name = name;
      r.streams = exe.plan().num_streams;
      r.waits = exe.plan().num_waits();
      r.max_diff = max_abs_diff(pnet.download(net_desc.output), par_expect);
      if (r.max_diff != 0) {
        ++failures;
        std::printf("FAIL batch %d: %s output differs from the sequential graph (max |diff| %.3e)\n", batch,
                    name.c_str(), r.max_diff);
      }
      if (!a.check_only) r.ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps).median_ms;
      return r;
      } catch (const std::exception& e) {
        ++failures;
        std::printf("FAIL batch %d: %s: %s\n", batch, name.c_str(), e.what());
        variant_result r;
        r.name = name + " (failed)";
        r.ms = INFINITY;
        return r;
      }
    };

    using namespace opara;
    br.opara = try_variant("opara_greedy+resource_aware", scheduler<streams::opara_greedy, order::resource_aware>{});
    br.variants.push_back(br.opara);
    if (!a.check_only && !a.quick) {
      br.variants.push_back(try_variant("min_path_cover+resource_aware", scheduler<streams::min_path_cover, order::resource_aware>{}));
      br.variants.push_back(try_variant("min_path_cover+critical_path_first", scheduler<streams::min_path_cover, order::critical_path_first>{}));
      br.variants.push_back(try_variant("opara_greedy+critical_path_first", scheduler<streams::opara_greedy, order::critical_path_first>{}));
      for (std::uint32_t cap : {4u, 8u}) {
        scheduler<streams::capped<streams::opara_greedy>, order::resource_aware> sc{};
        sc.streams.max_streams = cap;
        br.variants.push_back(try_variant("capped" + std::to_string(cap) + "(opara_greedy)+resource_aware", sc));
        scheduler<streams::round_robin, order::resource_aware> rr{};
        rr.streams.streams = cap;
        br.variants.push_back(try_variant("round_robin" + std::to_string(cap) + "+resource_aware", rr));
      }
    }
    if (!a.check_only) {
      br.best = br.variants[0];
      for (const auto& v : br.variants)
        if (v.ms < br.best.ms) br.best = v;
      br.eager = time_runs([&](cudaStream_t st) { net.enqueue_all(st); }, s, a.reps);
      br.seq = time_runs([&](cudaStream_t st) { seq(st); }, s, a.reps);
      for (const auto& v : br.variants)
        std::printf("  batch %d  %-44s %2u streams %3zu waits  %.4f ms\n", batch, v.name.c_str(), v.streams, v.waits, v.ms);
    }
    results.push_back(br);
  }

  if (!a.check_only) {
    std::printf("\n%-6s %-10s %-10s %-20s %-44s %-9s %-9s %s\n", "batch", "eager ms", "seq graph", "opara (Opara pol.)",
                "opara best policy", "x seq", "x eager", "tiles seq/opara");
    for (const auto& r : results) {
      char op[64], best[96];
      std::snprintf(op, sizeof op, "%.4f (%u str)", r.opara.ms, r.opara.streams);
      std::snprintf(best, sizeof best, "%.4f %s (%u str)", r.best.ms, r.best.name.c_str(), r.best.streams);
      std::printf("%-6d %-10.4f %-10.4f %-20s %-44s %-9.2f %-9.2f %lld/%lld\n", r.batch, r.eager.median_ms, r.seq.median_ms,
                  op, best, r.seq.median_ms / r.best.ms, r.eager.median_ms / r.best.ms, r.min_blocks, r.par_min_blocks);
    }
  }

  if (!a.json.empty()) {
    std::ofstream f(a.json);
    if (!f) throw std::runtime_error("cannot write " + a.json);
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    const char* commit = std::getenv("OPARA_COMMIT");
    f << "{\n  \"gpu\": \"" << prop.name << "\",\n  \"driver\": \"" << opara::cuda::driver_release()
      << "\",\n  \"commit\": \"" << (commit ? commit : "unknown") << "\",\n  \"date\": \"" << date
      << "\",\n  \"precision\": \""
      << k::precision_name(a.precision) << "\",\n  \"reps\": " << a.reps << ",\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      f << "    {\"batch\": " << r.batch << ", \"eager_ms\": " << r.eager.median_ms
        << ", \"sequential_graph_ms\": " << r.seq.median_ms << ", \"opara_ms\": " << r.opara.ms
        << ", \"opara_streams\": " << r.opara.streams << ", \"best_policy\": \"" << r.best.name
        << "\", \"best_ms\": " << r.best.ms << ", \"best_streams\": " << r.best.streams
        << ", \"speedup_vs_sequential_graph\": " << r.seq.median_ms / r.best.ms
        << ", \"opara_setup_ms\": " << r.setup_ms << ", \"tile_min_blocks\": " << r.min_blocks << ", \"opara_tile_min_blocks\": " << r.par_min_blocks << ", \"ref_rel_err\": " << r.ref_err_seq << ",\n     \"variants\": [";
      for (std::size_t j = 0; j < r.variants.size(); ++j)
        f << (j ? ", " : "") << "{\"name\": \"" << r.variants[j].name << "\", \"ms\": " << r.variants[j].ms
          << ", \"streams\": " << r.variants[j].streams << ", \"waits\": " << r.variants[j].waits << "}";
      f << "]}" << (i + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
    std::printf("wrote %s\n", a.json.c_str());
  }
  cudaStreamDestroy(s);
  return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "googlenet_bench: %s\n", e.what());
  return 1;
}
