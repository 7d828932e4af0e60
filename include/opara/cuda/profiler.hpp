#pragma once
//! The profiler (link opara::cupti): runs a graph's operators one after another on a stream and
//! fills an opara::profile with every kernel each operator launched (grid, block, registers,
//! shared memory, duration, theoretical occupancy), keyed by device and graph.
//!
//! Attribution: before each operator opara pushes a CUPTI external correlation id (one per
//! operator and run) and pops it after; CUPTI ties every kernel to the API call that launched it,
//! and so to the operator, whatever stream or library the operator used.
//! Where CUPTI cannot be initialized (another tool holds it, no permission), an event-timing
//! profiler measures operator durations only (profile.source == "events") and says so on stderr.
//!
//! Boundness (the order policies' two queues): the user's hint (launch_traits<G>::bound) wins;
//! otherwise an operator whose longest kernel uses shared memory, or 128 or more registers per
//! thread, is compute-bound (tiling in shared memory and deep register blocking are the marks of
//! GEMM and convolution kernels); an operator with kernels but neither mark is memory-bound;
//! without kernel records (event profiling) it stays unknown.

#include <opara/cuda/capture/common.hpp>
#include <opara/cuda/error.hpp>
#include <opara/cuda/handles.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_occupancy.h>
#include <cuda_runtime_api.h>
#include <cupti.h>

#include <cxxabi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace opara {

//! A saved profile belongs to another device or graph. `field()` names the first key field that
//! differs ("device_name", "sm_count", "driver_version", "graph_fingerprint" or "ops").
class profile_mismatch : public error {
public:
  profile_mismatch(const std::string& what, std::string field) : error(what), field_(std::move(field)) {}
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
  std::string field_;
};

//! Throws profile_mismatch unless `p` was taken for `expected` (device and graph) and holds one
//! record per node of a graph of `num_nodes` operators.
inline void check_profile(const profile& p, const profile_key& expected, std::size_t num_nodes,
                          const std::string& origin = "the profile") {
  auto refuse = [&](const std::string& field, const std::string& have, const std::string& want) {
    throw profile_mismatch("opara: " + origin + " does not match: " + field + " is '" + have + "' but the current " +
                               (field == "graph_fingerprint" || field == "ops" ? "graph" : "device") + " has '" +
                               want + "' (profile again, or delete the file)",
                           field);
  };
  if (p.key.device_name != expected.device_name) refuse("device_name", p.key.device_name, expected.device_name);
  if (p.key.sm_count != expected.sm_count)
    refuse("sm_count", std::to_string(p.key.sm_count), std::to_string(expected.sm_count));
  if (p.key.driver_version != expected.driver_version)
    refuse("driver_version", std::to_string(p.key.driver_version), std::to_string(expected.driver_version));
  if (p.key.graph_fingerprint != expected.graph_fingerprint)
    refuse("graph_fingerprint", p.key.graph_fingerprint, expected.graph_fingerprint);
  if (p.ops.size() != num_nodes) refuse("ops", std::to_string(p.ops.size()) + " operators", std::to_string(num_nodes) + " operators");
}

