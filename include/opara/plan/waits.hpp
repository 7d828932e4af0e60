#pragma once
//! Cross-stream waits of a plan. For every edge u->v on different streams, v's stream must wait
//! for the event recorded after u. With pruning, a wait is dropped when the execution graph built
//! so far (each stream's operators in launch order, plus the waits already kept) already makes u
//! an ancestor of v: the dependency is then honoured anyway. The test is exact, so a needed wait is
//! never dropped, and a kept wait is never implied by the other kept waits of the same consumer
//! (producers are visited latest first: an earlier producer cannot have a later one as ancestor).
//!
//! Representation: vector clocks over streams. clock(v)[t] = the last operator of stream t that is
//! an ancestor of v in the execution graph, so "u is an ancestor of v" is one lookup,
//! clock(v)[stream(u)] >= index of u on its stream. Exact at any size. What keeps it small where
//! n and the number of streams S are both large (a 100,000-wide fan-out under opara_greedy opens
//! ~100,000 streams; greedy on a layered graph opens a stream per handed-off branch):
//!   * retiring streams: once no operator remains to launch on stream t and no producer on t has a
//!     consumer left to plan, no query will ever name t, so its entries are dropped from clocks
//!     as they are merged. Clocks hold only the streams still "live", about the graph's width at
//!     the launch frontier, not S;
//!   * sharing: an operator that keeps no wait shares its stream predecessor's clock (refcounted);
//!     only operators that keep a wait build one;
//!   * freeing: a clock is released as soon as no later operator can read it (its last
//!     cross-stream consumer and its stream successor have been planned);
//!   * sparse/dense hybrid: a clock is a (stream, index) list, or a dense array of S entries
//!     when it holds more than S/2 (small S: capped, round_robin).
//! Cost: O(n + e log d) plus, per operator with a cross-stream producer, O(L) where L is the
//! number of live streams in the clocks it reads; memory O(n + e + S) plus the clocks alive at
//! once (each <= L entries). Fan-outs, fan-ins, layered, series-parallel and local random graphs
//! keep L near the width of the frontier; the worst case (every producer keeps a consumer far
//! ahead) is O(n S) time and memory.

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace opara {

namespace detail {

//! Vector clocks of an execution graph built operator by operator in launch order.
//! Per operator v: begin(v); reaches(u)* / add_wait(u)*; end(). release(u) after each of the
//! clock reads announced by set_uses(u, k); done_query(u) after each of the queries about u
//! announced by expect_queries(u, k).
class exec_clocks {
public:
  exec_clocks(std::span<const node_id> order, std::span<const stream_id> stream_of, std::uint32_t num_streams)
      : stream_of_(stream_of), num_streams_(num_streams), index_(stream_of.size(), 0),
        has_next_(stream_of.size(), 0), clock_of_(stream_of.size(), none), uses_(stream_of.size(), 0),
        last_(num_streams, none), pending_(num_streams, 0), retired_(num_streams, 0), scratch_(num_streams, 0) {
    std::vector<node_id> tail(num_streams, none);
    for (node_id v : order) {
      const stream_id s = stream_of[v];
      index_[v] = pending_[s]++;  // each stream stays live while operators remain to launch on it
      if (tail[s] != none) has_next_[tail[s]] = 1;
      tail[s] = v;
    }
  }

  //! Announces how many later operators will merge u's clock (its waiters).
  void set_uses(node_id u, std::uint32_t k) { uses_[u] = k + has_next_[u]; }
  //! Announces how many later reaches(u) calls will come; a stream none will ask about is retired.
  void expect_queries(node_id u, std::uint32_t k) { pending_[stream_of_[u]] += k; }

  //! Starts operator v: its clock is its stream predecessor's, plus that predecessor itself.
  void begin(node_id v) {
    cur_ = v;
    s_ = stream_of_[v];
    const node_id p = last_[s_];
    base_ = p == none ? none : clock_of_[p];
    loaded_ = modified_ = false;
  }

  //! True when u is already an ancestor of the current operator.
  [[nodiscard]] bool reaches(node_id u) {
    const stream_id t = stream_of_[u];
    if (t == s_) return index_[u] < index_[cur_];
    load_base();
    return scratch_[t] > index_[u];
  }

  //! Makes u (and so all of u's ancestors) an ancestor of the current operator.
  void add_wait(node_id u) {
    const stream_id t = stream_of_[u];
    if (t == s_) return;  // stream order already covers it
    load_base();
    modified_ = true;
    if (clock_of_[u] != none) load(clock_of_[u]);
    bump(t, index_[u] + 1);
  }

  //! One read of u's clock is done; frees it after the last.
  void release(node_id u) {
    if (uses_[u] > 0 && --uses_[u] == 0) drop(u);
  }
  //! One query about u is done.
  void done_query(node_id u) { retire_one(stream_of_[u]); }

  //! Finishes the current operator.
  void end() {
    const node_id v = cur_;
    const node_id p = last_[s_];
    if (modified_) {
      clock_of_[v] = store();
    } else {
      clock_of_[v] = base_;
      if (base_ != none) ++pool_[base_].refs;
    }
    for (stream_id t : touched_) scratch_[t] = 0;
    touched_.clear();
    last_[s_] = v;
    if (p != none) release(p);
    if (uses_[v] == 0) drop(v);
    retire_one(s_);
  }

  //! Largest number of clock entries alive at once (the memory bound tests look at).
  [[nodiscard]] std::size_t peak_live_entries() const noexcept { return peak_live_; }

private:
  static constexpr std::uint32_t none = static_cast<std::uint32_t>(-1);
  struct clock {
    std::vector<std::pair<stream_id, std::uint32_t>> sparse;  // value = index + 1
    std::vector<std::uint32_t> dense;                           // value = index + 1, 0 = none
    std::uint32_t refs = 0;
    [[nodiscard]] std::size_t entries() const noexcept { return sparse.size() + dense.size(); }
  };

  void retire_one(stream_id t) {
    if (pending_[t] > 0 && --pending_[t] == 0) retired_[t] = 1;
  }

  void load_base() {
    if (loaded_) return;
    loaded_ = true;
    if (base_ != none) load(base_);
  }

  void bump(stream_id t, std::uint32_t value) {
    // The own stream is covered by stream order; a retired stream will never be asked about.
    if (t == s_ || retired_[t]) return;
    std::uint32_t& d = scratch_[t];
    if (d == 0) touched_.push_back(t);
    if (d < value) d = value;
  }

  void load(std::uint32_t id) {
    const clock& c = pool_[id];
    if (!c.dense.empty()) {
      for (stream_id t = 0; t < num_streams_; ++t)
        if (c.dense[t]) bump(t, c.dense[t]);
    } else {
      for (auto [t, x] : c.sparse) bump(t, x);
    }
  }

  std::uint32_t store() {
    std::uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(pool_.size());
      pool_.emplace_back();
    }
    clock& c = pool_[id];
    c.refs = 1;
    if (2 * touched_.size() > num_streams_) {
      c.dense.assign(scratch_.begin(), scratch_.end());
    } else {
      c.sparse.reserve(touched_.size());
      for (stream_id t : touched_) c.sparse.emplace_back(t, scratch_[t]);
    }
    live_ += c.entries();
    peak_live_ = std::max(peak_live_, live_);
    return id;
  }

  void drop(node_id u) {
    const std::uint32_t id = clock_of_[u];
    clock_of_[u] = none;
    if (id == none) return;
    clock& c = pool_[id];
    if (--c.refs == 0) {
      live_ -= c.entries();
      std::vector<std::pair<stream_id, std::uint32_t>>().swap(c.sparse);
      std::vector<std::uint32_t>().swap(c.dense);
      free_.push_back(id);
    }
  }

  std::span<const stream_id> stream_of_;
  std::uint32_t num_streams_;
  std::vector<std::uint32_t> index_;     // index of each operator on its stream
  std::vector<char> has_next_;           // whether a later operator follows on the same stream
  std::vector<std::uint32_t> clock_of_;  // pool id, or none (empty clock / released)
  std::vector<std::uint32_t> uses_;      // reads of the clock still to come
  std::vector<node_id> last_;            // last operator begun on each stream
  std::vector<std::uint32_t> pending_;   // launches and queries still to come, per stream
  std::vector<char> retired_;            // no query will ever name this stream again
  std::vector<std::uint32_t> scratch_;   // dense working clock of the current operator
  std::vector<stream_id> touched_;
  std::vector<clock> pool_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0, peak_live_ = 0;
  node_id cur_ = 0;
  stream_id s_ = 0;
  std::uint32_t base_ = none;
  bool loaded_ = false, modified_ = false;
};

} // namespace detail

