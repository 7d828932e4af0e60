#pragma once
//! opara::executable: what scheduler::compile and the capture policies return. Calling it replays
//! the captured CUDA graph (or, for capture::eager, launches the plan again) on a stream. It owns
//! every CUDA resource a replay needs and is movable, not copyable.
//!
//! Devices: an executable remembers the device it was compiled on (the current device during
//! capture, which scheduler::compile makes the device of its stream). A launch makes that device
//! current for the call (the calling thread's current device does not matter and is restored
//! afterwards) and throws wrong_device when the stream belongs to another device. The handles 0,
//! cudaStreamLegacy and cudaStreamPerThread name no device of their own: with them the launch goes
//! to the default stream of the executable's device.
//!
//! Threads: operator() may be called on one executable from several threads at once. Launches of
//! one executable are serialized by a mutex inside it (CUDA graph objects are not internally
//! synchronized): the cost is one uncontended lock per launch; contended, the enqueues (a few
//! microseconds each) take turns. A graph executable's replays run on the GPU in launch order anyway
//! (each launch of a cudaGraphExec_t waits for the previous one). An eager executable's replays also
//! share its side streams and events, so concurrent replays of one eager executable run one after
//! the other on the GPU too; give each serving thread its own executable for overlap. Everything
//! else (plan(), profile(), stats(), native_*(), write_cuda_dot) only reads and may be called
//! concurrently with launches; set_profile(), the non-const stats(), moving and destroying need the
//! caller to ensure no other thread uses the executable.
//!
//! Updates: update(g, s) points a compiled executable at the new buffers its operators now read
//! (the user changed its bindings: inputs, outputs, an arena base), without planning or profiling:
//! it captures g again with the executable's own plan, capture policy and capture options, splits
//! the new graph into the same launch segments, and cudaGraphExecUpdate()s each segment in place;
//! a segment whose topology or node types changed is instantiated anew (same flags). It takes the
//! launch mutex only to swap the graphs in, so launches from other threads stay safe during an
//! update: each runs either wholly before or wholly after it (a replay already enqueued keeps the old
//! buffers). The stream given to update() is captured (stream_capture): no other thread may enqueue
//! work on that stream meanwhile. native_graph(), native_exec(), num_segments() and
//! write_cuda_dot() see the new graphs afterwards and must not be called concurrently with
//! update(). A re-instantiated segment's old executable graph is destroyed at once, as llama.cpp's
//! update path does: CUDA frees an executable graph destroyed in flight when its launches complete
//! (cuGraphExecDestroy), so replays already enqueued still run. An eager executable is re-bound to
//! the graph given, under the launch mutex.

#include <opara/cuda/runtime/device.hpp>
#include <opara/cuda/runtime/error.hpp>
#include <opara/detail/atomic_file.hpp>
#include <opara/error.hpp>
#include <opara/cuda/runtime/handles.hpp>
#include <opara/graph/traits.hpp>
#include <opara/plan/plan.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

