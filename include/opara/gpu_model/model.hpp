#pragma once
//! A model of how a GPU runs a plan: predicts a plan's makespan from a profile, so that policies
//! and autotune can rank plans without running them. Pure C++20, no CUDA.
//!
//! What it models (an event-driven simulation at the granularity of batches of thread blocks):
//! - Every kernel of every operator is a node of the executed graph. Kernels of one operator run
//!   one after another; an operator starts after its producers and after the operator launched
//!   before it on its stream (streams are FIFOs: stream order is a dependency in a CUDA graph).
//! - A dependent kernel's first block starts gpu_model::dependency_us after the last of the
//!   kernels it depends on ends (measured: 0.3-0.6 us beyond the profiled durations),
//!   or stream_dependency_us after the end of the operator launched just before it on its stream
//!   when PDL makes that edge programmatic (measured: 0.05 us).
//! - The front end hands kernels to the GPU one at a time, in launch order: kernel i of the launch
//!   sequence cannot start before i * launch_us plus wait_us per cross-stream dependency of the
//!   operators launched before it (a fan-out of 64 small kernels took 42-57 us against a 15 us
//!   critical path; graphs of 500-1,000 small kernels, 0.5-1.2 us per kernel).
//! - The SMs are a pool of block slots. A kernel holds 1/r of an SM per resident block, r its
//!   blocks per SM (from its theoretical occupancy, or from its threads, shared memory and
//!   registers against the device limits when the occupancy is unknown). A kernel of B blocks whose
//!   profiled duration is d ran alone in ceil(B / (r x SMs)) waves, so each block takes d / waves.
//!   A kernel of more than detail::max_waves waves is simulated as max_waves full waves of longer
//!   blocks (its blocks grouped): exact when it runs alone, coarser when it shares the SMs.
//! - A kernel starts its blocks in at most detail::max_batches (256) batches: while fewer than
//!   1/256 of its blocks (rounded up) fit in the free slots, it waits and lets later kernels pass,
//!   as when one block does not fit. Kernels of at most 256 blocks are unaffected. Without it,
//!   slots freed piecemeal by kernels of different block sizes split batches of huge grids again
//!   and again, without bound. With both bounds a simulation costs O(K log K) for K kernels,
//!   whatever numbers the profile names.
//! - Large graphs get fewer batches per kernel: a simulation of K kernels starts each kernel's
//!   blocks in at most clamp(detail::batch_budget / K, 1, 256) batches (2^19 / K: 256 up to 2,048
//!   kernels, 5 at 100,000, 1 from 524,289 on), and groups a kernel into at most that many waves
//!   when it is below 16. Slots freed piecemeal split a kernel's blocks into ever smaller batches
//!   (30-35 per kernel on the planning benchmark's random 100,000-operator graphs), each an event;
//!   with this bound a simulation handles at most about 2^19 + 2K batches, so its cost stays
//!   O((2^19 + K) log K) whatever the graph's width and the profile's numbers. Graphs of up to
//!   2,048 kernels (every model measured on a GPU so far) are simulated as before; above that, a
//!   kernel waits for a larger share of its blocks to fit before it starts, which delays
//!   kernels that squeezed into leftover slots (docs/gpu_model.md).
//! - Durations above detail::max_duration_us (10^30 us, far beyond any run) are taken as that, so
//!   that sums over a whole graph stay finite.
//! - Blocks are dispatched whenever slots are free, from the eligible kernels in the order they
//!   became eligible; a kernel whose next block does not fit lets later kernels' blocks pass
//!   (the block scheduler fills free slots), and a running block is never preempted.
//! What it leaves out: slow-down from sharing an SM, memory bandwidth or L2, fragmentation of one
//! resource across SMs, limits on hardware queues. Operators without kernel records (event-timed
//! profiles) and kernels whose resources are unknown run for their duration without holding slots.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/validate.hpp>
#include <opara/profile/bounds.hpp>
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <queue>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace opara {

//! The GPU's fixed costs that a profile does not record (microseconds).
//! Defaults fitted with bench_suite (2026-11-26): a chain of 430 mixed kernels paid 0.6 us
//! per dependency beyond its profiled durations, and graphs of 500-1,000 small kernels ran at
//! 0.5-1.2 us per kernel. With them the model predicted the traced models' plans within 0.88-1.13x
//! of their measured times, the wide graphs' within 0.80-1.84x (it does not know why resource-aware
//! launch orders ran faster there).
struct gpu_model {
  double launch_us = 0.8;      //!< front-end time per kernel, serial in launch order
  double dependency_us = 0.6;  //!< from a producer's end to the first block of a dependent kernel
  double submit_us = 0;        //!< fixed cost of launching the whole graph, added to the makespan
  //! From the end of the operator launched just before on the same stream to the first block of
  //! the next one when that edge is programmatic (PDL along stream order,
  //! capture::options::programmatic_edges: the next operator is already launched and waits on the
  //! device). Negative (the default): such an edge costs dependency_us like any other, as without
  //! PDL.
  double stream_dependency_us = -1;
  //! Front-end time each dependency between two streams adds to the launch sequence, serial like
  //! launch_us (a fan-out to many streams costs more than the same kernels on fewer streams).
  double wait_us = 0;

  //! What an edge along a stream costs: stream_dependency_us, or dependency_us when negative.
  [[nodiscard]] double stream_latency_us() const noexcept {
    return stream_dependency_us < 0 ? dependency_us : stream_dependency_us;
  }
};

//! What the model predicts for a plan.
struct simulation {
  double makespan_us = 0;          //!< last operator's end plus gpu_model::submit_us
  std::vector<double> start_us;    //!< per node id: when its first block starts
  std::vector<double> finish_us;   //!< per node id: when its last block ends
};

namespace detail {

//! One kernel as the model sees it.
struct model_kernel {
  double duration_us = 0;
  double block_us = 0;             //!< one block's time: duration / waves alone
  std::uint64_t blocks = 1;
  std::int64_t units = 0;          //!< slot units one block holds (0: holds none)
};

//! Every operator's kernels, flattened: node v's are kernels[first[v] .. first[v+1]).
struct model_kernels {
  std::vector<model_kernel> kernels;
  std::vector<std::uint32_t> first;
  std::int64_t capacity = 0;       //!< slot units of the whole GPU
  std::int64_t min_units = 0;      //!< smallest non-zero units of any kernel (0: none)
  std::uint64_t batches = 256;     //!< the most batches one kernel starts its blocks in (batches_for)
};

//! Units of a whole SM: lcm(1..32), so that 1/r of an SM is exact for every r <= 32 blocks per SM.
inline constexpr std::int64_t sm_units = 144403552893600;

//! The most waves the model simulates one kernel in (see the header comment): bounds the batches
//! of blocks, and so the events, per kernel whatever the grid.
inline constexpr double max_waves = 16;

//! The most batches the model starts one kernel's blocks in (see the header comment).
inline constexpr std::uint64_t max_batches = 256;

//! Batches a whole simulation may start in, shared by its kernels (see the header comment).
inline constexpr std::uint64_t batch_budget = std::uint64_t{1} << 19;

//! The most batches each of `kernels` kernels starts its blocks in: clamp(batch_budget / kernels,
//! 1, max_batches).
[[nodiscard]] inline std::uint64_t batches_for(std::size_t kernels) noexcept {
  return std::clamp<std::uint64_t>(batch_budget / std::max<std::size_t>(kernels, 1), 1, max_batches);
}

//! The longest kernel or operator the model counts (us): larger durations are taken as this one,
//! so that a graph's sums stay finite for any number of operators up to 10^270.
inline constexpr double max_duration_us = 1e30;

//! SMs the model counts: more than any GPU has, few enough that slot units never overflow.
inline constexpr std::uint32_t max_sm_count = 60000;

//! Resident blocks per SM from the kernel's resources against the device limits (0 when nothing
//! is known); the occupancy the profiler reports wins when it is known.
inline std::uint32_t model_blocks_per_sm(const kernel_record& k, const device_limits& l) {
  if (const std::uint32_t r = resident_blocks_per_sm(k, l); r > 0) return r;
  const std::uint64_t threads = k.threads_per_block();
  std::uint64_t r = l.max_blocks_per_sm != 0 ? l.max_blocks_per_sm : std::uint64_t(-1);
  bool known = l.max_blocks_per_sm != 0;
  if (l.max_threads_per_sm != 0 && threads != 0) {
    const std::uint64_t warps = threads / 32 + (threads % 32 != 0);
    r = std::min<std::uint64_t>(r, l.max_threads_per_sm / 32 / warps);
    known = true;
  }
  if (l.shared_bytes_per_sm != 0 && k.shared_bytes() != 0) {
    r = std::min<std::uint64_t>(r, l.shared_bytes_per_sm / k.shared_bytes());
    known = true;
  }
  if (l.registers_per_sm != 0 && k.registers_per_thread != 0 && threads != 0) {
    const double per_block = static_cast<double>(k.registers_per_thread) * static_cast<double>(threads);
    r = std::min<std::uint64_t>(r, static_cast<std::uint64_t>(l.registers_per_sm / per_block));
    known = true;
  }
  if (!known) return 0;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(r, 1u << 20)));
}

