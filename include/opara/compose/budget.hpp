#pragma once
//! A memory budget: plan so that the arena stays within N bytes, by serializing branches where the
//! parallel plan would need more.
//!
//!   auto r = opara::make_plan_within(engine, opara::sequential_arena);   // the case engines use
//!   // r.plan: race-free on r.arena; r.arena.bytes <= the sequential plan's arena
//!   // r.unbudgeted_bytes: what the parallel plan wanted; r.plan.memory_orderings: what it cost
//!
//! How: plan as usual and place its arena (memory/arena.hpp). Within budget, done. Otherwise place
//! again, largest buffer first: where it fits within the budget apart from every buffer it may be
//! live with under that plan, there; else apart only from the buffers it is live with in the
//! sequential program order (sharing bytes with the others costs an ordering, never a race);
//! failing that, the sequential plan's own arena. Then plan once more with the orderings those
//! shared bytes need (make_plan's memory hazards), so the plan is race-free on the arena by
//! construction. A budget below the sequential plan's arena is refused.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/memory/arena.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/order/program_order.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/streams/sequential.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! The budget that means "no more than the sequential plan's arena".
inline constexpr std::uint64_t sequential_arena = 0;

//! A plan within a memory budget, and its arena.
struct budgeted_plan {
  opara::plan plan;                    //!< race-free on `arena` (check_memory with with_arena)
  opara::arena arena;                  //!< offsets for every buffer that is not pinned, within the budget
  std::uint64_t budget_bytes = 0;      //!< the budget (the sequential arena's size for sequential_arena)
  std::uint64_t unbudgeted_bytes = 0;  //!< the arena of the same policies' plan without a budget
  std::uint64_t sequential_bytes = 0;  //!< the sequential plan's arena (0 when not needed: within budget at once)
  bool sequential_offsets = false;     //!< the budget left only the sequential plan's own offsets
  //! The order the arena is right in (plan_options::memory_order for a scheduler that compiles the
  //! graph with these offsets): the plan's own order when its arena fit at once, else empty (the
  //! program order, whose orderings the plan then includes).
  std::vector<node_id> memory_order;
};

namespace detail {

//! Greedy by size within `budget`: apart from soft and hard conflicts where it fits, else apart from
//! hard ones only. False when a buffer fits nowhere within the budget.
inline bool place_within(const memory_map& m, const conflict_graph& soft, const conflict_graph& hard,
                         std::span<const buffer_id> which, std::vector<std::uint64_t>& offset, std::uint64_t budget,
                         std::uint64_t alignment) {
  std::vector<buffer_id> by_size(which.begin(), which.end());
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](buffer_id a, buffer_id b) { return m.buffers[a].bytes > m.buffers[b].bytes; });
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy;
  for (buffer_id b : by_size) {
    const std::uint64_t bytes = m.buffers[b].bytes;
    busy.clear();
    for (const conflict_graph* c : {&hard, &soft})
      for (buffer_id a : c->of(b))
        if (offset[a] != no_offset) busy.emplace_back(offset[a], offset[a] + m.buffers[a].bytes);
    std::uint64_t at = best_fit(busy, bytes, alignment);
    if (at > budget || budget - at < bytes) {
      busy.clear();
      for (buffer_id a : hard.of(b))
        if (offset[a] != no_offset) busy.emplace_back(offset[a], offset[a] + m.buffers[a].bytes);
      at = best_fit(busy, bytes, alignment);
      if (at > budget || budget - at < bytes) return false;
    }
    offset[b] = at;
  }
  return true;
}

inline conflict_graph conflicts_of_plan(const plan& p, const graph& g, const memory_map& m) {
  const auto pos = plan_shape_positions(p, g.num_nodes(), "make_plan_within");
  const plan_clocks hb(p);
  const buffer_lives lives(m, pos, hb);
  std::vector<char> past_limit;
  return conflicts_of(m, p, pos, hb, lives, past_limit);  // used only when neither arena left a buffer unshared
}

} // namespace detail

