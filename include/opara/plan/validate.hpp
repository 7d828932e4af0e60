#pragma once
//! validate(plan, g): proves that a plan honours every dependency of g, or names the first one it
//! breaks. Run it on plans from custom policies, or from JSON, before launching them.

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/waits.hpp>

#include <string>

namespace opara {

namespace detail {

inline void validate_plan(const plan& p, const graph& g) {
  const std::size_t n = g.num_nodes();
  auto fail = [](const std::string& m) { throw invalid_plan("opara: validate: the plan " + m); };
  auto nm = [&](node_id v) {  // appended piecewise: "'" + string trips GCC 12's -Wrestrict (PR105651)
    std::string s(1, '\'');
    s += g.name(v);
    s += '\'';
    return s;
  };
  const auto pos = plan_shape_positions(p, n, "validate");
  if (const auto [u, s] = first_backward_edge(g, pos); u != no_node)
    fail("launches " + nm(s) + " before " + nm(u) + ", which it depends on");

  detail::exec_clocks clocks(p.order, p.stream_of, p.num_streams);
  std::vector<std::uint32_t> waiters(n, 0);
  for (node_id w : p.wait_on) ++waiters[w];
  for (node_id v = 0; v < n; ++v) {
    clocks.set_uses(v, waiters[v]);
    std::uint32_t k = 0;
    for (node_id s : g.successors(v)) k += p.stream_of[s] != p.stream_of[v];
    clocks.expect_queries(v, k);
  }
  for (node_id v : p.order) {
    clocks.begin(v);
    for (node_id u : p.waits_of(v)) {
      if (pos[u] >= pos[v])
        fail("makes " + nm(v) + " wait for " + nm(u) + ", which is launched after it (the wait could never be met)");
      clocks.add_wait(u);
      clocks.release(u);
    }
    for (node_id u : g.predecessors(v)) {
      if (p.stream_of[u] == p.stream_of[v]) continue;  // launch order already checked
      if (!clocks.reaches(u))
        fail("does not honour the dependency " + nm(u) + " -> " + nm(v) + ": " + nm(v) + " (stream " +
             std::to_string(p.stream_of[v]) + ") neither follows " + nm(u) + " (stream " +
             std::to_string(p.stream_of[u]) + ") on one stream nor waits for it through events");
      clocks.done_query(u);
    }
    clocks.end();
  }
}

} // namespace detail

//! Throws opara::invalid_plan, naming the nodes, unless `p` is a plan for g that honours every edge
//! u->v: u before v on one stream, or v's stream waits (directly or through other waits and stream
//! order) for u's event. Also checks sizes, that the order is a topological permutation and that
//! stream ids are below num_streams. G is converted with to_graph (which may throw bad_graph).
template <operator_graph G>
void validate(const plan& p, const G& g) {
  if constexpr (std::same_as<G, graph>) {
    detail::validate_plan(p, g);
  } else {
    detail::validate_plan(p, to_graph(g));
  }
}

} // namespace opara