//! The waits of a plan and how many cross-stream edges needed none.
struct wait_lists {
  std::vector<std::uint32_t> wait_begin;  //!< CSR offsets by consumer id (size n+1)
  std::vector<node_id> wait_on;           //!< producers, ascending launch position per consumer
  std::size_t pruned = 0;                 //!< cross-stream edges whose wait was implied
  std::size_t peak_clock_entries = 0;     //!< largest number of vector-clock entries alive at once
};

//! Computes the waits for g launched in `order` on `a`'s streams; `prune` drops implied waits
//! (exactly: see the header comment). `order` must be a topological order of g and `a` must give
//! every node a stream < a.num_streams (make_plan checks both). Throws std::bad_alloc only.
[[nodiscard]] inline wait_lists compute_waits(const graph& g, std::span<const node_id> order,
                                              const stream_assignment& a, bool prune = true) {
  const std::size_t n = g.num_nodes();
  const auto& st = a.stream_of;
  wait_lists w;
  std::vector<std::pair<node_id, node_id>> kept;  // (consumer, producer), in processing order
  kept.reserve(n);

  if (!prune) {
    for (node_id v : order)
      for (node_id u : g.predecessors(v))
        if (st[u] != st[v]) kept.emplace_back(v, u);
  } else {
    const auto pos = positions(order, n);
    detail::exec_clocks clocks(order, st, a.num_streams);
    for (node_id u = 0; u < n; ++u) {
      std::uint32_t k = 0;
      for (node_id s : g.successors(u)) k += st[s] != st[u];
      clocks.set_uses(u, k);
      clocks.expect_queries(u, k);
    }
    std::vector<node_id> cross;
    for (node_id v : order) {
      clocks.begin(v);
      cross.clear();
      for (node_id u : g.predecessors(v))
        if (st[u] != st[v]) cross.push_back(u);
      // Latest producer first: it may imply the earlier ones, never the other way round.
      std::sort(cross.begin(), cross.end(), [&](node_id x, node_id y) { return pos[x] > pos[y]; });
      const std::size_t first = kept.size();
      for (node_id u : cross) {
        if (clocks.reaches(u)) {
          ++w.pruned;
        } else {
          clocks.add_wait(u);
          kept.emplace_back(v, u);
        }
        clocks.release(u);
        clocks.done_query(u);
      }
      std::reverse(kept.begin() + static_cast<std::ptrdiff_t>(first), kept.end());
      clocks.end();
    }
    w.peak_clock_entries = clocks.peak_live_entries();
  }

  w.wait_begin.assign(n + 1, 0);
  for (auto [v, u] : kept) ++w.wait_begin[v + 1];
  for (std::size_t i = 0; i < n; ++i) w.wait_begin[i + 1] += w.wait_begin[i];
  w.wait_on.resize(kept.size());
  std::vector<std::uint32_t> fill(w.wait_begin.begin(), w.wait_begin.end() - 1);
  for (auto [v, u] : kept) w.wait_on[fill[v]++] = u;
  if (!prune) {  // ascending launch position per consumer, as in the pruned case
    const auto pos = positions(order, n);
    for (std::size_t v = 0; v < n; ++v)
      std::sort(w.wait_on.begin() + w.wait_begin[v], w.wait_on.begin() + w.wait_begin[v + 1],
                [&](node_id x, node_id y) { return pos[x] < pos[y]; });
  }
  return w;
}

} // namespace opara