namespace cuda {

//! The key of a profile taken now, on the current device, for graph `g`. Throws cuda_error.
[[nodiscard]] inline profile_key current_key(const opara::graph& g) {
  int dev = 0;
  OPARA_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  int driver = 0;
  OPARA_CUDA_CHECK(cudaDriverGetVersion(&driver));
  profile_key k;
  k.device_name = prop.name;
  k.sm_count = static_cast<std::uint32_t>(prop.multiProcessorCount);
  k.driver_version = driver;
  k.graph_fingerprint = fingerprint(g);
  return k;
}

//! The current device's limits as a profile records them. Throws cuda_error.
[[nodiscard]] inline device_limits current_limits() {
  int dev = 0;
  OPARA_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  device_limits l;
  l.sm_count = static_cast<std::uint32_t>(prop.multiProcessorCount);
  l.shared_bytes_per_block = static_cast<std::uint32_t>(prop.sharedMemPerBlockOptin);
  l.shared_bytes_per_sm = static_cast<std::uint32_t>(prop.sharedMemPerMultiprocessor);
  l.registers_per_sm = static_cast<std::uint32_t>(prop.regsPerMultiprocessor);
  l.max_threads_per_sm = static_cast<std::uint32_t>(prop.maxThreadsPerMultiProcessor);
  l.max_blocks_per_sm = static_cast<std::uint32_t>(prop.maxBlocksPerMultiProcessor);
  return l;
}

//! Theoretical occupancy (active warps / maximum warps per SM, 0..1) of a kernel described by its
//! record, computed from the device's limits with CUDA's own calculator (cuda_occupancy.h), since
//! cudaOccupancyMaxActiveBlocksPerMultiprocessor needs a function handle that foreign kernels
//! (cuDNN's, say) do not give us. Returns 0 when the calculator rejects the configuration.
[[nodiscard]] inline double theoretical_occupancy(const kernel_record& k, const cudaDeviceProp& prop) {
  cudaOccDeviceProp dp(prop);
  cudaOccFuncAttributes fa{};
  fa.maxThreadsPerBlock = INT_MAX;
  fa.numRegs = static_cast<int>(k.registers_per_thread);
  fa.sharedSizeBytes = k.static_shared_bytes;
  fa.partitionedGCConfig = PARTITIONED_GC_OFF;
  fa.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
  fa.maxDynamicSharedSizeBytes = prop.sharedMemPerBlockOptin;
  fa.numBlockBarriers = 1;
  cudaOccDeviceState ds;
  cudaOccResult r{};
  const auto threads = static_cast<int>(k.threads_per_block());
  if (threads <= 0 || threads > prop.maxThreadsPerBlock) return 0;
  if (cudaOccMaxActiveBlocksPerMultiprocessor(&r, &dp, &fa, &ds, threads, k.dynamic_shared_bytes) != CUDA_OCC_SUCCESS)
    return 0;
  const int warps_per_block = (threads + prop.warpSize - 1) / prop.warpSize;
  const double max_warps = static_cast<double>(prop.maxThreadsPerMultiProcessor) / prop.warpSize;
  return std::min(1.0, r.activeBlocksPerMultiprocessor * warps_per_block / max_warps);
}

//! The documented boundness heuristic (see the file comment) for an operator's kernels.
[[nodiscard]] inline boundness classify(const operator_record& op) {
  if (op.kernels.empty()) return boundness::unknown;
  const auto& longest = *std::ranges::max_element(
      op.kernels, [](const kernel_record& a, const kernel_record& b) { return a.duration_us < b.duration_us; });
  return (longest.shared_bytes() > 0 || longest.registers_per_thread >= 128) ? boundness::compute
                                                                               : boundness::memory;
}

//! How the profiler runs.
struct profiler_options {
  int warmup = 1;          //!< unprofiled runs first (module loading, allocator warm-up)
  int iterations = 3;      //!< profiled runs; durations are averaged over them
  bool nvtx = false;       //!< an NVTX range per operator
  bool use_cupti = true;   //!< false: event timing only (source "events")
};

namespace detail {

//! Process-wide CUPTI activity sink (CUPTI's buffer callbacks are global).
struct cupti_sink {
  struct kernel_raw {
    std::uint32_t correlation = 0;
    std::uint64_t start = 0, end = 0;
    kernel_record rec;
  };
  std::mutex m;
  std::vector<kernel_raw> kernels;
  std::unordered_map<std::uint32_t, std::uint64_t> external;  // correlation id -> external id
  std::size_t dropped = 0;

