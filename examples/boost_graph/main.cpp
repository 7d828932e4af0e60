// A Boost.Graph model planned as is: include <opara/graph/boost.hpp> and any
// boost::adjacency_list<..., vecS, bidirectionalS or directedS, ...> is an operator_graph whose
// node ids are the vertex indices. A bundled vertex property with a `name` member names the nodes.
//
//   example_boost_graph [output-dir]     # writes boost_plan.dot

#include <opara/graph/boost.hpp>
#include <opara/opara.hpp>

#include <boost/graph/adjacency_list.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

struct layer {
  std::string name;
  double gflops = 0;
};

using model = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, layer>;

int main(int argc, char** argv) try {
  const std::filesystem::path out_dir = argc > 1 ? argv[1] : ".";

  // A small residual network: stem, then two blocks whose main path and shortcut run side by side.
  model m;
  auto add = [&](std::string name, double gflops) { return boost::add_vertex(layer{std::move(name), gflops}, m); };
  const auto stem = add("stem", 0.1);
  auto x = stem;
  for (int b = 1; b <= 2; ++b) {
    const std::string p = "block" + std::to_string(b) + ".";
    const auto c1 = add(p + "conv_a", 1.2);
    const auto c2 = add(p + "conv_b", 1.2);
    const auto sc = add(p + "shortcut", 0.2);
    const auto sum = add(p + "add", 0.01);
    boost::add_edge(x, c1, m);
    boost::add_edge(c1, c2, m);
    boost::add_edge(x, sc, m);
    boost::add_edge(c2, sum, m);
    boost::add_edge(sc, sum, m);
    x = sum;
  }
  boost::add_edge(x, add("head", 0.05), m);

  // Durations for critical_path_first, here from the model's own cost estimate.
  opara::profile prof;
  for (auto v : boost::make_iterator_range(boost::vertices(m))) {
    opara::operator_record r;
    r.duration_us = m[v].gflops * 10;
    prof.ops.push_back(r);
  }

  const auto plan = opara::make_plan<opara::streams::min_path_cover, opara::order::critical_path_first>(m, prof);
  opara::validate(plan, m);

  std::cout << "boost::adjacency_list with " << boost::num_vertices(m) << " vertices, " << boost::num_edges(m)
            << " edges -> " << plan.num_streams << " streams, " << plan.num_waits() << " waits ("
            << plan.stream_policy << ", " << plan.order_policy << ")\n";
  for (opara::node_id v : plan.order) std::cout << "  stream " << plan.stream_of[v] << "  " << m[v].name << '\n';
  std::vector<double> cost(prof.ops.size());
  for (std::size_t v = 0; v < cost.size(); ++v) cost[v] = prof.ops[v].duration_us;
  const auto cp = opara::critical_path(m, cost);
  std::cout << "critical path: " << cp.length << " us:";
  for (opara::node_id v : cp.nodes) std::cout << ' ' << m[v].name;
  std::cout << '\n';

  const auto path = out_dir / "boost_plan.dot";
  std::ofstream(path) << opara::to_dot(plan, m);
  std::cout << "wrote " << path.string() << '\n';
  return 0;
} catch (const opara::error& e) {
  std::cerr << e.what() << '\n';
  return 1;
}
