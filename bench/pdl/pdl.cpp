// Programmatic dependent launch (PDL) and node priorities, with and without, in one run:
//  1. chain: per-kernel cost of a dependent chain of empty or tiny kernels in a CUDA graph
//     (1 block and one block per SM), plain kernels / kernels that wait but get full edges / PDL
//     edges. The per-kernel cost is the slope between a 16- and a 128-kernel chain, so the graph
//     launch itself (paid once per replay) is not counted; totals are reported too.
//  2. priorities: the bench suite's synthetic workloads plus a critical chain beside wide fillers
//     (the probe), each with Opara's policies with and without node priorities.
//  fork/join: what a fork to another stream, a join from one, or both (an inception block's
//     shape) cost a PDL chain of short kernels, per block: the slope between 16- and 64-block
//     chains of each shape, against the chain alone (see fork_join_bench).
//  3. GoogLeNet (the example's engine, batch 1 and 8): sequential graph and Opara's policies, each
//     with and without PDL and priorities; every variant's output bit-identical to the sequential
//     graph without them.
// Times: isolated replays (CUDA events around each of 200 replays, median) and back to back (100
// replays between one pair of events, median of 5 such runs, per replay).
//
//   bench_pdl [--json FILE] [--only chain|forkjoin|priorities|googlenet[,...]]
// Exits 77 when no CUDA device is present.

#include <opara/cuda.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/detail/json.hpp>
#include <opara/opara.hpp>

#include "../suite/result_header.hpp"
#include "../suite/cli.hpp"
#include "../common/kernels.hpp"
#include "../suite/synthetic.hpp"
#if OPARA_BENCH_HAS_GOOGLENET
#include "bench_util.hpp"
#include "engine.hpp"
#include "model.hpp"
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace json = opara::detail::json;

namespace {

using bench::pdl_kernels::empty_kernel;
using bench::pdl_kernels::empty_pdl_kernel;
using bench::pdl_kernels::spin_pdl_kernel;
using bench::pdl_kernels::tick_kernel;
using bench::pdl_kernels::tick_pdl_kernel;

struct times {
  double isolated_us = 0;      // median of isolated replays
  double back_to_back_us = 0;  // per replay, back to back
  int replays = 0;             // how many replays were run in all (warm-up included)
};

times time_exe(const opara::executable& exe, cudaStream_t s) {
  times t;
  opara::tune::timing_options o;
  o.warmup = 20;
  o.replays = 200;
  t.isolated_us = opara::tune::time_replays(exe, s, o).median_us;
  t.replays = o.warmup + o.replays;
  const opara::cuda::event_timer timer;
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto hundred = timer.time(s, [&] { for (int i = 0; i < 100; ++i) exe(s); });
    runs.push_back(hundred.count() / 100);
  }
  t.replays += 500;
  t.back_to_back_us = opara::tune::summarize(runs).median_us;
  return t;
}

// The per-unit cost between two lengths of one shape (timed at[0] at lengths[0], at[1] at
// lengths[1]): what each kernel or block adds, the graph launch itself not counted.
struct slopes {
  double isolated_us = 0, back_to_back_us = 0;
};
slopes slope_between(const times (&at)[2], const int (&lengths)[2]) {
  const double units = lengths[1] - lengths[0];
  return {(at[1].isolated_us - at[0].isolated_us) / units, (at[1].back_to_back_us - at[0].back_to_back_us) / units};
}
// Both lengths' times as JSON fields: isolated_us_<length>, back_to_back_us_<length>.
void record_lengths(json::value& r, const times (&at)[2], const int (&lengths)[2]) {
  for (int i = 0; i < 2; ++i) {
    r["isolated_us_" + std::to_string(lengths[i])] = at[i].isolated_us;
    r["back_to_back_us_" + std::to_string(lengths[i])] = at[i].back_to_back_us;
  }
}

