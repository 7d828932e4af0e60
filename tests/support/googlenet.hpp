#pragma once
// Operator graphs of real networks for tests and benchmarks: one inception block, and GoogLeNet as
// torchvision builds it for inference (no auxiliary classifiers), with every conv+bn+relu fused into
// one operator and concat-free inception blocks: the four branches write into slices of one output
// tensor, so every consumer of a block depends on the last operator of each of its four branches.

#include <opara/graph/graph.hpp>

#include <string>
#include <vector>

namespace opara::test {

namespace detail {
// Adds an inception block whose inputs are `in`; returns the four branch ends.
inline std::vector<node_id> inception(graph_builder& b, const std::string& name, const std::vector<node_id>& in) {
  auto op = [&](const std::string& suffix, const std::vector<node_id>& deps) {
    const node_id v = b.add_node(name + "." + suffix);
    for (node_id d : deps) b.add_edge(d, v);
    return v;
  };
  const node_id b1 = op("branch1", in);             // 1x1
  const node_id b2a = op("branch2.0", in);          // 1x1 reduce
  const node_id b2b = op("branch2.1", {b2a});       // 3x3
  const node_id b3a = op("branch3.0", in);          // 1x1 reduce
  const node_id b3b = op("branch3.1", {b3a});       // 3x3 (torchvision's stand-in for 5x5)
  const node_id b4a = op("branch4.0", in);          // 3x3 max pool, stride 1
  const node_id b4b = op("branch4.1", {b4a});       // 1x1 projection
  return {b1, b2b, b3b, b4b};
}
} // namespace detail

// One inception block between an input operator and an output operator (9 operators).
inline graph inception_block() {
  graph_builder b;
  const node_id in = b.add_node("input");
  auto ends = detail::inception(b, "inception", {in});
  const node_id out = b.add_node("output");
  for (node_id e : ends) b.add_edge(e, out);
  return b.build();
}

// GoogLeNet (torchvision, inference): 72 fused operators, width 4.
inline graph googlenet() {
  graph_builder b;
  std::vector<node_id> cur;
  auto op = [&](const std::string& name) {
    const node_id v = b.add_node(name);
    for (node_id d : cur) b.add_edge(d, v);
    cur = {v};
    return v;
  };
  op("conv1");
  op("maxpool1");
  op("conv2");
  op("conv3");
  op("maxpool2");
  cur = detail::inception(b, "inception3a", cur);
  cur = detail::inception(b, "inception3b", cur);
  op("maxpool3");
  for (const char* n : {"inception4a", "inception4b", "inception4c", "inception4d", "inception4e"})
    cur = detail::inception(b, n, cur);
  op("maxpool4");
  cur = detail::inception(b, "inception5a", cur);
  cur = detail::inception(b, "inception5b", cur);
  op("avgpool");
  op("fc");
  return b.build();
}

} // namespace opara::test
