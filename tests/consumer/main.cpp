// Plans a small graph with the installed (or embedded) opara and checks the plan.
#include <opara/opara.hpp>

#include <iostream>

int main() {
  opara::graph_builder b;
  const auto in = b.add_node("input");
  const auto a = b.add_node("branch_a");
  const auto c = b.add_node("branch_b");
  const auto out = b.add_node("concat");
  b.add_edge(in, a).add_edge(in, c).add_edge(a, out).add_edge(c, out);
  const auto g = b.build();

  const auto plan = opara::make_plan<opara::streams::opara_greedy>(g);
  opara::validate(plan, g);
  if (plan.num_streams != 2) {
    std::cerr << "expected 2 streams, got " << plan.num_streams << "\n";
    return 1;
  }
  std::cout << "consumer: " << plan.num_nodes() << " operators on " << plan.num_streams << " streams, "
            << plan.num_waits() << " waits\n"
            << opara::to_dot(plan, g);
  return 0;
}
