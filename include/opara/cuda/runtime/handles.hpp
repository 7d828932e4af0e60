#pragma once
//! RAII owners for CUDA streams, events, graphs and executable graphs (unique_ptr-style: movable,
//! not copyable, destroyed with the matching cudaXxxDestroy), and stream_ref, a non-owning view.
//! Each owner is named after what it owns plus `_handle` (graph_handle owns a cudaGraph_t), so that
//! opara::graph, the planner's operator graph, has no namesake here. Destructors never throw: a
//! failing destroy is logged to stderr. Threads: like std::unique_ptr, a handle object is not
//! synchronized (its const members may be used from several threads); what it holds follows CUDA's
//! rules (streams and events may be used from any thread; a cudaGraph_t must not be used by two
//! threads at once).

#include <opara/cuda/runtime/error.hpp>

#include <cuda_runtime_api.h>

#include <source_location>
#include <utility>

namespace opara::cuda {

namespace detail {
//! Shared move-only ownership logic; Derived::destroy(handle) releases a non-null handle.
template <class Handle, class Derived>
class unique_handle {
public:
  unique_handle() noexcept = default;
  //! Adopts `h` (which may be null).
  explicit unique_handle(Handle raw) noexcept : raw_(raw) {}
  unique_handle(const unique_handle&) = delete;
  unique_handle& operator=(const unique_handle&) = delete;
  unique_handle(unique_handle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  unique_handle& operator=(unique_handle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.raw_, nullptr));
    return *this;
  }
  ~unique_handle() { reset(); }

  //! The raw handle (still owned).
  [[nodiscard]] Handle get() const noexcept { return raw_; }
  //! Gives up ownership and returns the raw handle.
  [[nodiscard]] Handle release() noexcept { return std::exchange(raw_, nullptr); }
  //! Destroys the owned handle (if any) and adopts `raw`.
  void reset(Handle raw = nullptr) noexcept {
    if (Handle old = std::exchange(raw_, raw)) Derived::destroy(old);
  }
  explicit operator bool() const noexcept { return raw_ != nullptr; }
  operator Handle() const noexcept { return raw_; }  // NOLINT: handles pass straight into the CUDA API

protected:
  //! The owner of what `make(&raw)` creates. Throws cuda_error naming `expression` and the caller's
  //! line when the CUDA call fails.
  template <class Make>
  static Derived created(Make&& make, const char* expression,
                         std::source_location where = std::source_location::current()) {
    Handle raw = nullptr;
    opara::detail::cuda_check(make(&raw), expression, where);
    return Derived(raw);
  }

private:
  Handle raw_ = nullptr;
};
} // namespace detail

//! A non-owning stream handle (the caller's stream, or one owned elsewhere). Null is the legacy
//! default stream.
class stream_ref {
public:
  constexpr stream_ref() noexcept = default;
  constexpr stream_ref(cudaStream_t stream) noexcept : stream_(stream) {}  // NOLINT: implicit by design
  [[nodiscard]] constexpr cudaStream_t get() const noexcept { return stream_; }
  constexpr operator cudaStream_t() const noexcept { return stream_; }  // NOLINT
  //! Blocks until all work on the stream is done. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

private:
  cudaStream_t stream_ = nullptr;
};

//! An owned stream. Non-blocking by default, so it never synchronizes implicitly with the legacy
//! default stream. Throws cuda_error when creation fails.
class stream_handle : public detail::unique_handle<cudaStream_t, stream_handle> {
public:
  using unique_handle::unique_handle;
  //! Creates a stream with `flags` (cudaStreamNonBlocking or cudaStreamDefault).
  [[nodiscard]] static stream_handle create(unsigned flags = cudaStreamNonBlocking) {
    return created([&](cudaStream_t* raw) { return cudaStreamCreateWithFlags(raw, flags); },
                   "cudaStreamCreateWithFlags(&raw, flags)");
  }
  //! A non-owning view of this stream.
  [[nodiscard]] stream_ref ref() const noexcept { return stream_ref(get()); }
  //! Blocks until all work on the stream is done. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaStreamSynchronize(get())); }
  static void destroy(cudaStream_t raw) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaStreamDestroy(raw)); }
};

//! An owned event. cudaEventDisableTiming by default: ordering events are cheaper without
//! timestamps. Throws cuda_error when creation fails.
class event_handle : public detail::unique_handle<cudaEvent_t, event_handle> {
public:
  using unique_handle::unique_handle;
  //! Creates an event with `flags`; pass cudaEventDefault for one that can time.
  [[nodiscard]] static event_handle create(unsigned flags = cudaEventDisableTiming) {
    return created([&](cudaEvent_t* raw) { return cudaEventCreateWithFlags(raw, flags); },
                   "cudaEventCreateWithFlags(&raw, flags)");
  }
  //! Records the event on `stream`. Throws cuda_error.
  void record(cudaStream_t stream) const { OPARA_CUDA_CHECK(cudaEventRecord(get(), stream)); }
  //! Blocks until the event has completed. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaEventSynchronize(get())); }
  static void destroy(cudaEvent_t raw) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaEventDestroy(raw)); }
};

//! An owned CUDA graph (the template, before instantiation).
class graph_handle : public detail::unique_handle<cudaGraph_t, graph_handle> {
public:
  using unique_handle::unique_handle;
  //! Creates an empty graph. Throws cuda_error.
  [[nodiscard]] static graph_handle create() {
    return created([](cudaGraph_t* raw) { return cudaGraphCreate(raw, 0); }, "cudaGraphCreate(&raw, 0)");
  }
  //! Number of nodes at the top level. Throws cuda_error.
  [[nodiscard]] std::size_t num_nodes() const {
    std::size_t count = 0;
    OPARA_CUDA_CHECK(cudaGraphGetNodes(get(), nullptr, &count));
    return count;
  }
  static void destroy(cudaGraph_t raw) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaGraphDestroy(raw)); }
};

//! An owned executable graph (cudaGraphExec_t), instantiated from a graph_handle's graph.
class graph_exec_handle : public detail::unique_handle<cudaGraphExec_t, graph_exec_handle> {
public:
  using unique_handle::unique_handle;
  //! Instantiates `graph`. Throws cuda_error.
  [[nodiscard]] static graph_exec_handle instantiate(cudaGraph_t graph, unsigned long long flags = 0) {
    return created([&](cudaGraphExec_t* raw) { return cudaGraphInstantiateWithFlags(raw, graph, flags); },
                   "cudaGraphInstantiateWithFlags(&raw, graph, flags)");
  }
  //! Launches the graph on `stream`. Throws cuda_error.
  void launch(cudaStream_t stream) const { OPARA_CUDA_CHECK(cudaGraphLaunch(get(), stream)); }
  static void destroy(cudaGraphExec_t raw) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaGraphExecDestroy(raw)); }
};

} // namespace opara::cuda
