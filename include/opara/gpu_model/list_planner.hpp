#pragma once
//! Plans decided by the GPU model (gpu_model/model.hpp) instead of by the topology alone.
//!
//! Placement: operators are taken in launch order and each goes to the stream on which it can
//! start earliest, as estimated from profiled durations (list scheduling on at most `cap` streams):
//! the stream whose last operator is one of its producers when that costs nothing (no wait),
//! otherwise the stream that became free most recently among those free in time (best fit, so
//! the others stay free), and a new stream only when every stream in use would delay it. Then
//! the model decides whether capping parallelism pays: every cap of a ladder (1, 2, 3, 4, 6, 8,
//! ... and unlimited) is placed and simulated, and the largest cap whose predicted makespan is
//! within `tolerance` of the best wins. A cap is kept only where the model predicts that it
//! helps, e.g. when the SMs are full and extra streams would let non-critical kernels take the
//! slots that critical ones need; where the model sees no difference, the most parallel placement
//! wins, because every wide graph measured ran slower with 16-32 streams than with
//! one per branch (bench_suite, 2026-11-26: 446 against 250-333 us for 256 branches; with PDL along
//! stream order, 283-416 us at 16-32 streams and 240 us uncapped, though 213 us at 64, a cap the
//! model does not find: see the README's corpus results).
//! Launch order: the model also compares candidate orders (longest remaining path first, with
//! the per-dependency latency counted, and the graph's own program order) and keeps the better.
//! Cost: O((n + e) log c) per placement (c streams) and one simulation per cap and order: 20-50 ms for
//! a 2,000-operator graph on a 2-core development machine, 4-11 ms for the suite's graphs of
//! 500-1,000 operators on the GPU machine's CPU.
//! Large graphs: above detail::planner_window (2,048) operators the choices are made on a window,
//! so that the cost stays O((n + e) log n) plus a constant whatever the graph's size: the cap is the
//! one the rule above picks for the window of the first 2,048 operators of the launch order (as a
//! graph of their own: edges from outside the window are dropped), and the whole graph is then
//! placed once under that cap (the window's unlimited cap stays unlimited). The two orders are
//! compared on one window, the first 2,048 operators of the longest-path-first order, launched in
//! each order's sequence; the winner is placed with the cap of its own window, so that
//! streams::model_guided given that order makes the same placement. The window's simulations use
//! the whole graph's batch bound (model/gpu_model.hpp). best_placement and model_schedule then
//! simulate the chosen placement once for predicted_us; the policies, which return only streams
//! or an order, skip that simulation (docs/gpu_model.md). On the planning benchmark's 100,000-operator
//! graphs a plan with a model-guided policy, validated, takes 10-145 ms on a 2-core machine at load
//! average 3 (up to 170 ms under heavier contention), 0.5-2.7 s at 10^6 (up to 3.1 s; docs/gpu_model.md,
//! round 3).

