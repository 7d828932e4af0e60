// Every capture policy x stream policy x order policy computes random DAGs exactly like a CPU
// reference, and a captured graph gives bit-identical results over many replays.
#include "support/gpu_test.hpp"

#include <opara/order/critical_path_first.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/streams/capped.hpp>
#include <opara/streams/min_path_cover.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>

#include <unistd.h>

using namespace gpu_test;
namespace st = opara::streams;
namespace od = opara::order;
namespace cp = opara::capture;

namespace {

struct fixture {
  int elems = quick() ? 512 : 4096;
  std::size_t max_nodes = quick() ? 12 : 40;
  opara::cuda::stream_handle stream = opara::cuda::stream_handle::create();
  std::vector<float> x0h;
  device_buffer<float> x0;
  std::mt19937 rng{12345};
  fixture() : x0(static_cast<std::size_t>(quick() ? 512 : 4096)) {
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    x0h.resize(x0.size());
    for (auto& x : x0h) x = u(rng);
    x0.upload(x0h);
  }
};

// Poisons `out`, runs the executable once, returns what it wrote.
std::vector<float> run_once(const opara::executable& exe, const device_buffer<float>& out, cudaStream_t s) {
  OPARA_CUDA_CHECK(cudaMemsetAsync(out.get(), 0xff, out.size() * sizeof(float), s));  // NaN everywhere
  exe(s);
  std::vector<float> h(out.size());
  OPARA_CUDA_CHECK(cudaMemcpyAsync(h.data(), out.get(), out.size() * sizeof(float), cudaMemcpyDeviceToHost, s));
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  return h;
}

template <class C, class S, class O>
void check_combo(fixture& f, const C& capture, const S& spol, const O& opol, const random_dag& d,
                 const std::vector<double>& ref, std::map<std::string, int>& tally, const std::string& label) {
  device_buffer<float> out(d.n * f.elems);
  const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
  const opara::profile prof = make_profile(tg, f.rng);
  const opara::plan p = opara::make_plan(tg, &prof, opara::plan_options{}, spol, opol);
  const opara::executable exe = capture.capture(tg, p, f.stream.get());
  const auto got = run_once(exe, out, f.stream.get());
  const double err = relative_error(got, ref);
  INFO("capture=", exe.stats().capture_policy, " streams=", p.stream_policy, "(", p.num_streams, ") order=",
       p.order_policy, " nodes=", d.n);
  CHECK(err < 1e-5);  // NaN fails too
  ++tally[exe.stats().capture_policy + "/" + label + "/" + p.order_policy];
}

template <class C>
void all_policies(fixture& f, const C& capture, const random_dag& d, const std::vector<double>& ref,
                  std::map<std::string, int>& tally) {
  auto with_order = [&](const auto& opol) {
    check_combo(f, capture, st::sequential{}, opol, d, ref, tally, "sequential");
    check_combo(f, capture, st::opara_greedy{}, opol, d, ref, tally, "opara_greedy");
    check_combo(f, capture, st::min_path_cover{}, opol, d, ref, tally, "min_path_cover");
    check_combo(f, capture, st::round_robin{2}, opol, d, ref, tally, "round_robin2");
    check_combo(f, capture, st::round_robin{4}, opol, d, ref, tally, "round_robin4");
    st::capped<st::opara_greedy> cap;
    cap.max_streams = 3;
    check_combo(f, capture, cap, opol, d, ref, tally, "capped3");
  };
  with_order(od::program_order{});
  with_order(od::resource_aware{});
  with_order(od::critical_path_first{});
}

} // namespace

TEST_CASE("capture.every_policy_matches_cpu_reference_on_random_dags") {
  fixture f;
  const int graphs = quick() ? 3 : 200;
  std::map<std::string, int> tally;
  std::size_t multi_stream_plans = 0;
  for (int i = 0; i < graphs; ++i) {
    const random_dag d = make_random_dag(f.rng, 2, f.max_nodes);
    const auto ref = reference(d, f.x0h, f.elems);
    all_policies(f, cp::stream_capture{}, d, ref, tally);
    all_policies(f, cp::explicit_graph{}, d, ref, tally);
    all_policies(f, cp::explicit_graph{cp::edge_source::dag}, d, ref, tally);
    all_policies(f, cp::eager{}, d, ref, tally);
    {
      device_buffer<float> out(d.n * f.elems);
      const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
      multi_stream_plans += opara::make_plan(tg).num_streams > 1 ? 1 : 0;
    }
  }
  CHECK(tally.size() == 4u * 6u * 3u);
  for (const auto& [combo, count] : tally) CHECK_MESSAGE(count == graphs, combo);
  CHECK(multi_stream_plans > static_cast<std::size_t>(graphs) / 2);  // the DAGs really are parallel
  MESSAGE("combinations: ", tally.size(), ", graphs each: ", graphs);
}

