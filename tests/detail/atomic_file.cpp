// detail::write_file_atomically: the one file writer opara uses (profiles, autotune caches).
#include <opara/detail/atomic_file.hpp>
#include <opara/detail/file_lock.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temporary directory, removed with everything in it.
struct scratch_dir {
  fs::path path;
  explicit scratch_dir(const char* tag) {
    path = fs::temp_directory_path() / (std::string("opara-atomic-").append(tag).append("-").append(std::to_string(::getpid())));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

std::string failure(const fs::path& p, std::string_view text) {
  try {
    opara::detail::write_file_atomically(p, text, "profile");
  } catch (const opara::error& e) {
    return e.what();
  }
  return {};
}

} // namespace

TEST_CASE("atomic_file.writes_and_replaces_leaving_no_temporary") {
  scratch_dir dir("replace");
  const fs::path file = dir.path / "profile.json";
  opara::detail::write_file_atomically(file, "first\n");
  CHECK(read_all(file) == "first\n");
  const std::string big(3 << 20, 'x');  // larger than one write() usually takes
  opara::detail::write_file_atomically(file, big);
  CHECK(read_all(file) == big);
  opara::detail::write_file_atomically(file, "");
  CHECK(read_all(file).empty());
  CHECK(entries_in(dir.path) == 1);  // no ".profile.json.tmp.*" left behind
}

TEST_CASE("atomic_file.mode_follows_umask_like_ofstream") {
  scratch_dir dir("mode");
  const ::mode_t old = ::umask(027);
  opara::detail::write_file_atomically(dir.path / "a.json", "{}");
  ::umask(old);
  struct ::stat st {};
  REQUIRE(::stat((dir.path / "a.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("atomic_file.relative_path_in_current_directory") {
  scratch_dir dir("relative");
  const fs::path old = fs::current_path();
  fs::current_path(dir.path);
  opara::detail::write_file_atomically("plain.json", "1");
  fs::current_path(old);
  CHECK(read_all(dir.path / "plain.json") == "1");
}

TEST_CASE("atomic_file.errors_name_the_path_and_leave_the_old_file") {
  scratch_dir dir("errors");
  const fs::path missing = dir.path / "no" / "such" / "dir" / "p.json";
  const std::string m1 = failure(missing, "x");
  CHECK(m1.find(missing.string()) != std::string::npos);
  CHECK(m1.find("cannot write profile") != std::string::npos);
  CHECK(m1.find("No such file or directory") != std::string::npos);

  // The target is a directory: the rename fails, the temporary is removed.
  fs::create_directories(dir.path / "taken");
  const std::string m2 = failure(dir.path / "taken", "x");
  CHECK(m2.find((dir.path / "taken").string()) != std::string::npos);
  CHECK(entries_in(dir.path) == 1);

  CHECK(failure("", "x").find("empty") != std::string::npos);
  CHECK_FALSE(failure(dir.path / "", "x").empty());  // names a directory

  // A name longer than the file system allows: an opara::error, not a std::filesystem exception.
  const std::string m3 = failure(dir.path / std::string(300, 'n'), "x");
  CHECK(m3.find("opara: cannot write profile") == 0);

  // Unwritable directory (root ignores permissions, so only check when they apply).
  if (::geteuid() != 0) {
    fs::create_directories(dir.path / "ro");
    opara::detail::write_file_atomically(dir.path / "ro" / "p.json", "old");
    fs::permissions(dir.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    CHECK(failure(dir.path / "ro" / "p.json", "new").find("Permission denied") != std::string::npos);
    fs::permissions(dir.path / "ro", fs::perms::owner_all);
    CHECK(read_all(dir.path / "ro" / "p.json") == "old");
  }
}

TEST_CASE("atomic_file.concurrent_writers_never_leave_a_mix") {
  scratch_dir dir("race");
  const fs::path file = dir.path / "cache.json";
  std::vector<std::string> texts;
  for (char c : {'a', 'b', 'c', 'd'}) texts.emplace_back(1 << 16, c);
  std::vector<std::thread> writers;
  for (const auto& t : texts)
    writers.emplace_back([&file, &t] {
      for (int i = 0; i < 20; ++i) opara::detail::write_file_atomically(file, t);
    });
  for (auto& w : writers) w.join();
  const std::string got = read_all(file);
  CHECK(std::find(texts.begin(), texts.end(), got) != texts.end());
  CHECK(entries_in(dir.path) == 1);
}

TEST_CASE("atomic_file.stream_fallback_replaces_and_names_the_path") {
  // The writer used where POSIX is missing, tested here all the same.
  namespace impl = opara::detail::atomic_file_impl;
  scratch_dir dir("streams");
  const fs::path file = dir.path / "cache.json";
  impl::write_through_streams(file, "first", "autotune cache");
  impl::write_through_streams(file, "second, longer", "autotune cache");
  CHECK(read_all(file) == "second, longer");
  CHECK(entries_in(dir.path) == 1);
  auto message = [&](const fs::path& target) {
    try {
      impl::write_through_streams(target, "x", "autotune cache");
    } catch (const opara::error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const fs::path missing = dir.path / "no" / "dir" / "c.json";
  CHECK(message(missing).find("cannot write autotune cache '" + missing.string() + "'") != std::string::npos);
  fs::create_directories(dir.path / "taken");
  CHECK(message(dir.path / "taken").find("renaming") != std::string::npos);
  CHECK(entries_in(dir.path) == 2);  // cache.json and taken/, no temporary left
}

TEST_CASE("atomic_file.sweeps_temporaries_of_dead_writers_and_keeps_live_ones") {
  namespace impl = opara::detail::atomic_file_impl;
  scratch_dir dir("sweep");
  const fs::path file = dir.path / "model.profile.json";
  opara::detail::write_file_atomically(file, "old");
  // Two writers were killed between creating their temporary and renaming it (nothing holds
  // their files), one is still writing (it holds an flock on its temporary), and the user keeps
  // files whose names only look alike.
  const fs::path dead1 = impl::writer_name(file);
  const fs::path dead2 = impl::writer_name(file);
  const fs::path live = impl::writer_name(file);
  for (const auto& p : {dead1, dead2, live}) std::ofstream(p) << "half a profile";
  const int live_fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(live_fd >= 0);
  REQUIRE(::flock(live_fd, LOCK_EX) == 0);
  const fs::path lookalike = dir.path / (live.filename().string() + ".bak");
  const fs::path other_target = impl::writer_name(dir.path / "other.json");
  std::ofstream(lookalike) << "mine";
  std::ofstream(other_target) << "another target's";
  CHECK(entries_in(dir.path) == 6);

  opara::detail::write_file_atomically(file, "new");
  CHECK(read_all(file) == "new");
  CHECK_FALSE(fs::exists(dead1));
  CHECK_FALSE(fs::exists(dead2));
  CHECK(read_all(live) == "half a profile");  // a live writer's file is never removed
  CHECK(read_all(lookalike) == "mine");
  CHECK(fs::exists(other_target));  // only the target's own temporaries are looked at
  CHECK(entries_in(dir.path) == 4);
  ::close(live_fd);
}

TEST_CASE("atomic_file.writer_temporary_names_are_recognised_exactly") {
  namespace impl = opara::detail::atomic_file_impl;
  const std::string prefix = ".p.json.opara-tmp.";
  CHECK(impl::is_writer_temporary(prefix + "0123456789abcdef.0", prefix));
  CHECK(impl::is_writer_temporary(prefix + "0123456789abcdef.18446744073709551615", prefix));
  CHECK_FALSE(impl::is_writer_temporary(prefix + "0123456789abcdef.", prefix));
  CHECK_FALSE(impl::is_writer_temporary(prefix + "0123456789ABCDEF.1", prefix));
  CHECK_FALSE(impl::is_writer_temporary(prefix + "0123456789abcdef.1.bak", prefix));
  CHECK_FALSE(impl::is_writer_temporary(prefix + "0123456789abcde.12", prefix));
  CHECK_FALSE(impl::is_writer_temporary(".q.json.opara-tmp.0123456789abcdef.0", prefix));
  CHECK(impl::is_writer_temporary(impl::writer_name("/d/p.json").filename().string(), prefix));
}

TEST_CASE("atomic_file.a_link_is_followed_and_the_file_it_names_replaced") {
  scratch_dir dir("links");
  fs::create_directories(dir.path / "a");
  fs::create_directories(dir.path / "shared");
  const fs::path shared = dir.path / "shared" / "tune.json";
  const fs::path link = dir.path / "a" / "tune.json";
  fs::create_symlink("../shared/tune.json", link);  // dangling until the first write
  opara::detail::write_file_atomically(link, "first");
  CHECK(fs::is_symlink(link));
  CHECK(read_all(shared) == "first");
  const fs::path second = dir.path / "a" / "again.json";  // a link to the link
  fs::create_symlink(link, second);
  opara::detail::write_file_atomically(second, "second");
  CHECK(fs::is_symlink(link));
  CHECK(fs::is_symlink(second));
  CHECK(read_all(shared) == "second");
  CHECK(entries_in(dir.path / "a") == 2);
  CHECK(entries_in(dir.path / "shared") == 1);
  // The lock is the target's, whatever link leads there.
  const auto same = [](const fs::path& a, const fs::path& b) { return fs::weakly_canonical(a) == fs::weakly_canonical(b); };
  CHECK(same(opara::detail::lock_path_of(link), dir.path / "shared" / "tune.json.lock"));
  CHECK(same(opara::detail::lock_path_of(second), dir.path / "shared" / "tune.json.lock"));
  // A loop is an opara::error, not a hang.
  fs::create_symlink(dir.path / "loop2", dir.path / "loop1");
  fs::create_symlink(dir.path / "loop1", dir.path / "loop2");
  CHECK_THROWS_AS(opara::detail::write_file_atomically(dir.path / "loop1", "x"), opara::error);
}

TEST_CASE("atomic_file.refuses_to_replace_what_is_not_a_regular_file") {
  scratch_dir dir("special");
  const fs::path fifo = dir.path / "fifo.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string m1 = failure(fifo, "x");
  CHECK(m1.find(fifo.string()) != std::string::npos);
  CHECK(m1.find("is a FIFO") != std::string::npos);
  CHECK(fs::is_fifo(fifo));
  // Through a link: the link and what it names stay.
  const fs::path link = dir.path / "link.json";
  fs::create_symlink(fifo, link);
  CHECK(failure(link, "x").find("where the link leads") != std::string::npos);
  CHECK(fs::is_symlink(link));
  CHECK(fs::is_fifo(fifo));
  fs::create_directories(dir.path / "taken");
  CHECK(failure(dir.path / "taken", "x").find("is a directory") != std::string::npos);
  // A device node (root may make one: what /dev/null or /dev/full would have been).
  const fs::path device = dir.path / "null.json";
  if (::mknod(device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0) {
    CHECK(failure(device, "x").find("is a character device") != std::string::npos);
    CHECK(fs::is_character_file(device));
  }
  CHECK(entries_in(dir.path) == (fs::exists(device) ? 4 : 3));  // no temporary left
}

TEST_CASE("atomic_file.reads_regular_files_only_and_only_so_much") {
  scratch_dir dir("read");
  auto read_failure = [](const fs::path& p, std::uintmax_t limit = opara::detail::max_read_bytes) {
    try {
      (void)opara::detail::read_regular_file(p, "opara: cannot read profile", limit);
    } catch (const opara::error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const fs::path fifo = dir.path / "fifo.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string fifo_message(1, '\'');  // piecewise: "'" + string trips GCC 12's -Wrestrict (PR105651)
  fifo_message += fifo.string();
  fifo_message += "': it is a FIFO, not a regular file";
  CHECK(read_failure(fifo).find(fifo_message) != std::string::npos);
  CHECK(read_failure("/dev/zero").find("it is a character device") != std::string::npos);
  CHECK(read_failure(dir.path).find("it is a directory") != std::string::npos);
  CHECK(read_failure(dir.path / "missing.json").find("No such file or directory") != std::string::npos);
  const fs::path file = dir.path / "p.json";
  opara::detail::write_file_atomically(file, std::string(100, 'x'));
  CHECK(read_failure(file, 99).find("it is 100 bytes, more than the 99") != std::string::npos);
  CHECK(opara::detail::read_regular_file(file, "x", 100) == std::string(100, 'x'));
  fs::create_symlink(file, dir.path / "link.json");
  CHECK(opara::detail::read_regular_file(dir.path / "link.json", "x") == std::string(100, 'x'));
  opara::detail::write_file_atomically(file, "");
  CHECK(opara::detail::read_regular_file(file, "x").empty());
}

TEST_CASE("atomic_file.long_names_that_the_file_system_takes_are_written") {
  scratch_dir dir("long");
  for (const std::size_t length : {std::size_t{235}, std::size_t{251}, std::size_t{255}}) {
    INFO(length);
    const fs::path file = dir.path / std::string(length, 'n');
    opara::detail::write_file_atomically(file, "x");
    CHECK(read_all(file) == "x");
    const fs::path lock = opara::detail::lock_path_of(file);
    CHECK(lock.filename().string().size() <= 255);
    { const opara::detail::file_lock held(file); }
    CHECK(fs::exists(lock));
    fs::remove(file);
    fs::remove(lock);
  }
  CHECK(entries_in(dir.path) == 0);
}

TEST_CASE("atomic_file.replacing_keeps_the_mode") {
  scratch_dir dir("keep-mode");
  const fs::path file = dir.path / "private.json";
  const ::mode_t old = ::umask(022);
  opara::detail::write_file_atomically(file, "first");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  opara::detail::write_file_atomically(file, "second");
  ::umask(old);
  struct ::stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_all(file) == "second");
}

TEST_CASE("atomic_file.a_killed_writer_leaves_nothing_after_the_next_write") {
  // A process writes the file over and over and is killed (SIGKILL) while its temporary is there;
  // the next write removes that temporary. Tried until a kill lands before a rename (almost always
  // the first time: the temporary exists for the whole write of 8 MB).
  namespace impl = opara::detail::atomic_file_impl;
  scratch_dir dir("killed");
  const fs::path file = dir.path / "model.profile.json";
  const std::string prefix = impl::temporary_prefix(file, impl::writer_marker).filename().string();
  auto temporaries = [&] {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) n += impl::is_writer_temporary(e.path().filename().string(), prefix);
    return n;
  };
  bool left_one = false;
  for (int attempt = 0; attempt < 20 && !left_one; ++attempt) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const std::string big(8 << 20, 'k');
      for (;;) opara::detail::write_file_atomically(file, big);
    }
    int status = 0;
    bool exited = false;  // the writer failed (it never should): no hang waiting for its temporary
    while (temporaries() == 0 && !exited) {
      exited = ::waitpid(child, &status, WNOHANG) == child;
      std::this_thread::yield();
    }
    REQUIRE_FALSE(exited);
    ::kill(child, SIGKILL);
    REQUIRE(::waitpid(child, &status, 0) == child);
    left_one = temporaries() > 0;
  }
  REQUIRE(left_one);
  opara::detail::write_file_atomically(file, "after");
  CHECK(temporaries() == 0);
  CHECK(read_all(file) == "after");
  CHECK(entries_in(dir.path) == 1);
}