//! `who` names what the user called, as the message's start: "opara::simulate", or a policy
//! ("opara: stream policy 'model_guided'").
inline void check_duration(double us, std::size_t v, std::size_t kernel, const char* who) {
  if (!std::isfinite(us) || us < 0) {
    std::string what = who;
    what += ": ";
    if (kernel != std::size_t(-1)) {
      what += "kernel ";
      what += std::to_string(kernel);
      what += " of ";
    }
    what += "operator ";
    what += std::to_string(v);
    what += " has duration_us ";
    what += std::to_string(us);
    what += " (durations must be finite and non-negative); measure that operator again or correct its record";
    throw error(what);
  }
}

//! A model of profile `p`'s device for `kernels` kernels in all, holding no kernels yet: the
//! capacity and the batch bound (batches_for) that flatten_operator appends under.
inline model_kernels model_of_device(const profile& p, std::size_t kernels) {
  model_kernels m;
  const std::uint32_t sms = std::min(p.limits.sm_count, max_sm_count);
  m.capacity = sm_units * static_cast<std::int64_t>(sms);
  m.batches = batches_for(kernels);
  return m;
}

//! The kernels the model counts for a profile: one per kernel record, one for an event-timed
//! operator (no kernel records).
inline std::size_t model_kernel_count(const profile& p) noexcept {
  std::size_t count = 0;
  for (const auto& op : p.ops) count += std::max<std::size_t>(1, op.kernels.size());
  return count;
}

