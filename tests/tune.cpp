// cuda/tune/cache.hpp and cuda/tune/timing.hpp: the parts of autotune that need no GPU (the cache
// file format, the timing options and statistics).
#include <opara/cuda/tune/cache.hpp>
#include <opara/cuda/tune/timing.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> two_labels = {"opara_greedy/resource_aware/stream_capture",
                                             "round_robin[4]/program_order/stream_capture"};

opara::profile_key h100_key() {
  return {"NVIDIA H100 80GB HBM3", 132, 13000, "0123456789abcdef", "GPU-00000000-1111-2222-3333-444444444444",
          "580.159.04", ""};
}

// A cache file with one entry for h100_key() whose "choice" member is `choice` (JSON text).
std::string cache_with_choice(const std::string& choice) {
  return R"({"opara_autotune": 2, "entries": [{"key": {"device_name": "NVIDIA H100 80GB HBM3", "sm_count": 132,
     "driver_version": 13000, "graph_fingerprint": "0123456789abcdef"},
     "candidates": ["opara_greedy/resource_aware/stream_capture", "round_robin[4]/program_order/stream_capture"],
     "choice": )" + choice + R"(, "median_us": [10.5, 9.25]}]})";
}

std::string parse_failure(const std::string& text) {
  try {
    (void)opara::tune::autotune_cache::parse(text, "test.json");
  } catch (const opara::parse_error& e) {
    return e.what();
  }
  return {};
}

struct scratch_file {
  fs::path path;
  explicit scratch_file(const char* tag) {
    path = fs::temp_directory_path() / (std::string("opara-tune-") + tag + "-" + std::to_string(::getpid()) + ".json");
    fs::remove(path);
  }
  ~scratch_file() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
};

} // namespace

TEST_CASE("tune.cache_choice_must_name_a_candidate") {
  // Valid: 0 and 1.
  CHECK(opara::tune::autotune_cache::parse(cache_with_choice("1"), "test.json").at(0).choice == 1);
  // Each of these was cast from a double before (undefined behaviour for -1 and 1e300); now each
  // is a parse_error naming the file and the member.
  for (const char* bad : {"-1", "1e300", "2", "0.5", "\"0\"", "null", "18446744073709551616"}) {
    INFO("choice ", bad);
    const std::string message = parse_failure(cache_with_choice(bad));
    CHECK(message.find("test.json") != std::string::npos);
    CHECK(message.find("entries[0].choice") != std::string::npos);
  }
}

TEST_CASE("tune.cache_rejects_malformed_entries_with_their_path") {
  CHECK(parse_failure("{ not json").find("not valid JSON") != std::string::npos);
  CHECK(parse_failure(R"({"opara_autotune": 1, "entries": []})").find("opara_autotune") != std::string::npos);
  CHECK(parse_failure(R"({"entries": []})").find("missing \"opara_autotune\"") != std::string::npos);
  CHECK(parse_failure(R"({"opara_autotune": 2, "entries": {}})").find("entries") != std::string::npos);
  CHECK(parse_failure(R"({"opara_autotune": 2, "entries": [], "extra": 1})").find("unknown member") !=
        std::string::npos);
  const std::string no_candidates = R"({"opara_autotune": 2, "entries": [{"key": {}, "candidates": [], "choice": 0}]})";
  CHECK(parse_failure(no_candidates).find("entries[0].candidates") != std::string::npos);
  const std::string bad_label = R"({"opara_autotune": 2, "entries": [{"key": {}, "candidates": [3], "choice": 0}]})";
  CHECK(parse_failure(bad_label).find("entries[0].candidates[0]") != std::string::npos);
  const std::string bad_sm = R"({"opara_autotune": 2, "entries": [{"key": {"sm_count": -4}, "candidates": ["a"], "choice": 0}]})";
  CHECK(parse_failure(bad_sm).find("entries[0].key.sm_count") != std::string::npos);
  const std::string short_times =
      R"({"opara_autotune": 2, "entries": [{"key": {}, "candidates": ["a", "b"], "choice": 0, "median_us": [1]}]})";
  CHECK(parse_failure(short_times).find("entries[0].median_us") != std::string::npos);
}

