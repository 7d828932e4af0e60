// CUPTI records the launch shape of known kernels and ties each to the operator that launched it;
// profiles save and load, and a profile of another device or graph is refused.
#include "support/gpu_test.hpp"

#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>

#include <unistd.h>

using namespace gpu_test;

namespace {

// a (static shared, grid 7x3, block 64x2) -> b (dynamic shared 2048 B) ; a -> c (two kernels)
struct known_graph {
  device_buffer<float> buf{7 * 3 * 128 + 5 * 128 + 3 * 256 + 1000};
  opara::cuda::task_graph g;
  known_graph() {
    float* p = buf.get();
    const auto a = g.add("a_static", [p](cudaStream_t s) {
      gpu_test::launch(static_shared_kernel, dim3(7, 3, 1), dim3(64, 2, 1), 0, s, p);
      OPARA_CUDA_CHECK(cudaGetLastError());
    }, opara::boundness::memory);  // a hint that must win over the heuristic
    const auto b = g.add("b_dynamic", [p](cudaStream_t s) {
      gpu_test::launch(dynamic_shared_kernel, 5, 128, 2048, s, p + 7 * 3 * 128);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
    const auto c = g.add("c_two_kernels", [p](cudaStream_t s) {
      gpu_test::launch(plain_kernel, 3, 256, 0, s, p + 7 * 3 * 128 + 5 * 128, 3 * 256);
      gpu_test::launch(plain_kernel, 4, 250, 0, s, p + 7 * 3 * 128 + 5 * 128 + 3 * 256, 1000);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
    g.depends(a, b).depends(a, c);
  }
};

std::string c_summary(const opara::profile& p) {
  std::string out;
  for (const auto& k : p.ops[2].kernels) out += k.name + " " + std::to_string(k.duration_us) + " us; ";
  return out;
}

} // namespace

TEST_CASE("profiler.cupti_records_kernels_per_operator") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  const auto p = opara::cuda::profile_graph(k.g, s.get());
  REQUIRE(p.ops.size() == 3);
  if (p.source != "cupti") {
    CHECK_MESSAGE(!cupti_required(), "CUPTI did not initialize: ", p.source);
    return;
  }
  cudaDeviceProp prop{};
  OPARA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CHECK(p.key.device_name == prop.name);
  CHECK(p.key.sm_count == static_cast<std::uint32_t>(prop.multiProcessorCount));
  CHECK(p.key.driver_version > 0);
  CHECK(p.key.graph_fingerprint == opara::fingerprint(opara::to_graph(k.g)));
  CHECK(p.limits.sm_count == static_cast<std::uint32_t>(prop.multiProcessorCount));

  const auto& a = p.ops[0];
  REQUIRE(a.kernels.size() == 1);
  CHECK(a.kernels[0].name.find("static_shared_kernel") != std::string::npos);
  CHECK(a.kernels[0].grid == std::array<std::uint32_t, 3>{7, 3, 1});
  CHECK(a.kernels[0].block == std::array<std::uint32_t, 3>{64, 2, 1});
  CHECK(a.kernels[0].static_shared_bytes == 1024);
  CHECK(a.kernels[0].dynamic_shared_bytes == 0);
  cudaFuncAttributes fa{};
  OPARA_CUDA_CHECK(cudaFuncGetAttributes(&fa, gpu_test::symbol(static_shared_kernel)));
  // CUPTI reports the registers allocated per thread; the attribute may be the compiler's count.
  INFO("CUPTI registers ", a.kernels[0].registers_per_thread, ", cudaFuncGetAttributes ", fa.numRegs);
  CHECK(a.kernels[0].registers_per_thread >= static_cast<std::uint32_t>(fa.numRegs));
  CHECK(a.kernels[0].registers_per_thread <= static_cast<std::uint32_t>((fa.numRegs + 7) / 8 * 8));
  MESSAGE("a_static: registers ", a.kernels[0].registers_per_thread, " (attribute ", fa.numRegs, "), occupancy ",
          a.kernels[0].occupancy, ", ", a.kernels[0].duration_us, " us; op c: ", c_summary(p));
  int blocks = 0;
  OPARA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, gpu_test::symbol(static_shared_kernel), 128, 0));
  CHECK(a.kernels[0].occupancy == doctest::Approx(blocks * 4.0 / (prop.maxThreadsPerMultiProcessor / 32)));
  CHECK(a.bound == opara::boundness::memory);  // the user's hint

