// detail::write_file_atomically: the one file writer opara uses (profiles, autotune caches).
#include <opara/detail/atomic_file.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
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
