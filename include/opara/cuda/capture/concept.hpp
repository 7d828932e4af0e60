#pragma once
//! What a capture policy is (the third policy of opara::scheduler): a type that turns a graph and
//! its plan into an executable, launched on a stream.
//!
//!   static constexpr std::string_view name;   // recorded in capture_stats, part of its key
//!   executable capture(const G&, const opara::graph& compact, const plan&, cudaStream_t,
//!                      const capture::options&) const;   // `compact`: the graph already converted
//!   // or, for a policy that never needs the converted graph:
//!   executable capture(const G&, const plan&, cudaStream_t, const capture::options&) const;
//!   std::string label() const;                 // optional: name plus parameters (policy_label)
//!   capture::key key(const capture::options&) const;  // optional: make_key(label, options)
//!
//! capture/archetype.hpp is the least type that is one; capture/detail/common.hpp holds what
//! opara's own policies share (fork/join launching, capture checks, instantiation), and
//! cuda::launch_guarded (runtime/launch.hpp) launches one operator the way they do.
//!
//! Threads: capture() may be called on one policy object from several threads at once.

#include <opara/cuda/capture/options.hpp>
#include <opara/cuda/runtime/executable.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/policy/label.hpp>
#include <opara/plan/plan.hpp>

#include <cuda_runtime_api.h>

#include <concepts>
#include <string_view>

namespace opara::capture {

//! C captures the converted graph (the 5-argument capture()): the scheduler passes the
//! opara::graph it converted once.
template <class C, class G>
concept captures_compact = requires(const C& c, const G& g, const opara::graph& compact, const plan& p, cudaStream_t s,
                                    const options& o) {
  { c.capture(g, compact, p, s, o) } -> std::same_as<executable>;
};

//! A capture policy for graphs of type G (see the file comment).
template <class C, class G>
concept capture_policy =
    cuda_operator_graph<G> && requires {
      { C::name } -> std::convertible_to<std::string_view>;
    } && (captures_compact<C, G> || requires(const C& c, const G& g, const plan& p, cudaStream_t s, const options& o) {
      { c.capture(g, p, s, o) } -> std::same_as<executable>;
    });

//! Captures g (converted: `compact`) as planned by p with policy c: the converted graph goes to a
//! policy that takes it. Throws what c.capture throws.
template <class C, class G>
  requires capture_policy<C, G>
[[nodiscard]] executable capture_with(const C& c, const G& g, const opara::graph& compact, const plan& p,
                                      cudaStream_t s, const options& o) {
  if constexpr (captures_compact<C, G>) return c.capture(g, compact, p, s, o);
  else return c.capture(g, p, s, o);
}

//! The key of capturing with policy c and options o: c.key(o) where c has one, else
//! make_key(policy_label(c), o).
template <class C>
[[nodiscard]] key key_of(const C& c, const options& o) {
  if constexpr (requires { { c.key(o) } -> std::convertible_to<key>; }) return c.key(o);
  else return make_key(policy_label(c), o);
}

} // namespace opara::capture
