#pragma once
//! Device side of programmatic dependent launch (PDL), for kernels of operators that declare it
//! (opara::programmatic_graph states the contract). Both are no-ops below sm_90 and in a launch
//! without a programmatic dependency, so the same kernel is correct in every graph opara builds.
//! For nvcc only.

namespace opara::pdl {

//! Waits until every kernel this grid depends on programmatically has completed and its writes are
//! visible (PTX griddepcontrol.wait, what cudaGridDependencySynchronize() does). Every block must
//! call it before its first access to global memory that another operator reads or writes.
__device__ __forceinline__ void wait_for_producers() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

//! Lets this grid's programmatic dependents be launched once every block has called it or exited
//! (PTX griddepcontrol.launch_dependents, what cudaTriggerProgrammaticLaunchCompletion() does). It
//! publishes nothing: the dependents' wait_for_producers still waits for this grid to complete.
__device__ __forceinline__ void launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

} // namespace opara::pdl
