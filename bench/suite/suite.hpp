#pragma once
// The bench suite's engine: for one workload, every mode (single-stream launches, sequential CUDA
// Graph, multi-stream eager, and a CUDA Graph per stream allocation x launch order x capture
// policy), its replay times against the lower bound (the larger of the critical path and the work
// bound, opara/profile/bounds.hpp), what the GPU model (opara/gpu_model/model.hpp) predicted for
// each plan, and autotune's choice.

#include <opara/cuda.hpp>
#include <opara/detail/json.hpp>
#include <opara/opara.hpp>
#include <opara/cuda/tune/autotune.hpp>
#include <opara/cuda/tune/measure.hpp>

#include "floors.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

namespace bench {

namespace json = opara::detail::json;

// Which modes a workload is measured in.
enum class mode_set {
  all,     // every stream policy x launch order x capture policy, the model's policies, autotune
  quick,   // the baselines, Opara's policies (scheduler<>'s default), the model's policies, autotune
  corpus,  // sequential graph, the default, the model's policies and five others (no eager)
};

struct suite_options {
  opara::tune::timing_options timing{20, 200, false};
  mode_set modes = mode_set::all;
  // Measure the device floors of floors.hpp (critical chain, skeletons) into the bound; task_graph
  // workloads only (others keep the profile bound).
  bool floors = true;
  // Also measure the model's placement rule under fixed stream caps (earliest_start, below).
  bool sweep = false;
  bool segments_sweep = false;  // the default scheduler in launch segments of several counts and growths
  // When set: enqueues about a millisecond of GPU work on the stream it is given, and every mode
  // (and every floor) is also timed queued behind it (floors.hpp's time_queued: the GPU's own
  // time, the host's launch call hidden), with a bound of its own.
  std::function<void(cudaStream_t)> busy;
  // Every mode's replays (timing.replays, isolated and queued) are taken in this many rounds; each
  // round goes through all of a workload's modes in turn (time_interleaved). 1: each mode's replays
  // in one go (still after every mode is compiled), which left modes exposed to the machine's slow
  // episodes one by one.
  int rounds = 5;
  // The GPU model the model-guided modes plan with and every mode's prediction uses.
  opara::gpu_model model{};
  // When set, every graph mode's plan and time is kept here, for fit_model.
  struct model_samples* samples = nullptr;
};

// Plans with their measured times, per workload: what fit_model fits the GPU model's costs to.
struct model_samples {
  struct measured_plan {
    opara::plan p;
    double median_us = 0;
    bool programmatic = false;  // PDL along stream order (stream_dependency_us applies)
  };
  struct workload {
    std::string name;
    opara::graph g;
    opara::profile prof;
    std::vector<measured_plan> plans;
  };
  std::vector<workload> workloads;
};

// Fits the GPU model's costs to measured plans: coordinate descent over a grid of each cost,
// minimising the mean |log(predicted / measured)|. Prints the fit and each workload's error.
inline opara::gpu_model fit_model(const model_samples& data, opara::gpu_model start) {
  using opara::gpu_model;
  auto error_of = [&](const gpu_model& m, std::vector<double>* per_workload) {
    double total = 0;
    std::size_t count = 0;
    for (const auto& w : data.workloads) {
      double sum = 0;
      for (const auto& mp : w.plans) {
        gpu_model used = m;
        if (!mp.programmatic) used.stream_dependency_us = -1;
        sum += std::abs(std::log(opara::predicted_makespan_us(w.g, mp.p, w.prof, used) / mp.median_us));
      }
      if (per_workload) per_workload->push_back(w.plans.empty() ? 0.0 : sum / static_cast<double>(w.plans.size()));
      total += sum;
      count += w.plans.size();
    }
    return count ? total / static_cast<double>(count) : 0.0;
  };
  const std::vector<double> launch{0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8};
  const std::vector<double> dependency{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8};
  const std::vector<double> along{0, 0.05, 0.1, 0.2, 0.3, 0.4};
  const std::vector<double> wait{0, 0.05, 0.1, 0.15, 0.2, 0.3};
  const std::vector<double> submit{0, 2, 4, 6, 8};
  if (start.stream_dependency_us < 0) start.stream_dependency_us = start.dependency_us;
  std::vector<double> before;
  const double initial = error_of(start, &before);
  gpu_model best = start;
  double best_error = initial;
  for (int round = 0; round < 3; ++round)
    for (auto [grid, field] : {std::pair{&launch, &gpu_model::launch_us}, std::pair{&dependency, &gpu_model::dependency_us},
                               std::pair{&along, &gpu_model::stream_dependency_us}, std::pair{&wait, &gpu_model::wait_us},
                               std::pair{&submit, &gpu_model::submit_us}})
      for (double value : *grid) {
        gpu_model m = best;
        m.*field = value;
        if (const double e = error_of(m, nullptr); e < best_error - 1e-9) {
          best_error = e;
          best = m;
        }
      }
  std::vector<double> after;
  (void)error_of(best, &after);
  std::printf("\n== GPU model fitted to %zu workloads' measured plans: launch_us %.2f, dependency_us %.2f, "
              "stream_dependency_us %.2f, wait_us %.2f, submit_us %.1f\n",
              data.workloads.size(), best.launch_us, best.dependency_us, best.stream_dependency_us, best.wait_us,
              best.submit_us);
  std::printf("mean |log(predicted / measured)|: %.3f with the fit, %.3f with the costs it started from\n", best_error,
              initial);
  std::printf("fitted-model %.2f,%.2f,%.2f,%.2f,%.1f   (bench_suite --model)\n", best.launch_us, best.dependency_us,
              best.stream_dependency_us, best.wait_us, best.submit_us);
  for (std::size_t i = 0; i < data.workloads.size(); ++i)
    std::printf("  %-20s %3zu plans: %.3f (was %.3f)\n", data.workloads[i].name.c_str(), data.workloads[i].plans.size(),
                after[i], before[i]);
  return best;
}

// The model's placement rule (opara::detail::place_earliest_start: each operator, in launch order,
// to the stream where the profile says it starts earliest) under a fixed stream cap: how the
// number of streams alone changes a schedule.
struct earliest_start {
  static constexpr std::string_view name = "earliest_start";
  std::uint32_t cap = 32;
  opara::gpu_model model{};
  [[nodiscard]] std::string label() const { return std::string(name) + "[" + std::to_string(cap) + "]"; }
  [[nodiscard]] opara::stream_assignment assign(const opara::graph& g, std::span<const opara::node_id> order,
                                                const opara::profile* p) const {
    std::vector<double> cost(g.num_nodes(), 1.0);
    if (p)
      for (std::size_t v = 0; v < cost.size(); ++v) cost[v] = p->ops[v].duration_us;
    return opara::detail::place_earliest_start(g, order, cost, cap, model.dependency_us, model.stream_latency_us());
  }
  [[nodiscard]] opara::stream_assignment assign(const opara::graph& g, std::span<const opara::node_id> order) const {
    return assign(g, order, nullptr);
  }
};

// An experiment on wide fan-outs: critical_path_first, then the successors of every node with at
// least min_width of them launched in the reverse of that order (in the positions they held; a
// fan-out whose reversal would break the topological order keeps its order). bench_anatomy saw
// the H100 enter 128 or more siblings in the reverse of their capture order, so critical-path-first's
// longest siblings started last: do they start first so?
struct reversed_fanouts {
  static constexpr bool needs_profile = true;
  static constexpr std::string_view name = "reversed_fanouts";
  std::size_t min_width = 64;
  [[nodiscard]] std::string label() const { return std::string(name) + "[" + std::to_string(min_width) + "]"; }
  [[nodiscard]] std::vector<opara::node_id> order(const opara::graph& g, const opara::profile* p) const {
    std::vector<opara::node_id> o = opara::order::critical_path_first{}.order(g, p);
    std::vector<std::size_t> position(g.num_nodes());
    for (std::size_t i = 0; i < o.size(); ++i) position[o[i]] = i;
    for (opara::node_id v = 0; v < g.num_nodes(); ++v) {
      const auto succ = g.successors(v);
      if (succ.size() < min_width) continue;
      std::vector<opara::node_id> group(succ.begin(), succ.end());
      std::sort(group.begin(), group.end(), [&](opara::node_id a, opara::node_id b) { return position[a] < position[b]; });
      std::vector<std::size_t> slots;
      for (const opara::node_id w : group) slots.push_back(position[w]);
      const std::vector<opara::node_id> before = o;
      for (std::size_t k = 0; k < group.size(); ++k) o[slots[k]] = group[group.size() - 1 - k];
      if (!opara::is_topological_order(g, o)) {
        o = before;
        continue;
      }
      for (std::size_t k = 0; k < group.size(); ++k) position[o[slots[k]]] = slots[k];
    }
    return o;
  }
};

// One measured mode of one workload.
struct mode_result {
  std::string mode;        // "single-stream", "sequential graph", "multi-stream eager" or "graph"
  std::string label;       // policies: streams/order/capture
  opara::tune::timing_summary t;
  double predicted_us = 0;  // the GPU model's makespan for the plan (opara::predicted_makespan_us)
  std::uint32_t streams = 0;
  std::size_t waits = 0, pruned = 0;
  double plan_ms = 0, capture_ms = 0, instantiate_ms = 0;
  std::size_t segments = 0;    // CUDA graphs per replay (capture::options::launch_segments; 0: eager)
  long long device_bytes = 0;  // device memory the compiled executable took (cudaMemGetInfo delta)
  double skeleton_us = 0;      // fastest replay of the plan's skeleton (floors.hpp; 0: not measured)
  opara::tune::timing_summary queued;  // replays queued behind GPU work (suite_options::busy; 0: not measured)
  double skeleton_queued_us = 0;       // fastest queued replay of the plan's skeleton
  // The plan's structure (floors.hpp): the same plan with only the critical chain's kernels doing
  // work; fastest isolated and queued replays (0: not measured).
  double structure_us = 0, structure_queued_us = 0;
  // The isolated and queued medians of each round of time_interleaved: does an executable's time
  // move with the round (drift) or stay with the executable?
  std::vector<double> round_medians_us, round_queued_medians_us;
  // The fastest round's isolated median (0: not timed in rounds): the mode in the machine's quiet
  // rounds. Isolated replays slow down in episodes that last seconds and hit every mode timed then
  // (host-side: the queued medians stay put), while the bound's floors are fastest replays.
  [[nodiscard]] double best_round_us() const {
    return round_medians_us.empty() ? 0.0 : *std::min_element(round_medians_us.begin(), round_medians_us.end());
  }
};

struct workload_result {
  std::string name, description;
  std::size_t nodes = 0, edges = 0;
  double critical_path_us = 0, work_bound_us = 0, sum_us = 0, profile_ms = 0;
  // The lower bound a mode is measured against: the largest of the critical chain measured alone
  // (chain), the least skeleton floor of the measured plans and the work without edges (work;
  // floors.hpp); the profile bound (plain_bound_us: opara::lower_bound_us, max(critical path, work
  // bound)) only where none was measured (see run_workload).
  double bound_us = 0, plain_bound_us = 0;
  // The same for queued replays: max(chain queued, least skeleton queued, work queued).
  double queued_bound_us = 0, skeleton_queued_floor_us = 0;
  chain_floor chain{};
  double skeleton_floor_us = 0;
  std::string skeleton_floor_of;  // the plan whose skeleton was fastest
  work_floor work{};              // the operators without edges (floors.hpp)
  // The least structure (floors.hpp) of a measured plan, isolated and queued, and its plan: not in
  // the bound (a floor for those plans only), it splits a plan's gap to the chain into what its
  // shape costs and what sharing the GPU costs.
  double structure_floor_us = 0, structure_queued_floor_us = 0;
  std::string structure_floor_of;
  double autotune_setup_ms = 0;   // profile + autotune's compile (its report's total)
  [[nodiscard]] double over_bound(const mode_result& m) const { return bound_us > 0 ? m.t.median_us / bound_us : 0.0; }
  // The same for the mode's fastest round (mode_result::best_round_us).
  [[nodiscard]] double best_round_over_bound(const mode_result& m) const {
    return bound_us > 0 ? m.best_round_us() / bound_us : 0.0;
  }
  // The mode whose fastest round is the fastest (nullptr when none was timed in rounds).
  [[nodiscard]] const mode_result* best_in_a_round() const {
    const mode_result* b = nullptr;
    for (const auto& m : modes)
      if (m.best_round_us() > 0 && (!b || m.best_round_us() < b->best_round_us())) b = &m;
    return b;
  }
  [[nodiscard]] double queued_over_bound(const mode_result& m) const {
    return queued_bound_us > 0 && m.queued.samples ? m.queued.median_us / queued_bound_us : 0.0;
  }
  // The mode fastest when queued (nullptr when nothing was timed queued).
  [[nodiscard]] const mode_result* best_queued() const {
    const mode_result* b = nullptr;
    for (const auto& m : modes)
      if (m.queued.samples && (!b || m.queued.median_us < b->queued.median_us)) b = &m;
    return b;
  }
  std::string profile_source;
  std::vector<mode_result> modes;
  std::string autotune_choice;
  double autotune_us = 0;
  [[nodiscard]] const mode_result* find(const std::string& mode) const {
    for (const auto& m : modes)
      if (m.mode == mode) return &m;
    return nullptr;
  }
  // The fastest mode named `mode` (several model_guided captures, say), or nullptr.
  [[nodiscard]] const mode_result* fastest(const std::string& mode) const {
    const mode_result* b = nullptr;
    for (const auto& m : modes)
      if (m.mode == mode && (!b || m.t.median_us < b->t.median_us)) b = &m;
    return b;
  }
  [[nodiscard]] const mode_result* best() const {
    const mode_result* b = nullptr;
    for (const auto& m : modes)
      if (!b || m.t.median_us < b->t.median_us) b = &m;
    return b;
  }
};

// Times every mode's executable (modes[i] by exes[i]): o.timing.warmup replays each first, then
// o.rounds rounds, each going through all the modes in turn and taking about replays / rounds
// isolated replays of each (after 2 more warm-up replays), then as many queued (suite_options::busy;
// graphs only). A mode's times are its samples from all the rounds. The GPU machine drifts over a
// workload's minutes: measured one after the other, isolated medians of one plan moved by 5-30%
// between neighbouring measurements (H100, e73517f: EfficientNet-B0's default 1.08, 1.17 and 1.03x
// the bound; layered8x125's 1.03, 1.09 and 1.37x), so the modes are compared over the same time.
inline void time_interleaved(std::vector<mode_result>& modes, const std::vector<opara::executable>& exes, cudaStream_t s,
                             const suite_options& o) {
  using namespace opara;
  tune::check_timing_options(o.timing);
  if (o.rounds < 1) throw std::invalid_argument("bench_suite: rounds must be at least 1 (got " + std::to_string(o.rounds) + ")");
  const tune::replay_sampler isolated(s, tune::replay_mode::isolated, 1, o.timing.flush_l2);
  std::optional<queued_sampler> queued;
  if (o.busy) queued.emplace(s, o.busy);
  std::vector<std::vector<double>> times(modes.size()), queued_times(modes.size());
  for (const auto& e : exes) isolated.warm_up(e, o.timing.warmup);
  for (int round = 0; round < o.rounds; ++round) {
    // Rounds share the replays out; the first rounds take the remainder.
    const int count = o.timing.replays / o.rounds + (round < o.timing.replays % o.rounds ? 1 : 0);
    if (count == 0) continue;
    for (std::size_t i = 0; i < modes.size(); ++i) {
      isolated.warm_up(exes[i], 2);
      const std::vector<double> t = isolated.sample(exes[i], count);
      times[i].insert(times[i].end(), t.begin(), t.end());
      modes[i].round_medians_us.push_back(tune::summarize(t).median_us);
    }
    if (queued)
      for (std::size_t i = 0; i < modes.size(); ++i)
        if (exes[i].is_graph()) {
          isolated.warm_up(exes[i], 2);
          std::vector<double> t;
          queued->sample(exes[i], count, t);
          modes[i].round_queued_medians_us.push_back(tune::summarize(t).median_us);
          queued_times[i].insert(queued_times[i].end(), t.begin(), t.end());
        }
  }
  for (std::size_t i = 0; i < modes.size(); ++i) {
    modes[i].t = tune::summarize(std::move(times[i]));
    if (!queued_times[i].empty()) modes[i].queued = tune::summarize(std::move(queued_times[i]));
  }
}

template <class... T, class F>
void for_each_type(F&& f) {
  (f.template operator()<T>(), ...);
}

// One workload's run, in the steps run_workload (below) takes in order: profile the graph, measure
// the floors, compile every mode (the baselines, opara's captures, the model's policies, the
// corpus's graphs, the sweeps, every policy), measure the floors again, add autotune's pick, time
// every mode together, and set the bounds. Each mode's executable is kept until every mode is
// compiled and timed together (time_interleaved).
template <class G>
class workload_run {
public:
  workload_run(const std::string& name, const std::string& description, const G& g, cudaStream_t s,
               const suite_options& o)
      : g_(g), s_(s), o_(o), floors_(has_floors && o.floors), cg_(opara::to_graph(g)), model_(o.model) {
    r_.name = name;
    r_.description = description;
    r_.nodes = cg_.num_nodes();
    r_.edges = cg_.num_edges();
  }

