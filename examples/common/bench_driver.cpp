//! The model bench (googlenet_bench, inception_v3_bench: one driver, the model a parameter): a
//! network (torchvision layout, fused kernels) run four ways at batch 1 and 8: single-stream
//! launches (eager), a sequential CUDA Graph, opara with Opara's policies (opara_greedy +
//! resource_aware + stream_capture), and opara with the fastest of several policies.
//! The sequential CUDA Graph is opara's scheduler<streams::sequential, order::program_order>,
//! captured with the opara variants' capture options (programmatic dependent launch included), so
//! that "parallel over sequential" compares like with like. The plain one-stream capture without
//! PDL (bench_util.hpp's sequential_graph, what PyTorch's CUDA Graphs are) is timed beside it as the
//! "plain sequential graph", and its output is the one every graph of the run (opara's sequential
//! graph and every variant) must reproduce bit for bit.
//!
//!   <model>_bench [--batch 1,8] [--precision tf32|tf32x3|bf16] [--path auto|sm90|portable] [--fuse]
//!                 [--fuse-1x1] [--reps 300] [--check] [--check-only] [--json FILE] [--weights FILE]
//!                 [--min-blocks N] [--layers] [--quick] [--pytorch FILE] [--pipeline ring|specialized|persistent]
//!
//! --fuse folds 3x3/s1/p1 max pools into their 1x1 convolution, --fuse-1x1 runs the 1x1 convolutions
//! of one input as one GEMM (engine_options::fuse_pools, fuse_pointwise; sm_90 path). --pipeline
//! picks the sm_90 convolutions' main loop (engine_options::pipeline).
//! --check compares every variant's output with the float64 CPU reference; --weights FILE runs the
//! PyTorch check (file from scripts/export_torchvision_weights.py): opara's output must match
//! PyTorch's within 1e-3 relative (bf16: 3e-2; see pytorch_tolerance). --precision bf16 runs the sm_90
//! path with bf16 activations and weights (a GPU of compute capability 9.0 only). --layers times every operator alone against its own floor,
//! max(FLOPs / tensor rate, bytes / bandwidth), with both ceilings measured first (cuBLAS TF32 GEMM,
//! device-to-device copy), and the critical path of those times. --pytorch FILE embeds scripts/pytorch_torchvision.py's JSON in --json's.
//! Every whole-model figure is given in two timing modes: back to back and isolated (bench_util.hpp).
//! Exits 77 when there is no GPU, and with --precision bf16 or --fuse-1x1 when the GPU is not compute
//! capability 9.0.

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
#include "programs.hpp"
#include "reference.hpp"

namespace convnet {

namespace bench_detail {

namespace k = convnet::kernels;

struct args {
  std::vector<int> batches{1, 8};
  k::conv_precision precision = k::conv_precision::tf32;
  k::conv_path path = k::conv_path::automatic;
  bool fuse = false;
  bool fuse_1x1 = false;
  k::sm90_pipeline pipeline = k::sm90_pipeline::ring;
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
      else if (p == "bf16") a.precision = k::conv_precision::bf16;
      else throw std::invalid_argument("--precision must be tf32, tf32x3 or bf16");
    } else if (s == "--path") {
      const std::string p = next();
      if (p == "auto") a.path = k::conv_path::automatic;
      else if (p == "sm90") a.path = k::conv_path::sm90;
      else if (p == "portable") a.path = k::conv_path::portable;
      else throw std::invalid_argument("--path must be auto, sm90 or portable");
    } else if (s == "--fuse") a.fuse = true;
    else if (s == "--fuse-1x1") a.fuse_1x1 = true;
    else if (s == "--pipeline") {
      const std::string p = next();
      if (p == "ring") a.pipeline = k::sm90_pipeline::ring;
      else if (p == "specialized") a.pipeline = k::sm90_pipeline::specialized;
      else if (p == "persistent") a.pipeline = k::sm90_pipeline::persistent;
      else throw std::invalid_argument("--pipeline must be ring, specialized or persistent");
    }
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
      std::printf("%s [--batch 1,8] [--precision tf32|tf32x3|bf16] [--path auto|sm90|portable] [--fuse] [--fuse-1x1] "
                  "[--reps N] [--check] [--check-only] [--json FILE] [--weights FILE] [--min-blocks N] [--layers] "
                  "[--quick] [--pytorch FILE] [--launch-segments N] [--carveout P] [--pipeline ring|specialized|persistent]\n", model.program);
      std::exit(0);
    } else throw std::invalid_argument("unknown argument " + s);
  }
  return a;
}