//! Plans g with policies S and O so that its arena (opara's, memory/arena.hpp) needs at most
//! `budget` bytes (sequential_arena: the sequential plan's arena), serializing what the parallel
//! plan would keep live at once beyond it. The engine's own offsets, if any, are ignored: opara
//! places every buffer that is not pinned. Throws bad_policy when the budget is below the
//! sequential plan's arena (naming both), and like make_plan and plan_arena otherwise.
template <stream_allocation_policy S = streams::opara_greedy, launch_order_policy O = order::program_order,
          tensor_graph G>
[[nodiscard]] budgeted_plan make_plan_within(const G& g, std::uint64_t budget, const profile* prof = nullptr,
                                             plan_options options = {}, S s = {}, O o = {}, arena_options ao = {}) {
  const graph compact = to_graph(g);
  memory_map m = memory_of(g);
  for (buffer_info& b : m.buffers) b.offset = no_offset;  // opara places them
  budgeted_plan r;
  r.plan = detail::make_plan_on(compact, prof, options, s, o, &m);
  r.arena = plan_arena(r.plan, compact, m, ao);
  r.unbudgeted_bytes = r.arena.bytes;
  r.budget_bytes = budget;
  r.memory_order = r.plan.order;  // plan_arena's arena is right in the plan's own order
  if (budget != sequential_arena && r.arena.bytes <= budget) return r;

  const plan seq = detail::make_plan_on(compact, prof, options, streams::sequential{}, order::program_order{}, &m);
  const arena seq_arena = plan_arena(seq, compact, m, ao);
  r.sequential_bytes = seq_arena.bytes;
  if (budget == sequential_arena) {
    budget = seq_arena.bytes;
    r.budget_bytes = budget;
    if (r.arena.bytes <= budget) return r;
  }
  if (seq_arena.bytes > budget)
    throw bad_policy("opara: make_plan_within: a budget of " + std::to_string(budget) +
                     " bytes is below the sequential plan's arena (" + std::to_string(seq_arena.bytes) +
                     " bytes), the least this graph's memory needs here");
  const detail::conflict_graph soft = detail::conflicts_of_plan(r.plan, compact, m);
  const detail::conflict_graph hard = detail::conflicts_of_plan(seq, compact, m);
  std::vector<char> accessed(m.num_buffers(), 0);
  for (const buffer_access& a : m.accesses) accessed[a.buffer] = 1;
  std::vector<buffer_id> which;
  std::vector<std::uint64_t> offset(m.num_buffers(), no_offset);
  for (const buffer_access& a : m.accesses) accessed[m.root(a.buffer)] = 1;
  for (buffer_id b = 0; b < m.num_buffers(); ++b) {
    if (m.buffers[b].pinned || m.buffers[b].part_of != no_buffer) continue;  // parts follow their parent
    if (accessed[b]) which.push_back(b);
    else offset[b] = 0;  // never accessed: shares with anything, as plan_arena does
  }
  arena placed;
  placed.unshared = seq_arena.unshared;
  if (r.arena.unshared == 0 && seq_arena.unshared == 0 &&
      detail::place_within(m, soft, hard, which, offset, budget, ao.alignment)) {
    placed.offset = std::move(offset);
  } else {  // the sequential plan's own offsets fit: they need orderings in program order only
    placed.offset = seq_arena.offset;
    r.sequential_offsets = true;
  }
  for (buffer_id b = 0; b < m.num_buffers(); ++b)
    if (!m.buffers[b].pinned && m.buffers[b].part_of != no_buffer) placed.offset[b] = placed.offset[m.buffers[b].part_of];
  const memory_map fixed = with_arena(m, placed);
  placed.bytes = fixed.arena_bytes();
  placed.conflicts = soft.pairs;
  options.memory_order.clear();  // the offsets placed here are right in program order
  r.plan = detail::make_plan_on(compact, prof, options, s, o, &fixed);
  r.arena = std::move(placed);
  r.memory_order.clear();
  return r;
}

} // namespace opara