  // The profile every mode is planned from, the profile's bounds, and the model's samples entry.
  void profile_graph() {
    using namespace opara;
    const auto t0 = std::chrono::steady_clock::now();
    profiler::options profiler_settings;
    profiler_settings.iterations = 5;
    prof_ = cuda::profile_graph(g_, s_, profiler_settings);
    r_.profile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r_.profile_source = prof_.source;
    std::vector<double> cost;
    for (const auto& op : prof_.ops) {
      cost.push_back(op.duration_us);
      r_.sum_us += op.duration_us;
    }
    r_.critical_path_us = critical_path(cg_, cost).length;
    r_.work_bound_us = work_bound_us(prof_);
    r_.plain_bound_us = lower_bound_us(cg_, prof_);
    // The model plans and predicts with suite_options::model (gpu_model's defaults unless given).
    if (o_.samples && has_floors) {
      o_.samples->workloads.push_back({r_.name, cg_, prof_, {}});
      samples_ = &o_.samples->workloads.back();
    }
  }

  // The critical chain and the work without edges (floors.hpp), and the skeleton and structure
  // graphs every mode's plan is recaptured on; task_graph workloads only.
  void measure_floors() {
    if constexpr (has_floors)
      if (floors_) {
        skel_.emplace(g_, prof_);
        r_.chain = measure_critical_chain(g_, prof_, s_, o_.timing, model_.dependency_us, o_.busy);
        r_.work = measure_work_floor(g_, s_, o_.timing, o_.busy);
        std::vector<bool> on_chain(cg_.num_nodes(), false);
        for (const opara::node_id v : r_.chain.path) on_chain[v] = true;
        structure_.emplace(g_, prof_, on_chain);
      }
    std::fprintf(stderr, "%s: %zu operators, %zu edges, critical path %.1f us, work bound %.1f us, sum %.1f us\n",
                 r_.name.c_str(), r_.nodes, r_.edges, r_.critical_path_us, r_.work_bound_us, r_.sum_us);
  }

