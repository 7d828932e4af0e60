#pragma once
// The fields every bench's result JSON starts with: which GPU and driver it ran on, at which commit
// (OPARA_COMMIT, set by the scripts from the checkout), and when; and finding that GPU. One place
// for bench_suite, bench_anatomy, bench_pdl and bench_autotune.

#include <opara/cuda/runtime/device.hpp>
#include <opara/detail/json.hpp>

#include <cuda_runtime_api.h>

#include <opara/cuda/runtime/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace bench {

// The current UTC time as 2026-11-26T05:47:43Z.
inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The GPU a bench runs on: device 0's properties and the CUDA version its driver supports.
struct gpu_info {
  cudaDeviceProp prop{};
  int driver_version = 0;  // cudaDriverGetVersion (13000 = 13.0)
};

// Device 0's gpu_info, or std::nullopt after printing "<tool>: no CUDA device: <why>" (the bench
// then exits 77, which ctest and the scripts read as skipped). Throws cuda_error.
inline std::optional<gpu_info> find_gpu(const std::string& tool, const std::string& why) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    (void)cudaGetLastError();
    std::printf("%s: no CUDA device: %s\n", tool.c_str(), why.c_str());
    return std::nullopt;
  }
  gpu_info g;
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&g.prop, 0));
  OPARA_CUDA_CHECK(cudaDriverGetVersion(&g.driver_version));
  return g;
}

// Adds gpu, sm_count, driver_version (the CUDA version the driver supports, 13000 = 13.0), driver
// (the kernel module's release), date and commit to `doc`. `driver_version` is
// cudaDriverGetVersion's answer.
inline void add_result_header(opara::detail::json::value& doc, const cudaDeviceProp& prop, int driver_version) {
  doc["gpu"] = prop.name;
  doc["sm_count"] = prop.multiProcessorCount;
  doc["driver_version"] = driver_version;
  doc["driver"] = opara::cuda::driver_release();
  doc["date"] = utc_now();
  const char* commit = std::getenv("OPARA_COMMIT");
  doc["commit"] = commit ? commit : "unknown";
}

} // namespace bench
