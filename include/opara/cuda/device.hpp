#pragma once
//! What opara records about the machine it runs on: the current device's identity and limits (the
//! key and limits of a profile) and the NVIDIA kernel driver's release ("580.159.04"), which
//! cudaDriverGetVersion (the CUDA version the driver supports, 13000) does not tell apart. The
//! release is read on Linux only; elsewhere, or without the NVIDIA kernel module, it is empty.

#include <opara/cuda/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <fstream>
#include <regex>
#include <string>

namespace opara::cuda {

//! The properties of the current device. Throws cuda_error.
[[nodiscard]] inline cudaDeviceProp current_device_properties() {
  int device = 0;
  OPARA_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  return properties;
}

//! The key of a profile taken now, on the current device, for graph `g`. Throws cuda_error.
[[nodiscard]] inline profile_key current_key(const opara::graph& g) {
  const cudaDeviceProp properties = current_device_properties();
  int driver = 0;
  OPARA_CUDA_CHECK(cudaDriverGetVersion(&driver));
  profile_key key;
  key.device_name = properties.name;
  key.sm_count = static_cast<std::uint32_t>(properties.multiProcessorCount);
  key.driver_version = driver;
  key.graph_fingerprint = fingerprint(g);
  return key;
}

//! The current device's limits as a profile records them. Throws cuda_error.
[[nodiscard]] inline device_limits current_limits() {
  const cudaDeviceProp properties = current_device_properties();
  device_limits limits;
  limits.sm_count = static_cast<std::uint32_t>(properties.multiProcessorCount);
  limits.shared_bytes_per_block = static_cast<std::uint32_t>(properties.sharedMemPerBlockOptin);
  limits.shared_bytes_per_sm = static_cast<std::uint32_t>(properties.sharedMemPerMultiprocessor);
  limits.registers_per_sm = static_cast<std::uint32_t>(properties.regsPerMultiprocessor);
  limits.max_threads_per_sm = static_cast<std::uint32_t>(properties.maxThreadsPerMultiProcessor);
  limits.max_blocks_per_sm = static_cast<std::uint32_t>(properties.maxBlocksPerMultiProcessor);
  return limits;
}

//! The release of the loaded NVIDIA kernel module, read from /proc/driver/nvidia/version, or "" when
//! that file is missing or unreadable.
[[nodiscard]] inline std::string driver_release() {
  std::ifstream file("/proc/driver/nvidia/version");
  std::string line;
  if (!file || !std::getline(file, line)) return {};
  static const std::regex release(R"((\d+\.\d+(\.\d+)?))");
  std::smatch match;
  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue ..." : the first dotted number
  // after "Module" is the release.
  const auto module_at = line.find("Module");
  const std::string tail = module_at == std::string::npos ? line : line.substr(module_at);
  return std::regex_search(tail, match, release) ? match[1].str() : std::string{};
}

} // namespace opara::cuda
