#pragma once
// Device-measured floors for the bench suite's bound: what the profile alone cannot say about a
// GPU running a CUDA graph of these kernels. Each is measured both as the suite's replays are
// (isolated: the host's launch call included) and queued (the GPU's own time, time_queued).
//
// The profile bound (opara::lower_bound_us: max(critical path, work bound)) sums each operator's
// duration measured alone. In a graph every dependent kernel also waits for its producer's end to
// reach the front end and for its own blocks to be dispatched (0.4 us per dependency in a traced
// model's sequential graph on an H200, not the 0.1 us a chain of identical kernels shows), and the
// front end takes each of hundreds of kernels in turn. Two measurements on the device bound every
// schedule from below, whatever its streams and order:
//  - the critical chain: the profile's longest path (costs: durations plus the model's typical
//    per-dependency latency, and plain durations: both are tried) run alone as a sequential CUDA
//    graph of the workload's own operators, captured from a stream and built node by node, with and
//    without PDL; the fastest replay of the fastest variant (on a chain of 430 PDL kernels the
//    built graph ran 12% faster than the captured one). Every schedule runs these operators one after another, each waiting for the
//    previous one, and sharing the GPU with the rest of the graph never makes them faster;
//  - the skeleton: each measured plan captured again with every kernel replaced by an empty kernel
//    of the same grid, block and shared memory (and the same PDL contract); its fastest replay is a
//    floor for that plan (kernels that do work only take longer), so the least over the measured
//    plans is a floor for the best of them;
//  - (not in the bound) the structure: each measured plan captured again with only the critical
//    chain's operators doing their work and every other kernel empty (a skeleton with the chain
//    real): the plan's forks, joins, waits and launches around the chain's own work. A plan's
//    replay over its structure is what sharing the GPU with the rest of the work costs it; its
//    structure over the chain, what the plan's shape costs the chain. It is a floor for that plan
//    only, not for every schedule (one stream has no forks), so it decomposes the gap to the bound
//    and is never the bound;
//  - the work: the workload's own operators with every edge removed, spread round-robin over 8, 32,
//    128, 256 or 1,024 streams (at most one per operator; the fastest): the GPU running the same
//    kernels as freely as streams let it. A schedule keeps the edges, so it waits at least as long,
//    unless the edgeless arrangement is worse than the plan's: on the H100 (cbdc889), with 8-128
//    streams only, branches256's best plan ran at 0.95 of it (its 256 branches then shared streams
//    two by two). So it is an estimate, not a proof. Without it the bound of a wide graph such as
//    layered8x125 was its skeleton alone: no floor for the work. Isolated, it is one graph (an
//    edgeless graph has no free cut for launch segments), so it pays the whole launch call that a
//    plan in segments partly hides; on the traced models it stayed below the chain in every run
//    but one (975af60, GoogLeNet, measured once in a slow episode).
//  The chain and the work are each measured before and after the modes, and the faster kept.

#include "synthetic.hpp"

#include <opara/cuda.hpp>
#include <opara/opara.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/cuda/tune/measure.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

namespace bench {

// A sub-chain of a workload: nodes path[0] -> path[1] -> ..., each running the workload's own
// operator (its launcher, its PDL declaration).
inline opara::cuda::task_graph chain_of(const opara::cuda::task_graph& g, const std::vector<opara::node_id>& path) {
  opara::cuda::task_graph chain;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const opara::node_id v = path[i];
    chain.add(g.name(v), [&g, v](cudaStream_t s) { g.launch(v, s); }, g.bound(v),
              g.programmatic(v) ? opara::input_wait::programmatic : opara::input_wait::full);
    if (i) chain.depends(static_cast<opara::node_id>(i - 1), static_cast<opara::node_id>(i));
  }
  return chain;
}

// The profile's operators of `path`, in path order, keyed to `chain` (the chain's profile: no
// second measurement).
inline opara::profile profile_of(const opara::profile& p, const std::vector<opara::node_id>& path,
                                 const opara::cuda::task_graph& chain) {
  opara::profile out = p;
  out.ops.clear();
  for (const opara::node_id v : path) out.ops.push_back(p.ops[v]);
  out.key.graph_fingerprint = opara::fingerprint(opara::to_graph(chain));
  return out;
}