  // Single-stream launches, the sequential graphs (without PDL, then with) and multi-stream eager.
  void measure_baselines() {
    using namespace opara;
    if (o_.modes != mode_set::corpus) {
      measure("single-stream", scheduler<streams::sequential, order::program_order, capture::eager>{});
    }
    {  // the peers' baseline: one stream, one graph, no PDL (a PyTorch CUDA graph); then with PDL
      scheduler<streams::sequential, order::program_order, capture::stream_capture> seq{};
      seq.options.capture.programmatic = false;
      seq.options.capture.launch_segments = 1;
      seq.options.capture.shared_carveout = -1;  // each kernel's own, as PyTorch captures them
      measure("sequential graph", seq);
      measure("sequential+pdl", scheduler<streams::sequential, order::program_order, capture::stream_capture>{});
    }
    if (o_.modes != mode_set::corpus)
      measure("multi-stream eager", scheduler<streams::opara_greedy, order::program_order, capture::eager>{});
  }

  // Opara's policies as the paper runs them (no PDL), then scheduler<>'s default (opara_greedy,
  // critical_path_first, PDL along stream order), with PDL on every edge, and with priorities, its
  // own carveouts, one graph and four segments.
  void measure_opara_captures() {
    using namespace opara;
    scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture> paper{};
    paper.options.capture.programmatic = false;
    paper.options.capture.launch_segments = 1;  // Opara captures one graph
    paper.options.capture.shared_carveout = -1;
    measure("opara (paper)", paper);
    scheduler<> def{};
    measure("default", def);
    // A second executable of the same plan, compiled right after it: with "default (again)" below,
    // a check that modes timed in rounds agree (e73517f, timed one after the other, had them apart
    // by up to 0.14 of the bound on traced models).
    measure("default (repeat)", def);
    scheduler<> every{};  // PDL on every eligible edge, not only along each stream (the rule before)
    every.options.capture.programmatic_edges = capture::programmatic_scope::all;
    measure("pdl all edges", every);
    def.options.capture.priorities = true;
    measure("priorities", def);
    def.options.capture.priorities = false;
    def.options.capture.shared_carveout = -1;  // each kernel's own (the default is one for all, 100)
    measure("own carveout", def);
    def.options.capture.shared_carveout = 100;
    def.options.capture.launch_segments = 1;  // one graph: the host's whole launch call before the GPU starts
    measure("one graph", def);
    def.options.capture.launch_segments = 4;
    measure("segments", def);
  }

