#pragma once
//! Cross-stream waits of a plan. For every edge u->v on different streams, v's stream must wait
//! for the event recorded after u. With pruning, a wait is dropped when the execution graph built
//! so far (each stream's operators in launch order, plus the waits already kept) already makes u
//! an ancestor of v: the dependency is then honoured anyway. A needed wait is never dropped, and
//! producers are visited latest first (an earlier producer cannot have a later one as ancestor).
//!
//! Two ways of proving "u is already an ancestor of v", chosen by the number of streams S:
//!   * S <= exact_prune_streams (round_robin, capped, sequential-like plans, where stream order
//!     implies many dependencies): vector clocks, exact. clock(v)[t] = the last operator of stream t
//!     that is an ancestor of v, so the test is one lookup (dense_clocks). An operator that keeps
//!     no wait shares its stream predecessor's clock, so only a kept wait costs O(S) (a copy and a
//!     merge), and a clock is freed after its last reader. Cost O(n + e log d + S * waits kept),
//!     memory O(n + e + S * clocks alive at once), whatever share of the operators has a
//!     cross-stream producer.
//!   * more streams (opara_greedy, min_path_cover: a stream per branch, tens of thousands on wide
//!     graphs, where almost every cross-stream edge needs its wait): a search backwards from v
//!     through stream predecessors and kept waits, over operators launched after u only, that
//!     gives up after search_budget pushes. A wait it cannot prove implied is kept, so the plan
//!     may keep a few implied waits but never drops a needed one. Cost O(n + e * search_budget),
//!     memory O(n + e), whatever the order and the number of streams.
//! validate (plan/validate.hpp) decides every dependency exactly: an edge whose consumer waits for
//! the producer directly is honoured at once; with few streams the others are looked up in dense
//! clocks, with many streams the same bounded search re-proves what compute_waits pruned, and
//! clocks are kept only for the streams of the edges left (exec_clocks).

#include <opara/analysis/topological.hpp>
#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/plan.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opara {

namespace detail {

//! Where each operator sits on its stream: its index there and the operator before it.
struct stream_layout {
  std::vector<std::uint32_t> index;  //!< index of each operator on its stream
  std::vector<node_id> before;       //!< the previous operator on the same stream, or no_node
  std::vector<char> has_next;        //!< whether a later operator follows on the same stream

  stream_layout(std::span<const node_id> order, std::span<const stream_id> stream_of, std::uint32_t num_streams)
      : index(stream_of.size(), 0), before(stream_of.size(), no_node), has_next(stream_of.size(), 0) {
    std::vector<node_id> tail(num_streams, no_node);
    std::vector<std::uint32_t> count(num_streams, 0);
    for (node_id v : order) {
      const stream_id s = stream_of[v];
      index[v] = count[s]++;
      before[v] = tail[s];
      if (tail[s] != no_node) has_next[tail[s]] = 1;
      tail[s] = v;
    }
  }
};

//! Vector clocks of an execution graph built operator by operator in launch order.
//! Announce first: set_uses(u, k) for the k later operators that will merge u's clock (its
//! waiters), expect_queries(u, k) for the k later reaches(u) calls. Then per operator v in launch
//! order: begin(v); reaches(u)* / add_wait(u)*; end(). release(u) after each announced clock
//! read, done_query(u) after each announced query. A stream no query will ask about again is
//! retired: its entries are dropped, so clocks hold only the streams still asked about.
class exec_clocks {
public:
  exec_clocks(const stream_layout& layout, std::span<const stream_id> stream_of, std::uint32_t num_streams)
      : stream_of_(stream_of), layout_(layout), num_streams_(num_streams), clock_of_(stream_of.size(), no_node),
        uses_(stream_of.size(), 0), last_(num_streams, no_node), pending_(num_streams, 0),
        scratch_(num_streams, 0) {}

  //! Announces how many later operators will merge u's clock (its waiters).
  void set_uses(node_id u, std::uint32_t k) { uses_[u] = k + layout_.has_next[u]; }
  //! Announces how many later reaches(u) calls will come.
  void expect_queries(node_id u, std::uint32_t k) { pending_[stream_of_[u]] += k; }

