#pragma once
//! The CUPTI profiler (link opara::cupti): runs a graph's operators one after another on a stream
//! and fills an opara::profile with every kernel each operator launched (grid, block, registers,
//! shared memory, duration, theoretical occupancy), keyed by device and graph.
//!
//! Attribution: before each operator opara pushes a CUPTI external correlation id (an
//! operator_tag: which run, which operator) and pops it after; CUPTI ties every kernel to the API
//! call that launched it, and so to the operator, whatever stream or library the operator used,
//! as long as the launch is made on the thread that called the operator's launch: external
//! correlation ids are per thread, so kernels an operator enqueues from a helper thread (a worker
//! pool, an async library) are tied to no operator. Such an operator shows no kernels and 0 µs;
//! the profiler detects it (operators without kernels while kernels without a tag were seen) and
//! says so on stderr, naming the operators: profile such graphs with profiler::events (which
//! times the stream, whichever thread filled it) or launch on the calling thread.
//! The records are then grouped and averaged on the CPU (opara/profile/aggregate.hpp).
//! Where CUPTI cannot be initialized (another tool holds it, no permission), the event-timing
//! profiler measures operator durations only (profile.source == "events") and says so on stderr,
//! or, with profiler::options::require_cupti, profiler::unavailable is thrown.
//!
//! Threads: several threads (or schedulers of several devices) may profile at once; their CUPTI
//! sessions take turns (cupti_session), so each profile is the one it would be alone, and kernels
//! other threads launch meanwhile are never attributed to its operators.
//!
//! Boundness: the user's hint (launch_traits<G>::bound) wins; otherwise opara's one rule
//! (classify_bound in opara/profile/check.hpp).

#include <opara/cuda/runtime/error.hpp>
#include <opara/cuda/runtime/operator_graph.hpp>
#include <opara/cuda/profiler/concept.hpp>
#include <opara/cuda/profiler/detail/common.hpp>
#include <opara/cuda/profiler/measure.hpp>
#include <opara/cuda/profiler/options.hpp>
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
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
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

//! Process-wide CUPTI activity sink (CUPTI's buffer callbacks are global). Records are appended by
//! CUPTI's completion callback, under `lock`; the session that owns CUPTI (cupti_owner) clears it
//! when it starts and takes what belongs to it when it finishes.
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
  //! Called by CUPTI (a C callback: nothing may escape). A record that cannot be kept (no memory)
  //! is counted as dropped.
  static void CUPTIAPI completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) noexcept {
    auto& sink = get();
    {
      std::lock_guard guard(sink.lock);
      CUpti_Activity* record = nullptr;
      while (valid > 0 && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) try {
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
      } catch (...) {  // std::bad_alloc from the name, the vector or the map
        ++sink.dropped;
      }
      std::size_t dropped = 0;
      if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped) == CUPTI_SUCCESS) sink.dropped += dropped;
    }
    std::free(buffer);
  }
};

//! Who holds CUPTI's activity API in this process: one cupti_session at a time. A session waits
//! (blocks) until the one before it has finished; each gets a new id, which it puts in the high
//! bits of its external correlation ids, so that records of an earlier session (say, a buffer
//! delivered late) are never attributed to a later one.
class cupti_owner {
public:
  static cupti_owner& get() {
    static cupti_owner owner;
    return owner;
  }
  //! Blocks until no session holds CUPTI, then takes it and returns the new session's id (never 0).
  std::uint64_t acquire() {
    std::unique_lock guard(lock_);
    free_.wait(guard, [&] { return !busy_; });
    busy_ = true;
    if (++last_id_ > max_session_id) last_id_ = 1;
    holder_ = std::this_thread::get_id();
    return last_id_;
  }
  //! Gives CUPTI back and wakes one waiting session.
  void release() noexcept {
    {
      std::lock_guard guard(lock_);
      busy_ = false;
      holder_ = {};
    }
    free_.notify_one();
  }
  //! True when this thread holds the session (a second one would wait for itself forever).
  [[nodiscard]] bool held_by_this_thread() {
    std::lock_guard guard(lock_);
    return busy_ && holder_ == std::this_thread::get_id();
  }

  //! Bits of an external correlation id below the session id: an operator tag must be smaller.
  static constexpr unsigned tag_bits = 40;
  static constexpr std::uint64_t max_session_id = (std::uint64_t{1} << (64 - tag_bits)) - 1;

private:
  std::mutex lock_;
  std::condition_variable free_;
  bool busy_ = false;
  std::thread::id holder_;
  std::uint64_t last_id_ = 0;
};