json::value record(const std::string& group, const std::string& workload, const std::string& mode, const times& t) {
  json::value r = json::object{};
  r["group"] = group;
  r["workload"] = workload;
  r["mode"] = mode;
  r["isolated_us"] = t.isolated_us;
  r["back_to_back_us"] = t.back_to_back_us;
  return r;
}

// --- 1. chain ------------------------------------------------------------------------------------

enum class chain_mode { plain, wait_full_edges, pdl };
const char* mode_name(chain_mode m) {
  return m == chain_mode::plain ? "plain" : m == chain_mode::wait_full_edges ? "wait, full edges" : "PDL";
}

void chain_bench(cudaStream_t s, int sms, json::array& out, int& failures) {
  int* counter = nullptr;
  OPARA_CUDA_CHECK(cudaMalloc(&counter, sizeof(int)));
  std::printf("\n== dependent chain: per-kernel cost (slope 16 -> 128 kernels) and total per replay\n");
  std::printf("%-6s %-7s %-18s %12s %12s %12s %12s %14s %14s\n", "kernel", "blocks", "mode", "iso L=16", "iso L=128",
              "b2b L=16", "b2b L=128", "iso us/kernel", "b2b us/kernel");
  for (const bool tiny : {false, true}) {
    for (const unsigned blocks : {1u, static_cast<unsigned>(sms)}) {
      for (const chain_mode mode : {chain_mode::plain, chain_mode::wait_full_edges, chain_mode::pdl}) {
        times at[2];
        const int lengths[2] = {16, 128};
        for (int li = 0; li < 2; ++li) {
          const int length = lengths[li];
          opara::cuda::task_graph tg;
          const bool waits = mode != chain_mode::plain;
          for (int i = 0; i < length; ++i) {
            tg.add("k" + std::to_string(i),
                   [=](cudaStream_t st) {
                     if (tiny) {
                       if (waits) bench::launch(tick_pdl_kernel, blocks, 128, 0, st, counter);
                       else bench::launch(tick_kernel, blocks, 128, 0, st, counter);
                     } else {
                       if (waits) bench::launch(empty_pdl_kernel, blocks, 128, 0, st);
                       else bench::launch(empty_kernel, blocks, 128, 0, st);
                     }
                     OPARA_CUDA_CHECK(cudaGetLastError());
                   },
                   opara::boundness::unknown, waits ? opara::input_wait::programmatic : opara::input_wait::full);
            if (i) tg.depends(static_cast<opara::node_id>(i - 1), static_cast<opara::node_id>(i));
          }
          opara::capture::options o;
          o.programmatic = mode == chain_mode::pdl;
          const auto p = opara::make_plan(tg, nullptr, {}, opara::streams::sequential{}, opara::order::program_order{});
          const auto exe = opara::capture::stream_capture{}.capture(tg, p, s, o);
          OPARA_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(int), s));
          at[li] = time_exe(exe, s);
          if (tiny) {
            int got = 0;
            OPARA_CUDA_CHECK(cudaMemcpy(&got, counter, sizeof(int), cudaMemcpyDeviceToHost));
            if (got != length * at[li].replays) {
              std::printf("FAIL: chain of %d tiny kernels (%s): counter %d, expected %d\n", length, mode_name(mode), got,
                          length * at[li].replays);
              ++failures;
            }
          }
        }
        const slopes per_kernel = slope_between(at, lengths);
        const double iso_slope = per_kernel.isolated_us, b2b_slope = per_kernel.back_to_back_us;
        std::printf("%-6s %-7u %-18s %12.2f %12.2f %12.2f %12.2f %14.3f %14.3f\n", tiny ? "tiny" : "empty", blocks,
                    mode_name(mode), at[0].isolated_us, at[1].isolated_us, at[0].back_to_back_us, at[1].back_to_back_us,
                    iso_slope, b2b_slope);
        json::value r = json::object{};
        r["group"] = "chain";
        r["kernel"] = tiny ? "tiny" : "empty";
        r["blocks"] = static_cast<int>(blocks);
        r["mode"] = mode_name(mode);
        record_lengths(r, at, lengths);
        r["isolated_us_per_kernel"] = iso_slope;
        r["back_to_back_us_per_kernel"] = b2b_slope;
        out.push_back(std::move(r));
      }
    }
  }
  OPARA_CUDA_CHECK(cudaFree(counter));
}

