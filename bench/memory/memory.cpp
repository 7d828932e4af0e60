// Memory planning on 100,000-operator graphs (issue 21's target: the race check and arena planning
// <= 100 ms each on the 2-core development machine). Every operator writes one buffer that its
// successors read (roots read a pinned input; sinks write pinned outputs), 1..64 KiB each.
// Per graph shape and stream policy (program order):
//   check   memory_of + memory_orderings + check_memory of a race-free plan on the engine's
//           sequential arena (every ordering proven, the worst case for the check)
//   plan    make_plan with the memory's orderings, over make_plan without (the cost of item 3)
//   arena   plan_arena of the parallel plan (item 4), and arena_lower_bound
// and the arena sizes: no reuse / sequential plan's arena / this plan's arena / lower bound.
// Times are the median of `reps` runs of std::chrono::steady_clock; a case over target is marked "!".
//
//   bench_memory [--json FILE] [--only SUBSTRING]

#include <opara/memory/arena.hpp>
#include <opara/memory/hazards.hpp>
#include <opara/memory/map.hpp>
#include <opara/opara.hpp>

#include "support/dags.hpp"
#include "support/googlenet.hpp"
#include "support/tensors.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace opara;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <class F>
double median_ms(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(ms_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Inception blocks stacked to n operators: a DNN's shape at a large scale.
graph inception_stack(std::size_t n) {
  graph_builder b;
  std::vector<node_id> cur = {b.add_node("stem")};
  for (std::size_t i = 0; b.num_nodes() + 7 <= n; ++i) cur = test::detail::inception(b, "block" + std::to_string(i), cur);
  return b.build();
}

// The engine's tensors on g, with buffers of 1..64 KiB.
test::tensor_dag engine_tensors(const graph& g, std::uint64_t seed) {
  test::rng_t rng(seed);
  test::tensor_dag t = test::tensors_on(g, rng, 64);
  for (auto& b : t.bytes) b *= 1024;
  return t;
}

struct row {
  std::string graph, streams;
  std::size_t nodes = 0, buffers = 0, orderings = 0, plan_streams = 0, conflicts = 0, unshared = 0;
  double check_ms = 0, plan_ms = 0, plain_plan_ms = 0, arena_ms = 0, bound_ms = 0;
  std::uint64_t no_reuse = 0, sequential = 0, parallel = 0, lower_bound = 0;
  bool ok = true;
};

template <class S>
row run(const std::string& name, const graph& g, const test::tensor_dag& t, S s, int reps, double target_ms) {
  row r;
  r.graph = name;
  r.streams = policy_label(s);
  r.nodes = g.num_nodes();
  const memory_map m = memory_of(t);
  r.buffers = m.num_buffers();
  for (const buffer_info& b : m.buffers)
    if (!b.pinned) r.no_reuse += b.bytes;
  // The engine's own arena: the sequential plan's, as opara would place it.
  const plan seq = make_plan<streams::sequential>(g, m);
  const arena seq_arena = plan_arena(seq, g, m);
  r.sequential = seq_arena.bytes;
  test::arena_dag engine{t};
  engine.offset = seq_arena.offset;
  for (std::size_t b = 0; b < engine.offset.size(); ++b)
    if (engine.pinned[b]) engine.offset[b] = 0;
  const memory_map placed = memory_of(engine);
  // Item 3: the plan honours the engine's arena.
  plan p;
  r.plan_ms = median_ms(reps, [&] { p = make_plan(g, placed, nullptr, {}, s); });
  r.plain_plan_ms = median_ms(reps, [&] { (void)make_plan(g, nullptr, {}, s); });
  r.orderings = p.memory_orderings;
  // Item 2: the race check, conversion included.
  r.check_ms = median_ms(reps, [&] { check_memory(p, g, memory_of(engine)); });
  // Item 4: opara's arena for the parallel plan (made on the tensors alone) and its lower bound.
  const plan q = make_plan(g, m, nullptr, {}, s);
  r.plan_streams = q.num_streams;
  arena a;
  r.arena_ms = median_ms(reps, [&] { a = plan_arena(q, g, m); });
  r.parallel = a.bytes;
  r.conflicts = a.conflicts;
  r.unshared = a.unshared;
  r.bound_ms = median_ms(reps, [&] { r.lower_bound = arena_lower_bound(q, g, m); });
  r.ok = r.check_ms <= target_ms && r.arena_ms <= target_ms;
  return r;
}

} // namespace

int main(int argc, char** argv) {
  std::string json_path, only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--only SUBSTRING]\n", argv[0]);
      return 2;
    }
  }
  constexpr double target_ms = 100;
  const std::size_t k100 = 100000;
  struct spec {
    std::string name;
    std::function<graph(test::rng_t&)> make;
  };
  const std::vector<spec> specs = {
      {"googlenet", [](test::rng_t&) { return test::googlenet(); }},
      {"inception-stack-100k", [&](test::rng_t&) { return inception_stack(k100); }},
      {"chain-100k", [&](test::rng_t&) { return test::chain(k100); }},
      {"fan-out-join-100k", [&](test::rng_t&) { return test::fan_out(k100, true); }},
      {"layered-100k", [&](test::rng_t& r) { return test::layered(r, 4000, 50, 2, 0.05, true); }},
      {"random-local-100k", [&](test::rng_t& r) { return test::random_dag(r, k100, 2, 64, true); }},
  };
  std::printf("%-22s %7s %-26s %7s %8s %8s %8s %8s %8s %8s %10s %10s %10s %10s %9s %8s\n", "graph", "nodes", "streams",
              "plan st", "orderings", "check ms", "plan ms", "(plain)", "arena ms", "bound ms", "no reuse", "seq arena",
              "par arena", "lower bnd", "conflicts", "unshared");
  std::vector<row> rows;
  for (const spec& sp : specs) {
    if (!only.empty() && sp.name.find(only) == std::string::npos) continue;
    test::rng_t rng(42);
    const graph g = sp.make(rng);
    const test::tensor_dag t = engine_tensors(g, 7);
    const int reps = g.num_nodes() < 1000 ? 51 : 5;
    auto add = [&](row r) {
      std::printf("%-22s %7zu %-26s %7zu %8zu %8.1f %8.1f %8.1f %8.1f %8.1f %10llu %10llu %10llu %10llu %9zu %8zu %s\n",
                  r.graph.c_str(), r.nodes, r.streams.c_str(), r.plan_streams, r.orderings, r.check_ms, r.plan_ms,
                  r.plain_plan_ms, r.arena_ms, r.bound_ms, static_cast<unsigned long long>(r.no_reuse),
                  static_cast<unsigned long long>(r.sequential), static_cast<unsigned long long>(r.parallel),
                  static_cast<unsigned long long>(r.lower_bound), r.conflicts, r.unshared, r.ok ? "" : "!");
      std::fflush(stdout);
      rows.push_back(std::move(r));
    };
    add(run(sp.name, g, t, streams::opara_greedy{}, reps, target_ms));
    add(run(sp.name, g, t, streams::min_path_cover{}, reps, target_ms));
    add(run(sp.name, g, t, streams::round_robin{.streams = 4}, reps, target_ms));
    add(run(sp.name, g, t, streams::capped<streams::opara_greedy>{{}, 8}, reps, target_ms));
  }
  const auto missed = std::count_if(rows.begin(), rows.end(), [](const row& r) { return !r.ok; });
  std::printf("%zu cases, %ld missed the %g ms target\n", rows.size(), static_cast<long>(missed), target_ms);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) {
      std::fprintf(stderr, "bench_memory: cannot write %s\n", json_path.c_str());
      return 1;
    }
    out << "{\n  \"benchmark\": \"memory\",\n  \"unit\": \"ms, bytes\",\n  \"clock\": \"steady_clock\",\n"
        << "  \"target_ms\": " << target_ms << ",\n  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const row& r = rows[i];
      out << "    {\"graph\": \"" << r.graph << "\", \"streams_policy\": \"" << r.streams << "\", \"nodes\": " << r.nodes
          << ", \"buffers\": " << r.buffers << ", \"plan_streams\": " << r.plan_streams << ", \"memory_orderings\": " << r.orderings
          << ", \"check_ms\": " << r.check_ms << ", \"plan_with_orderings_ms\": " << r.plan_ms
          << ", \"plan_without_ms\": " << r.plain_plan_ms << ", \"plan_arena_ms\": " << r.arena_ms
          << ", \"lower_bound_ms\": " << r.bound_ms << ", \"no_reuse_bytes\": " << r.no_reuse
          << ", \"sequential_arena_bytes\": " << r.sequential << ", \"parallel_arena_bytes\": " << r.parallel
          << ", \"lower_bound_bytes\": " << r.lower_bound << ", \"conflict_pairs\": " << r.conflicts
          << ", \"unshared_buffers\": " << r.unshared << ", \"meets_target\": " << (r.ok ? "true" : "false") << "}"
          << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    out << "  ]\n}\n";
  }
  return missed == 0 ? 0 : 3;
}
