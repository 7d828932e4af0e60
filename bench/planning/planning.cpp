// Planning time and memory: every stream policy x launch order (the model-guided ones included),
// make_plan (order, streams, pruned waits) then validate, and the GPU model's
// predicted_makespan_us on one plan per graph, on GoogLeNet and on 100,000-operator chains, fan-outs, fan-out + join,
// layered graphs and random DAGs with local (each node's inputs among the 64 before it) and
// uniform edges, plus 1,000,000-operator chains and layered graphs; to_dot and to_json once per
// graph. Ids are shuffled where the generator allows it, so id order is not launch order.
//
// Each case runs in a child process (fork) on a graph built by the parent, so its peak resident
// memory (VmHWM, reset through /proc/self/clear_refs before planning; the graph itself is
// included) is its own. Times are the median of `reps` runs, std::chrono::steady_clock.
// Targets (issues 10 and 24, on the 2-core development machine): 100k operators plan + validate
// in <= 150 ms and <= 200 MB for every policy and order, the GPU model in <= 150 ms; 1M-operator
// chains and layered graphs in <= 3 s. The table marks a case that misses its target with "!". A
// case still running after --limit seconds (default 60) is stopped and marked as failed.
//
// --model-only runs the GPU model's rows alone (the default plan under the synthetic profile and
// under a hostile one: largest grid, durations near DBL_MAX, resources at 2^32 - 1). --guided-only
// runs the rows with a model-guided policy (streams::model_guided under every order, every stream
// policy under order::model_guided) and the GPU model's rows.
//
//   bench_planning [--json FILE] [--quick] [--only SUBSTRING] [--limit SECONDS] [--model-only] [--guided-only]

#include <opara/opara.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace opara;

struct row {
  std::string graph, streams, order, what;  // what: "plan+validate" or "to_dot+to_json"
  std::size_t nodes = 0, edges = 0, num_streams = 0, waits = 0, pruned = 0;
  int reps = 0;
  double plan_ms = 0, validate_ms = 0, total_ms = 0, peak_mb = 0;
  double target_ms = 0, target_mb = 0;
  bool ok = true;
};

// What a child reports back through its pipe.
struct result {
  double plan_ms = 0, validate_ms = 0, peak_kb = 0;
  std::size_t num_streams = 0, waits = 0, pruned = 0;
  bool failed = false;
  char message[200] = {};
};

double peak_rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (!std::strncmp(line, "VmHWM:", 6)) kb = std::strtod(line + 6, nullptr);
  std::fclose(f);
  return kb;
}

void reset_peak_rss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);  // resets VmHWM to the current resident size (Linux >= 4.0)
    std::fclose(f);
  }
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

unsigned case_limit_s = 60;  // --limit

// Runs `body` in a child process and returns what it wrote; the child is stopped (SIGALRM) after
// case_limit_s seconds.
result in_child(const std::function<result()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {.failed = true};
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(case_limit_s);
    result r;
    try {
      reset_peak_rss();
      r = body();
      r.peak_kb = peak_rss_kb();
    } catch (const std::exception& e) {
      r.failed = true;
      std::snprintf(r.message, sizeof r.message, "%s", e.what());
    }
    const ssize_t written = write(fds[1], &r, sizeof r);
    _exit(written == static_cast<ssize_t>(sizeof r) ? 0 : 1);
  }
  close(fds[1]);
  result r;
  const ssize_t got = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof r)) {
    r = {};
    r.failed = true;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
      std::snprintf(r.message, sizeof r.message, "stopped after %u s", case_limit_s);
    else
      std::snprintf(r.message, sizeof r.message, "child died (status %d)", status);
  }
  return r;
}

// A profile for the orders that need one: durations and kernels that vary with the node.
profile synthetic_profile(const graph& g, std::uint64_t seed) {
  test::rng_t rng(seed);
  profile p;
  p.limits.sm_count = 132;
  p.limits.max_threads_per_sm = 2048;
  p.limits.shared_bytes_per_block = 232448;
  p.ops.resize(g.num_nodes());
  for (auto& op : p.ops) {
    kernel_record k;
    k.grid = {static_cast<std::uint32_t>(1 + rng() % 256), 1, 1};
    k.block = {static_cast<std::uint32_t>(32 * (1 + rng() % 8)), 1, 1};
    k.dynamic_shared_bytes = rng() % 2 ? static_cast<std::uint32_t>(rng() % 4 * 16384) : 0;
    k.duration_us = static_cast<double>(1 + rng() % 100);
    k.occupancy = 0.5;
    op.duration_us = k.duration_us;
    op.kernels.push_back(k);
  }
  return p;
}

