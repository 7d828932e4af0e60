//! Definitions of kernels/launch.hpp: the one translation unit that instantiates the kernels.
#include "launch.hpp"

#include "conv.cuh"
#include "pool.cuh"

namespace googlenet::launch {

cudaError_t conv_bias_relu(const kernels::conv_shape& s, kernels::conv_tile t, kernels::conv_precision p,
                           const float* in, const float* w, const float* bias, float* out, cudaStream_t stream) {
  return kernels::conv_bias_relu(s, t, p, in, w, bias, out, stream);
}
cudaError_t max_pool(const kernels::pool_shape& s, const float* in, float* out, cudaStream_t stream) {
  return kernels::max_pool(s, in, out, stream);
}
cudaError_t avg_pool_1x1(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream) {
  return kernels::avg_pool_1x1(batch, c, hw, in, out, stream);
}
cudaError_t linear(int batch, int k, int n, const float* in, const float* w, const float* bias, float* out,
                   cudaStream_t stream) {
  return kernels::linear(batch, k, n, in, w, bias, out, stream);
}

} // namespace googlenet::launch
