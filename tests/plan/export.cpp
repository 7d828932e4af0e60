// DOT and JSON export of plans.
#include <opara/detail/json.hpp>
#include <opara/graph/graph.hpp>
#include <opara/plan/dot.hpp>
#include <opara/plan/json.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/plan/shape.hpp>
#include <opara/plan/validate.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using opara::node_id;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t c = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++c;
  return c;
}

// 0 -> 1, 0 -> 2, 1 -> 2, 1 -> 3, 2 -> 3; streams 0:{0, 3}, 1:{1, 2}.
// Kept waits: 1 waits for 0, 3 waits for 2. Pruned: 0 -> 2 (1 already waited for 0 on stream 1),
// 1 -> 3 (3 waits for 2, which follows 1 on stream 1).
opara::graph diamond() {
  opara::graph_builder b;
  b.add_node("input");
  b.add_node("conv \"3x3\"");
  b.add_node("relu\\x");
  b.add_node("concat");
  b.add_edge(0, 1).add_edge(0, 2).add_edge(1, 2).add_edge(1, 3).add_edge(2, 3);
  return b.build();
}

opara::plan diamond_plan() {
  opara::plan p;
  p.order = {0, 1, 2, 3};
  p.stream_of = {0, 1, 1, 0};
  p.num_streams = 2;
  p.wait_begin = {0, 0, 1, 1, 2};
  p.wait_on = {0, 2};
  p.pruned_waits = 2;
  p.stream_policy = "opara_greedy";
  p.order_policy = "program_order";
  return p;
}

} // namespace

TEST_CASE("dot.one_cluster_per_stream_with_every_node") {
  const auto g = diamond();
  const auto dot = opara::to_dot(diamond_plan(), g);
  CHECK(dot.starts_with("digraph opara_plan {"));
  CHECK(dot.ends_with("}\n"));
  CHECK(count(dot, "subgraph cluster_s") == 2);
  CHECK(count(dot, "label=\"stream 0\"") == 1);
  CHECK(count(dot, "label=\"stream 1\"") == 1);
  CHECK(dot.find("n0 [label=\"input\\n#0\"]") != std::string::npos);
  CHECK(dot.find("n1 [label=\"conv \\\"3x3\\\"\\n#1\"]") != std::string::npos);  // quotes escaped
  CHECK(dot.find("n2 [label=\"relu\\\\x\\n#2\"]") != std::string::npos);         // backslash escaped
  CHECK(dot.find("n3 [label=\"concat\\n#3\"]") != std::string::npos);
  // Nodes sit inside their stream's cluster.
  const auto s0 = dot.find("subgraph cluster_s0"), s1 = dot.find("subgraph cluster_s1");
  CHECK(s0 < dot.find("n3 [label"));
  CHECK(dot.find("n3 [label") < s1);
  CHECK(s1 < dot.find("n1 [label"));
  CHECK(dot.find("opara_greedy") != std::string::npos);
  CHECK(dot.find("2 waits (2 pruned)") != std::string::npos);
}

TEST_CASE("dot.edge_styles_show_streams_kept_and_pruned_waits") {
  const auto dot = opara::to_dot(diamond_plan(), diamond());
  CHECK(count(dot, " -> ") == 5);
  CHECK(dot.find("n1 -> n2;") != std::string::npos);                  // same stream: solid
  CHECK(dot.find("n0 -> n1 [style=dashed, color=\"#1f77b4\"") != std::string::npos);  // kept, stream 0's colour
  CHECK(dot.find("n2 -> n3 [style=dashed, color=\"#ff7f0e\"") != std::string::npos);  // kept, stream 1's colour
  CHECK(dot.find("n0 -> n2 [style=dotted, color=grey]") != std::string::npos);       // pruned
  CHECK(dot.find("n1 -> n3 [style=dotted, color=grey]") != std::string::npos);       // pruned
  CHECK(count(dot, "style=dashed") == 2);
  CHECK(count(dot, "style=dotted") == 2);
}

TEST_CASE("dot.rejects_a_plan_for_another_graph") {
  auto p = diamond_plan();
  p.stream_of.pop_back();
  CHECK_THROWS_WITH_AS((void)opara::to_dot(p, diamond()), "opara: to_dot: the plan has 3 nodes, the graph has 4",
                       opara::invalid_plan);
  p = diamond_plan();
  p.stream_of[2] = 5;
  CHECK_THROWS_WITH_AS((void)opara::to_dot(p, diamond()), doctest::Contains("puts node 2 on stream 5"), opara::invalid_plan);
  p = diamond_plan();
  p.order[3] = 0;
  CHECK_THROWS_AS((void)opara::to_json(p, diamond()), opara::invalid_plan);
}

