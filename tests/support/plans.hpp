#pragma once
// Helpers that look at plans from outside: the execution graph a plan creates (stream order plus
// waits) and its reachability, computed naively for small graphs.

#include <opara/plan/plan.hpp>

#include <vector>

namespace opara::test {

// anc[v][u] != 0 when u is an ancestor of v in the plan's execution graph (stream chains + waits).
inline std::vector<std::vector<char>> execution_ancestors(const plan& p) {
  const std::size_t n = p.num_nodes();
  std::vector<std::vector<char>> anc(n, std::vector<char>(n, 0));
  std::vector<node_id> last(p.num_streams, static_cast<node_id>(-1));
  auto absorb = [&](node_id v, node_id u) {
    anc[v][u] = 1;
    for (std::size_t x = 0; x < n; ++x)
      if (anc[u][x]) anc[v][x] = 1;
  };
  for (node_id v : p.order) {  // every execution edge goes forward in launch order
    const node_id prev = last[p.stream_of[v]];
    if (prev != static_cast<node_id>(-1)) absorb(v, prev);
    for (node_id u : p.waits_of(v)) absorb(v, u);
    last[p.stream_of[v]] = v;
  }
  return anc;
}

} // namespace opara::test
