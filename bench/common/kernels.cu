// The benchmarks' kernels (declared in kernels.hpp), compiled once by nvcc. Everything else of
// bench/ is host C++. PDL device code (griddepcontrol) stays here, through <opara/cuda/runtime/pdl.cuh>.
#include "kernels.hpp"

#include <opara/cuda/runtime/pdl.cuh>

#include <cstddef>

namespace bench {

namespace {
__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__device__ __forceinline__ void stamp_entry(stamp* st) {
  if (st && threadIdx.x == 0) atomicMin(&st->entry, global_ns());
}
__device__ __forceinline__ void stamp_begin(stamp* st) {
  if (st && threadIdx.x == 0) atomicMin(&st->begin, global_ns());
}
__device__ __forceinline__ void stamp_end(stamp* st) {
  if (st) {
    __syncthreads();
    if (threadIdx.x == 0) atomicMax(&st->end, global_ns());
  }
}

// Spins for `cycles` SM cycles, holding `dynamic` shared memory and REGS live registers per thread.
template <int REGS>
__device__ __forceinline__ void spin_body(long long cycles, float* sink, stamp* st) {
  extern __shared__ float smem[];
  stamp_entry(st);
  float r[REGS];
#pragma unroll
  for (int i = 0; i < REGS; ++i) r[i] = threadIdx.x * 0.5f + i;
  opara::pdl::wait_for_producers();
  stamp_begin(st);
  const long long start = clock64();
  while (clock64() - start < cycles) {
#pragma unroll
    for (int i = 0; i < REGS; ++i) r[i] = fmaf(r[i], 0.999f, 0.001f);
  }
  stamp_end(st);
  opara::pdl::launch_dependents();
  float acc = 0;
#pragma unroll
  for (int i = 0; i < REGS; ++i) acc += r[i];
  smem[threadIdx.x] = acc;
  __syncthreads();
  if (smem[(threadIdx.x + 1) % blockDim.x] == -1.0f) sink[blockIdx.x] = acc;  // never true; keeps the work
}
} // namespace

__global__ void spin_kernel8(long long cycles, float* sink, stamp* st) { spin_body<8>(cycles, sink, st); }
__global__ void spin_kernel32(long long cycles, float* sink, stamp* st) { spin_body<32>(cycles, sink, st); }
__global__ void spin_kernel64(long long cycles, float* sink, stamp* st) { spin_body<64>(cycles, sink, st); }

__global__ void stream_kernel(const float4* __restrict__ src, float4* __restrict__ dst, std::size_t n4, stamp* st) {
  stamp_entry(st);
  opara::pdl::wait_for_producers();
  stamp_begin(st);
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n4; i += std::size_t(gridDim.x) * blockDim.x) {
    float4 v = src[i];
    v.x = v.x * 1.0001f + 0.5f;
    v.y = v.y * 1.0001f + 0.5f;
    v.z = v.z * 1.0001f + 0.5f;
    v.w = v.w * 1.0001f + 0.5f;
    dst[i] = v;
  }
  stamp_end(st);
  opara::pdl::launch_dependents();
}

__global__ void empty_kernel() {
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
}

namespace pdl_kernels {
__global__ void empty_kernel() {}
__global__ void empty_pdl_kernel() {
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
}
__global__ void tick_kernel(int* counter) {
  if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1;
}
__global__ void tick_pdl_kernel(int* counter) {
  opara::pdl::wait_for_producers();
  opara::pdl::launch_dependents();
  if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1;
}
__global__ void spin_pdl_kernel(long long ns) {
  opara::pdl::wait_for_producers();
  long long start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
  opara::pdl::launch_dependents();
}
} // namespace pdl_kernels

namespace anatomy_kernels {
__global__ void timer_steps(unsigned long long* out) {
  unsigned long long prev = global_ns(), least = ~0ull, changes = 0;
  for (int i = 0; i < 4096; ++i) {
    const unsigned long long t = global_ns();
    if (t != prev) {
      least = min(least, t - prev);
      ++changes;
    }
    prev = t;
  }
  out[0] = least;
  out[1] = changes;
}
__global__ void mark(unsigned long long* t) { *t = global_ns(); }
} // namespace anatomy_kernels

namespace update_kernels {
__global__ void op_kernel(float* out, operand_list in, float w, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = 0;
  for (int k = 0; k < in.count; ++k) s += in.p[k][i];
  out[i] = w * s + 0.001f * i;
}
} // namespace update_kernels

} // namespace bench