// --- fork / join --------------------------------------------------------------------------------


// A stream policy that puts each node on the stream its role names (the bench builds the roles).
struct fixed_streams {
  static constexpr std::string_view name = "fixed_streams";
  std::vector<opara::stream_id> streams;
  [[nodiscard]] opara::stream_assignment assign(const opara::graph&, std::span<const opara::node_id>) const {
    return {streams, static_cast<std::uint32_t>(*std::max_element(streams.begin(), streams.end()) + 1)};
  }
};

// Shapes of `blocks` chain kernels C_0 -> C_1 -> ... (8 blocks, 3 us each, stream 0) with, per
// chain kernel C_i, side kernels (1 block, 1 us), each on a stream of its own:
//  - chain: nothing else;
//  - fork K: C_i -> S_i^k for K side kernels (leaves);
//  - roots: S_i roots and leaves, joined to nothing (what a graph's many roots cost);
//  - join: S_i -> C_i, every S_i a root (done long before C_i starts: a satisfied join);
//  - fork+join: C_i -> S_i -> C_{i+2} (the side branch is short, the join waits for it after one
//    more chain kernel);
//  - fork 3 + join 3: the same with three side kernels;
//  - inception: C_i -> three side branches of two 0.3 us kernels each (one stream per branch) ->
//    C_{i+2}, the chain's own branch being C_{i+1}: an inception block's shape;
//  - inception, side PDL off: the same with the side kernels not declaring PDL (full edges
//    between the two kernels of a side branch): does PDL off the chain cost the chain?
enum class shape { chain, fork1, fork3, roots, join, fork_join, fork3_join3, inception, inception_side_full };
const char* shape_name(shape sh) {
  switch (sh) {
    case shape::chain: return "chain";
    case shape::fork1: return "fork 1";
    case shape::fork3: return "fork 3";
    case shape::roots: return "roots";
    case shape::join: return "join";
    case shape::fork_join: return "fork+join";
    case shape::fork3_join3: return "fork3+join3";
    case shape::inception: return "inception";
    case shape::inception_side_full: return "inception, side PDL off";
  }
  return "?";
}

