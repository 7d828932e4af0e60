//! Definitions of the BF16 half of kernels/launch.hpp's sm_90 path: the one translation unit that
//! instantiates the wgmma kernels on bf16 tensors (every tile, the 1/3/5/7 square and generic windows,
//! no fused pool), the bf16 pools and the bf16 -> fp32 global average pool; compiled for sm_90a only,
//! beside launch_sm90.cu (fp32/TF32), so that neither recompiles the other.
#include <cuda_bf16.h>

#include "launch.hpp"

#include "conv_sm90.cuh"
#include "pool_nhwc.cuh"

namespace convnet::launch {

namespace {
static_assert(sizeof(kernels::bfloat16) == sizeof(__nv_bfloat16) && alignof(kernels::bfloat16) == alignof(__nv_bfloat16));
const __nv_bfloat16* dev(const kernels::bfloat16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }
__nv_bfloat16* dev(kernels::bfloat16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
} // namespace

cudaError_t conv_bias_relu_nhwc_bf16(const kernels::conv_shape& s, kernels::sm90_config c, bool fused_pool,
                                     const kernels::bfloat16* in, const kernels::bfloat16* w, const float* bias,
                                     kernels::bfloat16* out, cudaStream_t stream) {
  return kernels::sm90::conv_bias_relu_nhwc(s, c, fused_pool, dev(in), dev(w), bias, dev(out), stream);
}
cudaError_t conv_bias_relu_nhwc_bf16(const kernels::conv_shape& s, kernels::sm90_config c, const kernels::bfloat16* in,
                                     const kernels::bfloat16* w, const float* bias,
                                     const kernels::conv_output<kernels::bfloat16>* outs, int n_outs,
                                     cudaStream_t stream) {
  if (n_outs < 1 || n_outs > kernels::max_conv_outputs) return cudaErrorInvalidValue;
  kernels::conv_output<__nv_bfloat16> o[kernels::max_conv_outputs];
  for (int i = 0; i < n_outs; ++i) o[i] = {dev(outs[i].out), outs[i].cout, outs[i].c_off, outs[i].c_total};
  return kernels::sm90::conv_bias_relu_nhwc(s, c, false, dev(in), dev(w), bias, o, n_outs, stream);
}
cudaError_t pool_nhwc_bf16(const kernels::pool_shape& s, const kernels::bfloat16* in, kernels::bfloat16* out,
                           cudaStream_t stream) {
  return kernels::nhwc::pool(s, dev(in), dev(out), stream);
}
cudaError_t avg_pool_1x1_nhwc_bf16(int batch, int c, int hw, const kernels::bfloat16* in, float* out,
                                   cudaStream_t stream) {
  return kernels::nhwc::avg_pool_1x1(batch, c, hw, dev(in), out, stream);
}

} // namespace convnet::launch
