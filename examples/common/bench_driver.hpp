#pragma once
//! The model bench (googlenet_bench, inception_v3_bench: one driver, the model a parameter): a
//! network (torchvision layout, fused kernels) run four ways at batch 1 and 8: single-stream
//! launches (eager), a sequential CUDA Graph, opara with Opara's policies (opara_greedy +
//! resource_aware + stream_capture), and opara with the fastest of several policies.
//!
//!   <model>_bench [--batch 1,8] [--precision tf32|tf32x3] [--path auto|sm90|portable] [--fuse]
//!                 [--reps 300] [--check] [--check-only] [--json FILE] [--weights FILE]
//!                 [--min-blocks N] [--layers] [--quick] [--pytorch FILE]
//!
//! --check compares every variant's output with the float64 CPU reference; --weights FILE runs the
//! PyTorch check (file from scripts/export_torchvision_weights.py): opara's output must match
//! PyTorch's within 1e-3 relative. --layers times every operator alone against its own floor,
//! max(FLOPs / tensor rate, bytes / bandwidth), with both ceilings measured first (cuBLAS TF32 GEMM,
//! device-to-device copy), and the critical path of those times. --pytorch FILE embeds scripts/pytorch_torchvision.py's JSON in --json's.
//! Every whole-model figure is given in two timing modes: back to back and isolated (bench_util.hpp).
//! Exits 77 when there is no GPU.

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

#include <cublas_v2.h>

#include "bench_util.hpp"
#include "engine.hpp"
#include "network.hpp"
#include "reference.hpp"

namespace convnet {

//! What the driver needs to know about a model.
struct bench_model {
  const char* name;     //!< "GoogLeNet", "Inception-v3"
  const char* program;  //!< "googlenet_bench"
  topology (*make)();   //!< the topology, torchvision's layout
};

namespace bench_detail {

namespace k = convnet::kernels;

struct args {
  std::vector<int> batches{1, 8};
  k::conv_precision precision = k::conv_precision::tf32;
  k::conv_path path = k::conv_path::automatic;
  bool fuse = false;
  int reps = 300;
  bool check = false, check_only = false, layers = false, quick = false;
  std::string json, weights, pytorch;
  long long min_blocks = 0;  // 0: auto (fastest sequential graph among a few)
  int launch_segments = 0;   // opara variants' capture::options::launch_segments (0: the library's default)
  int carveout = -2;         // opara variants' capture::options::shared_carveout (-1: each kernel's own; -2: the library's default)
};

inline args parse(int argc, char** argv, const bench_model& model) {
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
    } else if (s == "--path") {
      const std::string p = next();
      if (p == "auto") a.path = k::conv_path::automatic;
      else if (p == "sm90") a.path = k::conv_path::sm90;
      else if (p == "portable") a.path = k::conv_path::portable;
      else throw std::invalid_argument("--path must be auto, sm90 or portable");
    } else if (s == "--fuse") a.fuse = true;
    else if (s == "--pytorch") a.pytorch = next();
    else if (s == "--reps") a.reps = std::stoi(next());
    else if (s == "--check") a.check = true;
    else if (s == "--check-only") a.check = a.check_only = true;
    else if (s == "--layers") a.layers = true;
    else if (s == "--quick") a.quick = true;
    else if (s == "--json") a.json = next();
    else if (s == "--weights") a.weights = next();
    else if (s == "--min-blocks") {
      const std::string v = next();
      a.min_blocks = v == "auto" ? 0 : std::stoll(v);
    } else if (s == "--carveout") {
      a.carveout = std::stoi(next());
      if (a.carveout < -1 || a.carveout > 100) throw std::invalid_argument("--carveout needs -1 or a percentage in [0, 100]");
    } else if (s == "--launch-segments") {
      a.launch_segments = std::stoi(next());
      if (a.launch_segments < 1) throw std::invalid_argument("--launch-segments needs a count of 1 or more");
    }
    else if (s == "--help" || s == "-h") {
      std::printf("%s [--batch 1,8] [--precision tf32|tf32x3] [--path auto|sm90|portable] [--fuse] "
                  "[--reps N] [--check] [--check-only] [--json FILE] [--weights FILE] [--min-blocks N] [--layers] "
                  "[--quick] [--pytorch FILE] [--launch-segments N] [--carveout P]\n", model.program);
      std::exit(0);
    } else throw std::invalid_argument("unknown argument " + s);
  }
  return a;
}

