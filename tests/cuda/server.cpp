// opara inside a multi-threaded inference server on one GPU: eight threads compile different graphs
// (all three capture policies, CUPTI profiling) and replay them 1,000 times concurrently while one
// more thread allocates, frees and synchronizes the whole time. Every result matches the float64
// CPU reference, and every profile taken concurrently has, operator by operator, the kernels
// (count, grid, block, shared memory) of the profile taken alone. Also: capture is thread-local by
// default (global mode breaks the other thread's cudaMalloc, so this test can fail), one eager
// executable replayed from two threads at once, and launches from a thread with the per-thread
// default stream.
#include "support/gpu_test.hpp"

#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace gpu_test;

namespace {

constexpr int workers = 8;

int elems() { return quick() ? 1024 : 4096; }
int replays() { return quick() ? 20 : 1000; }

// One server thread's model: its own random graph, input, buffers and task graph.
struct model {
  random_dag dag;
  std::vector<float> x0;
  std::vector<double> ref;
  device_buffer<float> out;
  device_buffer<float> x;
  opara::cuda::task_graph tg;

  explicit model(int seed)
      : dag(make_dag(seed)), x0(inputs_for(seed)), ref(reference(dag, x0, std::size_t(elems()))),
        out(dag.n * std::size_t(elems())), x(std::size_t(elems())),
        tg(make_task_graph(dag, out.get(), x.get(), elems(), seed % 2 ? 128 : 256, std::size_t(3 + seed % 3))) {
    x.upload(x0);
  }
  static random_dag make_dag(int seed) {
    std::mt19937 rng(1000 + seed);
    return make_random_dag(rng, 12, 30);
  }
  static std::vector<float> inputs_for(int seed) {
    std::mt19937 rng(2000 + seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> v(static_cast<std::size_t>(elems()));
    for (auto& e : v) e = u(rng);
    return v;
  }
  // Poisons the outputs, replays once on `s`, and returns ||out - ref|| / ||ref||.
  double checked_replay(const opara::executable& exe, cudaStream_t s) const {
    OPARA_CUDA_CHECK(cudaMemsetAsync(out.get(), 0xff, out.size() * sizeof(float), s));  // NaN everywhere
    exe(s);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    return relative_error(out.download(), ref);
  }
};

// The launch shape of one operator's kernels, as a profile records it (durations change with the
// load on the GPU; these must not).
struct kernel_shape {
  std::array<std::uint32_t, 3> grid;
  std::array<std::uint32_t, 3> block;
  std::uint32_t static_shared;
  std::uint32_t dynamic_shared;
  bool operator==(const kernel_shape&) const = default;
};

std::vector<std::vector<kernel_shape>> shapes_of(const opara::profile& p) {
  std::vector<std::vector<kernel_shape>> out(p.ops.size());
  for (std::size_t v = 0; v < p.ops.size(); ++v)
    for (const auto& k : p.ops[v].kernels)
      out[v].push_back({k.grid, k.block, k.static_shared_bytes, k.dynamic_shared_bytes});
  return out;
}

template <class C>
opara::executable compile_with(const opara::cuda::task_graph& tg, cudaStream_t s) {
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, C> sched;
  sched.options.profile = opara::profiling::always;
  return sched.compile(tg, s);
}

// Worker i's capture policy: the three in turn.
opara::executable compile_for(int worker, const opara::cuda::task_graph& tg, cudaStream_t s) {
  switch (worker % 3) {
    case 0: return compile_with<opara::capture::stream_capture>(tg, s);
    case 1: return compile_with<opara::capture::explicit_graph>(tg, s);
    default: return compile_with<opara::capture::eager>(tg, s);
  }
}

} // namespace

TEST_CASE("server.eight_threads_compile_profile_and_replay_while_another_allocates") {
  std::vector<std::unique_ptr<model>> models;
  for (int i = 0; i < workers; ++i) models.push_back(std::make_unique<model>(i));

  // Each model's profile taken alone, with nothing else running.
  std::vector<opara::profile> alone(workers);
  {
    auto s = opara::cuda::stream_handle::create();
    for (int i = 0; i < workers; ++i) {
      const auto exe = compile_for(i, models[i]->tg, s.get());
      REQUIRE(exe.profile() != nullptr);
      alone[i] = *exe.profile();
      CHECK(models[i]->checked_replay(exe, s.get()) < 1e-5);
    }
  }

  std::vector<opara::profile> together(workers);
  std::vector<double> worst(workers, 0.0);
  std::vector<std::string> failures(workers);
  std::vector<std::string> capture_policy(workers);
  std::latch start(workers + 1);
  std::atomic<int> running{workers};
  std::atomic<long> allocations{0};
  std::string allocator_failure;

  // What a request thread of a server does: allocate, work on its own stream, wait for it, free.
  // (Not cudaDeviceSynchronize: it would have to wait for streams that are being captured, so CUDA
  // refuses it while any capture of the device is in progress, whatever the capture mode.)
  std::thread allocator([&] {
    cudaStream_t own = nullptr;
    if (cudaStreamCreateWithFlags(&own, cudaStreamNonBlocking) != cudaSuccess) allocator_failure = "cudaStreamCreate";
    start.arrive_and_wait();
    while (running.load() > 0 && allocator_failure.empty()) {
      void* p = nullptr;
      if (const cudaError_t e = cudaMalloc(&p, 1 << 20); e != cudaSuccess) {
        allocator_failure = std::string("cudaMalloc: ") + cudaGetErrorName(e);
        break;
      }
      if (const cudaError_t e = cudaMemsetAsync(p, 0, 1 << 20, own); e != cudaSuccess)
        allocator_failure = std::string("cudaMemsetAsync: ") + cudaGetErrorName(e);
      if (const cudaError_t e = cudaStreamSynchronize(own); e != cudaSuccess)
        allocator_failure = std::string("cudaStreamSynchronize: ") + cudaGetErrorName(e);
      if (const cudaError_t e = cudaFree(p); e != cudaSuccess)
        allocator_failure = std::string("cudaFree: ") + cudaGetErrorName(e);
      ++allocations;
    }
    if (own) OPARA_CUDA_CHECK_NOTHROW(cudaStreamDestroy(own));
  });

  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto s = opara::cuda::stream_handle::create();
        const model& m = *models[i];
        start.arrive_and_wait();
        const auto exe = compile_for(i, m.tg, s.get());
        capture_policy[i] = exe.stats().capture_policy;
        if (exe.profile()) together[i] = *exe.profile();
        const int n = replays();
        for (int r = 0; r < n; ++r) {
          if (r % 250 == 0 || r == n - 1) worst[i] = std::max(worst[i], m.checked_replay(exe, s.get()));
          else exe(s.get());
        }
        OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
        worst[i] = std::max(worst[i], m.checked_replay(exe, s.get()));
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
      --running;
    });
  }
  for (auto& t : threads) t.join();
  allocator.join();

  CHECK_MESSAGE(allocator_failure.empty(), allocator_failure);
  MESSAGE("the allocating thread made ", allocations.load(), " cudaMalloc/cudaMemsetAsync/cudaStreamSynchronize/cudaFree rounds");
  CHECK(allocations.load() > 0);
  for (int i = 0; i < workers; ++i) {
    INFO("worker ", i, " (", capture_policy[i], ", ", models[i]->dag.n, " operators)");
    CHECK_MESSAGE(failures[i].empty(), failures[i]);
    CHECK(worst[i] < 1e-5);  // NaN (an unwritten output) fails too
    REQUIRE(together[i].ops.size() == alone[i].ops.size());
    if (cupti_required()) {
      CHECK(alone[i].source == "cupti");
      CHECK(together[i].source == "cupti");
    }
    if (alone[i].source == "cupti" && together[i].source == "cupti") {
      const auto a = shapes_of(alone[i]);
      const auto b = shapes_of(together[i]);
      for (std::size_t v = 0; v < a.size(); ++v) {
        INFO("operator ", v);
        CHECK(b[v].size() == a[v].size());  // kernel count
        CHECK(b[v] == a[v]);                // grid, block, shared memory
        CHECK(a[v].size() == (v % std::size_t(3 + i % 3) == 0 ? 2u : 1u));
      }
    }
  }
}