  static cupti_sink& get() {
    static cupti_sink s;
    return s;
  }
  static std::string demangle(const char* name) {
    if (!name) return {};
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && d) ? d : name;
    std::free(d);
    return out;
  }
  static void CUPTIAPI requested(uint8_t** buffer, size_t* size, size_t* max_records) {
    constexpr std::size_t bytes = 8u << 20;
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, bytes));
    *size = *buffer ? bytes : 0;
    *max_records = 0;
  }
  static void CUPTIAPI completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    auto& s = get();
    {
      std::lock_guard lock(s.m);
      CUpti_Activity* rec = nullptr;
      while (valid > 0 && cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
        if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || rec->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
          const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(rec);
          kernel_raw r;
          r.correlation = k->correlationId;
          r.start = k->start;
          r.end = k->end;
          r.rec.name = demangle(k->name);
          r.rec.grid = {static_cast<std::uint32_t>(k->gridX), static_cast<std::uint32_t>(k->gridY),
                        static_cast<std::uint32_t>(k->gridZ)};
          r.rec.block = {static_cast<std::uint32_t>(k->blockX), static_cast<std::uint32_t>(k->blockY),
                         static_cast<std::uint32_t>(k->blockZ)};
          r.rec.registers_per_thread = k->registersPerThread;
          r.rec.static_shared_bytes = static_cast<std::uint32_t>(k->staticSharedMemory);
          r.rec.dynamic_shared_bytes = static_cast<std::uint32_t>(k->dynamicSharedMemory);
          r.rec.duration_us = static_cast<double>(k->end - k->start) / 1000.0;
          s.kernels.push_back(std::move(r));
        } else if (rec->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
          const auto* e = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(rec);
          if (e->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0) s.external[e->correlationId] = e->externalId;
        }
      }
      std::size_t dropped = 0;
      if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped) == CUPTI_SUCCESS) s.dropped += dropped;
    }
    std::free(buffer);
  }
};

inline std::string cupti_message(CUptiResult r) {
  const char* s = nullptr;
  if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) return "CUPTI error " + std::to_string(static_cast<int>(r));
  return s;
}

//! Activity kinds the profiler turns on: kernels, and the records that tie them to operators.
inline constexpr CUpti_ActivityKind cupti_kinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
                                                     CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                                     CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER};

//! Turns CUPTI activity on; on failure turns back off whatever was on and returns the reason.
inline std::string cupti_enable() {
  if (const CUptiResult r = cuptiActivityRegisterCallbacks(&cupti_sink::requested, &cupti_sink::completed);
      r != CUPTI_SUCCESS)
    return "cuptiActivityRegisterCallbacks: " + cupti_message(r);
  std::size_t on = 0;
  for (auto kind : cupti_kinds) {
    if (const CUptiResult r = cuptiActivityEnable(kind); r != CUPTI_SUCCESS) {
      for (std::size_t i = 0; i < on; ++i) (void)cuptiActivityDisable(cupti_kinds[i]);
      return "cuptiActivityEnable(" + std::to_string(static_cast<int>(kind)) + "): " + cupti_message(r);
    }
    ++on;
  }
  return {};
}

inline void cupti_disable() noexcept {
  (void)cuptiActivityFlushAll(1);
  for (auto kind : cupti_kinds) (void)cuptiActivityDisable(kind);
}

} // namespace detail

