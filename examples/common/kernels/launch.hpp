#pragma once
//! Host-compiler view of the examples' kernels: plain function declarations, defined in
//! kernels/launch.cu (built by nvcc), so that the engine and the programs that use opara compile
//! with the host C++ compiler. Each returns the launch's error and never throws (it may run
//! inside stream capture).

#include <cuda_runtime_api.h>

#include "shapes.hpp"

namespace convnet::launch {

//! The split-K rule conv_bias_relu applies (kernels::split_k_rule's defaults; the environment
//! variables GOOGLENET_SPLITK (max splits, 1 = off), GOOGLENET_SPLITK_BLOCKS (blocks * splits cap)
//! and GOOGLENET_SPLITK_PIXELS (pixel cap) override them, read once).
const kernels::split_k_rule& split_rule();
//! out[:, c_off:c_off+cout] = relu(conv(in, w) + bias); w is [cout][k_pad] (see conv_shape).
//! Split-K (kernels::conv_splits under split_rule()) for layers with few blocks and a long K.
cudaError_t conv_bias_relu(const kernels::conv_shape& s, kernels::conv_tile t, kernels::conv_precision p,
                           const float* in, const float* w, const float* bias, float* out, cudaStream_t stream);
//! The same with the split count given, for tests and tuning tools: 0 = kernels::conv_splits(s, t)
//! under the default rule (no environment), n = split-K over a cluster of n blocks (1 to 8, clamped
//! to the K steps).
cudaError_t conv_bias_relu(const kernels::conv_shape& s, kernels::conv_tile t, kernels::conv_precision p,
                           const float* in, const float* w, const float* bias, float* out, cudaStream_t stream,
                           int splits);
//! Max or average pooling into a channel slice (PyTorch's ceil_mode, padding and count_include_pad rules).
cudaError_t pool(const kernels::pool_shape& s, const float* in, float* out, cudaStream_t stream);
//! Adaptive average pooling to 1x1.
cudaError_t avg_pool_1x1(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream);
//! out[b][j] = bias[j] + in[b] . w[j]; k % 4 == 0, 16-byte aligned pointers.
cudaError_t linear(int batch, int k, int n, const float* in, const float* w, const float* bias, float* out,
                   cudaStream_t stream);

// --- The sm_90 path (NHWC tensors; kernels/launch_sm90.cu, built for sm_90a) ---------------------

//! True when `device` has compute capability 9.0 (the sm_90a kernels run there and nowhere else).
inline bool sm90_supported(int device) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
    return false;
  return major == 9 && minor == 0;
}
//! out[p, c_off:c_off+cout] = relu(conv(in, w) + bias) over NHWC tensors on the wgmma kernel; w is
//! [cout][kh][kw][cin4] padded to k_pad_nhwc(). fused_pool: 3x3/s1/p1 max pool of `in` first.
cudaError_t conv_bias_relu_nhwc(const kernels::conv_shape& s, kernels::sm90_config c, bool fused_pool,
                                const float* in, const float* w, const float* bias, float* out, cudaStream_t stream);
//! Horizontal fusion: one GEMM of s (s.cout = the outputs' couts summed) over stacked weights and
//! biases, output i taking the next outs[i].cout channels into its own tensor (kernels::conv_output;
//! at most kernels::max_conv_outputs, every cout but the last a multiple of 4). 1x1 windows only
//! (any other: cudaErrorInvalidValue); no fused pool.
cudaError_t conv_bias_relu_nhwc(const kernels::conv_shape& s, kernels::sm90_config c, const float* in, const float* w,
                                const float* bias, const kernels::conv_output<float>* outs, int n_outs,
                                cudaStream_t stream);
//! Max or average pooling of an NHWC tensor into a channel slice (channels multiples of 4).
cudaError_t pool_nhwc(const kernels::pool_shape& s, const float* in, float* out, cudaStream_t stream);
//! Adaptive average pooling of an NHWC tensor to 1x1 ([batch][c]).
cudaError_t avg_pool_1x1_nhwc(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream);

// --- The sm_90 path in BF16 (kernels/launch_sm90_bf16.cu): bf16 tensors and weights, fp32 accumulation -

//! conv_bias_relu_nhwc on bf16 tensors: input pixels store cin8 channels (zeros past cin), w is
//! [cout][kh][kw][cin8] bf16 padded to k_pad_nhwc(conv_precision::bf16), bias fp32, the output rounded
//! to bf16 (nearest even); c_off and c_total multiples of 8. No fused pool (cudaErrorInvalidValue).
cudaError_t conv_bias_relu_nhwc_bf16(const kernels::conv_shape& s, kernels::sm90_config c, bool fused_pool,
                                     const kernels::bfloat16* in, const kernels::bfloat16* w, const float* bias,
                                     kernels::bfloat16* out, cudaStream_t stream);
//! The horizontally fused conv_bias_relu_nhwc on bf16 tensors (every cout but the last, c_off and
//! c_total multiples of 8).
cudaError_t conv_bias_relu_nhwc_bf16(const kernels::conv_shape& s, kernels::sm90_config c, const kernels::bfloat16* in,
                                     const kernels::bfloat16* w, const float* bias,
                                     const kernels::conv_output<kernels::bfloat16>* outs, int n_outs,
                                     cudaStream_t stream);
//! pool_nhwc on bf16 tensors (channels, c_off and c_total multiples of 8; arithmetic in fp32).
cudaError_t pool_nhwc_bf16(const kernels::pool_shape& s, const kernels::bfloat16* in, kernels::bfloat16* out,
                           cudaStream_t stream);
//! avg_pool_1x1_nhwc of a bf16 tensor (c a multiple of 8), summed in fp32, fp32 output ([batch][c]).
cudaError_t avg_pool_1x1_nhwc_bf16(int batch, int c, int hw, const kernels::bfloat16* in, float* out,
                                   cudaStream_t stream);

} // namespace convnet::launch