TEST_CASE("server.capture_is_thread_local_by_default") {
  // While the capture runs (inside the operator), another thread calls cudaMalloc. Thread-local
  // capture (the default) lets it; global capture makes it fail (the reason for the default).
  for (const auto mode : {opara::capture::capture_mode::per_thread, opara::capture::capture_mode::global}) {
    // The global half makes CUDA calls fail on purpose: not under compute-sanitizer, which reports them.
    if (sanitizer() && mode == opara::capture::capture_mode::global) continue;
    const std::string mode_name = mode == opara::capture::capture_mode::global ? "global" : "per_thread";
    INFO("mode ", mode_name);
    auto s = opara::cuda::stream_handle::create();
    device_buffer<float> out(256), x0(256);
    std::atomic<int> stage{0};
    cudaError_t allocated = cudaSuccess;
    void* block = nullptr;
    std::thread other([&] {
      while (stage.load() != 1) std::this_thread::yield();
      allocated = cudaMalloc(&block, 4096);
      stage = 2;
    });
    opara::cuda::task_graph tg;
    tg.add("waits_for_the_other_thread", [&](cudaStream_t st) {
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      gpu_test::launch(combine_kernel, 1, 256, 0, st, out.get(), inputs{{}, 0}, x0.get(), 1.f, 0.f, 256);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
    opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, opara::capture::stream_capture,
                     opara::profiler::none>
        sched;
    sched.options.capture.mode = mode;
    try {
      const auto exe = sched.compile(tg, s.get());
    } catch (const opara::error& e) {
      // Thread-local capture must succeed; a global one may be invalidated by the other thread.
      MESSAGE("capture failed: ", std::string(e.what()));
      CHECK(mode == opara::capture::capture_mode::global);
    }
    other.join();
    (void)cudaGetLastError();
    if (mode == opara::capture::capture_mode::per_thread) CHECK(allocated == cudaSuccess);
    else CHECK(allocated != cudaSuccess);
    if (block) OPARA_CUDA_CHECK(cudaFree(block));
  }
  static_assert(opara::capture::to_cuda(opara::capture::capture_mode::per_thread) == cudaStreamCaptureModeThreadLocal);
  static_assert(opara::capture::to_cuda(opara::capture::options{}.mode) == cudaStreamCaptureModeThreadLocal);
  static_assert(opara::capture::to_cuda(opara::capture::capture_mode::relaxed) == cudaStreamCaptureModeRelaxed);
}

TEST_CASE("server.one_executable_replayed_from_two_threads_at_once") {
  model m(42);
  auto s = opara::cuda::stream_handle::create();
  for (int policy = 0; policy < 3; ++policy) {
    const auto exe = compile_for(policy, m.tg, s.get());
    INFO(exe.stats().capture_policy);
    CHECK(exe.device() == opara::cuda::current_device());
    std::vector<std::string> failures(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([&, t] {
        try {
          auto own = opara::cuda::stream_handle::create();
          for (int r = 0; r < replays() / 2; ++r) exe(own.get());
          own.synchronize();
        } catch (const std::exception& e) {
          failures[t] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    CHECK_MESSAGE(failures[0].empty(), failures[0]);
    CHECK_MESSAGE(failures[1].empty(), failures[1]);
    CHECK(m.checked_replay(exe, s.get()) < 1e-5);
    // The default-stream handles name the executable's device: a launch on them works too.
    OPARA_CUDA_CHECK(cudaMemset(m.out.get(), 0xff, m.out.size() * sizeof(float)));
    CHECK_FALSE(opara::cuda::device_of(cudaStreamPerThread).has_value());
    exe(cudaStreamPerThread);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
    CHECK(relative_error(m.out.download(), m.ref) < 1e-5);
  }
}