TEST_CASE("plan_json.parses_back") {
  const auto g = diamond();
  const auto p = diamond_plan();
  const auto text = opara::to_json(p, g);
  const auto v = opara::detail::json::parse(text);
  CHECK(v.find("opara_plan")->as_number() == 1);
  CHECK(v.find("stream_policy")->as_string() == "opara_greedy");
  CHECK(v.find("order_policy")->as_string() == "program_order");
  CHECK(v.find("num_streams")->as_number() == 2);
  CHECK(v.find("num_waits")->as_number() == 2);
  const auto& nodes = v.find("nodes")->as_array();
  REQUIRE(nodes.size() == 4);
  CHECK(nodes[1].find("name")->as_string() == "conv \"3x3\"");
  CHECK(nodes[1].find("stream")->as_number() == 1);
  CHECK(nodes[3].find("waits")->as_array() == opara::detail::json::array{2});

  const auto q = opara::plan_from_json(text);
  CHECK(q.order == p.order);
  CHECK(q.stream_of == p.stream_of);
  CHECK(q.num_streams == p.num_streams);
  CHECK(q.wait_begin == p.wait_begin);
  CHECK(q.wait_on == p.wait_on);
  CHECK(q.pruned_waits == p.pruned_waits);
  CHECK(q.stream_policy == p.stream_policy);
  CHECK(q.order_policy == p.order_policy);
  CHECK(opara::to_json(q, g) == text);
}

TEST_CASE("plan_json.rejects_inconsistent_plans") {
  const auto text = opara::to_json(diamond_plan(), diamond());
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"opara_plan\": 1", "\"opara_plan\": 7")),
                       doctest::Contains("unsupported plan format version 7"), opara::parse_error);
  // Well-formed JSON whose values are not a plan: the one plan-shape check, the one exception type.
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"order\": [0, 1, 2, 3]", "\"order\": [0, 1, 1, 3]")),
                       "opara: plan_from_json: the plan order names node 1 twice (at positions 1 and 2)",
                       opara::invalid_plan);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"stream\": 1", "\"stream\": 2")),
                       "opara: plan_from_json: the plan puts node 1 on stream 2 but has 2 streams", opara::invalid_plan);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"waits\": [2]", "\"waits\": [9]")),
                       "opara: plan_from_json: the plan makes node 3 wait for node 9 but has 4 nodes",
                       opara::invalid_plan);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"waits\": [2]", "\"waits\": [-1]")),
                       "opara: plan JSON: nodes[3].waits[0]: expected an integer in [0, 4294967294], found -1",
                       opara::parse_error);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"position\": 3", "\"position\": 2")),
                       doctest::Contains("nodes[3].position: 2 disagrees with \"order\""), opara::parse_error);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"num_waits\": 2", "\"num_waits\": 3")),
                       doctest::Contains("num_waits: 3 disagrees"), opara::parse_error);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json("{\"opara_plan\": 1,"),
                       doctest::Contains("invalid JSON at 1:18"), opara::parse_error);
}

TEST_CASE("plan_json.huge_num_streams_is_bounded_by_the_node_count") {
  const auto text = opara::to_json(diamond_plan(), diamond());
  std::string t = text;
  const std::string from = "\"num_streams\": 2";
  t.replace(t.find(from), from.size(), "\"num_streams\": 4294967294");
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(t), doctest::Contains("has 4294967294 streams for 4 nodes"),
                       opara::invalid_plan);
  t = text;
  t.replace(t.find(from), from.size(), "\"num_streams\": 1e300");
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(t), doctest::Contains("num_streams: expected an integer"),
                       opara::parse_error);
}