//! Profiles g by running its operators one at a time, in topological order, on `s`; returns a
//! profile with one record per operator. Throws capture_error naming an operator that fails,
//! cuda_error for other CUDA failures, and bad_graph/not_a_dag for a malformed graph.
template <cuda_operator_graph G>
[[nodiscard]] opara::profile profile_graph(const G& g, cudaStream_t s, const profiler_options& opt = {}) {
  const opara::graph cg = to_graph(g);
  const std::size_t n = cg.num_nodes();
  int dev = 0;
  OPARA_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));

  opara::profile p;
  p.key = current_key(cg);
  p.limits = current_limits();
  p.ops.assign(n, {});
  const auto order = cg.topological_order();
  const int iters = std::max(1, opt.iterations);
  constexpr std::string_view stage = "profiling";

  (void)cudaGetLastError();
  for (int w = 0; w < opt.warmup; ++w) {
    for (node_id v : order) opara::detail::launch_guarded(g, v, s, false, stage);
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  std::string why_not;
  if (!opt.use_cupti) why_not = "profiler_options::use_cupti is false";
  else why_not = detail::cupti_enable();

  if (why_not.empty()) {
    auto& sink = detail::cupti_sink::get();
    {
      std::lock_guard lock(sink.m);
      sink.kernels.clear();
      sink.external.clear();
      sink.dropped = 0;
    }
    try {
      for (int it = 0; it < iters; ++it) {
        for (node_id v : order) {
          const std::uint64_t ext = static_cast<std::uint64_t>(it) * n + v + 1;
          (void)cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, ext);
          try {
            opara::detail::launch_guarded(g, v, s, opt.nvtx, stage);
          } catch (...) {
            std::uint64_t last = 0;
            (void)cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &last);
            throw;
          }
          std::uint64_t last = 0;
          (void)cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &last);
        }
        OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
      }
    } catch (...) {
      detail::cupti_disable();
      throw;
    }
    detail::cupti_disable();

    std::lock_guard lock(sink.m);
    // Kernels per (run, operator), in start order.
    std::vector<std::vector<std::vector<kernel_record>>> per(iters, std::vector<std::vector<kernel_record>>(n));
    std::sort(sink.kernels.begin(), sink.kernels.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    std::size_t unattributed = 0;
    for (auto& k : sink.kernels) {
      const auto it = sink.external.find(k.correlation);
      if (it == sink.external.end() || it->second == 0 || it->second > static_cast<std::uint64_t>(iters) * n) {
        ++unattributed;
        continue;
      }
      const std::uint64_t e = it->second - 1;
      per[e / n][e % n].push_back(std::move(k.rec));
    }
    if (unattributed > 0 || sink.dropped > 0)
      std::fprintf(stderr, "opara: profiler: %zu kernel(s) could not be tied to an operator, %zu record(s) dropped\n",
                   unattributed, sink.dropped);
    sink.kernels.clear();
    sink.external.clear();
    for (node_id v = 0; v < n; ++v) {
      auto& op = p.ops[v];
      op.kernels = per[0][v];
      double total = 0;
      int runs = 0;
      for (int it = 0; it < iters; ++it) {
        double sum = 0;
        for (const auto& k : per[it][v]) sum += k.duration_us;
        total += sum;
        ++runs;
        if (it > 0 && per[it][v].size() == op.kernels.size())
          for (std::size_t i = 0; i < op.kernels.size(); ++i) op.kernels[i].duration_us += per[it][v][i].duration_us;
      }
      int same_shape_runs = 1;
      for (int it = 1; it < iters; ++it) same_shape_runs += per[it][v].size() == op.kernels.size() ? 1 : 0;
      for (auto& k : op.kernels) {
        k.duration_us /= same_shape_runs;
        k.occupancy = theoretical_occupancy(k, prop);
      }
      op.duration_us = total / runs;
    }
    p.source = "cupti";
  } else {
    std::fprintf(stderr, "opara: profiler: CUPTI unavailable (%s); timing operators with CUDA events instead "
                         "(durations only, no kernel records)\n", why_not.c_str());
    std::vector<cuda::event> start, stop;
    for (std::size_t i = 0; i < n; ++i) {
      start.push_back(cuda::event::create(cudaEventDefault));
      stop.push_back(cuda::event::create(cudaEventDefault));
    }
    std::vector<double> total(n, 0);
    for (int it = 0; it < iters; ++it) {
      for (node_id v : order) {
        start[v].record(s);
        opara::detail::launch_guarded(g, v, s, opt.nvtx, stage);
        stop[v].record(s);
      }
      OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
      for (node_id v : order) {
        float ms = 0;
        OPARA_CUDA_CHECK(cudaEventElapsedTime(&ms, start[v], stop[v]));
        total[v] += ms * 1000.0;
      }
    }
    for (node_id v = 0; v < n; ++v) p.ops[v].duration_us = total[v] / iters;
    p.source = "events";
  }
  for (node_id v = 0; v < n; ++v) {
    const boundness hint = bound_hint(g, v);
    p.ops[v].bound = hint != boundness::unknown ? hint : classify(p.ops[v]);
  }
  return p;
}

//! Loads a saved profile and checks that it belongs to the current device and to g. Throws
//! profile_mismatch naming the differing field, parse_error for a malformed file, cuda_error.
template <operator_graph G>
[[nodiscard]] opara::profile load_profile_for(const std::filesystem::path& path, const G& g) {
  const opara::graph cg = to_graph(g);
  opara::profile p = load_profile(path);
  check_profile(p, current_key(cg), cg.num_nodes(), "the saved profile " + path.string());
  return p;
}

} // namespace cuda
} // namespace opara