  //! Starts operator v: its clock is its stream predecessor's, plus that predecessor itself.
  void begin(node_id v) {
    cur_ = v;
    stream_ = stream_of_[v];
    const node_id p = last_[stream_];
    base_ = p == no_node ? no_node : clock_of_[p];
    loaded_ = modified_ = false;
  }

  //! True when u is already an ancestor of the current operator.
  [[nodiscard]] bool reaches(node_id u) {
    const stream_id t = stream_of_[u];
    if (t == stream_) return layout_.index[u] < layout_.index[cur_];
    load_base();
    return scratch_[t] > layout_.index[u];
  }

  //! Makes u (and so all of u's ancestors) an ancestor of the current operator.
  void add_wait(node_id u) {
    const stream_id t = stream_of_[u];
    if (t == stream_) return;  // stream order already covers it
    load_base();
    modified_ = true;
    if (clock_of_[u] != no_node) load(clock_of_[u]);
    bump(t, layout_.index[u] + 1);
  }

  //! One read of u's clock is done; frees it after the last.
  void release(node_id u) {
    if (uses_[u] > 0 && --uses_[u] == 0) drop(u);
  }
  //! One query about u is done.
  void done_query(node_id u) {
    std::uint32_t& left = pending_[stream_of_[u]];
    if (left > 0) --left;
  }

  //! Finishes the current operator.
  void end() {
    const node_id v = cur_;
    const node_id p = last_[stream_];
    if (modified_) {
      clock_of_[v] = store();
    } else {
      clock_of_[v] = base_;
      if (base_ != no_node) ++pool_[base_].refs;
    }
    for (stream_id t : touched_) scratch_[t] = 0;
    touched_.clear();
    last_[stream_] = v;
    if (p != no_node) release(p);
    if (uses_[v] == 0) drop(v);
  }

  //! Largest number of clock entries alive at once (the memory bound tests look at).
  [[nodiscard]] std::size_t peak_live_entries() const noexcept { return peak_live_; }

private:
  struct clock {
    std::vector<std::pair<stream_id, std::uint32_t>> sparse;  // value = index + 1
    std::vector<std::uint32_t> dense;                           // value = index + 1, 0 = none
    std::uint32_t refs = 0;
    [[nodiscard]] std::size_t entries() const noexcept { return sparse.size() + dense.size(); }
  };

  void load_base() {
    if (loaded_) return;
    loaded_ = true;
    if (base_ != no_node) load(base_);
  }

  void bump(stream_id t, std::uint32_t value) {
    // The own stream is covered by stream order; a retired stream will never be asked about.
    if (t == stream_ || pending_[t] == 0) return;
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
    clock_of_[u] = no_node;
    if (id == no_node) return;
    clock& c = pool_[id];
    if (--c.refs == 0) {
      live_ -= c.entries();
      std::vector<std::pair<stream_id, std::uint32_t>>().swap(c.sparse);
      std::vector<std::uint32_t>().swap(c.dense);
      free_.push_back(id);
    }
  }

  std::span<const stream_id> stream_of_;
  const stream_layout& layout_;
  std::uint32_t num_streams_;
  std::vector<std::uint32_t> clock_of_;  // pool id, or no_node (empty clock / released)
  std::vector<std::uint32_t> uses_;      // reads of the clock still to come
  std::vector<node_id> last_;            // last operator begun on each stream
  std::vector<std::uint32_t> pending_;   // queries still to come, per stream (0: retired)
  std::vector<std::uint32_t> scratch_;   // dense working clock of the current operator
  std::vector<stream_id> touched_;
  std::vector<clock> pool_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0, peak_live_ = 0;
  node_id cur_ = 0;
  stream_id stream_ = 0;
  std::uint32_t base_ = no_node;
  bool loaded_ = false, modified_ = false;
};

//! Vector clocks for plans of few streams (at most exact_prune_streams), same protocol as
//! exec_clocks without the queries' announcements: set_uses(u, k) first, then per operator v in
//! launch order begin(v); reaches(u)* / add_wait(u)*; end(), and release(u) after each announced
//! read of u's clock. A clock is a dense array of one entry per stream in one slab; an operator
//! that adds no wait shares its stream predecessor's clock, so reaches() is one lookup and only
//! add_wait() costs O(streams): the first one copies the predecessor's clock (unless no one else
//! will read it), each merges the producer's. Cost O(n + queries + streams * waits added),
//! memory O(streams * clocks alive at once), with no allocation per clock.
class dense_clocks {
public:
  dense_clocks(const stream_layout& layout, std::span<const stream_id> stream_of, std::uint32_t num_streams)
      : stream_of_(stream_of), layout_(layout), width_(num_streams), clock_of_(stream_of.size(), no_node),
        uses_(stream_of.size(), 0), last_(num_streams, no_node) {}