// Tolerance of the whole model against the float64 reference: TF32 rounds both operands of
// every product to 10 mantissa bits (measured 5.5e-4 on both models); the split (tf32x3) is
// fp32-accurate. BF16 keeps 7 mantissa bits: every weight and every activation (each layer's output)
// is rounded with a unit roundoff of 2^-8, 8x TF32's 2^-11. A CPU emulation of that rounding (the
// input, the weights and every convolution's and pool's output rounded, products and sums exact)
// gives 5.5e-4 / 5.8e-4 with TF32's rounding (GoogLeNet / Inception-v3, batch 1; the GPU measured
// 5.3e-4 to 5.6e-4) and 4.4e-3 / 5.2e-3 with BF16's; 2e-2 leaves about 4x room over that, while a wrong layer
// (O(1) errors) fails by far.
inline double model_tolerance(k::conv_precision p) {
  return p == k::conv_precision::tf32 ? 1e-2 : p == k::conv_precision::bf16 ? 2e-2 : 1e-4;
}
// Tolerance of the PyTorch-weights check (opara vs PyTorch fp32): TF32 measured 8.0e-4 (GoogLeNet)
// and 7.7e-4 (Inception-v3) under 1e-3, about 1.4x its error on random weights; BF16, by the same
// ratio to its emulated 4.4e-3 / 5.2e-3, ~7e-3 expected: 3e-2.
inline double pytorch_tolerance(k::conv_precision p) { return p == k::conv_precision::bf16 ? 3e-2 : 1e-3; }

//! `sched` with the capture options the command line gives every opara graph (--launch-segments,
//! --carveout).
template <class Scheduler>
Scheduler with_capture_args(Scheduler sched, const args& a) {
  if (a.launch_segments > 0) sched.options.capture.launch_segments = a.launch_segments;
  if (a.carveout >= -1) sched.options.capture.shared_carveout = a.carveout;
  return sched;
}

//! The sequential baseline: one stream, program order, captured like the opara variants (PDL along
//! the stream by default).
using sequential_scheduler = opara::scheduler<opara::streams::sequential, opara::order::program_order>;

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
  timing eager, seq, eager_isolated, seq_isolated;  // seq: opara's sequential graph (sequential_scheduler)
  timing plain_seq, plain_seq_isolated;              // the plain capture (sequential_graph: no PDL)
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
//! output each moved once (fp32; bf16: 2 bytes each, and twice the measured TF32 rate, the tensor
//! cores' nominal BF16 : TF32 ratio, assumed rather than measured).
inline double conv_floor_us(const k::conv_shape& s, const ceilings& c, k::conv_precision p = k::conv_precision::tf32) {
  const bool half = p == k::conv_precision::bf16;
  const double bytes = (half ? 2.0 : 4.0) *
                       (1.0 * s.batch * s.cin * s.h * s.w + 1.0 * s.cout * s.k() + 1.0 * s.batch * s.cout * s.ho() * s.wo());
  return std::max(s.flops() / ((half ? 2.0 : 1.0) * c.tflops * 1e12), bytes / (c.gbps * 1e9)) * 1e6;
}

//! What every step of a run shares: the arguments, the stream, the model with its weights, and the
//! count of failed checks (the exit status).
struct bench_context {
  const args& a;
  cudaStream_t s;
  const topology& net_desc;
  const weights& w;
  int failures = 0;

