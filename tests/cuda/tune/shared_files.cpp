// Files shared by the threads and processes of a server: one profile path saved and loaded by
// many writers and readers, one autotune cache shared by many tuners (no failed save, no torn read,
// no lost entry), and torn, foreign or old-version files reported on stderr and redone, never fatal.
#include <opara/cuda/tune/cache.hpp>
#include <opara/detail/file_lock.hpp>
#include <opara/profile/check.hpp>
#include <opara/profile/json.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

constexpr int processes = 3;
constexpr int threads_per_process = 4;

struct scratch_dir {
  fs::path path;
  explicit scratch_dir(const char* tag) {
    path = fs::temp_directory_path() /
           (std::string("opara-shared-") + tag + "-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Everything written to stderr (by this process) while it lives.
class captured_stderr {
public:
  captured_stderr() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    REQUIRE(file_ != nullptr);
    saved_ = ::dup(2);
    REQUIRE(saved_ >= 0);
    REQUIRE(::dup2(::fileno(file_), 2) >= 0);
  }
  captured_stderr(const captured_stderr&) = delete;
  captured_stderr& operator=(const captured_stderr&) = delete;
  ~captured_stderr() {
    restore();
    std::fclose(file_);
  }
  // What was written so far; stderr goes back to where it was.
  std::string text() {
    restore();
    std::rewind(file_);
    std::string out;
    char buffer[4096];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, file_)) > 0) out.append(buffer, got);
    return out;
  }

private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

// Runs `work(process, thread)` on threads_per_process threads in each of `processes` forked
// processes (this one waits); returns the number of failures they counted. Forking happens before
// any thread starts, so each child is single-threaded when it begins.
template <class Work>
int run_everywhere(Work&& work) {
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < threads_per_process; ++t)
        threads.emplace_back([&, t] { failures += work(p, t); });
      for (auto& thread : threads) thread.join();
      std::fflush(stderr);
      ::_exit(failures.load() > 250 ? 250 : failures.load());
    }
    children.push_back(child);
  }
  int failures = 0;
  for (pid_t child : children) {
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    failures += WEXITSTATUS(status);
  }
  return failures;
}

// A profile whose every field says which writer made it, so that a read can be checked whole.
opara::profile writer_profile(int writer, int round) {
  opara::profile p;
  p.key = {"NVIDIA H100 80GB HBM3", 132, 13000, "0123456789abcdef", "GPU-00000000-1111-2222-3333-444444444444",
           "580.159.04", "writer=" + std::to_string(writer)};
  p.source = "cupti";
  p.ops.resize(40);
  for (std::size_t v = 0; v < p.ops.size(); ++v) {
    p.ops[v].duration_us = writer * 1000.0 + round + v / 64.0;
    opara::kernel_record k;
    k.name = "kernel_of_writer_" + std::to_string(writer) + "_op_" + std::to_string(v);
    k.grid = {static_cast<std::uint32_t>(writer + 1), static_cast<std::uint32_t>(round + 1), 1};
    k.duration_us = p.ops[v].duration_us;
    p.ops[v].kernels.assign(3, k);
  }
  return p;
}

// True when `p` is exactly what writer_profile made for some writer and round.
bool is_whole(const opara::profile& p) {
  const std::string prefix = "writer=";
  if (!p.key.user_key.starts_with(prefix) || p.ops.size() != 40 || p.ops[0].kernels.empty()) return false;
  const int writer = std::stoi(p.key.user_key.substr(prefix.size()));
  const int round = static_cast<int>(p.ops[0].kernels[0].grid[1]) - 1;
  return opara::to_json(p) == opara::to_json(writer_profile(writer, round));
}

opara::tune::cache_entry entry_for(int process, int thread, int index) {
  opara::tune::cache_entry entry;
  entry.key = {"NVIDIA H100 80GB HBM3", 132, 13000, "0123456789abcdef", "GPU-00000000-1111-2222-3333-444444444444",
               "580.159.04", "p" + std::to_string(process) + "t" + std::to_string(thread) + "e" + std::to_string(index)};
  entry.candidates = {"a", "b", "c"};
  entry.choice = static_cast<std::size_t>((process + thread + index) % 3);
  entry.median_us = {1, 2, 3};
  return entry;
}

} // namespace

