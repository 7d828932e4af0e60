#pragma once
//! One launch of a split-K kernel: gridDim.z = splits blocks of one thread-block cluster (1x1xsplits)
//! cooperate on each output tile (both convolution paths reduce their partial tiles through
//! distributed shared memory). Plain launch when splits == 1.

#include <cuda_runtime.h>

#include <cstddef>

namespace googlenet::kernels::detail {

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

} // namespace googlenet::kernels::detail
