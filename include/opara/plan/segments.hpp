#pragma once
//! Launch segments: where a plan can be split into consecutive CUDA graphs launched back to back
//! on one stream (capture::options::launch_segments), without adding a dependency.
//!
//! Why: the GPU starts a graph only when the host's cudaGraphLaunch call that enqueues it is almost
//! done, and that call costs about 0.2 us per node (bench_anatomy: GoogLeNet's 195 nodes,
//! 32-93 us depending on the machine). Split in segments that grow along the launch order, the
//! first small graph starts running while the host still enqueues the rest, so a single inference
//! no longer waits for the whole call. Between two segments the stream orders everything: the next
//! segment starts after every node of the previous ones has finished. At a free cut that adds
//! nothing, since every node before it already precedes every node after it.
//!
//! A cut at launch position i (segments [0, i) and [i, n) of p.order) is free when every operator
//! before it precedes every operator after it through the plan's own dependencies (stream order and
//! waits: what a captured graph holds). That holds exactly when each sink of the part before the cut
//! (an operator with no dependent before the cut) is a direct dependency of each source of the part
//! after it (an operator whose dependencies all lie before the cut): a path from such a sink to such
//! a source can have no operator in between. free_cuts counts the edges between those two sets as
//! the cut moves along the order, in O(n + waits) for all positions.

#include <opara/error.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

//! No limit on the width of a free cut (free_cuts' max_width).
inline constexpr std::size_t any_width = static_cast<std::size_t>(-1);

//! free[i] (i in 1..n-1) is true when the plan can be cut before launch position i without adding a
//! dependency (see the file comment), with at most `max_width` sinks before the cut and at most
//! `max_width` sources after it; free[0] and free[n] are false (no cut there). Throws invalid_plan
//! when p does not have the shape of a plan for its own number of operators.
[[nodiscard]] inline std::vector<bool> free_cuts(const plan& p, std::size_t max_width = any_width) {
  const std::size_t n = p.num_nodes();
  const std::vector<std::uint32_t> pos = detail::plan_shape_positions(p, n, "free_cuts");
  const std::vector<node_id> previous = detail::previous_on_stream(p);
  // Each operator's distinct dependencies launched before it (a wait for one launched later is not
  // in a captured graph: its event was not recorded yet), and their dependents, as CSR lists.
  std::vector<std::uint32_t> dep_begin(n + 1, 0), succ_begin(n + 1, 0);
  std::vector<node_id> deps, succs;
  std::vector<std::int64_t> latest(n, -1);  // position of the last dependency (-1: none)
  std::vector<node_id> mark(n, no_node);
  for (node_id w = 0; w < n; ++w) {
    auto add = [&](node_id u) {
      if (pos[u] >= pos[w] || mark[u] == w) return;
      mark[u] = w;
      deps.push_back(u);
      ++succ_begin[u + 1];
      latest[w] = std::max<std::int64_t>(latest[w], pos[u]);
    };
    if (previous[w] != no_node) add(previous[w]);
    for (node_id u : p.waits_of(w)) add(u);
    dep_begin[w + 1] = static_cast<std::uint32_t>(deps.size());
  }
  for (std::size_t v = 0; v < n; ++v) succ_begin[v + 1] += succ_begin[v];
  succs.resize(deps.size());
  {
    std::vector<std::uint32_t> fill(succ_begin.begin(), succ_begin.end() - 1);
    for (node_id w = 0; w < n; ++w)
      for (std::uint32_t k = dep_begin[w]; k < dep_begin[w + 1]; ++k) succs[fill[deps[k]]++] = w;
  }
  // Operators entering the sources after the cut, by the position of their last dependency.
  std::vector<std::uint32_t> ready_begin(n + 2, 0);
  for (node_id w = 0; w < n; ++w) ++ready_begin[static_cast<std::size_t>(latest[w] + 1) + 1];
  for (std::size_t i = 0; i <= n; ++i) ready_begin[i + 1] += ready_begin[i];
  std::vector<node_id> ready(n);
  {
    std::vector<std::uint32_t> fill(ready_begin.begin(), ready_begin.end() - 1);
    for (node_id w = 0; w < n; ++w) ready[fill[static_cast<std::size_t>(latest[w] + 1)]++] = w;
  }
  enum : std::uint8_t { after_cut, source_after, sink_before, before_cut };
  std::vector<std::uint8_t> state(n, after_cut);
  std::int64_t sinks = 0, sources = 0, between = 0;  // |T|, |S|, edges from T to S
  auto sinks_among_deps = [&](node_id w) {
    std::int64_t k = 0;
    for (std::uint32_t j = dep_begin[w]; j < dep_begin[w + 1]; ++j) k += state[deps[j]] == sink_before;
    return k;
  };
  auto enter_sources = [&](std::size_t slot) {  // operators whose dependencies now all lie before the cut
    for (std::uint32_t j = ready_begin[slot]; j < ready_begin[slot + 1]; ++j) {
      state[ready[j]] = source_after;
      ++sources;
      between += sinks_among_deps(ready[j]);
    }
  };
  std::vector<bool> free(n + 1, false);
  enter_sources(0);  // the operators with no dependency
  for (std::size_t i = 1; i <= n; ++i) {
    const node_id x = p.order[i - 1];  // moves from the sources after the cut to the sinks before it
    between -= sinks_among_deps(x);
    --sources;
    state[x] = before_cut;  // out of the sources before its dependencies stop being sinks
    for (std::uint32_t j = dep_begin[x]; j < dep_begin[x + 1]; ++j) {
      const node_id u = deps[j];
      if (state[u] != sink_before) continue;  // no longer a sink: it has a dependent before the cut
      state[u] = before_cut;
      --sinks;
      for (std::uint32_t k = succ_begin[u]; k < succ_begin[u + 1]; ++k) between -= state[succs[k]] == source_after;
    }
    state[x] = sink_before;
    ++sinks;
    enter_sources(i);  // x's dependents whose last dependency is x (each counts the edge from x)
    if (i < n)
      free[i] = between == sinks * sources && static_cast<std::size_t>(sinks) <= max_width &&
                static_cast<std::size_t>(sources) <= max_width;
  }
  return free;
}