//! Appends operator v of `p` to `m` (its start in m.first, then its kernels), as flatten_profile
//! does for every operator. Throws opara::error naming the operator (and kernel) when a duration is
//! negative or not finite.
inline void flatten_operator(model_kernels& m, const profile& p, std::size_t v, const char* who) {
  const device_limits& l = p.limits;
  const double waves_bound = std::min(max_waves, static_cast<double>(m.batches));
  m.first.push_back(static_cast<std::uint32_t>(m.kernels.size()));
  const auto& op = p.ops[v];
  if (op.kernels.empty()) {  // event-timed: the operator's time, no slots
    check_duration(op.duration_us, v, std::size_t(-1), who);
    const double us = std::min(op.duration_us, max_duration_us);
    m.kernels.push_back({us, us, 1, 0});
    return;
  }
  for (std::size_t i = 0; i < op.kernels.size(); ++i) {
    const kernel_record& k = op.kernels[i];
    check_duration(k.duration_us, v, i, who);
    const double us = std::min(k.duration_us, max_duration_us);
    model_kernel mk{us, us, std::max<std::uint64_t>(1, k.blocks()), 0};
    const std::uint32_t r = m.capacity == 0 ? 0 : model_blocks_per_sm(k, l);
    if (r > 0) {
      mk.units = (sm_units + r - 1) / r;
      // Slots as the simulation counts them (whole blocks of `units` in the capacity).
      const auto slots = static_cast<std::uint64_t>(m.capacity / mk.units);
      double waves = std::ceil(static_cast<double>(mk.blocks) / static_cast<double>(slots));
      if (waves > waves_bound) {  // group blocks: waves_bound full waves
        waves = waves_bound;
        mk.blocks = slots * static_cast<std::uint64_t>(waves_bound);
      }
      mk.block_us = us / waves;
      m.min_units = m.min_units == 0 ? mk.units : std::min(m.min_units, mk.units);
    }
    m.kernels.push_back(mk);
  }
}