void fork_join_bench(cudaStream_t s, json::array& out) {
  std::printf("\n== fork / join around a PDL chain of 3 us kernels: per block, over the chain alone (slope 16 -> 64 blocks)\n");
  std::printf("%-10s %-14s %12s %12s %12s %12s %16s %16s\n", "shape", "pdl edges", "iso L=16", "iso L=64", "b2b L=16",
              "b2b L=64", "iso us/block", "b2b us/block");
  const int lengths[2] = {16, 64};
  double chain_slope[2][2] = {};  // [scope][iso, b2b]
  for (const auto scope : {opara::capture::programmatic_scope::stream_order, opara::capture::programmatic_scope::all}) {
    for (const shape sh : {shape::chain, shape::fork1, shape::fork3, shape::roots, shape::join, shape::fork_join,
                           shape::fork3_join3, shape::inception, shape::inception_side_full}) {
      times at[2];
      for (int li = 0; li < 2; ++li) {
        const int length = lengths[li];
        opara::cuda::task_graph tg;
        std::vector<opara::stream_id> streams;
        auto kernel = [&tg, &streams, sh](const std::string& name, unsigned grid, long long ns, opara::stream_id stream) {
          streams.push_back(stream);
          // A kernel that does not declare PDL still calls the wait: it returns at once without
          // programmatic edges.
          const bool declares = stream == 0 || sh != shape::inception_side_full;
          return tg.add(name,
                        [=](cudaStream_t st) {
                          bench::launch(spin_pdl_kernel, grid, 128, 0, st, ns);
                          OPARA_CUDA_CHECK(cudaGetLastError());
                        },
                        opara::boundness::unknown, declares ? opara::input_wait::programmatic : opara::input_wait::full);
        };
        std::vector<opara::node_id> chain;
        std::vector<std::vector<opara::node_id>> tails(length);  // side kernels that join C_{i+2}
        opara::stream_id next_side = 1;
        for (int i = 0; i < length; ++i) {
          const std::string at = std::to_string(i);
          if (sh == shape::join || sh == shape::roots) {
            const auto side = kernel("s" + at, 1, 1000, next_side++);
            chain.push_back(kernel("c" + at, 8, 3000, 0));
            if (sh == shape::join) tg.depends(side, chain.back());
          } else {
            chain.push_back(kernel("c" + at, 8, 3000, 0));
          }
          if (i) tg.depends(chain[i - 1], chain[i]);
          const int sides = sh == shape::fork1 || sh == shape::fork_join ? 1
                            : sh == shape::fork3 || sh == shape::fork3_join3 || sh == shape::inception ||
                                      sh == shape::inception_side_full
                                  ? 3
                                  : 0;
          for (int k = 0; k < sides; ++k) {
            const opara::stream_id stream = next_side++;
            // Two-kernel side branches of 0.3 us kernels, so that a branch (with its two
            // dependencies) stays shorter than the chain kernel beside it (b116696's 1 us kernels
            // made it as long: the join then waited for the branch, not for the front end).
            const bool two = sh == shape::inception || sh == shape::inception_side_full;
            auto side = kernel("s" + at + "_" + std::to_string(k), 1, two ? 300 : 1000, stream);
            tg.depends(chain[i], side);
            if (two) {
              const auto second = kernel("t" + at + "_" + std::to_string(k), 1, 300, stream);
              tg.depends(side, second);
              side = second;
            }
            tails[i].push_back(side);
          }
        }
        if (sh == shape::fork_join || sh == shape::fork3_join3 || sh == shape::inception || sh == shape::inception_side_full)
          for (int i = 0; i + 2 < length; ++i)
            for (const auto tail : tails[i]) tg.depends(tail, chain[i + 2]);
        opara::capture::options o;
        o.programmatic_edges = scope;
        const auto p = opara::make_plan(tg, nullptr, {}, fixed_streams{streams}, opara::order::program_order{});
        const auto exe = opara::capture::stream_capture{}.capture(tg, p, s, o);
        at[li] = time_exe(exe, s);
      }
      const slopes per_block = slope_between(at, lengths);
      const double iso = per_block.isolated_us, b2b = per_block.back_to_back_us;
      const int si = scope == opara::capture::programmatic_scope::all ? 1 : 0;
      if (sh == shape::chain) {
        chain_slope[si][0] = iso;
        chain_slope[si][1] = b2b;
      }
      const char* scope_name = si ? "all" : "stream order";
      std::printf("%-10s %-14s %12.2f %12.2f %12.2f %12.2f %7.3f (%+.3f) %7.3f (%+.3f)\n", shape_name(sh), scope_name,
                  at[0].isolated_us, at[1].isolated_us, at[0].back_to_back_us, at[1].back_to_back_us, iso,
                  iso - chain_slope[si][0], b2b, b2b - chain_slope[si][1]);
      json::value r = json::object{};
      r["group"] = "fork_join";
      r["shape"] = shape_name(sh);
      r["pdl_edges"] = scope_name;
      record_lengths(r, at, lengths);
      r["isolated_us_per_block"] = iso;
      r["back_to_back_us_per_block"] = b2b;
      r["isolated_us_per_block_over_chain"] = iso - chain_slope[si][0];
      r["back_to_back_us_per_block_over_chain"] = b2b - chain_slope[si][1];
      out.push_back(std::move(r));
    }
  }
}

// --- 2. priorities on synthetic workloads --------------------------------------------------------

