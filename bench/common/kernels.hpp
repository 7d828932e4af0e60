#pragma once
// The benchmarks' kernels, compiled once by nvcc (bench/common/kernels.cu, in the library
// opara_bench_kernels) so that the benchmarks themselves are C++ for the host compiler (as tests/
// is: tests/support/kernels.hpp). A benchmark launches one with bench::launch(kernel, grid, block,
// shared_bytes, stream, args...), which is what kernel<<<grid, block, shared_bytes, stream>>>(args...)
// does: errors are left for cudaGetLastError(). Seen by the host compiler, a kernel here is the host
// function nvcc generates for it (same name, same signature), whose address names the kernel to the
// runtime (cudaLaunchKernel, cudaFuncSetAttribute). A new kernel goes into these two files.

#include <cuda_runtime.h>

#include <cstddef>
#include <tuple>
#include <utility>

#ifdef __CUDACC__
#define OPARA_BENCH_KERNEL __global__
#else
#define OPARA_BENCH_KERNEL
#endif

namespace bench {

// A node's timeline in one replay (bench_anatomy), in %globaltimer nanoseconds: the first block's
// entry (dispatch), the first block past wait_for_producers, the last block's end of work. Reset
// before each replay (entry and begin to ~0, end to 0); a null pointer records nothing.
struct stamp {
  unsigned long long entry, begin, end;
};

// --- the suite's synthetic kernels (bench/suite/synthetic.hpp) ----------------------------------
// All keep the programmatic-dependent-launch contract (opara/cuda/runtime/pdl.cuh): every block
// waits for its producers before it starts and lets its dependents launch once its work is done.

// Spins for `cycles` SM cycles, holding its dynamic shared memory and 8, 32 or 64 live registers
// per thread.
OPARA_BENCH_KERNEL void spin_kernel8(long long cycles, float* sink, stamp* st);
OPARA_BENCH_KERNEL void spin_kernel32(long long cycles, float* sink, stamp* st);
OPARA_BENCH_KERNEL void spin_kernel64(long long cycles, float* sink, stamp* st);

// Streams n4 float4s: dst = src * a + b, grid-stride.
OPARA_BENCH_KERNEL void stream_kernel(const float4* __restrict__ src, float4* __restrict__ dst, std::size_t n4,
                                      stamp* st);

// Does nothing but keep the PDL contract: the skeleton of a workload (bench/suite/floors.hpp) runs
// it with each profiled kernel's grid, block and shared memory.
OPARA_BENCH_KERNEL void empty_kernel();

// --- bench_pdl (bench/pdl/pdl.cpp) ---------------------------------------------------------------
namespace pdl_kernels {
OPARA_BENCH_KERNEL void empty_kernel();
OPARA_BENCH_KERNEL void empty_pdl_kernel();
// One thread increments the counter: each kernel reads what the previous one wrote.
OPARA_BENCH_KERNEL void tick_kernel(int* counter);
OPARA_BENCH_KERNEL void tick_pdl_kernel(int* counter);
// Spins about `ns` nanoseconds (%globaltimer) between the PDL wait and the trigger; writes nothing.
OPARA_BENCH_KERNEL void spin_pdl_kernel(long long ns);
} // namespace pdl_kernels

// --- bench_anatomy (bench/suite/anatomy.cpp) -----------------------------------------------------
namespace anatomy_kernels {
// Smallest positive step of %globaltimer seen by one thread over 4096 reads (its resolution).
OPARA_BENCH_KERNEL void timer_steps(unsigned long long* out);
// *t = %globaltimer
OPARA_BENCH_KERNEL void mark(unsigned long long* t);
} // namespace anatomy_kernels

// --- bench_update (bench/update/update.cpp) ------------------------------------------------------
namespace update_kernels {
struct operand_list {
  const float* p[4];
  int count;
};
// Operator v: out = w * sum of its inputs (the graph input for the first operator), elementwise.
OPARA_BENCH_KERNEL void op_kernel(float* out, operand_list in, float w, int n);
} // namespace update_kernels

#ifndef __CUDACC__
//! The kernel's address for the runtime's C API (cudaFuncSetAttribute, cudaOccupancy...).
template <class... P>
const void* symbol(void (*kernel)(P...)) {
  return reinterpret_cast<const void*>(kernel);
}

//! kernel<<<grid, block, shared_bytes, stream>>>(args...) for the host compiler: each argument is
//! converted to the kernel's parameter type; a failed launch is left for cudaGetLastError().
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
            A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "bench::launch: wrong number of kernel arguments");
  std::tuple<P...> values{static_cast<P>(std::forward<A>(args))...};
  std::apply(
      [&](auto&... v) {
        void* pointers[] = {static_cast<void*>(&v)..., nullptr};
        (void)cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, pointers, shared_bytes, stream);
      },
      values);
}
#endif

} // namespace bench