TEST_CASE("shared_files.one_profile_path_saved_and_loaded_by_threads_and_processes") {
  scratch_dir dir("profile");
  const fs::path path = dir.path / "model.profile.json";
  opara::save_profile(writer_profile(99, 0), path);
  constexpr int rounds = 25;  // 3 processes x 4 threads x 25 rounds x (save + load) = 600 file operations
  const int failures = run_everywhere([&](int process, int thread) {
    int failed = 0;
    const int writer = process * threads_per_process + thread;
    for (int round = 0; round < rounds; ++round) {
      try {
        opara::save_profile(writer_profile(writer, round), path);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "failed save: %s\n", e.what());
        ++failed;
      }
      try {
        if (!is_whole(opara::load_profile(path))) {
          std::fprintf(stderr, "torn read: a profile that no writer wrote\n");
          ++failed;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "torn read: %s\n", e.what());
        ++failed;
      }
    }
    return failed;
  });
  CHECK(failures == 0);
  CHECK(is_whole(opara::load_profile(path)));
  // No temporary file is left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    INFO(entry.path());
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("shared_files.tuners_sharing_one_cache_lose_no_entry") {
  scratch_dir dir("cache");
  const fs::path path = dir.path / "model.tune.json";
  // 3 processes x 4 threads x 10 = 120 entries, each read back at once. Every store rewrites the
  // whole file, so the cost grows with the square of this (27 s at 20 in the sanitizer stage).
  constexpr int stores = 10;
  // Twelve writers in a tight loop on a loaded machine (the sanitizer stage on 2 cores): flock is not
  // fair and the lock is polled, so one writer may wait longer than the default 10 s while the others
  // take turns. This test is about losing nothing; the bounded wait has its own tests below.
  constexpr std::chrono::minutes patient{5};
  const int failures = run_everywhere([&](int process, int thread) {
    int failed = 0;
    const opara::tune::autotune_cache cache(path, patient);
    for (int index = 0; index < stores; ++index) {
      const auto entry = entry_for(process, thread, index);
      try {
        cache.store(entry);
        // Strict read: a torn file would throw here.
        const auto seen = cache.entries();
        const bool mine = std::any_of(seen.begin(), seen.end(), [&](const auto& e) { return e.key == entry.key; });
        if (!mine) {
          std::fprintf(stderr, "lost entry %s right after storing it\n", entry.key.user_key.c_str());
          ++failed;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "failed store or torn read: %s\n", e.what());
        ++failed;
      }
    }
    return failed;
  });
  CHECK(failures == 0);
  const auto all = opara::tune::autotune_cache(path).entries();
  CHECK(all.size() == std::size_t{processes} * threads_per_process * stores);
  std::set<std::string> keys;
  for (const auto& entry : all) keys.insert(entry.key.user_key);
  CHECK(keys.size() == all.size());
  const opara::tune::autotune_cache cache(path);
  for (int p = 0; p < processes; ++p)
    for (int t = 0; t < threads_per_process; ++t)
      for (int e = 0; e < stores; ++e) {
        const auto entry = entry_for(p, t, e);
        CHECK(cache.lookup(entry.key, entry.candidates) == std::optional<std::size_t>(entry.choice));
      }
}

TEST_CASE("shared_files.file_lock_excludes_threads_of_one_process") {
  scratch_dir dir("lock");
  const fs::path path = dir.path / "x.json";
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        const opara::detail::file_lock held(path);
        if (inside.fetch_add(1) != 0) ++overlaps;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        inside.fetch_sub(1);
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(overlaps == 0);
  CHECK(fs::exists(dir.path / "x.json.lock"));
  // A lock file that cannot be made is an opara::error naming it.
  CHECK_THROWS_AS(opara::detail::file_lock(dir.path / "no_such_dir" / "x.json"), opara::error);
}