TEST_CASE("tune.cache_round_trip_lookup_and_replacement") {
  scratch_file file("roundtrip");
  const opara::tune::autotune_cache cache(file.path);
  CHECK(cache.entries().empty());  // no file yet
  CHECK_FALSE(cache.lookup(h100_key(), two_labels).has_value());

  cache.store({h100_key(), two_labels, 1, {10.5, 9.25}});
  const auto stored = cache.entries();
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].candidates == two_labels);
  CHECK(stored[0].median_us == std::vector<double>{10.5, 9.25});
  CHECK(cache.lookup(h100_key(), two_labels) == std::optional<std::size_t>(1));
  // Other candidates for the same device and graph: no choice (they are measured again).
  CHECK_FALSE(cache.lookup(h100_key(), {"sequential/program_order/stream_capture"}).has_value());
  // Another graph: a second entry; the same key again: replaced, not duplicated.
  auto other = h100_key();
  other.graph_fingerprint = "fedcba9876543210";
  cache.store({other, two_labels, 0, {1, 2}});
  cache.store({h100_key(), two_labels, 0, {3, 4}});
  const auto both = cache.entries();
  REQUIRE(both.size() == 2);
  CHECK(cache.lookup(h100_key(), two_labels) == std::optional<std::size_t>(0));
  CHECK(cache.lookup(other, two_labels) == std::optional<std::size_t>(0));
  // Each new key field tells entries apart: another board of the same name, another driver
  // release, another user key (input shape).
  for (auto field : {&opara::profile_key::device_uuid, &opara::profile_key::driver_release, &opara::profile_key::user_key}) {
    auto differs = h100_key();
    differs.*field = "other";
    CHECK_FALSE(cache.lookup(differs, two_labels).has_value());
  }
  // A choice that names no candidate is never written.
  CHECK_THROWS_AS(cache.store({h100_key(), two_labels, 2, {}}), opara::bad_policy);
}

TEST_CASE("tune.cache_file_errors_are_opara_errors_naming_the_path") {
  scratch_file file("corrupt");
  { std::ofstream(file.path) << "{ not json"; }
  const opara::tune::autotune_cache corrupt(file.path);
  try {
    (void)corrupt.entries();
    FAIL("a corrupt cache was read");
  } catch (const opara::parse_error& e) {
    CHECK(std::string(e.what()).find(file.path.string()) != std::string::npos);
  }
  // A tuner is not stopped by it: no choice (measured again), and the next store replaces the file
  // (tests/shared_files.cpp checks what is said on stderr).
  CHECK_FALSE(corrupt.lookup(h100_key(), two_labels).has_value());
  corrupt.store({h100_key(), two_labels, 1, {2, 1}});
  CHECK(corrupt.lookup(h100_key(), two_labels) == std::optional<std::size_t>(1));
  // A path the file system refuses (a name longer than it allows): opara::error, not
  // std::filesystem::filesystem_error.
  const opara::tune::autotune_cache too_long(fs::temp_directory_path() / std::string(300, 'x'));
  CHECK_THROWS_AS((void)too_long.entries(), opara::error);
  CHECK_THROWS_AS(too_long.store({h100_key(), two_labels, 0, {}}), opara::error);
}

TEST_CASE("tune.timing_options_reject_negative_and_zero_counts") {
  CHECK_NOTHROW(opara::tune::check_timing_options({}));
  CHECK_NOTHROW(opara::tune::check_timing_options({0, 1, false}));
  for (const opara::tune::timing_options bad : {opara::tune::timing_options{0, -1, false},
                                                opara::tune::timing_options{0, 0, false},
                                                opara::tune::timing_options{-1, 10, false}}) {
    try {
      opara::tune::check_timing_options(bad);
      FAIL("accepted warmup ", bad.warmup, ", replays ", bad.replays);
    } catch (const opara::bad_policy& e) {
      CHECK(std::string(e.what()).find(bad.warmup < 0 ? "warmup" : "replays") != std::string::npos);
    }
  }
}

TEST_CASE("tune.summary_statistics") {
  const auto s = opara::tune::summarize({5, 1, 4, 2, 3, 10, 6, 7, 8, 9});
  CHECK(s.samples == 10);
  CHECK(s.min_us == 1);
  CHECK(s.median_us == doctest::Approx(5.5));
  CHECK(s.p90_us == 10);
  CHECK(s.mean_us == doctest::Approx(5.5));
  CHECK(opara::tune::summarize({}).samples == 0);
  CHECK(opara::tune::summarize({7}).median_us == 7);
}