namespace opara {

//! What building an executable cost and produced.
struct capture_stats {
  std::string capture_policy;     //!< name of the capture policy
  double profile_ms = 0;          //!< time spent profiling (0 when a saved profile was reused)
  double plan_ms = 0;             //!< time spent in make_plan
  double capture_ms = 0;          //!< building the CUDA graph (stream capture or explicit nodes)
  double instantiate_ms = 0;      //!< cudaGraphInstantiate
  std::uint32_t streams = 0;      //!< streams in the plan
  std::size_t waits = 0;          //!< cross-stream waits kept
  std::size_t pruned_waits = 0;   //!< cross-stream waits found redundant and dropped
  std::size_t graph_nodes = 0;    //!< top-level nodes of the CUDA graph (0 for eager)
  std::size_t segments = 0;       //!< CUDA graphs launched per replay (capture::options::launch_segments; 0 for eager)
  bool profile_reused = false;    //!< the profile came from disk
};

//! A CUDA graph a capture policy built and has not instantiated yet: the whole graph, its launch
//! segments (empty: launch the whole graph) and the flags each must be instantiated with.
struct captured_graph {
  cuda::graph_handle whole;                    //!< the whole graph (kept as the executable's native_graph)
  std::vector<cuda::graph_handle> segments;    //!< one graph per launch segment; empty when not split
  unsigned long long instantiate_flags = 0;    //!< cudaGraphInstantiateFlag* (node priorities need one)
  capture_stats stats;                         //!< what building it cost (instantiate_ms still 0)
};

//! What executable::update did.
enum class update_kind : std::uint8_t {
  in_place,        //!< every launch segment was updated in place (cudaGraphExecUpdate)
  reinstantiated,  //!< the topology changed: at least one segment was instantiated anew
  rebound,         //!< eager executable: nothing was captured; later launches run the given graph
};

//! The name of `k`: "in_place", "reinstantiated" or "rebound".
[[nodiscard]] constexpr std::string_view to_string(update_kind k) noexcept {
  switch (k) {
    case update_kind::in_place: return "in_place";
    case update_kind::reinstantiated: return "reinstantiated";
    case update_kind::rebound: return "rebound";
  }
  return "?";
}

//! What one executable::update did and cost.
struct update_result {
  update_kind kind = update_kind::in_place;  //!< in place, re-instantiated or (eager) re-bound
  std::size_t segments_updated = 0;          //!< segments cudaGraphExecUpdate updated in place
  std::size_t segments_reinstantiated = 0;   //!< segments instantiated anew
  double capture_ms = 0;                     //!< capturing the graph again (outside the launch mutex)
  double update_ms = 0;                      //!< cudaGraphExecUpdate and any instantiation (under the mutex)
};

namespace detail {
//! A 64-bit FNV-1a digest of g's structure (node count, each node's successors in order): what
//! executable::update compares with the graph it was compiled from. O(nodes + edges), no allocation.
template <class G>
std::uint64_t structure_digest(const G& g) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::uint64_t x) {
    for (int i = 0; i < 8; ++i, x >>= 8) h = (h ^ (x & 0xff)) * 1099511628211ull;
  };
  const std::size_t n = graph_traits<G>::num_nodes(g);
  mix(n);
  for (node_id v = 0; v < n; ++v) {
    for (auto w : graph_traits<G>::successors(g, v)) mix(static_cast<std::uint64_t>(w));
    mix(~std::uint64_t{0});  // end of v's list
  }
  return h;
}
} // namespace detail

//! A compiled graph, ready to run. Replays are stream-ordered on the stream passed to operator().
//! With capture::options::launch_segments, one replay is several CUDA graphs launched back to back
//! on that stream (a free cut between two adds no dependency; see plan/segments.hpp).
class executable {
public:
  //! For capture policies that do not build a CUDA graph: re-launches the plan on each call.
  //! The executable calls replay() with its device current and its launch mutex held, so a
  //! replayer needs no locking of its own.
  class replayer {
  public:
    virtual ~replayer() = default;
    //! Runs the whole graph once, stream-ordered after prior work on `s`.
    virtual void replay(cudaStream_t s) = 0;
    //! Makes later replays run graph `g` (a graph of the type the executable was compiled for;
    //! executable::update checked it). Called with the launch mutex held. The default throws
    //! opara::error: a replayer that keeps no graph cannot be re-bound.
    virtual void rebind(const void* /*g*/) {
      throw error("opara::executable::update: this executable's replayer cannot be re-bound to another graph");
    }
  };

  //! What a graph capture policy leaves in its executable so that update() can capture again with
  //! the same policy and capture options (no reference to the user's graph: update() is given it).
  class recapturer {
  public:
    virtual ~recapturer() = default;
    //! Captures `g` (a graph of the type the executable was compiled for) again as planned by `p`,
    //! starting on `s`, split into the launch segments the first capture made. Throws like the
    //! capture policy's capture().
    virtual captured_graph recapture(const void* g, const opara::plan& p, cudaStream_t s) const = 0;
  };