  //! Announces how many later operators will merge u's clock (its waiters).
  void set_uses(node_id u, std::uint32_t k) { uses_[u] = k + layout_.has_next[u]; }
  //! Queries need no announcement here (exec_clocks' protocol).
  void expect_queries(node_id, std::uint32_t) const noexcept {}
  void done_query(node_id) const noexcept {}

  //! Starts operator v: its clock is its stream predecessor's, plus that predecessor itself.
  void begin(node_id v) {
    cur_ = v;
    stream_ = stream_of_[v];
    const node_id p = last_[stream_];
    clock_ = p == no_node ? no_node : clock_of_[p];
    owned_ = false;
  }

  //! True when u is already an ancestor of the current operator.
  [[nodiscard]] bool reaches(node_id u) const {
    const stream_id t = stream_of_[u];
    if (t == stream_) return layout_.index[u] < layout_.index[cur_];
    return clock_ != no_node && slab_[std::size_t{clock_} * width_ + t] > layout_.index[u];
  }

  //! Makes u (and so all of u's ancestors) an ancestor of the current operator.
  void add_wait(node_id u) {
    const stream_id t = stream_of_[u];
    if (t == stream_) return;  // stream order already covers it
    own();
    std::uint32_t* d = slab_.data() + std::size_t{clock_} * width_;
    if (const std::uint32_t c = clock_of_[u]; c != no_node) {
      const std::uint32_t* x = slab_.data() + std::size_t{c} * width_;
      for (std::uint32_t i = 0; i < width_; ++i) d[i] = std::max(d[i], x[i]);
      d[stream_] = 0;  // the own stream is covered by stream order: no entry
    }
    d[t] = std::max(d[t], layout_.index[u] + 1);
  }

  //! One read of u's clock is done; frees it after the last.
  void release(node_id u) {
    if (uses_[u] > 0 && --uses_[u] == 0) drop(u);
  }

  //! Finishes the current operator.
  void end() {
    const node_id v = cur_;
    const node_id p = last_[stream_];
    clock_of_[v] = clock_;
    if (clock_ != no_node && !owned_) ++refs_[clock_];
    last_[stream_] = v;
    if (p != no_node) release(p);
    if (uses_[v] == 0) drop(v);
  }

  //! Largest number of clock entries alive at once (one per other stream and clock).
  [[nodiscard]] std::size_t peak_live_entries() const noexcept { return peak_live_ * (width_ - 1); }

private:
  // Gives the current operator a clock of its own to add waits to.
  void own() {
    if (owned_) return;
    owned_ = true;
    const node_id p = last_[stream_];
    if (clock_ != no_node && refs_[clock_] == 1 && uses_[p] == 1) {
      // Only the current operator will read its predecessor's clock: take it over.
      clock_of_[p] = no_node;
      return;
    }
    const std::uint32_t base = clock_;
    clock_ = allocate();
    std::uint32_t* d = slab_.data() + std::size_t{clock_} * width_;
    if (base == no_node) std::fill(d, d + width_, 0u);
    else std::copy_n(slab_.data() + std::size_t{base} * width_, width_, d);
  }

  std::uint32_t allocate() {
    std::uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(refs_.size());
      refs_.push_back(0);
      slab_.resize(slab_.size() + width_);
    }
    refs_[id] = 1;
    peak_live_ = std::max(peak_live_, ++live_);
    return id;
  }

