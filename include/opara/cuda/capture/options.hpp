#pragma once
//! What every capture policy reads (capture::options) and what a capture is told apart by
//! (capture::key): the policy's label and every option that changes the graph it builds. Two
//! captures with equal keys build the same graph from the same plan; autotune, the bench suite and
//! scheduler::label() compare and print keys, never parse labels.
//!
//! Needs no CUDA header: the CUDA runtime's names for these options are in detail/common.hpp.

#include <compare>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace opara::capture {

//! How a stream capture treats the CUDA calls that are unsafe during capture (cudaMalloc, a
//! synchronization, ...) in the capturing thread and in the rest of the process
//! (cudaStreamCaptureMode).
enum class capture_mode : std::uint8_t {
  per_thread,  //!< cudaStreamCaptureModeThreadLocal (the default): only the capturing thread may not
               //!< make unsafe calls; the process's other threads keep allocating, freeing and
               //!< synchronizing their own streams and events. cudaDeviceSynchronize (and the legacy
               //!< default stream with a blocking stream) still fails in any thread while a stream of
               //!< the device is captured, since it would wait for the capture: servers sync streams
  global,      //!< cudaStreamCaptureModeGlobal: while it captures, unsafe calls also fail in every
               //!< other thread that is not capturing in relaxed mode (a server's other threads break)
  relaxed,     //!< cudaStreamCaptureModeRelaxed: nothing is checked, not even in the capturing thread
};

//! Which edges into an operator that declares programmatic dependent launch become programmatic
//! (options::programmatic_edges).
enum class programmatic_scope : std::uint8_t {
  //! Only the edge from the operator launched just before it on its own stream of the plan: the
  //! programmatic edges form one chain per stream, and every fan-out, join and cross-stream edge
  //! stays full. With every eligible edge programmatic, the bench suite's wide graphs ran 1.4-1.7x
  //! slower (a fan-out of 256 branches 350 against 244 us without PDL, four stages of 128
  //! branches 612 against 361 us), as if the branches' launches were serialized; along stream
  //! order they run as fast as without PDL, and chains keep PDL's gain.
  stream_order,
  //! Every edge from another operator's kernel node (the rule before stream_order).
  all,
};

//! Options every capture policy reads.
struct options {
  bool nvtx = false;          //!< an NVTX range per operator around each launch
  bool require_work = true;   //!< an operator that enqueues nothing on its stream is an error
                              //!< (the usual sign that it launched on another stream)
  capture_mode mode = capture_mode::per_thread;  //!< what the capture forbids, and in which threads
  //! Programmatic dependent launch: edges from another operator's kernel node into a kernel node of
  //! an operator that declares it (programmatic_graph) become programmatic, so it is launched
  //! while its producers finish and waits in cudaGridDependencySynchronize(). Every other edge
  //! stays a full one. stream_capture and explicit_graph (which then adds single-kernel operators
  //! as kernel nodes, not child graphs) honour it; eager builds no graph and ignores it. On by
  //! default: it changes nothing where no operator declares it, and it never made a measured
  //! graph slower (bench/pdl: dependent chains, GoogLeNet at batch 1 and 8 under four schedules).
  bool programmatic = true;
  //! Which of those edges become programmatic (see programmatic_scope): by default only the edge
  //! from the operator launched just before on the consumer's own stream.
  programmatic_scope programmatic_edges = programmatic_scope::stream_order;
  //! Node priorities: the kernel nodes of operators whose longest path is within priority_slack of
  //! the critical path get the device's highest priority, and the graph is instantiated with
  //! cudaGraphInstantiateFlagUseNodePriority (so the launch stream's priority no longer applies).
  //! Graph policies only; eager ignores it. Off by default; helps where kernels compete for SMs.
  bool priorities = false;
  double priority_slack = 0.05;        //!< "near" the critical path, as a fraction of its length
  std::vector<double> priority_costs;  //!< per-operator cost (profiled us); empty: unit costs
                                       //!< (scheduler::compile fills it from its profile)
  //! One shared-memory carveout for every kernel node: each kernel node's preferred share of the
  //! SM's unified L1/shared memory, in percent (cudaLaunchAttributePreferredSharedMemoryCarveout,
  //! which takes precedence over the kernel's own cudaFuncAttributePreferredSharedMemoryCarveout);
  //! -1 leaves every kernel its own. An SM holds blocks of one carveout at a time, so a long kernel
  //! that configured every SM for its shared memory keeps kernels that asked for another carveout
  //! off the GPU until it ends; one carveout for all lets them share the SMs (bench_anatomy: a
  //! stage of 128 small kernels beside an SM-filling one took 43-48 us, not 66-69). The default,
  //! 100 (shared memory the most, L1 the least): it never made a measured graph slower (the bench
  //! suite's 11 traced models 0.99-1.01x, stages4x128 0.69x; the real GoogLeNet and Inception-v3
  //! kernels 0.91-0.99x, best plans 0.96-0.99x). Kernels that rely on L1 may lose by it: set -1
  //! for them, or let autotune race both. A hint: the driver still raises it for a kernel that
  //! needs more. Graph policies only; eager ignores it. Checked before capture: outside [-1, 100]
  //! throws bad_policy.
  int shared_carveout = 100;
  //! Launch segments: how many CUDA graphs, at most, one replay is split into, launched one after
  //! the other on the caller's stream; 1 builds one graph. The host's cudaGraphLaunch call costs
  //! about 0.2 us per node and the GPU starts a graph only near the call's end, so a single
  //! inference of a large graph waits for the whole call; split, the GPU runs the first segment
  //! while the host enqueues the rest (plan/segments.hpp). Cuts are made only where they add no
  //! dependency (every operator before a cut precedes every one after it) and the graph is at most
  //! 4 operators wide, so a plan without such places stays whole. Each cut costs the GPU the start
  //! of another graph, which back-to-back replays pay without the gain. The default, 2: on the
  //! bench suite's 11 traced models a single inference took 0.75-0.99x the time of one graph and
  //! queued replays 1.00-1.02x; 4 segments gained a little more alone on some (DenseNet-121 515
  //! against 530 us, EfficientNet-B0 231 against 247), none on others (GoogLeNet 127 against 126),
  //! and cost more queued (GoogLeNet 125 against 114 us). Set 1 for throughput, or to embed
  //! native_exec() in a graph of your own: with more than one segment native_exec() is null
  //! (native_exec(k) gives each). Graph policies only; eager ignores it. Checked before capture:
  //! outside [1, 64] throws bad_policy.
  int launch_segments = 2;
  //! How much larger each launch segment is than the one before (segment_cuts' growth; with 2
  //! segments and growth 3, the first holds a quarter of the operators): large enough that the
  //! host enqueues a segment while the GPU runs the ones before it, no larger, so that the first is
  //! small. Checked before capture: below 1, above 1000 or not finite throws bad_policy.
  double segment_growth = 3.0;
};