  const auto& b = p.ops[1];
  REQUIRE(b.kernels.size() == 1);
  CHECK(b.kernels[0].name.find("dynamic_shared_kernel") != std::string::npos);
  CHECK(b.kernels[0].grid == std::array<std::uint32_t, 3>{5, 1, 1});
  CHECK(b.kernels[0].block == std::array<std::uint32_t, 3>{128, 1, 1});
  CHECK(b.kernels[0].dynamic_shared_bytes == 2048);
  CHECK(b.bound == opara::boundness::compute);  // heuristic: its kernel uses shared memory

  const auto& c = p.ops[2];
  REQUIRE(c.kernels.size() == 2);
  CHECK(c.kernels[0].grid[0] == 3);
  CHECK(c.kernels[0].block[0] == 256);
  CHECK(c.kernels[1].grid[0] == 4);
  CHECK(c.kernels[1].block[0] == 250);
  CHECK(c.bound == opara::boundness::memory);
  for (const auto& op : p.ops) {
    double sum = 0;
    for (const auto& kr : op.kernels) {
      CHECK(kr.duration_us > 0);
      CHECK(kr.occupancy > 0);
      CHECK(kr.occupancy <= 1);
      sum += kr.duration_us;
    }
    CHECK(op.duration_us == doctest::Approx(sum).epsilon(0.5));  // averaged over runs
    CHECK(op.duration_us > 0);
  }
}

TEST_CASE("profiler.event_fallback_reports_durations_only") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  const auto p = opara::cuda::measure<opara::profiler::events>(k.g, s.get());
  CHECK(p.source == "events");
  REQUIRE(p.ops.size() == 3);
  for (const auto& op : p.ops) {
    CHECK(op.kernels.empty());
    CHECK(op.duration_us > 0);
  }
  CHECK(p.ops[0].bound == opara::boundness::memory);   // hint
  CHECK(p.ops[1].bound == opara::boundness::unknown);  // nothing to classify by
}

TEST_CASE("profiler.save_load_round_trip_and_mismatch_refused") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  const auto p = opara::cuda::profile_graph(k.g, s.get());
  const auto dir = std::filesystem::temp_directory_path() / ("opara-gpu-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "profile.json";
  opara::save_profile(p, file);
  const auto q = opara::cuda::load_profile_for(file, k.g);
  CHECK(q.key.device_name == p.key.device_name);
  CHECK(q.key.graph_fingerprint == p.key.graph_fingerprint);
  CHECK(q.source == p.source);
  REQUIRE(q.ops.size() == p.ops.size());
  for (std::size_t v = 0; v < p.ops.size(); ++v) {
    CHECK(q.ops[v].bound == p.ops[v].bound);
    CHECK(q.ops[v].duration_us == doctest::Approx(p.ops[v].duration_us));
    REQUIRE(q.ops[v].kernels.size() == p.ops[v].kernels.size());
    for (std::size_t i = 0; i < p.ops[v].kernels.size(); ++i) {
      CHECK(q.ops[v].kernels[i].grid == p.ops[v].kernels[i].grid);
      CHECK(q.ops[v].kernels[i].dynamic_shared_bytes == p.ops[v].kernels[i].dynamic_shared_bytes);
    }
  }
  // Another device: refused, naming the field.
  auto other = p;
  other.key.device_name = "NVIDIA Imaginary GPU";
  const auto other_file = dir / "other.json";
  opara::save_profile(other, other_file);
  try {
    (void)opara::cuda::load_profile_for(other_file, k.g);
    FAIL("mismatched device accepted");
  } catch (const opara::profile_mismatch& e) {
    CHECK(e.field() == "device_name");
    CHECK(std::string(e.what()).find("NVIDIA Imaginary GPU") != std::string::npos);
  }
  // Another graph: refused.
  opara::cuda::task_graph g2;
  g2.add("x", [](cudaStream_t) {});
  CHECK_THROWS_AS((void)opara::cuda::load_profile_for(file, g2), opara::profile_mismatch);

  // The scheduler saves, then reuses the saved profile; a stale one is replaced.
  const auto sched_file = dir / "sched.json";
  opara::scheduler<> sched;
  sched.options.profile_path = sched_file;
  const auto e1 = sched.compile(k.g, s.get());
  CHECK_FALSE(e1.stats().profile_reused);
  CHECK(std::filesystem::exists(sched_file));
  const auto e2 = sched.compile(k.g, s.get());
  CHECK(e2.stats().profile_reused);
  opara::save_profile(other, sched_file);
  const auto e3 = sched.compile(k.g, s.get());
  CHECK_FALSE(e3.stats().profile_reused);
  CHECK(opara::cuda::load_profile_for(sched_file, k.g).key.device_name == p.key.device_name);
  std::filesystem::remove_all(dir);
}