// The probe: a critical chain of 40 small kernels beside 16 wide fillers of 2 blocks per
// SM, the fillers either a chain of their own or all independent (then every filler's blocks are
// pending at once and a chain kernel queues behind them unless it has priority). With 256-thread
// fillers a chain kernel still fits beside them; with 1024-thread fillers every SM's thread slots
// are taken, so a chain kernel starts only when a filler block leaves.
bench::workload chain_beside_fillers(bench::calibrated_device& dev, unsigned filler_threads, bool independent) {
  const std::string name = std::string("chain40_") + (filler_threads >= 1024 ? "full" : "") + "fill16" +
                           (independent ? "_parallel" : "");
  bench::workload w{name,
                    "40 dependent 3 us one-block kernels beside 16 " + std::string(independent ? "independent" : "dependent") +
                        " 22 us kernels of 2 blocks x " + std::to_string(filler_threads) + " threads per SM",
                    {}};
  const unsigned sms = static_cast<unsigned>(dev.sm_count());
  const auto src = bench::add_node(w, dev, "src", {false, 1, 128, 0, 8, 1});
  opara::node_id prev = src;
  for (int i = 0; i < 40; ++i) {
    const auto v = bench::add_node(w, dev, "c" + std::to_string(i), {false, 1, 128, 0, 8, 3});
    w.graph.depends(prev, v);
    prev = v;
  }
  prev = src;
  for (int i = 0; i < 16; ++i) {
    const auto v = bench::add_node(w, dev, "f" + std::to_string(i), {false, 2 * sms, filler_threads, 0, 8, 22});
    w.graph.depends(independent ? src : prev, v);
    prev = v;
  }
  return w;
}

template <class Run>
void for_each_multi_stream_policy(Run&& run) {
  using namespace opara;
  run(scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture, profiler::events>{},
      "opara_greedy/resource_aware/stream_capture");
  run(scheduler<streams::min_path_cover, order::critical_path_first, capture::stream_capture, profiler::events>{},
      "min_path_cover/critical_path_first/stream_capture");
  run(scheduler<streams::opara_greedy, order::resource_aware, capture::explicit_graph, profiler::events>{},
      "opara_greedy/resource_aware/explicit_graph");
}

template <class G>
void priorities_on(const std::string& name, const G& g, cudaStream_t s, json::array& out) {
  using namespace opara;
  profiler::options po;
  po.iterations = 5;
  const profile prof = cuda::profile_graph(g, s, po);
  std::printf("%s (lower bound %.1f us)\n", name.c_str(), lower_bound_us(to_graph(g), prof));
  auto run = [&](const auto& sched, const std::string& policies) {
    for (const bool prio : {false, true}) {
      auto sch = sched;
      sch.options.capture.priorities = prio;
      const executable exe = sch.compile(g, s, prof);
      const times t = time_exe(exe, s);
      const std::string mode = policies + (prio ? " + priorities" : "");
      std::printf("  %-52s %10.1f %10.1f\n", mode.c_str(), t.isolated_us, t.back_to_back_us);
      out.push_back(record("priorities", name, mode, t));
    }
  };
  for_each_multi_stream_policy(run);
}

// --- 3. GoogLeNet --------------------------------------------------------------------------------

