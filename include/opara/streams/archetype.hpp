#pragma once
//! streams::archetype: the least a stream allocation policy can be (as Boost.Graph's
//! graph_archetypes.hpp are for its graph concepts). It offers exactly what the concept
//! stream_allocation_policy (streams/concept.hpp) requires and nothing more:
//!   - assign(const graph&, std::span<const node_id> order) const -> stream_assignment;
//!   - a static `name` convertible to std::string_view, of a type that is nothing else (no size(),
//!     no data(), no comparison: code that needs a string_view must convert);
//! and, of what every C++ object has, only a move constructor: it is not default constructible,
//! not copyable, not assignable, not comparable, has no label() (policy_label falls back to the
//! name) and no profile-reading assign.
//!
//! Generic code that accepts a stream_allocation_policy should compile and work with it: tests
//! instantiate make_plan, make_plan_within and capped<> with it (tests/compose/archetype.cpp). A
//! function that needs more than the concept (a default-constructed policy, a copy) fails to
//! compile with it, which is the point. Functions that take a policy by value (make_plan) need it
//! move constructible: that is theirs to require, and the archetype allows it.
//!
//! Its streams: the operator at launch position i goes on stream i % 2 (two streams, so plans made
//! with it have cross-stream waits to compute). Not meant for real plans.

#include <opara/streams/concept.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace opara::streams {

struct archetype {
  //! A name type convertible to std::string_view and nothing else.
  struct name_type {
    constexpr operator std::string_view() const noexcept { return "archetype"; }  // NOLINT: implicit on purpose
  };
  static constexpr name_type name{};

  //! The only way to make one (no default constructor).
  struct token {};
  constexpr explicit archetype(token) noexcept {}
  archetype(archetype&&) noexcept = default;
  archetype(const archetype&) = delete;
  archetype& operator=(const archetype&) = delete;
  archetype& operator=(archetype&&) = delete;
  ~archetype() = default;

  //! Position i of `order` on stream i % 2. Never throws except std::bad_alloc.
  [[nodiscard]] stream_assignment assign(const graph& g, std::span<const node_id> order) const {
    stream_assignment a{std::vector<stream_id>(g.num_nodes(), 0), order.size() < 2 ? 1u : 2u};
    for (std::size_t i = 0; i < order.size(); ++i) a.stream_of[order[i]] = static_cast<stream_id>(i % 2);
    return a;
  }
};

static_assert(stream_allocation_policy<archetype>);
static_assert(!profile_reading_stream_policy<archetype>);

} // namespace opara::streams