  // The model-guided policies (the stream policy reads the profile the plan is made with): stream
  // capture, an explicit graph, and stream capture with priorities.
  void measure_model_guided() {
    using namespace opara;
    measure_model_guided<capture::stream_capture>(false);
    measure_model_guided<capture::explicit_graph>(false);
    measure_model_guided<capture::stream_capture>(true);
  }

  // mode_set::corpus's five other graphs.
  void measure_corpus_graphs() {
    using namespace opara;
    if (o_.modes != mode_set::corpus) return;
    measure("graph", scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture>{});
    measure("graph", scheduler<streams::min_path_cover, order::critical_path_first, capture::explicit_graph>{});
    scheduler<streams::capped<streams::opara_greedy>, order::critical_path_first, capture::explicit_graph> capped8{};
    capped8.streams.max_streams = 8;
    measure("graph", capped8);
    capped8.streams.max_streams = 2;  // fewest forks: does a plan's structure cost less with fewer streams?
    measure("graph", capped8);
    measure("reversed fan-outs", scheduler<streams::opara_greedy, reversed_fanouts, capture::stream_capture>{});
    scheduler<streams::round_robin, order::program_order, capture::explicit_graph> rr4{};
    rr4.streams.streams = 4;
    measure("graph", rr4);
  }

