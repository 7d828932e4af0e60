#pragma once
//! Launch helpers shared by both convolution paths: the dynamic shared-memory opt-in, per device, and
//! one launch of a split-K kernel, gridDim.z = splits blocks of one thread-block cluster (1x1xsplits)
//! cooperating on each output tile (both paths reduce their partial tiles through distributed shared
//! memory). Plain launch when splits == 1.

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace convnet::kernels::detail {

//! Lets kernel Fn use `bytes` of dynamic shared memory on the current device. The attribute belongs to
//! the device's context, so it is set once per device (devices 0-63; others on every call), not once
//! per process: a second GPU of the same process gets it too.
template <auto Fn>
inline cudaError_t allow_dynamic_smem(int bytes) {
  static std::atomic<std::uint64_t> done{0};
  int device = 0;
  if (const cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) return e;
  const std::uint64_t bit = device < 64 ? std::uint64_t{1} << device : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit) != 0) return cudaSuccess;
  const cudaError_t e = cudaFuncSetAttribute(Fn, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) done.fetch_or(bit, std::memory_order_acq_rel);
  return e;
}

template <class... Params, class... Args>
inline cudaError_t launch_split_k(void (*fn)(Params...), dim3 grid_xy, unsigned threads, int smem_bytes, int splits,
                                  cudaStream_t stream, Args... args) {
  const dim3 grid(grid_xy.x, grid_xy.y, static_cast<unsigned>(splits));
  if (splits == 1) {
    fn<<<grid, threads, static_cast<std::size_t>(smem_bytes), stream>>>(args...);
    return cudaGetLastError();
  }
  if (splits < 1 || splits > 8) return cudaErrorInvalidValue;  // 8: the portable cluster size
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = static_cast<std::size_t>(smem_bytes);
  cfg.stream = stream;
  cudaLaunchAttribute cluster[1];
  cluster[0].id = cudaLaunchAttributeClusterDimension;
  cluster[0].val.clusterDim.x = 1;
  cluster[0].val.clusterDim.y = 1;
  cluster[0].val.clusterDim.z = static_cast<unsigned>(splits);
  cfg.attrs = cluster;
  cfg.numAttrs = 1;
  return cudaLaunchKernelEx(&cfg, fn, args...);
}

} // namespace convnet::kernels::detail
