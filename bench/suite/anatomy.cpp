// bench_anatomy: where a plan's time goes. For each chosen corpus workload (traced models and
// generated wide graphs, bench/suite/corpus.hpp) and a few plans of it:
//  - replay times of the plan as the suite measures it, and with every kernel recording its
//    timeline (first block's entry, first block past its wait for producers, last block's end, in
//    %globaltimer ns: synthetic.hpp's stamps);
//  - the timeline of the replay with the median makespan, with the plan (stream and launch order
//    per operator) and the graph, as JSON for offline analysis (scripts/anatomy.py);
//  - for scheduler<>'s default plan, ablations that separate the front end from SM sharing: the
//    skeleton (every kernel empty), the profile's critical path real with every other kernel empty
//    (the front end still launches them all, the SMs are the chain's), the reverse, and the chain
//    alone (floors.hpp).
// On the device: the as-run critical path of each timeline (from the last kernel to end, back
// through the producer that ended last), split into time waiting (from the producer's end to the
// consumer's first block past its wait) and time running, against the profile's durations.
//
//   bench_anatomy [--only NAME[,NAME...]] [--replays N] [--json FILE] [--corpus DIR]
// Default workloads: googlenet, inception_v3, resnet50, branches256, stages4x128, layered8x125.
// Exits 77 when no CUDA device is present.

#include "cli.hpp"
#include "corpus.hpp"
#include "result_header.hpp"
#include "suite.hpp"
#include "synthetic.hpp"

#include <opara/cuda.hpp>
#include <opara/cuda/runtime/timed_event.hpp>
#include <opara/opara.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace json = opara::detail::json;
using bench::stamp;
using bench::anatomy_kernels::mark;
using bench::anatomy_kernels::timer_steps;


// Per-node stamps of one replay, relative to the earliest entry (ns); nodes that recorded nothing
// (empty kernels of a partial skeleton) have entry < 0.
struct timeline {
  std::vector<long long> entry, begin, end;
  double makespan_us = 0;  // last end - first entry
  unsigned long long first_ns = 0, last_ns = 0;  // first entry, last end (%globaltimer)
};

class stamp_buffer {
public:
  explicit stamp_buffer(std::size_t n) : n_(n), reset_(n, stamp{~0ull, ~0ull, 0ull}) {
    OPARA_CUDA_CHECK(cudaMalloc(&d_, n * sizeof(stamp)));
  }
  ~stamp_buffer() { OPARA_CUDA_CHECK_NOTHROW(cudaFree(d_)); }
  stamp_buffer(const stamp_buffer&) = delete;
  stamp_buffer& operator=(const stamp_buffer&) = delete;
  [[nodiscard]] stamp* device() const noexcept { return d_; }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  void reset(cudaStream_t s) const {
    OPARA_CUDA_CHECK(cudaMemcpyAsync(d_, reset_.data(), n_ * sizeof(stamp), cudaMemcpyHostToDevice, s));
  }
  [[nodiscard]] timeline read(std::size_t nodes, cudaStream_t s) const {
    std::vector<stamp> h(nodes);
    OPARA_CUDA_CHECK(cudaMemcpyAsync(h.data(), d_, nodes * sizeof(stamp), cudaMemcpyDeviceToHost, s));
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    timeline t;
    unsigned long long first = ~0ull, last = 0;
    for (const auto& x : h)
      if (x.end) {
        first = std::min(first, x.entry);
        last = std::max(last, x.end);
      }
    for (const auto& x : h) {
      const bool seen = x.end != 0;
      t.entry.push_back(seen ? static_cast<long long>(x.entry - first) : -1);
      t.begin.push_back(seen ? static_cast<long long>(x.begin - first) : -1);
      t.end.push_back(seen ? static_cast<long long>(x.end - first) : -1);
    }
    t.makespan_us = last > first ? static_cast<double>(last - first) / 1000.0 : 0.0;
    t.first_ns = first;
    t.last_ns = last;
    return t;
  }

private:
  std::size_t n_;
  std::vector<stamp> reset_;
  stamp* d_ = nullptr;
};

