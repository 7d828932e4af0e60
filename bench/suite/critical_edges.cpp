// Where a plan puts the critical path's edges, for the corpus's traced models, without a GPU:
// each model's graph with the corpus rule's kernels (corpus.hpp; target durations and resources,
// occupancy unknown) planned by scheduler<>'s default and other policies, and for each plan how many
// edges of the critical path (profiled durations plus 0.6 us per dependency) join operators launched
// one after the other on one stream (PDL applies to them: capture::options::programmatic_edges),
// join operators of one stream with others between, or cross streams.
//
// And, per plan, how long its longest path is once each edge carries a latency: `along` us where the
// consumer is launched right after its producer on one stream (PDL's edge; stream order counts as
// such an edge too), `across` us for every other edge (a cross-stream wait, or a wait on one stream
// with others between), over the critical chain alone with `along` on each edge: the share of a
// plan's structure cost (bench_suite's structure / chain) that dependency latency explains.
//
//   bench_critical_edges [--corpus DIR] [--only NAME[,NAME...]]

#include "corpus.hpp"

#include <opara/opara.hpp>

#include "cli.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <string>

namespace {

struct corpus_graph {
  opara::graph g;
  opara::profile p;
};

// The traced model in `file` with the corpus rule's kernels for an H100/H200-class device (132 SMs).
corpus_graph load(const std::filesystem::path& file) {
  const bench::corpus_model m = bench::read_corpus_model(file, 132);
  opara::graph_builder b;
  b.add_nodes(m.ops.size());
  corpus_graph out;
  out.p.limits = {132, 232448, 233472, 65536, 2048, 32};
  out.p.ops.resize(m.ops.size());
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    const bench::node_spec& s = m.ops[i].kernel;
    opara::kernel_record k;
    k.grid = {s.blocks, 1, 1};
    k.block = {s.threads, 1, 1};
    k.dynamic_shared_bytes = s.shared_bytes;
    k.registers_per_thread = static_cast<std::uint32_t>(s.regs);
    k.duration_us = s.target_us;
    out.p.ops[i].kernels = {k};
    out.p.ops[i].duration_us = s.target_us;
    for (const opara::node_id u : m.ops[i].preds) b.add_edge(u, static_cast<opara::node_id>(i));
  }
  out.g = b.build();
  return out;
}

// The plan's longest path (durations plus `along` or `across` per edge, see above).
double latency_path_us(const opara::graph& g, const opara::profile& p, const opara::plan& pl,
                       const std::vector<opara::node_id>& previous, double along, double across) {
  std::vector<double> finish(g.num_nodes(), 0.0);
  for (const opara::node_id v : pl.order) {  // a topological order, stream order included
    double start = 0;
    for (const opara::node_id u : g.predecessors(v)) start = std::max(start, finish[u] + (previous[v] == u ? along : across));
    if (previous[v] != opara::no_node) start = std::max(start, finish[previous[v]] + along);
    finish[v] = start + p.ops[v].duration_us;
  }
  return *std::max_element(finish.begin(), finish.end());
}

// The critical chain alone, `along` us per edge.
double chain_us(const opara::profile& p, const std::vector<opara::node_id>& path, double along) {
  double t = 0;
  for (const opara::node_id v : path) t += p.ops[v].duration_us;
  return t + along * static_cast<double>(path.size() - 1);
}

void report(const char* label, const opara::graph& g, const opara::profile& p, const opara::plan& pl,
            const std::vector<opara::node_id>& path) {
  const std::vector<opara::node_id> previous = opara::detail::previous_on_stream(pl);
  int along = 0, same = 0, across = 0;
  for (std::size_t i = 1; i < path.size(); ++i) {
    const opara::node_id u = path[i - 1], v = path[i];
    if (previous[v] == u) ++along;
    else if (pl.stream_of[u] == pl.stream_of[v]) ++same;
    else ++across;
  }
  std::printf("  %-44s %4u streams: %4d along a stream, %3d on one stream with others between, %3d across streams;",
              label, pl.num_streams, along, same, across);
  std::printf(" longest path over the chain, edges along/across (us):");
  for (const auto [a, x] : {std::pair{0.2, 0.2}, std::pair{0.2, 1.0}, std::pair{0.2, 1.5}})
    std::printf(" %.1f/%.1f %.3f", a, x, latency_path_us(g, p, pl, previous, a, x) / chain_us(p, path, a));
  std::printf("\n");
}

} // namespace

int main(int argc, char** argv) try {
  using namespace opara;
  std::filesystem::path dir = OPARA_BENCH_CORPUS_DIR;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) dir = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else throw std::invalid_argument("usage: bench_critical_edges [--corpus DIR] [--only NAME[,NAME...]]");
  }
  for (const auto& file : bench::corpus_files(dir)) {
    const std::string name = file.stem().string();
    if (!bench::wanted(only, name)) continue;
    const corpus_graph c = load(file);
    std::vector<double> cost(c.g.num_nodes());
    for (std::size_t v = 0; v < cost.size(); ++v) cost[v] = c.p.ops[v].duration_us + gpu_model{}.dependency_us;
    const std::vector<node_id> path = critical_path(c.g, cost).nodes;
    std::printf("%s: %zu operators, critical path %zu\n", name.c_str(), c.g.num_nodes(), path.size());
    report("opara_greedy/critical_path_first (default)", c.g, c.p, make_plan<streams::opara_greedy, order::critical_path_first>(c.g, &c.p), path);
    report("opara_greedy/resource_aware", c.g, c.p, make_plan<streams::opara_greedy, order::resource_aware>(c.g, &c.p), path);
    report("min_path_cover/critical_path_first", c.g, c.p, make_plan<streams::min_path_cover, order::critical_path_first>(c.g, &c.p), path);
    report("model_guided/model_guided", c.g, c.p, make_plan<streams::model_guided, order::model_guided>(c.g, &c.p), path);
    report("sequential/program_order", c.g, c.p, make_plan<streams::sequential, order::program_order>(c.g, &c.p), path);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_critical_edges: %s\n", e.what());
  return 1;
}
