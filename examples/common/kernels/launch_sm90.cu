//! Definitions of the sm_90 half of kernels/launch.hpp: the one translation unit that instantiates
//! the wgmma kernels, compiled for sm_90a only (-gencode=arch=compute_90a,code=sm_90a).
#include "launch.hpp"

#include "conv_sm90.cuh"
#include "pool_nhwc.cuh"

namespace convnet::launch {

cudaError_t conv_bias_relu_nhwc(const kernels::conv_shape& s, kernels::sm90_config c, bool fused_pool,
                                const float* in, const float* w, const float* bias, float* out, cudaStream_t stream) {
  return kernels::sm90::conv_bias_relu_nhwc(s, c, fused_pool, in, w, bias, out, stream);
}
cudaError_t conv_bias_relu_nhwc(const kernels::conv_shape& s, kernels::sm90_config c, const float* in, const float* w,
                                const float* bias, const kernels::conv_output<float>* outs, int n_outs,
                                cudaStream_t stream) {
  return kernels::sm90::conv_bias_relu_nhwc(s, c, false, in, w, bias, outs, n_outs, stream);
}
cudaError_t pool_nhwc(const kernels::pool_shape& s, const float* in, float* out, cudaStream_t stream) {
  return kernels::nhwc::pool(s, in, out, stream);
}
cudaError_t avg_pool_1x1_nhwc(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream) {
  return kernels::nhwc::avg_pool_1x1(batch, c, hw, in, out, stream);
}

} // namespace convnet::launch