//! The model's view of profile `p`. Throws opara::error naming the operator (and kernel) when a
//! duration is negative or not finite.
inline model_kernels flatten_profile(const profile& p, const char* who) {
  const std::size_t count = model_kernel_count(p);
  model_kernels m = model_of_device(p, count);
  m.first.reserve(p.ops.size() + 1);
  m.kernels.reserve(count);
  for (std::size_t v = 0; v < p.ops.size(); ++v) flatten_operator(m, p, v, who);
  m.first.push_back(static_cast<std::uint32_t>(m.kernels.size()));
  return m;
}

//! The eligible kernels' smallest next batches (slot units) by eligibility position, as a min-tree
//! of fan-out 8: a node's children are one cache line of 8 values. first_fit finds the first
//! position at or after `from` whose value is at most `units` in about log8(K) levels; a binary
//! tree took log2(K) dependent reads, a fifth of a 10^5-kernel simulation. Same answers as any
//! first-fit search.
class first_fit_tree {
public:
  static constexpr std::int64_t vacant = std::numeric_limits<std::int64_t>::max();
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  //! Positions 0 .. n-1, all vacant.
  void reset(std::size_t n) {
    level_.clear();
    std::size_t total = 0, count = std::max<std::size_t>(n, 1);
    for (;;) {
      level_.push_back(total);
      total += (count + fan - 1) / fan * fan;
      if (count == 1) break;
      count = (count + fan - 1) / fan;
    }
    level_.push_back(total);
    values_.assign(total, vacant);
  }

  [[nodiscard]] std::int64_t at(std::uint32_t pos) const noexcept { return values_[pos]; }

  void set(std::uint32_t pos, std::int64_t value) {
    std::size_t i = pos;
    values_[i] = value;
    for (std::size_t l = 0; l + 2 < level_.size(); ++l) {
      const std::int64_t* group = values_.data() + level_[l] + i / fan * fan;
      std::int64_t least = group[0];
      for (std::size_t c = 1; c < fan; ++c) least = std::min(least, group[c]);
      i /= fan;
      std::int64_t& parent = values_[level_[l + 1] + i];
      if (parent == least) break;  // the levels above do not change either
      parent = least;
    }
  }

  //! The first position at or after `from` whose value is at most `units`, or `none`.
  [[nodiscard]] std::uint32_t first_fit(std::uint32_t from, std::int64_t units) const noexcept {
    const std::size_t top = level_.size() - 2;
    if (values_[level_[top]] > units) return none;
    std::size_t l = 0, i = from;
    for (;;) {  // climb: the rest of i's group, then the groups after it one level up
      if (i >= level_[l + 1] - level_[l]) return none;
      const std::int64_t* v = values_.data() + level_[l];
      const std::size_t end = (i / fan + 1) * fan;
      for (; i < end; ++i)
        if (v[i] <= units) {
          while (l > 0) {  // descend: the first child within `units`, which the parent promises
            --l;
            i *= fan;
            while (values_[level_[l] + i] > units) ++i;
          }
          return static_cast<std::uint32_t>(i);
        }
      if (l == top) return none;
      ++l;
      i = end / fan;
    }
  }

private:
  static constexpr std::size_t fan = 8;
  std::vector<std::int64_t> values_;  // every level, leaves first, each a whole number of groups
  std::vector<std::size_t> level_;    // level l is values_[level_[l] .. level_[l + 1])
};

