// Memory races on the GPU: an engine whose activations share one arena with maximal reuse (the
// first-fit arena an engine plans for its sequential order), operators that wait a random time
// before they read their inputs, and plans of several policies replayed many times. With the
// memory's orderings (make_plan's default) every replay equals the sequential run bit for bit;
// with them switched off the same plans race, and the outputs show it. Also: opara's own arena
// for the parallel plan (plan_arena) runs race-free.
#include "support/gpu_test.hpp"

#include <opara/memory/arena.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include "support/dags.hpp"
#include "support/tensors.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

using namespace gpu_test;

namespace {

;

// An engine's operator graph with its memory (an arena_graph) and its kernels.
struct race_engine : opara::test::arena_dag {
  int elems = 0;
  std::vector<long long> spin;
  std::vector<float> c;
  float* arena = nullptr;
  std::vector<float*> own;  // pinned buffers: their own allocations

  float* where(opara::buffer_id b) const {
    return pinned[b] ? own[b] : arena + offset[b] / sizeof(float);
  }
  void launch(opara::node_id v, cudaStream_t s) const {
    op_inputs in{};
    in.count = static_cast<int>(this->in[v].size());
    for (int k = 0; k < in.count; ++k) in.p[k] = where(this->in[v][k]);
    gpu_test::launch(late_reader, (elems + 255) / 256, 256, 0, s, where(out[v][0]), in, c[v], spin[v], elems);
    OPARA_CUDA_CHECK(cudaGetLastError());
  }
};

struct fixture {
  race_engine e;
  std::unique_ptr<device_buffer<float>> arena;
  std::vector<std::unique_ptr<device_buffer<float>>> own;
  std::vector<opara::buffer_id> outputs;  // the sinks' buffers and nothing else
  cudaStream_t s = nullptr;

  fixture(std::uint64_t seed, bool opara_arena) {
    opara::test::rng_t rng(seed);
    const opara::graph g = opara::test::layered(rng, quick() ? 5 : 9, 5, 2, 0.2);
    e.elems = quick() ? 1024 : 8192;
    static_cast<opara::test::tensor_dag&>(e) = opara::test::tensors_on(g, rng);
    for (auto& b : e.bytes) b = static_cast<std::uint64_t>(e.elems) * sizeof(float);
    e.offset.assign(e.bytes.size(), 0);
    std::uint64_t arena_bytes = 0;
    if (opara_arena) {  // planned on the tensors alone (no offsets yet), for the default policies' plan
      const opara::test::tensor_dag& tensors = e;
      const opara::plan p = opara::make_plan(tensors);
      const opara::arena a = opara::plan_arena(p, g, opara::memory_of(tensors));
      e.offset = a.offset;
      for (std::size_t b = 0; b < e.offset.size(); ++b)
        if (e.pinned[b]) e.offset[b] = 0;
      arena_bytes = a.bytes;
    } else {
      arena_bytes = opara::test::sequential_first_fit(e);
    }
    arena = std::make_unique<device_buffer<float>>(arena_bytes / sizeof(float) + 1);
    e.arena = arena->get();
    e.own.assign(e.bytes.size(), nullptr);
    for (std::size_t b = 0; b < e.bytes.size(); ++b)
      if (e.pinned[b]) {
        own.push_back(std::make_unique<device_buffer<float>>(e.elems));
        e.own[b] = own.back()->get();
      }
    std::vector<float> x(e.elems);  // buffer 0: the input
    for (int i = 0; i < e.elems; ++i) x[i] = 0.001f * static_cast<float>(i % 997) - 0.3f;
    own.front()->upload(x);
    for (std::size_t v = 0; v < g.num_nodes(); ++v) {
      e.spin.push_back(static_cast<long long>(opara::test::uniform(rng, 0, 40000)));  // up to ~20 us
      e.c.push_back(0.1f + 0.01f * static_cast<float>(v % 17));
      if (g.successors(static_cast<opara::node_id>(v)).empty()) outputs.push_back(e.out[v][0]);
    }
    OPARA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  }
  ~fixture() { OPARA_CUDA_CHECK_NOTHROW(cudaStreamDestroy(s)); }