  executable() = default;
  //! A graph-backed executable (stream_capture, explicit_graph) of the current device: `graph` is
  //! the whole graph, `segments` its instantiated launch segments, launched in turn on each call
  //! (one, unless capture::options::launch_segments split it). Throws cuda_error, opara::error when
  //! `segments` is empty.
  executable(opara::plan p, cuda::graph_handle graph, std::vector<cuda::graph_exec_handle> segments,
             capture_stats stats, unsigned long long instantiate_flags = 0)
      : plan_(std::move(p)), graph_(std::move(graph)), execs_(std::move(segments)), stats_(std::move(stats)),
        device_(cuda::current_device()), instantiate_flags_(instantiate_flags) {
    if (execs_.empty()) throw error("opara::executable: a graph-backed executable needs at least one graph to launch");
  }
  //! A replayer-backed executable (eager) of the current device. Throws cuda_error.
  executable(opara::plan p, std::unique_ptr<replayer> launcher, capture_stats stats)
      : plan_(std::move(p)), replayer_(std::move(launcher)), stats_(std::move(stats)),
        device_(cuda::current_device()) {}

  executable(executable&&) noexcept = default;
  executable& operator=(executable&&) noexcept = default;
  executable(const executable&) = delete;
  executable& operator=(const executable&) = delete;
  ~executable() = default;

  //! Runs the graph once on `s` (cudaGraphLaunch, or the eager launches), with the executable's
  //! device current (see the file comment). Asynchronous; may be called from several threads.
  //! Throws wrong_device when `s` belongs to another device, cuda_error when the launch fails,
  //! capture_error when an eager operator fails, opara::error on an empty (moved-from) executable.
  void operator()(cudaStream_t s) const {
    if (!*this) throw error("opara::executable: called on an empty (default-constructed or moved-from) executable");
    // execs_ is read only under the launch mutex: update() may replace its elements meanwhile.
    if (const auto stream_device = cuda::device_of(s); stream_device && *stream_device != device_)
      throw wrong_device(device_, *stream_device);
    const cuda::device_guard on_device(device_);
    const std::lock_guard serialized(*launch_lock_);
    if (replayer_) replayer_->replay(s);
    else
      for (const cuda::graph_exec_handle& segment : execs_) segment.launch(s);
  }

  //! Lets update() work: the executable was compiled from a graph of type G whose structure digest
  //! is `digest` (detail::structure_digest), and `again` captures it again (null for a replayer,
  //! which update() re-binds instead). Capture policies call it; moving and destroying rules apply.
  template <class G>
  void enable_update(std::uint64_t digest, std::unique_ptr<recapturer> again) {
    graph_type_ = &typeid(G);
    structure_ = digest;
    recapturer_ = std::move(again);
  }

  //! True when update() can point this executable at new bindings (opara's capture policies enable it).
  [[nodiscard]] bool updatable() const noexcept { return graph_type_ != nullptr && (recapturer_ || replayer_); }