// Tolerance of the whole model against the float64 reference: TF32 rounds both operands of
// every product to 10 mantissa bits; the split (tf32x3) is fp32-accurate.
inline double model_tolerance(k::conv_precision p) { return p == k::conv_precision::tf32 ? 1e-2 : 1e-4; }

struct variant_result {
  std::string name;
  double ms = 0, isolated_ms = 0;
  std::uint32_t streams = 0;
  std::size_t waits = 0;
  double max_diff = 0;  // vs the sequential graph's output (same kernels: should be exactly 0)
};

struct layer_result {
  std::string name, config;
  long long blocks = 0;
  double us = 0, tflops = 0, floor_us = 0;
};

struct batch_result {
  int batch = 0;
  std::size_t ops = 0;
  timing eager, seq, eager_isolated, seq_isolated;
  variant_result opara;
  variant_result best;
  std::vector<variant_result> variants;
  std::vector<layer_result> layers;
  double conv_sum_us = 0;
  double critical_path_us = 0;  // --layers: the longest dependency chain of isolated operator times
  int critical_path_ops = 0;
  double ref_err_seq = -1;
  double setup_ms = 0;
  long long min_blocks = 0;      // tile policy of the eager and sequential-graph baselines
  long long par_min_blocks = 0;  // tile policy of the opara variants
};

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

//! The two ceilings of a layer's floor, measured on this GPU: the TF32 tensor rate of a large cuBLAS
//! GEMM (8192^3, CUBLAS_COMPUTE_32F_FAST_TF32) and the bandwidth of a 1 GiB device-to-device copy
//! (bytes read + bytes written).
struct ceilings {
  double tflops = 0, gbps = 0;
};

inline ceilings measure_ceilings(cudaStream_t s) {
  ceilings c;
  const int n = 8192;
  float *a = nullptr, *b = nullptr, *d = nullptr;
  const std::size_t bytes = static_cast<std::size_t>(n) * n * sizeof(float);
  engine_check(cudaMalloc(reinterpret_cast<void**>(&a), bytes), "cudaMalloc(ceiling A)");
  engine_check(cudaMalloc(reinterpret_cast<void**>(&b), bytes), "cudaMalloc(ceiling B)");
  engine_check(cudaMalloc(reinterpret_cast<void**>(&d), bytes), "cudaMalloc(ceiling D)");
  const auto init = random_input(static_cast<std::size_t>(n) * n, 99);
  engine_check(cudaMemcpy(a, init.data(), bytes, cudaMemcpyHostToDevice), "ceiling init");
  engine_check(cudaMemcpy(b, init.data(), bytes, cudaMemcpyHostToDevice), "ceiling init");
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) throw engine_error("cublasCreate failed");
  cublasSetStream(h, s);
  const float one = 1.0f, zero = 0.0f;
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  const timing g = time_runs(
      [&](cudaStream_t) {
        const cublasStatus_t r = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_32F, n, b,
                                              CUDA_R_32F, n, &zero, d, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32,
                                              CUBLAS_GEMM_DEFAULT);
        if (r != CUBLAS_STATUS_SUCCESS) st = r;
      },
      s, 10, 3);
  cublasDestroy(h);
  if (st != CUBLAS_STATUS_SUCCESS) throw engine_error("cublasGemmEx (TF32 ceiling) failed");
  c.tflops = 2.0 * n * n * n / (g.median_ms * 1e-3) / 1e12;
  const timing m = time_runs(
      [&](cudaStream_t st2) { engine_check(cudaMemcpyAsync(d, a, bytes, cudaMemcpyDeviceToDevice, st2), "copy"); },
      s, 20, 3);
  c.gbps = 2.0 * bytes / (m.median_ms * 1e-3) / 1e9;
  cudaFree(a);
  cudaFree(b);
  cudaFree(d);
  return c;
}

