// An operator that breaks the capture (synchronizes, throws, launches on the wrong stream) makes
// compile throw opara::capture_error naming it; the caller's stream and the device stay usable.
#include "support/gpu_test.hpp"

#include <opara/order/program_order.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <functional>
#include <stdexcept>
#include <string>

using namespace gpu_test;

namespace {

constexpr int elems = 1024;

// a -> bad -> c, plus an independent d, so the bad operator sits mid-capture with side streams open.
opara::cuda::task_graph make_graph(float* buf, std::function<void(cudaStream_t)> bad) {
  opara::cuda::task_graph g;
  auto fill = [buf](int k) {
    return [buf, k](cudaStream_t s) {
      gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, s, buf + k * elems, float(k), elems);
      OPARA_CUDA_CHECK(cudaGetLastError());
    };
  };
  const auto a = g.add("a", fill(0));
  const auto b = g.add("bad_op", std::move(bad));
  const auto c = g.add("c", fill(1));
  const auto d = g.add("d", fill(2));
  g.depends(a, b).depends(b, c);
  (void)d;
  return g;
}

// The stream is out of capture, no error is pending, and a kernel on it computes the right values.
void check_usable(cudaStream_t s) {
  cudaStreamCaptureStatus st{};
  OPARA_CUDA_CHECK(cudaStreamIsCapturing(s, &st));
  CHECK(st == cudaStreamCaptureStatusNone);
  CHECK(cudaGetLastError() == cudaSuccess);
  device_buffer<float> probe(elems);
  gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, s, probe.get(), 7.f, elems);
  OPARA_CUDA_CHECK(cudaGetLastError());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto h = probe.download();
  int wrong = 0;
  for (int i = 0; i < elems; ++i) wrong += h[i] != 7.f + i ? 1 : 0;
  CHECK(wrong == 0);
  OPARA_CUDA_CHECK(cudaDeviceSynchronize());
}

template <class C>
void expect_capture_error(cudaStream_t s, std::function<void(cudaStream_t)> bad, const std::string& what) {
  device_buffer<float> buf(3 * elems);
  const auto g = make_graph(buf.get(), std::move(bad));
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, C> sched;
  INFO("policy ", C::name, ", case ", what);
  bool thrown = false;
  try {
    (void)sched.compile(g, s);
  } catch (const opara::capture_error& e) {
    thrown = true;
    CHECK(e.node_name() == "bad_op");
    CHECK(e.node() == 1u);
    CHECK(std::string(e.what()).find("'bad_op'") != std::string::npos);
    const std::string msg = std::string(C::name) + " / " + what + ": " + e.what();
    MESSAGE(msg);
  }
  CHECK(thrown);
  check_usable(s);
  // And a good graph still compiles and runs on the same stream afterwards.
  const auto good = make_graph(buf.get(), [&](cudaStream_t st) {
    gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, st, buf.get(), 3.f, elems);
    OPARA_CUDA_CHECK(cudaGetLastError());
  });
  const auto exe = sched.compile(good, s);
  exe(s);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto h = buf.download();
  CHECK(h[elems + 5] == 1.f + 5);
  CHECK(h[2 * elems + 9] == 2.f + 9);
}

template <class C>
void all_cases(cudaStream_t s, float* scratch, cudaStream_t other) {
  expect_capture_error<C>(s, [](cudaStream_t st) { (void)cudaStreamSynchronize(st); }, "cudaStreamSynchronize");
  expect_capture_error<C>(s, [](cudaStream_t) { (void)cudaDeviceSynchronize(); }, "cudaDeviceSynchronize");
  expect_capture_error<C>(s, [](cudaStream_t st) { OPARA_CUDA_CHECK(cudaStreamSynchronize(st)); },
                          "cudaStreamSynchronize, checked");
  expect_capture_error<C>(s, [](cudaStream_t) { throw std::runtime_error("operator failed on purpose"); }, "throws");
  expect_capture_error<C>(s, [scratch](cudaStream_t) {
    gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, nullptr, scratch, 1.f, elems);  // legacy default stream
  }, "legacy stream");
  expect_capture_error<C>(s, [scratch, other](cudaStream_t) {
    gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, other, scratch, 1.f, elems);
  }, "another stream");
}

} // namespace

TEST_CASE("capture_errors.stream_capture_names_the_operator_nonblocking_stream") {
  auto s = opara::cuda::stream_handle::create(cudaStreamNonBlocking);
  device_buffer<float> scratch(elems);
  auto other = opara::cuda::stream_handle::create();
  all_cases<opara::capture::stream_capture>(s.get(), scratch.get(), other.get());
}