//! The simulation's working memory, kept between simulations of one graph (the model-guided
//! planner simulates many placements): reusing it saves reallocating and faulting in a dozen
//! arrays per call.
struct simulation_workspace {
  //! What the simulation keeps per operator, in one place: one cache miss per operator visited,
  //! not one per array (node ids follow no order; on large graphs the misses were its cost).
  //! What a finished producer updates comes first (ready, stream_prev, waiting, then seq and front
  //! for the kernel it may make eligible): its first 20 bytes lie in one cache line for 6 of 8
  //! records, where the same fields spread over bytes 8-44 straddled two lines for 4 of 8.
  struct node_state {
    double ready = 0;                //!< latest end, plus its latency, among the dependencies finished so far
    std::uint32_t stream_prev = no_node;  //!< the operator before it on its stream
    std::uint32_t waiting = 0;       //!< unfinished dependencies
    std::uint32_t seq = 0;           //!< front-end index of its first kernel
    std::uint32_t stream_only = 0;   //!< 1: the operator before it on its stream is not a producer
    double front = 0;                //!< front-end time of its first kernel
    double start = -1;               //!< when its first block starts (-1: not yet)
    double finish = 0;               //!< when its last block ends
    std::uint32_t stream_next = no_node;  //!< the operator after it on its stream
  };
  //! What the simulation keeps per kernel, in one place (see node_state).
  struct kernel_state {
    double block_us = 0;
    std::uint64_t blocks = 0, left = 0, done = 0;
    std::int64_t units = 0;
    std::uint64_t least = 0;  //!< its smallest batch: min(1/batches of its blocks, one wave)
    node_id owner = 0;
    std::uint16_t first = 0;  //!< 1: its operator's first kernel
    std::uint16_t last = 0;   //!< 1: its operator's last kernel
  };
  std::vector<node_state> nodes;      //!< by launch position
  std::vector<kernel_state> kernels;  //!< by front-end index
  std::vector<std::uint32_t> position, succ_begin, succ;  //!< launch positions; successors by position
  std::vector<std::uint32_t> last_on_stream;
  std::vector<std::uint32_t> kernel_at, slotless;
  first_fit_tree fit;
  //! A batch of blocks ending (kind 0, ordered first) or a kernel becoming eligible (kind 1).
  struct event {
    double t;
    //! kind 0: the kernel; kind 1: 2^32 + its front-end index, so that ties keep the launch order
    std::uint64_t key;
    std::uint64_t data;  //!< kind 0: the batch's blocks; kind 1: the kernel
    [[nodiscard]] bool after(const event& o) const noexcept { return t != o.t ? t > o.t : key > o.key; }
  };
  std::vector<event> events;
};