  std::vector<float> read_outputs() const {
    std::vector<float> all;
    for (opara::buffer_id b : outputs) {
      std::vector<float> h(e.elems);
      OPARA_CUDA_CHECK(cudaMemcpy(h.data(), e.own[b], h.size() * sizeof(float), cudaMemcpyDeviceToHost));
      all.insert(all.end(), h.begin(), h.end());
    }
    return all;
  }
};

// Replays `exe` `replays` times, comparing the outputs with `expect` after each; the mismatches.
int mismatches(const fixture& f, const opara::executable& exe, const std::vector<float>& expect, int replays) {
  int bad = 0;
  for (int i = 0; i < replays; ++i) {
    exe(f.s);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(f.s));
    const auto got = f.read_outputs();
    if (std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) != 0) ++bad;
  }
  return bad;
}

template <class S>
using race_scheduler = opara::scheduler<S, opara::order::program_order, opara::capture::stream_capture, opara::profiler::none>;

template <class S>
void race_case(fixture& f, const std::vector<float>& expect, S policy, int replays, int& off_mismatches, int& off_plans_racy) {
  race_scheduler<S> on{.streams = policy};
  const opara::executable a = on.compile(f.e, f.s);
  CAPTURE(on.label());
  CHECK(a.plan().memory_orderings > 0);
  CHECK(mismatches(f, a, expect, replays) == 0);
  race_scheduler<S> off{.streams = policy};
  off.options.plan.memory_hazards = false;
  const opara::executable b = off.compile(f.e, f.s);
  try {
    opara::check_memory(b.plan(), opara::to_graph(f.e), opara::memory_of(f.e));
  } catch (const opara::invalid_plan&) {
    ++off_plans_racy;
  }
  off_mismatches += mismatches(f, b, expect, replays);
}

} // namespace

TEST_CASE("memory.engine_arena: plans with the memory's orderings never race; without them they do") {
  const int replays = quick() ? 50 : 1000;
  int off_mismatches = 0, off_plans_racy = 0;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    fixture f(seed, false);
    // The sequential run is the truth.
    race_scheduler<opara::streams::sequential> seq;
    const opara::executable one = seq.compile(f.e, f.s);
    one(f.s);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(f.s));
    const std::vector<float> expect = f.read_outputs();
    REQUIRE(expect.size() > 0);
    CHECK(std::any_of(expect.begin(), expect.end(), [](float x) { return x != 0; }));
    race_case(f, expect, opara::streams::opara_greedy{}, replays, off_mismatches, off_plans_racy);
    race_case(f, expect, opara::streams::round_robin{.streams = 3}, replays, off_mismatches, off_plans_racy);
    race_case(f, expect, opara::streams::min_path_cover{}, replays, off_mismatches, off_plans_racy);
    race_case(f, expect, opara::streams::capped<opara::streams::opara_greedy>{{}, 2}, replays, off_mismatches, off_plans_racy);
  }
  MESSAGE("without the orderings: " << off_plans_racy << " of 12 plans racy by check_memory, " << off_mismatches
                                    << " replays with wrong outputs");
  CHECK(off_plans_racy > 0);
  // The hazard waits are what keeps the outputs right. Under compute-sanitizer, which runs one
  // kernel at a time, nothing overlaps and the race cannot show.
  if (!sanitizer()) CHECK(off_mismatches > 0);
}

TEST_CASE("memory.opara_arena: the parallel plan's own arena runs race-free") {
  const int replays = quick() ? 50 : 1000;
  for (std::uint64_t seed : {4u, 5u}) {
    fixture f(seed, true);
    race_scheduler<opara::streams::sequential> seq;
    const opara::executable one = seq.compile(f.e, f.s);
    one(f.s);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(f.s));
    const std::vector<float> expect = f.read_outputs();
    // No orderings added: the plan is the one the arena was planned for, and the arena alone
    // must keep it race-free.
    race_scheduler<opara::streams::opara_greedy> par;
    par.options.plan.memory_hazards = false;
    const opara::executable a = par.compile(f.e, f.s);
    CHECK(a.plan().num_streams > 1);
    CHECK_NOTHROW(opara::check_memory(a.plan(), opara::to_graph(f.e), opara::memory_of(f.e), a.plan().order));
    CHECK(mismatches(f, a, expect, replays) == 0);
  }
}
