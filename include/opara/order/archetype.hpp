#pragma once
//! order::archetype: the least a launch order policy can be (as Boost.Graph's
//! graph_archetypes.hpp are for its graph concepts). It offers exactly what the concept
//! launch_order_policy (order/concept.hpp) requires and nothing more:
//!   - order(const graph&, const profile*) const -> std::vector<node_id>, a topological order;
//!   - a static `needs_profile`, a constant convertible to bool, of a type that is nothing else;
//!   - a static `name` convertible to std::string_view whose size() is a constant expression, of a
//!     type that offers only those two (no data(), no comparison);
//! and, of what every C++ object has, only a move constructor: it is not default constructible,
//! not copyable, not assignable, not comparable, and has no label() (policy_label falls back to
//! the name).
//!
//! Generic code that accepts a launch_order_policy should compile and work with it: tests
//! instantiate make_plan and make_plan_within with it (tests/compose/archetype.cpp). A function that
//! needs more than the concept fails to compile with it, which is the point. Functions that take
//! a policy by value (make_plan) need it move constructible: that is theirs to require, and the
//! archetype allows it.
//!
//! Its order: the graph's own topological order (as order::program_order); it needs no profile and
//! ignores one. Not meant for real plans.

#include <opara/order/concept.hpp>

#include <cstddef>
#include <string_view>
#include <vector>

namespace opara::order {

struct archetype {
  //! A name type: convertible to std::string_view, with a constant size(), and nothing else.
  struct name_type {
    constexpr operator std::string_view() const noexcept { return "archetype"; }  // NOLINT: implicit on purpose
    [[nodiscard]] constexpr std::size_t size() const noexcept { return std::string_view(*this).size(); }
  };
  static constexpr name_type name{};

  //! A flag type: a constant convertible to bool, and nothing else.
  struct flag_type {
    constexpr operator bool() const noexcept { return false; }  // NOLINT: implicit on purpose
  };
  static constexpr flag_type needs_profile{};

  //! The only way to make one (no default constructor).
  struct token {};
  constexpr explicit archetype(token) noexcept {}
  archetype(archetype&&) noexcept = default;
  archetype(const archetype&) = delete;
  archetype& operator=(const archetype&) = delete;
  archetype& operator=(archetype&&) = delete;
  ~archetype() = default;

  //! g.topological_order(); the profile is ignored. Never throws except std::bad_alloc.
  [[nodiscard]] std::vector<node_id> order(const graph& g, const profile* /*prof*/) const {
    const auto t = g.topological_order();
    return {t.begin(), t.end()};
  }
};

static_assert(launch_order_policy<archetype>);

} // namespace opara::order
