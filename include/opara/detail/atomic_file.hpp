#pragma once
//! The one way opara writes a file (profiles, autotune caches, anything else): the whole text goes
//! to a temporary file with a unique name in the target's directory, which is flushed to disk and
//! then renamed over the target, and the directory is flushed too. A reader therefore sees the old
//! file or the new one, never half of one, even after a crash or with two writers at once (the
//! last rename wins). Where POSIX is not available (no <unistd.h>), the same is done with standard
//! C++ streams and std::filesystem::rename, which cannot ask the OS to flush to disk. Only regular
//! files are written or read: a symbolic link is followed to the file it names, and a directory,
//! FIFO or device is refused (read_regular_file also bounds the size). A writer holds an flock on
//! its temporary file, so the next writer of the same target removes those of killed writers. No
//! stability promise (detail/).

#include <opara/error.hpp>

#include <algorithm>
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
#include <sys/file.h>
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

//! How many bytes of the target's name a temporary name keeps: enough to tell whose it is, few
//! enough that a target name the file system accepts (255 bytes) still fits with the suffix.
inline constexpr std::size_t kept_name_bytes = 64;

//! A random token drawn once per process, in 16 hex digits.
inline const std::string& process_token() {
  static const std::string token = [] {
    std::random_device entropy;
    const std::uint64_t bits = (std::uint64_t{entropy()} << 32) ^ entropy();
    std::string hex(16, '0');
    for (std::size_t i = 0; i < hex.size(); ++i) hex[i] = "0123456789abcdef"[(bits >> (60 - 4 * i)) & 0xf];
    return hex;
  }();
  return token;
}

//! "<dir>/.<first 64 bytes of name><marker>": what every temporary name of `target` starts with.
inline std::filesystem::path temporary_prefix(const std::filesystem::path& target, std::string_view marker) {
  std::string name = ".";
  name += target.filename().string().substr(0, kept_name_bytes);
  name += marker;
  return target.parent_path() / name;
}

//! prefix + "<process token>.<n>": the process token and a counter per call make it unique;
//! creating it exclusively (POSIX) catches the rest. At most 1 + 64 + 17 + 21 bytes past the
//! marker, whatever the target's name.
inline std::filesystem::path unique_name(const std::filesystem::path& target, std::string_view marker) {
  static std::atomic<unsigned long> counter{0};
  std::filesystem::path name = temporary_prefix(target, marker);
  name += process_token();
  name += ".";
  name += std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  return name;
}

//! A scratch name beside `target` ("<dir>/.<name>.tmp.<token>.<n>") for a file its maker removes
//! itself (write_cuda_dot's). The writer's own temporaries are named by writer_name.
inline std::filesystem::path temporary_name(const std::filesystem::path& target) { return unique_name(target, ".tmp."); }

//! What marks the writer's temporary files: ".<name>.opara-tmp.<token>.<n>". A writer holds an
//! flock on its temporary until the rename, so one that is not locked belongs to a dead writer.
inline constexpr std::string_view writer_marker = ".opara-tmp.";

inline std::filesystem::path writer_name(const std::filesystem::path& target) { return unique_name(target, writer_marker); }

