#pragma once
// Command-line helpers the benches share.

#include <string>

namespace bench {

// True when `only` is empty or names `name` in its comma-separated list (--only a,b,c).
inline bool wanted(const std::string& only, const std::string& name) {
  return only.empty() || ("," + only + ",").find("," + name + ",") != std::string::npos;
}

} // namespace bench
