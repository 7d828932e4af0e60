// cuda/tune/cache.hpp, cuda/tune/select.hpp and cuda/tune/timing.hpp: the parts of autotune that
// need no GPU (the cache file format, which candidates are measured and when the race stops, with
// a fake timer; the timing options and statistics).
#include <opara/cuda/tune/cache.hpp>
#include <opara/cuda/tune/select.hpp>
#include <opara/cuda/tune/timing.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
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

namespace {

// A fake timer: candidate i's k-th replay takes base[i] x (1 + spread x a fixed pattern in
// [-1, 1]), so every run of a test sees the same samples.
struct fake_timer {
  std::vector<double> base;
  double spread = 0.01;
  std::vector<int> replays;             // per candidate, replays asked for
  std::vector<int> burst;               // per candidate, its first `burst` replays take 1.5x
  std::vector<std::size_t> dropped;     // in the order the race dropped them
  explicit fake_timer(std::vector<double> times, double jitter = 0.01)
      : base(std::move(times)), spread(jitter), replays(base.size(), 0), burst(base.size(), 0) {}
  std::vector<double> operator()(std::size_t i, int n) {
    static constexpr double pattern[] = {0.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.75, 0.75, -0.25, 0.1};
    std::vector<double> out;
    for (int k = 0; k < n; ++k)
      out.push_back(base[i] * (1 + spread * pattern[(replays[i] + k) % 10]) * (replays[i] + k < burst[i] ? 1.5 : 1.0));
    replays[i] += n;
    return out;
  }
};

opara::tune::race_result run_race(fake_timer& timer, const opara::tune::race_options& options) {
  return opara::tune::race(
      timer.base.size(), [&](std::size_t i, int n) { return timer(i, n); },
      [&](std::size_t i) { timer.dropped.push_back(i); }, options);
}

} // namespace

TEST_CASE("tune.shortlist_measures_only_what_the_model_cannot_separate") {
  using opara::tune::shortlist;
  const std::vector<double> predicted = {100, 104, 130, 101, 200, 112};
  // Within 10% of the best (100): 0, 3, 1 (best first); 5 is 12% off, 2 and 4 far off.
  CHECK(shortlist(predicted, {}, {0.10, 3, 2}) == std::vector<std::size_t>{0, 3, 1});
  CHECK(shortlist(predicted, {}, {0.15, 3, 2}) == std::vector<std::size_t>{0, 3, 1});  // at most 3
  CHECK(shortlist(predicted, {}, {0.15, 4, 2}) == std::vector<std::size_t>{0, 3, 1, 5});
  CHECK(shortlist(predicted, {}, {0.10, 2, 1}) == std::vector<std::size_t>{0, 3});
  // A model that separates everything still leaves min_measured, so the margin is a measured one.
  CHECK(shortlist(predicted, {}, {0.0, 3, 2}) == std::vector<std::size_t>{0, 3});
  CHECK(shortlist(predicted, {}, {0.0, 3, 1}) == std::vector<std::size_t>{0});
  // A plan equal to a better-ranked one's is never measured: the next distinct plan takes its place.
  const std::vector<std::size_t> same = {0, 1, 2, 0, 4, 5};
  CHECK(shortlist(predicted, same, {0.15, 3, 2}) == std::vector<std::size_t>{0, 1, 5});
  // Candidates with a shortlisted plan but another capture (plan_of) come right after it, beyond
  // max_measured, which counts plans; a variant of a plan left out stays out.
  const std::vector<std::size_t> plan_of = {0, 1, 2, 0, 4, 1};
  CHECK(shortlist(predicted, {}, {0.15, 2, 2}, plan_of) == std::vector<std::size_t>{0, 3, 1, 5});
  CHECK(shortlist(predicted, {}, {0.15, 1, 1}, plan_of) == std::vector<std::size_t>{0, 3});
  CHECK(shortlist(predicted, same, {0.15, 2, 2}, plan_of) == std::vector<std::size_t>{0, 1, 5});
  CHECK_THROWS_AS((void)shortlist(predicted, {}, {}, std::vector<std::size_t>{0}), opara::bad_policy);
  // Without predictions (no profile), every distinct plan is measured, beyond max_measured.
  std::vector<double> unknown = predicted;
  unknown[2] = std::numeric_limits<double>::quiet_NaN();
  CHECK(shortlist(unknown, same, {0.10, 2, 2}) == std::vector<std::size_t>{0, 1, 2, 4, 5});
  // Unusable options and sizes are bad_policy, naming the field.
  for (const opara::tune::shortlist_options bad : {opara::tune::shortlist_options{-0.1, 3, 2},
                                                   opara::tune::shortlist_options{0.1, 0, 0},
                                                   opara::tune::shortlist_options{0.1, 2, 3}}) {
    CHECK_THROWS_AS((void)shortlist(predicted, {}, bad), opara::bad_policy);
  }
  CHECK_THROWS_AS((void)shortlist(predicted, std::vector<std::size_t>{0, 1}, {}), opara::bad_policy);
}