// A replay's time on the GPU alone: `busy` first gives the stream about a millisecond of work, so
// the host's launch call (cudaGraphLaunch takes 0.2-0.8 us per node of a graph on the host, and
// the GPU starts the graph only once most of it is done: bench_anatomy) is over before the start
// event runs. What a server that keeps its stream busy sees; the isolated replay adds the call.
// One sampler's events serve all its samples; `sample` appends `count` of them (us per replay).
class queued_sampler {
public:
  queued_sampler(cudaStream_t s, std::function<void(cudaStream_t)> busy)
      : s_(s), busy_(std::move(busy)) {}
  void sample(const opara::executable& exe, int count, std::vector<double>& out) const {
    for (int i = 0; i < count; ++i) {
      busy_(s_);
      out.push_back(timer_.time(s_, [&] { exe(s_); }).count());
    }
  }

private:
  cudaStream_t s_;
  std::function<void(cudaStream_t)> busy_;
  opara::cuda::event_timer timer_;
};

inline opara::tune::timing_summary time_queued(const opara::executable& exe, cudaStream_t s,
                                               const opara::tune::timing_options& o,
                                               const std::function<void(cudaStream_t)>& busy) {
  for (int i = 0; i < o.warmup; ++i) exe(s);
  std::vector<double> samples;
  queued_sampler(s, busy).sample(exe, o.replays, samples);
  return opara::tune::summarize(std::move(samples));
}

// A floor's two measurements of one executable: its fastest isolated replay and, when `busy` is
// set, its fastest queued replay (0 otherwise).
struct fastest_replays {
  double us = 0;
  double queued_us = 0;
};

inline fastest_replays time_fastest(const opara::executable& exe, cudaStream_t s, const opara::tune::timing_options& o,
                                    const std::function<void(cudaStream_t)>& busy) {
  fastest_replays f;
  f.us = opara::tune::time_replays(exe, s, o).min_us;
  if (busy) f.queued_us = time_queued(exe, s, o, busy).min_us;
  return f;
}

// Keeps the lesser of `queued_us` (0: none yet) and a new queued time (0: not measured).
inline void keep_least_queued(double& queued_us, double candidate) {
  if (candidate > 0 && (queued_us == 0 || candidate < queued_us)) queued_us = candidate;
}

struct chain_floor {
  double us = 0;                // fastest replay of the fastest variant
  double queued_us = 0;         // fastest queued replay (time_queued) of any variant (0: not measured)
  std::size_t operators = 0;    // on that chain
  double profiled_us = 0;       // its operators' profiled durations, summed
  bool programmatic = false;    // the fastest variant used PDL
  std::string capture;          // the fastest variant's scheduler
  std::vector<opara::node_id> path;  // the chain's operators, in order
};

// The critical chain's floor (see above): for each candidate path the faster of its PDL and plain
// variants (fastest of o.replays replays after o.warmup), and of the paths the longest.
inline chain_floor measure_critical_chain(const opara::cuda::task_graph& g, const opara::profile& p, cudaStream_t s,
                                          const opara::tune::timing_options& o, double typical_dependency_us,
                                          const std::function<void(cudaStream_t)>& busy = {}) {
  using namespace opara;
  const graph cg = to_graph(g);
  std::vector<double> plain(p.ops.size()), with_latency(p.ops.size());
  for (std::size_t v = 0; v < p.ops.size(); ++v) {
    plain[v] = p.ops[v].duration_us;
    with_latency[v] = plain[v] + typical_dependency_us;
  }
  chain_floor longest;
  for (const auto* cost : {&with_latency, &plain}) {
    const std::vector<node_id> path = critical_path(cg, *cost).nodes;
    const cuda::task_graph chain = chain_of(g, path);
    const profile chain_profile = profile_of(p, path, chain);
    chain_floor f{std::numeric_limits<double>::infinity(), 0, path.size(), 0, false, {}, path};
    for (const node_id v : path) f.profiled_us += p.ops[v].duration_us;
    auto variant = [&](const auto& seq, bool pdl) {
      const fastest_replays t = time_fastest(seq.compile(chain, s, chain_profile), s, o, busy);
      if (t.us < f.us) {
        f.us = t.us;
        f.programmatic = pdl;
        f.capture = seq.label();
      }
      keep_least_queued(f.queued_us, t.queued_us);
    };
    for (const bool pdl : {false, true}) {
      // One graph and launch segments: a plan split so could otherwise beat its own chain's one graph.
      for (const int segments : {1, 2, 4}) {
        scheduler<streams::sequential, order::program_order, capture::stream_capture> captured{};
        captured.options.capture.programmatic = pdl;
        captured.options.capture.launch_segments = segments;
        variant(captured, pdl);
      }
      scheduler<streams::sequential, order::program_order, capture::explicit_graph> built{};
      built.options.capture.programmatic = pdl;
      built.options.capture.launch_segments = 1;
      variant(built, pdl);
    }
    const double queued = std::max(longest.queued_us, f.queued_us);  // of the paths the longest, like us
    if (f.us > longest.us) longest = f;
    longest.queued_us = queued;
  }
  return longest;
}

