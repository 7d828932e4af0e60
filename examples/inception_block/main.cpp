//! One GoogLeNet inception block (inception3a, batch 1 by default) through opara: plan it, print the
//! plan (streams, launch order, cross-stream waits), capture it, check it against the one-stream
//! graph and the float64 reference, again without programmatic dependent launch (on by default for
//! the engine's kernels; bit-identical), and time the graphs (median of 500 replays, CUDA events).
//!
//!   inception_block [batch] [--precision tf32|tf32x3]

#include <opara/cuda.hpp>
#include <opara/opara.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "engine.hpp"
#include "model.hpp"
#include "reference.hpp"

int main(int argc, char** argv) try {
  using namespace googlenet;
  int batch = 1;
  kernels::conv_precision precision = kernels::conv_precision::tf32;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--precision") == 0 && i + 1 < argc)
      precision = std::strcmp(argv[++i], "tf32x3") == 0 ? kernels::conv_precision::tf32x3 : kernels::conv_precision::tf32;
    else batch = std::stoi(argv[i]);
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  cudaStream_t s = nullptr;
  engine_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");

  const topology block = make_inception_block();  // inception3a: 192x28x28 -> 256x28x28
  const weights w = make_random_weights(block, 3);
  engine net(block, w, batch, {precision, 96});
  const auto input = random_input(net.tensor_floats(block.input), 11);

  // Reference output and the one-stream graph.
  net.poison();
  net.upload_input(input);
  sequential_graph seq(net, s);
  seq(s);
  engine_check(cudaStreamSynchronize(s), "sequential graph");
  const auto expect = net.download(block.output);
  const auto ref = run_reference(block, w, input, batch);

  // opara with Opara's policies: greedy streams, resource-aware order, fork/join stream capture.
  opara::executable exe = opara::scheduler<>{}.compile(net, s);
  const opara::plan& p = exe.plan();
  std::printf("plan of %s (batch %d): %u streams, %zu waits (%zu pruned), policies %s + %s\n", "inception3a", batch,
              p.num_streams, p.num_waits(), p.pruned_waits, p.stream_policy.c_str(), p.order_policy.c_str());
  for (opara::node_id v : p.order) {
    std::printf("  stream %u  %-24s", p.stream_of[v], net.op_name(static_cast<int>(v)).c_str());
    const auto waits = p.waits_of(v);
    if (!waits.empty()) {
      std::printf(" waits for");
      for (opara::node_id u : waits) std::printf(" %s (stream %u)", net.op_name(static_cast<int>(u)).c_str(), p.stream_of[u]);
    }
    std::printf("\n");
  }

  net.poison();
  net.upload_input(input);
  exe(s);
  engine_check(cudaStreamSynchronize(s), "opara graph");
  const auto got = net.download(block.output);
  bool same = got.size() == expect.size() && std::memcmp(got.data(), expect.data(), got.size() * 4) == 0;
  const double err = reference::rel_error(got, ref);
  const double tol = precision == kernels::conv_precision::tf32 ? 2e-3 : 1e-5;
  std::printf("%s opara output %s the one-stream graph's; vs float64 reference rel_err %.3e (tol %.0e)\n",
              same && err <= tol ? "ok  " : "FAIL", same ? "equals" : "DIFFERS from", err, tol);

  // The engine's kernels wait for their producers in cudaGridDependencySynchronize, so by default
  // the capture makes their edges programmatic (PDL); the same plan without, for comparison.
  opara::scheduler<> without_pdl;
  without_pdl.options.capture.programmatic = false;
  opara::executable plain = without_pdl.compile(net, s);
  net.poison();
  net.upload_input(input);
  plain(s);
  engine_check(cudaStreamSynchronize(s), "opara graph without PDL");
  const auto got_plain = net.download(block.output);
  const bool same_plain =
      got_plain.size() == expect.size() && std::memcmp(got_plain.data(), expect.data(), got_plain.size() * 4) == 0;
  std::printf("%s opara output without PDL %s the one-stream graph's\n", same_plain ? "ok  " : "FAIL",
              same_plain ? "equals" : "DIFFERS from");

  const timing ts = time_runs([&](cudaStream_t st) { seq(st); }, s, 500, 50);
  const timing tp = time_runs([&](cudaStream_t st) { exe(st); }, s, 500, 50);
  const timing tq = time_runs([&](cudaStream_t st) { plain(st); }, s, 500, 50);
  std::printf("\n%-28s %-10s %-10s %-10s\n", "inception3a", "median ms", "p10", "p90");
  std::printf("%-28s %-10.4f %-10.4f %-10.4f\n", "sequential CUDA Graph", ts.median_ms, ts.p10_ms, ts.p90_ms);
  std::printf("%-28s %-10.4f %-10.4f %-10.4f\n", "opara parallel CUDA Graph", tp.median_ms, tp.p10_ms, tp.p90_ms);
  std::printf("%-28s %-10.4f %-10.4f %-10.4f\n", "  the same without PDL", tq.median_ms, tq.p10_ms, tq.p90_ms);
  std::printf("speed-up %.2fx (without PDL %.2fx)\n", ts.median_ms / tp.median_ms, ts.median_ms / tq.median_ms);
  cudaStreamDestroy(s);
  return same && same_plain && err <= tol ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "inception_block: %s\n", e.what());
  return 1;
}