#include <opara/analysis/critical_path.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/gpu_model/model.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/waits.hpp>  // detail::prefetch
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! What the model-guided planner tries and how it decides.
struct model_planner_options {
  gpu_model gpu{};  //!< the model's fixed costs
  //! Stream caps tried (ascending; unlimited is always tried too).
  std::vector<std::uint32_t> stream_caps{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
  double tolerance = 0.01;  //!< the largest cap within this fraction of the best prediction wins
};

//! A placement the model chose: streams, the cap that made them and the predicted makespan.
struct model_placement {
  stream_assignment streams;
  std::uint32_t cap = 0;       //!< stream cap the placement was made under (num_nodes: unlimited)
  double predicted_us = 0;     //!< the model's makespan for the placement
};

//! A whole model-guided schedule: launch order and placement.
struct model_schedule_result {
  std::vector<node_id> order;
  model_placement placement;
};

namespace detail {

//! Each operator's time as the planner estimates it: its kernels one after another, with the
//! dependency latency between them.
inline std::vector<double> model_operator_costs(const model_kernels& m, double dependency_us) {
  std::vector<double> cost(m.first.size() - 1, 0.0);
  for (std::size_t v = 0; v + 1 < m.first.size(); ++v) {
    for (std::uint32_t k = m.first[v]; k < m.first[v + 1]; ++k) cost[v] += m.kernels[k].duration_us;
    cost[v] += dependency_us * (m.first[v + 1] - m.first[v] - 1);
  }
  return cost;
}

//! model_operator_costs straight from profile `p`, without flattening it: the same sums of the same
//! clamped durations, after the same checks (opara::error naming the first operator, and kernel,
//! whose duration is negative or not finite, as flatten_profile names it).
inline std::vector<double> model_operator_costs(const profile& p, double dependency_us, const char* who) {
  std::vector<double> cost(p.ops.size(), 0.0);
  for (std::size_t v = 0; v < p.ops.size(); ++v) {
    const auto& op = p.ops[v];
    if (op.kernels.empty()) {  // event-timed: one kernel of the operator's time
      check_duration(op.duration_us, v, std::size_t(-1), who);
      cost[v] += std::min(op.duration_us, max_duration_us);
      cost[v] += dependency_us * 0u;
      continue;
    }
    for (std::size_t i = 0; i < op.kernels.size(); ++i) {
      check_duration(op.kernels[i].duration_us, v, i, who);
      cost[v] += std::min(op.kernels[i].duration_us, max_duration_us);
    }
    cost[v] += dependency_us * static_cast<std::uint32_t>(op.kernels.size() - 1);
  }
  return cost;
}

//! What the model-guided planner plans from: every operator's cost, and the model's kernels. For
//! a graph above planner_window operators that the policies plan (no whole-graph simulation),
//! `source` is the profile and `m` holds only the device (capacity and the whole profile's batch
//! bound): the windows, the only parts simulated, flatten their own operators from `source`
//! (window_of), exactly as flatten_profile would, so that the other 98% of a 10^5-operator
//! profile is read for its durations only. Otherwise `source` is null and `m` is the whole
//! flattened profile.
struct model_input {
  model_kernels m;
  std::vector<double> cost;
  const profile* source = nullptr;  //!< set: m has no kernels; windows flatten from this profile
  const char* who = "";             //!< names the caller in flatten's errors (none are left to throw)
};

//! Streams ordered by the time they become free, later times last and, among equal times, the
//! lower index last: what place_earliest_start searches. Entries sit in sorted blocks of at most
//! `block_size` with each block's last entry in an array of their own, so that a search is two
//! binary searches over contiguous memory and a move shifts at most one block, where a balanced
//! tree of tens of thousands of streams cost a cache miss per level (wide graphs open a stream per
//! branch). A position is a cursor (block, index in it).
class streams_by_time {
public:
  struct entry {
    double avail;          //!< when the stream becomes free
    std::uint32_t stream;  //!< its index
  };
  struct cursor {
    std::uint32_t block = 0, i = 0;
  };

  //! Adds stream `e.stream`, not in the set, free at `e.avail`.
  void insert(entry e) {
    if (blocks_.empty()) {
      blocks_.emplace_back().reserve(block_size + 1);
      last_.push_back(e);
    }
    std::size_t b = block_of(e);
    if (b == blocks_.size()) --b;  // after every entry: the last block takes it
    auto& block = blocks_[b];
    block.insert(std::lower_bound(block.begin(), block.end(), e, before), e);
    last_[b] = block.back();
    if (block.size() > block_size) split(b);
  }
  //! Moves stream `s`, free at `from`, to `to`.
  void move(std::uint32_t s, double from, double to) {
    const entry old{from, s};
    const std::size_t b = block_of(old);
    auto& block = blocks_[b];
    block.erase(std::lower_bound(block.begin(), block.end(), old, before));
    if (block.empty()) {
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
      last_.erase(last_.begin() + static_cast<std::ptrdiff_t>(b));
    } else {
      last_[b] = block.back();
    }
    insert({to, s});
  }

