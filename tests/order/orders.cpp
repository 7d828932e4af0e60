// Launch order policies and the critical path analysis they use.
#include <opara/analysis/critical_path.hpp>
#include <opara/graph/list_schedule.hpp>
#include <opara/order/concept.hpp>
#include <opara/order/critical_path_first.hpp>
#include <opara/order/program_order.hpp>
#include <opara/order/resource_aware.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

using opara::boundness;
using opara::node_id;

static_assert(opara::launch_order_policy<opara::order::program_order>);
static_assert(opara::launch_order_policy<opara::order::resource_aware>);
static_assert(opara::launch_order_policy<opara::order::critical_path_first>);
static_assert(!opara::order::program_order::needs_profile);
static_assert(opara::order::resource_aware::needs_profile);
static_assert(opara::order::critical_path_first::needs_profile);

namespace {

struct no_name {
  static constexpr bool needs_profile = false;
  std::vector<node_id> order(const opara::graph&, const opara::profile*) const { return {}; }
};
struct wrong_return {
  static constexpr bool needs_profile = false;
  static constexpr std::string_view name = "x";
  std::vector<int> order(const opara::graph&, const opara::profile*) const { return {}; }
};
struct runtime_flag {
  static inline bool needs_profile = false;  // not a constant expression
  static constexpr std::string_view name = "x";
  std::vector<node_id> order(const opara::graph&, const opara::profile*) const { return {}; }
};
static_assert(!opara::launch_order_policy<int>);
static_assert(!opara::launch_order_policy<no_name>);
static_assert(!opara::launch_order_policy<wrong_return>);
static_assert(!opara::launch_order_policy<runtime_flag>);

opara::graph random_dag(std::size_t n, std::size_t edges_per_node, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  opara::graph_builder b;
  b.reserve(n, n * edges_per_node);
  b.add_nodes(n);
  for (node_id v = 1; v < n; ++v)
    for (std::size_t k = 0; k < edges_per_node; ++k) {
      // mostly local edges, like a network's layers, some long skips
      const std::uint64_t span = rng() % 8 == 0 ? v : std::min<std::uint64_t>(v, 16);
      b.add_edge(static_cast<node_id>(v - 1 - rng() % span), v);
    }
  return b.build();
}

opara::profile random_profile(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  opara::profile p;
  p.limits.shared_bytes_per_block = 232448;
  p.ops.resize(n);
  for (auto& op : p.ops) {
    op.bound = static_cast<boundness>(rng() % 3);
    op.duration_us = static_cast<double>(rng() % 1000) / 10.0;
    for (std::uint64_t k = rng() % 3; k > 0; --k) {
      opara::kernel_record kr;
      kr.grid = {static_cast<std::uint32_t>(1 + rng() % 128), 1, 1};
      kr.block = {static_cast<std::uint32_t>(32 * (1 + rng() % 8)), 1, 1};
      kr.dynamic_shared_bytes = static_cast<std::uint32_t>(rng() % 4 * 16384);
      op.kernels.push_back(kr);
    }
  }
  return p;
}

// True when `order` is a permutation of g's nodes that puts every producer before its consumers.
bool is_topological(const opara::graph& g, const std::vector<node_id>& order) {
  if (order.size() != g.num_nodes()) return false;
  std::vector<std::size_t> pos(g.num_nodes(), g.num_nodes());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i] >= g.num_nodes() || pos[order[i]] != g.num_nodes()) return false;
    pos[order[i]] = i;
  }
  for (node_id v = 0; v < g.num_nodes(); ++v)
    for (node_id s : g.successors(v))
      if (pos[v] >= pos[s]) return false;
  return true;
}

opara::operator_record op(boundness b, std::uint32_t shared = 0, std::uint32_t blocks = 1, std::uint32_t threads = 128) {
  opara::operator_record r;
  r.bound = b;
  r.duration_us = 1;
  opara::kernel_record k;
  k.grid = {blocks, 1, 1};
  k.block = {threads, 1, 1};
  k.static_shared_bytes = shared;
  r.kernels.push_back(k);
  return r;
}

opara::graph independent(std::size_t n) {
  opara::graph_builder b;
  b.add_nodes(n);
  return b.build();
}

std::string bad_policy_message(auto policy, const opara::graph& g, const opara::profile* p) {
  try {
    (void)policy.order(g, p);
  } catch (const opara::bad_policy& e) {
    return e.what();
  }
  return {};
}

} // namespace

TEST_CASE("program_order.is_the_graphs_topological_order") {
  const auto g = random_dag(200, 3, 1);
  const auto o = opara::order::program_order{}.order(g, nullptr);
  CHECK(is_topological(g, o));
  CHECK(std::ranges::equal(o, g.topological_order()));
}

