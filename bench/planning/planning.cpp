// How long make_plan takes per stream policy (launch order: program_order, pruned waits), for
// GoogLeNet's fused operator graph and random DAGs of 100, 1,000 and 10,000 operators (each node
// takes 0..4 inputs among the 64 operators before it, the locality of real networks; ids
// shuffled), plus a layered 10,000-operator graph with long skip connections (a harder case for
// wait pruning). Median of repeated runs, std::chrono::steady_clock.
//
//   bench_planning [--json FILE] [--quick]

#include <opara/opara.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct row {
  std::string graph, policy;
  std::size_t nodes = 0, edges = 0, streams = 0, waits = 0, pruned = 0;
  int reps = 0;
  double median_us = 0, min_us = 0;
};

template <class S>
row measure(const std::string& name, const opara::graph& g, int reps, S s = {}) {
  std::vector<double> t;
  opara::plan p;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    p = opara::make_plan(g, nullptr, {}, s);
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  row r;
  r.graph = name;
  r.policy = std::string(S::name);
  if constexpr (std::same_as<S, opara::streams::round_robin>) r.policy += " " + std::to_string(s.streams);
  if constexpr (requires { s.max_streams; }) r.policy += " " + std::to_string(s.max_streams);
  r.nodes = g.num_nodes();
  r.edges = g.num_edges();
  r.streams = p.num_streams;
  r.waits = p.num_waits();
  r.pruned = p.pruned_waits;
  r.reps = reps;
  r.median_us = t[t.size() / 2];
  r.min_us = t.front();
  return r;
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
  std::string json_path;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick]\n", argv[0]);
      return 2;
    }
  }
  using namespace opara;
  struct input {
    std::string name;
    graph g;
    int reps;
  };
  test::rng_t rng(42);
  std::vector<input> inputs;
  inputs.push_back({"googlenet", test::googlenet(), 2001});
  inputs.push_back({"random-100", test::random_dag(rng, 100, 2, 64, true), 2001});
  inputs.push_back({"random-1000", test::random_dag(rng, 1000, 2, 64, true), 301});
  inputs.push_back({"random-10000", test::random_dag(rng, 10000, 2, 64, true), 31});
  inputs.push_back({"layered-10000", test::layered(rng, 500, 40, 2, 0.1), 31});
  std::vector<row> rows;
  for (auto& in : inputs) {
    const int reps = quick ? std::max(3, in.reps / 20) : in.reps;
    (void)make_plan(in.g);  // warm-up
    rows.push_back(measure<streams::sequential>(in.name, in.g, reps));
    rows.push_back(measure<streams::opara_greedy>(in.name, in.g, reps));
    rows.push_back(measure<streams::min_path_cover>(in.name, in.g, reps));
    rows.push_back(measure(in.name, in.g, reps, streams::round_robin{.streams = 4}));
    rows.push_back(measure(in.name, in.g, reps, streams::capped<streams::opara_greedy>{{}, 8}));
  }

  std::printf("%-14s %7s %7s  %-24s %12s %9s %8s %8s\n", "graph", "nodes", "edges", "policy", "median", "streams",
              "waits", "pruned");
  for (const auto& r : rows) {
    char t[32];
    if (r.median_us < 1000) std::snprintf(t, sizeof t, "%.1f us", r.median_us);
    else std::snprintf(t, sizeof t, "%.2f ms", r.median_us / 1000);
    std::printf("%-14s %7zu %7zu  %-24s %12s %9zu %8zu %8zu\n", r.graph.c_str(), r.nodes, r.edges, r.policy.c_str(), t,
                r.streams, r.waits, r.pruned);
  }

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) {
      std::fprintf(stderr, "bench_planning: cannot write %s\n", json_path.c_str());
      return 1;
    }
    out << "{\n  \"benchmark\": \"planning\",\n  \"unit\": \"us\",\n  \"clock\": \"steady_clock\",\n  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      out << "    {\"graph\": \"" << json_escape(r.graph) << "\", \"nodes\": " << r.nodes << ", \"edges\": " << r.edges
          << ", \"policy\": \"" << json_escape(r.policy) << "\", \"median_us\": " << r.median_us
          << ", \"min_us\": " << r.min_us << ", \"reps\": " << r.reps << ", \"streams\": " << r.streams
          << ", \"waits\": " << r.waits << ", \"pruned_waits\": " << r.pruned << "}"
          << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    out << "  ]\n}\n";
  }
  return 0;
}
