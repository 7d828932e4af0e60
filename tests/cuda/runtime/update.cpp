// executable::update points a compiled executable at new input, output and arena buffers without
// planning again: each request gets fresh buffers with fresh data, and the updated executable
// computes exactly what a freshly compiled one computes (and what a CPU reference says), under
// stream_capture and explicit_graph, whole and in launch segments. An operator that starts
// launching two kernels changes the topology: the update re-instantiates, and is still right.
// Launches from another thread during updates stay correct; an eager executable is re-bound.
#include "support/gpu_test.hpp"

#include <opara/order/critical_path_first.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>

using namespace gpu_test;
using namespace gpu_test::update_kernels;
namespace cp = opara::capture;

namespace {

// What an engine's operators read at launch time: the request's buffers.
struct bindings {
  const float* input = nullptr;  // elems floats
  float* arena = nullptr;        // n * elems floats: operator v writes slot v
  float* output = nullptr;       // elems floats: the sum of the sinks' slots
  int twice = -1;                // this operator launches its kernel twice (the topology changes)
};

// The random DAG's operators plus one "output" operator after every sink; each reads its buffers
// from `b` when it is launched (what a capture records).
struct engine_graph {
  opara::cuda::task_graph tg;
  std::vector<int> sinks;
  std::unique_ptr<device_buffer<int>> sinks_dev;
};

std::unique_ptr<engine_graph> make_engine(const random_dag& d, const bindings& b, int elems) {
  auto e = std::make_unique<engine_graph>();
  std::vector<bool> has_successor(d.n, false);
  for (std::size_t v = 0; v < d.n; ++v)
    for (auto u : d.preds[v]) has_successor[u] = true;
  for (std::size_t v = 0; v < d.n; ++v)
    if (!has_successor[v]) e->sinks.push_back(static_cast<int>(v));
  e->sinks_dev = std::make_unique<device_buffer<int>>(e->sinks.size());
  e->sinks_dev->upload(e->sinks);
  for (std::size_t v = 0; v < d.n; ++v) {
    const std::vector<opara::node_id> preds = d.preds[v];
    const float w = d.w[v], bias = d.b[v];
    e->tg.add("op" + std::to_string(v), [&b, preds, w, bias, v, elems](cudaStream_t s) {
      inputs in{};
      in.count = static_cast<int>(preds.size());
      for (int k = 0; k < in.count; ++k) in.p[k] = b.arena + std::size_t(preds[k]) * elems;
      float* o = b.arena + v * elems;
      const int launches = b.twice == static_cast<int>(v) ? 2 : 1;
      for (int l = 0; l < launches; ++l) gpu_test::launch(combine_kernel, (elems + 255) / 256, 256, 0, s, o, in, b.input, w, bias, elems);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
  }
  const int* sinks_dev = e->sinks_dev->get();
  const int count = static_cast<int>(e->sinks.size());
  const opara::node_id out = e->tg.add("output", [&b, sinks_dev, count, elems](cudaStream_t s) {
    gpu_test::launch(sum_kernel, (elems + 255) / 256, 256, 0, s, b.output, b.arena, sinks_dev, count, elems);
    OPARA_CUDA_CHECK(cudaGetLastError());
  });
  for (std::size_t v = 0; v < d.n; ++v)
    for (auto u : d.preds[v]) e->tg.depends(u, static_cast<opara::node_id>(v));
  for (int s : e->sinks) e->tg.depends(static_cast<opara::node_id>(s), out);
  return e;
}

// One request's buffers, filled with fresh nonzero input and poisoned (NaN) arena and output.
struct request {
  std::vector<float> input_h;
  device_buffer<float> input, arena, output;
  request(std::size_t n, int elems, std::mt19937& rng) : input(elems), arena(n * elems), output(elems) {
    std::uniform_real_distribution<float> u(0.25f, 2.f);
    std::bernoulli_distribution negative(0.5);
    input_h.resize(static_cast<std::size_t>(elems));
    for (auto& x : input_h) x = negative(rng) ? -u(rng) : u(rng);  // never zero
    input.upload(input_h);
    poison();
  }
  void poison() const {
    OPARA_CUDA_CHECK(cudaMemset(arena.get(), 0xff, arena.size() * sizeof(float)));
    OPARA_CUDA_CHECK(cudaMemset(output.get(), 0xff, output.size() * sizeof(float)));
  }
  void bind(bindings& b) const {
    b.input = input.get();
    b.arena = arena.get();
    b.output = output.get();
  }
};

// The CPU reference for request r: every slot, then the output (in double).
struct expected {
  std::vector<double> arena, output;
};
expected reference_for(const random_dag& d, const engine_graph& e, const request& r, int elems) {
  expected x;
  x.arena = reference(d, r.input_h, static_cast<std::size_t>(elems));
  x.output.assign(static_cast<std::size_t>(elems), 0.0);
  for (int s : e.sinks)
    for (int i = 0; i < elems; ++i) x.output[i] += x.arena[std::size_t(s) * elems + i];
  return x;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs `exe` once on `s` into r's poisoned buffers; checks them against the reference; returns
// (arena, output) as computed.
std::pair<std::vector<float>, std::vector<float>> run_and_check(const opara::executable& exe, const request& r,
                                                                const expected& ref, cudaStream_t s) {
  r.poison();
  exe(s);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  auto arena = r.arena.download();
  auto output = r.output.download();
  CHECK(relative_error(arena, ref.arena) < 1e-5);  // NaN (a slot not written) fails too
  CHECK(relative_error(output, ref.output) < 1e-5);
  return {std::move(arena), std::move(output)};
}

template <class C>
using sched_t = opara::scheduler<opara::streams::opara_greedy, opara::order::critical_path_first, C, opara::profiler::none>;

template <class C>
sched_t<C> make_scheduler(const C& capture, int segments) {
  sched_t<C> sched;
  sched.capture = capture;
  sched.options.capture.launch_segments = segments;
  return sched;
}

struct setup {
  int elems = quick() ? 512 : 4096;
  std::mt19937 rng;
  random_dag d;
  bindings b;
  std::unique_ptr<engine_graph> e;
  opara::profile prof;
  opara::cuda::stream_handle stream = opara::cuda::stream_handle::create();
  explicit setup(unsigned seed, std::size_t min_nodes = 24, std::size_t max_nodes = 40) : rng(seed) {
    d = make_random_dag(rng, min_nodes, max_nodes);
    e = make_engine(d, b, elems);
    prof = make_profile(e->tg, rng);
  }
};

// Compiles once, then serves `requests` requests, each on fresh buffers (the previous request's
// stay allocated, so the new ones have other addresses); the previous request's results stay as
// they were (nothing writes to old buffers).
template <class C>
void serve_requests(const C& capture, int segments, unsigned seed, int requests) {
  setup t(seed);
  const auto sched = make_scheduler(capture, segments);
  auto first = std::make_unique<request>(t.d.n, t.elems, t.rng);
  first->bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);
  INFO("capture=", exe.stats().capture_policy, " segments=", exe.num_segments(), " nodes=", t.d.n + 1);
  REQUIRE(exe.updatable());
  run_and_check(exe, *first, reference_for(t.d, *t.e, *first, t.elems), t.stream.get());
  std::unique_ptr<request> previous = std::move(first);
  std::vector<float> previous_output = previous->output.download();
  for (int k = 0; k < requests; ++k) {
    auto next = std::make_unique<request>(t.d.n, t.elems, t.rng);
    REQUIRE(next->input.get() != previous->input.get());
    REQUIRE(next->output.get() != previous->output.get());
    next->bind(t.b);
    const opara::update_result u = exe.update(t.e->tg, t.stream.get());
    CHECK(u.kind == opara::update_kind::in_place);
    CHECK(u.segments_updated == exe.num_segments());
    CHECK(u.segments_reinstantiated == 0);
    const expected ref = reference_for(t.d, *t.e, *next, t.elems);
    const auto [arena, output] = run_and_check(exe, *next, ref, t.stream.get());
    CHECK(bit_equal(previous->output.download(), previous_output));  // the old output was left alone
    // A freshly compiled executable of the same bindings computes the same bits.
    const opara::executable fresh = sched.compile(t.e->tg, t.stream.get(), t.prof);
    const auto [fresh_arena, fresh_output] = run_and_check(fresh, *next, ref, t.stream.get());
    CHECK(bit_equal(arena, fresh_arena));
    CHECK(bit_equal(output, fresh_output));
    previous_output = output;
    previous = std::move(next);
  }
}

// An operator that launches its kernel twice changes the topology: update re-instantiates (the
// affected segments), and the results stay right; updating again without the change is in place.
template <class C>
void topology_change(const C& capture, int segments, unsigned seed, bool strict_kind) {
  setup t(seed);
  const auto sched = make_scheduler(capture, segments);
  request r0(t.d.n, t.elems, t.rng);
  r0.bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);
  INFO("capture=", exe.stats().capture_policy, " segments=", exe.num_segments());
  run_and_check(exe, r0, reference_for(t.d, *t.e, r0, t.elems), t.stream.get());

  request r1(t.d.n, t.elems, t.rng);
  r1.bind(t.b);
  t.b.twice = static_cast<int>(t.d.n / 2);  // now two kernel nodes for this operator
  opara::update_result u = exe.update(t.e->tg, t.stream.get());
  if (strict_kind) {
    CHECK(u.kind == opara::update_kind::reinstantiated);
    CHECK(u.segments_reinstantiated >= 1);
  } else {
    // explicit_graph: the operator is a child-graph node whose child gained a node; CUDA refuses
    // such an update (cudaGraphExecChildGraphNodeSetParams needs the same child topology), but the
    // top level keeps its node count, so only the results are required here.
    WARN(u.kind == opara::update_kind::reinstantiated);
  }
  CHECK(u.segments_updated + u.segments_reinstantiated == exe.num_segments());
  const expected ref1 = reference_for(t.d, *t.e, r1, t.elems);
  const auto first = run_and_check(exe, r1, ref1, t.stream.get());
  const opara::executable fresh = sched.compile(t.e->tg, t.stream.get(), t.prof);
  const auto again = run_and_check(fresh, r1, ref1, t.stream.get());
  CHECK(bit_equal(first.first, again.first));
  CHECK(bit_equal(first.second, again.second));

  request r2(t.d.n, t.elems, t.rng);  // same topology as now: in place
  r2.bind(t.b);
  u = exe.update(t.e->tg, t.stream.get());
  CHECK(u.kind == opara::update_kind::in_place);
  run_and_check(exe, r2, reference_for(t.d, *t.e, r2, t.elems), t.stream.get());

  request r3(t.d.n, t.elems, t.rng);  // back to one kernel: re-instantiated again
  r3.bind(t.b);
  t.b.twice = -1;
  u = exe.update(t.e->tg, t.stream.get());
  if (strict_kind) CHECK(u.kind == opara::update_kind::reinstantiated);
  else WARN(u.kind == opara::update_kind::reinstantiated);
  run_and_check(exe, r3, reference_for(t.d, *t.e, r3, t.elems), t.stream.get());
}

} // namespace

TEST_CASE("update.new_buffers_each_request.stream_capture") {
  const int requests = quick() ? 2 : 5;
  for (int segments : {1, 2, 3}) serve_requests(cp::stream_capture{}, segments, 100u + segments, requests);
}

TEST_CASE("update.new_buffers_each_request.explicit_graph") {
  const int requests = quick() ? 2 : 5;
  for (int segments : {1, 3}) {
    serve_requests(cp::explicit_graph{}, segments, 200u + segments, requests);
    serve_requests(cp::explicit_graph{.edges = cp::edge_source::dag}, segments, 300u + segments, requests);
  }
}

TEST_CASE("update.new_buffers_each_request.priorities") {
  // Node priorities instantiate with cudaGraphInstantiateFlagUseNodePriority: the update keeps it.
  setup t(404);
  auto sched = make_scheduler(cp::stream_capture{}, 2);
  sched.options.capture.priorities = true;
  request r0(t.d.n, t.elems, t.rng);
  r0.bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);
  run_and_check(exe, r0, reference_for(t.d, *t.e, r0, t.elems), t.stream.get());
  for (int k = 0; k < 3; ++k) {
    request r(t.d.n, t.elems, t.rng);
    r.bind(t.b);
    CHECK(exe.update(t.e->tg, t.stream.get()).kind == opara::update_kind::in_place);
    run_and_check(exe, r, reference_for(t.d, *t.e, r, t.elems), t.stream.get());
  }
}

