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

#include <opara/analysis/critical_path.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/gpu_model/model.hpp>
#include <opara/plan/plan.hpp>
#include <opara/profile/profile.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
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
  a.stream_of.assign(n, 0);
  std::vector<double> finish(n, 0.0), avail;
  std::vector<node_id> tail, producer_of(n, no_node);  // producer_of[u] == v: u is a producer of v
  // Streams by (avail, -index): the last entry at or below a time is the stream free latest by
  // then, the lowest index among equal times (the scan over every stream this replaces kept the
  // first of equals).
  using key = std::pair<double, std::int64_t>;
  std::set<key> by_avail;
  auto index_of = [](const key& k) { return static_cast<std::uint32_t>(-k.second); };
  std::vector<std::uint32_t> producer_streams;
  constexpr double eps = 1e-9;
  for (node_id v : order) {
    // The latest producer's end plus latency, which producer that is, and the second latest.
    double ready = 0, second = 0;
    node_id latest = no_node;
    producer_streams.clear();
    for (node_id u : g.predecessors(v)) {
      producer_of[u] = v;
      const double r = finish[u] + dependency_us;
      if (latest == no_node || r > ready) {
        second = latest == no_node ? 0.0 : ready;
        ready = r;
        latest = u;
      } else {
        second = std::max(second, r);
      }
    }
    for (node_id u : g.predecessors(v))
      if (a.stream_of[u] < tail.size() && tail[a.stream_of[u]] == u) producer_streams.push_back(a.stream_of[u]);
    std::uint32_t best = no_node;
    double best_start = std::numeric_limits<double>::infinity(), best_avail = 0;
    bool best_follows = false;  // best stream's last operator is a producer of v
    auto consider = [&](std::uint32_t s) {
      const bool follows = producer_of[tail[s]] == v;
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
    while (first_other != by_avail.end() && producer_of[tail[index_of(*first_other)]] == v) ++first_other;
    if (first_other != by_avail.end()) {
      const double limit = std::max(ready - stream_dependency_us, first_other->first) + eps;
      auto it = by_avail.upper_bound(key{limit, std::numeric_limits<std::int64_t>::max()});
      while (it != by_avail.begin()) {
        --it;
        const std::uint32_t s = index_of(*it);
        if (producer_of[tail[s]] == v) continue;  // considered above
        consider(s);
        break;
      }
    }
    if ((best == no_node || best_start > ready + eps) && tail.size() < cap) {
      best = static_cast<std::uint32_t>(tail.size());
      best_start = ready;
      tail.push_back(v);
      avail.push_back(0);
      by_avail.emplace(0.0, -static_cast<std::int64_t>(best));
    }
    a.stream_of[v] = best;
    finish[v] = best_start + cost[v];
    tail[best] = v;
    by_avail.erase(key{avail[best], -static_cast<std::int64_t>(best)});
    avail[best] = finish[v];
    by_avail.emplace(avail[best], -static_cast<std::int64_t>(best));
  }
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
      throw bad_policy(std::string("opara: ") + who + ": model costs and tolerance must be finite and non-negative (got " +
                       std::to_string(c) + ")");
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
        simulate_unchecked(g, order, it->streams.stream_of, m, o.gpu, stop, workspace != nullptr ? workspace : &local)
            .makespan_us;
    best = std::min(best, it->predicted_us);
  }
  for (auto it = tried.rbegin(); it != tried.rend(); ++it)
    if (it->predicted_us <= best * (1 + o.tolerance)) return std::move(*it);
  return std::move(tried.back());  // every simulation stopped: predicted_us is infinity
}

inline void check_model_profile(const graph& g, const profile& p, const char* who) {
  if (p.ops.size() != g.num_nodes())
    throw bad_policy(std::string("opara: ") + who + " needs one profile record per node: the profile has " +
                     std::to_string(p.ops.size()) + " operator records, the graph has " + std::to_string(g.num_nodes()) +
                     " nodes");
}

} // namespace detail

//! The streams the model predicts to be fastest for launch order `order` (a topological order of
//! g) under profile `p` (see the header comment). Throws bad_policy when p does not hold one record
//! per node or an option is negative, opara::error when a duration is negative or not finite.
[[nodiscard]] inline model_placement best_placement(const graph& g, std::span<const node_id> order, const profile& p,
                                                    const model_planner_options& o = {}) {
  detail::check_model_profile(g, p, "best_placement");
  detail::check_model_options(o, "best_placement");
  const auto m = detail::flatten_profile(p, "best_placement");
  const auto cost = detail::model_operator_costs(m, o.gpu.dependency_us);
  return detail::best_placement_on(g, order, m, cost, o);
}

//! Launch order and streams together: each candidate order (longest remaining path first,
//! program order) with its best placement, the one the model predicts fastest (ties: the first).
//! Throws like best_placement.
[[nodiscard]] inline model_schedule_result model_schedule(const graph& g, const profile& p,
                                                          const model_planner_options& o = {}) {
  detail::check_model_profile(g, p, "model_schedule");
  detail::check_model_options(o, "model_schedule");
  const auto m = detail::flatten_profile(p, "model_schedule");
  const auto cost = detail::model_operator_costs(m, o.gpu.dependency_us);
  std::vector<double> edge_cost(cost.begin(), cost.end());
  for (double& c : edge_cost) c += o.gpu.dependency_us;  // each dependent step also waits this long
  const auto level = bottom_levels(g, edge_cost);
  std::vector<std::vector<node_id>> orders;
  orders.push_back(list_schedule(g, ready_heap{[&](node_id a, node_id b) {
                                   return level[a] > level[b] || (level[a] == level[b] && a < b);
                                 }}));
  orders.push_back(list_schedule(g, ready_heap{[](node_id a, node_id b) { return a < b; }}));
  if (orders[1] == orders[0]) orders.pop_back();  // it would place and predict the same, and lose the tie
  model_schedule_result best;
  best.placement.predicted_us = std::numeric_limits<double>::infinity();
  detail::simulation_workspace workspace;
  for (auto& ord : orders) {
    // A placement past the best order's makespan cannot make this order win (ties keep the first).
    model_placement pl = detail::best_placement_on(g, ord, m, cost, o, best.placement.predicted_us, &workspace);
    if (pl.predicted_us < best.placement.predicted_us) {
      best.placement = std::move(pl);
      best.order = std::move(ord);
    }
  }
  return best;
}

} // namespace opara