  //! The engine's options with the given tile policy (engine_options::min_conv_blocks).
  [[nodiscard]] engine_options options(long long min_blocks) const {
    engine_options o;
    o.precision = a.precision;
    o.min_conv_blocks = min_blocks;
    o.path = a.path;
    o.fuse_pools = a.fuse;
    o.fuse_pointwise = a.fuse_1x1;
    o.pipeline = a.pipeline;
    return o;
  }
};

//! --weights: opara's output on PyTorch's weights and input against PyTorch's output (and both
//! against the float64 reference).
inline void check_pytorch_weights(bench_context& c) {
  const args& a = c.a;
  const pytorch_export ex = load_pytorch_export(c.net_desc, a.weights);
  engine net(c.net_desc, ex.w, ex.batch, c.options(a.min_blocks ? a.min_blocks : 96));
  opara::executable exe = opara::scheduler<>{}.compile(net, c.s);
  net.poison();
  net.upload_input(ex.input);
  exe(c.s);
  engine_check(cudaStreamSynchronize(c.s), "opara run (weights check)");
  const auto got = net.download(c.net_desc.output);
  const std::vector<double> torch_out(ex.output.begin(), ex.output.end());
  const double err = reference::rel_error(got, torch_out);
  const auto ref = run_reference(c.net_desc, ex.w, ex.input, ex.batch);
  const double ref_vs_torch = reference::rel_error(ex.output, ref);
  const double err_ref = reference::rel_error(got, ref);
  const double tol = pytorch_tolerance(a.precision);
  const bool ok = err <= tol;
  if (!ok) ++c.failures;
  std::printf("%s PyTorch weights (%s, batch %d, path %s, %s): opara vs PyTorch rel_err %.3e (tol %.0e); "
              "opara vs float64 reference %.3e; PyTorch vs float64 reference %.3e\n",
              ok ? "ok  " : "FAIL", a.weights.c_str(), ex.batch, k::path_name(net.path()), k::precision_name(a.precision),
              err, tol, err_ref, ref_vs_torch);
}

//! The tile policies of one batch (engine_options::min_conv_blocks): the baselines' and opara's.
struct tile_policy {
  long long sequential = 0, opara = 0;
};