  //! The first entry (end() when empty).
  [[nodiscard]] cursor begin() const noexcept { return {}; }
  [[nodiscard]] bool is_end(cursor c) const noexcept { return c.block == blocks_.size(); }
  [[nodiscard]] const entry& operator[](cursor c) const { return blocks_[c.block][c.i]; }
  void next(cursor& c) const noexcept {
    if (++c.i == blocks_[c.block].size()) c = {c.block + 1, 0};
  }
  //! Steps back; false at the first entry.
  bool prev(cursor& c) const noexcept {
    if (c.i > 0) {
      --c.i;
      return true;
    }
    if (c.block == 0) return false;
    --c.block;
    c.i = static_cast<std::uint32_t>(blocks_[c.block].size() - 1);
    return true;
  }
  //! The first entry free after `t` (end() when none is).
  [[nodiscard]] cursor first_after(double t) const {
    const auto b = static_cast<std::uint32_t>(
        std::partition_point(last_.begin(), last_.end(), [&](const entry& x) { return x.avail <= t; }) - last_.begin());
    if (b == blocks_.size()) return {b, 0};
    const auto& block = blocks_[b];
    const auto i = std::partition_point(block.begin(), block.end(), [&](const entry& x) { return x.avail <= t; }) - block.begin();
    return {b, static_cast<std::uint32_t>(i)};
  }

private:
  static constexpr std::size_t block_size = 128;
  static bool before(const entry& a, const entry& b) noexcept {
    return a.avail < b.avail || (a.avail == b.avail && a.stream > b.stream);
  }
  // The first block whose last entry is not before e (blocks_.size() when e is after all).
  [[nodiscard]] std::size_t block_of(const entry& e) const {
    return static_cast<std::size_t>(std::lower_bound(last_.begin(), last_.end(), e, before) - last_.begin());
  }
  void split(std::size_t b) {
    auto& block = blocks_[b];
    std::vector<entry> upper;
    upper.reserve(block_size + 1);
    upper.assign(block.begin() + block_size / 2, block.end());
    block.resize(block_size / 2);
    last_[b] = block.back();
    const entry upper_last = upper.back();
    blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(b + 1), std::move(upper));
    last_.insert(last_.begin() + static_cast<std::ptrdiff_t>(b + 1), upper_last);
  }
  std::vector<std::vector<entry>> blocks_;  // in order; none empty
  std::vector<entry> last_;                 // each block's last entry
};

//! The placement rule of the header comment on at most `cap` streams (cap >= 1). A dependency
//! costs dependency_us, except the edge from the operator just before on the same stream, which
//! costs stream_dependency_us (PDL along stream order; gpu_model::stream_latency_us).
//! O((n + e) log c) for c streams: the streams are kept ordered by when they become free, so only
//! the streams that end with one of v's producers and one other stream (the one free latest
//! before v could start there, else the one free first) are candidates, not every stream.
inline stream_assignment place_earliest_start(const graph& g, std::span<const node_id> order, std::span<const double> cost,
                                              std::uint32_t cap, double dependency_us, double stream_dependency_us) {
  const std::size_t n = g.num_nodes();
  stream_assignment a;
  // Per operator in one place (one cache miss per producer visited, not three): its end, whether
  // it is a producer of the operator being placed (producer_of == that operator), its stream.
  struct placed {
    double finish = 0;
    node_id producer_of = no_node;
    std::uint32_t stream = 0;
  };
  std::vector<placed> op(n);
  std::vector<double> avail;
  std::vector<node_id> tail;
  avail.reserve(std::min<std::size_t>(cap, n));  // no copies as streams open (pages are touched as used)
  tail.reserve(std::min<std::size_t>(cap, n));
  // Streams by (avail, -index): the last entry at or below a time is the stream free latest by
  // then, the lowest index among equal times (the scan over every stream this replaces kept the
  // first of equals).
  streams_by_time by_avail;
  std::vector<std::uint32_t> producer_streams;
  constexpr double eps = 1e-9;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const node_id v = order[i];
    // The next operator's producers: their state comes in while this one is placed (node ids
    // follow no order, so each is a cache miss on large graphs).
    if (i + 1 < order.size())
      for (node_id u : g.predecessors(order[i + 1])) prefetch(&op[u]);
    // And the list of the producers after that, so that the loop above finds it in the cache.
    if (i + 2 < order.size()) prefetch(g.predecessors(order[i + 2]).data());
    // The latest producer's end plus latency, which producer that is, and the second latest.
    double ready = 0, second = 0;
    node_id latest = no_node;
    producer_streams.clear();
    for (node_id u : g.predecessors(v)) {
      op[u].producer_of = v;
      const double r = op[u].finish + dependency_us;
      if (latest == no_node || r > ready) {
        second = latest == no_node ? 0.0 : ready;
        ready = r;
        latest = u;
      } else {
        second = std::max(second, r);
      }
    }
    for (node_id u : g.predecessors(v))
      if (op[u].stream < tail.size() && tail[op[u].stream] == u) producer_streams.push_back(op[u].stream);
    std::uint32_t best = no_node;
    double best_start = std::numeric_limits<double>::infinity(), best_avail = 0;
    bool best_follows = false;  // best stream's last operator is a producer of v
    auto consider = [&](std::uint32_t s) {
      const bool follows = op[tail[s]].producer_of == v;
      // After the stream's last operator (an edge along the stream) and every other producer.
      const double start = std::max(tail[s] == latest ? second : ready, avail[s] + stream_dependency_us);
      const bool better = start < best_start - eps ||
                          (start <= best_start + eps &&
                           ((follows && !best_follows) || (follows == best_follows && avail[s] > best_avail) ||
                            (follows == best_follows && avail[s] == best_avail && s < best)));
      if (better) {
        best = s;
        best_start = start;
        best_avail = avail[s];
        best_follows = follows;
      }
    };
    // Streams that end with a producer of v.
    for (std::uint32_t s : producer_streams) consider(s);
    // Among the others, start = max(ready, avail + stream latency): the one free latest by the
    // time v is ready (ties within eps: the later one), else the one free first.
    // (Each walk below skips at most the producer streams.)
    auto first_other = by_avail.begin();
    while (!by_avail.is_end(first_other) && op[tail[by_avail[first_other].stream]].producer_of == v)
      by_avail.next(first_other);
    if (!by_avail.is_end(first_other)) {
      const double limit = std::max(ready - stream_dependency_us, by_avail[first_other].avail) + eps;
      auto it = by_avail.first_after(limit);
      while (by_avail.prev(it)) {
        const std::uint32_t s = by_avail[it].stream;
        if (op[tail[s]].producer_of == v) continue;  // considered above
        consider(s);
        break;
      }
    }
    const bool opened = (best == no_node || best_start > ready + eps) && tail.size() < cap;
    if (opened) {
      best = static_cast<std::uint32_t>(tail.size());
      best_start = ready;
      tail.push_back(v);
      avail.push_back(0);
    }
    op[v].stream = best;
    const double end = best_start + cost[v];
    op[v].finish = end;
    tail[best] = v;
    if (opened) by_avail.insert({end, best});
    else by_avail.move(best, avail[best], end);
    avail[best] = end;
  }
  a.stream_of.resize(n);
  for (std::size_t v = 0; v < n; ++v) a.stream_of[v] = op[v].stream;
  a.num_streams = static_cast<std::uint32_t>(tail.size());
  return a;
}