TEST_CASE("capture_errors.stream_capture_names_the_operator_blocking_stream") {
  auto s = opara::cuda::stream_handle::create(cudaStreamDefault);  // synchronizes with the legacy stream
  device_buffer<float> scratch(elems);
  auto other = opara::cuda::stream_handle::create();
  all_cases<opara::capture::stream_capture>(s.get(), scratch.get(), other.get());
}

TEST_CASE("capture_errors.explicit_graph_names_the_operator") {
  auto s = opara::cuda::stream_handle::create();
  device_buffer<float> scratch(elems);
  auto other = opara::cuda::stream_handle::create();
  all_cases<opara::capture::explicit_graph>(s.get(), scratch.get(), other.get());
}

TEST_CASE("capture_errors.eager_names_a_throwing_operator") {
  auto s = opara::cuda::stream_handle::create();
  device_buffer<float> buf(3 * elems);
  const auto g = make_graph(buf.get(), [](cudaStream_t) { throw std::runtime_error("boom"); });
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, opara::capture::eager> sched;
  const auto exe = sched.compile(g, s.get());  // eager launches nothing at compile time
  try {
    exe(s.get());
    FAIL("no capture_error");
  } catch (const opara::capture_error& e) {
    CHECK(e.node_name() == "bad_op");
    CHECK(std::string(e.what()).find("boom") != std::string::npos);
  }
  OPARA_CUDA_CHECK(cudaDeviceSynchronize());
  check_usable(s.get());
}

TEST_CASE("capture_errors.cuda_check_reports_expression_and_clears_last_error") {
  float* p = nullptr;
  try {
    OPARA_CUDA_CHECK(cudaMalloc(&p, std::size_t(1) << 62));
    FAIL("no cuda_error");
  } catch (const opara::cuda_error& e) {
    CHECK(e.code() == cudaErrorMemoryAllocation);
    CHECK(e.expression().find("cudaMalloc") != std::string::npos);
    CHECK(std::string(e.name()) == "cudaErrorMemoryAllocation");
    // The message names the file of the check (this one, whatever it is called).
    const std::string file = __FILE__;
    CHECK(std::string(e.what()).find(file.substr(file.find_last_of('/') + 1)) != std::string::npos);
  }
  CHECK(cudaGetLastError() == cudaSuccess);
  int calls = 0;
  auto count = [&] { ++calls; return cudaSuccess; };
  OPARA_CUDA_CHECK(count());
  CHECK(calls == 1);  // evaluated once
}

// A hand-made plan that does not fit the graph is refused by every capture policy before anything
// is indexed (the scheduler's validate step may be off, and users call capture policies directly).
template <class C>
void refuses_misshapen_plans(cudaStream_t s, float* scratch) {
  const auto g = make_graph(scratch, [scratch](cudaStream_t st) {
    gpu_test::launch(fill_kernel, (elems + 255) / 256, 256, 0, st, scratch + 2 * elems, 1.f, elems);
    OPARA_CUDA_CHECK(cudaGetLastError());
  });
  const opara::plan good = opara::make_plan<opara::streams::opara_greedy, opara::order::program_order>(g);
  CHECK_NOTHROW((void)C{}.capture(g, good, s, {}));
  auto expect_refused = [&](opara::plan bad, const char* what) {
    INFO(what);
    try {
      (void)C{}.capture(g, bad, s, {});
      FAIL("a misshapen plan was captured");
    } catch (const opara::invalid_plan& e) {
      CHECK(std::string(e.what()).find(std::string("opara::capture::") + std::string(C::name)) != std::string::npos);
    }
    check_usable(s);
  };
  opara::plan p = good;
  p.stream_of[1] = p.num_streams + 3;  // a stream the plan does not have
  expect_refused(p, "stream id out of range");
  p = good;
  p.wait_on.push_back(99);  // the last node waits for a producer that does not exist
  p.wait_begin.back() = static_cast<std::uint32_t>(p.wait_on.size());
  expect_refused(p, "wait on an unknown node");
  p = good;
  p.order[0] = p.order[1];  // not a permutation
  expect_refused(p, "order repeats a node");
  p = good;
  p.num_streams = 1000;  // more streams than nodes: would allocate streams for nothing
  expect_refused(p, "too many streams");
}

TEST_CASE("capture_errors.misshapen_plan_is_invalid_plan_for_every_policy") {
  auto s = opara::cuda::stream_handle::create();
  device_buffer<float> scratch(3 * elems);
  refuses_misshapen_plans<opara::capture::stream_capture>(s.get(), scratch.get());
  refuses_misshapen_plans<opara::capture::explicit_graph>(s.get(), scratch.get());
  refuses_misshapen_plans<opara::capture::eager>(s.get(), scratch.get());
}