  //! Points the executable at the buffers g's operators now read: captures g again with the
  //! executable's plan, capture policy and capture options (nothing is profiled or planned), then
  //! updates each launch segment in place with cudaGraphExecUpdate, or instantiates it anew (same
  //! flags) where the update is refused (the topology or a node's type changed: an operator launches
  //! another number of kernels). An eager executable is re-bound to g instead (it launches live).
  //! g must be the graph compiled, or one of the same type and structure (operators may launch
  //! other kernels). `s` is captured like compile()'s stream (stream_capture) and must belong to the
  //! executable's device, which is made current for the call. Launches from other threads may run
  //! meanwhile (see the file comment). Throws opara::error when the executable is empty or was not
  //! made by an updatable capture policy, when G is not the graph type compiled, or when g's
  //! structure (operators, edges) differs from it; wrong_device; capture_error naming a failing
  //! operator; cuda_error. After a cuda_error from the update itself, segments may hold a mix of old
  //! and new bindings: update again or compile anew.
  template <class G>
  update_result update(const G& g, cudaStream_t s) {
    if (!*this) throw error("opara::executable::update: called on an empty (default-constructed or moved-from) executable");
    if (!updatable())
      throw error("opara::executable::update: this executable cannot be updated (its capture policy did not call "
                  "enable_update)");
    if (*graph_type_ != typeid(G))
      throw error(std::string("opara::executable::update: the executable was compiled for graph type '") +
                  graph_type_->name() + "', not '" + typeid(G).name() + "'");
    if (detail::structure_digest(g) != structure_)
      throw error("opara::executable::update: the graph's structure differs from the one compiled (" +
                  std::to_string(graph_traits<G>::num_nodes(g)) + " operators now, " +
                  std::to_string(plan_.num_nodes()) +
                  " in the plan, or other edges): update only re-points buffers; compile the new graph");
    if (const auto stream_device = cuda::device_of(s); stream_device && *stream_device != device_)
      throw wrong_device(device_, *stream_device);
    const cuda::device_guard on_device(device_);
    update_result result;
    if (replayer_) {
      const std::lock_guard serialized(*launch_lock_);
      replayer_->rebind(&g);
      result.kind = update_kind::rebound;
      return result;
    }
    const auto start = std::chrono::steady_clock::now();
    captured_graph fresh = recapturer_->recapture(&g, plan_, s);
    const auto captured = std::chrono::steady_clock::now();
    result.capture_ms = std::chrono::duration<double, std::milli>(captured - start).count();
    std::vector<cudaGraph_t> parts;
    if (fresh.segments.empty()) parts.push_back(fresh.whole.get());
    for (const cuda::graph_handle& part : fresh.segments) parts.push_back(part.get());
    {
      const std::lock_guard serialized(*launch_lock_);
      if (parts.size() != execs_.size() || fresh.instantiate_flags != instantiate_flags_) {
        // Another segment count (an operator without nodes) or other flags: nothing to update.
        std::vector<cuda::graph_exec_handle> instances;
        for (cudaGraph_t part : parts) instances.push_back(cuda::graph_exec_handle::instantiate(part, fresh.instantiate_flags));
        execs_ = std::move(instances);
        instantiate_flags_ = fresh.instantiate_flags;
        result.segments_reinstantiated = execs_.size();
      } else {
        for (std::size_t k = 0; k < parts.size(); ++k) {
          cudaGraphExecUpdateResultInfo info{};
          const cudaError_t status = cudaGraphExecUpdate(execs_[k].get(), parts[k], &info);
          if (status == cudaSuccess) {
            ++result.segments_updated;
          } else if (status == cudaErrorGraphExecUpdateFailure) {
            (void)cudaGetLastError();  // refused (topology, node type, unsupported change): instantiate anew
            execs_[k] = cuda::graph_exec_handle::instantiate(parts[k], instantiate_flags_);
            ++result.segments_reinstantiated;
          } else {
            (void)cudaGetLastError();
            throw cuda_error(status, "cudaGraphExecUpdate(segment " + std::to_string(k) + " of " +
                                         std::to_string(parts.size()) + ")");
          }
        }
      }
      graph_ = std::move(fresh.whole);
    }
    result.kind = result.segments_reinstantiated > 0 ? update_kind::reinstantiated : update_kind::in_place;
    result.update_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - captured).count();
    return result;
  }

  //! The device it was compiled on and launches on (-1 when empty).
  [[nodiscard]] int device() const noexcept { return device_; }

  //! True when a CUDA graph backs this executable.
  [[nodiscard]] bool is_graph() const noexcept { return static_cast<bool>(*this) && !replayer_; }
  //! True when there is something to run. (Every constructor but the default one sets a device and
  //! something to run, and a move takes the launch mutex along: neither reads what update() changes.)
  explicit operator bool() const noexcept { return launch_lock_ != nullptr && device_ >= 0; }
  //! How many CUDA graphs one call launches, one after the other on its stream (0 for eager). An
  //! update() that re-instantiates may change it: do not call it concurrently with update().
  [[nodiscard]] std::size_t num_segments() const noexcept { return execs_.size(); }
  //! The plan it carries out.
  [[nodiscard]] const opara::plan& plan() const noexcept { return plan_; }
  //! The profile the plan was made from, or nullptr when none was taken.
  [[nodiscard]] const opara::profile* profile() const noexcept { return profile_ ? &*profile_ : nullptr; }
  //! Attaches the profile the plan was made from.
  void set_profile(opara::profile p) { profile_ = std::move(p); }
  //! Build costs and sizes.
  [[nodiscard]] const capture_stats& stats() const noexcept { return stats_; }
  //! Mutable build statistics (the scheduler adds profiling and planning times).
  [[nodiscard]] capture_stats& stats() noexcept { return stats_; }
  //! The whole CUDA graph template, before any split into launch segments (null for eager).
  [[nodiscard]] cudaGraph_t native_graph() const noexcept { return graph_.get(); }
  //! The executable CUDA graph: null for eager, and when launch segments split the graph (a call
  //! then launches num_segments() graphs; see native_exec(segment)). An update() that
  //! re-instantiates replaces it: do not call it concurrently with update().
  [[nodiscard]] cudaGraphExec_t native_exec() const noexcept { return execs_.size() == 1 ? execs_[0].get() : nullptr; }
  //! The executable graph of one launch segment, in launch order. Throws opara::error when there
  //! is no such segment.
  [[nodiscard]] cudaGraphExec_t native_exec(std::size_t segment) const {
    if (segment >= execs_.size())
      throw error("opara::executable::native_exec(" + std::to_string(segment) + "): it has " +
                  std::to_string(execs_.size()) + " launch segment(s)");
    return execs_[segment].get();
  }
  //! Writes the CUDA graph in Graphviz form (cudaGraphDebugDotPrint) to `file`, atomically like
  //! every file opara writes. Throws cuda_error, opara::error naming the file when it cannot be
  //! written or when no graph backs this executable (eager capture).
  void write_cuda_dot(const std::filesystem::path& file) const {
    if (!graph_) throw error("opara::executable::write_cuda_dot('" + file.string() + "'): no CUDA graph (eager capture)");
    // cudaGraphDebugDotPrint only writes to a path: a scratch file beside the target, whose text
    // the atomic writer then puts in place.
    const std::filesystem::path scratch = detail::atomic_file_impl::temporary_name(file);
    struct remover {
      const std::filesystem::path& path;
      ~remover() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
      }
    } cleanup{scratch};
    OPARA_CUDA_CHECK(cudaGraphDebugDotPrint(graph_.get(), scratch.c_str(), cudaGraphDebugDotFlagsVerbose));
    std::ifstream printed(scratch, std::ios::binary);
    std::ostringstream text;
    text << printed.rdbuf();
    if (!printed) throw error("opara::executable::write_cuda_dot: cannot read back '" + scratch.string() + "'");
    detail::write_file_atomically(file, text.str(), "CUDA graph DOT file");
  }

private:
  opara::plan plan_;
  std::optional<opara::profile> profile_;
  cuda::graph_handle graph_;
  std::vector<cuda::graph_exec_handle> execs_;  // launch segments, in launch order
  std::unique_ptr<replayer> replayer_;
  capture_stats stats_;
  int device_ = -1;
  unsigned long long instantiate_flags_ = 0;        // what every segment was instantiated with
  const std::type_info* graph_type_ = nullptr;      // the graph type compiled (null: not updatable)
  std::uint64_t structure_ = 0;                     // its detail::structure_digest
  std::unique_ptr<recapturer> recapturer_;          // graph policies: captures again for update()
  std::unique_ptr<std::mutex> launch_lock_ = std::make_unique<std::mutex>();  // heap: the executable stays movable
};

} // namespace opara
