// autotune: ranks its candidates' plans with the GPU model, measures only the ones it cannot
// separate, picks the fastest, reports its phases and margin, remembers the choice per device and
// graph, re-measures when the candidates change or the cache is corrupt, and its winner computes right.
#include "support/gpu_test.hpp"

#include <opara/opara.hpp>
#include <opara/cuda/tune/autotune.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

using namespace gpu_test;

namespace {

std::filesystem::path temp_cache(const char* tag) {
  auto p = std::filesystem::temp_directory_path() /
           ("opara-autotune-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(p);
  return p;
}

} // namespace

TEST_CASE("autotune.picks_fastest_and_remembers_per_device_and_graph") {
  std::mt19937 rng(42);
  const random_dag d = make_random_dag(rng, 24, 32);
  const int elems = 2048;
  device_buffer<float> out(d.n * elems), x0(elems);
  std::vector<float> hx(elems);
  for (auto& v : hx) v = std::uniform_real_distribution<float>(0.1f, 1.0f)(rng);
  OPARA_CUDA_CHECK(cudaMemcpy(x0.get(), hx.data(), elems * sizeof(float), cudaMemcpyHostToDevice));
  const auto tg = make_task_graph(d, out.get(), x0.get(), elems);
  const auto prof = make_profile(tg, rng);
  auto s = opara::cuda::stream_handle::create();

  const auto cache = temp_cache("a");
  opara::autotune tuner;
  tuner.options.cache_path = cache;
  tuner.options.timing = {2, 10, false};
  opara::autotune_report first;
  {
    auto exe = tuner.compile(tg, s.get(), prof, &first);
    CHECK_FALSE(first.reused);
    REQUIRE(first.labels.size() == 10);
    CHECK(first.labels[7] == "model_guided/model_guided/stream_capture");
    CHECK(first.labels[8] == "opara_greedy/critical_path_first/stream_capture+own_carveout");
    CHECK(first.labels[9] == "opara_greedy/critical_path_first/stream_capture+segments1");
    REQUIRE(first.median_us.size() == 10);
    REQUIRE(first.predicted_us.size() == 10);
    // The own-carveout and one-graph candidates plan exactly like the third, but capture differently:
    // each is its own, and each is measured whenever the third is.
    for (const std::size_t variant : {8u, 9u}) {
      CHECK(first.same_plan_as[variant] == variant);
      CHECK(first.predicted_us[variant] == first.predicted_us[2]);
      CHECK(first.measured[variant] == first.measured[first.same_plan_as[2]]);
    }
    // Every plan is predicted; only the shortlisted ones (2 or 3 plans, with their other captures)
    // are measured, the winner among them.
    double best_measured = 1e300;
    std::size_t measured = 0;
    for (std::size_t i = 0; i < first.labels.size(); ++i) {
      INFO(first.labels[i]);
      CHECK(first.predicted_us[i] > 0);
      if (first.measured[i]) {
        ++measured;
        CHECK(first.median_us[i] > 0);
        // Two turns of 5 each before anything is decided, unless the race's 150 ms replay budget
        // ran out first, which only a sanitizer's slow-down makes happen on a graph this small.
        CHECK((first.samples[i] >= 10 || (sanitizer() && first.samples[i] >= 5)));
        best_measured = std::min(best_measured, first.median_us[i]);
      } else {
        CHECK(std::isnan(first.median_us[i]));
        CHECK(first.samples[i] == 0);
      }
    }
    CHECK(measured >= 2);
    CHECK(measured <= 5);  // 3 plans, one with its two other captures
    CHECK(first.measured[first.choice]);
    CHECK(first.median_us[first.choice] == best_measured);
    CHECK(first.label == first.labels[first.choice]);
    // The margin is the runner-up's measured median over the winner's.
    REQUIRE(first.runner_up != first.choice);
    CHECK(first.measured[first.runner_up]);
    CHECK(first.margin == doctest::Approx(first.median_us[first.runner_up] / first.median_us[first.choice] - 1));
    CHECK(first.margin >= 0);
    // Phases: the profile was given; planning, capture and replays took time, and the whole more.
    CHECK(first.profile_ms == 0);
    CHECK(first.plan_ms > 0);
    CHECK(first.capture_ms > 0);
    CHECK(first.measure_ms > 0);
    CHECK(first.total_ms >= first.plan_ms + first.capture_ms + first.measure_ms);
    CHECK(std::filesystem::exists(cache));
    // The winner computes the graph.
    OPARA_CUDA_CHECK(cudaMemset(out.get(), 0xff, d.n * elems * sizeof(float)));  // NaN poison
    exe(s.get());
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
    std::vector<float> got(d.n * elems);
    OPARA_CUDA_CHECK(cudaMemcpy(got.data(), out.get(), got.size() * sizeof(float), cudaMemcpyDeviceToHost));
    CHECK(relative_error(got, reference(d, hx, elems)) < 1e-5);
  }
  // Second start: the cached choice, nothing measured.
  opara::autotune_report second;
  (void)tuner.compile(tg, s.get(), prof, &second);
  CHECK(second.reused);
  CHECK(second.choice == first.choice);
  CHECK(second.median_us.empty());
  CHECK(second.measure_ms == 0);

  // Other candidates: the cached entry does not apply, so they are measured and stored too.
  opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
                     opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
      other;
  other.options.cache_path = cache;
  other.options.timing = {2, 10, false};
  opara::autotune_report third;
  (void)other.compile(tg, s.get(), prof, &third);
  CHECK_FALSE(third.reused);
  CHECK(third.median_us.size() == 2);
  // Same graph and device: the other candidate list's entry replaced the first one.
  opara::autotune_report fourth;
  (void)other.compile(tg, s.get(), prof, &fourth);
  CHECK(fourth.reused);

  // A corrupt (torn, foreign) cache is said on stderr and measured again, never fatal after
  // measuring; the file is replaced and used from then on.
  { std::ofstream(cache) << "{ not json"; }
  CHECK_THROWS_AS((void)opara::tune::autotune_cache(cache).entries(), opara::parse_error);
  opara::autotune_report fifth;
  (void)tuner.compile(tg, s.get(), prof, &fifth);
  CHECK_FALSE(fifth.reused);
  CHECK(opara::tune::autotune_cache(cache).entries().size() == 1);
  opara::autotune_report sixth;
  (void)tuner.compile(tg, s.get(), prof, &sixth);
  CHECK(sixth.reused);
  std::filesystem::remove(cache);
  std::filesystem::remove(cache.string() + ".lock");
}

TEST_CASE("autotune.prefers_parallel_streams_for_independent_work") {
  if (sanitizer()) return;  // timings mean nothing under compute-sanitizer
  device_buffer<float> flag(8);
  opara::cuda::task_graph tg;
  for (int i = 0; i < 8; ++i) {
    float* f = flag.get() + i;
    tg.add("spin" + std::to_string(i), [f](cudaStream_t s) {
      gpu_test::launch(spin_ns, 1, 32, 0, s, 20'000, f);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
  }
  std::mt19937 rng(1);
  const auto prof = make_profile(tg, rng);
  auto s = opara::cuda::stream_handle::create();
  opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
                     opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
      tuner;
  tuner.options.timing = {3, 20, false};
  opara::autotune_report rep;
  (void)tuner.compile(tg, s.get(), prof, &rep);
  // 8 x 20 us one after another against 8 at once: the parallel plan must win clearly, as soon as
  // the race may drop a candidate (min_samples, 10 each), with a margin of more than 2x.
  CHECK(rep.choice == 1);
  CHECK(rep.median_us[0] > 3 * rep.median_us[1]);
  CHECK(rep.clear);
  CHECK(rep.samples[0] == 10);
  CHECK(rep.samples[1] == 10);
  CHECK(rep.margin > 2);
  // The same for throughput: replays queued back to back, four per sample.
  tuner.options.mode = opara::tune::replay_mode::back_to_back;
  opara::autotune_report queued;
  (void)tuner.compile(tg, s.get(), prof, &queued);
  CHECK(queued.mode == opara::tune::replay_mode::back_to_back);
  CHECK(queued.choice == 1);
  CHECK(queued.median_us[0] > 3 * queued.median_us[1]);
  // Profiled by autotune itself (CUPTI, or event timing when CUPTI is held elsewhere): the profile
  // is a phase of its own and part of the total.
  tuner.options.mode = opara::tune::replay_mode::isolated;
  opara::autotune_report profiled;
  (void)tuner.compile(tg, s.get(), &profiled);
  CHECK(profiled.profile_ms > 0);
  CHECK(profiled.total_ms >= profiled.profile_ms + profiled.measure_ms);
  CHECK(profiled.choice == 1);
}

TEST_CASE("autotune.cache_choice_that_names_no_candidate_is_never_used") {
  std::mt19937 rng(7);
  const random_dag d = make_random_dag(rng, 6, 8);
  const int elems = 256;
  device_buffer<float> out(d.n * elems), x0(elems);
  OPARA_CUDA_CHECK(cudaMemset(x0.get(), 0, elems * sizeof(float)));
  const auto tg = make_task_graph(d, out.get(), x0.get(), elems);
  const auto prof = make_profile(tg, rng);
  auto s = opara::cuda::stream_handle::create();
  const auto cache = temp_cache("choice");
  opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
                     opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
      tuner;
  tuner.options.cache_path = cache;
  tuner.options.timing = {1, 3, false};
  opara::autotune_report first;
  (void)tuner.compile(tg, s.get(), prof, &first);
  // Rewrite the stored choice: -1 and 1e300 were cast from a double (undefined behaviour).
  std::string text;
  {
    std::ifstream in(cache);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("\"choice\": ");
  REQUIRE(at != std::string::npos);
  const auto end = text.find_first_of(",\n}", at + 10);
  for (const char* bad : {"-1", "1e300", "2"}) {
    { std::ofstream(cache) << text.substr(0, at + 10) + bad + text.substr(end); }
    INFO("choice ", bad);
    try {
      (void)opara::tune::autotune_cache(cache).entries();
      FAIL("a cache whose choice names no candidate was read");
    } catch (const opara::parse_error& e) {
      CHECK(std::string(e.what()).find("choice") != std::string::npos);
    }
    // The tuner says so and measures again instead of using a wrong index.
    opara::autotune_report again;
    (void)tuner.compile(tg, s.get(), prof, &again);
    CHECK_FALSE(again.reused);
    CHECK(again.median_us.size() == 2);
  }
  std::filesystem::remove(cache);
  std::filesystem::remove(cache.string() + ".lock");
}

TEST_CASE("autotune.a_cache_that_cannot_be_written_does_not_discard_the_winner") {
  std::mt19937 rng(11);
  const random_dag d = make_random_dag(rng, 6, 8);
  const int elems = 256;
  device_buffer<float> out(d.n * elems), x0(elems);
  OPARA_CUDA_CHECK(cudaMemset(x0.get(), 0, elems * sizeof(float)));
  const auto tg = make_task_graph(d, out.get(), x0.get(), elems);
  const auto prof = make_profile(tg, rng);
  auto s = opara::cuda::stream_handle::create();
  // The cache's directory is a regular file: nothing can be written there (as with a read-only or
  // full directory).
  const auto blocker = temp_cache("blocker");
  { std::ofstream(blocker) << "x"; }
  opara::autotune_of<opara::scheduler<opara::streams::sequential, opara::order::program_order>,
                     opara::scheduler<opara::streams::opara_greedy, opara::order::program_order>>
      tuner;
  tuner.options.cache_path = blocker / "model.tune.json";
  tuner.options.timing = {1, 3, false};
  opara::autotune_report report;
  const auto exe = tuner.compile(tg, s.get(), prof, &report);
  CHECK(report.cache_failure.find((blocker / "model.tune.json").string()) != std::string::npos);
  exe(s.get());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
  tuner.options.cache_write_required = true;
  CHECK_THROWS_AS((void)tuner.compile(tg, s.get(), prof, &report), opara::error);
  std::filesystem::remove(blocker);
}

TEST_CASE("autotune.negative_replay_count_is_bad_policy") {
  opara::cuda::task_graph tg;
  device_buffer<float> flag(1);
  float* f = flag.get();
  tg.add("spin", [f](cudaStream_t s) {
    gpu_test::launch(spin_ns, 1, 32, 0, s, 1000, f);
    OPARA_CUDA_CHECK(cudaGetLastError());
  });
  std::mt19937 rng(3);
  const auto prof = make_profile(tg, rng);
  auto s = opara::cuda::stream_handle::create();
  opara::autotune tuner;
  tuner.options.timing = {0, -1, false};
  CHECK_THROWS_AS((void)tuner.compile(tg, s.get(), prof), opara::bad_policy);
  // A back-to-back sample of no replay, and an L2 flush between replays queued back to back.
  tuner.options.timing = {0, 10, false};
  tuner.options.mode = opara::tune::replay_mode::back_to_back;
  tuner.options.batch = 0;
  CHECK_THROWS_AS((void)tuner.compile(tg, s.get(), prof), opara::bad_policy);
  tuner.options.batch = 4;
  tuner.options.timing = {0, 10, true};
  tuner.options.mode = opara::tune::replay_mode::back_to_back;
  CHECK_THROWS_AS((void)tuner.compile(tg, s.get(), prof), opara::bad_policy);
  // And time_replays itself, before anything runs.
  const auto exe = opara::scheduler<opara::streams::sequential, opara::order::program_order>{}.compile(tg, s.get());
  CHECK_THROWS_AS((void)opara::tune::time_replays(exe, s.get(), {-1, 10, false}), opara::bad_policy);
}