TEST_CASE("update.topology_change_reinstantiates") {
  for (int segments : {1, 2}) {
    topology_change(cp::stream_capture{}, segments, 500u + segments, /*strict_kind=*/true);
    topology_change(cp::explicit_graph{}, segments, 600u + segments, /*strict_kind=*/false);
  }
}

TEST_CASE("update.another_graph_of_the_same_structure") {
  // The executable keeps no reference to the graph it was compiled from: that graph is gone, and
  // the update is given another of the same type and structure, bound to its own buffers.
  setup t(700);
  const auto sched = make_scheduler(cp::stream_capture{}, 2);
  opara::executable exe;
  {
    bindings gone_b;
    request r0(t.d.n, t.elems, t.rng);
    r0.bind(gone_b);
    const auto gone = make_engine(t.d, gone_b, t.elems);
    exe = sched.compile(gone->tg, t.stream.get(), t.prof);
    run_and_check(exe, r0, reference_for(t.d, *gone, r0, t.elems), t.stream.get());
  }
  request r1(t.d.n, t.elems, t.rng);
  r1.bind(t.b);
  CHECK(exe.update(t.e->tg, t.stream.get()).kind == opara::update_kind::in_place);
  run_and_check(exe, r1, reference_for(t.d, *t.e, r1, t.elems), t.stream.get());
}