TEST_CASE("shared_files.torn_foreign_and_old_profiles_are_reported_and_redone") {
  scratch_dir dir("stale");
  const auto good = writer_profile(1, 2);
  const std::string text = opara::to_json(good);
  std::string old_version = text;
  old_version.replace(old_version.find("\"opara_profile\": 2"), 18, "\"opara_profile\": 1");
  auto other_board = good;
  other_board.key.device_uuid = "GPU-99999999-1111-2222-3333-444444444444";
  struct bad_file {
    const char* name;
    std::string contents;
    const char* said;  // part of the stderr message
  };
  const std::vector<bad_file> bad = {
      {"torn.json", text.substr(0, text.size() / 2), "invalid JSON"},
      {"empty.json", "", "invalid JSON"},
      {"foreign.json", R"({"name": "not a profile"})", "missing \"opara_profile\""},
      {"old.json", old_version, "unsupported profile format version 1"},
      {"binary.json", std::string("\x7f" "ELF\x02\x01\x01\0\0", 9), "invalid JSON"},
      {"other_board.json", opara::to_json(other_board), "device_uuid"},
  };
  for (const auto& file : bad) {
    INFO(file.name);
    const fs::path path = dir.path / file.name;
    { std::ofstream(path, std::ios::binary) << file.contents; }
    captured_stderr err;
    std::optional<opara::profile> loaded;
    CHECK_NOTHROW(loaded = opara::load_reusable_profile(path, good.key, good.ops.size()));
    CHECK_FALSE(loaded.has_value());
    const std::string said = err.text();
    CHECK(said.find(path.string()) != std::string::npos);
    CHECK(said.find(file.said) != std::string::npos);
    CHECK(said.find("profiling again") != std::string::npos);
    // Redone: the new profile replaces the file and is reused from then on.
    opara::save_profile(good, path);
    const auto reused = opara::load_reusable_profile(path, good.key, good.ops.size());
    REQUIRE(reused.has_value());
    CHECK(opara::to_json(*reused) == text);
  }
  // No file: nothing, and nothing said.
  captured_stderr err;
  CHECK_FALSE(opara::load_reusable_profile(dir.path / "missing.json", good.key, good.ops.size()).has_value());
  CHECK(err.text().empty());
}

TEST_CASE("shared_files.torn_foreign_and_old_caches_are_reported_and_replaced") {
  scratch_dir dir("stale-cache");
  const auto entry = entry_for(0, 0, 0);
  std::string old_version = opara::tune::autotune_cache::to_json({entry});
  old_version.replace(old_version.find("\"opara_autotune\": 2"), 19, "\"opara_autotune\": 1");
  const std::string whole = opara::tune::autotune_cache::to_json({entry, entry_for(0, 0, 1)});
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"torn.json", whole.substr(0, whole.size() - 20)},
      {"foreign.json", R"({"opara_profile": 2, "ops": []})"},
      {"old.json", old_version},
  };
  for (const auto& [name, contents] : bad) {
    INFO(name);
    const fs::path path = dir.path / name;
    { std::ofstream(path, std::ios::binary) << contents; }
    const opara::tune::autotune_cache cache(path);
    {
      captured_stderr err;
      CHECK_FALSE(cache.lookup(entry.key, entry.candidates).has_value());
      const std::string said = err.text();
      CHECK(said.find(path.string()) != std::string::npos);
      CHECK(said.find("measuring again") != std::string::npos);
    }
    {
      captured_stderr err;
      CHECK_NOTHROW(cache.store(entry));
      CHECK(err.text().find("replacing it") != std::string::npos);
    }
    CHECK(cache.lookup(entry.key, entry.candidates) == std::optional<std::size_t>(entry.choice));
    CHECK(cache.entries().size() == 1);
  }
}

TEST_CASE("shared_files.a_stopped_lock_holder_delays_a_store_only_so_long") {
  scratch_dir dir("stopped");
  const fs::path path = dir.path / "model.tune.json";
  const auto entry = entry_for(0, 0, 0);
  {
    // Another tuner holds the lock and never lets go (stopped, or on a hung file system).
    const opara::detail::file_lock held(path);
    const opara::tune::autotune_cache cache(path, std::chrono::milliseconds(20));
    CHECK_THROWS_AS(cache.store(entry), opara::detail::lock_timeout);
    captured_stderr err;
    const std::string failure = cache.try_store(entry);
    const std::string said = err.text();
    CHECK(failure.find(path.string() + ".lock") != std::string::npos);
    CHECK(said.find("the choice is used but not remembered") != std::string::npos);
    CHECK_FALSE(fs::exists(path));
    // A choice that names no candidate is still the caller's error.
    CHECK_THROWS_AS((void)cache.try_store({entry.key, entry.candidates, 7, {}}), opara::bad_policy);
  }
  // Once it is free, the choice is stored.
  const opara::tune::autotune_cache cache(path, std::chrono::milliseconds(20));
  CHECK(cache.try_store(entry).empty());
  CHECK(cache.lookup(entry.key, entry.candidates) == std::optional<std::size_t>(entry.choice));
}

