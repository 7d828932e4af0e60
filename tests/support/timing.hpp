#pragma once
// Timing helpers for tests that assert speed: the bounds only hold in optimized builds without
// sanitizers, so `timing_asserts` is false elsewhere and such checks are skipped.

#include <algorithm>
#include <chrono>
#include <vector>

namespace opara::test {

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
inline constexpr bool timing_asserts = true;
#else
inline constexpr bool timing_asserts = false;
#endif

// Median wall time of `reps` calls of f, in milliseconds.
template <class F>
double median_ms(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

} // namespace opara::test
