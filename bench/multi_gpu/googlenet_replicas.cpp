//! bench_multi_gpu: throughput of GoogLeNet replicas (examples/googlenet on examples/common's
//! engine) on 1 GPU and on N GPUs of one host. Each GPU gets its own engine (weights and
//! activations on that device) compiled by its own opara scheduler on a stream of that device, and
//! one host thread that replays it back to back; the figure is images per second over all GPUs,
//! from a common start to the last GPU's end. Prints a table and, with --json FILE, writes it.
//!
//!   bench_multi_gpu [--batch 8] [--reps 2000] [--trials 3] [--gpus N] [--json FILE]
//!
//! Every replica's output is checked bit for bit against device 0's (same weights, input and
//! kernels) and must be finite; the model itself is checked against the float64 reference by the
//! googlenet_model ctest. Exits 77 without a GPU.

#include "bench_util.hpp"
#include "engine.hpp"
#include "model.hpp"

#include <opara/cuda.hpp>
#include <opara/opara.hpp>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct args {
  int batch = 8;
  int reps = 2000;
  int trials = 3;
  int gpus = 0;  // 0: every GPU
  std::string json;
};

args parse(int argc, char** argv) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_multi_gpu: %s needs a value\n", s.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "--batch") a.batch = std::stoi(next());
    else if (s == "--reps") a.reps = std::stoi(next());
    else if (s == "--trials") a.trials = std::stoi(next());
    else if (s == "--gpus") a.gpus = std::stoi(next());
    else if (s == "--json") a.json = next();
    else {
      std::fprintf(stderr, "usage: bench_multi_gpu [--batch 8] [--reps 2000] [--trials 3] [--gpus N] [--json FILE]\n");
      std::exit(2);
    }
  }
  if (a.batch < 1 || a.reps < 1 || a.trials < 1 || a.gpus < 0) {
    std::fprintf(stderr, "bench_multi_gpu: --batch, --reps and --trials must be at least 1\n");
    std::exit(2);
  }
  return a;
}

// One GPU's replica: the engine (on that device), its stream and its compiled executable.
struct replica {
  int device;
  opara::cuda::stream_handle stream;
  std::unique_ptr<convnet::engine> net;
  opara::executable run;

  replica(int d, const convnet::topology& t, const convnet::weights& w, int batch, const std::vector<float>& input)
      : device(d) {
    const opara::cuda::device_guard on(d);
    stream = opara::cuda::stream_handle::create();
    net = std::make_unique<convnet::engine>(t, w, batch);
    net->upload_input(input);
    opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware> sched;
    run = sched.compile(*net, stream.get());
  }
  replica(const replica&) = delete;
  replica& operator=(const replica&) = delete;
  ~replica() {
    const opara::cuda::device_guard on(device);  // the engine frees its memory on its device
    OPARA_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream.get()));
    net.reset();
  }
  std::vector<float> output() const {
    const opara::cuda::device_guard on(device);
    stream.synchronize();
    return net->download(net->net().output);
  }
};

// Images per second of `replicas` replayed concurrently, `reps` times each, one thread per replica.
double throughput(const std::vector<std::unique_ptr<replica>>& replicas, int reps, int batch) {
  const auto count = static_cast<std::ptrdiff_t>(replicas.size());
  std::barrier start(count + 1);
  std::barrier done(count + 1);
  std::vector<std::thread> threads;
  std::vector<std::string> failures(replicas.size());
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    threads.emplace_back([&, i] {
      const replica& r = *replicas[i];
      try {
        for (int k = 0; k < 20; ++k) r.run(r.stream.get());  // warm-up
        r.stream.synchronize();
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
      start.arrive_and_wait();
      try {
        if (failures[i].empty()) {
          for (int k = 0; k < reps; ++k) r.run(r.stream.get());
          r.stream.synchronize();
        }
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
      done.arrive_and_wait();
    });
  }
  start.arrive_and_wait();
  const auto t0 = std::chrono::steady_clock::now();
  done.arrive_and_wait();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < failures.size(); ++i)
    if (!failures[i].empty()) throw std::runtime_error("replica on device " + std::to_string(replicas[i]->device) + ": " + failures[i]);
  return static_cast<double>(count) * reps * batch / seconds;
}

} // namespace