//! Tile policy: the largest tile per layer that still gives `min_blocks` blocks. Auto: each mode
//! gets its own, the sequential graph the value that makes it fastest, opara the value that makes
//! Opara's policies fastest (on one stream a kernel must fill the GPU alone; in parallel, fewer and
//! larger tiles waste less and the other streams fill the gaps).
inline tile_policy choose_tile_policy(const bench_context& c, int batch) {
  const args& a = c.a;
  const cudaStream_t s = c.s;
  long long min_blocks = a.min_blocks ? a.min_blocks : (a.check_only ? 96 : 0);
  long long par_min_blocks = min_blocks;
  if (min_blocks == 0) {
    double best = INFINITY, par_best = INFINITY;
    for (long long mb : {32LL, 64LL, 96LL, 132LL, 200LL, 264LL}) {
      engine trial(c.net_desc, c.w, batch, c.options(mb));
      trial.upload_input(random_input(trial.tensor_floats(c.net_desc.input), 5));
      const opara::executable seq = sequential_scheduler{}.compile(trial, s);
      const double t = time_runs([&](cudaStream_t st) { seq(st); }, s, 100, 10).median_ms;
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
  return {min_blocks, par_min_blocks};
}

//! --layers: every operator timed alone against its floor, the sum of the convolutions, and the
//! critical path of those times.
inline void time_layers(const bench_context& c, engine& net, const std::vector<float>& input, const ceilings& ceil,
                        batch_result& br) {
  const cudaStream_t s = c.s;
  const int batch = br.batch;
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
      const auto cs = net.conv_shape(i);  // a horizontally fused operator: its whole GEMM
      l.tflops = cs.flops() / (l.us * 1e-6) / 1e12;
      l.floor_us = conv_floor_us(cs, ceil, c.a.precision);
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

//! One batch's whole-model runs on an engine: the sequential graph (checked against the float64
//! reference), every opara variant (checked bit for bit against the sequential graph of its own
//! engine, then timed) and the baselines' times.
class batch_run {
public:
  batch_run(bench_context& c, batch_result& br, engine& net, const std::vector<float>& input)
      : c_(c), br_(br), net_(net), input_(input) {}

  //! Captures the sequential graphs the baselines are timed with (plain, and opara's with the
  //! variants' capture options), and the outputs every graph must reproduce: the plain sequential
  //! graph's, on the baselines' engine (opara's sequential graph must match it bit for bit) and on
  //! the engine with opara's tile policy (its own when that policy differs from the baselines').
  void run_sequential(long long par_min_blocks) {
    plain_seq_.emplace(net_, c_.s);
    seq_.emplace(with_capture_args(sequential_scheduler{}, c_.a).compile(net_, c_.s));
    par_expect_ = sequential_output(net_, "sequential graph");
    check_opara_sequential();
    if (par_min_blocks != br_.min_blocks) {
      own_ = std::make_unique<engine>(c_.net_desc, c_.w, br_.batch, c_.options(par_min_blocks));
      par_expect_ = sequential_output(*own_, "sequential graph (opara's tile policy)");
    }
  }

  //! Every opara variant, compiled, checked and timed (untimed with --check-only: the ctest model
  //! cases promise each is bit-equal), and the line that says how many were bit-equal.
  void run_variants() {
    using namespace opara;
    br_.opara = try_variant("opara_greedy+resource_aware", scheduler<streams::opara_greedy, order::resource_aware>{});
    br_.variants.push_back(br_.opara);
    if (!c_.a.quick) {
      br_.variants.push_back(try_variant("min_path_cover+resource_aware", scheduler<streams::min_path_cover, order::resource_aware>{}));
      br_.variants.push_back(try_variant("min_path_cover+critical_path_first", scheduler<streams::min_path_cover, order::critical_path_first>{}));
      br_.variants.push_back(try_variant("opara_greedy+critical_path_first", scheduler<streams::opara_greedy, order::critical_path_first>{}));
      for (std::uint32_t cap : {4u, 8u}) {
        scheduler<streams::capped<streams::opara_greedy>, order::resource_aware> sc{};
        sc.streams.max_streams = cap;
        br_.variants.push_back(try_variant("capped" + std::to_string(cap) + "(opara_greedy)+resource_aware", sc));
        scheduler<streams::round_robin, order::resource_aware> rr{};
        rr.streams.streams = cap;
        br_.variants.push_back(try_variant("round_robin" + std::to_string(cap) + "+resource_aware", rr));
      }
    }
    std::size_t equal = 0;
    for (const auto& v : br_.variants) equal += v.max_diff == 0 && std::isfinite(v.ms);
    std::printf("%s batch %d: %zu of %zu opara variants bit-equal to the sequential graph\n",
                equal == br_.variants.size() ? "ok  " : "FAIL", br_.batch, equal, br_.variants.size());
  }

  //! The best variant, the baselines' times (eager and the sequential graph, back to back and
  //! isolated), and a line per variant.
  void time_baselines() {
    const args& a = c_.a;
    const cudaStream_t s = c_.s;
    br_.best = br_.variants[0];
    for (const auto& v : br_.variants)
      if (v.ms < br_.best.ms) br_.best = v;
    const opara::executable& seq = *seq_;
    const sequential_graph& plain = *plain_seq_;
    br_.eager = time_runs([&](cudaStream_t st) { net_.enqueue_all(st); }, s, a.reps);
    br_.seq = time_runs([&](cudaStream_t st) { seq(st); }, s, a.reps);
    br_.eager_isolated = time_runs([&](cudaStream_t st) { net_.enqueue_all(st); }, s, a.reps, 30, timing_mode::isolated);
    br_.seq_isolated = time_runs([&](cudaStream_t st) { seq(st); }, s, a.reps, 30, timing_mode::isolated);
    br_.plain_seq = time_runs([&](cudaStream_t st) { plain(st); }, s, a.reps);
    br_.plain_seq_isolated = time_runs([&](cudaStream_t st) { plain(st); }, s, a.reps, 30, timing_mode::isolated);
    for (const auto& v : br_.variants)
      std::printf("  batch %d  %-44s %2u streams %3zu waits  %.4f ms (isolated %.4f ms)\n", br_.batch, v.name.c_str(),
                  v.streams, v.waits, v.ms, v.isolated_ms);
    std::printf("  batch %d  sequential graph (opara's, PDL) %.4f ms (isolated %.4f ms); plain capture (no PDL) %.4f ms "
                "(isolated %.4f ms)\n",
                br_.batch, br_.seq.median_ms, br_.seq_isolated.median_ms, br_.plain_seq.median_ms,
                br_.plain_seq_isolated.median_ms);
  }

private:
  //! Checks an engine's sequential graph against the float64 reference and returns its output,
  //! the one every opara variant on that engine must reproduce bit for bit.
  std::vector<float> sequential_output(engine& e, const char* what) {
    const cudaStream_t s = c_.s;
    e.poison();
    e.upload_input(input_);
    sequential_graph g(e, s);
    g(s);
    engine_check(cudaStreamSynchronize(s), what);
    auto out = e.download(c_.net_desc.output);
    if (c_.a.check) {
      if (!reference_out_) reference_out_ = run_reference(c_.net_desc, c_.w, input_, br_.batch);
      const double err = reference::rel_error(out, *reference_out_);
      if (br_.ref_err_seq < 0) br_.ref_err_seq = err;
      const bool ok = err <= model_tolerance(c_.a.precision);
      if (!ok) ++c_.failures;
      std::printf("%s batch %d: %s vs float64 reference rel_err %.3e (tol %.0e)\n", ok ? "ok  " : "FAIL", br_.batch, what,
                  err, model_tolerance(c_.a.precision));
    }
    return out;
  }

  //! opara's sequential graph on the baselines' engine against the plain capture's output (in
  //! par_expect_ when called): bit for bit, as every variant.
  void check_opara_sequential() {
    const cudaStream_t s = c_.s;
    net_.poison();
    net_.upload_input(input_);
    (*seq_)(s);
    engine_check(cudaStreamSynchronize(s), "opara's sequential graph");
    const double diff = max_abs_diff(net_.download(c_.net_desc.output), par_expect_);
    if (diff != 0) ++c_.failures;
    std::printf("%s batch %d: opara's sequential graph vs the plain sequential graph: max |diff| %.3e\n",
                diff == 0 ? "ok  " : "FAIL", br_.batch, diff);
  }

  //! The engine the opara variants run on: the same one unless opara's tile policy differs.
  [[nodiscard]] engine& par_net() const { return own_ ? *own_ : net_; }

  //! Runs an opara variant: compile (from the first variant's profile), check its output against
  //! the sequential graph, time it. A variant that throws is a failure, named and timed infinite.
  template <class Scheduler>
  variant_result try_variant(const std::string& name, Scheduler sched) {
    const args& a = c_.a;
    const cudaStream_t s = c_.s;
    const int batch = br_.batch;
    engine& pnet = par_net();
    sched = with_capture_args(std::move(sched), a);
    try {
      const auto t0 = std::chrono::steady_clock::now();
      opara::executable exe = saved_ ? sched.compile(pnet, s, *saved_) : sched.compile(pnet, s);
      const double setup = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!saved_ && exe.profile()) {
        saved_ = *exe.profile();
        br_.setup_ms = setup;
      }
      pnet.poison();
      pnet.upload_input(input_);
      exe(s);
      engine_check(cudaStreamSynchronize(s), "opara variant " + name);
      variant_result r;
      r.name = name;
      r.streams = exe.plan().num_streams;
      r.waits = exe.plan().num_waits();
      r.max_diff = max_abs_diff(pnet.download(c_.net_desc.output), par_expect_);
      if (r.max_diff != 0) {
        ++c_.failures;
        std::printf("FAIL batch %d: %s output differs from the sequential graph (max |diff| %.3e)\n", batch,
                    name.c_str(), r.max_diff);
      }
      if (!a.check_only) {
        r.ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps).median_ms;
        r.isolated_ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps, 30, timing_mode::isolated).median_ms;
      }
      return r;
    } catch (const std::exception& e) {
      ++c_.failures;
      std::printf("FAIL batch %d: %s: %s\n", batch, name.c_str(), e.what());
      variant_result r;
      r.name = name + " (failed)";
      r.ms = r.isolated_ms = INFINITY;
      return r;
    }
  }

  bench_context& c_;
  batch_result& br_;
  engine& net_;
  const std::vector<float>& input_;
  std::optional<sequential_graph> plain_seq_;  // the plain capture (no PDL): the reference output
  std::optional<opara::executable> seq_;       // opara's sequential graph: the baseline the variants are timed against
  std::vector<float> par_expect_;  // the output every opara variant must reproduce
  std::unique_ptr<engine> own_;
  std::optional<std::vector<double>> reference_out_;
  std::optional<opara::profile> saved_;  // the first variant's profile, reused by the others
};

