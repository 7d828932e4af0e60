//! Definitions of kernels/launch.hpp: the one translation unit that instantiates the kernels.
#include "launch.hpp"

#include <algorithm>
#include <cstdlib>

#include "conv.cuh"
#include "pool.cuh"

namespace convnet::launch {

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}
} // namespace

const kernels::split_k_rule& split_rule() {
  static const kernels::split_k_rule r = [] {
    kernels::split_k_rule x;
    x.max_splits = std::max(1, std::min(8, env_int("GOOGLENET_SPLITK", x.max_splits)));
    x.max_blocks = env_int("GOOGLENET_SPLITK_BLOCKS", static_cast<int>(x.max_blocks));
    x.max_pixels = env_int("GOOGLENET_SPLITK_PIXELS", static_cast<int>(x.max_pixels));
    return x;
  }();
  return r;
}

cudaError_t conv_bias_relu(const kernels::conv_shape& s, kernels::conv_tile t, kernels::conv_precision p,
                           const float* in, const float* w, const float* bias, float* out, cudaStream_t stream) {
  return kernels::conv_bias_relu(s, t, p, in, w, bias, out, stream, kernels::conv_splits(s, t, split_rule()));
}
cudaError_t conv_bias_relu(const kernels::conv_shape& s, kernels::conv_tile t, kernels::conv_precision p,
                           const float* in, const float* w, const float* bias, float* out, cudaStream_t stream,
                           int splits) {
  return kernels::conv_bias_relu(s, t, p, in, w, bias, out, stream, splits);
}
cudaError_t pool(const kernels::pool_shape& s, const float* in, float* out, cudaStream_t stream) {
  return kernels::pool(s, in, out, stream);
}
cudaError_t avg_pool_1x1(int batch, int c, int hw, const float* in, float* out, cudaStream_t stream) {
  return kernels::avg_pool_1x1(batch, c, hw, in, out, stream);
}
cudaError_t linear(int batch, int k, int n, const float* in, const float* w, const float* bias, float* out,
                   cudaStream_t stream) {
  return kernels::linear(batch, k, n, in, w, bias, out, stream);
}

} // namespace convnet::launch
