#pragma once
//! Per-operator resource records: what the launch-order policies read, what the CUPTI profiler
//! (opara/cuda) fills in, and what can also be written by hand or loaded from JSON.

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace opara {

//! Whether an operator is limited by memory bandwidth or by arithmetic (Opara's two ready queues).
enum class boundness : std::uint8_t { unknown, memory, compute };

//! One kernel launched by an operator, as CUPTI reports it.
struct kernel_record {
  std::string name;                             //!< demangled kernel name
  std::array<std::uint32_t, 3> grid{1, 1, 1};   //!< blocks per grid
  std::array<std::uint32_t, 3> block{1, 1, 1};  //!< threads per block
  std::uint32_t registers_per_thread = 0;
  std::uint32_t static_shared_bytes = 0;        //!< per block
  std::uint32_t dynamic_shared_bytes = 0;       //!< per block
  double duration_us = 0;                       //!< measured kernel duration
  double occupancy = 0;                         //!< theoretical occupancy from device limits, 0..1 (0: unknown)

  //! Total shared memory one block of this kernel needs (64-bit: two 32-bit fields never wrap).
  [[nodiscard]] std::uint64_t shared_bytes() const noexcept {
    return std::uint64_t{static_shared_bytes} + dynamic_shared_bytes;
  }
  //! Blocks in the grid (saturates at 2^64 - 1 instead of wrapping, for hand-written profiles).
  [[nodiscard]] std::uint64_t blocks() const noexcept { return volume(grid); }
  //! Threads in one block (saturates like blocks()).
  [[nodiscard]] std::uint64_t threads_per_block() const noexcept { return volume(block); }

private:
  static std::uint64_t volume(const std::array<std::uint32_t, 3>& d) noexcept {
    const std::uint64_t area = std::uint64_t{d[0]} * d[1];  // < 2^64 for 32-bit factors
    if (d[2] != 0 && area > std::numeric_limits<std::uint64_t>::max() / d[2]) return std::numeric_limits<std::uint64_t>::max();
    return area * d[2];
  }
};

//! Everything known about one operator.
struct operator_record {
  std::vector<kernel_record> kernels;  //!< in launch order
  double duration_us = 0;              //!< operator time (sum of its kernels, or event-timed)
  boundness bound = boundness::unknown;
};

//! The limits of the device a profile was taken on (cudaDeviceProp fields).
struct device_limits {
  std::uint32_t sm_count = 0;
  std::uint32_t shared_bytes_per_block = 0;  //!< opt-in maximum (sharedMemPerBlockOptin)
  std::uint32_t shared_bytes_per_sm = 0;
  std::uint32_t registers_per_sm = 0;
  std::uint32_t max_threads_per_sm = 0;
  std::uint32_t max_blocks_per_sm = 0;
};

//! Identifies the device, driver and graph a profile (or an autotune choice) belongs to; it is
//! reused only when every field matches. Two boards of one name differ in device_uuid; a driver
//! update changes driver_release even when driver_version (the CUDA version it supports) stays.
struct profile_key {
  std::string device_name;
  std::uint32_t sm_count = 0;
  std::int32_t driver_version = 0; //!< cudaDriverGetVersion (13000 = CUDA 13.0)
  std::string graph_fingerprint;   //!< opara::fingerprint of the graph
  std::string device_uuid{};       //!< cudaDeviceProp::uuid, "GPU-xxxxxxxx-xxxx-..." as nvidia-smi prints it
  std::string driver_release{};    //!< the kernel driver's release ("580.159.04"; "" where unknown)
  std::string user_key{};          //!< the caller's own key (e.g. the input shape, which the graph's
                                   //!< fingerprint cannot see); "" when none is given

  friend bool operator==(const profile_key&, const profile_key&) = default;
};

//! A whole model's profile: one operator_record per node id.
struct profile {
  profile_key key;
  device_limits limits;
  std::string source = "manual";  //!< "cupti", "events" (durations only) or "manual"
  std::vector<operator_record> ops;
};

} // namespace opara
