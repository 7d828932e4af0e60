#pragma once
//! What a result file says about the machine it came from: the NVIDIA kernel driver's release
//! ("580.159.04"), which cudaDriverGetVersion (the CUDA version the driver supports, 13000) does not
//! tell apart. Linux only; elsewhere, or without the NVIDIA kernel module, the release is empty.

#include <fstream>
#include <regex>
#include <string>

namespace opara::cuda {

//! The release of the loaded NVIDIA kernel module, read from /proc/driver/nvidia/version, or "" when
//! that file is missing or unreadable.
[[nodiscard]] inline std::string driver_release() {
  std::ifstream f("/proc/driver/nvidia/version");
  std::string line;
  if (!f || !std::getline(f, line)) return {};
  static const std::regex release(R"((\d+\.\d+(\.\d+)?))");
  std::smatch m;
  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue ..." : the first dotted number
  // after "Module" is the release.
  const auto at = line.find("Module");
  const std::string tail = at == std::string::npos ? line : line.substr(at);
  return std::regex_search(tail, m, release) ? m[1].str() : std::string{};
}

} // namespace opara::cuda