// The timeline of the replay with the median makespan among `replays` (after warm-up).
timeline record(const opara::executable& exe, const stamp_buffer& buf, std::size_t nodes, cudaStream_t s, int replays) {
  for (int i = 0; i < 5; ++i) exe(s);
  std::vector<timeline> runs;
  for (int i = 0; i < replays; ++i) {
    buf.reset(s);
    exe(s);
    runs.push_back(buf.read(nodes, s));
  }
  std::sort(runs.begin(), runs.end(), [](const timeline& a, const timeline& b) { return a.makespan_us < b.makespan_us; });
  return runs[runs.size() / 2];
}

// The as-run critical path: from the node that ended last, back through the predecessor that
// ended last; per step the wait (producer's end to the consumer's begin) and the run (begin to end).
struct as_run {
  std::size_t nodes = 0, cross_stream = 0;
  double wait_us = 0, run_us = 0, profiled_us = 0, head_us = 0;  // head: first entry to the path's first begin
};
as_run as_run_path(const opara::cuda::task_graph& g, const timeline& t, const opara::profile& p,
                   const std::vector<opara::stream_id>& stream_of) {
  as_run r;
  opara::node_id v = 0;
  for (opara::node_id u = 0; u < g.num_nodes(); ++u)
    if (t.end[u] > t.end[v]) v = u;
  for (;;) {
    ++r.nodes;
    r.run_us += (t.end[v] - t.begin[v]) / 1000.0;
    r.profiled_us += p.ops[v].duration_us;
    std::optional<opara::node_id> producer;
    for (const opara::node_id u : g.predecessors(v))
      if (t.end[u] >= 0 && (!producer || t.end[u] > t.end[*producer])) producer = u;
    if (!producer) {
      r.head_us = t.begin[v] / 1000.0;
      break;
    }
    r.wait_us += (t.begin[v] - t.end[*producer]) / 1000.0;
    if (stream_of[v] != stream_of[*producer]) ++r.cross_stream;
    v = *producer;
  }
  return r;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One executable's launch costs:
//  - host_us: the launch call on the host (the executable's call: cudaGraphLaunch), the stream
//    idle before it (median of `reps`);
//  - isolated_us: events around one replay, the stream idle before (the suite's measure);
//  - queued_us: the same with the stream busy for 300 us first (floors.hpp's time_queued: the
//    host's launch call is hidden, the GPU's own time).
struct graph_costs {
  double host_us = 0, isolated_us = 0, queued_us = 0;
};
graph_costs time_launch(const opara::executable& e, const bench::calibrated_device& dev, cudaStream_t s, int reps) {
  const opara::tune::timing_options o{10, reps, false};
  for (int i = 0; i < o.warmup; ++i) e(s);
  std::vector<double> host;
  for (int i = 0; i < reps; ++i) {
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    const auto t0 = std::chrono::steady_clock::now();
    e(s);
    host.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto busy = [&dev](cudaStream_t st) { dev.busy(st, 300); };
  return {median_of(host), opara::tune::time_replays(e, s, o).median_us, bench::time_queued(e, s, o, busy).median_us};
}

// What a replay costs around its kernels: time_launch's, and
//  - back_to_back_us: 20 replays between one pair of events, per replay (median of reps / 5);
//  - start_us / end_us: from a one-thread kernel just before the replay to its first kernel's
//    entry, and from its last kernel's end to a one-thread kernel after it (stamped executable),
//    with the stream idle before (isolated) and busy for 300 us (queued); medians of `reps`.
struct launch_costs : graph_costs {
  double back_to_back_us = 0;
  double start_us = 0, end_us = 0, queued_start_us = 0, queued_end_us = 0;
};

launch_costs measure_launch(const opara::executable& plain, const opara::executable& stamped, const stamp_buffer& buf,
                            std::size_t nodes, const bench::calibrated_device& dev, cudaStream_t s, int reps) {
  launch_costs c;
  static_cast<graph_costs&>(c) = time_launch(plain, dev, s, reps);
  const opara::cuda::event_timer timer;
  std::vector<double> b2b;
  for (int i = 0; i < reps; i += 5) {
    const auto twenty = timer.time(s, [&] { for (int k = 0; k < 20; ++k) plain(s); });
    b2b.push_back(twenty.count() / 20);
  }
  c.back_to_back_us = median_of(b2b);
  unsigned long long* marks = nullptr;
  OPARA_CUDA_CHECK(cudaMalloc(&marks, 2 * sizeof(unsigned long long)));
  std::vector<double> start, end, qstart, qend;
  for (int i = 0; i < 2 * reps; ++i) {
    const bool q = i % 2;
    OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
    buf.reset(s);
    if (q) dev.busy(s, 300);
    bench::launch(mark, 1, 1, 0, s, marks);
    OPARA_CUDA_CHECK(cudaGetLastError());
    stamped(s);
    bench::launch(mark, 1, 1, 0, s, marks + 1);
    OPARA_CUDA_CHECK(cudaGetLastError());
    const timeline t = buf.read(nodes, s);
    unsigned long long m[2];
    OPARA_CUDA_CHECK(cudaMemcpy(m, marks, sizeof m, cudaMemcpyDeviceToHost));
    (q ? qstart : start).push_back((static_cast<double>(t.first_ns) - static_cast<double>(m[0])) / 1000.0);
    (q ? qend : end).push_back((static_cast<double>(m[1]) - static_cast<double>(t.last_ns)) / 1000.0);
  }
  OPARA_CUDA_CHECK(cudaFree(marks));
  c.start_us = median_of(start);
  c.end_us = median_of(end);
  c.queued_start_us = median_of(qstart);
  c.queued_end_us = median_of(qend);
  return c;
}

struct observed {
  std::string what, policies;
  opara::tune::timing_summary plain, stamped;
  timeline t;
  opara::plan plan;
  std::optional<launch_costs> launch;
};

} // namespace

int main(int argc, char** argv) try {
  std::string json_path, only = "googlenet,inception_v3,resnet50,branches256,stages4x128,layered8x125";
  std::filesystem::path corpus_dir = OPARA_BENCH_CORPUS_DIR;
  int replays = 50;
  for (bench::arguments args(argc, argv); args.next();) {
    const std::string& a = args.flag();
    auto next = [&] { return args.value(); };
    if (a == "--json") json_path = next();
    else if (a == "--replays") replays = std::stoi(next());
    else if (a == "--only") only = next();
    else if (a == "--corpus") corpus_dir = next();
    else if (a == "--help" || a == "-h") {
      std::puts("bench_anatomy [--only NAME[,NAME...]] [--replays N] [--json FILE] [--corpus DIR]");
      return 0;
    } else throw std::invalid_argument("unknown argument " + a + " (see --help)");
  }
  if (replays < 5) throw std::invalid_argument("--replays needs at least 5");
  const auto gpu = bench::find_gpu("bench_anatomy", "timelines need a GPU");
  if (!gpu) return 77;
  const cudaDeviceProp& prop = gpu->prop;
  const int driver = gpu->driver_version;
  auto stream = opara::cuda::stream_handle::create();
  const cudaStream_t s = stream.get();

  unsigned long long* steps = nullptr;
  OPARA_CUDA_CHECK(cudaMalloc(&steps, 2 * sizeof(unsigned long long)));
  bench::launch(timer_steps, 1, 1, 0, 0, steps);
  OPARA_CUDA_CHECK(cudaGetLastError());
  unsigned long long h_steps[2] = {0, 0};
  OPARA_CUDA_CHECK(cudaMemcpy(h_steps, steps, sizeof h_steps, cudaMemcpyDeviceToHost));
  OPARA_CUDA_CHECK(cudaFree(steps));
  std::printf("bench_anatomy on %s: %%globaltimer step %llu ns (%llu changes in 4096 reads)\n", prop.name, h_steps[0],
              h_steps[1]);

  // Each workload twice on one calibrated device: as the suite runs it, and with stamps (the same
  // draws: a workload's rng is its own).
  bench::calibrated_device dev;
  stamp_buffer buf(4096);
  opara::tune::timing_options timing{20, 200, false};
  auto build = [&]() {
    std::vector<bench::workload> ws;
    for (const auto& file : bench::corpus_files(corpus_dir))
      if (bench::wanted(only, file.stem().string())) ws.push_back(bench::corpus_workload(dev, file));
    for (auto& w : bench::wide_graphs(dev))
      if (bench::wanted(only, w.name)) ws.push_back(std::move(w));
    return ws;
  };
  const std::vector<bench::workload> plain_w = build();
  dev.stamps = buf.device();
  dev.stamp_capacity = buf.size();
  const std::vector<bench::workload> stamped_w = build();
  dev.stamps = nullptr;

  json::array out_workloads;
  for (std::size_t wi = 0; wi < plain_w.size(); ++wi) {
    const auto& g = plain_w[wi].graph;
    const auto& gs = stamped_w[wi].graph;
    const std::size_t n = g.num_nodes();
    opara::profiler::options ps;
    ps.iterations = 5;
    const opara::profile prof = opara::cuda::profile_graph(g, s, ps);
    const opara::graph cg = opara::to_graph(g);
    std::vector<double> cost(n);
    const opara::gpu_model model{};
    for (std::size_t v = 0; v < n; ++v) cost[v] = prof.ops[v].duration_us + model.dependency_us;
    const auto path = opara::critical_path(cg, cost).nodes;
    std::vector<bool> on_path(n, false);
    double path_profiled = 0;
    for (const auto v : path) {
      on_path[v] = true;
      path_profiled += prof.ops[v].duration_us;
    }
    std::printf("\n== %s: %zu ops; profile's critical path %zu ops, %.1f us of kernels\n", plain_w[wi].name.c_str(), n,
                path.size(), path_profiled);
    std::printf("%-34s %-52s %8s %8s %8s %8s | as-run path: %4s %5s %8s %8s %8s %8s\n", "plan", "policies", "median", "min",
                "stamped", "timeline", "ops", "cross", "wait", "run", "profiled", "head");

    std::vector<observed> obs;
    auto observe = [&](const std::string& what, const std::string& policies, const opara::executable& a,
                       const opara::executable& b) {
      observed o{what, policies, opara::tune::time_replays(a, s, timing), opara::tune::time_replays(b, s, timing),
                 record(b, buf, n, s, replays), b.plan()};
      std::string row = what;
      bool complete = true;
      for (std::size_t v = 0; v < n; ++v) complete = complete && o.t.end[v] >= 0;
      if (complete) {
        const as_run r = as_run_path(gs, o.t, prof, o.plan.stream_of);
        std::printf("%-34s %-52s %8.1f %8.1f %8.1f %8.1f |              %4zu %5zu %8.1f %8.1f %8.1f %8.1f\n", what.c_str(),
                    policies.c_str(), o.plain.median_us, o.plain.min_us, o.stamped.median_us, o.t.makespan_us, r.nodes,
                    r.cross_stream, r.wait_us, r.run_us, r.profiled_us, r.head_us);
      } else {
        std::printf("%-34s %-52s %8.1f %8.1f %8.1f %8.1f |   (partial: stamped operators only)\n", what.c_str(),
                    policies.c_str(), o.plain.median_us, o.plain.min_us, o.stamped.median_us, o.t.makespan_us);
      }
      obs.push_back(std::move(o));
    };
    auto plan_of = [&](const std::string& what, const auto& sched) {
      const opara::executable a = sched.compile(g, s, prof);
      const opara::executable b = sched.compile(gs, s, prof);
      observe(what, sched.label(), a, b);
      const launch_costs c = measure_launch(a, b, buf, n, dev, s, 40);
      std::printf("%-34s launch: host %.1f us; isolated %.1f, queued %.1f, back to back %.1f us per replay; first entry "
                  "%.1f us after a mark before (queued %.1f), last end %.1f us before a mark after (queued %.1f)\n",
                  "", c.host_us, c.isolated_us, c.queued_us, c.back_to_back_us, c.start_us, c.queued_start_us, c.end_us,
                  c.queued_end_us);
      obs.back().launch = c;
    };

    opara::scheduler<> def{};
    plan_of("default", def);
    {
      opara::scheduler<opara::streams::model_guided, opara::order::model_guided, opara::capture::stream_capture> mg{};
      plan_of("model_guided", mg);
      opara::scheduler<opara::streams::sequential, opara::order::program_order, opara::capture::stream_capture> seq{};
      plan_of("sequential+pdl", seq);
      opara::scheduler<bench::earliest_start, opara::order::critical_path_first, opara::capture::stream_capture> cap64{};
      cap64.streams.cap = 64;
      plan_of("earliest_start cap 64", cap64);
    }
    // The default plan's ablations (same plan: same scheduler, same profile).
    auto ablation = [&](const std::string& what, const std::vector<bool>& real) {
      const bench::skeleton a(g, prof, real), b(gs, prof, real);
      observe(what, def.label(), def.compile(a.graph(), s, prof), def.compile(b.graph(), s, prof));
    };
    ablation("default: skeleton (all empty)", {});
    ablation("default: critical path real, rest empty", on_path);
    std::vector<bool> off_path(n);
    for (std::size_t v = 0; v < n; ++v) off_path[v] = !on_path[v];
    ablation("default: critical path empty, rest real", off_path);
    // One shared-memory carveout for every kernel (the largest): can blocks of different kernels
    // then share an SM that one of them has configured? The default plan again, and the chain.
    for (const int carveout : {100}) {
      bench::calibrated_device::set_carveout(carveout);
      plan_of("default, carveout " + std::to_string(carveout) + "%", def);
      {
        opara::scheduler<bench::earliest_start, opara::order::critical_path_first, opara::capture::stream_capture> cap64{};
        cap64.streams.cap = 64;
        plan_of("earliest_start cap 64, carveout " + std::to_string(carveout) + "%", cap64);
      }
      const bench::skeleton a(g, prof);
      const opara::executable e = def.compile(a.graph(), s, prof);
      const graph_costs c = time_launch(e, dev, s, 30);
      std::printf("%-34s host %.1f, isolated %.1f, queued %.1f\n", ("skeleton, carveout " + std::to_string(carveout) + "%").c_str(),
                  c.host_us, c.isolated_us, c.queued_us);
      bench::calibrated_device::set_carveout(cudaSharedmemCarveoutDefault);
    }
    {
      const bench::skeleton a(g, prof);
      const opara::executable e = def.compile(a.graph(), s, prof);
      const graph_costs c = time_launch(e, dev, s, 30);
      std::printf("%-34s host %.1f, isolated %.1f, queued %.1f\n", "skeleton", c.host_us, c.isolated_us, c.queued_us);
    }
    // Launch costs by graph shape: does PDL or the stream count change what the host's launch call
    // costs? (Instantiating for device launch, cudaGraphInstantiateFlagDeviceLaunch, made every
    // replay slower, isolated 1.1-1.8x and queued 1.3-2.3x: measured at a74a6c5 on an H100.)
    {
      std::printf("%-58s %9s %9s %9s\n", "launch variants (no stamps)", "host", "isolated", "queued");
      auto variant = [&](const std::string& what, const auto& sched) {
        const opara::executable e = sched.compile(g, s, prof);
        const graph_costs c = time_launch(e, dev, s, 30);
        std::printf("%-58s %9.1f %9.1f %9.1f\n", (what + " " + sched.label()).c_str(), c.host_us, c.isolated_us, c.queued_us);
      };
      opara::scheduler<> d{};
      variant("default", d);
      d.options.capture.programmatic = false;
      variant("default, no PDL", d);
      d.options.capture.programmatic = true;
      d.options.capture.programmatic_edges = opara::capture::programmatic_scope::all;
      variant("default, PDL on all edges", d);
      opara::scheduler<opara::streams::sequential, opara::order::program_order, opara::capture::stream_capture> seq{};
      variant("sequential", seq);
      seq.options.capture.programmatic = false;
      variant("sequential, no PDL", seq);
      opara::scheduler<opara::streams::min_path_cover, opara::order::critical_path_first, opara::capture::explicit_graph> mpc{};
      variant("min_path_cover", mpc);
      mpc.options.capture.programmatic = false;
      variant("min_path_cover, no PDL", mpc);
    }
    {
      const auto chain = bench::chain_of(g, path);
      const auto chain_s = bench::chain_of(gs, path);
      const auto chain_prof = bench::profile_of(prof, path, chain);
      opara::scheduler<opara::streams::sequential, opara::order::program_order, opara::capture::stream_capture> seq{};
      const opara::executable a = seq.compile(chain, s, chain_prof), b = seq.compile(chain_s, s, chain_prof);
      const auto ta = opara::tune::time_replays(a, s, timing), tb = opara::tune::time_replays(b, s, timing);
      const graph_costs c = time_launch(a, dev, s, 30);
      std::printf("%-34s %-52s %8.1f %8.1f %8.1f | host %.1f, isolated %.1f, queued %.1f\n", "critical path alone (one stream)",
                  seq.label().c_str(), ta.median_us, ta.min_us, tb.median_us, c.host_us, c.isolated_us, c.queued_us);
    }

    json::value w = json::object{};
    w["name"] = plain_w[wi].name;
    json::array nodes;
    for (opara::node_id v = 0; v < n; ++v) {
      json::value j = json::object{};
      j["name"] = g.name(v);
      j["profiled_us"] = prof.ops[v].duration_us;
      j["critical"] = static_cast<bool>(on_path[v]);
      std::uint64_t blocks = 0, shared = 0, threads = 0, regs = 0;
      for (const auto& k : prof.ops[v].kernels) {
        blocks += k.blocks();
        shared = std::max<std::uint64_t>(shared, k.shared_bytes());
        threads = std::max<std::uint64_t>(threads, k.threads_per_block());
        regs = std::max<std::uint64_t>(regs, k.registers_per_thread);
      }
      j["blocks"] = blocks;
      j["shared_bytes"] = shared;
      j["threads"] = threads;
      j["registers"] = regs;
      json::array preds;
      for (const auto u : g.predecessors(v)) preds.push_back(u);
      j["preds"] = std::move(preds);
      nodes.push_back(std::move(j));
    }
    w["nodes"] = std::move(nodes);
    json::array plans;
    for (const auto& o : obs) {
      json::value j = json::object{};
      j["what"] = o.what;
      j["policies"] = o.policies;
      j["median_us"] = o.plain.median_us;
      j["min_us"] = o.plain.min_us;
      j["stamped_median_us"] = o.stamped.median_us;
      j["timeline_makespan_us"] = o.t.makespan_us;
      if (o.launch) {
        json::value l = json::object{};
        l["host_us"] = o.launch->host_us;
        l["isolated_us"] = o.launch->isolated_us;
        l["queued_us"] = o.launch->queued_us;
        l["back_to_back_us"] = o.launch->back_to_back_us;
        l["start_us"] = o.launch->start_us;
        l["end_us"] = o.launch->end_us;
        l["queued_start_us"] = o.launch->queued_start_us;
        l["queued_end_us"] = o.launch->queued_end_us;
        j["launch"] = std::move(l);
      }
      json::array stream_of, order, entry, begin, end;
      for (const auto x : o.plan.stream_of) stream_of.push_back(x);
      for (const auto x : o.plan.order) order.push_back(x);
      for (std::size_t v = 0; v < n; ++v) {
        entry.push_back(o.t.entry[v]);
        begin.push_back(o.t.begin[v]);
        end.push_back(o.t.end[v]);
      }
      j["stream_of"] = std::move(stream_of);
      j["order"] = std::move(order);
      j["entry_ns"] = std::move(entry);
      j["begin_ns"] = std::move(begin);
      j["end_ns"] = std::move(end);
      plans.push_back(std::move(j));
    }
    w["plans"] = std::move(plans);
    out_workloads.push_back(std::move(w));
  }

  if (!json_path.empty()) {
    json::value doc = json::object{};
    doc["bench"] = "opara bench_anatomy";
    bench::add_result_header(doc, prop, driver);
    doc["globaltimer_step_ns"] = static_cast<double>(h_steps[0]);
    doc["replays"] = replays;
    doc["workloads"] = std::move(out_workloads);
    std::ofstream f(json_path);
    f << json::write(doc, 1) << "\n";
    if (!f) throw std::runtime_error("cannot write " + json_path);
    std::fprintf(stderr, "bench_anatomy: wrote %s\n", json_path.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_anatomy: %s\n", e.what());
  return 1;
}
