#pragma once
//! The CUPTI profiler (link opara::cupti): runs a graph's operators one after another on a stream
//! and fills an opara::profile with every kernel each operator launched (grid, block, registers,
//! shared memory, duration, theoretical occupancy), keyed by device and graph.
//!
//! Attribution: before each operator opara pushes a CUPTI external correlation id (an
//! operator_tag: which run, which operator) and pops it after; CUPTI ties every kernel to the API
//! call that launched it, and so to the operator, whatever stream or library the operator used.
//! The records are then grouped and averaged on the CPU (opara/profile/aggregate.hpp).
//! Where CUPTI cannot be initialized (another tool holds it, no permission), the event-timing
//! profiler measures operator durations only (profile.source == "events") and says so on stderr.
//!
//! Boundness: the user's hint (launch_traits<G>::bound) wins; otherwise opara's one rule
//! (classify_bound in opara/profile/check.hpp).

#include <opara/cuda/error.hpp>
#include <opara/cuda/operator_graph.hpp>
#include <opara/cuda/profiler/common.hpp>
#include <opara/cuda/profiler/events.hpp>
#include <opara/graph/graph.hpp>
#include <opara/profile/aggregate.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_occupancy.h>
#include <cuda_runtime_api.h>
#include <cupti.h>

#include <cxxabi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace opara {
namespace cuda {

//! Theoretical occupancy (active warps / maximum warps per SM, 0..1) of a kernel described by its
//! record, computed from the device's limits with CUDA's own calculator (cuda_occupancy.h), since
//! cudaOccupancyMaxActiveBlocksPerMultiprocessor needs a function handle that foreign kernels
//! (cuDNN's, say) do not give us. Returns 0 when the calculator rejects the configuration.
[[nodiscard]] inline double theoretical_occupancy(const kernel_record& kernel, const cudaDeviceProp& properties) {
  cudaOccDeviceProp device(properties);
  cudaOccFuncAttributes function{};
  function.maxThreadsPerBlock = INT_MAX;
  function.numRegs = static_cast<int>(kernel.registers_per_thread);
  function.sharedSizeBytes = kernel.static_shared_bytes;
  function.partitionedGCConfig = PARTITIONED_GC_OFF;
  function.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
  function.maxDynamicSharedSizeBytes = properties.sharedMemPerBlockOptin;
  function.numBlockBarriers = 1;
  cudaOccDeviceState state;
  cudaOccResult result{};
  const auto threads = kernel.threads_per_block();
  if (threads == 0 || threads > static_cast<std::uint64_t>(properties.maxThreadsPerBlock)) return 0;
  if (cudaOccMaxActiveBlocksPerMultiprocessor(&result, &device, &function, &state, static_cast<int>(threads),
                                              kernel.dynamic_shared_bytes) != CUDA_OCC_SUCCESS)
    return 0;
  const auto warps_per_block = static_cast<int>((threads + properties.warpSize - 1) / properties.warpSize);
  const double max_warps = static_cast<double>(properties.maxThreadsPerMultiProcessor) / properties.warpSize;
  return std::min(1.0, result.activeBlocksPerMultiprocessor * warps_per_block / max_warps);
}

namespace detail {

//! Process-wide CUPTI activity sink (CUPTI's buffer callbacks are global).
struct cupti_sink {
  struct raw_kernel {
    std::uint32_t correlation = 0;
    std::uint64_t start_ns = 0;
    kernel_record record;
  };
  std::mutex lock;
  std::vector<raw_kernel> kernels;
  std::unordered_map<std::uint32_t, std::uint64_t> external;  // correlation id -> external id
  std::size_t dropped = 0;
  bool in_use = false;  // one session at a time

