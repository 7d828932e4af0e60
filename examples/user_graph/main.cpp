// An inference engine's own graph type, planned by opara without changing it.
//
// The engine stores its operators in a vector, each with the indices of the operators whose
// outputs it reads (std::vector<int> inputs), as many engines do. opara needs three things,
// given here by one graph_traits specialization: the node count, each node's successors, and
// (optionally) names and predecessors. Then the same graph is planned with two stream policies,
// each plan is printed and written as a Graphviz file.
//
//   example_user_graph [output-dir]      # writes plan_<policy>.dot; view: dot -Tsvg f.dot -o f.svg

#include <opara/opara.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <ranges>
#include <string>
#include <vector>

namespace engine {

// The engine's types: nothing here knows about opara.
struct op {
  std::string kind;         // "conv", "pool", "concat", ...
  std::string label;
  std::vector<int> inputs;  // indices of the ops whose outputs this op reads
};

struct network {
  std::vector<op> ops;  // in execution order

  int add(std::string kind, std::string label, std::vector<int> inputs) {
    ops.push_back({std::move(kind), std::move(label), std::move(inputs)});
    return static_cast<int>(ops.size()) - 1;
  }
};

// Two Inception-style blocks: four parallel branches joined by a concatenation.
network two_inception_blocks() {
  network n;
  int x = n.add("input", "input", {});
  for (int block = 1; block <= 2; ++block) {
    const std::string b = "b" + std::to_string(block) + ".";
    const int c1 = n.add("conv", b + "1x1", {x});
    const int r3 = n.add("conv", b + "3x3_reduce", {x});
    const int c3 = n.add("conv", b + "3x3", {r3});
    const int r5 = n.add("conv", b + "5x5_reduce", {x});
    const int c5 = n.add("conv", b + "5x5", {r5});
    const int p = n.add("pool", b + "pool", {x});
    const int pp = n.add("conv", b + "pool_proj", {p});
    x = n.add("concat", b + "concat", {c1, c3, c5, pp});
  }
  n.add("linear", "classifier", {x});
  return n;
}

} // namespace engine

// The adaptation: the only opara-specific code the engine needs.
template <>
struct opara::graph_traits<engine::network> {
  static std::size_t num_nodes(const engine::network& n) { return n.ops.size(); }

  // The engine records inputs, not consumers: the consumers of v are the later ops that read v.
  // A lazy view, scanned once per node when opara converts the graph (O(n^2) for n ops, fine for
  // hundreds; an engine with thousands of ops would keep consumer lists and return those).
  static auto successors(const engine::network& n, opara::node_id v) {
    return std::views::iota(static_cast<int>(v) + 1, static_cast<int>(n.ops.size())) |
           std::views::filter([&n, v](int u) { return std::ranges::count(n.ops[u].inputs, static_cast<int>(v)) > 0; });
  }
  static const std::vector<int>& predecessors(const engine::network& n, opara::node_id v) { return n.ops[v].inputs; }
  static std::string name(const engine::network& n, opara::node_id v) { return n.ops[v].label; }
};
static_assert(opara::bidirectional_operator_graph<engine::network>);
static_assert(opara::named_operator_graph<engine::network>);

namespace {

void print(const opara::plan& p, const engine::network& net) {
  std::cout << "plan (" << p.stream_policy << ", " << p.order_policy << "): " << p.num_streams << " streams, "
            << p.num_waits() << " cross-stream waits, " << p.pruned_waits << " pruned\n";
  for (opara::node_id v : p.order) {
    std::cout << "  stream " << p.stream_of[v] << "  " << net.ops[v].label;
    const auto waits = p.waits_of(v);
    if (!waits.empty()) {
      const char* sep = "   (waits for ";
      for (opara::node_id w : waits) {
        std::cout << sep << net.ops[w].label << " on stream " << p.stream_of[w];
        sep = ", ";
      }
      std::cout << ')';
    }
    std::cout << '\n';
  }
}

} // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path out_dir = argc > 1 ? argv[1] : ".";
  const auto net = engine::two_inception_blocks();

  // Opara's greedy rule: one stream per branch that can run concurrently.
  const auto greedy = opara::make_plan<opara::streams::opara_greedy>(net);
  // Nimble's minimum path cover, capped at 2 streams, launching the critical path first (from a
  // hand-written profile: convolutions cost more than pooling and concatenation).
  opara::profile prof;
  for (const auto& o : net.ops) {
    opara::operator_record r;
    r.duration_us = o.kind == "conv" ? 20.0 : o.kind == "linear" ? 8.0 : 3.0;
    r.bound = o.kind == "conv" ? opara::boundness::compute : opara::boundness::memory;
    prof.ops.push_back(r);
  }
  const auto capped = opara::make_plan<opara::streams::capped<opara::streams::min_path_cover>,
                                       opara::order::critical_path_first>(net, prof, {}, {.max_streams = 2});

  for (const auto* p : {&greedy, &capped}) {
    opara::validate(*p, net);  // throws opara::invalid_plan if a dependency were not honoured
    print(*p, net);
    std::string file = "plan_";  // "capped<min_path_cover>" -> plan_capped_min_path_cover.dot
    for (char c : p->stream_policy)
      if (c != '>' && c != ' ') file += c == '<' || c == ',' ? '_' : c;
    file += ".dot";
    const auto path = out_dir / file;
    std::ofstream(path) << opara::to_dot(*p, net);
    std::cout << "wrote " << path.string() << "\n\n";
  }
  return 0;
} catch (const opara::error& e) {
  std::cerr << e.what() << '\n';
  return 1;
}
