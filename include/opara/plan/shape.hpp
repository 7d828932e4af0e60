#pragma once
//! The one check that a plan has the shape of a plan for a graph of n operators, and the one
//! "launch position of each node" and "operator before it on its stream" helpers. validate, to_dot, to_json, plan_from_json and the CUDA
//! capture layer all call these before they index anything by node or stream, so a hand-made or
//! deserialized plan can never make them read past an array, whatever options are set.
//!
//! Shape (checked in O(n + waits)):
//!   - stream_of has n entries and order is a permutation of 0..n-1;
//!   - 1 <= num_streams <= n (stream ids are dense, so a plan never needs more streams than
//!     operators; this also bounds what a consumer allocates per stream), stream_of[v] < num_streams;
//!   - wait_begin has n+1 non-decreasing offsets from 0 to wait_on.size(), every wait_on entry < n,
//!     and no node lists one producer twice (each wait is an event wait the capture inserts);
//!   - pruned_waits is at most n(n-1)/2, the most edges a DAG of n nodes has (it counts edges).
//! It does not check dependencies (that is validate's job): a plan of the right shape may still
//! launch a consumer before its producer.

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/plan/plan.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace opara {

namespace detail {

//! check_plan_shape, returning the launch positions it computed on the way.
inline std::vector<std::uint32_t> plan_shape_positions(const plan& p, std::size_t num_nodes, std::string_view who) {
  auto fail = [&](const std::string& what) {
    throw invalid_plan("opara: " + std::string(who) + ": the plan " + what);
  };
  const std::size_t n = num_nodes;
  if (p.stream_of.size() != n)
    fail("has " + std::to_string(p.stream_of.size()) + " nodes, the graph has " + std::to_string(n));
  std::vector<std::uint32_t> pos(n, no_position);
  if (const auto problem = fill_positions(p.order, n, true, pos)) fail("order " + describe(problem, n));
  if (p.num_streams == 0 || p.num_streams > n)
    fail("has " + std::to_string(p.num_streams) + " streams for " + std::to_string(n) +
         " nodes (a plan needs at least one stream and never more streams than nodes)");
  if (p.wait_begin.size() != n + 1 || p.wait_begin.front() != 0 || p.wait_begin.back() != p.wait_on.size())
    fail("has a malformed wait table (wait_begin needs " + std::to_string(n + 1) + " offsets from 0 to the " +
         std::to_string(p.wait_on.size()) + " waits in wait_on; it has " + std::to_string(p.wait_begin.size()) +
         " offsets)");
  if (const std::uint64_t most = std::uint64_t{n} * (n - 1) / 2; p.pruned_waits > most)
    fail("claims " + std::to_string(p.pruned_waits) + " pruned waits, more than the " + std::to_string(most) +
         " edges a graph of " + std::to_string(n) + " nodes can have");
  std::vector<node_id> waited_by(n, no_node);  // waited_by[u] == v: v lists u
  for (node_id v = 0; v < n; ++v) {
    if (p.stream_of[v] >= p.num_streams)
      fail("puts node " + std::to_string(v) + " on stream " + std::to_string(p.stream_of[v]) + " but has " +
           std::to_string(p.num_streams) + " streams");
    if (p.wait_begin[v] > p.wait_begin[v + 1])
      fail("has a malformed wait table (its offsets decrease at node " + std::to_string(v) + ")");
    for (std::uint32_t k = p.wait_begin[v]; k < p.wait_begin[v + 1]; ++k) {
      if (p.wait_on[k] >= n)
        fail("makes node " + std::to_string(v) + " wait for node " + std::to_string(p.wait_on[k]) + " but has " +
             std::to_string(n) + " nodes");
      if (waited_by[p.wait_on[k]] == v)
        fail("makes node " + std::to_string(v) + " wait for node " + std::to_string(p.wait_on[k]) +
             " more than once");
      waited_by[p.wait_on[k]] = v;
    }
  }
  return pos;
}

//! For each operator, the operator launched just before it on its stream in plan p (no_node for
//! the first on each stream).
inline std::vector<node_id> previous_on_stream(const plan& p) {
  std::vector<node_id> previous(p.num_nodes(), no_node), last(p.num_streams, no_node);
  for (const node_id v : p.order) {
    if (v >= previous.size() || p.stream_of[v] >= last.size()) continue;  // validate() reports such plans
    previous[v] = last[p.stream_of[v]];
    last[p.stream_of[v]] = v;
  }
  return previous;
}

} // namespace detail

//! Throws opara::invalid_plan ("opara: <who>: the plan ...", naming the node or stream) unless `p`
//! has the shape of a plan for a graph of `num_nodes` operators (see the header comment). Run by
//! validate, to_dot, to_json and plan_from_json; capture code runs it before launching a plan.
inline void check_plan_shape(const plan& p, std::size_t num_nodes, std::string_view who = "plan") {
  (void)detail::plan_shape_positions(p, num_nodes, who);
}

//! pos[v] = launch position of node v in `p` (p.order[pos[v]] == v), for a plan of
//! p.num_nodes() operators. Throws opara::invalid_plan, naming `who`, when p.order is not a
//! permutation of 0..p.num_nodes()-1.
[[nodiscard]] inline std::vector<std::uint32_t> order_positions(const plan& p, std::string_view who = "plan") {
  return detail::checked_positions<invalid_plan>(p.order, p.num_nodes(), true, std::string(who) + ": the plan's order");
}

} // namespace opara