TEST_CASE("resource_aware.alternates_memory_and_compute") {
  const auto g = independent(6);
  opara::profile p;
  p.limits.shared_bytes_per_block = 1000;
  p.ops = {op(boundness::compute), op(boundness::compute), op(boundness::compute),
           op(boundness::memory),  op(boundness::memory),  op(boundness::compute)};
  const auto o = opara::order::resource_aware{}.order(g, &p);
  // memory first, then in turn; once the memory queue is empty the compute queue continues.
  CHECK(o == std::vector<node_id>{3, 0, 4, 1, 2, 5});
}

TEST_CASE("resource_aware.least_shared_memory_first_within_a_queue") {
  const auto g = independent(4);
  opara::profile p;
  p.limits.shared_bytes_per_block = 100000;
  p.ops = {op(boundness::compute, 48000), op(boundness::compute, 1000), op(boundness::compute, 0),
           op(boundness::compute, 16000)};
  CHECK(opara::order::resource_aware{}.order(g, &p) == std::vector<node_id>{2, 1, 3, 0});
  // Without a known limit the raw byte counts give the same ranking.
  p.limits.shared_bytes_per_block = 0;
  CHECK(opara::order::resource_aware{}.order(g, &p) == std::vector<node_id>{2, 1, 3, 0});
}

TEST_CASE("resource_aware.ties_go_to_fewer_threads_then_smaller_id") {
  const auto g = independent(4);
  opara::profile p;
  p.limits.shared_bytes_per_block = 1000;
  p.ops = {op(boundness::memory, 0, 64, 256), op(boundness::memory, 0, 64, 256), op(boundness::memory, 0, 8, 256),
           op(boundness::memory, 0, 1000, 32)};
  CHECK(opara::order::resource_aware{}.order(g, &p) == std::vector<node_id>{2, 0, 1, 3});
}

TEST_CASE("resource_aware.operator_need_is_its_largest_kernel") {
  const auto g = independent(2);
  opara::profile p;
  p.ops = {op(boundness::compute, 100), op(boundness::compute, 50)};
  auto extra = p.ops[1].kernels[0];
  extra.dynamic_shared_bytes = 200;  // node 1 also runs a kernel with 250 bytes
  p.ops[1].kernels.push_back(extra);
  CHECK(opara::order::resource_aware{}.order(g, &p) == std::vector<node_id>{0, 1});
}

TEST_CASE("resource_aware.unknown_bound_is_classified_by_shared_memory_use") {
  using ra = opara::order::resource_aware;
  CHECK(ra::classify(op(boundness::unknown, 1024)) == boundness::compute);
  CHECK(ra::classify(op(boundness::unknown, 0)) == boundness::memory);
  CHECK(ra::classify(opara::operator_record{}) == boundness::memory);
  CHECK(ra::classify(op(boundness::memory, 4096)) == boundness::memory);  // a known bound wins
  const auto g = independent(4);
  opara::profile p;
  p.ops = {op(boundness::unknown, 512), op(boundness::unknown, 256), op(boundness::unknown), op(boundness::unknown)};
  CHECK(ra{}.order(g, &p) == std::vector<node_id>{2, 1, 3, 0});
}

TEST_CASE("resource_aware.honours_dependencies") {
  // 0 (compute) -> 1 (memory); 2 (memory) independent: memory's turn first takes 2, not 1.
  opara::graph_builder b;
  b.add_nodes(3);
  b.add_edge(0, 1);
  const auto g = b.build();
  opara::profile p;
  p.ops = {op(boundness::compute), op(boundness::memory), op(boundness::memory, 0, 1000, 1024)};
  CHECK(opara::order::resource_aware{}.order(g, &p) == std::vector<node_id>{2, 0, 1});
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto rg = random_dag(300, 3, seed);
    const auto rp = random_profile(300, seed);
    CHECK(is_topological(rg, opara::order::resource_aware{}.order(rg, &rp)));
    CHECK(is_topological(rg, opara::order::critical_path_first{}.order(rg, &rp)));
  }
}