TEST_CASE("plan_json.names_with_invalid_utf8_round_trip") {
  opara::graph_builder b;
  b.add_node("conv\xff\xfe");
  b.add_node("relu\xc3");
  b.add_edge(0, 1);
  const auto g = b.build();
  const auto p = opara::make_plan(g);
  const auto text = opara::to_json(p, g);
  const auto q = opara::plan_from_json(text);  // opara reads what opara writes
  CHECK(q.order == p.order);
  CHECK(opara::detail::json::parse(text).find("nodes")->as_array()[0].find("name")->as_string() ==
        "conv\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("dot.is_linear_in_fan_in") {
  // 20,000 producers feeding one join: each edge's "is this wait kept" is one lookup.
  const std::size_t n = 20002;
  opara::graph_builder b;
  b.add_nodes(n);
  for (node_id i = 1; i + 1 < n; ++i) b.add_edge(0, i).add_edge(i, static_cast<node_id>(n - 1));
  const auto g = b.build();
  const auto p = opara::make_plan<opara::streams::opara_greedy>(g);
  const auto dot = opara::to_dot(p, g);
  CHECK(count(dot, "style=dashed") == p.num_waits());
  CHECK(count(dot, " -> ") == g.num_edges());
}

TEST_CASE("plan_shape.one_check_for_every_consumer") {
  const auto g = diamond();
  CHECK_NOTHROW(opara::check_plan_shape(diamond_plan(), 4));
  CHECK(opara::order_positions(diamond_plan()) == std::vector<std::uint32_t>{0, 1, 2, 3});
  auto p = diamond_plan();
  p.order = {3, 1, 2, 0};
  CHECK(opara::order_positions(p) == std::vector<std::uint32_t>{3, 1, 2, 0});
  p.order = {0, 1, 1, 3};
  CHECK_THROWS_WITH_AS((void)opara::order_positions(p, "capture"),
                       "opara: capture: the plan's order names node 1 twice (at positions 1 and 2)", opara::invalid_plan);
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4, "capture"),
                       "opara: capture: the plan order names node 1 twice (at positions 1 and 2)", opara::invalid_plan);
  p = diamond_plan();
  p.order.push_back(4);
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4), doctest::Contains("order has 5 entries for 4 nodes"),
                       opara::invalid_plan);
  p = diamond_plan();
  p.num_streams = 0;
  CHECK_THROWS_AS(opara::check_plan_shape(p, 4), opara::invalid_plan);
  p.num_streams = 5;
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4), doctest::Contains("5 streams for 4 nodes"), opara::invalid_plan);
  p = diamond_plan();
  p.wait_begin = {0, 0, 1, 1};
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4), doctest::Contains("malformed wait table"), opara::invalid_plan);
  p = diamond_plan();
  p.wait_begin = {0, 1, 0, 1, 2};
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4), doctest::Contains("decrease at node 1"), opara::invalid_plan);
  p = diamond_plan();
  p.wait_on[1] = 7;
  CHECK_THROWS_WITH_AS(opara::check_plan_shape(p, 4), "opara: plan: the plan makes node 3 wait for node 7 but has 4 nodes",
                       opara::invalid_plan);
  // validate runs the same check, whatever else it would read.
  CHECK_THROWS_WITH_AS(opara::validate(p, g), doctest::Contains("validate: the plan makes node 3 wait for node 7"),
                       opara::invalid_plan);
  CHECK_THROWS_AS((void)opara::to_json(p, g), opara::invalid_plan);
}

TEST_CASE("dot.names_with_nul_control_bytes_and_invalid_utf8_stay_valid_for_graphviz") {
  opara::graph_builder b;
  b.add_node(std::string("conv\0one", 8));
  b.add_node("relu\xff\xc3");
  b.add_node("tab\there \xe2\x82\xac");  // valid UTF-8 (the euro sign) is kept
  b.add_edge(0, 1).add_edge(1, 2);
  const auto g = b.build();
  const auto dot = opara::to_dot(opara::make_plan(g), g);
  CHECK(dot.find('\0') == std::string::npos);
  CHECK(dot.find('\t') == std::string::npos);
  CHECK(opara::detail::json::valid_utf8(dot));
  CHECK(dot.find("conv\\\\x00one") != std::string::npos);  // shown, as the text \x00
  CHECK(dot.find("relu\xef\xbf\xbd\xef\xbf\xbd") != std::string::npos);  // as to_json writes it
  CHECK(dot.find("tab\\\\x09here \xe2\x82\xac") != std::string::npos);
}

TEST_CASE("dot.a_negative_successor_is_reported_as_written") {
  struct signed_graph {
    std::vector<std::vector<int>> succ{{1}, {-1}};
    std::size_t num_nodes() const { return succ.size(); }
    const std::vector<int>& successors(node_id v) const { return succ[v]; }
  };
  opara::plan p;
  p.order = {0, 1};
  p.stream_of = {0, 0};
  p.num_streams = 1;
  p.wait_begin = {0, 0, 0};
  CHECK_THROWS_WITH_AS((void)opara::to_dot(p, signed_graph{}),
                       "opara::to_dot: edge n1 -> -1 refers to unknown node -1 (the graph has 2 nodes)", opara::bad_graph);
}

TEST_CASE("plan_json.refuses_unknown_members_duplicate_waits_and_impossible_pruned_counts") {
  const auto text = opara::to_json(diamond_plan(), diamond());
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"pruned_waits\": 2", "\"pruned_waits\": 1e15")),
                       doctest::Contains("claims 1000000000000000 pruned waits, more than the 6 edges"),
                       opara::invalid_plan);
  std::string thousand = "\"waits\": [2";
  for (int i = 1; i < 1000; ++i) thousand += ", 2";
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"waits\": [2", thousand)),
                       doctest::Contains("makes node 3 wait for node 2 more than once"), opara::invalid_plan);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"pruned_waits\"", "\"prunned_waits\": 0, \"pruned_waits\"")),
                       doctest::Contains("unknown member \"prunned_waits\""), opara::parse_error);
  CHECK_THROWS_WITH_AS((void)opara::plan_from_json(replaced("\"stream\": 1", "\"stream\": 1, \"colour\": 3")),
                       doctest::Contains("unknown member \"colour\""), opara::parse_error);
  CHECK_NOTHROW((void)opara::plan_from_json(text));
}
