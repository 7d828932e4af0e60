// Two independent ~50 us operators planned on two streams overlap: the graph takes well under the
// sum of their times. A sequential plan of the same graph does not (so the test can fail).
#include "support/gpu_test.hpp"

#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/order/program_order.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/sequential.hpp>

#include <algorithm>
#include <chrono>

using namespace gpu_test;

namespace {

float median_ms(const opara::executable& exe, cudaStream_t s, int reps) {
  const opara::cuda::event_timer timer;
  for (int i = 0; i < 3; ++i) exe(s);  // warm-up
  std::vector<float> t;
  for (int i = 0; i < reps; ++i)
    t.push_back(static_cast<float>(std::chrono::duration<double, std::milli>(timer.time(s, [&] { exe(s); })).count()));
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

} // namespace

TEST_CASE("concurrency.independent_operators_overlap") {
  auto stream = opara::cuda::stream_handle::create();
  device_buffer<float> flags(2);
  constexpr unsigned long long ns = 50'000;
  opara::cuda::task_graph one, two;
  one.add("spin_a", [&](cudaStream_t s) {
    gpu_test::launch(spin_kernel, 1, 32, 0, s, ns, flags.get(), 1.f);
    OPARA_CUDA_CHECK(cudaGetLastError());
  });
  for (int k = 0; k < 2; ++k)
    two.add(k ? "spin_b" : "spin_a", [&, k](cudaStream_t s) {
      gpu_test::launch(spin_kernel, 1, 32, 0, s, ns, flags.get() + k, 1.f + k);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
  const int reps = quick() ? 5 : 30;
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order> par;
  opara::scheduler<opara::streams::sequential, opara::order::program_order> seq;
  const auto e1 = par.compile(one, stream.get());
  const auto e2 = par.compile(two, stream.get());
  const auto e2s = seq.compile(two, stream.get());
  CHECK(e2.plan().num_streams == 2);
  CHECK(e2s.plan().num_streams == 1);
  const float t1 = median_ms(e1, stream.get(), reps);
  const float t2 = median_ms(e2, stream.get(), reps);
  const float t2s = median_ms(e2s, stream.get(), reps);
  MESSAGE("one spin: ", t1, " ms; two on two streams: ", t2, " ms; two on one stream: ", t2s, " ms");
  if (!sanitizer()) {  // compute-sanitizer serializes kernels
    CHECK(t1 > 0.045f);
    CHECK(t2 < 1.5f * t1);
    CHECK(t2s > 1.8f * t1);
  }
  OPARA_CUDA_CHECK(cudaMemsetAsync(flags.get(), 0, 2 * sizeof(float), stream.get()));
  e2(stream.get());
  OPARA_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  const auto h = flags.download();
  CHECK(h[0] == 1.f);
  CHECK(h[1] == 2.f);
}