//! The simulation itself, for an order and streams already known to honour g's edges (a valid
//! plan): every dependency of a kernel comes earlier in the launch sequence. O((K + B) log K + e)
//! for K kernels and B <= max_batches x K dispatched batches. The eligible kernels are found
//! through a tree of their smallest next batch over eligibility order, so a dispatch pass costs
//! O(log K) per batch it starts, not a scan of every eligible kernel.
//! The simulation stops once its clock passes `stop_after_us`, with makespan_us = infinity (the
//! planner's way to drop a placement that can no longer win).
inline simulation simulate_unchecked(const graph& g, std::span<const node_id> order, std::span<const stream_id> stream_of,
                                     const model_kernels& m, const gpu_model& model,
                                     double stop_after_us = std::numeric_limits<double>::infinity(),
                                     simulation_workspace* workspace = nullptr, bool with_times = true) {
  const std::size_t n = g.num_nodes();
  const std::size_t nk = m.kernels.size();
  simulation out;
  simulation_workspace local;
  simulation_workspace& w = workspace != nullptr ? *workspace : local;

  // Operators are numbered by launch position and kernels by front-end index here, so that the
  // simulation, which meets them roughly in launch order, reads its state nearly in sequence
  // whatever the graph's ids (on 10^6 shuffled ids, per-id state cost a cache miss per visit).
  // Per operator: the operator launched next on the same stream, and its count of unfinished
  // dependencies (producers, plus the previous operator on its stream unless it is a producer).
  auto& position = w.position;
  position.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) position[order[i]] = i;
  auto& nodes = w.nodes;
  auto& kernels = w.kernels;  // blocks not yet dispatched (left) / finished (done), and the kernel
  auto& succ_begin = w.succ_begin;
  auto& succ = w.succ;
  auto& last_on_stream = w.last_on_stream;
  nodes.assign(n, {});
  kernels.resize(nk);
  succ_begin.resize(n + 1);
  succ.clear();
  succ.reserve(g.num_edges());
  last_on_stream.clear();
  // Blocks of a kernel's smallest batch: 1/m.batches of the kernel's, but never more than fit in
  // the whole GPU (one wave; with at most m.batches waves that bound never binds).
  const std::uint64_t batches = std::max<std::uint64_t>(m.batches, 1);
  std::uint32_t kernel_index = 0;
  double front_us = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const node_id v = order[i];
    const stream_id s = stream_of[v];
    const auto preds = g.predecessors(v);
    if (model.wait_us != 0)  // adding 0 changes nothing: skip reading the producers' streams
      for (node_id u : preds) front_us += stream_of[u] != s ? model.wait_us : 0.0;
    auto& nv = nodes[i];
    nv.seq = kernel_index;
    nv.front = front_us;
    const std::uint32_t count = m.first[v + 1] - m.first[v];
    for (std::uint32_t j = 0; j < count; ++j) {
      const model_kernel& mk = m.kernels[m.first[v] + j];
      const std::uint64_t least =
          mk.units == 0 ? 0 : std::min((mk.blocks + batches - 1) / batches, static_cast<std::uint64_t>(m.capacity / mk.units));
      kernels[kernel_index + j] = {mk.block_us, mk.blocks, mk.blocks, 0, mk.units, least, i,
                                   j == 0 ? std::uint16_t{1} : std::uint16_t{0},
                                   j + 1 == count ? std::uint16_t{1} : std::uint16_t{0}};
    }
    kernel_index += count;
    front_us += model.launch_us * count;
    if (s >= last_on_stream.size()) last_on_stream.resize(s + 1, no_node);
    nv.waiting = static_cast<std::uint32_t>(preds.size());
    if (const std::uint32_t p = last_on_stream[s]; p != no_node) {
      nodes[p].stream_next = i;
      nv.stream_prev = p;
      if (std::find(preds.begin(), preds.end(), order[p]) == preds.end()) {
        ++nv.waiting;
        nv.stream_only = 1;
      }
    }
    last_on_stream[s] = i;
    succ_begin[i] = static_cast<std::uint32_t>(succ.size());
    for (node_id x : g.successors(v)) succ.push_back(position[x]);
  }
  succ_begin[n] = static_cast<std::uint32_t>(succ.size());
  const double along_stream_us = model.stream_latency_us();

  using event = simulation_workspace::event;
  auto& events = w.events;  // a min-heap by (time, kind, front-end index, kernel)
  events.clear();
  const auto later = [](const event& a, const event& b) { return a.after(b); };
  auto push = [&](const event& e) {
    events.push_back(e);
    std::push_heap(events.begin(), events.end(), later);
  };
  auto eligible_at = [&](std::uint32_t k, double t) {
    const auto& nv = nodes[kernels[k].owner];
    push({std::max(t, nv.front + (k - nv.seq) * model.launch_us), (std::uint64_t{1} << 32) + k, k});
  };
  // The front end hands operators over in launch order: a cursor through the positions stands for
  // their launches, so that an operator ready before its launch waits there, not in the heap.
  std::uint32_t next_launch = 0;
  auto node_ready = [&](std::uint32_t i) {  // at its last dependency's end: eligible at launch or after
    if (i < next_launch) eligible_at(nodes[i].seq, nodes[i].ready);
  };

  // Eligible kernels with blocks left that hold slots, by eligibility position: a min-tree of the
  // units each one's smallest next batch needs (`vacant` where no such kernel), so a dispatch pass
  // finds the first kernel that fits the free units in O(log K), whatever waits in front of it
  // that does not fit. Kernels that hold no slots always fit: they wait in `slotless` for the
  // next pass.
  constexpr std::int64_t vacant = first_fit_tree::vacant;
  constexpr std::uint32_t none = first_fit_tree::none;
  auto& fit = w.fit;
  fit.reset(nk);
  auto& kernel_at = w.kernel_at;
  auto& slotless = w.slotless;
  kernel_at.resize(nk);
  slotless.clear();
  std::uint32_t positions = 0, first_active = 0;  // positions below first_active are vacant
  auto set_leaf = [&](std::uint32_t pos, std::int64_t units) { fit.set(pos, units); };
  auto first_fit = [&](std::uint32_t from, std::int64_t units) -> std::uint32_t {  // position >= from
    return from >= positions ? none : fit.first_fit(from, units);
  };
  std::int64_t free_units = m.capacity;
  double now = 0;
  auto finish_node = [&](std::uint32_t i, double t) {
    nodes[i].finish = t;
    out.makespan_us = std::max(out.makespan_us, t);
    auto release = [&](std::uint32_t x) {
      auto& nx = nodes[x];
      nx.ready = std::max(nx.ready, t + (nx.stream_prev == i ? along_stream_us : model.dependency_us));
      if (--nx.waiting == 0) node_ready(x);
    };
    for (std::uint32_t e = succ_begin[i]; e < succ_begin[i + 1]; ++e) release(succ[e]);
    if (const std::uint32_t x = nodes[i].stream_next; x != no_node && nodes[x].stream_only != 0) release(x);
  };
  auto kernel_done = [&](std::uint32_t k, double t) {
    if (kernels[k].last == 0) eligible_at(k + 1, t + model.dependency_us);
    else finish_node(kernels[k].owner, t);
  };
  auto dispatch = [&](std::uint32_t k, std::uint64_t take) {
    auto& ks = kernels[k];
    if (ks.first != 0 && ks.left == ks.blocks) nodes[ks.owner].start = now;  // the operator's first block
    ks.left -= take;
    push({now + ks.block_us, k, take});
  };

  auto need = [&](std::uint32_t k) {  // units of k's smallest next batch
    const auto& ks = kernels[k];
    return ks.units * static_cast<std::int64_t>(std::min(ks.left, ks.least));
  };
  auto become_eligible = [&](std::uint32_t k) {
    if (kernels[k].units == 0) {
      slotless.push_back(k);
    } else {
      kernel_at[positions] = k;
      set_leaf(positions++, need(k));
    }
  };
  // The next event: the heap's first, or the next launch when that comes first (as an event it
  // would be "operator v's first kernel eligible at its launch time").
  auto launch_event = [&]() -> event {
    const auto& nv = nodes[next_launch];
    return {nv.front, (std::uint64_t{1} << 32) + nv.seq, nv.seq};
  };
  auto launch_first = [&] { return next_launch < n && (events.empty() || events.front().after(launch_event())); };

  while (!events.empty() || next_launch < n) {
    now = launch_first() ? nodes[next_launch].front : events.front().t;
    if (now > stop_after_us) {
      out.makespan_us = std::numeric_limits<double>::infinity();
      break;
    }
    for (;;) {
      if (launch_first()) {
        if (nodes[next_launch].front != now) break;
        const auto& nv = nodes[next_launch++];
        if (nv.waiting == 0) {  // ready: eligible now, or when its latency has passed
          if (nv.ready <= now) become_eligible(nv.seq);
          else eligible_at(nv.seq, nv.ready);
        }
        continue;
      }
      if (events.empty() || events.front().t != now) break;
      const event e = events.front();
      std::pop_heap(events.begin(), events.end(), later);
      events.pop_back();
      if (e.key < (std::uint64_t{1} << 32)) {
        const auto k = static_cast<std::uint32_t>(e.key);
        auto& ks = kernels[k];
        free_units += ks.units * static_cast<std::int64_t>(e.data);
        if ((ks.done += e.data) == ks.blocks) kernel_done(k, e.t);
      } else {
        become_eligible(static_cast<std::uint32_t>(e.data));
      }
    }
    // Dispatch: fill free slots from the eligible kernels, oldest first; a kernel whose block
    // does not fit lets later ones pass. Kernels that hold no slots take all their blocks at once.
    for (std::uint32_t k : slotless) dispatch(k, kernels[k].left);
    slotless.clear();
    while (first_active < positions && fit.at(first_active) == vacant) ++first_active;
    for (std::uint32_t pos = first_active;;) {
      pos = first_fit(pos, free_units);
      if (pos == none) break;
      const std::uint32_t k = kernel_at[pos];
      auto& ks = kernels[k];
      const std::int64_t units = ks.units;
      const std::uint64_t take = std::min<std::uint64_t>(ks.left, static_cast<std::uint64_t>(free_units / units));
      free_units -= units * static_cast<std::int64_t>(take);
      dispatch(k, take);
      if (ks.left == 0) set_leaf(pos, vacant);
      else if (const std::int64_t next = need(k); next != fit.at(pos)) set_leaf(pos, next);
      ++pos;
    }
  }
  if (with_times) {
    out.start_us.resize(n);
    out.finish_us.resize(n);
  }
  for (std::uint32_t i = 0; with_times && i < n; ++i) {
    out.start_us[order[i]] = nodes[i].start;
    out.finish_us[order[i]] = nodes[i].finish;
  }
  out.makespan_us += model.submit_us;  // infinity when stopped
  return out;
}

