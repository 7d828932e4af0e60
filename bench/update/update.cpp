// bench_update: what serving a request on its own buffers costs with executable::update (capture
// again with the executable's plan, cudaGraphExecUpdate each launch segment), against a full
// compile with a given profile (plan, capture, instantiate; nothing measured) and against the
// copy-in it replaces (the request's input copied device to device into the executable's static
// input, its static output copied out, then a stream synchronization). Graph: GoogLeNet's 72
// fused operators (tests/support/googlenet.hpp), one kernel each, batch 1: the input is 3x224x224
// floats, the output 1000. Medians of host wall-clock times (steady_clock) after warm-up. The
// issue's target: an update of at most 50 us, and never slower than the copy-in.
//   bench_update [--json FILE] [--reps N]

#include <opara/cuda.hpp>
#include <opara/cuda/profiler/events.hpp>
#include <opara/detail/json.hpp>
#include <opara/opara.hpp>

#include "../common/kernels.hpp"
#include "../suite/cli.hpp"
#include "../suite/result_header.hpp"
#include "support/googlenet.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace json = opara::detail::json;

namespace {

constexpr int input_floats = 3 * 224 * 224;
constexpr int output_floats = 1000;
constexpr int slot_floats = 4096;  // each operator's activation in the arena

using bench::update_kernels::op_kernel;
using bench::update_kernels::operand_list;  // op_kernel: out = w * sum of its inputs, elementwise

struct binding_set {
  const float* input = nullptr;
  float* arena = nullptr;   // one slot per operator
  float* output = nullptr;
};


template <class T>
struct device_array {
  T* p = nullptr;
  std::size_t n = 0;
  explicit device_array(std::size_t count) : n(count) { OPARA_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T))); }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;
  ~device_array() { OPARA_CUDA_CHECK_NOTHROW(cudaFree(p)); }
};

// One request's buffers.
struct request_buffers {
  device_array<float> input{input_floats}, arena{std::size_t(slot_floats) * 72}, output{output_floats};
  binding_set bind() const { return {input.p, arena.p, output.p}; }
};

