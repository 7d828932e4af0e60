#pragma once
//! How a profiler runs the graph (profiler::options, part of scheduler_options and
//! autotune_options), and the error a profiler throws when it cannot measure as asked.
//! Needs no CUDA header.

#include <opara/error.hpp>

#include <string>

namespace opara::profiler {

//! How a profiler runs the graph.
struct options {
  int warmup = 1;      //!< unprofiled runs first (module loading, allocator warm-up); at least 0
  int iterations = 3;  //!< profiled runs; durations are averaged over them; at least 1
  bool nvtx = false;   //!< an NVTX range per operator
  bool require_cupti = false;  //!< profiler::cupti throws profiler::unavailable instead of falling
                               //!< back to event timing when CUPTI cannot be used (another CUPTI
                               //!< client, no permission)
};

//! profiler::cupti could not use CUPTI and options::require_cupti forbade the event-timing
//! fallback. The message says why (e.g. another CUPTI client, such as Nsight Systems, holds it).
class unavailable : public error {
public:
  using error::error;
};

//! Throws bad_policy naming the field when `o` cannot be carried out.
inline void check_options(const options& o) {
  if (o.warmup < 0) {
    std::string why = "opara: profiler::options::warmup is ";
    why += std::to_string(o.warmup);
    why += "; it must be 0 or more";
    throw bad_policy(why);
  }
  if (o.iterations < 1) {
    std::string why = "opara: profiler::options::iterations is ";
    why += std::to_string(o.iterations);
    why += "; at least one profiled run is needed";
    throw bad_policy(why);
  }
}

} // namespace opara::profiler

namespace opara::cuda {
using profiler_options [[deprecated("use opara::profiler::options")]] = profiler::options;
using profiler_unavailable [[deprecated("use opara::profiler::unavailable")]] = profiler::unavailable;
[[deprecated("use opara::profiler::check_options")]] inline void check_profiler_options(const profiler::options& o) {
  profiler::check_options(o);
}
} // namespace opara::cuda