struct input {
  std::string name;
  graph g;
  profile prof;
  int reps;
  double target_ms, target_mb;
};

template <class S, class O>
row run_case(const input& in, S s, O o) {
  const result r = in_child([&] {
    result out;
    std::vector<double> plan_t, validate_t;
    plan p;
    for (int i = 0; i < in.reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      p = make_plan(in.g, &in.prof, {}, s, o);
      plan_t.push_back(ms_since(t0));
      const auto t1 = std::chrono::steady_clock::now();
      validate(p, in.g);
      validate_t.push_back(ms_since(t1));
    }
    out.plan_ms = median(plan_t);
    out.validate_ms = median(validate_t);
    out.num_streams = p.num_streams;
    out.waits = p.num_waits();
    out.pruned = p.pruned_waits;
    return out;
  });
  row w;
  w.graph = in.name;
  w.streams = policy_label(s);
  w.order = policy_label(o);
  w.what = "plan+validate";
  w.nodes = in.g.num_nodes();
  w.edges = in.g.num_edges();
  w.reps = in.reps;
  w.plan_ms = r.plan_ms;
  w.validate_ms = r.validate_ms;
  w.total_ms = r.plan_ms + r.validate_ms;
  w.peak_mb = r.peak_kb / 1024;
  w.num_streams = r.num_streams;
  w.waits = r.waits;
  w.pruned = r.pruned;
  w.target_ms = in.target_ms;
  w.target_mb = in.target_mb;
  w.ok = !r.failed && w.total_ms <= in.target_ms && w.peak_mb <= in.target_mb;
  if (r.failed) std::fprintf(stderr, "bench_planning: %s %s/%s failed: %s\n", in.name.c_str(), w.streams.c_str(), w.order.c_str(), r.message);
  return w;
}

row run_export(const input& in) {
  const result r = in_child([&] {
    result out;
    const plan p = make_plan(in.g);
    std::vector<double> t;
    for (int i = 0; i < in.reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::string dot = to_dot(p, in.g);
      const std::string json = to_json(p, in.g);
      t.push_back(ms_since(t0));
      if (dot.empty() || json.empty()) throw error("empty export");
    }
    out.plan_ms = median(t);
    out.num_streams = p.num_streams;
    out.waits = p.num_waits();
    return out;
  });
  row w;
  w.graph = in.name;
  w.streams = "opara_greedy";
  w.order = "program_order";
  w.what = "to_dot+to_json";
  w.nodes = in.g.num_nodes();
  w.edges = in.g.num_edges();
  w.reps = in.reps;
  w.total_ms = r.plan_ms;
  w.peak_mb = r.peak_kb / 1024;
  w.num_streams = r.num_streams;
  w.waits = r.waits;
  w.ok = !r.failed;
  return w;
}

// The synthetic profile with hostile numbers (issue 24): CUDA's largest grid, durations near
// DBL_MAX, resources and device limits at 2^32 - 1. The model's cost must not grow with them.
profile hostile_profile(profile p) {
  constexpr std::uint32_t u32 = 0xffffffffu;
  p.limits = {p.limits.sm_count == 0 ? 0 : u32, u32, u32, u32, u32, 0};
  std::size_t i = 0;
  for (auto& op : p.ops)
    for (auto& k : op.kernels) {
      k.grid = {2147483647u, 65535u, 65535u};
      k.registers_per_thread = ++i % 3 ? u32 : 0;
      k.dynamic_shared_bytes = u32;
      k.duration_us = i % 2 ? 1e308 : k.duration_us;
    }
  return p;
}