TEST_CASE("shared_files.a_file_that_cannot_be_written_is_reported_not_thrown") {
  scratch_dir dir("unwritable");
  const fs::path not_a_dir = dir.path / "plain";
  { std::ofstream(not_a_dir) << "x"; }
  // A directory that cannot hold the file (read-only or full behave alike: the save fails).
  const fs::path profile_path = not_a_dir / "model.profile.json";
  {
    captured_stderr err;
    const std::string failure = opara::try_save_profile(writer_profile(1, 1), profile_path);
    CHECK(failure.find(profile_path.string()) != std::string::npos);
    CHECK(err.text().find("going on without saving it") != std::string::npos);
  }
  CHECK_THROWS_AS(opara::save_profile(writer_profile(1, 1), profile_path), opara::error);
  CHECK(opara::try_save_profile(writer_profile(1, 1), dir.path / "ok.json").empty());
  {
    const opara::tune::autotune_cache cache(not_a_dir / "model.tune.json");
    captured_stderr err;
    CHECK_FALSE(cache.try_store(entry_for(0, 0, 0)).empty());
    CHECK(err.text().find("not remembered") != std::string::npos);
  }
}

TEST_CASE("shared_files.a_fifo_or_directory_at_the_path_is_reported_not_read") {
  scratch_dir dir("special");
  const auto good = writer_profile(1, 2);
  const fs::path fifo = dir.path / "model.profile.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  {
    // Reading would block until a writer came; the server's restart goes on and profiles again.
    captured_stderr err;
    CHECK_FALSE(opara::load_reusable_profile(fifo, good.key, good.ops.size()).has_value());
    const std::string said = err.text();
    CHECK(said.find("it is a FIFO, not a regular file") != std::string::npos);
    CHECK(said.find("profiling again") != std::string::npos);
  }
  CHECK_THROWS_AS((void)opara::load_profile("/dev/zero"), opara::error);
  // A cache path that is a directory says so, not "not valid JSON".
  fs::create_directories(dir.path / "cache.json");
  try {
    (void)opara::tune::autotune_cache(dir.path / "cache.json").entries();
    FAIL("a directory was read as a cache");
  } catch (const opara::error& e) {
    CHECK(std::string(e.what()).find("it is a directory") != std::string::npos);
    CHECK(std::string(e.what()).find("JSON") == std::string::npos);
  }
}

TEST_CASE("shared_files.tuners_storing_through_links_share_the_file_and_its_lock") {
  scratch_dir dir("links");
  fs::create_directories(dir.path / "a");
  fs::create_directories(dir.path / "b");
  const fs::path shared = dir.path / "shared.tune.json";
  fs::create_symlink("../shared.tune.json", dir.path / "a" / "tune.json");
  fs::create_symlink(shared, dir.path / "b" / "tune.json");
  const opara::tune::autotune_cache through_a(dir.path / "a" / "tune.json");
  const opara::tune::autotune_cache through_b(dir.path / "b" / "tune.json");
  through_a.store(entry_for(0, 0, 0));
  through_b.store(entry_for(1, 0, 0));
  CHECK(fs::is_symlink(dir.path / "a" / "tune.json"));
  CHECK(fs::is_symlink(dir.path / "b" / "tune.json"));
  CHECK(opara::tune::autotune_cache(shared).entries().size() == 2);  // neither entry was lost
  CHECK(fs::exists(dir.path / "shared.tune.json.lock"));
  CHECK_FALSE(fs::exists(dir.path / "a" / "tune.json.lock"));
  // While one holds the shared file's lock, a store through either link waits for it.
  const opara::detail::file_lock held(shared);
  CHECK_THROWS_AS(opara::tune::autotune_cache(dir.path / "a" / "tune.json", std::chrono::milliseconds(1)).store(entry_for(2, 0, 0)),
                  opara::detail::lock_timeout);
}