TEST_CASE("update.eager_rebinds") {
  setup t(800);
  const auto sched = make_scheduler(cp::eager{}, 1);
  request r0(t.d.n, t.elems, t.rng);
  r0.bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);
  run_and_check(exe, r0, reference_for(t.d, *t.e, r0, t.elems), t.stream.get());
  bindings other_b;
  const auto other = make_engine(t.d, other_b, t.elems);
  request r1(t.d.n, t.elems, t.rng);
  r1.bind(other_b);
  CHECK(exe.update(other->tg, t.stream.get()).kind == opara::update_kind::rebound);
  run_and_check(exe, r1, reference_for(t.d, *other, r1, t.elems), t.stream.get());
}

namespace {
// A second graph type: the same structure behind another type (update must refuse it first).
struct wrapped {
  const opara::cuda::task_graph* tg;
  std::size_t num_nodes() const { return tg->num_nodes(); }
  std::span<const opara::node_id> successors(opara::node_id v) const { return tg->successors(v); }
};
} // namespace

TEST_CASE("update.rejects_another_structure_or_type") {
  setup t(900);
  const auto sched = make_scheduler(cp::stream_capture{}, 2);
  request r0(t.d.n, t.elems, t.rng);
  r0.bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);

  opara::cuda::task_graph bigger = t.e->tg;  // one operator more
  bigger.add("extra", [&](cudaStream_t s) {
    OPARA_CUDA_CHECK(cudaMemsetAsync(r0.output.get(), 0, sizeof(float), s));
  });
  CHECK_THROWS_WITH_AS(exe.update(bigger, t.stream.get()), doctest::Contains("structure"), opara::error);
  // Same operator count, one edge more: from an operator that is no sink (so not yet an input of
  // "output") to "output".
  const auto& sinks = t.e->sinks;
  int inner = -1;
  for (int v = 0; v < static_cast<int>(t.d.n) && inner < 0; ++v)
    if (std::find(sinks.begin(), sinks.end(), v) == sinks.end()) inner = v;
  REQUIRE(inner >= 0);
  opara::cuda::task_graph rewired = t.e->tg;
  rewired.depends(static_cast<opara::node_id>(inner), static_cast<opara::node_id>(t.d.n));
  CHECK_THROWS_WITH_AS(exe.update(rewired, t.stream.get()), doctest::Contains("structure"), opara::error);
  const wrapped w{&t.e->tg};
  CHECK_THROWS_WITH_AS(exe.update(w, t.stream.get()), doctest::Contains("graph type"), opara::error);
  opara::executable empty;
  CHECK_THROWS_AS(empty.update(t.e->tg, t.stream.get()), opara::error);
  // The refused updates left it as it was.
  run_and_check(exe, r0, reference_for(t.d, *t.e, r0, t.elems), t.stream.get());
  // What update needs moves with the executable; the moved-from one refuses.
  opara::executable moved = std::move(exe);
  CHECK_THROWS_AS(exe.update(t.e->tg, t.stream.get()), opara::error);  // NOLINT(bugprone-use-after-move)
  request r1(t.d.n, t.elems, t.rng);
  r1.bind(t.b);
  CHECK(moved.update(t.e->tg, t.stream.get()).kind == opara::update_kind::in_place);
  run_and_check(moved, r1, reference_for(t.d, *t.e, r1, t.elems), t.stream.get());
}

