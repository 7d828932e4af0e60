#pragma once
//! Error handling for CUDA calls: opara::cuda_error, opara::capture_error, OPARA_CUDA_CHECK.
//!
//! OPARA_CUDA_CHECK(expr) evaluates `expr` exactly once. On failure it clears the runtime's
//! last-error slot (so that a later, unrelated cudaGetLastError() does not report this failure
//! again) and throws opara::cuda_error carrying the code, the expression text, the error's name
//! and where the check was written. Sticky errors (a kernel fault that corrupts the context)
//! cannot be cleared by anyone; the exception says so in its message.

#include <cstdint>  // before opara/error.hpp, which needs it

#include <opara/error.hpp>
#include <opara/graph/traits.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>
#include <utility>

namespace opara {

//! A CUDA runtime call failed. Holds the code, the failing expression and where it was checked.
class cuda_error : public error {
public:
  cuda_error(cudaError_t code, std::string expression,
             std::source_location where = std::source_location::current())
      : error(format(code, expression, where)), code_(code), expression_(std::move(expression)), where_(where) {}

  //! The CUDA error code.
  [[nodiscard]] cudaError_t code() const noexcept { return code_; }
  //! The error's symbolic name, e.g. "cudaErrorInvalidValue".
  [[nodiscard]] const char* name() const noexcept { return cudaGetErrorName(code_); }
  //! The source text of the failing call.
  [[nodiscard]] const std::string& expression() const noexcept { return expression_; }
  //! Where the check was written.
  [[nodiscard]] const std::source_location& where() const noexcept { return where_; }

  //! The message a cuda_error for these arguments carries (also used by the no-throw check).
  static std::string format(cudaError_t code, const std::string& expression, const std::source_location& where) {
    std::string m = std::string(where.file_name()) + ":" + std::to_string(where.line()) + ": " + expression +
                    " failed: " + cudaGetErrorName(code) + " (" + cudaGetErrorString(code) + ")";
    if (is_sticky(code)) m += " [sticky: the CUDA context is unusable; the process must restart]";
    return m;
  }
  //! True for errors that corrupt the context (every later call fails with them).
  static bool is_sticky(cudaError_t code) noexcept {
    switch (code) {
      case cudaErrorIllegalAddress:
      case cudaErrorLaunchFailure:
      case cudaErrorIllegalInstruction:
      case cudaErrorMisalignedAddress:
      case cudaErrorInvalidAddressSpace:
      case cudaErrorInvalidPc:
      case cudaErrorHardwareStackError:
      case cudaErrorAssert:
      case cudaErrorLaunchTimeout:
        return true;
      default:
        return false;
    }
  }

private:
  cudaError_t code_;
  std::string expression_;
  std::source_location where_;
};

//! Capturing (or eagerly launching) a graph failed inside one operator: it threw, synchronized,
//! launched outside its stream, or a CUDA call failed. Names the operator; every resource of the
//! attempt is released and the caller's stream is no longer capturing when this is thrown.
class capture_error : public error {
public:
  capture_error(const std::string& what, node_id node, std::string node_name, cudaError_t code)
      : error(what), node_(node), node_name_(std::move(node_name)), code_(code) {}
  //! Id of the operator that broke the capture, or opara::no_node when no single operator did
  //! (ending the capture failed).
  [[nodiscard]] node_id node() const noexcept { return node_; }
  //! Name of that operator.
  [[nodiscard]] const std::string& node_name() const noexcept { return node_name_; }
  //! The CUDA error seen, or cudaSuccess when the operator threw a C++ exception.
  [[nodiscard]] cudaError_t code() const noexcept { return code_; }

private:
  node_id node_;
  std::string node_name_;
  cudaError_t code_;
};

//! An executable was launched on a stream of another device than the one it was compiled on.
//! Names both devices; nothing was enqueued.
class wrong_device : public error {
public:
  wrong_device(int executable_device, int stream_device)
      : error("opara::executable: compiled on device " + std::to_string(executable_device) +
              " but launched on a stream of device " + std::to_string(stream_device) +
              " (compile one executable per device, with that device's scheduler, and launch each on its own "
              "device's streams)"),
        executable_device_(executable_device), stream_device_(stream_device) {}
  //! The device the executable was compiled on (and whose memory its operators use).
  [[nodiscard]] int executable_device() const noexcept { return executable_device_; }
  //! The device of the stream it was launched on.
  [[nodiscard]] int stream_device() const noexcept { return stream_device_; }

private:
  int executable_device_;
  int stream_device_;
};

namespace detail {
//! Throws cuda_error if `code` is not cudaSuccess; clears the last-error slot first.
inline void cuda_check(cudaError_t code, const char* expression,
                       std::source_location where = std::source_location::current()) {
  if (code != cudaSuccess) {
    (void)cudaGetLastError();  // the runtime also keeps the failure there; don't report it twice
    throw cuda_error(code, expression, where);
  }
}
//! Logs to stderr instead of throwing: for destructors and clean-up paths.
inline bool cuda_check_nothrow(cudaError_t code, const char* expression,
                               std::source_location where = std::source_location::current()) noexcept {
  if (code == cudaSuccess) return true;
  (void)cudaGetLastError();
  std::fprintf(stderr, "opara: %s:%u: %s failed: %s (%s)\n", where.file_name(), static_cast<unsigned>(where.line()),
               expression, cudaGetErrorName(code), cudaGetErrorString(code));
  return false;
}
} // namespace detail
} // namespace opara

//! Evaluates a CUDA runtime call once; throws opara::cuda_error on failure.
#define OPARA_CUDA_CHECK(...) ::opara::detail::cuda_check((__VA_ARGS__), #__VA_ARGS__)
//! Evaluates a CUDA runtime call once; on failure logs to stderr and yields false (never throws).
#define OPARA_CUDA_CHECK_NOTHROW(...) ::opara::detail::cuda_check_nothrow((__VA_ARGS__), #__VA_ARGS__)