// The GPU model alone: predicted_makespan_us (which validates the plan) of the default plan
// (opara_greedy, program order: the widest placement) under the synthetic profile, or under its
// hostile version.
row run_model(const input& in, bool hostile) {
  const profile prof = hostile ? hostile_profile(in.prof) : profile{};
  const result r = in_child([&] {
    result out;
    const plan p = make_plan(in.g);
    std::vector<double> t;
    double us = 0;
    for (int i = 0; i < in.reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      us = predicted_makespan_us(in.g, p, hostile ? prof : in.prof);
      t.push_back(ms_since(t0));
    }
    if (!(us > 0) || !std::isfinite(us)) throw error("predicted_makespan_us gave " + std::to_string(us));
    out.plan_ms = median(t);
    out.num_streams = p.num_streams;
    out.waits = p.num_waits();
    return out;
  });
  row w;
  w.graph = in.name;
  w.streams = "opara_greedy";
  w.order = "program_order";
  w.what = hostile ? "predicted_makespan_us (hostile profile)" : "predicted_makespan_us";
  w.nodes = in.g.num_nodes();
  w.edges = in.g.num_edges();
  w.reps = in.reps;
  w.plan_ms = r.plan_ms;
  w.total_ms = r.plan_ms;
  w.peak_mb = r.peak_kb / 1024;
  w.num_streams = r.num_streams;
  w.waits = r.waits;
  w.target_ms = in.target_ms;
  w.target_mb = in.target_mb;
  w.ok = !r.failed && w.total_ms <= in.target_ms && w.peak_mb <= in.target_mb;
  if (r.failed) std::fprintf(stderr, "bench_planning: %s gpu model failed: %s\n", in.name.c_str(), r.message);
  return w;
}

void print_row(const row& r) {
  const bool model = r.what.starts_with("predicted_makespan_us");  // the GPU model on the default plan
  const bool hostile = r.what.ends_with("(hostile profile)");
  std::printf("%-22s %8zu %8zu  %-28s %-20s %9.1f %9.1f %9.1f %8.1f %8zu %8zu %s\n", r.graph.c_str(), r.nodes, r.edges,
              model ? "predicted_makespan_us" : r.streams.c_str(),
              model ? (hostile ? "(hostile profile)" : "(default plan)") : r.order.c_str(),
              r.plan_ms, r.validate_ms, r.total_ms, r.peak_mb, r.num_streams, r.waits, r.ok ? "" : "!");
  std::fflush(stdout);
}

bool guided_only = false;  // --guided-only