//! What a capture is told apart by: the capture policy's label ("stream_capture",
//! "explicit_graph(dag)") and every option that changes the graph it builds. Left out, because
//! they change how the capture is checked or traced, not what it builds: options::nvtx,
//! ::require_work and ::mode. A new field of options goes into the key or into that list
//! (tests/capture_key.cpp fails until it does).
struct key {
  std::string policy;
  bool programmatic = true;
  programmatic_scope programmatic_edges = programmatic_scope::stream_order;
  bool priorities = false;
  double priority_slack = 0.05;
  std::vector<double> priority_costs;
  int shared_carveout = 100;
  int launch_segments = 2;
  double segment_growth = 3.0;

  friend bool operator==(const key&, const key&) = default;
  friend auto operator<=>(const key&, const key&) = default;
};

//! The key of a capture by policy `policy` (its label) with options `o`.
[[nodiscard]] inline key make_key(std::string policy, const options& o) {
  return key{std::move(policy), o.programmatic,   o.programmatic_edges, o.priorities,     o.priority_slack,
             o.priority_costs,  o.shared_carveout, o.launch_segments,   o.segment_growth};
}

//! The key as a label: the policy's label, then what differs from the default options:
//! "+no_pdl", "+pdl_all", "+priorities" (with "+slack<fraction>" for another priority_slack and
//! "+costs<count>" for given costs), "+carveout<percent>" ("+own_carveout" for -1),
//! "+segments<count>" (and "g<growth>" for another segment_growth). What scheduler::label()
//! ends with.
[[nodiscard]] inline std::string to_string(const key& k) {
  const key defaults;
  const auto number = [](const char* format, double value) {
    char text[48];
    std::snprintf(text, sizeof text, format, value);
    return std::string(text);
  };
  std::string label = k.policy;
  if (!k.programmatic) label += "+no_pdl";
  if (k.programmatic && k.programmatic_edges == programmatic_scope::all) label += "+pdl_all";
  if (k.priorities) label += "+priorities";
  if (k.priority_slack != defaults.priority_slack) label += number("+slack%g", k.priority_slack);
  if (!k.priority_costs.empty()) {
    label += "+costs";
    label += std::to_string(k.priority_costs.size());
  }
  if (k.shared_carveout != defaults.shared_carveout) {
    if (k.shared_carveout < 0) {
      label += "+own_carveout";
    } else {
      label += "+carveout";
      label += std::to_string(k.shared_carveout);
    }
  }
  if (k.launch_segments != defaults.launch_segments || k.segment_growth != defaults.segment_growth) {
    label += "+segments";
    label += std::to_string(k.launch_segments);
    if (k.segment_growth != defaults.segment_growth) label += number("g%g", k.segment_growth);
  }
  return label;
}

inline std::ostream& operator<<(std::ostream& out, const key& k) { return out << to_string(k); }

} // namespace opara::capture

namespace opara {
using capture_options [[deprecated("use opara::capture::options")]] = capture::options;
using capture_mode [[deprecated("use opara::capture::capture_mode")]] = capture::capture_mode;
using programmatic_scope [[deprecated("use opara::capture::programmatic_scope")]] = capture::programmatic_scope;
} // namespace opara