  void drop(node_id u) {
    const std::uint32_t id = clock_of_[u];
    clock_of_[u] = no_node;
    if (id != no_node && --refs_[id] == 0) {
      --live_;
      free_.push_back(id);
    }
  }

  std::span<const stream_id> stream_of_;
  const stream_layout& layout_;
  std::uint32_t width_;
  std::vector<std::uint32_t> clock_of_;  // slot of each operator's clock, or no_node (empty / released)
  std::vector<std::uint32_t> uses_;      // reads of the clock still to come
  std::vector<node_id> last_;            // last operator begun on each stream
  std::vector<std::uint32_t> slab_;      // clock c: slab_[c * width_ .. (c + 1) * width_), value = index + 1
  std::vector<std::uint32_t> refs_;      // operators holding each clock
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0, peak_live_ = 0;
  node_id cur_ = 0;
  stream_id stream_ = 0;
  std::uint32_t clock_ = no_node;
  bool owned_ = false;
};

//! Asks the processor to bring the cache line at `p` in (a hint; nothing on compilers without one).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

//! A bounded proof that u is an ancestor of v in an execution graph (stream order plus waits):
//! a depth-first search backwards from v's stream predecessor and some of v's waits (the seeds)
//! through stream predecessors and waits, over operators launched after u only, that gives up
//! after `budget` pushes. A success is a proof; a failure proves nothing. compute_waits and
//! validate run it with the same seeds and expansion order, so validate re-proves exactly the
//! waits compute_waits pruned this way.
//! What a visit reads of an operator (launch position, stream, stream predecessor, where its waits
//! are listed, the visit stamp) sits in one record of 24 bytes, fetched as soon as the operator is
//! pushed: the operators a search visits follow no order in memory, and a cache miss per array
//! read was most of the cost of pruning waits on wide graphs (about 20 visits per cross-stream
//! edge on random DAGs of 10^5 operators, nearly all of them failing).
class ancestry_search {
public:
  ancestry_search(const stream_layout& layout, std::span<const stream_id> stream_of,
                  std::span<const std::uint32_t> pos, std::uint32_t budget)
      : node_(stream_of.size()), budget_(budget) {
    for (std::size_t x = 0; x < node_.size(); ++x) node_[x] = {pos[x], stream_of[x], layout.before[x], 0, 0, 0};
    stack_.reserve(budget);
  }

  //! Records where x's waits are listed: the caller's entries [begin, end), which the search hands
  //! back to its `waits` function when it visits x.
  void set_waits(node_id x, std::uint32_t begin, std::uint32_t end) {
    node_[x].waits_begin = begin;
    node_[x].waits_end = end;
  }

  //! Starts bringing x's record into the cache (a search or position() will read it soon).
  void fetch(node_id x) const noexcept { prefetch(&node_[x]); }

  //! x's launch position and stream, as the search reads them.
  [[nodiscard]] std::uint32_t position(node_id x) const noexcept { return node_[x].pos; }
  [[nodiscard]] stream_id stream(node_id x) const noexcept { return node_[x].stream; }

  //! Starts a search for producer u of consumer v: seeds v's stream predecessor.
  void start(node_id u, node_id v) {
    ++stamp_;
    stack_.clear();
    pushes_ = 0;
    target_ = node_[u];
    push(node_[v].before);
  }
  //! Adds a seed (one of v's waits); false once the budget is spent.
  bool push(node_id x) {
    if (pushes_ == budget_) return false;
    ++pushes_;
    stack_.push_back(x);
    if (x != no_node) prefetch(&node_[x]);  // popped soon: its miss overlaps the others'
    return true;
  }
  //! Runs the search; `waits(begin, end, *this)` pushes the producers an operator waits for, listed
  //! at the caller's entries [begin, end) (set_waits). True: u is an ancestor.
  template <class Waits>
  [[nodiscard]] bool run(Waits&& waits) {
    const record& u = target_;
    while (!stack_.empty()) {
      const node_id x = stack_.back();
      stack_.pop_back();
      if (x == no_node) continue;
      record& r = node_[x];
      if (r.stream == u.stream) {
        if (r.pos >= u.pos) return true;  // u precedes x on its stream (or is x)
        continue;
      }
      if (r.pos < u.pos || r.seen == stamp_) continue;  // launched before u: u cannot reach it
      r.seen = stamp_;
      if (!push(r.before)) return false;
      if (!waits(r.waits_begin, r.waits_end, *this)) return false;
    }
    return false;
  }

private:
  struct record {
    std::uint32_t pos = 0, stream = 0;             // launch position (on one stream, its order there), stream
    node_id before = no_node;                      // the previous operator on the stream
    std::uint32_t seen = 0;                        // stamp of the last search that visited it
    std::uint32_t waits_begin = 0, waits_end = 0;  // set_waits
  };
  std::vector<record> node_;
  std::vector<node_id> stack_;
  std::uint32_t budget_, pushes_ = 0, stamp_ = 0;
  record target_{};
};

} // namespace detail