//! A convolution's floor: max(FLOPs / tensor rate, bytes / bandwidth), bytes = input, weights and
//! output each moved once (fp32).
inline double conv_floor_us(const k::conv_shape& s, const ceilings& c) {
  const double bytes = 4.0 * (1.0 * s.batch * s.cin * s.h * s.w + 1.0 * s.cout * s.k() + 1.0 * s.batch * s.cout * s.ho() * s.wo());
  return std::max(s.flops() / (c.tflops * 1e12), bytes / (c.gbps * 1e9)) * 1e6;
}

} // namespace bench_detail

//! Runs the bench for `model` (the program's main: returns its exit status; 77 without a GPU).
inline int bench_main(int argc, char** argv, const bench_model& model) try {
  using namespace bench_detail;
  const args a = parse(argc, argv, model);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  cudaDeviceProp prop{};
  engine_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  cudaStream_t s = nullptr;
  engine_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");

  const topology net_desc = model.make();
  const weights w = make_random_weights(net_desc, 2024);
  int failures = 0;
  auto options = [&](long long min_blocks) {
    engine_options o;
    o.precision = a.precision;
    o.min_conv_blocks = min_blocks;
    o.path = a.path;
    o.fuse_pools = a.fuse;
    return o;
  };

  std::printf("%s (torchvision layout, %zu operators in the topology) on %s, conv precision %s, path %s\n",
              model.name, net_desc.ops.size(), prop.name, k::precision_name(a.precision), k::path_name(a.path));

  // --- PyTorch weights check ---------------------------------------------------------------------
  if (!a.weights.empty()) {
    const pytorch_export ex = load_pytorch_export(net_desc, a.weights);
    engine net(net_desc, ex.w, ex.batch, options(a.min_blocks ? a.min_blocks : 96));
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
    std::printf("%s PyTorch weights (%s, batch %d, path %s): opara vs PyTorch rel_err %.3e (tol 1e-3); "
                "opara vs float64 reference %.3e; PyTorch vs float64 reference %.3e\n",
                ok ? "ok  " : "FAIL", a.weights.c_str(), ex.batch, k::path_name(net.path()), err, err_ref, ref_vs_torch);
  }

  ceilings ceil;
  if (a.layers) {
    ceil = measure_ceilings(s);
    std::printf("ceilings: TF32 tensor rate %.1f TFLOP/s (cuBLAS 8192^3), bandwidth %.0f GB/s (D2D copy)\n", ceil.tflops,
                ceil.gbps);
  }

  std::vector<batch_result> results;
  k::conv_path used_path = a.path;
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
      for (long long mb : {32LL, 64LL, 96LL, 132LL, 200LL, 264LL}) {
        engine trial(net_desc, w, batch, options(mb));
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
    engine net(net_desc, w, batch, options(min_blocks));
    used_path = net.path();
    br.ops = net.op_count();
    std::printf("batch %d: path %s, %zu engine operators (%zu in the topology)\n", batch, k::path_name(net.path()),
                net.op_count(), net_desc.ops.size());
    const auto input = random_input(net.tensor_floats(net_desc.input), 7 + batch);

    if (a.layers) {
      net.upload_input(input);
      for (int i = 0; i < static_cast<int>(net.op_count()); ++i) {
        const op_desc& op = net.desc(i);
        // 20 launches of the operator captured in one graph, replayed: the kernel's own time plus a
        // graph's launch gap, without the host's launch cost of a single eager launch.
        constexpr int per_graph = 20;
        cudaGraph_t g = nullptr;
        cudaGraphExec_t ge = nullptr;
        engine_check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "layer capture");
        for (int r = 0; r < per_graph; ++r) net.enqueue(i, s);
        engine_check(cudaStreamEndCapture(s, &g), "layer capture");
        engine_check(cudaGraphInstantiate(&ge, g, 0), "layer graph instantiate");
        timing t = time_runs([&](cudaStream_t st) { engine_check(cudaGraphLaunch(ge, st), "layer graph"); }, s, 20, 3);
        t.median_ms /= per_graph;
        cudaGraphExecDestroy(ge);
        cudaGraphDestroy(g);
        layer_result l;
        l.name = net.op_name(i);
        l.config = net.config_name(i);
        l.blocks = net.blocks(i);
        l.us = t.median_ms * 1e3;
        if (op.kind == op_kind::conv) {
          const auto cs = net_desc.conv_shape_of(op, batch);
          l.tflops = cs.flops() / (l.us * 1e-6) / 1e12;
          l.floor_us = conv_floor_us(cs, ceil);
          br.conv_sum_us += l.us;
          std::printf("  layer %-34s %4d->%-4d k%dx%d %3dx%-3d %-16s blocks %5lld %8.2f us %7.2f TFLOP/s  floor %6.2f us (x%.1f)\n",
                      l.name.c_str(), cs.cin, cs.cout, cs.kh, cs.kw, cs.ho(), cs.wo(), l.config.c_str(), l.blocks, l.us,
                      l.tflops, l.floor_us, l.us / l.floor_us);
        } else {
          std::printf("  layer %-34s %-42s %8.2f us\n", l.name.c_str(), "", l.us);
        }
        br.layers.push_back(l);
      }
      std::printf("  sum of convolution kernel times (isolated, batch %d): %.1f us\n", batch, br.conv_sum_us);
      // What no schedule of these kernels can beat: the longest chain of dependent operators.
      double all_us = 0;
      for (const auto& l : br.layers) all_us += l.us;
      const auto chain = net.critical_path([&](int op) { return br.layers[op].us; });
      for (int op : chain) br.critical_path_us += br.layers[op].us;
      br.critical_path_ops = static_cast<int>(chain.size());
      std::printf("  critical path (isolated operator times, batch %d): %.1f us over %d operators; all operators %.1f us "
                  "(bound on the speed-up over one stream: %.2fx)\n",
                  batch, br.critical_path_us, br.critical_path_ops, all_us, all_us / br.critical_path_us);
    }

    // Checks an engine's sequential graph against the float64 reference and returns its output,
    // the one every opara variant on that engine must reproduce bit for bit.
    std::optional<std::vector<double>> reference_out;
    auto sequential_output = [&](engine& e, const char* what) {
      e.poison();
      e.upload_input(input);
      sequential_graph g(e, s);
      g(s);
      engine_check(cudaStreamSynchronize(s), what);
      auto out = e.download(net_desc.output);
      if (a.check) {
        if (!reference_out) reference_out = run_reference(net_desc, w, input, batch);
        const double err = reference::rel_error(out, *reference_out);
        if (br.ref_err_seq < 0) br.ref_err_seq = err;
        const bool ok = err <= model_tolerance(a.precision);
        if (!ok) ++failures;
        std::printf("%s batch %d: %s vs float64 reference rel_err %.3e (tol %.0e)\n", ok ? "ok  " : "FAIL", batch, what,
                    err, model_tolerance(a.precision));
      }
      return out;
    };
    sequential_graph seq(net, s);
    const auto expect = sequential_output(net, "sequential graph");

    // The engine the opara variants run on: the same one unless opara's tile policy differs.
    std::unique_ptr<engine> own;
    std::vector<float> par_expect = expect;
    if (par_min_blocks != min_blocks) {
      own = std::make_unique<engine>(net_desc, w, batch, options(par_min_blocks));
      par_expect = sequential_output(*own, "sequential graph (opara's tile policy)");
    }
    engine& pnet = own ? *own : net;

    // Runs an opara variant: compile, check its output against the sequential graph, time it.
    opara::profile saved;
    bool have_profile = false;
    auto try_variant = [&](const std::string& name, auto sched) -> variant_result {
      if (a.launch_segments > 0) sched.options.capture.launch_segments = a.launch_segments;
      if (a.carveout >= -1) sched.options.capture.shared_carveout = a.carveout;
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
        if (!a.check_only) {
          r.ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps).median_ms;
          r.isolated_ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps, 30, timing_mode::isolated).median_ms;
        }
        return r;
      } catch (const std::exception& e) {
        ++failures;
        std::printf("FAIL batch %d: %s: %s\n", batch, name.c_str(), e.what());
        variant_result r;
        r.name = name + " (failed)";
        r.ms = r.isolated_ms = INFINITY;
        return r;
      }
    };

    using namespace opara;
    br.opara = try_variant("opara_greedy+resource_aware", scheduler<streams::opara_greedy, order::resource_aware>{});
    br.variants.push_back(br.opara);
    // --check-only runs every variant too (untimed): the ctest model cases promise each is bit-equal.
    if (!a.quick) {
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
    {
      std::size_t equal = 0;
      for (const auto& v : br.variants) equal += v.max_diff == 0 && std::isfinite(v.ms);
      std::printf("%s batch %d: %zu of %zu opara variants bit-equal to the sequential graph\n",
                  equal == br.variants.size() ? "ok  " : "FAIL", batch, equal, br.variants.size());
    }
    if (!a.check_only) {
      br.best = br.variants[0];
      for (const auto& v : br.variants)
        if (v.ms < br.best.ms) br.best = v;
      br.eager = time_runs([&](cudaStream_t st) { net.enqueue_all(st); }, s, a.reps);
      br.seq = time_runs([&](cudaStream_t st) { seq(st); }, s, a.reps);
      br.eager_isolated = time_runs([&](cudaStream_t st) { net.enqueue_all(st); }, s, a.reps, 30, timing_mode::isolated);
      br.seq_isolated = time_runs([&](cudaStream_t st) { seq(st); }, s, a.reps, 30, timing_mode::isolated);
      for (const auto& v : br.variants)
        std::printf("  batch %d  %-44s %2u streams %3zu waits  %.4f ms (isolated %.4f ms)\n", batch, v.name.c_str(),
                    v.streams, v.waits, v.ms, v.isolated_ms);
    }
    results.push_back(br);
  }

  if (!a.check_only) {
    std::printf("\n%-6s %-5s %-8s %-17s %-17s %-17s %-58s %-6s %s\n", "batch", "ops", "path", "eager ms", "seq graph ms",
                "opara (Opara pol.)", "opara best policy (back to back / isolated ms)", "x seq", "tiles seq/opara");
    for (const auto& r : results) {
      char eg[32], sq[32], op[40], best[96];
      std::snprintf(eg, sizeof eg, "%.4f/%.4f", r.eager.median_ms, r.eager_isolated.median_ms);
      std::snprintf(sq, sizeof sq, "%.4f/%.4f", r.seq.median_ms, r.seq_isolated.median_ms);
      std::snprintf(op, sizeof op, "%.4f/%.4f", r.opara.ms, r.opara.isolated_ms);
      std::snprintf(best, sizeof best, "%.4f/%.4f %s (%u str)", r.best.ms, r.best.isolated_ms, r.best.name.c_str(),
                    r.best.streams);
      std::printf("%-6d %-5zu %-8s %-17s %-17s %-17s %-58s %-6.2f %lld/%lld\n", r.batch, r.ops, k::path_name(used_path),
                  eg, sq, op, best, r.seq.median_ms / r.best.ms, r.min_blocks, r.par_min_blocks);
    }
  }

  if (!a.json.empty()) {
    std::ofstream f(a.json);
    if (!f) throw std::runtime_error("cannot write " + a.json);
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    const char* commit = std::getenv("OPARA_COMMIT");
    f << "{\n  \"model\": \"" << model.name << "\",\n  \"gpu\": \"" << prop.name << "\",\n  \"driver\": \"" << opara::cuda::driver_release()
      << "\",\n  \"commit\": \"" << (commit ? commit : "unknown") << "\",\n  \"date\": \"" << date
      << "\",\n  \"precision\": \"" << k::precision_name(a.precision) << "\",\n  \"path\": \"" << k::path_name(used_path)
      << "\",\n  \"fused_pools\": " << (a.fuse ? "true" : "false") << ",\n  \"reps\": " << a.reps
      << ",\n  \"launch_segments\": " << (a.launch_segments > 0 ? a.launch_segments : opara::capture::options{}.launch_segments)
      << ",\n  \"shared_carveout\": " << (a.carveout >= -1 ? a.carveout : opara::capture::options{}.shared_carveout);
    if (a.layers) f << ",\n  \"ceilings\": {\"tf32_tflops\": " << ceil.tflops << ", \"copy_gbps\": " << ceil.gbps << "}";
    f << ",\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      f << "    {\"batch\": " << r.batch << ", \"operators\": " << r.ops << ", \"eager_ms\": " << r.eager.median_ms
        << ", \"eager_isolated_ms\": " << r.eager_isolated.median_ms << ", \"sequential_graph_ms\": " << r.seq.median_ms
        << ", \"sequential_graph_isolated_ms\": " << r.seq_isolated.median_ms << ", \"opara_ms\": " << r.opara.ms
        << ", \"opara_isolated_ms\": " << r.opara.isolated_ms << ", \"opara_streams\": " << r.opara.streams
        << ", \"best_policy\": \"" << r.best.name << "\", \"best_ms\": " << r.best.ms
        << ", \"best_isolated_ms\": " << r.best.isolated_ms << ", \"best_streams\": " << r.best.streams
        << ", \"speedup_vs_sequential_graph\": " << r.seq.median_ms / r.best.ms << ", \"opara_setup_ms\": " << r.setup_ms
        << ", \"tile_min_blocks\": " << r.min_blocks << ", \"opara_tile_min_blocks\": " << r.par_min_blocks
        << ", \"ref_rel_err\": " << r.ref_err_seq << ", \"conv_sum_us\": " << r.conv_sum_us
        << ", \"critical_path_us\": " << r.critical_path_us << ", \"critical_path_ops\": " << r.critical_path_ops << ",\n     \"variants\": [";
      for (std::size_t j = 0; j < r.variants.size(); ++j)
        f << (j ? ", " : "") << "{\"name\": \"" << r.variants[j].name << "\", \"ms\": " << r.variants[j].ms
          << ", \"isolated_ms\": " << r.variants[j].isolated_ms << ", \"streams\": " << r.variants[j].streams
          << ", \"waits\": " << r.variants[j].waits << "}";
      f << "],\n     \"layers\": [";
      for (std::size_t j = 0; j < r.layers.size(); ++j)
        f << (j ? ", " : "") << "{\"name\": \"" << r.layers[j].name << "\", \"config\": \"" << r.layers[j].config
          << "\", \"blocks\": " << r.layers[j].blocks << ", \"us\": " << r.layers[j].us << ", \"tflops\": "
          << r.layers[j].tflops << ", \"floor_us\": " << r.layers[j].floor_us << "}";
      f << "]}" << (i + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]";
    if (!a.pytorch.empty()) {
      std::ifstream p(a.pytorch);
      if (!p) throw std::runtime_error("cannot read " + a.pytorch);
      std::stringstream text;
      text << p.rdbuf();
      f << ",\n  \"pytorch\": " << text.str();
    }
    f << "\n}\n";
    std::printf("wrote %s\n", a.json.c_str());
  }
  cudaStreamDestroy(s);
  return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s: %s\n", model.program, e.what());
  return 1;
}

} // namespace convnet
