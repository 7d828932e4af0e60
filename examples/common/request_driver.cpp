//! The request bench (googlenet_requests, inception_v3_requests: one driver, the model a parameter):
//! the engine as a real one runs, from one activation arena, taking each request's own input and
//! output buffers. At batch 1 and 8 it builds the engine four ways and runs each under opara's
//! default scheduler:
//!   own memory         every tensor its own bytes (no reuse; what the examples did before)
//!   sequential arena   the arena an engine plans for its sequential order (opara::plan_arena of the
//!                      sequential plan), run in parallel: make_plan adds the orderings it needs
//!   parallel arena     opara::plan_arena for the parallel plan itself
//!   budgeted           opara::make_plan_within(engine, sequential_arena): the parallel plan kept
//!                      within the sequential arena's bytes by serializing what does not fit
//!   budgeted 1.25x     the same within 1.25x the sequential arena's bytes
//! and reports each one's activation bytes (with the parallel plan's lower bound), its latency
//! (isolated and back to back) and its output, which must equal the own-memory engine's sequential
//! CUDA graph bit for bit (and that one the float64 reference within the model's tolerance). Then
//! a request loop on the parallel arena: every request brings fresh input and output buffers; the
//! executable is re-pointed (engine::bind + opara::executable::update) against copying the request
//! into the engine's static buffers and out again, and against a full compile.
//!
//!   <model>_requests [--batch 1,8] [--requests 200] [--reps 300] [--check-only] [--json FILE]
//!
//! Exits 77 when there is no GPU, 1 when an output differs.

#include <cuda_runtime_api.h>

#include <opara/cuda.hpp>
#include <opara/memory/arena.hpp>
#include <opara/compose/budget.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "engine.hpp"
#include "network.hpp"
#include "programs.hpp"
#include "reference.hpp"

namespace convnet {

namespace request_detail {

struct args {
  std::vector<int> batches{1, 8};
  int requests = 200, reps = 300;
  bool check_only = false;
  std::string json;
};

inline args parse(int argc, char** argv, const request_model& m) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--batch") {
      a.batches.clear();
      const std::string list = next();
      for (std::size_t p = 0; p < list.size();) {
        const std::size_t q = list.find(',', p);
        a.batches.push_back(std::stoi(list.substr(p, q - p)));
        p = q == std::string::npos ? list.size() : q + 1;
      }
    } else if (arg == "--requests") a.requests = std::stoi(next());
    else if (arg == "--reps") a.reps = std::stoi(next());
    else if (arg == "--check-only") a.check_only = true;
    else if (arg == "--json") a.json = next();
    else throw std::invalid_argument(std::string("usage: ") + m.program +
                                     " [--batch 1,8] [--requests 200] [--reps 300] [--check-only] [--json FILE]");
  }
  if (a.check_only) {
    a.requests = 20;
    a.reps = 20;
  }
  return a;
}

struct variant {
  std::string name;
  std::uint64_t bytes = 0;
  std::size_t orderings = 0, streams = 0;
  double isolated_ms = 0, back_to_back_ms = 0;
  double predicted_us = 0;  // the GPU model's makespan of the variant's plan (the cost of its orderings)
  bool identical = false;
};

struct batch_report {
  int batch = 0;
  std::uint64_t no_reuse = 0, sequential = 0, parallel = 0, budgeted = 0, lower_bound = 0;
  std::vector<variant> variants;
  double ref_err = 0;
  // Request loop (parallel arena): medians in microseconds, host wall clock.
  double update_us = 0, update_capture_us = 0, update_exec_update_us = 0, copy_in_out_us = 0, compile_us = 0;
  double request_repoint_us = 0, request_copy_us = 0;
  std::string update_kind;
  int requests = 0, request_mismatches = 0;
};

inline double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

//! Device buffer of n bytes, freed on scope exit.
struct device_bytes {
  void* p = nullptr;
  explicit device_bytes(std::size_t n) { engine_check(cudaMalloc(&p, n), "cudaMalloc(request)"); }
  device_bytes(const device_bytes&) = delete;
  device_bytes& operator=(const device_bytes&) = delete;
  device_bytes(device_bytes&& o) noexcept : p(o.p) { o.p = nullptr; }
  ~device_bytes() { cudaFree(p); }
};

} // namespace request_detail

