// A capture policy and a profiler written by a user, with nothing but the concepts
// (opara/cuda/capture/concept.hpp, opara/cuda/profiler/concept.hpp) and the public runtime
// (cuda::launch_guarded, executable, timed_event): the scheduler takes them like opara's own.
#include "support/gpu_test.hpp"

#include <opara/cuda/capture/archetype.hpp>
#include <opara/cuda/capture/concept.hpp>
#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/profiler/archetype.hpp>
#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/launch.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/cuda/scheduler.hpp>

#include <atomic>
#include <random>
#include <string>
#include <vector>

using namespace gpu_test;

namespace user {

// Captures the plan on the caller's stream alone, in plan order (the plan's streams are ignored):
// one CUDA graph, a chain. Counts its captures.
struct one_stream_capture {
  static constexpr std::string_view name = "one_stream_capture";
  std::atomic<int>* captures = nullptr;

  template <opara::cuda_operator_graph G>
  opara::executable capture(const G& g, const opara::plan& p, cudaStream_t s, const opara::capture::options& o) const {
    if (captures) ++*captures;
    OPARA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      for (opara::node_id v : p.order) opara::cuda::launch_guarded(g, v, s, o.nvtx, "one_stream_capture");
    } catch (...) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(s, &partial);
      if (partial) (void)cudaGraphDestroy(partial);
      throw;
    }
    cudaGraph_t raw = nullptr;
    OPARA_CUDA_CHECK(cudaStreamEndCapture(s, &raw));
    opara::cuda::graph_handle graph(raw);
    std::vector<opara::cuda::graph_exec_handle> instances;
    instances.push_back(opara::cuda::graph_exec_handle::instantiate(graph.get()));
    opara::capture_stats stats;
    stats.capture_policy = std::string(name);
    stats.streams = 1;
    return opara::executable(p, std::move(graph), std::move(instances), std::move(stats));
  }
};

// Times each operator with a fresh pair of timed events, once (options.iterations ignored).
struct stopwatch {
  static constexpr std::string_view name = "stopwatch";
  static constexpr bool measures = true;
  static inline std::atomic<int> calls{0};

  template <opara::cuda_operator_graph G>
  static opara::profile measure(const G& g, const opara::graph& compact, cudaStream_t stream,
                                const opara::profiler::options& o) {
    ++calls;
    opara::profile measured;
    measured.key = opara::cuda::current_key(compact);
    measured.limits = opara::cuda::current_limits();
    measured.ops.assign(compact.num_nodes(), {});
    for (opara::node_id v : compact.topological_order())
      measured.ops[v].duration_us =
          opara::cuda::time_on(stream, [&] { opara::cuda::launch_guarded(g, v, stream, o.nvtx, "stopwatch"); }).count();
    measured.source = "stopwatch";
    return measured;
  }
};

} // namespace user

// The concepts are all a policy needs.
static_assert(opara::capture::capture_policy<user::one_stream_capture, opara::cuda::task_graph>);
static_assert(opara::capture::capture_policy<opara::capture::archetype, opara::cuda::task_graph>);
static_assert(opara::profiler::profiler_policy<user::stopwatch, opara::cuda::task_graph>);
static_assert(opara::profiler::profiler_policy<opara::profiler::archetype, opara::cuda::task_graph>);

namespace {

struct fixture {
  std::mt19937 rng{2207};
  int elems = 1 << 12;
  device_buffer<float> x0{static_cast<std::size_t>(elems)};
  std::vector<float> x0h;
  opara::cuda::stream_handle stream = opara::cuda::stream_handle::create(cudaStreamNonBlocking);
  fixture() {
    x0h.resize(static_cast<std::size_t>(elems));
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& x : x0h) x = u(rng);
    x0.upload(x0h);
  }
};

template <class Scheduler>
void check_matches_reference(const Scheduler& s, fixture& f, int graphs) {
  for (int i = 0; i < graphs; ++i) {
    const random_dag d = make_random_dag(f.rng, 2, 40);
    const auto ref = reference(d, f.x0h, static_cast<std::size_t>(f.elems));
    device_buffer<float> out(d.n * static_cast<std::size_t>(f.elems));
    const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
    const opara::executable exe = s.compile(tg, f.stream.get());
    exe(f.stream.get());
    OPARA_CUDA_CHECK(cudaStreamSynchronize(f.stream.get()));
    CHECK(relative_error(out.download(), ref) < 1e-5);
  }
}

} // namespace

TEST_CASE("user_policies.capture_policy_and_profiler_through_the_scheduler") {
  fixture f;
  std::atomic<int> captures{0};
  opara::scheduler<opara::streams::opara_greedy, opara::order::critical_path_first, user::one_stream_capture,
                   user::stopwatch>
      s;
  s.capture.captures = &captures;
  s.options.profile = opara::profiling::always;  // the user's profiler measures every compile
  const int before = user::stopwatch::calls;
  check_matches_reference(s, f, quick() ? 2 : 20);
  CHECK(captures == (quick() ? 2 : 20));
  CHECK(user::stopwatch::calls - before == (quick() ? 2 : 20));
  CHECK(s.label() == "opara_greedy/critical_path_first/one_stream_capture");
  CHECK(s.capture_key() == opara::capture::make_key("one_stream_capture", s.options.capture));
}

TEST_CASE("user_policies.archetypes_through_the_scheduler") {
  fixture f;
  opara::scheduler<opara::streams::opara_greedy, opara::order::critical_path_first, opara::capture::archetype,
                   opara::profiler::archetype>
      s;
  s.options.profile = opara::profiling::always;
  check_matches_reference(s, f, quick() ? 2 : 10);
  CHECK(s.label() == "opara_greedy/critical_path_first/archetype");
}
