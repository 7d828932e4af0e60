#pragma once
// The GPU tests' kernels, compiled once by nvcc (tests/support/kernels.cu, in the library
// opara_gpu_test_support) so that the tests themselves are C++ for the host compiler. A test
// launches one with gpu_test::launch(kernel, grid, block, shared_bytes, stream, args...), which is
// what kernel<<<grid, block, shared_bytes, stream>>>(args...) does: errors are left for
// cudaGetLastError(). Seen by the host compiler, a kernel here is the host function nvcc generates
// for it (same name, same signature), whose address names the kernel to cudaLaunchKernel.

#include <cuda_runtime.h>

#include <cstddef>
#include <tuple>
#include <utility>

#ifdef __CUDACC__
#define OPARA_TEST_KERNEL __global__
#else
#define OPARA_TEST_KERNEL
#endif

namespace gpu_test {

constexpr int max_inputs = 4;
struct inputs {
  const float* p[max_inputs];
  int count;
};

//! Up to eight inputs (tests/cuda/memory.cpp's operators).
struct op_inputs {
  const float* p[8];
  int count;
};

// out[i] = w * x0[i] + b for a root; out[i] = 0.5 sin(sum of inputs[i]) + w * x0[i] otherwise.
OPARA_TEST_KERNEL void combine_kernel(float* out, inputs in, const float* x0, float w, float b, int n);

// combine_kernel's function for operators that declare programmatic dependent launch: nothing
// global is touched before the wait. accumulate: out[i] += value. (tests/cuda/pdl.cpp)
OPARA_TEST_KERNEL void pdl_combine_kernel(float* out, inputs in, const float* x0, float w, float b, int n,
                                          int accumulate);

// One block spins for `ns` nanoseconds (globaltimer), then thread 0 writes 1 to *out.
OPARA_TEST_KERNEL void spin_ns(unsigned long long ns, float* out);

// One block spins for `ns` nanoseconds, then writes `value`, which proves it ran.
OPARA_TEST_KERNEL void spin_kernel(unsigned long long ns, float* out, float value);

// out[i] = value + i
OPARA_TEST_KERNEL void fill_kernel(float* out, float value, int n);

// Spins `spin` clock cycles, then reads its inputs: a late reader, the way a race shows.
OPARA_TEST_KERNEL void late_reader(float* out, op_inputs in, float c, long long spin, int n);

// The profiler's known kernels: 1024 bytes of static shared memory; dynamic shared memory; none.
OPARA_TEST_KERNEL void static_shared_kernel(float* out);
OPARA_TEST_KERNEL void dynamic_shared_kernel(float* out);
OPARA_TEST_KERNEL void plain_kernel(float* out, int n);

namespace cublas_kernels {
// A_k = base * (1 + k/4), exactly as the CPU computes it (one rounded multiply).
OPARA_TEST_KERNEL void scale_kernel(float* a_all, const float* base, int per, int count);
// out = sum over k of c_all[k], in order k = 0, 1, ...
OPARA_TEST_KERNEL void sum_kernel(float* out, const float* c_all, int per, int count);
} // namespace cublas_kernels

namespace update_kernels {
// output[i] = sum of the sinks' slots, in the order given.
OPARA_TEST_KERNEL void sum_kernel(float* out, const float* arena, const int* sinks, int count, int elems);
} // namespace update_kernels

#ifndef __CUDACC__
//! The kernel's address for the runtime's C API (cudaFuncGetAttributes, cudaOccupancy...).
template <class... P>
const void* symbol(void (*kernel)(P...)) {
  return reinterpret_cast<const void*>(kernel);
}

//! kernel<<<grid, block, shared_bytes, stream>>>(args...) for the host compiler: each argument is
//! converted to the kernel's parameter type; a failed launch is left for cudaGetLastError().
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
            A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "gpu_test::launch: wrong number of kernel arguments");
  std::tuple<P...> values{static_cast<P>(std::forward<A>(args))...};
  std::apply(
      [&](auto&... v) {
        void* pointers[] = {static_cast<void*>(&v)...};
        (void)cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, pointers, shared_bytes, stream);
      },
      values);
}
#endif

} // namespace gpu_test