//! The waits of a plan and how many cross-stream edges needed none.
struct wait_lists {
  std::vector<std::uint32_t> wait_begin;  //!< CSR offsets by consumer id (size n+1)
  std::vector<node_id> wait_on;           //!< producers, ascending launch position per consumer
  std::size_t pruned = 0;                 //!< cross-stream edges whose wait was implied
  std::size_t peak_clock_entries = 0;     //!< largest number of vector-clock entries alive at once
};

//! Plans with at most this many streams are pruned exactly, with vector clocks.
inline constexpr std::uint32_t exact_prune_streams = 64;
//! Above exact_prune_streams, the most operators one search for an implied wait visits (pushes).
inline constexpr std::uint32_t search_budget = 32;

namespace detail {

//! (consumer, producer) pairs in processing order -> CSR by consumer, producers by ascending
//! launch position.
inline wait_lists to_wait_lists(std::size_t n, const std::vector<std::pair<node_id, node_id>>& kept,
                                std::span<const std::uint32_t> pos) {
  wait_lists w;
  w.wait_begin.assign(n + 1, 0);
  for (auto [v, u] : kept) ++w.wait_begin[v + 1];
  for (std::size_t i = 0; i < n; ++i) w.wait_begin[i + 1] += w.wait_begin[i];
  w.wait_on.resize(kept.size());
  std::vector<std::uint32_t> fill(w.wait_begin.begin(), w.wait_begin.end() - 1);
  for (auto [v, u] : kept) w.wait_on[fill[v]++] = u;
  for (std::size_t v = 0; v < n; ++v)
    std::sort(w.wait_on.begin() + w.wait_begin[v], w.wait_on.begin() + w.wait_begin[v + 1],
              [&](node_id x, node_id y) { return pos[x] < pos[y]; });
  return w;
}

//! compute_waits without its checks: `pos` are the launch positions of `order`, a topological
//! order of g, and every stream id in `a` is below a.num_streams <= n.
inline wait_lists compute_waits_unchecked(const graph& g, std::span<const node_id> order,
                                          std::span<const std::uint32_t> pos, const stream_assignment& a,
                                          bool prune) {
  const std::size_t n = g.num_nodes();
  const auto& stream_of = a.stream_of;
  std::vector<std::pair<node_id, node_id>> kept;  // (consumer, producer), in processing order
  kept.reserve(n);
  std::size_t pruned = 0, peak = 0;
  if (!prune) {
    for (node_id v : order)
      for (node_id u : g.predecessors(v))
        if (stream_of[u] != stream_of[v]) kept.emplace_back(v, u);
    return to_wait_lists(n, kept, pos);
  }

  const stream_layout layout(order, stream_of, a.num_streams);
  // The cross-stream producers of v with their launch positions, latest first: a later one may
  // imply the earlier ones. `where(u)` gives u's (position, stream).
  std::vector<std::pair<std::uint32_t, node_id>> cross;
  auto cross_producers = [&](node_id v, auto&& where) {
    cross.clear();
    const stream_id s = stream_of[v];
    for (node_id u : g.predecessors(v))
      if (const auto [at, t] = where(u); t != s) cross.emplace_back(at, u);
    std::sort(cross.begin(), cross.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  };

  if (a.num_streams <= exact_prune_streams) {
    dense_clocks clocks(layout, stream_of, a.num_streams);
    for (node_id u = 0; u < n; ++u) {
      std::uint32_t k = 0;
      for (node_id s : g.successors(u)) k += stream_of[s] != stream_of[u];
      clocks.set_uses(u, k);
    }
    auto where = [&](node_id u) { return std::pair{pos[u], stream_of[u]}; };
    for (node_id v : order) {
      clocks.begin(v);
      cross_producers(v, where);
      for (const auto& [at, u] : cross) {
        if (clocks.reaches(u)) {
          ++pruned;
        } else {
          clocks.add_wait(u);
          kept.emplace_back(v, u);
        }
        clocks.release(u);
      }
      clocks.end();
    }
    peak = clocks.peak_live_entries();
  } else {
    // x's kept waits, latest producer first, are kept[begin .. end) (search.set_waits).
    ancestry_search search(layout, stream_of, pos, search_budget);
    auto waits_of = [&](std::uint32_t begin, std::uint32_t end, ancestry_search& s) {
      for (std::uint32_t k = begin; k < end; ++k)
        if (!s.push(kept[k].second)) return false;
      return true;
    };
    // The search's own record of each producer: the cache line start(u, v) reads next.
    auto where = [&](node_id u) { return std::pair{search.position(u), search.stream(u)}; };
    for (std::size_t i = 0; i < order.size(); ++i) {
      const node_id v = order[i];
      if (i + 1 < order.size()) {  // the next operator's records come in while this one's searches run
        search.fetch(order[i + 1]);
        for (node_id u : g.predecessors(order[i + 1])) search.fetch(u);
      }
      // And the list of the producers after that, so that the loop above finds it in the cache.
      if (i + 2 < order.size()) prefetch(g.predecessors(order[i + 2]).data());
      cross_producers(v, where);
      const std::size_t first = kept.size();
      for (const auto& [at, u] : cross) {
        search.start(u, v);
        for (std::size_t k = first; k < kept.size() && search.push(kept[k].second); ++k) {
        }
        if (search.run(waits_of)) ++pruned;
        else kept.emplace_back(v, u);
      }
      search.set_waits(v, static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(kept.size()));
    }
  }
  wait_lists w = to_wait_lists(n, kept, pos);
  w.pruned = pruned;
  w.peak_clock_entries = peak;
  return w;
}

//! Throws bad_policy naming `who` unless `a` gives each of g's n nodes a stream below
//! a.num_streams, and num_streams is at most n.
inline void check_assignment(const stream_assignment& a, std::size_t n, std::string_view who) {
  if (a.stream_of.size() != n)
    throw bad_policy("opara: " + std::string(who) + " was given " + std::to_string(a.stream_of.size()) +
                     " stream entries for " + std::to_string(n) + " nodes");
  if (a.num_streams > n)
    throw bad_policy("opara: " + std::string(who) + " was given " + std::to_string(a.num_streams) + " streams for " +
                     std::to_string(n) + " nodes (stream ids must be dense)");
  for (node_id v = 0; v < n; ++v)
    if (a.stream_of[v] >= a.num_streams)
      throw bad_policy("opara: " + std::string(who) + " was given node " + std::to_string(v) + " on stream " +
                       std::to_string(a.stream_of[v]) + " of " + std::to_string(a.num_streams));
}

} // namespace detail

//! Computes the waits for g launched in `order` on `a`'s streams; `prune` drops implied waits (see
//! the header comment). Throws bad_policy when `order` is not a topological order of g or `a`
//! puts a node on a stream >= a.num_streams (or has more streams than nodes).
[[nodiscard]] inline wait_lists compute_waits(const graph& g, std::span<const node_id> order,
                                              const stream_assignment& a, bool prune = true) {
  const auto pos = require_topological_order(g, order, "compute_waits was given an order that");
  detail::check_assignment(a, g.num_nodes(), "compute_waits");
  return detail::compute_waits_unchecked(g, order, pos, a, prune);
}

} // namespace opara