// A workload's skeleton: the same operators, edges and PDL declarations, each operator launching
// an empty kernel per kernel its profile records, with that kernel's grid, block and shared memory
// (one 1-thread kernel for an operator without records). Operators marked in `real` (bench_anatomy's
// partial skeletons) keep their own launcher instead.
class skeleton {
public:
  skeleton(const opara::cuda::task_graph& g, const opara::profile& p, const std::vector<bool>& real = {}) {
    std::uint32_t max_shared = 0;
    for (const auto& op : p.ops)
      for (const auto& k : op.kernels) max_shared = std::max<std::uint32_t>(max_shared, static_cast<std::uint32_t>(k.shared_bytes()));
    if (max_shared > 48 * 1024)
      OPARA_CUDA_CHECK(cudaFuncSetAttribute(symbol(empty_kernel), cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_shared)));
    for (opara::node_id v = 0; v < g.num_nodes(); ++v) {
      std::vector<launch> kernels;
      for (const auto& k : p.ops.at(v).kernels)
        kernels.push_back({dim3(k.grid[0], k.grid[1], k.grid[2]), dim3(k.block[0], k.block[1], k.block[2]),
                           static_cast<unsigned>(k.shared_bytes())});
      if (kernels.empty()) kernels.push_back({dim3(1), dim3(1), 0});
      if (v < real.size() && real[v]) {
        graph_.add(g.name(v), [&g, v](cudaStream_t s) { g.launch(v, s); }, g.bound(v),
                   g.programmatic(v) ? opara::input_wait::programmatic : opara::input_wait::full);
        continue;
      }
      graph_.add(g.name(v),
                 [kernels](cudaStream_t s) {
                   for (const auto& k : kernels) {
                     bench::launch(empty_kernel, k.grid, k.block, k.shared, s);
                     OPARA_CUDA_CHECK(cudaGetLastError());
                   }
                 },
                 g.bound(v), g.programmatic(v) ? opara::input_wait::programmatic : opara::input_wait::full);
    }
    for (opara::node_id v = 0; v < g.num_nodes(); ++v)
      for (const opara::node_id w : g.successors(v)) graph_.depends(v, w);
  }
  [[nodiscard]] const opara::cuda::task_graph& graph() const noexcept { return graph_; }

private:
  struct launch {
    dim3 grid, block;
    unsigned shared;
  };
  opara::cuda::task_graph graph_;
};

// The work floor (see above): the fastest replay, isolated and queued, of the workload's operators
// without edges, over 8 to 1,024 round-robin streams (at most one per operator).
struct work_floor {
  double us = 0;              // fastest isolated replay of the fastest stream count
  double queued_us = 0;       // fastest queued replay of any stream count (0: not measured)
  std::uint32_t streams = 0;  // the fastest stream count (isolated)
};

inline work_floor measure_work_floor(const opara::cuda::task_graph& g, cudaStream_t s, const opara::tune::timing_options& o,
                                     const std::function<void(cudaStream_t)>& busy = {}) {
  using namespace opara;
  cuda::task_graph edgeless;
  for (node_id v = 0; v < g.num_nodes(); ++v)
    edgeless.add(g.name(v), [&g, v](cudaStream_t stream) { g.launch(v, stream); }, g.bound(v),
                 g.programmatic(v) ? input_wait::programmatic : input_wait::full);
  work_floor f{std::numeric_limits<double>::infinity(), 0, 0};
  std::uint32_t previous = 0;
  for (const std::uint32_t wanted : {8u, 32u, 128u, 256u, 1024u}) {
    const std::uint32_t streams = std::min<std::uint32_t>(wanted, static_cast<std::uint32_t>(g.num_nodes()));
    if (streams == previous) continue;  // a small graph: every count above its size is the same plan
    previous = streams;
    scheduler<streams::round_robin, order::program_order, capture::stream_capture, profiler::none> sched{};
    sched.streams.streams = streams;
    const fastest_replays t = time_fastest(sched.compile(edgeless, s), s, o, busy);
    if (t.us < f.us) {
      f.us = t.us;
      f.streams = streams;
    }
    keep_least_queued(f.queued_us, t.queued_us);
  }
  return f;
}

} // namespace bench