#if OPARA_BENCH_HAS_GOOGLENET
void googlenet_bench(cudaStream_t s, json::array& out, int& failures) {
  using namespace opara;
  const googlenet::topology net = googlenet::make_googlenet();
  const googlenet::weights w = googlenet::make_random_weights(net, 2024);
  for (int batch : {1, 8}) {
    googlenet::engine e(net, w, batch);
    e.upload_input(googlenet::random_input(e.tensor_floats(net.input), 7 + batch));
    const std::string name = "googlenet_b" + std::to_string(batch);
    profiler::options po;
    po.iterations = 5;
    const profile prof = cuda::profile_graph(e, s, po);
    std::printf("%s (lower bound %.1f us)\n", name.c_str(), lower_bound_us(to_graph(e), prof));
    std::vector<float> expect;
    auto run = [&](const auto& sched, const std::string& policies) {
      // PDL off, along stream order (the default) and on every eligible edge.
      for (const int pdl : {0, 1, 2}) {
        for (const bool prio : {false, true}) {
          auto sch = sched;
          sch.options.capture.programmatic = pdl != 0;
          sch.options.capture.programmatic_edges = pdl == 2 ? capture::programmatic_scope::all : capture::programmatic_scope::stream_order;
          sch.options.capture.priorities = prio;
          const executable exe = sch.compile(e, s, prof);
          e.poison();
          exe(s);
          OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
          const auto got = e.download(net.output);
          if (expect.empty()) expect = got;  // the first: the sequential graph without either
          const bool same = std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) == 0;
          const times t = time_exe(exe, s);
          const std::string mode = policies + (pdl == 1 ? " + PDL" : pdl == 2 ? " + PDL all edges" : "") +
                                   (prio ? " + priorities" : "");
          std::printf("  %-52s %10.1f %10.1f %s\n", mode.c_str(), t.isolated_us, t.back_to_back_us,
                      same ? "bit-identical" : "DIFFERS from the sequential graph");
          failures += same ? 0 : 1;
          json::value r = record("googlenet", name, mode, t);
          r["bit_identical"] = same;
          out.push_back(std::move(r));
        }
      }
    };
    run(scheduler<streams::sequential, order::program_order, capture::stream_capture, profiler::events>{},
        "sequential/program_order/stream_capture");
    for_each_multi_stream_policy(run);
  }
}
#endif

} // namespace

int main(int argc, char** argv) try {
  std::string json_path, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::puts("bench_pdl [--json FILE] [--only chain|forkjoin|priorities|googlenet[,...]]");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const auto gpu = bench::find_gpu("bench_pdl", "PDL and priorities are measured on a GPU");
  if (!gpu) return 77;
  const cudaDeviceProp& prop = gpu->prop;
  const int driver = gpu->driver_version;
  auto stream = opara::cuda::stream_handle::create();
  std::printf("bench_pdl on %s (%d SMs, driver %s)\n", prop.name, prop.multiProcessorCount,
              opara::cuda::driver_release().c_str());
  json::array results;
  int failures = 0;
  if (bench::wanted(only, "chain")) chain_bench(stream.get(), prop.multiProcessorCount, results, failures);
  if (bench::wanted(only, "forkjoin")) fork_join_bench(stream.get(), results);
  if (bench::wanted(only, "priorities")) {
    bench::calibrated_device dev;
    dev.programmatic = false;  // priorities alone: the nodes do not declare PDL
    std::printf("\n== node priorities (isolated us, back-to-back us per replay)\n");
    std::vector<bench::workload> ws;
    ws.push_back(chain_beside_fillers(dev, 256, false));
    ws.push_back(chain_beside_fillers(dev, 1024, false));
    ws.push_back(chain_beside_fillers(dev, 256, true));
    ws.push_back(chain_beside_fillers(dev, 1024, true));
    ws.push_back(bench::wide_fanout(dev, 64));
    ws.push_back(bench::deep_chain(dev, 64));
    ws.push_back(bench::random_layered(dev, 12, 8, 7));
    ws.push_back(bench::mixed_bound(dev, 6));
    for (const auto& w : ws) priorities_on(w.name, w.graph, stream.get(), results);
  }
#if OPARA_BENCH_HAS_GOOGLENET
  if (bench::wanted(only, "googlenet")) {
    std::printf("\n== GoogLeNet: PDL and priorities (isolated us, back-to-back us per replay)\n");
    googlenet_bench(stream.get(), results, failures);
  }
#endif
  if (!json_path.empty()) {
    json::value doc = json::object{};
    doc["bench"] = "opara bench_pdl";
    bench::add_result_header(doc, prop, driver);
    doc["command"] = "bash scripts/bench-pdl";
    doc["results"] = std::move(results);
    std::ofstream f(json_path);
    f << json::write(doc, 2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + json_path);
  }
  if (failures) std::printf("bench_pdl: %d FAILED checks\n", failures);
  return failures ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_pdl: %s\n", e.what());
  return 1;
}