  // scheduler<>'s default once more, then the sweeps asked for (suite_options::segments_sweep, ::sweep).
  void measure_again_and_sweeps() {
    using namespace opara;
    // scheduler<>'s default once more, after the others: its first median, taken early in the
    // workload's modes, was the run's outlier in several corpus runs (H100: GoogLeNet 1.34x the bound
    // with the same plan's other captures at 1.16-1.18x, RegNet 1.32x once), while its queued time
    // agreed with its neighbours'. With "default (repeat)" it showed the outliers were drift over
    // time, not the position (e73517f: a repeat or the last one was the outlier as often), hence
    // time_interleaved; the three stay as a check of it.
    measure("default (again)", scheduler<>{});
    if (o_.segments_sweep)
      for (const auto& [count, growth] : {std::pair{2, 8.0}, {3, 3.0}, {3, 5.0}, {4, 3.0}, {4, 5.0}, {6, 3.0}, {8, 2.0}}) {
        scheduler<> sched{};
        sched.options.capture.launch_segments = count;
        sched.options.capture.segment_growth = growth;
        measure("segments sweep", sched);
      }
    if (o_.sweep)
      for (std::uint32_t cap : {8u, 16u, 24u, 32u, 48u, 64u, 96u, 128u, 256u}) {
        scheduler<earliest_start, order::critical_path_first, capture::stream_capture> sched{};
        sched.streams.cap = cap;
        sched.streams.model = model_;
        measure("sweep", sched);
      }
  }

  // mode_set::all: every stream policy x launch order x capture policy.
  void measure_every_policy() {
    using namespace opara;
    if (o_.modes != mode_set::all) return;
    auto per_stream_policy = [&](const auto& streams_policy) {
      using S = std::remove_cvref_t<decltype(streams_policy)>;
      for_each_type<order::program_order, order::resource_aware, order::critical_path_first>([&]<class O>() {
        for_each_type<capture::stream_capture, capture::explicit_graph>([&]<class C>() {
          scheduler<S, O, C> sched{};
          sched.streams = streams_policy;
          measure("graph", sched);
        });
      });
    };
    per_stream_policy(streams::opara_greedy{});
    per_stream_policy(streams::min_path_cover{});
    for (std::uint32_t n : {2u, 4u, 8u}) {
      streams::round_robin rr{};
      rr.streams = n;
      per_stream_policy(rr);
    }
    for (std::uint32_t n : {4u, 8u}) {
      streams::capped<streams::opara_greedy> c{};
      c.max_streams = n;
      per_stream_policy(c);
    }
  }

  // The chain and work floors measured again after the modes: of the two, the faster. Isolated
  // replays slow down in episodes of seconds (time_interleaved), and a floor must not be taken at
  // the slow end: at 975af60 GoogLeNet's work floor, measured once, came out at 117 us against
  // 73-77 in the other runs, and became the bound.
  void remeasure_floors() {
    if constexpr (has_floors)
      if (floors_) {
        const chain_floor after = measure_critical_chain(g_, prof_, s_, o_.timing, model_.dependency_us, o_.busy);
        const double queued = after.queued_us > 0 ? std::min(r_.chain.queued_us, after.queued_us) : r_.chain.queued_us;
        if (after.us < r_.chain.us) r_.chain = after;
        r_.chain.queued_us = queued;
        const work_floor work_after = measure_work_floor(g_, s_, o_.timing, o_.busy);
        const double work_queued = r_.work.queued_us > 0 && work_after.queued_us > 0
                                       ? std::min(r_.work.queued_us, work_after.queued_us)
                                       : work_after.queued_us;
        if (work_after.us < r_.work.us) r_.work = work_after;
        r_.work.queued_us = work_queued;
        std::fprintf(stderr, "  work without edges %.1f us (queued %.1f, %u streams)\n", r_.work.us, r_.work.queued_us,
                     r_.work.streams);
        std::fprintf(stderr, "  critical chain measured %.1f us (%zu ops, profiled %.1f us, %s)\n", r_.chain.us,
                     r_.chain.operators, r_.chain.profiled_us, r_.chain.capture.c_str());
      }
  }

  // autotune's pick joins the modes, with the skeleton of its plan (recaptured by the winning
  // candidate's capture policy with its options).
  void add_autotune() {
    using namespace opara;
    opara::autotune tuner;
    tuner.options.timing = o_.timing;
    autotune_report rep;
    executable best = tuner.compile(g_, s_, prof_, &rep);
    r_.autotune_choice = rep.label;
    r_.autotune_setup_ms = r_.profile_ms + rep.total_ms;
    mode_result m = described("autotune", rep.label, best);
    // The winning candidate's own capture policy and options, as autotune captured it.
    time_floors(m, [&](const cuda::task_graph& floor) {
      std::optional<executable> captured;
      tuner.with_candidate(rep.choice, [&](const auto& candidate) {
        captured = candidate.capture.capture(floor, best.plan(), s_, candidate.options.capture);
      });
      if (!captured) throw std::runtime_error("bench_suite: autotune's choice " + rep.label + " is not among its candidates");
      return std::move(*captured);
    });
    r_.modes.push_back(std::move(m));
    exes_.push_back(std::move(best));
  }