  static cupti_sink& get() {
    static cupti_sink sink;
    return sink;
  }
  static std::string demangle(const char* name) {
    if (!name) return {};
    int status = 0;
    char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && readable) ? readable : name;
    std::free(readable);
    return out;
  }
  static void CUPTIAPI requested(uint8_t** buffer, size_t* size, size_t* max_records) {
    constexpr std::size_t bytes = 8u << 20;
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, bytes));
    *size = *buffer ? bytes : 0;
    *max_records = 0;
  }
  static void CUPTIAPI completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    auto& sink = get();
    {
      std::lock_guard guard(sink.lock);
      CUpti_Activity* record = nullptr;
      while (valid > 0 && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || record->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
          const auto* kernel = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
          raw_kernel raw;
          raw.correlation = kernel->correlationId;
          raw.start_ns = kernel->start;
          raw.record.name = demangle(kernel->name);
          raw.record.grid = {static_cast<std::uint32_t>(kernel->gridX), static_cast<std::uint32_t>(kernel->gridY),
                             static_cast<std::uint32_t>(kernel->gridZ)};
          raw.record.block = {static_cast<std::uint32_t>(kernel->blockX), static_cast<std::uint32_t>(kernel->blockY),
                              static_cast<std::uint32_t>(kernel->blockZ)};
          raw.record.registers_per_thread = kernel->registersPerThread;
          raw.record.static_shared_bytes = static_cast<std::uint32_t>(kernel->staticSharedMemory);
          raw.record.dynamic_shared_bytes = static_cast<std::uint32_t>(kernel->dynamicSharedMemory);
          raw.record.duration_us = static_cast<double>(kernel->end - kernel->start) / 1000.0;
          sink.kernels.push_back(std::move(raw));
        } else if (record->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
          const auto* link = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(record);
          if (link->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0)
            sink.external[link->correlationId] = link->externalId;
        }
      }
      std::size_t dropped = 0;
      if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped) == CUPTI_SUCCESS) sink.dropped += dropped;
    }
    std::free(buffer);
  }
};

inline std::string cupti_message(CUptiResult result) {
  const char* text = nullptr;
  if (cuptiGetResultString(result, &text) != CUPTI_SUCCESS || !text)
    return "CUPTI error " + std::to_string(static_cast<int>(result));
  return text;
}

//! Activity kinds a session turns on: kernels, and the records that tie them to operators.
inline constexpr CUpti_ActivityKind cupti_kinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
                                                     CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                                     CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER};

} // namespace detail

//! One CUPTI activity session: from construction to finish() (or destruction) CUPTI records every
//! kernel launched in the process, and the kernels launched inside a tag_scope carry its tag. One
//! session at a time per process. Not copyable or movable.
class cupti_session {
public:
  //! What finish() hands back.
  struct result {
    std::vector<kernel_activity> kernels;  //!< every kernel seen, tagged or not
    std::size_t dropped = 0;               //!< records CUPTI had to drop (buffers full)
  };

  //! Turns CUPTI activity on. Never throws: when CUPTI cannot be used, active() is false and
  //! unavailable_reason() says why.
  cupti_session() {
    auto& sink = detail::cupti_sink::get();
    {
      std::lock_guard guard(sink.lock);
      if (sink.in_use) {
        reason_ = "another cupti_session is active in this process";
        return;
      }
      sink.in_use = true;
      sink.kernels.clear();
      sink.external.clear();
      sink.dropped = 0;
    }
    reason_ = enable();
    if (!reason_.empty()) release_sink();
  }
  cupti_session(const cupti_session&) = delete;
  cupti_session& operator=(const cupti_session&) = delete;
  ~cupti_session() {
    if (active()) (void)finish();
  }

  //! True while CUPTI records activity for this session.
  [[nodiscard]] bool active() const noexcept { return reason_.empty() && !finished_; }
  //! Why CUPTI could not be used ("" when it could).
  [[nodiscard]] const std::string& unavailable_reason() const noexcept { return reason_; }

  //! Kernels launched while a tag_scope lives carry its tag (the scope pushes a CUPTI external
  //! correlation id and pops it on destruction).
  class tag_scope {
  public:
    explicit tag_scope(std::uint64_t tag) noexcept {
      (void)cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, tag);
    }
    tag_scope(const tag_scope&) = delete;
    tag_scope& operator=(const tag_scope&) = delete;
    ~tag_scope() {
      std::uint64_t popped = 0;
      (void)cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &popped);
    }
  };

  //! Flushes and turns CUPTI activity off, and returns every kernel seen with its tag (0 where it
  //! had none). Returns nothing more on a second call or for an inactive session.
  [[nodiscard]] result finish() noexcept {
    result out;
    if (!active()) return out;
    finished_ = true;
    (void)cuptiActivityFlushAll(1);
    for (auto kind : detail::cupti_kinds) (void)cuptiActivityDisable(kind);
    auto& sink = detail::cupti_sink::get();
    std::lock_guard guard(sink.lock);
    out.kernels.reserve(sink.kernels.size());
    for (auto& raw : sink.kernels) {
      const auto link = sink.external.find(raw.correlation);
      out.kernels.push_back({link == sink.external.end() ? 0 : link->second, raw.start_ns, std::move(raw.record)});
    }
    out.dropped = sink.dropped;
    sink.kernels.clear();
    sink.external.clear();
    sink.in_use = false;
    return out;
  }