TEST_CASE("order.profile_policies_reject_missing_or_wrong_sized_profiles") {
  const auto g = independent(5);
  CHECK(bad_policy_message(opara::order::resource_aware{}, g, nullptr) ==
        "opara: launch order policy 'resource_aware' needs a profile (got none); profile the graph first or use "
        "order::program_order");
  opara::profile p;
  p.ops.resize(3);
  CHECK(bad_policy_message(opara::order::critical_path_first{}, g, &p) ==
        "opara: launch order policy 'critical_path_first' needs one profile record per node: the profile has 3 "
        "operator records, the graph has 5 nodes");
  CHECK(bad_policy_message(opara::order::resource_aware{}, g, &p).find("the profile has 3") != std::string::npos);
  CHECK(opara::order::program_order{}.order(g, &p).size() == 5);  // ignores the profile
  p.ops.resize(5);
  p.ops[2].duration_us = -1;
  CHECK(bad_policy_message(opara::order::critical_path_first{}, g, &p).find("node n2 has duration_us -1") !=
        std::string::npos);
}

TEST_CASE("critical_path_first.prefers_the_longest_remaining_path") {
  // 0 -> 1 -> 2 (costs 1, 1, 10) and 3 -> 4 (costs 5, 5): bottom levels 12, 11, 10, 10, 5.
  opara::graph_builder b;
  b.add_nodes(5);
  b.add_edge(0, 1).add_edge(1, 2).add_edge(3, 4);
  const auto g = b.build();
  opara::profile p;
  p.ops.resize(5);
  const double d[] = {1, 1, 10, 5, 5};
  for (int i = 0; i < 5; ++i) p.ops[i].duration_us = d[i];
  CHECK(opara::order::critical_path_first{}.order(g, &p) == std::vector<node_id>{0, 1, 2, 3, 4});
  p.ops[3].duration_us = 20;  // now 3 -> 4 is longer (25 vs 12)
  CHECK(opara::order::critical_path_first{}.order(g, &p) == std::vector<node_id>{3, 0, 1, 2, 4});
  p.ops[3].duration_us = 7;  // 12 vs 12: the smaller id wins the tie
  CHECK(opara::order::critical_path_first{}.order(g, &p) == std::vector<node_id>{0, 3, 1, 2, 4});
}

TEST_CASE("critical_path.length_nodes_and_levels") {
  // 0(2) -> 1(3), 0 -> 2(1), 1 -> 3(4), 2 -> 3, 2 -> 4(10)
  opara::graph_builder b;
  b.add_nodes(5);
  b.add_edge(0, 1).add_edge(0, 2).add_edge(1, 3).add_edge(2, 3).add_edge(2, 4);
  const auto g = b.build();
  const std::vector<double> cost{2, 3, 1, 4, 10};
  const auto r = opara::critical_path(g, cost);
  CHECK(r.length == 13);
  CHECK(r.nodes == std::vector<node_id>{0, 2, 4});
  CHECK(opara::bottom_levels(g, cost) == std::vector<double>{13, 7, 11, 4, 10});
  CHECK(opara::top_levels(g, cost) == std::vector<double>{0, 2, 2, 5, 3});

  CHECK_THROWS_AS((void)opara::critical_path(g, std::vector<double>{1, 2}), opara::error);
  CHECK_THROWS_WITH_AS((void)opara::bottom_levels(g, std::vector<double>{1, 2, -3, 4, 5}),
                       doctest::Contains("node n2 has cost"), opara::error);
}

TEST_CASE("critical_path.zero_costs_start_at_a_source") {
  opara::graph_builder b;
  b.add_nodes(3);
  b.add_edge(2, 0).add_edge(0, 1);
  const auto g = b.build();
  const auto r = opara::critical_path(g, std::vector<double>{0, 0, 0});
  CHECK(r.nodes == std::vector<node_id>{2, 0, 1});
  CHECK(r.length == 0);
}

TEST_CASE("critical_path.matches_brute_force_on_random_dags") {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const auto g = random_dag(60, 2, seed);
    const auto p = random_profile(60, seed);
    std::vector<double> cost;
    for (const auto& o : p.ops) cost.push_back(o.duration_us);
    // Longest path ending at each node, by dynamic programming in id order (ids are topological here).
    std::vector<double> end(g.num_nodes());
    double best = 0;
    for (node_id v = 0; v < g.num_nodes(); ++v) {
      double in = 0;
      for (node_id u : g.predecessors(v)) in = std::max(in, end[u]);
      end[v] = in + cost[v];
      best = std::max(best, end[v]);
    }
    const auto r = opara::critical_path(g, cost);
    CHECK(r.length == doctest::Approx(best));
    double sum = 0;
    for (std::size_t i = 0; i < r.nodes.size(); ++i) {
      sum += cost[r.nodes[i]];
      if (i + 1 < r.nodes.size()) {
        const auto s = g.successors(r.nodes[i]);
        CHECK(std::ranges::find(s, r.nodes[i + 1]) != s.end());
      }
    }
    CHECK(sum == doctest::Approx(best));
    CHECK(g.predecessors(r.nodes.front()).empty());
    CHECK(g.successors(r.nodes.back()).empty());
  }
}

