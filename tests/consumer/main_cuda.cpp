// Uses opara's scheduler with only opara::cuda linked (no CUPTI): the event-timing profiler and no
// profiler at all. Runs on a GPU when one is present; without one it only proves that it builds.
#include <opara/cuda/capture.hpp>
#include <opara/cuda/profiler/events.hpp>
#include <opara/cuda/scheduler.hpp>
#include <opara/order/program_order.hpp>

#ifdef CUPTI_API_VERSION
#error "opara's scheduler pulled in CUPTI: a program that links opara::cuda alone must not need it"
#endif

#include <cstdio>
#include <vector>

int main() try {
  using events_scheduler = opara::scheduler<opara::streams::opara_greedy, opara::order::resource_aware,
                                            opara::capture::stream_capture, opara::profiler::events>;
  using unprofiled_scheduler = opara::scheduler<opara::streams::opara_greedy, opara::order::program_order,
                                                opara::capture::stream_capture, opara::profiler::none>;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("consumer (opara::cuda only): built; no CUDA device to run on");
    return 0;
  }
  void* buffer = nullptr;
  OPARA_CUDA_CHECK(cudaMalloc(&buffer, 4 * 1024));
  opara::cuda::task_graph g;
  const auto in = g.add("input", [&](cudaStream_t s) { OPARA_CUDA_CHECK(cudaMemsetAsync(buffer, 1, 1024, s)); });
  const auto left = g.add("left", [&](cudaStream_t s) {
    OPARA_CUDA_CHECK(cudaMemsetAsync(static_cast<char*>(buffer) + 1024, 2, 1024, s));
  });
  const auto right = g.add("right", [&](cudaStream_t s) {
    OPARA_CUDA_CHECK(cudaMemsetAsync(static_cast<char*>(buffer) + 2048, 3, 1024, s));
  });
  g.depends(in, left).depends(in, right);
  auto stream = opara::cuda::stream_handle::create();
  const auto timed = events_scheduler{}.compile(g, stream.get());
  const auto plain = unprofiled_scheduler{}.compile(g, stream.get());
  timed(stream.get());
  plain(stream.get());
  stream.synchronize();
  std::vector<unsigned char> host(3 * 1024);
  OPARA_CUDA_CHECK(cudaMemcpy(host.data(), buffer, host.size(), cudaMemcpyDeviceToHost));
  OPARA_CUDA_CHECK(cudaFree(buffer));
  if (timed.profile() == nullptr || timed.profile()->source != "events" || plain.profile() != nullptr ||
      host[0] != 1 || host[1024] != 2 || host[2048] != 3) {
    std::fputs("consumer (opara::cuda only): wrong result\n", stderr);
    return 1;
  }
  std::printf("consumer (opara::cuda only): %u streams, profile by %s\n", timed.plan().num_streams,
              timed.profile()->source.c_str());
  return 0;
} catch (const opara::error& e) {
  std::fprintf(stderr, "consumer (opara::cuda only): %s\n", e.what());
  return 1;
}
