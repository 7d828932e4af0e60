#pragma once
//! The cp.async wrappers both convolution paths use: asynchronous global -> shared copies into a
//! shared-space address, zero-filled when `valid` is false (src-size 0: nothing is read), and the
//! commit / wait of copy groups.

#include <cuda_runtime.h>

#include <cstdint>

namespace convnet::kernels::detail {

//! 4 bytes, through L1.
__device__ __forceinline__ void cp_async4(std::uint32_t saddr, const void* gmem, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(saddr), "l"(gmem), "r"(valid ? 4 : 0));
}
//! 16 bytes, through L2 only (.cg): data a block reads once.
__device__ __forceinline__ void cp_async16(std::uint32_t saddr, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(saddr), "l"(gmem), "r"(valid ? 16 : 0));
}
//! 16 bytes, through L1 as well (.ca): data a block reads several times.
__device__ __forceinline__ void cp_async16_l1(std::uint32_t saddr, const void* gmem, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(saddr), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ std::uint32_t shared_address(const void* smem) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

} // namespace convnet::kernels::detail
