// Boost.Graph adjacency_list models used as is (include/opara/graph/boost.hpp).
#include <doctest/doctest.h>

#ifdef OPARA_TEST_HAS_BOOST

#include <opara/graph/boost.hpp>
#include <opara/opara.hpp>

#include <boost/graph/adjacency_list.hpp>

#include <string>
#include <vector>

namespace {

struct op_props {
  std::string name;
  int flops = 0;
};
struct edge_props {
  double bytes = 0;
};

using bidir = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, op_props, edge_props>;
using directed = boost::adjacency_list<boost::setS, boost::vecS, boost::directedS>;
using listed = boost::adjacency_list<boost::listS, boost::vecS, boost::bidirectionalS, boost::no_property,
                                     boost::property<boost::edge_weight_t, int>>;

static_assert(opara::operator_graph<bidir>);
static_assert(opara::bidirectional_operator_graph<bidir>);
static_assert(opara::named_operator_graph<bidir>);
static_assert(opara::operator_graph<directed>);
static_assert(!opara::bidirectional_operator_graph<directed>);
static_assert(!opara::named_operator_graph<directed>);
static_assert(opara::bidirectional_operator_graph<listed>);

// An inception-like block: input -> four branches -> concat.
template <class G>
G inception() {
  G g(7);
  boost::add_edge(0, 1, g);
  boost::add_edge(0, 2, g);
  boost::add_edge(0, 3, g);
  boost::add_edge(0, 4, g);
  boost::add_edge(2, 5, g);
  boost::add_edge(1, 6, g);
  boost::add_edge(5, 6, g);
  boost::add_edge(3, 6, g);
  boost::add_edge(4, 6, g);
  return g;
}

} // namespace

TEST_CASE("boost_adapter.bidirectional_graph_with_bundled_names_plans_as_is") {
  auto g = inception<bidir>();
  const char* names[] = {"input", "1x1", "3x3_reduce", "5x5", "pool", "3x3", "concat"};
  for (int v = 0; v < 7; ++v) g[v].name = names[v];
  CHECK(opara::node_name(g, 5) == "3x3");
  std::vector<opara::node_id> pred;
  for (auto u : opara::graph_traits<bidir>::predecessors(g, 6)) pred.push_back(static_cast<opara::node_id>(u));
  std::ranges::sort(pred);
  CHECK(pred == std::vector<opara::node_id>{1, 3, 4, 5});

  const auto og = opara::to_graph(g);
  CHECK(og.num_nodes() == 7);
  CHECK(og.num_edges() == 9);
  CHECK(og.name(0) == "input");

  const auto p = opara::make_plan<opara::streams::opara_greedy>(g);
  CHECK(p.num_streams == 4);  // one per branch
  CHECK_NOTHROW(opara::validate(p, g));
  const auto dot = opara::to_dot(p, g);
  CHECK(dot.find("label=\"concat\\n#6\"") != std::string::npos);
  const auto mpc = opara::make_plan<opara::streams::min_path_cover>(g);
  CHECK(mpc.num_streams == 4);
  CHECK_NOTHROW(opara::validate(mpc, g));
}

TEST_CASE("boost_adapter.directed_graph_gives_successors_only") {
  const auto g = inception<directed>();
  const auto p = opara::make_plan(g);
  CHECK(p.num_nodes() == 7);
  CHECK_NOTHROW(opara::validate(p, g));
  CHECK(opara::node_name(g, 2) == "n2");
}

TEST_CASE("boost_adapter.parallel_edges_merge_and_bad_graphs_throw") {
  auto g = inception<listed>();
  boost::add_edge(0, 1, g);  // parallel edge (listS allows it)
  CHECK(opara::to_graph(g).num_edges() == 9);
  const auto p = opara::make_plan(g);
  CHECK_NOTHROW(opara::validate(p, g));

  boost::add_edge(6, 0, g);  // now a cycle
  CHECK_THROWS_AS((void)opara::make_plan(g), opara::not_a_dag);
  directed self(2);
  boost::add_edge(1, 1, self);
  CHECK_THROWS_WITH_AS((void)opara::make_plan(self), doctest::Contains("self-loop"), opara::bad_graph);
}

#else

// Without Boost the adapter cannot be tested; this fails if Boost.Graph is in fact on the include
// path (the build then forgot to define OPARA_TEST_HAS_BOOST and the adapter tests were lost).
TEST_CASE("boost_adapter.boost_is_really_absent") {
  MESSAGE("Boost headers not found; adapter not tested");
  CHECK_FALSE(__has_include(<boost/graph/adjacency_list.hpp>));
}

#endif
