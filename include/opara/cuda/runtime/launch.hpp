#pragma once
//! Launching one operator of a cuda_operator_graph the way every opara caller does (capture
//! policies, profilers, eager replays): inside an optional NVTX range, with whatever it throws or
//! leaves in cudaGetLastError turned into a capture_error that names the operator.
//! A capture policy or a profiler of your own calls cuda::launch_guarded too.

#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>

#include <cuda_runtime_api.h>
#if __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define OPARA_HAS_NVTX 1
#else
#define OPARA_HAS_NVTX 0
#endif

#include <exception>
#include <string>
#include <string_view>

namespace opara::cuda {

//! An NVTX range for one operator when asked for; nothing otherwise.
class nvtx_range {
public:
  nvtx_range(bool enabled, const std::string& name) : on_(enabled && OPARA_HAS_NVTX) {
#if OPARA_HAS_NVTX
    if (on_) nvtxRangePushA(name.c_str());
#else
    (void)name;
#endif
  }
  nvtx_range(const nvtx_range&) = delete;
  nvtx_range& operator=(const nvtx_range&) = delete;
  ~nvtx_range() {
#if OPARA_HAS_NVTX
    if (on_) nvtxRangePop();
#endif
  }

private:
  bool on_;
};

//! The capture_error for operator v of g failing in `stage` ("stream capture", "profiling", ...).
template <class G>
capture_error operator_failure(const G& g, node_id v, cudaError_t code, const std::string& why,
                               std::string_view stage) {
  const std::string name = node_name(g, v);
  std::string msg = "opara: ";
  msg += stage;
  msg += " failed in operator '";
  msg += name;
  msg += "' (node ";
  msg += std::to_string(v);
  msg += "): ";
  msg += why;
  if (code != cudaSuccess) {
    msg += " [";
    msg += cudaGetErrorName(code);
    msg += "]";
  }
  return capture_error(msg, v, name, code);
}

//! Launches operator v on `s` (inside an NVTX range when `nvtx`), turning whatever it throws, and
//! a CUDA error it leaves behind, into capture_error naming it and `stage`.
template <cuda_operator_graph G>
void launch_guarded(const G& g, node_id v, cudaStream_t s, bool nvtx, std::string_view stage) {
  try {
    nvtx_range range(nvtx, node_name(g, v));
    launch_operator(g, v, s);
  } catch (const capture_error&) {
    throw;
  } catch (const cuda_error& e) {
    throw operator_failure(g, v, e.code(), std::string("a CUDA call inside it threw: ") + e.what(), stage);
  } catch (const std::exception& e) {
    throw operator_failure(g, v, cudaSuccess, std::string("it threw: ") + e.what(), stage);
  } catch (...) {
    throw operator_failure(g, v, cudaSuccess, "it threw a non-standard exception", stage);
  }
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    throw operator_failure(g, v, e, std::string("a CUDA call inside it failed: ") + cudaGetErrorString(e), stage);
}

} // namespace opara::cuda