//! The widest free cut segment_cuts takes by default: at most 4 operators end the part before it
//! and at most 4 begin the part after it (GoogLeNet's inception blocks are 4 wide). Wider ones made
//! replays slower (bench suite): cut after the source and before the sink of
//! 256 parallel branches, isolated 327 against 240 us unsplit, queued 167 against 137; four stages
//! of 128 branches cut around their joins, 674 against 470 us isolated.
inline constexpr std::size_t narrow_cut_width = 4;

//! Where to cut plan p into at most `segments` launch segments: the launch positions at which the
//! second, third, ... segment begin, increasing, each a free cut at most `max_width` wide. The
//! segments grow by `growth` along the launch order (with 4 segments and growth 3 they hold about
//! 1/40, 3/40, 9/40 and 27/40 of the operators), so that the host enqueues each while the GPU runs
//! the ones before it, and the first is small so that the GPU starts early. Each cut is the free
//! cut nearest its target after the previous one; fewer cuts when the plan has fewer free ones.
//! Empty for segments <= 1. Throws invalid_plan like free_cuts, bad_policy for growth < 1 or not
//! finite.
[[nodiscard]] inline std::vector<std::size_t> segment_cuts(const plan& p, std::size_t segments, double growth = 3.0,
                                                           std::size_t max_width = narrow_cut_width) {
  if (!(growth >= 1.0) || !std::isfinite(growth))
    throw bad_policy("opara: segment_cuts: growth is " + std::to_string(growth) + " (it must be a finite number >= 1)");
  std::vector<std::size_t> cuts;
  if (segments <= 1) return cuts;
  const std::size_t n = p.num_nodes();
  const std::vector<bool> free = free_cuts(p, max_width);
  // Target positions n * (growth^j - 1) / (growth^k - 1), j = 1..k-1, written so that a large k
  // cannot overflow (an even split for growth 1).
  const double k = static_cast<double>(std::min(segments, n));
  auto target = [&](double j) {
    if (growth == 1.0) return static_cast<double>(n) * j / k;
    return static_cast<double>(n) * std::pow(growth, j - k) * (1 - std::pow(growth, -j)) / (1 - std::pow(growth, -k));
  };
  std::size_t after = 0;  // the next cut must lie beyond this position
  for (double j = 1; j < k; ++j) {
    const double want = target(j);
    std::size_t best = 0;
    double best_distance = 0;
    for (std::size_t i = after + 1; i < n; ++i) {  // nearest free cut beyond the previous one
      if (!free[i]) continue;
      const double distance = std::abs(static_cast<double>(i) - want);
      if (best == 0 || distance < best_distance) best = i, best_distance = distance;
      if (static_cast<double>(i) > want) break;  // later ones are farther
    }
    if (best == 0) break;
    cuts.push_back(best);
    after = best;
  }
  return cuts;
}

//! segment[v]: the launch segment of operator v (0-based) for the given cuts (from segment_cuts).
[[nodiscard]] inline std::vector<std::uint32_t> segment_of(const plan& p, const std::vector<std::size_t>& cuts) {
  std::vector<std::uint32_t> segment(p.num_nodes(), 0);
  std::uint32_t current = 0;
  std::size_t next = 0;
  for (std::size_t i = 0; i < p.order.size(); ++i) {
    while (next < cuts.size() && cuts[next] == i) ++current, ++next;
    segment[p.order[i]] = current;
  }
  return segment;
}

} // namespace opara
