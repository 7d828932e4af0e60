#pragma once
//! What a stream allocation policy is: a type that maps every operator to a stream.
//!
//!   stream_assignment P::assign(const opara::graph& g, std::span<const node_id> order) const;
//!   static constexpr std::string_view P::name;
//!   std::string label() const;   // optional: name plus parameters (policy/label.hpp, policy_label)
//!   stream_assignment P::assign(const opara::graph& g, std::span<const node_id> order,
//!                               const opara::profile* prof) const;   // optional: reads the profile
//!
//! `order` is the launch order (a topological order of g). The answer's stream ids are dense
//! (0..num_streams-1) and stream 0 is the stream of order[0], the caller's stream; make_plan
//! renumbers a policy's answer by first use to guarantee it. A policy with the three-argument
//! assign (a profile_reading_stream_policy, e.g. streams::model_guided) is handed the profile the
//! plan is made with, and a scheduler profiles for it as it does for an order that needs one.

#include <opara/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/policy/label.hpp>
#include <opara/plan/plan.hpp>
#include <opara/profile/profile.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace opara {

//! A stream allocation policy (see the header comment for the interface).
template <class P>
concept stream_allocation_policy =
    requires(const P& p, const graph& g, std::span<const node_id> order) {
      { p.assign(g, order) } -> std::same_as<stream_assignment>;
      { P::name } -> std::convertible_to<std::string_view>;
    };

//! A stream allocation policy that decides from the profile when it is given one.
template <class P>
concept profile_reading_stream_policy =
    stream_allocation_policy<P> && requires(const P& p, const graph& g, std::span<const node_id> order,
                                            const profile* prof) {
      { p.assign(g, order, prof) } -> std::same_as<stream_assignment>;
    };

namespace detail {

//! Streams for `order` from policy s: a profile-reading policy gets `prof` when there is one.
template <stream_allocation_policy S>
stream_assignment assign_streams(const S& s, const graph& g, std::span<const node_id> order, const profile* prof) {
  if constexpr (profile_reading_stream_policy<S>) {
    if (prof != nullptr) return s.assign(g, order, prof);
  }
  return s.assign(g, order);
}

//! Renumbers streams in order of first use along `order` (stream 0 = stream of order[0]) and drops
//! unused ids. Throws bad_policy naming `who` when a node has no stream or an id >= num_streams.
inline void renumber_by_first_use(stream_assignment& a, std::span<const node_id> order, std::string_view who) {
  const std::size_t n = order.size();
  if (a.stream_of.size() != n)
    throw bad_policy("opara: stream policy " + std::string(who) + " assigned " + std::to_string(a.stream_of.size()) +
                     " streams for " + std::to_string(n) + " nodes");
  // New id of each stream, or no_node while unused. A policy may report far more streams than it
  // uses: past a few per node the map is a hash table, so that costs no memory per reported id.
  const bool dense = a.num_streams <= 2 * n + 64;
  std::vector<std::uint32_t> dense_map(dense ? a.num_streams : 0, no_node);
  std::unordered_map<stream_id, std::uint32_t> sparse_map;
  auto new_id = [&](stream_id s) -> std::uint32_t& {
    return dense ? dense_map[s] : sparse_map.try_emplace(s, no_node).first->second;
  };
  std::uint32_t next = 0;
  for (node_id v : order) {
    if (v >= n)
      throw bad_policy("opara: stream policy " + std::string(who) + " was given an order naming node " +
                       std::to_string(v) + " of a graph of " + std::to_string(n) + " nodes");
    const stream_id s = a.stream_of[v];
    if (s >= a.num_streams)
      throw bad_policy("opara: stream policy " + std::string(who) + " put node " + std::to_string(v) +
                       " on stream " + std::to_string(s) + " but reported " + std::to_string(a.num_streams) +
                       " streams");
    if (std::uint32_t& id = new_id(s); id == no_node) id = next++;
  }
  for (auto& s : a.stream_of) s = new_id(s);
  a.num_streams = next;
}

//! A compile-time "<prefix><P::name><suffix>" for names of policy adaptors such as capped<P>.
//! P::name must convert to std::string_view in a constant expression (it need not be one).
template <class P>
struct adaptor_name {
  static constexpr std::string_view prefix = "capped<";
  static constexpr std::string_view inner = P::name;
  static constexpr std::size_t size = prefix.size() + inner.size() + 1;
  static constexpr std::array<char, size> chars = [] {
    std::array<char, size> out{};
    std::size_t i = 0;
    for (char c : prefix) out[i++] = c;
    for (char c : inner) out[i++] = c;
    out[i] = '>';
    return out;
  }();
  static constexpr std::string_view value{chars.data(), size};
};

} // namespace detail
} // namespace opara
