// The GPU tests' kernels (declared in kernels.hpp), compiled once by nvcc. Everything else of
// tests/ is host C++, so this file is also where nvcc compiles opara's CUDA headers, as a user's .cu
// file includes them.
#include "kernels.hpp"

#include <opara/cuda.hpp>
#include <opara/cuda/pdl.cuh>

#include <cstddef>

namespace gpu_test {

namespace {
__device__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
} // namespace

__global__ void combine_kernel(float* out, inputs in, const float* x0, float w, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  if (in.count == 0) {
    out[i] = w * x0[i] + b;
    return;
  }
  float s = 0;
  for (int k = 0; k < in.count; ++k) s += in.p[k][i];
  out[i] = 0.5f * sinf(s) + w * x0[i];
}

__global__ void pdl_combine_kernel(float* out, inputs in, const float* x0, float w, float b, int n, int accumulate) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  if (i >= n) return;
  float r;
  if (in.count == 0) {
    r = w * x0[i] + b;
  } else {
    float s = 0;
    for (int k = 0; k < in.count; ++k) s += in.p[k][i];
    r = 0.5f * sinf(s) + w * x0[i];
  }
  if (accumulate) out[i] += r;
  else out[i] = r;
}

__global__ void spin_ns(unsigned long long ns, float* out) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
  if (threadIdx.x == 0) *out = 1.0f;
}

__global__ void spin_kernel(unsigned long long ns, float* out, float value) {
  const unsigned long long t0 = global_ns();
  while (global_ns() - t0 < ns) {
  }
  if (threadIdx.x == 0) *out = value;
}

__global__ void fill_kernel(float* out, float value, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value + i;
}

__global__ void late_reader(float* out, op_inputs in, float c, long long spin, int n) {
  const long long start = clock64();
  while (clock64() - start < spin) {
  }
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = c;
  for (int k = 0; k < in.count; ++k) s += in.p[k][i];
  out[i] = 0.5f * sinf(s) + c;
}

__global__ void static_shared_kernel(float* out) {
  __shared__ float tile[256];  // 1024 bytes
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  tile[t % 256] = float(t);
  __syncthreads();
  out[(blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x * blockDim.y + t] = tile[(t + 1) % 256];
}

__global__ void dynamic_shared_kernel(float* out) {
  extern __shared__ float dyn[];
  dyn[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = dyn[(threadIdx.x + 1) % blockDim.x];
}

__global__ void plain_kernel(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 2.f * i;
}

namespace cublas_kernels {
__global__ void scale_kernel(float* a_all, const float* base, int per, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= per) return;
  for (int k = 0; k < count; ++k) a_all[std::size_t(k) * per + i] = base[i] * (1.0f + 0.25f * k);
}

__global__ void sum_kernel(float* out, const float* c_all, int per, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= per) return;
  float s = 0;
  for (int k = 0; k < count; ++k) s += c_all[std::size_t(k) * per + i];
  out[i] = s;
}
} // namespace cublas_kernels

namespace update_kernels {
__global__ void sum_kernel(float* out, const float* arena, const int* sinks, int count, int elems) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= elems) return;
  float s = 0;
  for (int k = 0; k < count; ++k) s += arena[std::size_t(sinks[k]) * elems + i];
  out[i] = s;
}
} // namespace update_kernels

} // namespace gpu_test