TEST_CASE("update.launches_from_another_thread_stay_correct") {
  // Every buffer set holds the same input, so every launch, before or after any update, must
  // leave whichever set it used exactly right; a set no launch used stays poisoned (all NaN).
  setup t(1000, 16, 24);
  const auto sched = make_scheduler(cp::stream_capture{}, 2);
  constexpr int sets = 4;
  std::vector<std::unique_ptr<request>> bufs;
  bufs.push_back(std::make_unique<request>(t.d.n, t.elems, t.rng));
  for (int k = 1; k < sets; ++k) {
    bufs.push_back(std::make_unique<request>(t.d.n, t.elems, t.rng));
    bufs[k]->input_h = bufs[0]->input_h;
    bufs[k]->input.upload(bufs[0]->input_h);
  }
  bufs[0]->bind(t.b);
  opara::executable exe = sched.compile(t.e->tg, t.stream.get(), t.prof);
  const expected ref = reference_for(t.d, *t.e, *bufs[0], t.elems);
  // The exact bits: one launch on set 0.
  const auto exact = run_and_check(exe, *bufs[0], ref, t.stream.get());
  for (const auto& r : bufs) r->poison();

  std::atomic<bool> stop{false};
  std::atomic<int> launches{0};
  std::atomic<bool> launcher_failed{false};
  std::string launcher_error;  // written by the launcher before it sets launcher_failed
  std::thread launcher([&] {
    try {
      auto own = opara::cuda::stream_handle::create();
      while (!stop.load()) {
        exe(own.get());
        if (launches.fetch_add(1) % 16 == 15) own.synchronize();
      }
      own.synchronize();
    } catch (const std::exception& ex) {
      launcher_error = ex.what();
      launcher_failed = true;
    }
  });
  const int updates = quick() ? 20 : 200;
  int in_place = 0;
  for (int k = 0; k < updates; ++k) {
    bufs[k % sets]->bind(t.b);  // the launcher reads nothing of t.b: only captures do
    try {
      if (exe.update(t.e->tg, t.stream.get()).kind == opara::update_kind::in_place) ++in_place;
    } catch (...) {
      stop = true;
      launcher.join();
      throw;
    }
  }
  while (launches.load() < 2 * updates && !launcher_failed.load()) std::this_thread::yield();
  stop = true;
  launcher.join();
  INFO("launcher: ", launcher_error);
  REQUIRE_FALSE(launcher_failed.load());
  OPARA_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(in_place == updates);
  int used = 0;
  for (const auto& r : bufs) {
    const auto arena = r->arena.download();
    const auto output = r->output.download();
    const bool untouched = std::all_of(output.begin(), output.end(), [](float x) { return std::isnan(x); });
    if (untouched) continue;
    ++used;
    CHECK(bit_equal(arena, exact.first));
    CHECK(bit_equal(output, exact.second));
  }
  CHECK(used >= 1);
  // And a last update is what later launches use.
  bufs[1]->bind(t.b);
  exe.update(t.e->tg, t.stream.get());
  const auto last = run_and_check(exe, *bufs[1], ref, t.stream.get());
  CHECK(bit_equal(last.second, exact.second));
}