TEST_CASE("order.ten_thousand_nodes_topological_and_deterministic") {
  // Timing lives in bench/planning; here every order on a 10,000-node graph is a topological order
  // and the same on a second run (ties are broken by id, never by addresses or hashing).
  const auto g = random_dag(10000, 4, 7);
  const auto p = random_profile(10000, 7);
  auto check = [&](auto policy) {
    const auto o = policy.order(g, &p);
    CHECK(is_topological(g, o));
    CHECK(policy.order(g, &p) == o);
    return o;
  };
  const auto a = check(opara::order::program_order{});
  const auto b = check(opara::order::resource_aware{});
  const auto c = check(opara::order::critical_path_first{});
  CHECK(a != b);  // the profile changes the order
  CHECK(a != c);
}

TEST_CASE("orders.label_is_the_name") {
  CHECK(opara::order::program_order{}.label() == "program_order");
  CHECK(opara::order::critical_path_first{}.label() == "critical_path_first");
  CHECK(opara::order::resource_aware{}.label() == "resource_aware");
  CHECK(opara::policy_label(opara::order::resource_aware{}) == "resource_aware");
}

TEST_CASE("list_schedule.pluggable_ready_queue") {
  // 0 -> 2, 1 -> 2, 3 alone.
  opara::graph_builder b;
  b.add_nodes(4);
  b.add_edge(0, 2).add_edge(1, 2);
  const auto g = b.build();
  CHECK(opara::list_schedule(g, opara::ready_heap<>{}) == std::vector<node_id>{0, 1, 2, 3});
  CHECK(opara::list_schedule(g, opara::ready_heap<std::greater<node_id>>{}) == std::vector<node_id>{3, 1, 0, 2});
  // A FIFO queue is a ready_queue too.
  struct fifo {
    std::vector<node_id> items;
    std::size_t head = 0;
    void push(node_id v) { items.push_back(v); }
    node_id pop() { return items[head++]; }
    bool empty() const { return head == items.size(); }
  };
  static_assert(opara::ready_queue<fifo>);
  static_assert(opara::ready_queue<opara::ready_heap<>>);
  static_assert(!opara::ready_queue<std::vector<node_id>>);  // no pop() returning a node
  static_assert(!opara::ready_queue<int>);
  CHECK(opara::list_schedule(g, fifo{}) == std::vector<node_id>{0, 1, 3, 2});
  // The scheduler stops short on a cycle: that is how graph_builder::build detects one.
  struct cyclic {
    std::size_t num_nodes() const { return 2; }
    std::vector<node_id> successors(node_id v) const { return {static_cast<node_id>(1 - v)}; }
    std::vector<node_id> predecessors(node_id v) const { return {static_cast<node_id>(1 - v)}; }
  };
  CHECK(opara::list_schedule(cyclic{}, opara::ready_heap<>{}).empty());
}

TEST_CASE("list_schedule.rank_queue_pops_like_a_heap_over_the_same_keys") {
  // by_decreasing_key: larger keys first, ties (and -0 against +0) to the smaller id.
  const std::vector<double> keys{2.0, -0.0, 5.0, 2.0, 0.0, -1.5, 1e308, 2.0};
  CHECK(opara::by_decreasing_key(keys) == std::vector<node_id>{6, 2, 0, 3, 7, 1, 4, 5});
  CHECK(opara::by_decreasing_key(std::vector<double>{}).empty());
  // Random DAGs of up to 300,000 nodes (four levels of bits) and keys with many ties: the rank
  // queue schedules exactly as a heap ordering by (key descending, id ascending).
  std::mt19937_64 rng(11);
  for (std::size_t n : {1, 63, 64, 65, 4097, 300000}) {
    opara::graph_builder b;
    b.add_nodes(n);
    for (node_id v = 1; v < n; ++v)
      for (int k = 0; k < 2; ++k) b.add_edge(static_cast<node_id>(rng() % v), v);
    const auto g = b.build();
    std::vector<double> key(n);
    for (double& x : key) x = static_cast<double>(rng() % 50) * 0.5;
    const auto by_heap = opara::list_schedule(g, opara::ready_heap{[&](node_id a, node_id b) {
                                                return key[a] > key[b] || (key[a] == key[b] && a < b);
                                              }});
    CHECK(opara::list_schedule(g, opara::rank_queue(opara::by_decreasing_key(key))) == by_heap);
  }
}