private:
  //! Turns CUPTI activity on; on failure turns back off whatever was on and returns the reason.
  static std::string enable() {
    if (const CUptiResult status = cuptiActivityRegisterCallbacks(&detail::cupti_sink::requested,
                                                                  &detail::cupti_sink::completed);
        status != CUPTI_SUCCESS)
      return "cuptiActivityRegisterCallbacks: " + detail::cupti_message(status);
    std::size_t enabled = 0;
    for (auto kind : detail::cupti_kinds) {
      if (const CUptiResult status = cuptiActivityEnable(kind); status != CUPTI_SUCCESS) {
        for (std::size_t i = 0; i < enabled; ++i) (void)cuptiActivityDisable(detail::cupti_kinds[i]);
        return "cuptiActivityEnable(" + std::to_string(static_cast<int>(kind)) + "): " + detail::cupti_message(status);
      }
      ++enabled;
    }
    return {};
  }
  static void release_sink() noexcept {
    auto& sink = detail::cupti_sink::get();
    std::lock_guard guard(sink.lock);
    sink.in_use = false;
  }

  std::string reason_;
  bool finished_ = false;
};

} // namespace cuda

namespace profiler {

//! CUPTI: every kernel of every operator, with event timing as the fallback (see the file comment).
//! Link opara::cupti. From the user's graph alone: cuda::profile_graph(g, stream).
struct cupti {
  static constexpr std::string_view name = "cupti";
  static constexpr bool measures = true;

  //! Profiles g (whose converted form is `compact`) by running its operators one at a time, in
  //! topological order, on `stream`, with CUPTI; falls back to event timing (said on stderr) when
  //! CUPTI cannot be used. Returns one record per operator. Throws bad_policy for unusable
  //! options, capture_error naming an operator that fails, cuda_error for other CUDA failures.
  template <cuda_operator_graph G>
  static opara::profile measure(const G& g, const opara::graph& compact, cudaStream_t stream,
                                const cuda::profiler_options& options) {
    const cuda::detail::profiling_runs<G> runs(g, compact, stream, options);
    runs.warm_up();
    std::vector<kernel_activity> seen;
    std::size_t dropped = 0;
    {
      cuda::cupti_session session;
      if (!session.active()) {
        std::fprintf(stderr, "opara: profiler: CUPTI unavailable (%s); timing operators with CUDA events instead "
                             "(durations only, no kernel records)\n", session.unavailable_reason().c_str());
        cuda::profiler_options warmed_up = options;
        warmed_up.warmup = 0;
        return events::measure(g, compact, stream, warmed_up);
      }
      const std::size_t num_nodes = compact.num_nodes();
      for (int run = 0; run < runs.iterations(); ++run) {
        runs.run([&](node_id v, auto&& launch) {
          const operator_tag tag{static_cast<std::uint32_t>(run), v};
          const cuda::cupti_session::tag_scope scope(tag.encode(num_nodes));
          launch();
        });
      }
      auto finished = session.finish();
      seen = std::move(finished.kernels);
      dropped = finished.dropped;
    }
    kernel_aggregate aggregate =
        aggregate_kernels(std::move(seen), compact.num_nodes(), static_cast<std::size_t>(runs.iterations()));
    if (aggregate.unattributed > 0 || dropped > 0)
      std::fprintf(stderr, "opara: profiler: %zu kernel(s) could not be tied to an operator, %zu record(s) dropped\n",
                   aggregate.unattributed, dropped);
    const cudaDeviceProp properties = cuda::current_device_properties();
    for (auto& record : aggregate.ops)
      for (auto& kernel : record.kernels) kernel.occupancy = cuda::theoretical_occupancy(kernel, properties);
    opara::profile measured = cuda::detail::empty_profile(compact);
    measured.ops = std::move(aggregate.ops);
    measured.source = "cupti";
    cuda::detail::assign_boundness(measured, g);
    return measured;
  }
};

} // namespace profiler

namespace cuda {
//! Profiles g with CUPTI (the event-timing fallback included), converting it once:
//! cuda::measure<profiler::cupti>.
template <cuda_operator_graph G>
[[nodiscard]] opara::profile profile_graph(const G& g, cudaStream_t stream, const profiler_options& options = {}) {
  return measure<profiler::cupti>(g, stream, options);
}
} // namespace cuda
} // namespace opara
