#pragma once
//! Policies name themselves. Every policy has a static `name` (its kind, recorded in plans); opara's
//! policies also have a member `label()` that adds the parameters that change what it does, so two
//! configurations of one policy can be told apart (autotune's candidate list, benchmark tables):
//!   sequential, opara_greedy, min_path_cover   -> the name
//!   round_robin{.streams = 4}                  -> "round_robin[4]"
//!   capped<P>{p, 8}                            -> "capped<" + label of p + ">[8]"
//!   program_order, critical_path_first, resource_aware -> the name
//! policy_label reads label() where a policy has one and falls back to its name, so user policies
//! need not define it.

#include <concepts>
#include <string>
#include <string_view>

namespace opara {

//! p.label() when P has one, else P::name.
template <class P>
  requires requires(const P& p) { { P::name } -> std::convertible_to<std::string_view>; }
[[nodiscard]] std::string policy_label(const P& p) {
  if constexpr (requires { { p.label() } -> std::convertible_to<std::string>; }) {
    return std::string(p.label());
  } else {
    return std::string(std::string_view(P::name));
  }
}

} // namespace opara
