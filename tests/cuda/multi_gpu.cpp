// One scheduler per device: every GPU of the host compiles (with CUPTI profiling) and replays its
// own graph concurrently, from threads whose current device is another one; each executable runs
// on its own device, and launching one on another device's stream throws opara::wrong_device
// naming both devices. Needs two GPUs: with fewer it says so and exits 77 (skipped).
#include "support/gpu_test.hpp"

#include <opara/order/resource_aware.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace gpu_test;

namespace {

// The number of devices, at least two: with fewer a case exits 77 (skipped). Asked when a case
// runs, not before main, so that the test lists its cases on any machine.
int devices_or_skip() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  if (n < 2) {
    std::fprintf(stderr, "%d GPU(s): the multi-GPU test needs two; skipping it\n", n);
    std::exit(77);
  }
  return n;
}

constexpr int elems = 8192;

int replays() { return quick() ? 20 : 1000; }

// A graph, its buffers and stream, all on `device` (made current only while they are created).
struct replica {
  int device;
  random_dag dag;
  std::vector<float> x0;
  std::vector<double> ref;
  std::unique_ptr<device_buffer<float>> out, x;
  opara::cuda::stream_handle stream;
  opara::cuda::task_graph tg;

  explicit replica(int d) : device(d) {
    std::mt19937 rng(300 + d);
    dag = make_random_dag(rng, 15, 30);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    x0.resize(elems);
    for (auto& e : x0) e = u(rng);
    ref = reference(dag, x0, elems);
    const opara::cuda::device_guard on(d);
    out = std::make_unique<device_buffer<float>>(dag.n * elems);
    x = std::make_unique<device_buffer<float>>(elems);
    x->upload(x0);
    stream = opara::cuda::stream_handle::create();
    tg = make_task_graph(dag, out->get(), x->get(), elems);
  }
  double checked_replay(const opara::executable& exe) const {
    const opara::cuda::device_guard on(device);
    OPARA_CUDA_CHECK(cudaMemsetAsync(out->get(), 0xff, out->size() * sizeof(float), stream.get()));
    exe(stream.get());
    OPARA_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    return relative_error(out->download(), ref);
  }
};

} // namespace

TEST_CASE("multi_gpu.one_scheduler_per_device_compiles_and_replays_concurrently") {
  const int device_count = devices_or_skip();
  MESSAGE(device_count, " devices");
  std::vector<std::unique_ptr<replica>> replicas;
  for (int d = 0; d < device_count; ++d) replicas.push_back(std::make_unique<replica>(d));
  // One scheduler per device (they could share one: compile follows its stream's device).
  using sched_type = opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware>;
  std::vector<sched_type> schedulers(device_count);
  for (auto& s : schedulers) s.options.profile = opara::profiling::always;

  std::vector<opara::executable> executables(device_count);
  std::vector<double> worst(device_count, 0.0);
  std::vector<std::string> failures(device_count);
  std::vector<int> current_while_launching(device_count, -1);
  std::latch start(device_count);
  std::vector<std::thread> threads;
  for (int d = 0; d < device_count; ++d) {
    threads.emplace_back([&, d] {
      try {
        // This thread's current device is another one: opara must not depend on it.
        const int elsewhere = (d + 1) % device_count;
        OPARA_CUDA_CHECK(cudaSetDevice(elsewhere));
        start.arrive_and_wait();
        const replica& r = *replicas[d];
        executables[d] = schedulers[d].compile(r.tg, r.stream.get());
        current_while_launching[d] = opara::cuda::current_device();
        for (int i = 0; i < replays(); ++i) {
          if (i % 250 == 0) worst[d] = std::max(worst[d], r.checked_replay(executables[d]));
          else executables[d](r.stream.get());
        }
        worst[d] = std::max(worst[d], r.checked_replay(executables[d]));
      } catch (const std::exception& e) {
        failures[d] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int d = 0; d < device_count; ++d) {
    INFO("device ", d);
    CHECK_MESSAGE(failures[d].empty(), failures[d]);
    REQUIRE(static_cast<bool>(executables[d]));
    CHECK(executables[d].device() == d);
    CHECK(current_while_launching[d] == (d + 1) % device_count);  // restored after compile
    CHECK(worst[d] < 1e-5);
    REQUIRE(executables[d].profile() != nullptr);
    if (cupti_required()) CHECK(executables[d].profile()->source == "cupti");
    // Keyed by the device's own UUID: the profiles of two boards are told apart.
    if (d > 0) CHECK(executables[d].profile()->key.device_uuid != executables[0].profile()->key.device_uuid);
  }
}

TEST_CASE("multi_gpu.launch_on_another_devices_stream_is_caught") {
  (void)devices_or_skip();
  replica zero(0), one(1);
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, opara::capture::stream_capture,
                   opara::profiler::events>
      graphs;
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, opara::capture::eager,
                   opara::profiler::events>
      eager;
  for (const bool use_eager : {false, true}) {
    const std::string policy = use_eager ? "eager" : "stream_capture";
    INFO(policy);
    const auto exe = use_eager ? eager.compile(zero.tg, zero.stream.get()) : graphs.compile(zero.tg, zero.stream.get());
    CHECK(exe.device() == 0);
    try {
      exe(one.stream.get());
      FAIL("a launch on device 1's stream was accepted");
    } catch (const opara::wrong_device& e) {
      CHECK(e.executable_device() == 0);
      CHECK(e.stream_device() == 1);
      const std::string what = e.what();
      CHECK(what.find("device 0") != std::string::npos);
      CHECK(what.find("device 1") != std::string::npos);
    }
    // Nothing was enqueued, and the executable still works on its own device.
    CHECK(zero.checked_replay(exe) < 1e-5);
    // With device 1 current, the per-thread default stream means device 0's (the executable's).
    {
      const opara::cuda::device_guard on_zero(0);
      OPARA_CUDA_CHECK(cudaMemset(zero.out->get(), 0xff, zero.out->size() * sizeof(float)));
    }
    const opara::cuda::device_guard on_one(1);
    exe(cudaStreamPerThread);
    {
      const opara::cuda::device_guard on_zero(0);
      OPARA_CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
      CHECK(relative_error(zero.out->download(), zero.ref) < 1e-5);
    }
    CHECK(opara::cuda::current_device() == 1);  // the launch restored it
  }
}