//! True when directory entry `entry` is a writer temporary of the target whose prefix
//! (temporary_prefix(target, writer_marker).filename()) is `prefix`: the prefix, 16 hex digits, a
//! dot, 1 to 20 decimal digits, nothing else.
[[nodiscard]] inline bool is_writer_temporary(std::string_view entry, std::string_view prefix) noexcept {
  if (!entry.starts_with(prefix)) return false;
  entry.remove_prefix(prefix.size());
  if (entry.size() < 18 || entry.size() > 37 || entry[16] != '.') return false;
  for (std::size_t i = 0; i < entry.size(); ++i) {
    const char c = entry[i];
    if (i < 16 ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) : i > 16 && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

//! Throws the opara::error every failure of the writer throws.
[[noreturn]] inline void fail_write(const std::filesystem::path& path, std::string_view what, const std::string& step,
                                    const std::string& reason) {
  throw error("opara: cannot write " + std::string(what) + " '" + path.string() + "': " + step + ": " + reason);
}

//! What a file that is not a regular file is, for error messages.
inline std::string kind_of(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::directory: return "a directory";
    case file_type::fifo: return "a FIFO";
    case file_type::character: return "a character device";
    case file_type::block: return "a block device";
    case file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

//! The writer without POSIX: standard streams into the temporary file, then
//! std::filesystem::rename over the target. Used where <unistd.h> is missing; tested everywhere.
//! Temporaries of killed writers are not swept here (there is no lock to tell them apart).
inline void write_through_streams(const std::filesystem::path& path, std::string_view contents, std::string_view what) {
  const std::filesystem::path tmp = writer_name(path);
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

#if __has_include(<unistd.h>)
//! Removes the temporaries of `target` that no live writer holds (their writers were killed
//! between creating and renaming them). A writer holds an flock on its temporary from just after
//! creating it until after the rename, and checks once it holds it that the name is still its
//! file (else it starts over with a new name), so a live writer's file is never lost. Best effort:
//! every failure is ignored.
inline void sweep_dead_writers(const std::filesystem::path& target) noexcept {
  try {
    const std::filesystem::path prefix_path = temporary_prefix(target, writer_marker);
    const std::string prefix = prefix_path.filename().string();
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::error_code failure;
    for (std::filesystem::directory_iterator it(dir, failure), end; !failure && it != end; it.increment(failure)) {
      const std::string name = it->path().filename().string();
      if (!is_writer_temporary(name, prefix)) continue;
      const std::filesystem::path tmp = it->path();
      descriptor held(::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (held.get() < 0) continue;
      struct ::stat opened {};
      if (::fstat(held.get(), &opened) != 0 || !S_ISREG(opened.st_mode)) continue;
      if (::flock(held.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer holds it
      struct ::stat named {};
      if (::lstat(tmp.c_str(), &named) == 0 && named.st_dev == opened.st_dev && named.st_ino == opened.st_ino)
        (void)::unlink(tmp.c_str());
    }
  } catch (...) {  // allocation failures and the like: sweeping is an extra
  }
}
#endif

} // namespace atomic_file_impl

//! The file that writing `path` replaces: `path` itself, or where its chain of symbolic links ends
//! (which need not exist yet), so that a link to a shared file updates the shared file and not the
//! link. Links in the directories above need no resolving (the OS follows them). Throws
//! opara::error naming the path when a link cannot be read or the chain is longer than 40 links.
[[nodiscard]] inline std::filesystem::path resolve_target(const std::filesystem::path& path) {
  std::filesystem::path current = path;
  for (int hops = 0;; ++hops) {
    std::error_code failure;
    const auto status = std::filesystem::symlink_status(current, failure);
    if (!std::filesystem::is_symlink(status)) return current;
    if (hops == 40)
      throw error("opara: cannot resolve '" + path.string() + "': " + atomic_file_impl::os_message(ELOOP));
    std::filesystem::path link = std::filesystem::read_symlink(current, failure);
    if (failure) throw error("opara: cannot resolve '" + path.string() + "': reading the link '" + current.string() +
                             "': " + failure.message());
    current = link.is_absolute() ? link : current.parent_path() / link;
  }
}

//! Replaces the file at `path` by `contents`, atomically (see the file comment). A symbolic link
//! is followed (resolve_target) and the file it names is replaced. `what` names the kind of file
//! in error messages ("profile", "autotune cache"). A new file gets mode 0666 minus the process
//! umask, like a file std::ofstream creates; a replaced one keeps its mode (and its owner and
//! group, where the process may set them). Temporaries left beside the target by writers that
//! were killed are removed (POSIX). Throws opara::error naming the path, the step that failed and
//! the OS error, also when the path names something other than a regular file (a directory, a
//! FIFO, a device: nothing is replaced); the temporary file is removed on every failure.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                                  std::string_view what = "file") {
  namespace impl = atomic_file_impl;
  if (path.empty()) throw error("opara: cannot write " + std::string(what) + ": the path is empty");
  if (!path.has_filename()) impl::fail_write(path, what, "the path names a directory", impl::os_message(EISDIR));
  const std::filesystem::path target = resolve_target(path);
  const std::string where = target == path ? std::string() : " (where the link leads)";
  {
    std::error_code failure;
    const auto status = std::filesystem::status(target, failure);
    if (!failure && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
      impl::fail_write(path, what, "'" + target.string() + "'" + where + " is " + impl::kind_of(status.type()),
                       "opara replaces regular files only");
  }
#if !__has_include(<unistd.h>)
  impl::write_through_streams(target, contents, what);
#else
  auto fail = [&](const std::string& step, int code) { impl::fail_write(path, what, step, impl::os_message(code)); };

  struct ::stat old {};
  const bool replacing = ::stat(target.c_str(), &old) == 0;
  impl::sweep_dead_writers(target);

  // The temporary is created exclusively and locked (sweep_dead_writers leaves locked ones
  // alone); if a sweeper took it in between, the name no longer leads to our file: start over.
  std::filesystem::path tmp;
  int opened = -1;
  for (int attempt = 0; attempt < 100 && opened < 0; ++attempt) {
    tmp = impl::writer_name(target);
    do {
      opened = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (opened < 0 && errno == EINTR);
    if (opened < 0) {
      if (errno != EEXIST) fail("creating a temporary file in its directory", errno);
      continue;
    }
    struct ::stat mine {};
    struct ::stat named {};
    if (::flock(opened, LOCK_EX | LOCK_NB) != 0 || ::fstat(opened, &mine) != 0 || ::lstat(tmp.c_str(), &named) != 0 ||
        mine.st_dev != named.st_dev || mine.st_ino != named.st_ino) {
      ::close(opened);
      opened = -1;
    }
  }
  if (opened < 0) fail("creating a temporary file in its directory", EEXIST);
  impl::descriptor file(opened);
  // A second descriptor of the same open file keeps the lock after `file` is closed (which is
  // checked: some file systems report write errors only then) until the rename is done.
  impl::descriptor lock_keeper(::fcntl(file.get(), F_DUPFD_CLOEXEC, 0));

  // From here on, a failure removes the temporary file before throwing.
  auto fail_and_remove = [&](const std::string& step, int code) {
    if (file.get() >= 0) (void)file.close();
    (void)::unlink(tmp.c_str());
    fail(step, code);
  };
  if (lock_keeper.get() < 0) fail_and_remove("creating a temporary file in its directory", errno);
  if (replacing) {
    // Keep the owner and group where allowed (root, or a group the user is in), then the mode.
    if (old.st_uid != ::geteuid() || old.st_gid != ::getegid()) (void)::fchown(file.get(), old.st_uid, old.st_gid);
    if (::fchmod(file.get(), old.st_mode & 0777) != 0) fail_and_remove("giving the new file the old one's mode", errno);
  }
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
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail_and_remove("renaming the temporary file over it", errno);
  (void)lock_keeper.close();

  // The rename is durable once the directory is flushed. Some file systems refuse fsync on a
  // directory (EINVAL); the file itself is in place by then, so only real I/O errors count.
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  impl::descriptor dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) fail("opening its directory to flush it", errno);
  if (::fsync(dir_fd.get()) != 0 && errno != EINVAL && errno != EROFS) fail("flushing its directory", errno);
#endif
}

//! The most bytes read_regular_file reads unless told otherwise: far more than any profile or
//! autotune cache (a profile of 10,000 operators with 10 kernels each is about 30 MB).
inline constexpr std::uintmax_t max_read_bytes = std::uintmax_t{256} << 20;

//! The whole text of the regular file at `path` (a symbolic link is followed). Never blocks on a
//! FIFO and never reads a device: anything but a regular file is refused, and so is one longer
//! than `limit` bytes. Throws opara::error "<context> '<path>': <why>" (for example
//! "opara: cannot read profile '/dev/zero': it is a character device, not a regular file").
[[nodiscard]] inline std::string read_regular_file(const std::filesystem::path& path, std::string_view context,
                                                   std::uintmax_t limit = max_read_bytes) {
  namespace impl = atomic_file_impl;
  auto fail = [&](const std::string& why) -> void {
    throw error(std::string(context) + " '" + path.string() + "': " + why);
  };
  auto too_long = [&](std::uintmax_t size) {
    fail("it is " + std::to_string(size) + " bytes, more than the " + std::to_string(limit) +
         " opara reads (not a file opara wrote?)");
  };
  std::string text;
#if __has_include(<unistd.h>)
  // O_NONBLOCK: opening a FIFO with no writer must not wait for one.
  int raw = -1;
  do {
    raw = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) fail(impl::os_message(errno));
  impl::descriptor file(raw);
  struct ::stat st {};
  if (::fstat(file.get(), &st) != 0) fail(impl::os_message(errno));
  if (!S_ISREG(st.st_mode)) {
    using std::filesystem::file_type;
    const file_type type = S_ISDIR(st.st_mode)    ? file_type::directory
                           : S_ISFIFO(st.st_mode) ? file_type::fifo
                           : S_ISCHR(st.st_mode)  ? file_type::character
                           : S_ISBLK(st.st_mode)  ? file_type::block
                           : S_ISSOCK(st.st_mode) ? file_type::socket
                                                  : file_type::unknown;
    fail("it is " + impl::kind_of(type) + ", not a regular file");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > limit) too_long(static_cast<std::uintmax_t>(st.st_size));
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {  // the file may have grown since fstat
      if (text.size() > limit) too_long(text.size());
      text.resize(std::min<std::uintmax_t>(limit + 1, text.size() + 65536));
    }
    const ::ssize_t n = ::read(file.get(), text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(impl::os_message(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > limit) too_long(got);
  text.resize(got);
#else
  std::error_code failure;
  const auto status = std::filesystem::status(path, failure);
  if (failure) fail(failure.message());
  if (!std::filesystem::is_regular_file(status)) fail("it is " + impl::kind_of(status.type()) + ", not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, failure);
  if (failure) fail(failure.message());
  if (size > limit) too_long(size);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("the file could not be opened");
  text.resize(static_cast<std::size_t>(size));
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) fail("the stream reported an error");
#endif
  return text;
}

} // namespace opara::detail