//! A CUPTI callback that does nothing: opara subscribes only to learn whether another CUPTI client
//! (a profiler, a tracing library) already did, and to keep others from subscribing meanwhile.
inline void CUPTIAPI ignore_callback(void*, CUpti_CallbackDomain, CUpti_CallbackId, const void*) {}

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
//! kernel launched in the process, and the kernels launched inside one of its tag_scopes carry
//! the tag.
//!
//! Threads: CUPTI's activity callbacks are process-wide, so sessions take turns: constructing a
//! session blocks until the session before it (in any thread) has finished. Rule: finish (or
//! destroy) a session before starting another on the same thread, and never wait, inside a
//! session, for a thread that is starting one. A second session on the thread that holds one is
//! refused (inactive, with a reason) instead of waiting for itself. Kernels other threads launch
//! during a session are recorded but carry no tag of it (finish() reports them with tag 0), and
//! records of an earlier session are never given this session's tags (the session id sits in the
//! high bits of every external correlation id). Another CUPTI client in the process (Nsight
//! Systems, a tracing library) is detected when it has subscribed to CUPTI's callbacks: the session
//! is then inactive and says so. A client that only registered activity callbacks cannot be seen
//! and loses them to opara while a session lasts. Not copyable or movable; one thread uses it.
class cupti_session {
public:
  //! What finish() hands back.
  struct result {
    std::vector<kernel_activity> kernels;  //!< every kernel seen: tagged by this session, or tag 0
    std::size_t dropped = 0;               //!< records CUPTI had to drop (buffers full)
  };

  //! Waits for CUPTI to be free, then turns activity on. Never throws: when CUPTI cannot be used,
  //! active() is false and unavailable_reason() says why.
  cupti_session() {
    auto& owner = detail::cupti_owner::get();
    if (owner.held_by_this_thread()) {
      reason_ = "another cupti_session is active on this thread (finish it first: a second would wait for itself)";
      return;
    }
    id_ = owner.acquire();
    {
      auto& sink = detail::cupti_sink::get();
      std::lock_guard guard(sink.lock);
      sink.kernels.clear();
      sink.external.clear();
      sink.dropped = 0;
    }
    reason_ = enable();
    if (!reason_.empty()) {
      id_ = 0;
      owner.release();
    }
  }
  cupti_session(const cupti_session&) = delete;
  cupti_session& operator=(const cupti_session&) = delete;
  //! Turns CUPTI off and gives it to the next session, discarding the records (never throws).
  ~cupti_session() {
    if (!active()) return;
    std::vector<detail::cupti_sink::raw_kernel> kernels;
    std::unordered_map<std::uint32_t, std::uint64_t> external;
    std::size_t dropped = 0;
    stop(kernels, external, dropped);
  }

  //! True while CUPTI records activity for this session.
  [[nodiscard]] bool active() const noexcept { return reason_.empty() && !finished_; }
  //! Why CUPTI could not be used ("" when it could).
  [[nodiscard]] const std::string& unavailable_reason() const noexcept { return reason_; }
  //! The largest tag a tag_scope can carry (tags live below the session id's bits).
  static constexpr std::uint64_t max_tag = (std::uint64_t{1} << detail::cupti_owner::tag_bits) - 1;

  //! Kernels launched on this thread while a tag_scope lives carry its tag (1..max_tag) in the
  //! session's records: the scope pushes a CUPTI external correlation id (the session's id in the
  //! high bits, the tag below) and pops it on destruction.
  class tag_scope {
  public:
    //! Throws bad_policy when `tag` is 0 or above max_tag.
    tag_scope(const cupti_session& session, std::uint64_t tag) {
      if (tag == 0 || tag > max_tag)
        throw bad_policy("opara: cupti_session::tag_scope: tag " + std::to_string(tag) + " is outside 1.." +
                         std::to_string(max_tag));
      (void)cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0,
                                                   (session.id_ << detail::cupti_owner::tag_bits) | tag);
    }
    tag_scope(const tag_scope&) = delete;
    tag_scope& operator=(const tag_scope&) = delete;
    ~tag_scope() {
      std::uint64_t popped = 0;
      (void)cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &popped);
    }
  };

  //! Flushes and turns CUPTI activity off, gives CUPTI to the next waiting session, and returns
  //! every kernel seen with its tag (0 where it had none of this session's). Returns nothing more
  //! on a second call or for an inactive session. Throws std::bad_alloc when the result cannot be
  //! made; CUPTI is off and given back by then all the same.
  [[nodiscard]] result finish() {
    result out;
    if (!active()) return out;
    std::vector<detail::cupti_sink::raw_kernel> kernels;
    std::unordered_map<std::uint32_t, std::uint64_t> external;
    stop(kernels, external, out.dropped);
    out.kernels.reserve(kernels.size());
    for (auto& raw : kernels) {
      const auto link = external.find(raw.correlation);
      std::uint64_t tag = 0;
      if (link != external.end() && (link->second >> detail::cupti_owner::tag_bits) == id_) tag = link->second & max_tag;
      out.kernels.push_back({tag, raw.start_ns, std::move(raw.record)});
    }
    return out;
  }

