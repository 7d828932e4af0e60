#pragma once
//! profiler::none: never measures (needs no CUPTI and no GPU time).

#include <string_view>

namespace opara::profiler {

//! Never measures: plans use the profile the caller gives, the one saved at
//! scheduler_options::profile_path (taken earlier, say with CUPTI, on this device for this graph),
//! or none (an order policy that needs one then throws bad_policy).
struct none {
  static constexpr std::string_view name = "none";
  static constexpr bool measures = false;
};

} // namespace opara::profiler