// GoogLeNet's operators reading their buffers from `b` when launched.
opara::cuda::task_graph make_graph(const opara::graph& g, const binding_set& b) {
  opara::cuda::task_graph tg;
  const std::size_t n = g.num_nodes();
  for (opara::node_id v = 0; v < n; ++v) {
    std::vector<opara::node_id> preds(g.predecessors(v).begin(), g.predecessors(v).end());
    if (preds.size() > 4) throw std::runtime_error("bench_update: an operator with more than 4 inputs");
    const bool last = g.successors(v).empty();
    const float w = 0.25f + 0.01f * static_cast<float>(v % 7);
    tg.add(std::string(g.name(v)), [&b, preds, v, last, w](cudaStream_t s) {
      operand_list in{};
      in.count = preds.empty() ? 1 : static_cast<int>(preds.size());
      if (preds.empty()) in.p[0] = b.input;
      for (std::size_t k = 0; k < preds.size(); ++k) in.p[k] = b.arena + std::size_t(preds[k]) * slot_floats;
      float* out = last ? b.output : b.arena + std::size_t(v) * slot_floats;
      const int elems = last ? output_floats : slot_floats;
      bench::launch(op_kernel, (elems + 255) / 256, 256, 0, s, out, in, w, elems);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
  }
  for (opara::node_id u = 0; u < n; ++u)
    for (opara::node_id v : g.successors(u)) tg.depends(u, v);
  return tg;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double us_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count();
}

template <class C>
json::value measure(const std::string& mode, const C& capture, int segments, const opara::cuda::task_graph& tg,
                    binding_set& bound, const request_buffers (&req)[2], const opara::profile& prof, cudaStream_t s,
                    int reps, int& failures) {
  opara::scheduler<opara::streams::opara_greedy, opara::order::critical_path_first, C, opara::profiler::none> sched;
  sched.capture = capture;
  sched.options.capture.launch_segments = segments;
  // The static buffers a copy-in serves from: request 0's.
  bound = req[0].bind();
  opara::executable exe = sched.compile(tg, s, prof);
  const int warm = 20;

  // Full compile with the given profile.
  std::vector<double> compile_us;
  for (int r = 0; r < std::max(5, reps / 10) + 2; ++r) {
    const auto t = std::chrono::steady_clock::now();
    const opara::executable again = sched.compile(tg, s, prof);
    if (r >= 2) compile_us.push_back(us_since(t));
  }

  // Update alone, alternating between the two requests' buffers (the pointers really change).
  std::vector<double> update_us, capture_us, exec_update_us;
  int not_in_place = 0;
  for (int r = 0; r < warm + reps; ++r) {
    bound = req[(r + 1) % 2].bind();
    const auto t = std::chrono::steady_clock::now();
    const opara::update_result u = exe.update(tg, s);
    const double us = us_since(t);
    if (u.kind != opara::update_kind::in_place) ++not_in_place;
    if (r >= warm) {
      update_us.push_back(us);
      capture_us.push_back(u.capture_ms * 1000);
      exec_update_us.push_back(u.update_ms * 1000);
    }
  }
  if (not_in_place) {
    std::printf("  %s: %d updates were not in place\n", mode.c_str(), not_in_place);
    ++failures;
  }

  // The copy-in it replaces: request 1's input into the static input (request 0's), the static
  // output out to request 1's, and a synchronization.
  std::vector<double> copy_us;
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  for (int r = 0; r < warm + reps; ++r) {
    const auto t = std::chrono::steady_clock::now();
    OPARA_CUDA_CHECK(cudaMemcpyAsync(req[0].input.p, req[1].input.p, input_floats * sizeof(float), cudaMemcpyDeviceToDevice, s));
    OPARA_CUDA_CHECK(cudaMemcpyAsync(req[1].output.p, req[0].output.p, output_floats * sizeof(float), cudaMemcpyDeviceToDevice, s));
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    if (r >= warm) copy_us.push_back(us_since(t));
  }

  // Whole requests: update + replay + synchronize, against copy in + replay + copy out + synchronize.
  std::vector<double> request_update_us, request_copy_us;
  for (int r = 0; r < warm + reps; ++r) {
    bound = req[(r + 1) % 2].bind();
    auto t = std::chrono::steady_clock::now();
    exe.update(tg, s);
    exe(s);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    if (r >= warm) request_update_us.push_back(us_since(t));
  }
  bound = req[0].bind();
  exe.update(tg, s);
  for (int r = 0; r < warm + reps; ++r) {
    const auto t = std::chrono::steady_clock::now();
    OPARA_CUDA_CHECK(cudaMemcpyAsync(req[0].input.p, req[1].input.p, input_floats * sizeof(float), cudaMemcpyDeviceToDevice, s));
    exe(s);
    OPARA_CUDA_CHECK(cudaMemcpyAsync(req[1].output.p, req[0].output.p, output_floats * sizeof(float), cudaMemcpyDeviceToDevice, s));
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    if (r >= warm) request_copy_us.push_back(us_since(t));
  }

  // Check: both requests hold the same input, so an update to request 1 computes request 0's bits.
  exe(s);
  std::vector<float> a(output_floats), b(output_floats);
  OPARA_CUDA_CHECK(cudaMemcpyAsync(a.data(), req[0].output.p, output_floats * sizeof(float), cudaMemcpyDeviceToHost, s));
  OPARA_CUDA_CHECK(cudaMemsetAsync(req[1].output.p, 0xff, output_floats * sizeof(float), s));
  bound = req[1].bind();
  exe.update(tg, s);
  exe(s);
  OPARA_CUDA_CHECK(cudaMemcpyAsync(b.data(), req[1].output.p, output_floats * sizeof(float), cudaMemcpyDeviceToHost, s));
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  const bool same = std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0 &&
                    std::any_of(a.begin(), a.end(), [](float x) { return x != 0; });
  if (!same) {
    std::printf("  %s: the updated executable's output differs from the static buffers' output\n", mode.c_str());
    ++failures;
  }

  json::value r = json::object{};
  r["mode"] = mode;
  r["capture_policy"] = exe.stats().capture_policy;
  r["segments"] = static_cast<std::int64_t>(exe.num_segments());
  r["graph_nodes"] = static_cast<std::int64_t>(exe.stats().graph_nodes);
  r["streams"] = static_cast<std::int64_t>(exe.plan().num_streams);
  r["reps"] = reps;
  r["update_us"] = median(update_us);
  r["update_capture_us"] = median(capture_us);
  r["update_exec_update_us"] = median(exec_update_us);
  r["compile_us"] = median(compile_us);
  r["copy_in_us"] = median(copy_us);
  r["request_update_us"] = median(request_update_us);
  r["request_copy_us"] = median(request_copy_us);
  r["meets_50us_target"] = median(update_us) <= 50;
  r["not_slower_than_copy_in"] = median(update_us) <= median(copy_us);
  r["outputs_match"] = same;
  std::printf("%-24s %3zu seg %4zu nodes | update %8.1f (capture %7.1f, exec update %7.1f) | compile %9.1f | "
              "copy-in %6.1f | request: update %8.1f, copy %8.1f\n",
              mode.c_str(), exe.num_segments(), exe.stats().graph_nodes, median(update_us), median(capture_us),
              median(exec_update_us), median(compile_us), median(copy_us), median(request_update_us),
              median(request_copy_us));
  return r;
}

} // namespace

int main(int argc, char** argv) try {
  std::string json_path;
  int reps = 200;
  for (bench::arguments args(argc, argv); args.next();) {
    const std::string& a = args.flag();
    if (a == "--json") json_path = args.value();
    else if (a == "--reps") reps = std::max(10, std::stoi(args.value()));
    else {
      std::puts("bench_update [--json FILE] [--reps N]");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const auto gpu = bench::find_gpu("bench_update", "updates are measured on a GPU");
  if (!gpu) return 77;
  auto stream = opara::cuda::stream_handle::create();
  const cudaStream_t s = stream.get();
  std::printf("bench_update on %s (%d SMs, driver %s): GoogLeNet batch 1, medians of %d, us (host wall clock)\n",
              gpu->prop.name, gpu->prop.multiProcessorCount, opara::cuda::driver_release().c_str(), reps);

  const opara::graph net = opara::test::googlenet();
  request_buffers req[2];
  {
    std::vector<float> x(input_floats);
    for (int i = 0; i < input_floats; ++i) x[i] = 0.5f + 0.25f * static_cast<float>((i * 7919) % 13) / 13.f;
    for (const auto& r : req)
      OPARA_CUDA_CHECK(cudaMemcpy(r.input.p, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  binding_set bound = req[0].bind();
  const opara::cuda::task_graph tg = make_graph(net, bound);

  // One profile, measured once with CUDA events; every compile below reuses it.
  opara::scheduler<opara::streams::opara_greedy, opara::order::critical_path_first, opara::capture::stream_capture,
                   opara::profiler::events>
      profiling;
  profiling.options.profile = opara::profiling::always;
  const opara::profile prof = *profiling.compile(tg, s).profile();

  int failures = 0;
  json::array results;
  std::printf("%-24s %3s %9s | %s\n", "mode", "", "", "times in us");
  results.push_back(measure("stream_capture", opara::capture::stream_capture{}, 2, tg, bound, req, prof, s, reps, failures));
  results.push_back(measure("stream_capture_1seg", opara::capture::stream_capture{}, 1, tg, bound, req, prof, s, reps, failures));
  results.push_back(measure("explicit_graph", opara::capture::explicit_graph{}, 2, tg, bound, req, prof, s, reps, failures));

  if (!json_path.empty()) {
    json::value doc = json::object{};
    doc["bench"] = "opara bench_update";
    bench::add_result_header(doc, gpu->prop, gpu->driver_version);
    doc["command"] = "bench_update --json FILE";
    doc["workload"] = "GoogLeNet operator graph (72 operators, one kernel each), batch 1: input 3x224x224 floats, output 1000";
    doc["target_update_us"] = 50;
    doc["results"] = std::move(results);
    std::ofstream f(json_path);
    f << json::write(doc, 2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + json_path);
  }
  if (failures) std::printf("bench_update: %d FAILED checks\n", failures);
  return failures ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_update: %s\n", e.what());
  return 1;
}
