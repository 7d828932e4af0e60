#pragma once
//! An advisory lock that makes a read-modify-write of one file exclusive among the threads and
//! processes that take it: flock(LOCK_EX) on "<target>.lock", where <target> is the file a
//! symbolic link at the path leads to (so two links to one file share its lock; a name too long
//! for ".lock" is shortened and given a hash of itself), opened afresh for every lock, so two
//! threads of one process exclude each other as two processes do (flock locks belong to the open
//! file, not to the process as fcntl's do). The lock file is created when missing and left in place
//! (removing it would let a third party lock a new file while a second still holds the old one).
//! Where POSIX is not available (no <sys/file.h>), a process-wide mutex excludes this process's
//! threads only. Advisory: a writer that does not take the lock is not held back, but every file
//! opara writes is still replaced atomically (atomic_file.hpp). No stability promise (detail/).

#include <opara/detail/atomic_file.hpp>
#include <opara/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#if __has_include(<sys/file.h>) && __has_include(<unistd.h>)
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#define OPARA_HAS_FLOCK 1
#else
#include <mutex>
#define OPARA_HAS_FLOCK 0
#endif

namespace opara::detail {

//! The lock was not free within the time the caller would wait (its holder may be stopped: a
//! debugger, SIGSTOP, a hung file system).
class lock_timeout : public error {
public:
  using error::error;
};

//! The lock file of `path`: "<target>.lock" beside the file the path leads to (resolve_target),
//! or, when that name would pass 255 bytes, "<first 200 bytes of its name>.<16 hex digits of
//! its FNV-1a hash>.lock". Throws opara::error when a link cannot be read.
[[nodiscard]] inline std::filesystem::path lock_path_of(const std::filesystem::path& path) {
  const std::filesystem::path target = resolve_target(path);
  const std::string name = target.filename().string();
  if (name.size() + 5 <= 255) return target.parent_path() / (name + ".lock");
  std::uint64_t hash = 14695981039346656037ull;
  for (const unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  std::string hex(16, '0');
  for (std::size_t i = 0; i < hex.size(); ++i) hex[i] = "0123456789abcdef"[(hash >> (60 - 4 * i)) & 0xf];
  return target.parent_path() / (name.substr(0, 200) + "." + hex + ".lock");
}

//! Holds the lock of `path` (on lock_path_of(path)) from construction to destruction. Waits until
//! it is free, or at most `timeout` when one is given (polling: flock has no timed wait). Not
//! copyable or movable. Throws lock_timeout naming the lock file when the time passes, opara::error
//! naming it when it cannot be created, opened or locked.
class file_lock {
public:
  explicit file_lock(const std::filesystem::path& path,
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
#if OPARA_HAS_FLOCK
    const std::filesystem::path lock_path = lock_path_of(path);
    do {
      fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) fail(lock_path, "opening", errno);
    const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::milliseconds(0));
    auto pause = std::chrono::microseconds(500);
    for (;;) {
      if (::flock(fd_, timeout ? LOCK_EX | LOCK_NB : LOCK_EX) == 0) break;
      const int code = errno;
      if (code == EINTR) continue;
      if (!timeout || code != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
        ::close(fd_);
        if (timeout && code == EWOULDBLOCK)
          throw lock_timeout("opara: cannot lock '" + lock_path.string() + "': other threads or processes held it for the whole " +
                             std::to_string(timeout->count()) + " ms waited (one stopped, a hung file system, or many writers at once?)");
        fail(lock_path, "locking", code);
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(50));
    }
#else
    (void)path;
    if (!timeout) {
      lock_ = std::unique_lock(process_mutex());
    } else {
      lock_ = std::unique_lock(process_mutex(), std::defer_lock);
      if (!lock_.try_lock_for(*timeout))
        throw lock_timeout("opara: cannot lock '" + path.string() + "': another thread has held it for " +
                           std::to_string(timeout->count()) + " ms");
    }
#endif
  }
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  ~file_lock() {
#if OPARA_HAS_FLOCK
    (void)::flock(fd_, LOCK_UN);
    (void)::close(fd_);  // closing would release it anyway; unlocking first says what is meant
#endif
  }

private:
  [[noreturn]] static void fail(const std::filesystem::path& lock_path, const char* step, int code) {
    throw error("opara: cannot lock '" + lock_path.string() + "': " + step + ": " +
                std::generic_category().message(code));
  }
#if OPARA_HAS_FLOCK
  int fd_ = -1;
#else
  static std::timed_mutex& process_mutex() {
    static std::timed_mutex shared;
    return shared;
  }
  std::unique_lock<std::timed_mutex> lock_;
#endif
};

} // namespace opara::detail