//! One batch: the tile policies, the engine, --layers' times, the sequential graph, every opara
//! variant and the baselines. `used_path` becomes the engine's convolution path.
inline batch_result run_batch(bench_context& c, int batch, const ceilings& ceil, k::conv_path& used_path) {
  batch_result br;
  br.batch = batch;
  const tile_policy tiles = choose_tile_policy(c, batch);
  br.min_blocks = tiles.sequential;
  br.par_min_blocks = tiles.opara;
  engine net(c.net_desc, c.w, batch, c.options(tiles.sequential));
  used_path = net.path();
  br.ops = net.op_count();
  std::printf("batch %d: path %s, %zu engine operators (%zu in the topology)\n", batch, k::path_name(net.path()),
              net.op_count(), c.net_desc.ops.size());
  const auto input = random_input(net.tensor_floats(c.net_desc.input), 7 + batch);
  if (c.a.layers) time_layers(c, net, input, ceil, br);
  batch_run run(c, br, net, input);
  run.run_sequential(tiles.opara);
  run.run_variants();
  if (!c.a.check_only) run.time_baselines();
  return br;
}

//! The table of every batch: eager, the sequential graph, opara with Opara's policies and the best
//! policy, back to back / isolated, and the speed-up of the best over the sequential graph.
inline void print_summary(const std::vector<batch_result>& results, k::conv_path used_path) {
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

//! --json FILE: the run's settings, every batch's results (variants and layers), and --pytorch's
//! JSON embedded as "pytorch".
inline void write_json(const args& a, const bench_model& model, const cudaDeviceProp& prop, const ceilings& ceil,
                       const std::vector<batch_result>& results, k::conv_path used_path) {
  std::ofstream f(a.json);
  if (!f) throw std::runtime_error("cannot write " + a.json);
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const char* commit = std::getenv("OPARA_COMMIT");
  f << "{\n  \"model\": \"" << model.name << "\",\n  \"gpu\": \"" << prop.name << "\",\n  \"driver\": \"" << opara::cuda::driver_release()
    << "\",\n  \"commit\": \"" << (commit ? commit : "unknown") << "\",\n  \"date\": \"" << date
    << "\",\n  \"precision\": \"" << k::precision_name(a.precision) << "\",\n  \"path\": \"" << k::path_name(used_path)
    << "\",\n  \"fused_pools\": " << (a.fuse ? "true" : "false")
    << ",\n  \"fused_pointwise\": " << (a.fuse_1x1 ? "true" : "false") << ",\n  \"pipeline\": \"" << k::pipeline_name(a.pipeline)
    << "\",\n  \"reps\": " << a.reps
    << ",\n  \"launch_segments\": " << (a.launch_segments > 0 ? a.launch_segments : opara::capture::options{}.launch_segments)
    << ",\n  \"shared_carveout\": " << (a.carveout >= -1 ? a.carveout : opara::capture::options{}.shared_carveout)
    << ",\n  \"sequential_graph\": \"" << with_capture_args(sequential_scheduler{}, a).label() << "\"";
  if (a.layers) f << ",\n  \"ceilings\": {\"tf32_tflops\": " << ceil.tflops << ", \"copy_gbps\": " << ceil.gbps << "}";
  f << ",\n  \"results\": [\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    f << "    {\"batch\": " << r.batch << ", \"operators\": " << r.ops << ", \"eager_ms\": " << r.eager.median_ms
      << ", \"eager_isolated_ms\": " << r.eager_isolated.median_ms << ", \"sequential_graph_ms\": " << r.seq.median_ms
      << ", \"sequential_graph_isolated_ms\": " << r.seq_isolated.median_ms
      << ", \"plain_sequential_graph_ms\": " << r.plain_seq.median_ms
      << ", \"plain_sequential_graph_isolated_ms\": " << r.plain_seq_isolated.median_ms << ", \"opara_ms\": " << r.opara.ms
      << ", \"opara_isolated_ms\": " << r.opara.isolated_ms << ", \"opara_streams\": " << r.opara.streams
      << ", \"best_policy\": \"" << r.best.name << "\", \"best_ms\": " << r.best.ms
      << ", \"best_isolated_ms\": " << r.best.isolated_ms << ", \"best_streams\": " << r.best.streams
      << ", \"speedup_vs_sequential_graph\": " << r.seq.median_ms / r.best.ms
      << ", \"speedup_vs_plain_sequential_graph\": " << r.plain_seq.median_ms / r.best.ms << ", \"opara_setup_ms\": " << r.setup_ms
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

} // namespace bench_detail

//! Runs the bench for `model` (the program's main: returns its exit status; 77 without a GPU):
//! the PyTorch weights check (--weights), the ceilings (--layers), every batch (run_batch), the
//! summary table and the JSON (--json).
int bench_main(int argc, char** argv, const bench_model& model) try {
  using namespace bench_detail;
  const args a = parse(argc, argv, model);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  if (a.precision == k::conv_precision::bf16 && a.path != k::conv_path::portable && !launch::sm90_supported(0)) {
    std::puts("bf16 runs on the sm90 path only, and this GPU is not compute capability 9.0: skipped");
    return 77;
  }
  if (a.fuse_1x1 && a.path != k::conv_path::portable && !launch::sm90_supported(0)) {
    std::puts("--fuse-1x1 runs on the sm90 path only, and this GPU is not compute capability 9.0: skipped");
    return 77;
  }
  cudaDeviceProp prop{};
  engine_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  cudaStream_t s = nullptr;
  engine_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");

  const topology net_desc = model.make();
  const weights w = make_random_weights(net_desc, 2024);
  bench_context c{a, s, net_desc, w};
  std::printf("%s (torchvision layout, %zu operators in the topology) on %s, conv precision %s, path %s\n",
              model.name, net_desc.ops.size(), prop.name, k::precision_name(a.precision), k::path_name(a.path));
  if (!a.weights.empty()) check_pytorch_weights(c);

  ceilings ceil;
  if (a.layers) {
    ceil = measure_ceilings(s);
    std::printf("ceilings: TF32 tensor rate %.1f TFLOP/s (cuBLAS 8192^3), bandwidth %.0f GB/s (D2D copy)\n", ceil.tflops,
                ceil.gbps);
  }

  std::vector<batch_result> results;
  k::conv_path used_path = a.path;
  for (int batch : a.batches) results.push_back(run_batch(c, batch, ceil, used_path));
  if (!a.check_only) print_summary(results, used_path);
  if (!a.json.empty()) write_json(a, model, prop, ceil, results, used_path);
  cudaStreamDestroy(s);
  return c.failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s: %s\n", model.program, e.what());
  return 1;
}

} // namespace convnet