//! The workspace simulate() and predicted_makespan_us reuse on this thread: a call on a graph of
//! the size of the last one allocates and faults in no memory (about 40 ms of a 100,000-kernel
//! simulation on the development machine). It keeps the largest graph's buffers (about 200
//! bytes per kernel plus 4 per edge) until the thread ends.
inline simulation_workspace& thread_workspace() {
  thread_local simulation_workspace w;
  return w;
}

//! simulate and predicted_makespan_us: checks, then the simulation on this thread's workspace;
//! `with_times`: fill start_us and finish_us.
inline simulation simulate_plan(const graph& g, const plan& p, const profile& prof, const gpu_model& model,
                                bool with_times) {
  if (prof.ops.size() != g.num_nodes())
    throw error("opara::simulate: the profile has " + std::to_string(prof.ops.size()) + " operator records, the graph has " +
                std::to_string(g.num_nodes()) + " nodes");
  for (double c : {model.launch_us, model.dependency_us, model.submit_us, model.wait_us, model.stream_latency_us()})
    if (!std::isfinite(c) || c < 0)
      throw bad_policy("opara::simulate: gpu_model costs must be finite and non-negative (got " + std::to_string(c) + ")");
  validate(p, g);
  return simulate_unchecked(g, p.order, p.stream_of, flatten_profile(prof, "opara::simulate"), model,
                            std::numeric_limits<double>::infinity(), &thread_workspace(), with_times);
}

} // namespace detail