  // Every mode timed together (time_interleaved); the timed plans go to the model's samples.
  void time_modes() {
    time_interleaved(r_.modes, exes_, s_, o_);
    r_.autotune_us = r_.modes.back().t.median_us;
    for (const auto& [index, programmatic] : sampled_)
      samples_->plans.push_back({exes_[index].plan(), r_.modes[index].t.median_us, programmatic});
    for (const auto& m : r_.modes)
      std::fprintf(stderr, "  %-20s %-58s %9.1f us (queued %.1f; model %.1f, skeleton %.1f, structure %.1f)\n", m.mode.c_str(),
                   m.label.c_str(), m.t.median_us, m.queued.median_us, m.predicted_us, m.skeleton_us, m.structure_us);
    std::fprintf(stderr, "  autotune chose %s (set-up %.0f ms with the profile)\n", r_.autotune_choice.c_str(),
                 r_.autotune_setup_ms);
  }

  // The bound: the measured critical chain and the least skeleton of a measured plan; the least
  // structure alongside.
  void set_bounds() {
    workload_result& r = r_;
    for (const auto& m : r.modes)
      if (m.skeleton_us > 0 && (r.skeleton_floor_us == 0 || m.skeleton_us < r.skeleton_floor_us)) {
        r.skeleton_floor_us = m.skeleton_us;
        r.skeleton_floor_of = m.mode + " " + m.label;
      }
    // Measured floors only: the profile's bound sums CUPTI durations, and each short kernel's carries
    // about 0.8 us that a graph overlaps (bench_anatomy: GoogLeNet's critical path, 126 us of CUPTI
    // durations, runs 57 us in a graph, plus 61 us of waits), so it is no floor; it stays a reference
    // (plain_bound_us) and the bound of workloads without measured floors.
    const double measured_floor = std::max({r.chain.us, r.skeleton_floor_us, r.work.us});
    r.bound_us = measured_floor > 0 ? measured_floor : r.plain_bound_us;
    for (const auto& m : r.modes)
      if (m.skeleton_queued_us > 0 && (r.skeleton_queued_floor_us == 0 || m.skeleton_queued_us < r.skeleton_queued_floor_us))
        r.skeleton_queued_floor_us = m.skeleton_queued_us;
    if (o_.busy) r.queued_bound_us = std::max({r.chain.queued_us, r.skeleton_queued_floor_us, r.work.queued_us});
    for (const auto& m : r.modes) {
      if (m.structure_us > 0 && (r.structure_floor_us == 0 || m.structure_us < r.structure_floor_us)) {
        r.structure_floor_us = m.structure_us;
        r.structure_floor_of = m.mode + " " + m.label;
      }
      keep_least_queued(r.structure_queued_floor_us, m.structure_queued_us);
    }
  }

  [[nodiscard]] workload_result take_result() { return std::move(r_); }

private:
  static constexpr bool has_floors = std::same_as<G, opara::cuda::task_graph>;

  // A plan's skeleton and structure floors, with the scheduler (or capture) `compile` that made it.
  template <class Compile>
  void time_floors(mode_result& m, const Compile& compile) const {
    if (skel_) {
      const fastest_replays t = time_fastest(compile(skel_->graph()), s_, o_.timing, o_.busy);
      m.skeleton_us = t.us;
      m.skeleton_queued_us = t.queued_us;
    }
    if (structure_) {
      const fastest_replays t = time_fastest(compile(structure_->graph()), s_, o_.timing, o_.busy);
      m.structure_us = t.us;
      m.structure_queued_us = t.queued_us;
    }
  }

  // A compiled executable's prediction and build statistics (its times come later).
  [[nodiscard]] mode_result described(const std::string& mode, const std::string& label, const opara::executable& exe) const {
    mode_result m;
    m.mode = mode;
    m.label = label;
    m.predicted_us = opara::predicted_makespan_us(cg_, exe.plan(), prof_, model_);
    m.streams = exe.plan().num_streams;
    m.waits = exe.plan().num_waits();
    m.pruned = exe.plan().pruned_waits;
    m.plan_ms = exe.stats().plan_ms;
    m.capture_ms = exe.stats().capture_ms;
    m.instantiate_ms = exe.stats().instantiate_ms;
    m.segments = exe.stats().segments;
    return m;
  }

  // Compiles one mode from the profile, with the device memory it took and its floors; kept for
  // time_modes, and for the model's samples when it builds a graph (programmatic along stream order).
  template <class Scheduler>
  void measure(const std::string& mode, const Scheduler& sched) {
    using namespace opara;
    OPARA_CUDA_CHECK(cudaDeviceSynchronize());
    std::size_t free0 = 0, free1 = 0, total = 0;
    OPARA_CUDA_CHECK(cudaMemGetInfo(&free0, &total));
    executable exe = sched.compile(g_, s_, prof_);
    OPARA_CUDA_CHECK(cudaDeviceSynchronize());
    OPARA_CUDA_CHECK(cudaMemGetInfo(&free1, &total));
    mode_result m = described(mode, sched.label(), exe);
    m.device_bytes = static_cast<long long>(free0) - static_cast<long long>(free1);
    constexpr bool builds_graph = !std::same_as<std::remove_cvref_t<decltype(sched.capture)>, capture::eager>;
    if (samples_ && builds_graph)
      sampled_.emplace_back(r_.modes.size(), sched.options.capture.programmatic &&
                                                 sched.options.capture.programmatic_edges == capture::programmatic_scope::stream_order);
    // The same scheduler (same options) on the skeleton and the structure, planned from the same
    // profile: the same plan.
    if (builds_graph) time_floors(m, [&](const cuda::task_graph& floor) { return sched.compile(floor, s_, prof_); });
    r_.modes.push_back(std::move(m));
    exes_.push_back(std::move(exe));
  }