TEST_CASE("profiler.nvtx_option_runs") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware> sched;
  sched.options.capture.nvtx = true;
  sched.options.profiler.nvtx = true;
  sched.options.profile = opara::profiling::always;
  const auto exe = sched.compile(k.g, s.get());
  REQUIRE(exe.profile() != nullptr);
  exe(s.get());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
  const auto h = k.buf.download();
  CHECK(h[7 * 3 * 128 + 5 * 128 + 10] == 20.f);
}

// The profiler_policy concept: opara's three are models; a type without a name, or one that says
// it measures but cannot, is not.
struct claims_to_measure {
  static constexpr std::string_view name = "claims";
  static constexpr bool measures = true;
};
static_assert(opara::profiler::profiler_policy<opara::profiler::cupti, opara::cuda::task_graph>);
static_assert(opara::profiler::profiler_policy<opara::profiler::events, opara::cuda::task_graph>);
static_assert(opara::profiler::profiler_policy<opara::profiler::none, opara::cuda::task_graph>);
static_assert(!opara::profiler::profiler_policy<int, opara::cuda::task_graph>);
static_assert(!opara::profiler::profiler_policy<claims_to_measure, opara::cuda::task_graph>);

TEST_CASE("profiler.policies_events_and_none") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  // Event timing as the scheduler's profiler: durations only, hints kept.
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, opara::capture::stream_capture,
                   opara::profiler::events>
      timed;
  const auto exe = timed.compile(k.g, s.get());
  REQUIRE(exe.profile() != nullptr);
  CHECK(exe.profile()->source == "events");
  CHECK(exe.profile()->ops[0].bound == opara::boundness::memory);
  CHECK(exe.stats().profile_ms > 0);
  // No profiler: an order that needs a profile is refused, one that does not plans without.
  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, opara::capture::stream_capture,
                   opara::profiler::none>
      unprofiled;
  CHECK_THROWS_AS((void)unprofiled.compile(k.g, s.get()), opara::bad_policy);
  const auto given = unprofiled.compile(k.g, s.get(), *exe.profile());  // a profile the caller has
  CHECK(given.profile() != nullptr);
  // Or one saved earlier (here by the event profiler) for this device and graph.
  const auto saved = std::filesystem::temp_directory_path() / ("opara-none-" + std::to_string(::getpid()) + ".json");
  timed.options.profile_path = saved;
  (void)timed.compile(k.g, s.get());
  unprofiled.options.profile_path = saved;
  const auto reused = unprofiled.compile(k.g, s.get());
  CHECK(reused.stats().profile_reused);
  REQUIRE(reused.profile() != nullptr);
  CHECK(reused.profile()->source == "events");
  std::filesystem::remove(saved);
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, opara::capture::stream_capture,
                   opara::profiler::none>
      plain;
  const auto plain_exe = plain.compile(k.g, s.get());
  CHECK(plain_exe.profile() == nullptr);
  plain_exe(s.get());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
  // Unusable profiler options are refused before anything runs.
  opara::profiler::options bad;
  bad.iterations = 0;
  CHECK_THROWS_AS((void)opara::cuda::measure<opara::profiler::events>(k.g, s.get(), bad), opara::bad_policy);
}

