#pragma once
//! An advisory lock that makes a read-modify-write of one file exclusive among the threads and
//! processes that take it: flock(LOCK_EX) on "<path>.lock", opened afresh for every lock, so two
//! threads of one process exclude each other as two processes do (flock locks belong to the open
//! file, not to the process as fcntl's do). The lock file is created when missing and left in place
//! (removing it would let a third party lock a new file while a second still holds the old one).
//! Where POSIX is not available (no <sys/file.h>), a process-wide mutex excludes this process's
//! threads only. Advisory: a writer that does not take the lock is not held back, but every file
//! opara writes is still replaced atomically (atomic_file.hpp). No stability promise (detail/).

#include <opara/error.hpp>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
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

//! Holds the lock of `path` (on "<path>.lock") from construction to destruction; blocks until it
//! is free. Not copyable or movable. Throws opara::error naming the lock file when it cannot be
//! created, opened or locked.
class file_lock {
public:
  explicit file_lock(const std::filesystem::path& path) {
#if OPARA_HAS_FLOCK
    std::filesystem::path lock_path = path;
    lock_path += ".lock";
    do {
      fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) fail(lock_path, "opening", errno);
    int locked = -1;
    do {
      locked = ::flock(fd_, LOCK_EX);
    } while (locked != 0 && errno == EINTR);
    if (locked != 0) {
      const int code = errno;
      ::close(fd_);
      fail(lock_path, "locking", code);
    }
#else
    (void)path;
    lock_ = std::unique_lock(process_mutex());
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
  static std::mutex& process_mutex() {
    static std::mutex shared;
    return shared;
  }
  std::unique_lock<std::mutex> lock_;
#endif
};

} // namespace opara::detail