TEST_CASE("tune.race_stops_once_the_ranking_is_clear") {
  // 150 us is far behind from the first round; 103 us (+-1%) never overlaps 100 us (+-1%) either.
  fake_timer timer({150, 100, 103});
  const auto result = run_race(timer, {5, 10, 40, 1e9});
  CHECK(result.winner == 1);
  CHECK(result.clear);
  // Two turns of 5 samples each (min_samples) were enough, and the losers were released as they
  // dropped out.
  CHECK(timer.replays == std::vector<int>{10, 10, 10});
  CHECK(result.samples == std::vector<std::size_t>{10, 10, 10});
  CHECK(timer.dropped == std::vector<std::size_t>{0, 2});
  CHECK(result.dropped == std::vector<bool>{true, false, true});
  // The runner-up is the next-best median, and the margin is measured from the medians.
  CHECK(result.runner_up == 2);
  CHECK(result.median_us[1] == doctest::Approx(100.05));
  CHECK(result.margin == doctest::Approx(result.median_us[2] / result.median_us[1] - 1));
  CHECK(result.margin == doctest::Approx(0.03).epsilon(0.01));
}

TEST_CASE("tune.race_keeps_sampling_while_candidates_overlap") {
  // 100.5 against 100 with 1% jitter: their quartiles overlap, so both run to max_samples; the
  // clearly slower one leaves after the first round.
  fake_timer timer({100.5, 100, 130}, 0.01);
  const auto result = run_race(timer, {5, 10, 20, 1e9});
  CHECK_FALSE(result.clear);
  CHECK(timer.replays == std::vector<int>{20, 20, 10});
  CHECK(timer.dropped == std::vector<std::size_t>{2});
  CHECK(result.winner == 1);
  CHECK(result.runner_up == 0);
  CHECK(result.margin > 0);
  CHECK(result.margin < 0.01);
  // max_samples that is not a multiple of the round: the last round takes only what is left.
  fake_timer odd({100.5, 100});
  (void)run_race(odd, {5, 5, 12, 1e9});
  CHECK(odd.replays == std::vector<int>{12, 12});
}

TEST_CASE("tune.race_never_drops_on_one_turn_alone") {
  // The faster candidate (100 us) has a burst of slow replays (1.5x) over its whole first turn.
  // After one turn it looks 50% slower; min_samples of two turns keeps it in, and it wins.
  fake_timer timer({101, 100});
  timer.burst[1] = 5;
  const auto result = run_race(timer, {5, 10, 20, 1e9});
  CHECK(timer.dropped.empty());
  CHECK(result.winner == 1);
  CHECK(timer.replays == std::vector<int>{20, 20});
  // Deciding on one turn (min_samples == round) drops it: the reason for the default.
  fake_timer hasty({101, 100});
  hasty.burst[1] = 5;
  const auto wrong = run_race(hasty, {5, 5, 20, 1e9});
  CHECK(hasty.dropped == std::vector<std::size_t>{1});
  CHECK(wrong.winner == 0);
}

TEST_CASE("tune.race_stops_on_its_time_budget") {
  // Two tied 1,000 us candidates: each round costs 2 x 5 x 1,000 us; a 25,000 us budget is spent
  // after the third round (30,000 us timed), long before 100 samples.
  fake_timer timer({1000, 1000}, 0.01);
  const auto result = run_race(timer, {5, 5, 100, 25'000});
  CHECK_FALSE(result.clear);
  CHECK(timer.replays == std::vector<int>{15, 15});
  CHECK(result.timed_us == doctest::Approx(30'000).epsilon(0.01));
  // A single candidate: one round, nothing to compare, no margin.
  fake_timer one({50});
  const auto alone = run_race(one, {5, 5, 100, 1e9});
  CHECK(alone.clear);
  CHECK(alone.winner == 0);
  CHECK(alone.margin == 0);
  CHECK(one.replays == std::vector<int>{5});
}

TEST_CASE("tune.race_rejects_unusable_options_and_samples") {
  fake_timer timer({10, 20});
  for (const opara::tune::race_options bad : {opara::tune::race_options{0, 5, 10, 1e6}, opara::tune::race_options{5, 0, 10, 1e6},
                                              opara::tune::race_options{5, 10, 9, 1e6}, opara::tune::race_options{5, 5, 10, 0}}) {
    CHECK_THROWS_AS((void)run_race(timer, bad), opara::bad_policy);
  }
  CHECK(timer.replays == std::vector<int>{0, 0});  // rejected before anything ran
  auto too_few = [](std::size_t, int n) { return std::vector<double>(static_cast<std::size_t>(n > 1 ? n - 1 : 0), 1.0); };
  CHECK_THROWS_AS((void)opara::tune::race(2, too_few, [](std::size_t) {}, {}), opara::bad_policy);
  auto negative = [](std::size_t, int n) { return std::vector<double>(static_cast<std::size_t>(n), -1.0); };
  CHECK_THROWS_AS((void)opara::tune::race(2, negative, [](std::size_t) {}, {}), opara::bad_policy);
}

TEST_CASE("tune.cache_keeps_unmeasured_candidates_as_null") {
  scratch_file file("unmeasured");
  const opara::tune::autotune_cache cache(file.path);
  const double none = std::numeric_limits<double>::quiet_NaN();
  cache.store({h100_key(), two_labels, 1, {none, 9.25}});
  std::ifstream in(file.path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("null") != std::string::npos);
  const auto back = cache.entries();
  REQUIRE(back.size() == 1);
  REQUIRE(back[0].median_us.size() == 2);
  CHECK(std::isnan(back[0].median_us[0]));
  CHECK(back[0].median_us[1] == 9.25);
  CHECK(cache.lookup(h100_key(), two_labels) == std::optional<std::size_t>(1));
}
