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
//! overlapping streams merged, into the bucket that frees up first. Buckets are then numbered by
//! first use, so stream 0 stays the caller's. O(n + e + S log S).

#include <opara/analysis/topological.hpp>
#include <opara/streams/concept.hpp>

#include <algorithm>

#include <functional>
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

  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    if (max_streams == 0)
      throw bad_policy("opara: " + std::string(name) +
                       " was given max_streams == 0; a plan needs at least one stream to launch on");
    stream_assignment a = base.assign(g, order);
    detail::renumber_by_first_use(a, order, P::name);
    if (a.num_streams <= max_streams) return a;

    const auto level = depth_levels(g);
    std::vector<std::uint32_t> first(a.num_streams, no_first), last(a.num_streams, 0), first_pos(a.num_streams, 0);
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      const node_id v = order[i];
      const stream_id s = a.stream_of[v];
      if (first[s] == no_first) {
        first[s] = level[v];
        first_pos[s] = i;
      }
      last[s] = std::max(last[s], level[v]);
    }
    std::vector<std::uint32_t> by_start(a.num_streams);
    for (std::uint32_t s = 0; s < a.num_streams; ++s) by_start[s] = s;
    std::sort(by_start.begin(), by_start.end(), [&](std::uint32_t x, std::uint32_t y) {
      return first[x] != first[y] ? first[x] < first[y] : first_pos[x] < first_pos[y];
    });
    std::vector<std::uint32_t> bucket_of(a.num_streams);
    using entry = std::pair<std::uint32_t, std::uint32_t>;  // (last level, bucket)
    std::priority_queue<entry, std::vector<entry>, std::greater<>> free_at;
    std::uint32_t buckets = 0;
    for (std::uint32_t s : by_start) {
      std::uint32_t b;
      if (!free_at.empty() && free_at.top().first < first[s]) {
        b = free_at.top().second;  // done before s starts: no concurrency lost
        free_at.pop();
        free_at.push({last[s], b});
      } else if (buckets < max_streams) {
        b = buckets++;
        free_at.push({last[s], b});
      } else {
        auto [end, bb] = free_at.top();  // all busy: merge into the one that frees up first
        free_at.pop();
        b = bb;
        free_at.push({std::max(end, last[s]), b});
      }
      bucket_of[s] = b;
    }
    for (auto& s : a.stream_of) s = bucket_of[s];
    a.num_streams = buckets;
    detail::renumber_by_first_use(a, order, name);
    return a;
  }

private:
  static constexpr std::uint32_t no_first = static_cast<std::uint32_t>(-1);
};

} // namespace opara::streams