private:
  //! Flushes and turns CUPTI activity off, takes the sink's records (swapped out: nothing is
  //! allocated) and gives CUPTI to the next waiting session.
  void stop(std::vector<detail::cupti_sink::raw_kernel>& kernels,
            std::unordered_map<std::uint32_t, std::uint64_t>& external, std::size_t& dropped) noexcept {
    finished_ = true;
    (void)cuptiActivityFlushAll(1);
    for (auto kind : detail::cupti_kinds) (void)cuptiActivityDisable(kind);
    (void)cuptiUnsubscribe(subscriber_);
    {
      auto& sink = detail::cupti_sink::get();
      std::lock_guard guard(sink.lock);
      kernels.swap(sink.kernels);
      external.swap(sink.external);
      dropped = sink.dropped;
    }
    detail::cupti_owner::get().release();
  }

  //! Subscribes (to detect another CUPTI client) and turns CUPTI activity on; on failure turns back
  //! off whatever was on and returns the reason.
  std::string enable() {
    if (const CUptiResult status = cuptiSubscribe(&subscriber_, &detail::ignore_callback, nullptr);
        status != CUPTI_SUCCESS) {
      subscriber_ = nullptr;
      if (status == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED)
        return "another CUPTI client (a profiler such as Nsight Systems or Nsight Compute, or a tracing library) "
               "holds CUPTI in this process";
      return "cuptiSubscribe: " + detail::cupti_message(status);
    }
    auto give_up = [&](std::string why) {
      (void)cuptiUnsubscribe(subscriber_);
      subscriber_ = nullptr;
      return why;
    };
    if (const CUptiResult status = cuptiActivityRegisterCallbacks(&detail::cupti_sink::requested,
                                                                  &detail::cupti_sink::completed);
        status != CUPTI_SUCCESS)
      return give_up("cuptiActivityRegisterCallbacks: " + detail::cupti_message(status));
    std::size_t enabled = 0;
    for (auto kind : detail::cupti_kinds) {
      if (const CUptiResult status = cuptiActivityEnable(kind); status != CUPTI_SUCCESS) {
        for (std::size_t i = 0; i < enabled; ++i) (void)cuptiActivityDisable(detail::cupti_kinds[i]);
        return give_up("cuptiActivityEnable(" + std::to_string(static_cast<int>(kind)) +
                       "): " + detail::cupti_message(status));
      }
      ++enabled;
    }
    return {};
  }

  std::string reason_;
  std::uint64_t id_ = 0;
  CUpti_SubscriberHandle subscriber_ = nullptr;
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
                                const options& options) {
    const cuda::detail::profiling_runs<G> runs(g, compact, stream, options);
    runs.warm_up();
    const std::size_t num_nodes = compact.num_nodes();
    if (std::uint64_t{static_cast<std::uint32_t>(runs.iterations())} * num_nodes > cuda::cupti_session::max_tag)
      throw bad_policy("opara: profiler::cupti: " + std::to_string(runs.iterations()) + " runs of " +
                       std::to_string(num_nodes) + " operators need more tags than a CUPTI session has");
    std::vector<kernel_activity> seen;
    std::size_t dropped = 0;
    {
      cuda::cupti_session session;  // waits while another thread profiles (one CUPTI session at a time)
      if (!session.active()) {
        if (options.require_cupti)
          throw unavailable("opara: profiler::cupti: CUPTI unavailable (" +
                                           session.unavailable_reason() +
                                           ") and profiler::options::require_cupti forbids the event-timing fallback");
        std::fprintf(stderr, "opara: profiler: CUPTI unavailable (%s); timing operators with CUDA events instead "
                             "(durations only, no kernel records; set profiler::options::require_cupti to make this "
                             "an error)\n", session.unavailable_reason().c_str());
        profiler::options warmed_up = options;
        warmed_up.warmup = 0;
        return events::measure(g, compact, stream, warmed_up);
      }
      for (int run = 0; run < runs.iterations(); ++run) {
        runs.run([&](node_id v, auto&& launch) {
          const operator_tag tag{static_cast<std::uint32_t>(run), v};
          const cuda::cupti_session::tag_scope scope(session, tag.encode(num_nodes));
          launch();
        });
      }
      auto finished = session.finish();
      seen = std::move(finished.kernels);
      dropped = finished.dropped;
    }
    // Kernels of other threads (running while this one profiled) carry no tag of this session.
    kernel_aggregate aggregate =
        aggregate_kernels(std::move(seen), compact.num_nodes(), static_cast<std::size_t>(runs.iterations()));
    if (dropped > 0)
      std::fprintf(stderr, "opara: profiler: CUPTI dropped %zu record(s) (its buffers were full); operators "
                           "may miss kernels\n", dropped);
    if (const std::string silent = unattributed_operators_message(aggregate, [&](node_id v) { return compact.name(v); }); !silent.empty())
      std::fprintf(stderr, "%s\n", silent.c_str());
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
[[nodiscard]] opara::profile profile_graph(const G& g, cudaStream_t stream, const profiler::options& options = {}) {
  return measure<profiler::cupti>(g, stream, options);
}
} // namespace cuda
} // namespace opara