int main(int argc, char** argv) try {
  const args a = parse(argc, argv);
  std::string command = "bench_multi_gpu";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  const char* commit = std::getenv("OPARA_COMMIT");
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  const int gpus = a.gpus == 0 ? devices : std::min(a.gpus, devices);
  const convnet::topology t = googlenet::make_googlenet();
  const convnet::weights w = convnet::make_random_weights(t, 2024);
  const auto input = convnet::random_input(t.tensors[t.input].size() * a.batch, 7);  // NCHW, as engine::tensor_floats

  std::vector<std::unique_ptr<replica>> all;
  for (int d = 0; d < gpus; ++d) all.push_back(std::make_unique<replica>(d, t, w, a.batch, input));
  std::vector<std::string> names;
  for (int d = 0; d < gpus; ++d) {
    cudaDeviceProp p{};
    OPARA_CUDA_CHECK(cudaGetDeviceProperties(&p, d));
    names.emplace_back(p.name);
  }

  // Correctness: one replay everywhere, outputs equal device 0's bit for bit, all finite.
  for (auto& r : all) {
    const opara::cuda::device_guard on(r->device);
    r->net->poison();
    r->run(r->stream.get());
  }
  const auto reference_output = all[0]->output();
  bool outputs_ok = std::all_of(reference_output.begin(), reference_output.end(), [](float v) { return std::isfinite(v); });
  for (auto& r : all) outputs_ok = outputs_ok && r->output() == reference_output;
  std::printf("GoogLeNet batch %d, %d replays per GPU per trial, %d trial(s); outputs %s\n", a.batch, a.reps, a.trials,
              outputs_ok ? "finite and equal on every GPU" : "WRONG");

  std::vector<std::unique_ptr<replica>> one;
  one.push_back(std::move(all[0]));
  std::vector<double> single, multi;
  for (int trial = 0; trial < a.trials; ++trial) {
    single.push_back(throughput(one, a.reps, a.batch));
    all[0] = std::move(one[0]);
    multi.push_back(throughput(all, a.reps, a.batch));
    one[0] = std::move(all[0]);
  }
  all[0] = std::move(one[0]);
  std::sort(single.begin(), single.end());
  std::sort(multi.begin(), multi.end());
  const double one_gpu = single[single.size() / 2];
  const double n_gpu = multi[multi.size() / 2];
  const double speedup = n_gpu / one_gpu;
  std::printf("%-8s %16s %14s\n", "GPUs", "images/s (median)", "speed-up");
  std::printf("%-8d %16.1f %14.3f\n", 1, one_gpu, 1.0);
  std::printf("%-8d %16.1f %14.3f\n", gpus, n_gpu, speedup);
  if (gpus < 2) std::puts("only one GPU: the multi-GPU figure is the one-GPU figure");

  if (!a.json.empty()) {
    std::ofstream out(a.json);
    out << "{\n  \"benchmark\": \"bench_multi_gpu\",\n  \"command\": \"" << command << "\",\n  \"commit\": \""
        << (commit ? commit : "") << "\",\n  \"model\": \"GoogLeNet\",\n  \"batch\": " << a.batch
        << ",\n  \"reps_per_gpu\": " << a.reps << ",\n  \"trials\": " << a.trials << ",\n  \"devices\": [";
    for (std::size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << "\"" << names[i] << "\"";
    out << "],\n  \"gpus\": " << gpus << ",\n  \"images_per_s_1_gpu\": " << one_gpu
        << ",\n  \"images_per_s_n_gpu\": " << n_gpu << ",\n  \"speedup\": " << speedup
        << ",\n  \"outputs_equal\": " << (outputs_ok ? "true" : "false") << ",\n  \"trials_1_gpu\": [";
    for (std::size_t i = 0; i < single.size(); ++i) out << (i ? ", " : "") << single[i];
    out << "],\n  \"trials_n_gpu\": [";
    for (std::size_t i = 0; i < multi.size(); ++i) out << (i ? ", " : "") << multi[i];
    out << "]\n}\n";
    if (!out) throw std::runtime_error("cannot write " + a.json);
  }
  return outputs_ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_multi_gpu: %s\n", e.what());
  return 1;
}
