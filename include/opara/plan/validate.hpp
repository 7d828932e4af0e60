#pragma once
//! validate(plan, g): proves that a plan honours every dependency of g, or names the first one it
//! breaks. Run it on plans from custom policies, or from JSON, before launching them.
//! Every decision is exact. Cost: O(n + e + waits) for the shape, the order and the edges a direct
//! wait covers; the others (waits pruned as implied) are re-proven by compute_waits' bounded search
//! and, failing that, by vector clocks kept only for the streams of those edges (plan/waits.hpp),
//! so a plan from make_plan is checked in about the time it took to make.

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/waits.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace opara {

namespace detail {

//! The first of `required` that plan `p` does not honour, or required.size() when it honours all.
//! Each entry (v, u) says "u happens before v": v follows u on one stream, or v's stream waits
//! (directly, or through other waits and stream order) for u's event. `required` is grouped by v;
//! `pos` are the launch positions of p.order, every wait is on an operator launched earlier and
//! every u is launched before its v (the callers check both first). "First" is by v's launch
//! position. Every decision is exact: a requirement that v waits for u directly is honoured at
//! once; with few streams (at most exact_prune_streams) the others are looked up in dense vector
//! clocks (one lookup each, O(streams) per wait); with many streams they are first put to
//! compute_waits' bounded search (same seeds, same order: the waits it pruned are proven again at
//! once), and only what that leaves goes to vector clocks, which then track only the streams of
//! those producers. Cost O(n + required + waits) (times the streams per wait, with few streams).
inline std::size_t first_unhonoured(const plan& p, std::span<const std::uint32_t> pos,
                                    std::span<const std::pair<node_id, node_id>> required) {
  const std::size_t n = p.num_nodes();
  const stream_layout layout(p.order, p.stream_of, p.num_streams);
  const bool few_streams = p.num_streams <= exact_prune_streams;
  std::optional<ancestry_search> search;  // with few streams, clocks cost less than searching first
  if (!few_streams) {
    search.emplace(layout, p.stream_of, pos, search_budget);
    for (node_id x = 0; x < n; ++x) search->set_waits(x, p.wait_begin[x], p.wait_begin[x + 1]);
  }
  auto waits_latest_first = [&](std::uint32_t begin, std::uint32_t end, ancestry_search& s) {
    for (std::uint32_t i = end; i-- > begin;)
      if (!s.push(p.wait_on[i])) return false;
    return true;
  };
  std::vector<node_id> waited_by(n, no_node);  // waited_by[u] == v: v waits for u directly
  std::vector<std::uint32_t> open;             // indices into `required` left to the clocks
  for (std::size_t i = 0; i < required.size();) {
    const node_id v = required[i].first;
    const auto w = p.waits_of(v);
    for (node_id u : w) waited_by[u] = v;
    for (; i < required.size() && required[i].first == v; ++i) {
      const node_id u = required[i].second;
      if (p.stream_of[u] == p.stream_of[v] || waited_by[u] == v) continue;
      if (search) {
        search->start(u, v);
        for (std::size_t k = w.size(); k-- > 0 && pos[w[k]] > pos[u] && search->push(w[k]);) {
        }
        if (search->run(waits_latest_first)) continue;
      }
      open.push_back(static_cast<std::uint32_t>(i));
    }
  }
  if (open.empty()) return required.size();
  auto check = [&](auto& clocks) -> std::size_t {
    std::vector<std::uint32_t> waiters(n, 0);
    for (node_id w : p.wait_on) ++waiters[w];
    for (node_id v = 0; v < n; ++v) clocks.set_uses(v, waiters[v]);
    for (std::uint32_t i : open) clocks.expect_queries(required[i].second, 1);
    std::vector<std::uint32_t> open_begin(n + 1, 0);  // `open` by consumer (CSR)
    for (std::uint32_t i : open) ++open_begin[required[i].first + 1];
    for (std::size_t v = 0; v < n; ++v) open_begin[v + 1] += open_begin[v];
    {
      std::vector<std::uint32_t> by_consumer(open.size());
      std::vector<std::uint32_t> fill(open_begin.begin(), open_begin.end() - 1);
      for (std::uint32_t i : open) by_consumer[fill[required[i].first]++] = i;
      open = std::move(by_consumer);
    }
    for (node_id v : p.order) {
      clocks.begin(v);
      for (node_id u : p.waits_of(v)) {
        clocks.add_wait(u);
        clocks.release(u);
      }
      for (std::uint32_t k = open_begin[v]; k < open_begin[v + 1]; ++k) {
        const std::size_t i = open[k];
        if (!clocks.reaches(required[i].second)) return i;
        clocks.done_query(required[i].second);
      }
      clocks.end();
    }
    return required.size();
  };
  if (few_streams) {  // dense clocks: a query is one lookup
    dense_clocks clocks(layout, p.stream_of, p.num_streams);
    return check(clocks);
  }
  exec_clocks clocks(layout, p.stream_of, p.num_streams);  // only the streams still asked about
  return check(clocks);
}

inline void validate_plan(const plan& p, const graph& g) {
  const std::size_t n = g.num_nodes();
  auto fail = [](const std::string& m) { throw invalid_plan("opara: validate: the plan " + m); };
  auto quoted = [&](node_id v) {  // appended piecewise: "'" + string trips GCC 12's -Wrestrict (PR105651)
    std::string s(1, '\'');
    s += g.name(v);
    s += '\'';
    return s;
  };
  const auto pos = plan_shape_positions(p, n, "validate");
  if (const auto [u, s] = first_backward_edge(g, pos); u != no_node)
    fail("launches " + quoted(s) + " before " + quoted(u) + ", which it depends on");
  for (node_id v : p.order)
    for (node_id u : p.waits_of(v))
      if (pos[u] >= pos[v])
        fail("makes " + quoted(v) + " wait for " + quoted(u) + ", which is launched after it (the wait could never be met)");
  // The dependencies left to prove: on two streams, without a direct wait (the others are
  // honoured by stream order, the order being topological, or by the wait itself).
  std::vector<std::pair<node_id, node_id>> required;
  std::vector<node_id> waited_by(n, no_node);  // waited_by[u] == v: v waits for u directly
  for (node_id v = 0; v < n; ++v) {
    for (node_id u : p.waits_of(v)) waited_by[u] = v;
    for (node_id u : g.predecessors(v))
      if (p.stream_of[u] != p.stream_of[v] && waited_by[u] != v) required.emplace_back(v, u);
  }
  std::vector<node_id>().swap(waited_by);
  const std::size_t unwaited = required.size();  // the most that can be pruned
  // A plan made with the memory's orderings may have pruned waits of those dependencies too.
  if (p.pruned_waits > unwaited + p.memory_orderings)
    fail("claims " + std::to_string(p.pruned_waits) + " pruned waits, but only " + std::to_string(unwaited) +
         " of the graph's cross-stream dependencies go without a direct wait (and " +
         std::to_string(p.memory_orderings) + " were added for memory)");
  if (const std::size_t i = first_unhonoured(p, pos, required); i < required.size()) {
    const auto [v, u] = required[i];
    fail("does not honour the dependency " + quoted(u) + " -> " + quoted(v) + ": " + quoted(v) + " (stream " +
         std::to_string(p.stream_of[v]) + ") neither follows " + quoted(u) + " (stream " +
         std::to_string(p.stream_of[u]) + ") on one stream nor waits for it through events");
  }
}

} // namespace detail

//! Throws opara::invalid_plan, naming the nodes, unless `p` is a plan for g that honours every edge
//! u->v: u before v on one stream, or v's stream waits (directly or through other waits and stream
//! order) for u's event. Also checks the plan's shape (check_plan_shape), that the order is
//! topological, and that pruned_waits counts no more edges than go without a direct wait. G is converted with to_graph (which may throw bad_graph).
template <operator_graph G>
void validate(const plan& p, const G& g) {
  if constexpr (std::same_as<G, graph>) {
    detail::validate_plan(p, g);
  } else {
    detail::validate_plan(p, to_graph(g));
  }
}

} // namespace opara
