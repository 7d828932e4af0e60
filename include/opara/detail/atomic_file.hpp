#pragma once
//! The one way opara writes a file (profiles, autotune caches, anything else): the whole text goes
//! to a temporary file with a unique name in the target's directory, which is flushed to disk and
//! then renamed over the target, and the directory is flushed too. A reader therefore sees the old
//! file or the new one, never half of one, even after a crash or with two writers at once (the
//! last rename wins). Where POSIX is not available (no <unistd.h>), the same is done with standard
//! C++ streams and std::filesystem::rename, which cannot ask the OS to flush to disk. No stability
//! promise (detail/).

#include <opara/error.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#if __has_include(<unistd.h>)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace opara::detail {

namespace atomic_file_impl {

#if __has_include(<unistd.h>)
//! A file descriptor closed on scope exit (errors on that close are ignored: callers that care
//! close it themselves first).
class descriptor {
public:
  explicit descriptor(int raw) noexcept : fd_(raw) {}
  descriptor(const descriptor&) = delete;
  descriptor& operator=(const descriptor&) = delete;
  ~descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  //! Closes now and reports close's result (0 or -1 with errno).
  int close() noexcept { return ::close(std::exchange(fd_, -1)); }

private:
  int fd_;
};
#endif

inline std::string os_message(int code) { return std::generic_category().message(code); }

//! "<dir>/.<name>.tmp.<process token>.<n>": a random token drawn once per process and a counter
//! per call make it unique; creating it exclusively (POSIX) catches the rest.
inline std::filesystem::path temporary_name(const std::filesystem::path& target) {
  static const std::uint64_t process_token = [] {
    std::random_device entropy;
    return (std::uint64_t{entropy()} << 32) ^ entropy();
  }();
  static std::atomic<unsigned long> counter{0};
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp.";
  name += std::to_string(process_token);
  name += ".";
  name += std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  return target.parent_path() / name;
}

//! Throws the opara::error every failure of the writer throws.
[[noreturn]] inline void fail_write(const std::filesystem::path& path, std::string_view what, const std::string& step,
                                    const std::string& reason) {
  throw error("opara: cannot write " + std::string(what) + " '" + path.string() + "': " + step + ": " + reason);
}

//! The writer without POSIX: standard streams into the temporary file, then
//! std::filesystem::rename over the target. Used where <unistd.h> is missing; tested everywhere.
inline void write_through_streams(const std::filesystem::path& path, std::string_view contents, std::string_view what) {
  const std::filesystem::path tmp = temporary_name(path);
  auto fail_and_remove = [&](const std::string& step, const std::string& reason) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail_write(path, what, step, reason);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_and_remove("creating a temporary file in its directory", "the file could not be opened");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) fail_and_remove("writing", "the stream reported an error");
  }
  std::error_code failure;
  std::filesystem::rename(tmp, path, failure);
  if (failure) fail_and_remove("renaming the temporary file over it", failure.message());
}

} // namespace atomic_file_impl

//! Replaces the file at `path` by `contents`, atomically (see the file comment). `what` names the
//! kind of file in error messages ("profile", "autotune cache"). The new file gets mode 0666
//! minus the process umask, like a file std::ofstream creates. Throws opara::error naming the
//! path, the step that failed and the OS error; the temporary file is removed on every failure.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                                  std::string_view what = "file") {
  namespace impl = atomic_file_impl;
  if (path.empty()) throw error("opara: cannot write " + std::string(what) + ": the path is empty");
  if (!path.has_filename()) impl::fail_write(path, what, "the path names a directory", impl::os_message(EISDIR));
#if !__has_include(<unistd.h>)
  impl::write_through_streams(path, contents, what);
#else
  auto fail = [&](const std::string& step, int code) { impl::fail_write(path, what, step, impl::os_message(code)); };

  std::filesystem::path tmp;
  int opened = -1;
  for (int attempt = 0; attempt < 100 && opened < 0; ++attempt) {
    tmp = impl::temporary_name(path);
    do {
      opened = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (opened < 0 && errno == EINTR);
    if (opened < 0 && errno != EEXIST) fail("creating a temporary file in its directory", errno);
  }
  if (opened < 0) fail("creating a temporary file in its directory", EEXIST);
  impl::descriptor file(opened);

  // From here on, a failure removes the temporary file before throwing.
  auto fail_and_remove = [&](const std::string& step, int code) {
    if (file.get() >= 0) (void)file.close();
    (void)::unlink(tmp.c_str());
    fail(step, code);
  };
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ::ssize_t wrote = ::write(file.get(), data, left);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      fail_and_remove("writing", errno);
    }
    data += wrote;
    left -= static_cast<std::size_t>(wrote);
  }
  if (::fsync(file.get()) != 0) fail_and_remove("flushing to disk", errno);
  if (file.close() != 0) fail_and_remove("closing", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_and_remove("renaming the temporary file over it", errno);

  // The rename is durable once the directory is flushed. Some file systems refuse fsync on a
  // directory (EINVAL); the file itself is in place by then, so only real I/O errors count.
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  impl::descriptor dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) fail("opening its directory to flush it", errno);
  if (::fsync(dir_fd.get()) != 0 && errno != EINVAL && errno != EROFS) fail("flushing its directory", errno);
#endif
}

} // namespace opara::detail