// profiling::never: the scheduler measures nothing and loads nothing, even where a matching profile
// is saved; an order policy that needs a profile is refused. reuse_profile = false: a saved,
// matching profile is measured again (and saved again).
TEST_CASE("profiler.profiling_never_and_reuse_profile_off") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  const auto file = std::filesystem::temp_directory_path() / ("opara-reuse-" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(file);

  opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware, opara::capture::stream_capture,
                   opara::profiler::events>
      timed;
  timed.options.profile_path = file;
  const auto first = timed.compile(k.g, s.get());  // measures and saves
  CHECK_FALSE(first.stats().profile_reused);
  REQUIRE(std::filesystem::exists(file));
  CHECK(timed.compile(k.g, s.get()).stats().profile_reused);

  timed.options.reuse_profile = false;
  const auto fresh = timed.compile(k.g, s.get());
  CHECK_FALSE(fresh.stats().profile_reused);
  CHECK(fresh.stats().profile_ms > 0);
  REQUIRE(fresh.profile() != nullptr);
  CHECK(fresh.profile()->source == "events");
  CHECK(std::filesystem::exists(file));  // saved again
  timed.options.reuse_profile = true;

  timed.options.profile = opara::profiling::never;
  CHECK_THROWS_AS((void)timed.compile(k.g, s.get()), opara::bad_policy);  // resource_aware needs one

  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, opara::capture::stream_capture,
                   opara::profiler::events>
      plain;
  plain.options.profile = opara::profiling::never;
  plain.options.profile_path = file;
  const auto exe = plain.compile(k.g, s.get());
  CHECK(exe.profile() == nullptr);
  CHECK_FALSE(exe.stats().profile_reused);
  CHECK(exe.stats().profile_ms == 0);
  exe(s.get());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
  const auto h = k.buf.download();
  CHECK(h[7 * 3 * 128 + 5 * 128 + 10] == 20.f);
  // profiling::always takes a profile where none is needed; never, with the same policies, none.
  plain.options.profile = opara::profiling::always;
  CHECK(plain.compile(k.g, s.get()).profile() != nullptr);
  std::filesystem::remove(file);
}

TEST_CASE("profiler.profile_path_errors_are_opara_errors") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  opara::scheduler<> sched;
  // A file name longer than the file system allows: std::filesystem::exists threw
  // std::filesystem::filesystem_error before; now an opara::error naming the path.
  sched.options.profile_path = std::filesystem::temp_directory_path() / std::string(300, 'p');
  try {
    (void)sched.compile(k.g, s.get());
    FAIL("an unusable profile path was accepted");
  } catch (const opara::error& e) {
    CHECK(std::string(e.what()).find(std::string(300, 'p')) != std::string::npos);
  }
  // A profile that cannot be saved (its directory is a regular file here; read-only or full
  // directories fail alike) is said on stderr, and the compile is not thrown away.
  const auto blocker = std::filesystem::temp_directory_path() / ("opara-blocker-" + std::to_string(::getpid()));
  { std::ofstream(blocker) << "x"; }
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, opara::capture::stream_capture,
                   opara::profiler::events>
      saving;
  saving.options.profile = opara::profiling::always;
  saving.options.profile_path = blocker / "model.profile.json";
  const auto exe = saving.compile(k.g, s.get());
  CHECK(exe.profile() != nullptr);
  saving.options.profile_save_required = true;
  CHECK_THROWS_AS((void)saving.compile(k.g, s.get()), opara::error);
  std::filesystem::remove(blocker);
}

// finish() allocates (the result): it may throw bad_alloc, so it is not noexcept (it was, and ran
// from the destructor, where a bad_alloc would have ended the program); the destructor never throws.
static_assert(!noexcept(std::declval<opara::cuda::cupti_session&>().finish()));
static_assert(std::is_nothrow_destructible_v<opara::cuda::cupti_session>);
// The activity callback is called by CUPTI (C): nothing may escape it.
static_assert(noexcept(opara::cuda::detail::cupti_sink::completed(nullptr, 0, nullptr, 0, 0)));