//! Predicts how the GPU runs plan `p` of graph `g` under profile `prof` (see the header comment).
//! Throws opara::invalid_plan when `p` is not a valid plan for g (validate), opara::error when
//! prof does not hold one record per node or a duration is negative or not finite (naming the
//! operator), opara::bad_policy for negative or non-finite model costs.
//! Reuses a per-thread working memory between calls (detail::thread_workspace).
[[nodiscard]] inline simulation simulate(const graph& g, const plan& p, const profile& prof, const gpu_model& model = {}) {
  return detail::simulate_plan(g, p, prof, model, true);
}

//! The makespan simulate predicts for plan `p`, in microseconds: a cost to rank candidate plans
//! by. Throws like simulate.
[[nodiscard]] inline double predicted_makespan_us(const graph& g, const plan& p, const profile& prof,
                                                  const gpu_model& model = {}) {
  return detail::simulate_plan(g, p, prof, model, false).makespan_us;
}

//! predicted_makespan_us for any operator_graph (converted with to_graph).
template <operator_graph G>
  requires(!std::same_as<G, graph>)
[[nodiscard]] double predicted_makespan_us(const G& g, const plan& p, const profile& prof, const gpu_model& model = {}) {
  return predicted_makespan_us(to_graph(g), p, prof, model);
}

} // namespace opara
