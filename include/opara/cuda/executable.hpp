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

#include <opara/cuda/device.hpp>
#include <opara/cuda/error.hpp>
#include <opara/detail/atomic_file.hpp>
#include <opara/error.hpp>
#include <opara/cuda/handles.hpp>
#include <opara/plan/plan.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
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
  std::size_t segments = 0;       //!< CUDA graphs launched per replay (capture_options::launch_segments; 0 for eager)
  bool profile_reused = false;    //!< the profile came from disk
};

//! A compiled graph, ready to run. Replays are stream-ordered on the stream passed to operator().
//! With capture_options::launch_segments, one replay is several CUDA graphs launched back to back
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
  };

  executable() = default;
  //! A graph-backed executable (stream_capture, explicit_graph) of the current device: `graph` is
  //! the whole graph, `segments` its instantiated launch segments, launched in turn on each call
  //! (one, unless capture_options::launch_segments split it). Throws cuda_error, opara::error when
  //! `segments` is empty.
  executable(opara::plan p, cuda::graph_handle graph, std::vector<cuda::graph_exec_handle> segments,
             capture_stats stats)
      : plan_(std::move(p)), graph_(std::move(graph)), execs_(std::move(segments)), stats_(std::move(stats)),
        device_(cuda::current_device()) {
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
    if (const auto stream_device = cuda::device_of(s); stream_device && *stream_device != device_)
      throw wrong_device(device_, *stream_device);
    const cuda::device_guard on_device(device_);
    const std::lock_guard serialized(*launch_lock_);
    if (replayer_) replayer_->replay(s);
    else
      for (const cuda::graph_exec_handle& segment : execs_) segment.launch(s);
  }

  //! The device it was compiled on and launches on (-1 when empty).
  [[nodiscard]] int device() const noexcept { return device_; }

  //! True when a CUDA graph backs this executable.
  [[nodiscard]] bool is_graph() const noexcept { return !execs_.empty(); }
  //! True when there is something to run.
  explicit operator bool() const noexcept { return !execs_.empty() || replayer_; }
  //! How many CUDA graphs one call launches, one after the other on its stream (0 for eager).
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
  //! then launches num_segments() graphs; see native_exec(segment)).
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
  std::unique_ptr<std::mutex> launch_lock_ = std::make_unique<std::mutex>();  // heap: the executable stays movable
};

} // namespace opara
