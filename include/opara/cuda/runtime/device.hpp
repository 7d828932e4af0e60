#pragma once
//! What opara records about the machine it runs on: the current device's identity and limits (the
//! key and limits of a profile: name, SM count, UUID) and the NVIDIA kernel driver's release
//! ("580.159.04"), which cudaDriverGetVersion (the CUDA version the driver supports, 13000) does
//! not tell apart. The release is read on Linux only; elsewhere, or without the NVIDIA kernel
//! module, it is empty. Also which device a stream belongs to, and device_guard, which makes a
//! device current for a scope (executables and the scheduler use it, so the calling thread's
//! current device does not matter). Every function here may be called from any thread.

#include <opara/cuda/runtime/error.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace opara::cuda {

//! The device current on this thread. Throws cuda_error.
[[nodiscard]] inline int current_device() {
  int device = 0;
  OPARA_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

//! The properties of the current device. Throws cuda_error.
[[nodiscard]] inline cudaDeviceProp current_device_properties() {
  cudaDeviceProp properties{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&properties, current_device()));
  return properties;
}

//! A device's UUID as nvidia-smi prints it, "GPU-5c0e3a8e-1f2b-..." (what tells two boards of one
//! name apart).
[[nodiscard]] inline std::string uuid_string(const cudaUUID_t& uuid) {
  std::string out = "GPU-";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned>(static_cast<unsigned char>(uuid.bytes[i])));
    out += hex;
  }
  return out;
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

//! The key of a profile taken now, on the current device, for graph `g`, with the caller's own
//! key `user_key` (e.g. the input shape; "" for none). Throws bad_policy when user_key is not
//! valid UTF-8 (check_user_key), cuda_error.
[[nodiscard]] inline profile_key current_key(const opara::graph& g, std::string_view user_key = {}) {
  check_user_key(user_key);
  const cudaDeviceProp properties = current_device_properties();
  int driver = 0;
  OPARA_CUDA_CHECK(cudaDriverGetVersion(&driver));
  profile_key key;
  key.device_name = properties.name;
  key.sm_count = static_cast<std::uint32_t>(properties.multiProcessorCount);
  key.driver_version = driver;
  key.graph_fingerprint = fingerprint(g);
  key.device_uuid = uuid_string(properties.uuid);
  key.driver_release = driver_release();
  key.user_key = std::string(user_key);
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

//! True for the handles that name "the default stream of the current device" rather than one
//! stream: 0 (the legacy default stream), cudaStreamLegacy and cudaStreamPerThread.
[[nodiscard]] inline bool is_default_stream_handle(cudaStream_t s) noexcept {
  return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread;
}

//! The device `s` belongs to (cudaStreamGetDevice, CUDA >= 12.8), or nothing for the default-stream
//! handles (is_default_stream_handle), which belong to whichever device is current when they are
//! used. Before CUDA 12.8 the runtime cannot say, and this returns nothing for every stream.
//! Throws cuda_error (an invalid or destroyed stream).
[[nodiscard]] inline std::optional<int> device_of(cudaStream_t s) {
  if (is_default_stream_handle(s)) return std::nullopt;
#if CUDART_VERSION >= 12080
  int device = 0;
  OPARA_CUDA_CHECK(cudaStreamGetDevice(s, &device));
  return device;
#else
  return std::nullopt;
#endif
}

//! Makes `device` current on this thread for the guard's lifetime and restores the previous one
//! afterwards (nothing is changed when it is current already). Not movable. Throws cuda_error.
class device_guard {
public:
  explicit device_guard(int device) : previous_(current_device()) {
    if (device != previous_) {
      OPARA_CUDA_CHECK(cudaSetDevice(device));
      changed_ = true;
    }
  }
  //! No device change when `device` is empty (a default-stream handle: use the current device).
  explicit device_guard(std::optional<int> device) : device_guard(device.value_or(current_device())) {}
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;
  ~device_guard() {
    if (changed_) OPARA_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
  }

private:
  int previous_;
  bool changed_ = false;
};

} // namespace opara::cuda