//! Runs the request bench for `model` (the program's main: its exit status; 77 without a GPU).
int requests_main(int argc, char** argv, const request_model& model) try {
  using namespace request_detail;
  const args a = parse(argc, argv, model);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  cudaDeviceProp prop{};
  engine_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  int driver = 0;
  engine_check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  cudaStream_t s = nullptr;
  engine_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  const topology net_desc = model.make();
  const weights w = make_random_weights(net_desc, 2024);
  using sched_t = opara::scheduler<>;
  const sched_t sched{};
  int failures = 0;
  std::vector<batch_report> reports;
  std::printf("%s requests on %s (driver %d), scheduler %s\n", model.name, prop.name, driver, sched.label().c_str());

  for (int batch : a.batches) {
    batch_report r;
    r.batch = batch;
    engine_options o;  // the default path and tile policy
    engine own(net_desc, w, batch, o);
    const auto input = random_input(own.tensor_floats(net_desc.input), 11 + batch);
    // The reference output: the own-memory engine's sequential CUDA graph, checked against float64.
    own.poison();
    own.upload_input(input);
    std::vector<float> expect;
    {
      sequential_graph g(own, s);
      g(s);
      engine_check(cudaStreamSynchronize(s), "sequential graph");
      expect = own.download(net_desc.output);
    }
    const auto ref = run_reference(net_desc, w, input, batch);
    r.ref_err = reference::rel_error(expect, ref);
    const double tol = own.nhwc() || o.precision == kernels::conv_precision::tf32 ? 1e-2 : 1e-4;
    if (r.ref_err > tol) ++failures;
    std::printf("%s batch %d: sequential graph vs float64 reference rel_err %.3e (tol %.0e)\n",
                r.ref_err <= tol ? "ok  " : "FAIL", batch, r.ref_err, tol);

    // Plans and arenas, from the scheduler's own plan (its profile, its policies).
    opara::executable first = sched.compile(own, s);
    const opara::profile prof = *first.profile();
    const opara::graph g = opara::to_graph(own);
    const opara::memory_map mem = opara::memory_of(own);
    const opara::plan seq_plan = opara::make_plan<opara::streams::sequential>(g, mem);
    const opara::arena seq_arena = opara::plan_arena(seq_plan, g, mem);
    const opara::arena par_arena = opara::plan_arena(first.plan(), g, mem);
    const opara::budgeted_plan within = opara::make_plan_within<sched_t::stream_policy, sched_t::order_policy>(
        own, opara::sequential_arena, &prof, sched.options.plan, sched.streams, sched.order);
    r.no_reuse = own.activation_bytes();
    r.sequential = seq_arena.bytes;
    r.parallel = par_arena.bytes;
    r.budgeted = within.arena.bytes;
    r.lower_bound = opara::arena_lower_bound(first.plan(), g, mem);
    std::printf("batch %d activation bytes: no reuse %llu, sequential arena %llu, parallel arena %llu (%.2fx sequential), "
                "budgeted %llu, parallel lower bound %llu\n",
                batch, static_cast<unsigned long long>(r.no_reuse), static_cast<unsigned long long>(r.sequential),
                static_cast<unsigned long long>(r.parallel), static_cast<double>(r.parallel) / static_cast<double>(r.sequential),
                static_cast<unsigned long long>(r.budgeted), static_cast<unsigned long long>(r.lower_bound));

    // The four engines, each compiled with the same profile, run, checked and timed.
    auto run_variant = [&](const std::string& name, engine& e, const opara::executable& exe) {
      variant v;
      v.name = name;
      v.bytes = e.activation_bytes();
      v.orderings = exe.plan().memory_orderings;
      v.streams = exe.plan().num_streams;
      v.predicted_us = opara::predicted_makespan_us(g, exe.plan(), prof);
      e.poison();
      e.upload_input(input);
      exe(s);
      engine_check(cudaStreamSynchronize(s), name + " run");
      const auto got = e.download(net_desc.output);
      v.identical = got.size() == expect.size() && std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) == 0;
      if (!v.identical) ++failures;
      // Replays again and again: a race shows as a difference some time.
      for (int i = 0; i < 50 && v.identical; ++i) exe(s);
      engine_check(cudaStreamSynchronize(s), name + " replays");
      if (v.identical && e.download(net_desc.output) != got) {
        v.identical = false;
        ++failures;
      }
      v.back_to_back_ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps, 30).median_ms;
      v.isolated_ms = time_runs([&](cudaStream_t st) { exe(st); }, s, a.reps, 30, timing_mode::isolated).median_ms;
      std::printf("%s batch %d %-18s %10llu bytes  %2zu streams  %3zu orderings  predicted %.1f us  isolated %.4f ms  "
                  "back to back %.4f ms\n",
                  v.identical ? "ok  " : "FAIL", batch, name.c_str(), static_cast<unsigned long long>(v.bytes), v.streams,
                  v.orderings, v.predicted_us, v.isolated_ms, v.back_to_back_ms);
      r.variants.push_back(v);
    };
    run_variant("own memory", own, first);
    engine seq_engine(net_desc, w, batch, o);
    seq_engine.set_arena(seq_arena.offset, seq_arena.bytes);
    run_variant("sequential arena", seq_engine, sched.compile(seq_engine, s, prof));
    // An arena opara placed for a plan is right in that plan's order: the scheduler orders by it.
    auto in_order = [&](std::vector<opara::node_id> order) {
      sched_t with = sched;
      with.options.plan.memory_order = std::move(order);
      return with;
    };
    engine par_engine(net_desc, w, batch, o);
    par_engine.set_arena(par_arena.offset, par_arena.bytes);
    opara::executable par_exe = in_order(first.plan().order).compile(par_engine, s, prof);
    run_variant("parallel arena", par_engine, par_exe);
    engine budget_engine(net_desc, w, batch, o);
    budget_engine.set_arena(within.arena.offset, within.arena.bytes);
    run_variant("budgeted", budget_engine, in_order(within.memory_order).compile(budget_engine, s, prof));
    // The bound for the parallel arena, 1.25x the sequential one, as a budget.
    const opara::budgeted_plan within125 = opara::make_plan_within<sched_t::stream_policy, sched_t::order_policy>(
        own, seq_arena.bytes + seq_arena.bytes / 4, &prof, sched.options.plan, sched.streams, sched.order);
    engine budget125_engine(net_desc, w, batch, o);
    budget125_engine.set_arena(within125.arena.offset, within125.arena.bytes);
    run_variant("budgeted 1.25x", budget125_engine, in_order(within125.memory_order).compile(budget125_engine, s, prof));

    // The request loop on the parallel arena: fresh input and output buffers per request.
    const std::size_t in_n = par_engine.stored_bytes(net_desc.input), out_n = par_engine.stored_bytes(net_desc.output);
    const std::vector<std::byte> staged = par_engine.stage_input(input);
    constexpr int slots = 4;  // requests rotate through a few buffer pairs, as a server's pool would
    std::vector<device_bytes> req_in, req_out;
    for (int i = 0; i < slots; ++i) {
      req_in.emplace_back(in_n);
      req_out.emplace_back(out_n);
      engine_check(cudaMemcpy(req_in.back().p, staged.data(), in_n, cudaMemcpyHostToDevice), "request input");
    }
    std::vector<double> update_t, capture_t, exec_update_t, copy_t, repoint_total, copy_total;
    for (int i = 0; i < a.requests; ++i) {
      device_bytes& in = req_in[i % slots];
      device_bytes& out = req_out[i % slots];
      engine_check(cudaMemsetAsync(out.p, 0xff, out_n, s), "poison request output");
      engine_check(cudaStreamSynchronize(s), "poison");
      // Re-point: bind the request's buffers, update the executable, run.
      auto t0 = std::chrono::steady_clock::now();
      par_engine.bind(in.p, out.p);
      const opara::update_result u = par_exe.update(par_engine, s);
      update_t.push_back(us_since(t0));
      capture_t.push_back(u.capture_ms * 1e3);
      exec_update_t.push_back(u.update_ms * 1e3);
      r.update_kind = std::string(opara::to_string(u.kind));
      par_exe(s);
      engine_check(cudaStreamSynchronize(s), "request");
      repoint_total.push_back(us_since(t0));
      const auto got = par_engine.download_from(out.p, net_desc.output);
      if (std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) != 0) ++r.request_mismatches;
      // Copy-in: the request's input into the engine's own input buffer, the run, the output out.
      par_engine.bind(nullptr, nullptr);
      par_exe.update(par_engine, s);
      engine_check(cudaStreamSynchronize(s), "re-point back");
      t0 = std::chrono::steady_clock::now();
      engine_check(cudaMemcpyAsync(par_engine.input(), in.p, in_n, cudaMemcpyDeviceToDevice, s), "copy in");
      par_exe(s);
      engine_check(cudaMemcpyAsync(out.p, par_engine.output(), out_n, cudaMemcpyDeviceToDevice, s), "copy out");
      engine_check(cudaStreamSynchronize(s), "copy request");
      copy_total.push_back(us_since(t0));
      // The copies alone.
      t0 = std::chrono::steady_clock::now();
      engine_check(cudaMemcpyAsync(par_engine.input(), in.p, in_n, cudaMemcpyDeviceToDevice, s), "copy in");
      engine_check(cudaMemcpyAsync(out.p, par_engine.output(), out_n, cudaMemcpyDeviceToDevice, s), "copy out");
      engine_check(cudaStreamSynchronize(s), "copies");
      copy_t.push_back(us_since(t0));
    }
    std::vector<double> compile_t;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      opara::executable fresh = sched.compile(par_engine, s, prof);
      compile_t.push_back(us_since(t0));
    }
    r.requests = a.requests;
    r.update_us = median(update_t);
    r.update_capture_us = median(capture_t);
    r.update_exec_update_us = median(exec_update_t);
    r.copy_in_out_us = median(copy_t);
    r.compile_us = median(compile_t);
    r.request_repoint_us = median(repoint_total);
    r.request_copy_us = median(copy_total);
    if (r.request_mismatches) ++failures;
    std::printf("%s batch %d requests: %d, %d outputs differ; re-point (bind + update, %s) %.1f us (capture %.1f, "
                "exec update %.1f) vs copy in + out %.1f us vs full compile %.0f us; a whole request %.1f us re-pointed, "
                "%.1f us copied\n",
                r.request_mismatches ? "FAIL" : "ok  ", batch, r.requests, r.request_mismatches, r.update_kind.c_str(),
                r.update_us, r.update_capture_us, r.update_exec_update_us, r.copy_in_out_us, r.compile_us,
                r.request_repoint_us, r.request_copy_us);
    reports.push_back(r);
  }

  if (!a.json.empty()) {
    std::ofstream f(a.json);
    if (!f) throw engine_error("cannot write " + a.json);
    const char* commit = std::getenv("OPARA_COMMIT");
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    f << "{\n  \"benchmark\": \"requests\",\n  \"model\": \"" << model.name << "\",\n  \"gpu\": \"" << prop.name
      << "\",\n  \"driver\": " << driver << ",\n  \"commit\": \"" << (commit ? commit : "unknown") << "\",\n  \"date\": \""
      << date << "\",\n  \"scheduler\": \"" << sched.label() << "\",\n  \"batches\": [\n";
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const batch_report& r = reports[i];
      f << "    {\"batch\": " << r.batch << ", \"ref_rel_err\": " << r.ref_err << ", \"bytes\": {\"no_reuse\": " << r.no_reuse
        << ", \"sequential_arena\": " << r.sequential << ", \"parallel_arena\": " << r.parallel
        << ", \"budgeted\": " << r.budgeted << ", \"parallel_lower_bound\": " << r.lower_bound << "},\n     \"variants\": [";
      for (std::size_t j = 0; j < r.variants.size(); ++j) {
        const variant& v = r.variants[j];
        f << (j ? ", " : "") << "{\"name\": \"" << v.name << "\", \"bytes\": " << v.bytes << ", \"streams\": " << v.streams
          << ", \"memory_orderings\": " << v.orderings << ", \"predicted_us\": " << v.predicted_us
          << ", \"isolated_ms\": " << v.isolated_ms
          << ", \"back_to_back_ms\": " << v.back_to_back_ms << ", \"identical\": " << (v.identical ? "true" : "false") << "}";
      }
      f << "],\n     \"requests\": {\"count\": " << r.requests << ", \"mismatches\": " << r.request_mismatches
        << ", \"update_kind\": \"" << r.update_kind << "\", \"repoint_us\": " << r.update_us
        << ", \"repoint_capture_us\": " << r.update_capture_us << ", \"repoint_exec_update_us\": " << r.update_exec_update_us
        << ", \"copy_in_out_us\": " << r.copy_in_out_us << ", \"full_compile_us\": " << r.compile_us
        << ", \"request_repointed_us\": " << r.request_repoint_us << ", \"request_copied_us\": " << r.request_copy_us
        << "}}" << (i + 1 < reports.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
  }
  return failures ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s: %s\n", model.program, e.what());
  return 1;
}

} // namespace convnet