  template <class C>
  void measure_model_guided(bool priorities) {
    using namespace opara;
    scheduler<streams::model_guided, order::model_guided, C> sched{};
    sched.streams.options.gpu = model_;
    sched.order.options.gpu = model_;
    sched.options.capture.priorities = priorities;
    measure(priorities ? "priorities" : "model_guided", sched);
  }

  const G& g_;
  cudaStream_t s_;
  const suite_options& o_;
  const bool floors_;
  const opara::graph cg_;
  const opara::gpu_model model_;
  opara::profile prof_;
  model_samples::workload* samples_ = nullptr;
  std::optional<skeleton> skel_, structure_;
  std::vector<opara::executable> exes_;
  std::vector<std::pair<std::size_t, bool>> sampled_;  // (mode index, programmatic along stream order)
  workload_result r_;
};

template <class G>
workload_result run_workload(const std::string& name, const std::string& description, const G& g, cudaStream_t s,
                             const suite_options& o) {
  workload_run<G> run(name, description, g, s, o);
  run.profile_graph();
  run.measure_floors();
  run.measure_baselines();
  run.measure_opara_captures();
  run.measure_model_guided();
  run.measure_corpus_graphs();
  run.measure_again_and_sweeps();
  run.measure_every_policy();
  run.remeasure_floors();
  run.add_autotune();
  run.time_modes();
  run.set_bounds();
  return run.take_result();
}

// Does a schedule's replay time depend on the instance? Compiles `instances` executables of each of
// a few schedulers from one profile and times every instance in two rounds (all instances, then
// all again), so that a spread between instances can be told from drift over time.
template <class G>
void instance_spread(const std::string& name, const G& g, cudaStream_t s, const suite_options& o, int instances) {
  using namespace opara;
  profiler::options profiler_settings;
  profiler_settings.iterations = 5;
  const profile prof = cuda::profile_graph(g, s, profiler_settings);
  std::printf("\n== %s: %d instances per schedule, median of %d replays, two rounds\n", name.c_str(), instances,
              o.timing.replays);
  auto spread = [&](const auto& sched) {
    std::vector<executable> exes;
    for (int i = 0; i < instances; ++i) exes.push_back(sched.compile(g, s, prof));
    std::vector<double> first, second;
    for (auto& e : exes) first.push_back(tune::time_replays(e, s, o.timing).median_us);
    for (auto& e : exes) second.push_back(tune::time_replays(e, s, o.timing).median_us);
    std::printf("%-56s", sched.label().c_str());
    for (std::size_t i = 0; i < exes.size(); ++i) std::printf(" %7.1f/%-7.1f", first[i], second[i]);
    std::printf("\n");
  };
  spread(scheduler<streams::opara_greedy, order::resource_aware, capture::stream_capture>{});
  spread(scheduler<streams::min_path_cover, order::critical_path_first, capture::stream_capture>{});
  spread(scheduler<streams::min_path_cover, order::critical_path_first, capture::explicit_graph>{});
  spread(scheduler<streams::sequential, order::program_order, capture::stream_capture>{});
}

inline json::value to_json(const workload_result& r) {
  json::value w = json::object{};
  w["name"] = r.name;
  w["description"] = r.description;
  w["nodes"] = r.nodes;
  w["edges"] = r.edges;
  w["critical_path_us"] = r.critical_path_us;
  w["work_bound_us"] = r.work_bound_us;
  w["bound_us"] = r.bound_us;
  w["plain_bound_us"] = r.plain_bound_us;
  w["critical_chain_us"] = r.chain.us;
  w["critical_chain_operators"] = r.chain.operators;
  w["critical_chain_profiled_us"] = r.chain.profiled_us;
  w["critical_chain_pdl"] = r.chain.programmatic;
  w["critical_chain_variant"] = r.chain.capture;
  w["skeleton_floor_us"] = r.skeleton_floor_us;
  w["work_floor_us"] = r.work.us;
  w["work_floor_queued_us"] = r.work.queued_us;
  w["work_floor_streams"] = r.work.streams;
  w["queued_bound_us"] = r.queued_bound_us;
  w["critical_chain_queued_us"] = r.chain.queued_us;
  w["skeleton_queued_floor_us"] = r.skeleton_queued_floor_us;
  if (const auto* b = r.best_queued()) {
    w["best_queued_over_bound"] = r.queued_over_bound(*b);
    w["best_queued_mode"] = b->mode + " " + b->label;
  }
  if (const auto* d = r.find("default"); d && d->queued.samples) w["default_queued_over_bound"] = r.queued_over_bound(*d);
  w["skeleton_floor_of"] = r.skeleton_floor_of;
  w["structure_floor_us"] = r.structure_floor_us;
  w["structure_floor_of"] = r.structure_floor_of;
  w["structure_queued_floor_us"] = r.structure_queued_floor_us;
  w["sum_of_operators_us"] = r.sum_us;
  w["profile_source"] = r.profile_source;
  w["profile_ms"] = r.profile_ms;
  // The three ratios the suite is judged by: the fastest mode, scheduler<>'s default (Opara's
  // policies) and the model-guided policies (their faster capture), each over the bound.
  if (const auto* b = r.best()) w["best_over_bound"] = r.over_bound(*b);
  if (const auto* d = r.find("default")) w["default_over_bound"] = r.over_bound(*d);
  if (const auto* d = r.find("default (again)")) w["default_again_over_bound"] = r.over_bound(*d);
  if (const auto* d = r.find("default (repeat)")) w["default_repeat_over_bound"] = r.over_bound(*d);
  if (const auto* p = r.find("opara (paper)")) w["opara_paper_over_bound"] = r.over_bound(*p);
  if (const auto* m = r.fastest("model_guided")) w["model_guided_over_bound"] = r.over_bound(*m);
  if (const auto* b = r.best_in_a_round()) {
    w["best_round_over_bound"] = r.best_round_over_bound(*b);
    w["best_round_mode"] = b->mode + " " + b->label;
  }
  if (const auto* d = r.find("default")) w["default_best_round_over_bound"] = r.best_round_over_bound(*d);
  if (const auto* d = r.find("default (again)")) w["default_again_best_round_over_bound"] = r.best_round_over_bound(*d);
  w["autotune_choice"] = r.autotune_choice;
  w["autotune_median_us"] = r.autotune_us;
  w["autotune_setup_ms"] = r.autotune_setup_ms;
  json::array modes;
  for (const auto& m : r.modes) {
    json::value j = json::object{};
    j["mode"] = m.mode;
    j["policies"] = m.label;
    j["median_us"] = m.t.median_us;
    j["predicted_us"] = m.predicted_us;
    j["min_us"] = m.t.min_us;
    j["p90_us"] = m.t.p90_us;
    j["replays"] = m.t.samples;
    j["achieved_over_bound"] = r.over_bound(m);
    j["streams"] = m.streams;
    j["waits"] = m.waits;
    j["pruned_waits"] = m.pruned;
    j["plan_ms"] = m.plan_ms;
    j["capture_ms"] = m.capture_ms;
    j["instantiate_ms"] = m.instantiate_ms;
    j["segments"] = m.segments;
    j["device_bytes"] = m.device_bytes;
    j["skeleton_us"] = m.skeleton_us;
    j["structure_us"] = m.structure_us;
    json::array rounds, queued_rounds;
    for (const double v : m.round_medians_us) rounds.push_back(v);
    for (const double v : m.round_queued_medians_us) queued_rounds.push_back(v);
    j["round_medians_us"] = std::move(rounds);
    j["best_round_us"] = m.best_round_us();
    if (!m.round_queued_medians_us.empty()) j["round_queued_medians_us"] = std::move(queued_rounds);
    if (m.queued.samples) {
      j["queued_median_us"] = m.queued.median_us;
      j["queued_min_us"] = m.queued.min_us;
      j["queued_over_bound"] = r.queued_over_bound(m);
      j["skeleton_queued_us"] = m.skeleton_queued_us;
      j["structure_queued_us"] = m.structure_queued_us;
    }
    modes.push_back(std::move(j));
  }
  w["modes"] = std::move(modes);
  return w;
}

inline void print_workload(const workload_result& r) {
  std::printf("\n== %s (%s): %zu ops, critical path %.1f us, work bound %.1f us, sum of ops %.1f us\n",
              r.name.c_str(), r.description.c_str(), r.nodes, r.critical_path_us, r.work_bound_us, r.sum_us);
  std::printf("bound %.1f us = max(critical chain measured %.1f (%zu ops, profiled %.1f, %s), least skeleton %.1f (%s), "
              "work without edges %.1f (%u streams)); profile bound %.1f (a reference)\n",
              r.bound_us, r.chain.us, r.chain.operators, r.chain.profiled_us, r.chain.capture.c_str(),
              r.skeleton_floor_us, r.skeleton_floor_of.c_str(), r.work.us, r.work.streams, r.plain_bound_us);
  if (r.queued_bound_us > 0)
    std::printf("queued bound %.1f us = max(critical chain queued %.1f, least skeleton queued %.1f, work queued %.1f)\n",
                r.queued_bound_us, r.chain.queued_us, r.skeleton_queued_floor_us, r.work.queued_us);
  if (r.structure_floor_us > 0)
    std::printf("structure (chain real, the rest empty; not in the bound): least %.1f us (%s), queued %.1f\n",
                r.structure_floor_us, r.structure_floor_of.c_str(), r.structure_queued_floor_us);
  std::printf("%-18s %-64s %9s %9s %9s %9s %9s %9s %7s %9s %9s %9s %7s %4s %5s %8s %8s\n", "mode", "policies", "median", "min",
              "p90", "model", "skeleton", "structure", "/bound", "queued", "q skel", "q struct", "q/bound", "str", "waits",
              "plan ms", "inst ms");
  for (const auto& m : r.modes)
    std::printf("%-18s %-64s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %7.2f %9.1f %9.1f %9.1f %7.2f %4u %5zu %8.2f %8.2f\n",
                m.mode.c_str(), m.label.c_str(), m.t.median_us, m.t.min_us, m.t.p90_us, m.predicted_us, m.skeleton_us,
                m.structure_us, r.over_bound(m), m.queued.median_us, m.skeleton_queued_us, m.structure_queued_us,
                r.queued_over_bound(m), m.streams, m.waits, m.plan_ms, m.instantiate_ms);
  std::printf("autotune set-up %.0f ms (profile included)\n", r.autotune_setup_ms);
}

} // namespace bench