TEST_CASE("profiler.cupti_sessions_take_turns") {
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  auto first = std::make_unique<opara::cuda::cupti_session>();
  if (!first->active()) {
    CHECK_MESSAGE(!cupti_required(), "CUPTI did not initialize: ", first->unavailable_reason());
    return;
  }
  // A second session on the same thread would wait for itself: refused, with a reason.
  {
    opara::cuda::cupti_session second;
    CHECK_FALSE(second.active());
    CHECK(second.unavailable_reason().find("this thread") != std::string::npos);
  }
  // So a profile taken on this thread meanwhile falls back to event timing (said on stderr) ...
  CHECK(opara::cuda::profile_graph(k.g, s.get()).source == "events");
  // ... and with require_cupti that is an error instead.
  opara::profiler::options strict;
  strict.require_cupti = true;
  CHECK_THROWS_AS((void)opara::cuda::profile_graph(k.g, s.get(), strict), opara::profiler::unavailable);
  // A profile on another thread waits for this session to finish, then records kernels.
  std::atomic<bool> finished{false};
  std::atomic<bool> started_early{false};
  opara::profile other;
  std::thread waiter([&] {
    auto own = opara::cuda::stream_handle::create();
    opara::cuda::cupti_session later;
    if (!finished.load()) started_early = true;
    CHECK(later.active());  // (no REQUIRE off the main thread: it would throw past the thread)
    (void)later.finish();
    other = opara::cuda::profile_graph(k.g, own.get());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // An external correlation id of another session (its id in the high bits) is never this one's tag.
  const std::uint64_t foreign = (std::uint64_t{0xabcdef} << 40) | 1;
  OPARA_CUDA_CHECK(cudaGetLastError());
  REQUIRE(cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, foreign) == CUPTI_SUCCESS);
  gpu_test::launch(plain_kernel, 1, 32, 0, s.get(), k.buf.get(), 32);
  std::uint64_t popped = 0;
  REQUIRE(cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &popped) == CUPTI_SUCCESS);
  {
    const opara::cuda::cupti_session::tag_scope mine(*first, 5);
    gpu_test::launch(plain_kernel, 2, 32, 0, s.get(), k.buf.get(), 64);
  }
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s.get()));
  finished = true;
  const auto seen = first->finish();
  CHECK_FALSE(first->active());
  CHECK(first->finish().kernels.empty());  // a second finish hands back nothing
  waiter.join();
  CHECK_FALSE(started_early.load());
  CHECK(other.source == "cupti");
  REQUIRE(other.ops.size() == 3);
  CHECK(other.ops[2].kernels.size() == 2);
  // Tags: 5 for the scoped kernel, 0 for the foreign one and the event-timed profile's kernels.
  std::size_t tagged = 0;
  for (const auto& kernel : seen.kernels) {
    CHECK((kernel.tag == 0 || kernel.tag == 5));
    if (kernel.tag == 5) {
      ++tagged;
      CHECK(kernel.record.grid[0] == 2);
    }
  }
  CHECK(tagged == 1);
  CHECK_THROWS_AS(opara::cuda::cupti_session::tag_scope(*first, 0), opara::bad_policy);
  first.reset();
  opara::cuda::cupti_session third;  // free again
  CHECK(third.active());
}

TEST_CASE("profiler.another_cupti_client_is_detected_not_overwritten") {
  if (!cupti_required()) return;  // compute-sanitizer is itself the other client
  auto s = opara::cuda::stream_handle::create();
  known_graph k;
  // Another client of CUPTI's callback API in this process (what Nsight Systems or a tracing library is).
  CUpti_SubscriberHandle other = nullptr;
  REQUIRE(cuptiSubscribe(&other, [](void*, CUpti_CallbackDomain, CUpti_CallbackId, const void*) {}, nullptr) ==
          CUPTI_SUCCESS);
  {
    opara::cuda::cupti_session session;
    CHECK_FALSE(session.active());
    CHECK(session.unavailable_reason().find("another CUPTI client") != std::string::npos);
  }
  // The profiler says so and times with events, or, asked to, refuses.
  CHECK(opara::cuda::profile_graph(k.g, s.get()).source == "events");
  opara::profiler::options strict;
  strict.require_cupti = true;
  try {
    (void)opara::cuda::profile_graph(k.g, s.get(), strict);
    FAIL("profiled without CUPTI although require_cupti was set");
  } catch (const opara::profiler::unavailable& e) {
    CHECK(std::string(e.what()).find("another CUPTI client") != std::string::npos);
  }
  REQUIRE(cuptiUnsubscribe(other) == CUPTI_SUCCESS);
  // Gone: CUPTI profiles again.
  CHECK(opara::cuda::profile_graph(k.g, s.get()).source == "cupti");
}