TEST_CASE("capture.replays_are_bit_identical") {
  fixture f;
  const int replays = quick() ? 20 : 1000;
  const random_dag d = make_random_dag(f.rng, f.max_nodes, f.max_nodes);
  const auto ref = reference(d, f.x0h, f.elems);
  device_buffer<float> out(d.n * f.elems);
  const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
  auto check = [&](const opara::executable& exe) {
    const auto first = run_once(exe, out, f.stream.get());
    CHECK(relative_error(first, ref) < 1e-5);
    int differing = 0;
    for (int r = 1; r < replays; ++r) {
      const auto again = run_once(exe, out, f.stream.get());
      differing += std::memcmp(again.data(), first.data(), first.size() * sizeof(float)) != 0 ? 1 : 0;
    }
    CHECK_MESSAGE(differing == 0, exe.stats().capture_policy);
  };
  opara::scheduler<st::opara_greedy, od::program_order> s1;
  check(s1.compile(tg, f.stream.get()));
  opara::scheduler<st::min_path_cover, od::program_order, cp::explicit_graph> s2;
  check(s2.compile(tg, f.stream.get()));
  opara::scheduler<st::round_robin, od::program_order, cp::eager> s3;
  check(s3.compile(tg, f.stream.get()));
}

TEST_CASE("capture.scheduler_default_profiles_and_captures") {
  fixture f;
  const random_dag d = make_random_dag(f.rng, f.max_nodes, f.max_nodes);
  const auto ref = reference(d, f.x0h, f.elems);
  device_buffer<float> out(d.n * f.elems);
  const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
  opara::scheduler<> s;  // opara_greedy, critical_path_first (profiles with CUPTI), stream_capture
  const auto exe = s.compile(tg, f.stream.get());
  REQUIRE(exe.profile() != nullptr);
  CHECK(exe.profile()->ops.size() == d.n);
  const auto& stt = exe.stats();
  MESSAGE("default scheduler, ", d.n, " nodes: profile ", stt.profile_ms, " ms (", exe.profile()->source, "), plan ",
          stt.plan_ms, " ms, capture ", stt.capture_ms, " ms, instantiate ", stt.instantiate_ms, " ms, ", stt.streams,
          " streams, ", stt.waits, " waits (", stt.pruned_waits, " pruned), ", stt.graph_nodes, " graph nodes");
  CHECK(exe.is_graph());
  CHECK(exe.stats().graph_nodes >= d.n);
  CHECK(exe.plan().order_policy == "critical_path_first");
  CHECK(exe.plan().stream_policy == "opara_greedy");
  CHECK(relative_error(run_once(exe, out, f.stream.get()), ref) < 1e-5);
  // A replay on another stream is fine too.
  auto other = opara::cuda::stream_handle::create();
  CHECK(relative_error(run_once(exe, out, other.get()), ref) < 1e-5);
  // The legacy default stream cannot be captured: compile falls back to an internal stream.
  opara::scheduler<st::opara_greedy, od::program_order> s0;
  auto exe0 = s0.compile(tg, nullptr);
  CHECK(relative_error(run_once(exe0, out, f.stream.get()), ref) < 1e-5);
  // Moving keeps it usable; the moved-from one refuses to run.
  opara::executable moved = std::move(exe0);
  CHECK(relative_error(run_once(moved, out, f.stream.get()), ref) < 1e-5);
  CHECK_THROWS_AS(exe0(f.stream.get()), opara::error);
}

TEST_CASE("capture.write_cuda_dot_writes_the_graph") {
  fixture f;
  const random_dag d = make_random_dag(f.rng, f.max_nodes, f.max_nodes);
  device_buffer<float> out(d.n * f.elems);
  const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
  const auto dir = std::filesystem::temp_directory_path() / ("opara-cuda-dot-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto file = dir / "graph.dot";

  opara::scheduler<st::opara_greedy, od::program_order> s;
  const auto exe = s.compile(tg, f.stream.get());
  exe.write_cuda_dot(file);
  std::ifstream in(file);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(text.find("digraph") != std::string::npos);
  CHECK(text.find("combine_kernel") != std::string::npos);  // verbose: every kernel node's function
  // Written atomically: only the file itself is left, no scratch file beside it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator{}) == 1);
  // A file that cannot be written is an opara::error (cuda_error is one too), and nothing is left.
  CHECK_THROWS_AS(exe.write_cuda_dot(dir / "missing" / "graph.dot"), opara::error);
  CHECK_FALSE(std::filesystem::exists(dir / "missing"));
  // Eager capture has no CUDA graph: refused, naming the file.
  opara::scheduler<st::opara_greedy, od::program_order, cp::eager> eager;
  const auto eager_exe = eager.compile(tg, f.stream.get());
  try {
    eager_exe.write_cuda_dot(dir / "eager.dot");
    FAIL("write_cuda_dot of an eager executable did not throw");
  } catch (const opara::error& e) {
    CHECK(std::string(e.what()).find("eager.dot") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "eager.dot"));
  std::filesystem::remove_all(dir);
}
