#pragma once
//! capped<P>: run any stream policy, then merge its streams down to at most `max_streams`.
//!
//! Beyond about 16 concurrent chains a GPU gains nothing and each stream costs waits and memory
//! (ANCHORS.md), so greedy policies that open one stream per branch need a cap. A stream's
//! lifetime is measured in depth levels (longest path from a source: the step at which an
//! operator could run at the earliest), from its first operator's level to its last's. Streams are
//! taken by start level and each goes to the bucket that became free earliest (its last level is
//! below the stream's first): streams that never overlap in the as-soon-as-possible schedule of
//! unit-time operators share a bucket (a heuristic: with real durations two such streams could
//! still have overlapped), and under the cap this uses exactly as many buckets as streams overlap at the
//! busiest level (interval colouring). Only when every bucket is busy and none is left to open are
//! overlapping streams merged: into the bucket with the fewest operators still to run from the
//! stream's first level on (ties: the one that frees up first, then the lowest number), so that a
//! wide fan-out is spread evenly over the buckets instead of piling onto one. Buckets are then
//! numbered by first use, so stream 0 stays the caller's. O(n log n + e + M·B) for M merges into
//! B <= max_streams buckets.

#include <opara/analysis/topological.hpp>
#include <opara/streams/concept.hpp>

#include <algorithm>

#include <functional>
#include <limits>
#include <queue>
#include <utility>

namespace opara::streams {

//! At most `max_streams` streams out of policy P's answer. Throws bad_policy when max_streams == 0,
//! and whatever P throws.
template <stream_allocation_policy P>
struct capped {
  static constexpr std::string_view name = detail::adaptor_name<P>::value;
  [[no_unique_address]] P base{};
  std::uint32_t max_streams = 16;  //!< the cap (at least 1)

  //! "capped<<inner label>>[<max_streams>]", e.g. "capped<round_robin[4]>[8]".
  [[nodiscard]] std::string label() const {
    return "capped<" + policy_label(base) + ">[" + std::to_string(max_streams) + "]";
  }

  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    if (max_streams == 0)
      throw bad_policy("opara: " + std::string(name) +
                       " was given max_streams == 0; a plan needs at least one stream to launch on");
    stream_assignment a = base.assign(g, order);
    detail::renumber_by_first_use(a, order, P::name);
    if (a.num_streams <= max_streams) return a;

    const auto level = depth_levels(g);
    const std::uint32_t S = a.num_streams;
    std::vector<std::uint32_t> first(S, no_node), last(S, 0), first_pos(S, 0), size(S + 1, 0);  // first: level
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      const node_id v = order[i];
      const stream_id s = a.stream_of[v];
      if (first[s] == no_node) {
        first[s] = level[v];
        first_pos[s] = i;
      }
      last[s] = std::max(last[s], level[v]);
      ++size[s + 1];
    }
    // Levels of each stream's operators, grouped by stream (CSR).
    for (std::uint32_t s = 0; s < S; ++s) size[s + 1] += size[s];
    std::vector<std::uint32_t> levels_of(order.size()), fill(size.begin(), size.end() - 1);
    for (node_id v : order) levels_of[fill[a.stream_of[v]]++] = level[v];

    std::vector<std::uint32_t> by_start(S);
    for (std::uint32_t s = 0; s < S; ++s) by_start[s] = s;
    std::sort(by_start.begin(), by_start.end(), [&](std::uint32_t x, std::uint32_t y) {
      return first[x] != first[y] ? first[x] < first[y] : first_pos[x] < first_pos[y];
    });

    // Per bucket: the level it frees up at, and the levels of its operators (a min-heap, from which
    // levels below the current stream's start are dropped: streams come by start level).
    using min_heap = std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>>;
    std::vector<std::uint32_t> end_of;
    std::vector<min_heap> pending;
    using entry = std::pair<std::uint32_t, std::uint32_t>;  // (end level, bucket); stale when end differs
    std::priority_queue<entry, std::vector<entry>, std::greater<>> free_at;
    std::vector<std::uint32_t> bucket_of(S);
    for (std::uint32_t s : by_start) {
      while (!free_at.empty() && free_at.top().first != end_of[free_at.top().second]) free_at.pop();
      std::uint32_t b;
      bool queued = false;  // whether b already has a valid entry in free_at
      if (!free_at.empty() && free_at.top().first < first[s]) {
        b = free_at.top().second;  // done before s starts: no concurrency lost
        free_at.pop();
      } else if (end_of.size() < max_streams) {
        b = static_cast<std::uint32_t>(end_of.size());
        end_of.push_back(0);
        pending.emplace_back();
      } else {  // all busy: merge into the bucket with the least work left from s's start on
        b = 0;
        queued = true;
        std::size_t best_left = std::numeric_limits<std::size_t>::max();
        for (std::uint32_t c = 0; c < end_of.size(); ++c) {
          while (!pending[c].empty() && pending[c].top() < first[s]) pending[c].pop();
          const std::size_t left = pending[c].size();
          if (left < best_left || (left == best_left && end_of[c] < end_of[b])) {
            best_left = left;
            b = c;
          }
        }
      }
      if (last[s] > end_of[b]) {
        end_of[b] = last[s];
        queued = false;  // its entry went stale
      }
      if (!queued) free_at.push({end_of[b], b});
      for (std::uint32_t i = size[s]; i < size[s + 1]; ++i) pending[b].push(levels_of[i]);
      bucket_of[s] = b;
    }
    const auto buckets = static_cast<std::uint32_t>(end_of.size());
    for (auto& s : a.stream_of) s = bucket_of[s];
    a.num_streams = buckets;
    detail::renumber_by_first_use(a, order, name);
    return a;
  }
};

} // namespace opara::streams
