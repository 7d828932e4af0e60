#pragma once
//! RAII owners for CUDA streams, events, graphs and executable graphs (unique_ptr-style: movable,
//! not copyable, destroyed with the matching cudaXxxDestroy), and stream_ref, a non-owning view.
//! Destructors never throw: a failing destroy is logged to stderr.

#include <opara/cuda/error.hpp>

#include <cuda_runtime_api.h>

#include <utility>

namespace opara::cuda {

namespace detail {
//! Shared move-only ownership logic; Derived::destroy(handle) releases a non-null handle.
template <class Handle, class Derived>
class unique_handle {
public:
  unique_handle() noexcept = default;
  //! Adopts `h` (which may be null).
  explicit unique_handle(Handle h) noexcept : h_(h) {}
  unique_handle(const unique_handle&) = delete;
  unique_handle& operator=(const unique_handle&) = delete;
  unique_handle(unique_handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  unique_handle& operator=(unique_handle&& o) noexcept {
    if (this != &o) reset(std::exchange(o.h_, nullptr));
    return *this;
  }
  ~unique_handle() { reset(); }

  //! The raw handle (still owned).
  [[nodiscard]] Handle get() const noexcept { return h_; }
  //! Gives up ownership and returns the raw handle.
  [[nodiscard]] Handle release() noexcept { return std::exchange(h_, nullptr); }
  //! Destroys the owned handle (if any) and adopts `h`.
  void reset(Handle h = nullptr) noexcept {
    if (Handle old = std::exchange(h_, h)) Derived::destroy(old);
  }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  operator Handle() const noexcept { return h_; }  // NOLINT: handles pass straight into the CUDA API

private:
  Handle h_ = nullptr;
};
} // namespace detail

//! A non-owning stream handle (the caller's stream, or one owned elsewhere). Null is the legacy
//! default stream.
class stream_ref {
public:
  constexpr stream_ref() noexcept = default;
  constexpr stream_ref(cudaStream_t s) noexcept : s_(s) {}  // NOLINT: implicit by design
  [[nodiscard]] constexpr cudaStream_t get() const noexcept { return s_; }
  constexpr operator cudaStream_t() const noexcept { return s_; }  // NOLINT
  //! Blocks until all work on the stream is done. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaStreamSynchronize(s_)); }

private:
  cudaStream_t s_ = nullptr;
};

//! An owned stream. Non-blocking by default, so it never synchronizes implicitly with the legacy
//! default stream. Throws cuda_error when creation fails.
class stream : public detail::unique_handle<cudaStream_t, stream> {
public:
  using unique_handle::unique_handle;
  //! Creates a stream with `flags` (cudaStreamNonBlocking or cudaStreamDefault).
  [[nodiscard]] static stream create(unsigned flags = cudaStreamNonBlocking) {
    cudaStream_t s = nullptr;
    OPARA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, flags));
    return stream(s);
  }
  //! A non-owning view of this stream.
  [[nodiscard]] stream_ref ref() const noexcept { return stream_ref(get()); }
  //! Blocks until all work on the stream is done. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaStreamSynchronize(get())); }
  static void destroy(cudaStream_t s) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaStreamDestroy(s)); }
};

//! An owned event. cudaEventDisableTiming by default: ordering events are cheaper without
//! timestamps. Throws cuda_error when creation fails.
class event : public detail::unique_handle<cudaEvent_t, event> {
public:
  using unique_handle::unique_handle;
  //! Creates an event with `flags`; pass cudaEventDefault for one that can time.
  [[nodiscard]] static event create(unsigned flags = cudaEventDisableTiming) {
    cudaEvent_t e = nullptr;
    OPARA_CUDA_CHECK(cudaEventCreateWithFlags(&e, flags));
    return event(e);
  }
  //! Records the event on `s`. Throws cuda_error.
  void record(cudaStream_t s) const { OPARA_CUDA_CHECK(cudaEventRecord(get(), s)); }
  //! Blocks until the event has completed. Throws cuda_error.
  void synchronize() const { OPARA_CUDA_CHECK(cudaEventSynchronize(get())); }
  static void destroy(cudaEvent_t e) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaEventDestroy(e)); }
};

//! An owned CUDA graph (the template, before instantiation).
class graph : public detail::unique_handle<cudaGraph_t, graph> {
public:
  using unique_handle::unique_handle;
  //! Creates an empty graph. Throws cuda_error.
  [[nodiscard]] static graph create() {
    cudaGraph_t g = nullptr;
    OPARA_CUDA_CHECK(cudaGraphCreate(&g, 0));
    return graph(g);
  }
  //! Number of nodes at the top level. Throws cuda_error.
  [[nodiscard]] std::size_t num_nodes() const {
    std::size_t n = 0;
    OPARA_CUDA_CHECK(cudaGraphGetNodes(get(), nullptr, &n));
    return n;
  }
  static void destroy(cudaGraph_t g) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaGraphDestroy(g)); }
};

//! An owned executable graph.
class graph_exec : public detail::unique_handle<cudaGraphExec_t, graph_exec> {
public:
  using unique_handle::unique_handle;
  //! Instantiates `g`. Throws cuda_error.
  [[nodiscard]] static graph_exec instantiate(cudaGraph_t g, unsigned long long flags = 0) {
    cudaGraphExec_t e = nullptr;
    OPARA_CUDA_CHECK(cudaGraphInstantiateWithFlags(&e, g, flags));
    return graph_exec(e);
  }
  //! Launches the graph on `s`. Throws cuda_error.
  void launch(cudaStream_t s) const { OPARA_CUDA_CHECK(cudaGraphLaunch(get(), s)); }
  static void destroy(cudaGraphExec_t e) noexcept { OPARA_CUDA_CHECK_NOTHROW(cudaGraphExecDestroy(e)); }
};

} // namespace opara::cuda