//! The shortest text that reads back as `x` (std::to_chars), so that options that differ print
//! differently.
inline std::string exact_number(double x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

//! The options of `o` that differ from the defaults, as "name=value" entries joined by ',' (empty
//! for the defaults): what the model-guided policies' labels add to their names. The caps are
//! listed as best_placement reads them (ascending, without repeats or zero).
inline std::string model_options_label(const model_planner_options& o) {
  const model_planner_options d{};
  std::string out;
  auto add = [&](const char* name, const std::string& value) {
    out += (out.empty() ? "" : ",") + std::string(name) + "=" + value;
  };
  auto number = [&](const char* name, double x, double dx) {
    if (x != dx || std::signbit(x) != std::signbit(dx)) add(name, exact_number(x));
  };
  number("launch_us", o.gpu.launch_us, d.gpu.launch_us);
  number("dependency_us", o.gpu.dependency_us, d.gpu.dependency_us);
  number("submit_us", o.gpu.submit_us, d.gpu.submit_us);
  number("stream_dependency_us", o.gpu.stream_dependency_us, d.gpu.stream_dependency_us);
  number("wait_us", o.gpu.wait_us, d.gpu.wait_us);
  auto caps = [](std::vector<std::uint32_t> c) {
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    c.erase(std::remove(c.begin(), c.end(), 0u), c.end());
    return c;
  };
  if (const auto c = caps(o.stream_caps); c != caps(d.stream_caps)) {
    std::string list;
    for (std::uint32_t x : c) list += (list.empty() ? "" : ",") + std::to_string(x);
    add("stream_caps", "{" + list + "}");
  }
  number("tolerance", o.tolerance, d.tolerance);
  return out;
}

inline void check_model_options(const model_planner_options& o, const char* who) {
  for (double c : {o.gpu.launch_us, o.gpu.dependency_us, o.gpu.submit_us, o.gpu.wait_us, o.gpu.stream_latency_us(), o.tolerance})
    if (!std::isfinite(c) || c < 0)
      throw bad_policy(std::string(who) + ": the model's costs and tolerance must be finite and non-negative (got " +
                       std::to_string(c) + "); set options.gpu's costs and options.tolerance to such values " +
                       "(options.gpu.stream_dependency_us may be negative: no PDL)");
}

//! best_placement on a flattened profile (no checks). Every cap is placed first (ascending, up to
//! the first that leaves streams unused: larger caps place the same way); then the placements are
//! simulated from the largest cap down, each stopped once it runs past (1 + tolerance) times the
//! best makespan so far, or `stop_above_us` (the same bound from a rival, e.g. another order):
//! such a placement can no longer be chosen, so the choice is the one every full simulation would
//! give. Returns predicted_us = infinity when every simulation was stopped.
inline model_placement best_placement_on(const graph& g, std::span<const node_id> order, const model_kernels& m,
                                         std::span<const double> cost, const model_planner_options& o,
                                         double stop_above_us = std::numeric_limits<double>::infinity(),
                                         simulation_workspace* workspace = nullptr) {
  const auto n = static_cast<std::uint32_t>(g.num_nodes());
  std::vector<std::uint32_t> caps;
  for (std::uint32_t c : o.stream_caps)
    if (c >= 1 && c < n) caps.push_back(c);
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  caps.push_back(n);
  std::vector<model_placement> tried;
  for (std::uint32_t c : caps) {
    tried.push_back({place_earliest_start(g, order, cost, c, o.gpu.dependency_us, o.gpu.stream_latency_us()), c, 0});
    if (tried.back().streams.num_streams < c) break;  // saturated: larger caps place the same way
  }
  simulation_workspace local;
  double best = std::numeric_limits<double>::infinity();
  for (auto it = tried.rbegin(); it != tried.rend(); ++it) {
    const double stop = std::min(best, stop_above_us) * (1 + o.tolerance);
    it->predicted_us =
        simulate_unchecked(g, order, it->streams.stream_of, m, o.gpu, stop, workspace != nullptr ? workspace : &local, false)
            .makespan_us;
    best = std::min(best, it->predicted_us);
  }
  for (auto it = tried.rbegin(); it != tried.rend(); ++it)
    if (it->predicted_us <= best * (1 + o.tolerance)) return std::move(*it);
  return std::move(tried.back());  // every simulation stopped: predicted_us is infinity
}

//! Operators above which the planner decides on a window of this many (see the header comment).
inline constexpr std::size_t planner_window = 2048;

//! A window of a graph: `nodes` (in launch order) as a graph of their own, local id = position.
struct model_window {
  graph g;
  model_kernels m;
  std::vector<double> cost;
  std::vector<node_id> order;  //!< 0, 1, 2, ...
};

//! The window of `nodes` (distinct nodes of g, in the order they launch): edges between them
//! that run forward in that order are kept, the rest dropped. O(W + edges into the window) with
//! `local` (g.num_nodes() entries of no_node, restored before it returns). The window's kernels
//! are in.m's, or flattened from in.source when set (the same kernels; model_input).
inline model_window window_of(const graph& g, std::span<const node_id> nodes, const model_input& in,
                              std::vector<node_id>& local) {
  const model_kernels& m = in.m;
  const std::span<const double> cost = in.cost;
  model_window w;
  const auto size = static_cast<node_id>(nodes.size());
  for (node_id i = 0; i < size; ++i) local[nodes[i]] = i;
  graph_builder b;
  b.add_nodes(size);
  w.m.capacity = m.capacity;
  w.m.min_units = in.source != nullptr ? 0 : m.min_units;  // the window's own when flattened here
  w.m.batches = m.batches;
  w.m.first.reserve(size + 1);
  w.cost.reserve(size);
  for (node_id i = 0; i < size; ++i) {
    const node_id v = nodes[i];
    for (node_id u : g.predecessors(v))
      if (local[u] != no_node && local[u] < i) b.add_edge(local[u], i);
    if (in.source != nullptr) {
      flatten_operator(w.m, *in.source, v, in.who);
    } else {
      w.m.first.push_back(static_cast<std::uint32_t>(w.m.kernels.size()));
      w.m.kernels.insert(w.m.kernels.end(), m.kernels.begin() + m.first[v], m.kernels.begin() + m.first[v + 1]);
    }
    w.cost.push_back(cost[v]);
  }
  w.m.first.push_back(static_cast<std::uint32_t>(w.m.kernels.size()));
  for (node_id v : nodes) local[v] = no_node;
  w.g = b.build();
  w.order.resize(size);
  for (node_id i = 0; i < size; ++i) w.order[i] = i;
  return w;
}

//! The cap best_placement_on picks for the window of the first planner_window operators of
//! `order`, as a cap for the whole graph (the window's unlimited cap: g.num_nodes()).
inline std::uint32_t window_cap(const graph& g, std::span<const node_id> order, const model_input& in,
                                const model_planner_options& o, std::vector<node_id>& local,
                                simulation_workspace* workspace) {
  const model_window w = window_of(g, order.first(std::min(order.size(), planner_window)), in, local);
  const model_placement pl = best_placement_on(w.g, w.order, w.m, w.cost, o, std::numeric_limits<double>::infinity(), workspace);
  return pl.cap >= w.g.num_nodes() ? static_cast<std::uint32_t>(g.num_nodes()) : pl.cap;
}

//! best_placement for any size: exact up to planner_window operators, through window_cap above
//! (see the header comment). `simulate_choice` false: predicted_us is left at 0 for large graphs
//! (the policies need only the streams).
//! `in` may be windowed (in.source set) only when !simulate_choice.
inline model_placement choose_placement(const graph& g, std::span<const node_id> order, const model_input& in,
                                        const model_planner_options& o, bool simulate_choice,
                                        simulation_workspace* workspace = nullptr) {
  const model_kernels& m = in.m;
  const std::span<const double> cost = in.cost;
  if (g.num_nodes() <= planner_window) return best_placement_on(g, order, m, cost, o, std::numeric_limits<double>::infinity(), workspace);
  std::vector<node_id> local(g.num_nodes(), no_node);
  model_placement pl;
  pl.cap = window_cap(g, order, in, o, local, workspace);
  pl.streams = place_earliest_start(g, order, cost, pl.cap, o.gpu.dependency_us, o.gpu.stream_latency_us());
  if (simulate_choice)
    pl.predicted_us = simulate_unchecked(g, order, pl.streams.stream_of, m, o.gpu, std::numeric_limits<double>::infinity(), workspace, false).makespan_us;
  return pl;
}

//! `who` names what the user called: a policy ("stream policy 'model_guided'") or a function
//! ("opara::best_placement").
inline void check_model_profile(const graph& g, const profile& p, const char* who) {
  if (p.ops.size() != g.num_nodes())
    throw bad_policy(std::string(who) + " needs one profile record per node: the profile has " +
                     std::to_string(p.ops.size()) + " operator records, the graph has " + std::to_string(g.num_nodes()) +
                     " nodes; pass a profile of this graph (one operator record per node, in node order)");
}

//! model_schedule on a flattened profile (no checks). `simulate_choice` false: for graphs above
//! the order). `in` may be windowed (in.source set) only when !simulate_choice.
inline model_schedule_result model_schedule_on(const graph& g, const model_input& in, const model_planner_options& o,
                                               bool simulate_choice) {
  const model_kernels& m = in.m;
  const std::span<const double> cost = in.cost;
  std::vector<double> edge_cost(cost.begin(), cost.end());
  for (double& c : edge_cost) c += o.gpu.dependency_us;  // each dependent step also waits this long
  // Longest remaining path first (ties: smaller id).
  std::vector<std::vector<node_id>> orders;
  orders.push_back(list_schedule(g, rank_queue(by_decreasing_key(bottom_levels(g, edge_cost)))));
  // Program order: smallest ready id first, the graph's own topological order.
  const auto topo = g.topological_order();
  orders.emplace_back(topo.begin(), topo.end());
  if (orders[1] == orders[0]) orders.pop_back();  // it would place and predict the same, and lose the tie
  model_schedule_result best;
  best.placement.predicted_us = std::numeric_limits<double>::infinity();
  simulation_workspace workspace;
  if (g.num_nodes() <= planner_window) {
    for (auto& ord : orders) {
      // A placement past the best order's makespan cannot make this order win (ties keep the first).
      model_placement pl = best_placement_on(g, ord, m, cost, o, best.placement.predicted_us, &workspace);
      if (pl.predicted_us < best.placement.predicted_us) {
        best.placement = std::move(pl);
        best.order = std::move(ord);
      }
    }
    return best;
  }
  // Large graphs: the orders compete on one window, the first planner_window operators of the
  // first order, launched in each order's sequence (see the header comment).
  std::vector<node_id> local(g.num_nodes(), no_node);
  std::vector<char> in_window(g.num_nodes(), 0);
  const std::span<const node_id> first(orders[0].data(), planner_window);
  for (node_id v : first) in_window[v] = 1;
  double best_us = std::numeric_limits<double>::infinity();
  std::size_t winner = 0;
  std::uint32_t winner_cap = 0;
  std::vector<node_id> nodes;
  for (std::size_t i = 0; i < orders.size(); ++i) {
    nodes.clear();
    for (node_id v : orders[i])
      if (in_window[v] != 0) nodes.push_back(v);
    const model_window w = window_of(g, nodes, in, local);
    const model_placement pl = best_placement_on(w.g, w.order, w.m, w.cost, o, best_us, &workspace);
    if (pl.predicted_us < best_us) {
      best_us = pl.predicted_us;
      winner = i;
      winner_cap = pl.cap >= w.g.num_nodes() ? static_cast<std::uint32_t>(g.num_nodes()) : pl.cap;
    }
  }
  best.order = std::move(orders[winner]);
  if (!simulate_choice) return best;  // the order policy: the streams policy places it
  // The winner's cap from its own window (the first order's window is the one just simulated).
  best.placement.cap = winner == 0 && winner_cap != 0 ? winner_cap : window_cap(g, best.order, in, o, local, &workspace);
  best.placement.streams =
      place_earliest_start(g, best.order, cost, best.placement.cap, o.gpu.dependency_us, o.gpu.stream_latency_us());
  best.placement.predicted_us = simulate_unchecked(g, best.order, best.placement.streams.stream_of, m, o.gpu,
                                                   std::numeric_limits<double>::infinity(), &workspace, false)
                                    .makespan_us;
  return best;
}

//! The checks, the flattened profile and the operators' costs, for `who` (see check_model_profile).
//! `windowed`: for a graph above planner_window operators, flatten only the windows (model_input;
//! for callers that simulate no whole-graph placement). Same errors either way: every duration is
//! checked.
inline model_input model_input_of(const graph& g, const profile& p, const model_planner_options& o, const char* who,
                                  bool windowed = false) {
  check_model_profile(g, p, who);
  check_model_options(o, who);
  model_input in;
  in.who = who;
  if (windowed && g.num_nodes() > planner_window) {
    in.cost = model_operator_costs(p, o.gpu.dependency_us, who);
    in.m = model_of_device(p, model_kernel_count(p));
    in.source = &p;
    return in;
  }
  in.m = flatten_profile(p, who);
  in.cost = model_operator_costs(in.m, o.gpu.dependency_us);
  return in;
}

} // namespace detail

//! The streams the model predicts to be fastest for launch order `order` (a topological order of
//! g) under profile `p` (see the header comment; above detail::planner_window operators the cap is
//! chosen on a window). Throws bad_policy when p does not hold one record per node or an option is
//! negative, opara::error when a duration is negative or not finite.
[[nodiscard]] inline model_placement best_placement(const graph& g, std::span<const node_id> order, const profile& p,
                                                    const model_planner_options& o = {}) {
  const auto in = detail::model_input_of(g, p, o, "opara::best_placement");
  return detail::choose_placement(g, order, in, o, true);
}

//! Launch order and streams together: each candidate order (longest remaining path first,
//! program order) with its best placement, the one the model predicts fastest (ties: the first;
//! above detail::planner_window operators, compared on a window). Throws like best_placement.
[[nodiscard]] inline model_schedule_result model_schedule(const graph& g, const profile& p,
                                                          const model_planner_options& o = {}) {
  const auto in = detail::model_input_of(g, p, o, "opara::model_schedule");
  return detail::model_schedule_on(g, in, o, true);
}

} // namespace opara
