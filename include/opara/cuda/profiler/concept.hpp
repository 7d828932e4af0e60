#pragma once
//! What a profiler policy is (the fourth policy of opara::scheduler): how a graph's operators are
//! measured before planning.
//!
//!   static constexpr std::string_view name;
//!   static constexpr bool measures;      // false: never measures (profiler::none)
//!   static profile measure(const G&, const opara::graph& compact, cudaStream_t,
//!                          const profiler::options&);            // only when `measures`
//!
//! opara's are profiler::cupti (cupti.hpp, link opara::cupti; the scheduler's default),
//! profiler::events (events.hpp) and profiler::none (none.hpp); archetype.hpp is the least one.

#include <opara/cuda/profiler/options.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <concepts>
#include <string_view>

namespace opara::profiler {

//! A profiler policy (see the file comment): named, says whether it measures, and measures G
//! when it does.
template <class P, class G>
concept profiler_policy =
    cuda_operator_graph<G> && requires {
      { P::name } -> std::convertible_to<std::string_view>;
      { P::measures } -> std::convertible_to<bool>;
    } && (!P::measures || requires(const G& g, const opara::graph& compact, cudaStream_t stream, const options& o) {
      { P::measure(g, compact, stream, o) } -> std::same_as<opara::profile>;
    });

//! The default profiler of opara::scheduler, defined in cupti.hpp (which needs CUPTI: link
//! opara::cupti). Declared here so that the scheduler can name it as its default while a program
//! that links opara::cuda alone names another profiler.
struct cupti;

//! True when T is a complete type here (profiler::cupti is only when cupti.hpp is included).
template <class T>
concept defined = requires { sizeof(T); };

} // namespace opara::profiler