template <class O>
void every_stream_policy(const input& in, O o, std::vector<row>& rows) {
  auto add = [&](row r) {
    print_row(r);
    rows.push_back(std::move(r));
  };
  if (guided_only && !std::is_same_v<O, order::model_guided>) {
    add(run_case(in, streams::model_guided{}, o));
    return;
  }
  add(run_case(in, streams::sequential{}, o));
  add(run_case(in, streams::opara_greedy{}, o));
  add(run_case(in, streams::min_path_cover{}, o));
  add(run_case(in, streams::round_robin{.streams = 4}, o));
  add(run_case(in, streams::capped<streams::opara_greedy>{{}, 8}, o));
  add(run_case(in, streams::model_guided{}, o));  // the profile make_plan is given
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  std::string json_path, only;
  bool quick = false, model_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--model-only")) model_only = true;
    else if (!std::strcmp(argv[i], "--guided-only")) guided_only = true;
    else if (!std::strcmp(argv[i], "--limit") && i + 1 < argc) case_limit_s = static_cast<unsigned>(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr,
                   "usage: %s [--json FILE] [--quick] [--only SUBSTRING] [--limit SECONDS] [--model-only] [--guided-only]\n",
                   argv[0]);
      return 2;
    }
  }
  constexpr double target_100k_ms = 150, target_100k_mb = 200, target_1m_ms = 3000, target_1m_mb = 1e9;
  constexpr double no_target = 1e9;
  struct spec {
    std::string name;
    std::function<graph(test::rng_t&)> make;
    int reps;
    double target_ms, target_mb;
  };
  const std::size_t k100 = 100000, m1 = 1000000;
  std::vector<spec> specs = {
      {"googlenet", [](test::rng_t&) { return test::googlenet(); }, 201, no_target, no_target},
      {"chain-100k", [&](test::rng_t&) { return test::chain(k100); }, 5, target_100k_ms, target_100k_mb},
      {"fan-out-100k", [&](test::rng_t&) { return test::fan_out(k100); }, 5, target_100k_ms, target_100k_mb},
      {"fan-out-join-100k", [&](test::rng_t&) { return test::fan_out(k100, true); }, 5, target_100k_ms, target_100k_mb},
      {"layered-100k", [&](test::rng_t& r) { return test::layered(r, 4000, 50, 2, 0.05, true); }, 5, target_100k_ms,
       target_100k_mb},
      {"random-local-100k", [&](test::rng_t& r) { return test::random_dag(r, k100, 2, 64, true); }, 5, target_100k_ms,
       target_100k_mb},
      {"random-uniform-100k", [&](test::rng_t& r) { return test::random_dag(r, k100, 2, 0, true); }, 5, target_100k_ms,
       target_100k_mb},
      {"chain-1M", [&](test::rng_t&) { return test::chain(m1); }, 1, target_1m_ms, target_1m_mb},
      {"layered-1M", [&](test::rng_t& r) { return test::layered(r, 40000, 50, 2, 0.05, true); }, 1, target_1m_ms,
       target_1m_mb},
  };

  std::printf("%-22s %8s %8s  %-28s %-20s %9s %9s %9s %8s %8s %8s\n", "graph", "nodes", "edges", "streams", "order",
              "plan ms", "valid ms", "total ms", "peak MB", "streams", "waits");
  std::vector<row> rows;
  for (const auto& sp : specs) {
    if (!only.empty() && sp.name.find(only) == std::string::npos) continue;
    test::rng_t rng(42);
    input in{sp.name, sp.make(rng), {}, quick ? std::max(1, sp.reps / 5) : sp.reps, sp.target_ms, sp.target_mb};
    in.prof = synthetic_profile(in.g, 7);
    if (!model_only) {
      every_stream_policy(in, order::program_order{}, rows);
      every_stream_policy(in, order::critical_path_first{}, rows);
      every_stream_policy(in, order::resource_aware{}, rows);
      every_stream_policy(in, order::model_guided{}, rows);
    }
    for (bool hostile : {false, true}) {
      row model = run_model(in, hostile);
      print_row(model);
      rows.push_back(std::move(model));
    }
    if (model_only || guided_only) continue;
    row ex = run_export(in);
    std::printf("%-22s %8zu %8zu  %-49s %29.1f %8.1f\n", ex.graph.c_str(), ex.nodes, ex.edges, "to_dot + to_json",
                ex.total_ms, ex.peak_mb);
    rows.push_back(std::move(ex));
  }
  const auto missed = std::count_if(rows.begin(), rows.end(), [](const row& r) { return !r.ok; });
  std::printf("%zu cases, %ld missed their target\n", rows.size(), static_cast<long>(missed));

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) {
      std::fprintf(stderr, "bench_planning: cannot write %s\n", json_path.c_str());
      return 1;
    }
    out << "{\n  \"benchmark\": \"planning\",\n  \"unit\": \"ms\",\n  \"clock\": \"steady_clock\",\n"
        << "  \"memory\": \"peak resident set (VmHWM) of a child process per case, graph included, MB\",\n"
        << "  \"targets\": {\"100k_total_ms\": " << target_100k_ms << ", \"100k_peak_mb\": " << target_100k_mb
        << ", \"1M_total_ms\": " << target_1m_ms << "},\n  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      out << "    {\"graph\": \"" << json_escape(r.graph) << "\", \"what\": \"" << r.what << "\", \"nodes\": " << r.nodes
          << ", \"edges\": " << r.edges << ", \"streams_policy\": \"" << json_escape(r.streams)
          << "\", \"order_policy\": \"" << json_escape(r.order) << "\", \"plan_ms\": " << r.plan_ms
          << ", \"validate_ms\": " << r.validate_ms << ", \"total_ms\": " << r.total_ms
          << ", \"peak_mb\": " << r.peak_mb << ", \"reps\": " << r.reps << ", \"streams\": " << r.num_streams
          << ", \"waits\": " << r.waits << ", \"pruned_waits\": " << r.pruned
          << ", \"meets_target\": " << (r.ok ? "true" : "false") << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    out << "  ]\n}\n";
  }
  return 0;
}
