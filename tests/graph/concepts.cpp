// Concept checks and the archetype test: a graph that offers only what operator_graph promises
// (num_nodes() and successors(v) as a single-pass input range) must be enough for every algorithm.
#include <opara/opara.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <list>
#include <map>
#include <ranges>
#include <string>
#include <vector>

using opara::node_id;

namespace archetype {

// A single-pass range of successor ids: not sized, not forward, not common with a pointer.
class successor_range {
public:
  class iterator {
  public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = std::uint16_t;  // deliberately not node_id
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(const std::uint16_t* p) : p_(p) {}
    std::uint16_t operator*() const { return *p_; }
    iterator& operator++() {
      ++p_;
      return *this;
    }
    void operator++(int) { ++p_; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.p_ == b.p_; }

  private:
    const std::uint16_t* p_ = nullptr;
  };
  successor_range(const std::uint16_t* b, const std::uint16_t* e) : b_(b), e_(e) {}
  iterator begin() const { return iterator(b_); }
  iterator end() const { return iterator(e_); }

private:
  const std::uint16_t* b_;
  const std::uint16_t* e_;
};
static_assert(std::ranges::input_range<successor_range>);
static_assert(!std::ranges::forward_range<successor_range>);
static_assert(!std::ranges::sized_range<successor_range>);

// Only num_nodes() and successors(v): no predecessors, no names, not copyable.
class graph {
public:
  explicit graph(std::vector<std::vector<std::uint16_t>> adj) : adj_(std::move(adj)) {}
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;
  int num_nodes() const { return static_cast<int>(adj_.size()); }
  successor_range successors(node_id v) const {
    return {adj_[v].data(), adj_[v].data() + adj_[v].size()};
  }

private:
  std::vector<std::vector<std::uint16_t>> adj_;
};

} // namespace archetype

// --- what is and is not a graph ----------------------------------------------------------------
static_assert(opara::operator_graph<archetype::graph>);
static_assert(!opara::bidirectional_operator_graph<archetype::graph>);
static_assert(!opara::named_operator_graph<archetype::graph>);
static_assert(opara::operator_graph<opara::graph>);
static_assert(opara::bidirectional_operator_graph<opara::graph>);
static_assert(opara::named_operator_graph<opara::graph>);

namespace non_graphs {
struct no_successors {
  std::size_t num_nodes() const { return 0; }
};
struct no_count {
  std::vector<node_id> successors(node_id) const { return {}; }
};
struct strings_as_successors {
  std::size_t num_nodes() const { return 0; }
  std::vector<std::string> successors(node_id) const { return {}; }
};
struct successors_not_a_range {
  std::size_t num_nodes() const { return 0; }
  node_id successors(node_id) const { return 0; }
};
struct count_not_a_number {
  std::string num_nodes() const { return {}; }
  std::vector<node_id> successors(node_id) const { return {}; }
};
struct pointers_as_successors {
  std::size_t num_nodes() const { return 0; }
  std::vector<const int*> successors(node_id) const { return {}; }
};
} // namespace non_graphs
static_assert(!opara::operator_graph<int>);
static_assert(!opara::operator_graph<std::vector<int>>);
static_assert(!opara::operator_graph<std::map<int, std::vector<int>>>);
static_assert(!opara::operator_graph<non_graphs::no_successors>);
static_assert(!opara::operator_graph<non_graphs::no_count>);
static_assert(!opara::operator_graph<non_graphs::strings_as_successors>);
static_assert(!opara::operator_graph<non_graphs::successors_not_a_range>);
static_assert(!opara::operator_graph<non_graphs::count_not_a_number>);
static_assert(!opara::operator_graph<non_graphs::pointers_as_successors>);

// A type adapted from outside through graph_traits alone (it has no suitable members).
namespace engine {
struct layer {
  std::string label;
  std::list<int> consumers;  // a bidirectional, not random-access, range of ints
};
struct net {
  std::vector<layer> layers;
};
} // namespace engine
template <>
struct opara::graph_traits<engine::net> {
  static std::size_t num_nodes(const engine::net& n) { return n.layers.size(); }
  static const std::list<int>& successors(const engine::net& n, node_id v) { return n.layers[v].consumers; }
  static std::string name(const engine::net& n, node_id v) { return n.layers[v].label; }
};
static_assert(opara::operator_graph<engine::net>);
static_assert(opara::named_operator_graph<engine::net>);

// --- make_plan accepts only graphs, stream policies and order policies -------------------------
template <class G>
concept plannable = requires(const G& g) { opara::make_plan(g); };
static_assert(plannable<archetype::graph>);
static_assert(plannable<engine::net>);
static_assert(!plannable<int>);
static_assert(!plannable<non_graphs::strings_as_successors>);

template <class S, class O>
concept policies_accepted = requires(const opara::graph& g) { opara::make_plan<S, O>(g); };
static_assert(policies_accepted<opara::streams::min_path_cover, opara::order::critical_path_first>);
static_assert(!policies_accepted<opara::order::program_order, opara::order::program_order>);  // order as streams
static_assert(!policies_accepted<opara::streams::sequential, opara::streams::sequential>);    // streams as order
static_assert(!policies_accepted<int, opara::order::program_order>);

static_assert(opara::stream_allocation_policy<opara::streams::capped<opara::streams::opara_greedy>>);
static_assert(!opara::launch_order_policy<opara::streams::opara_greedy>);

namespace {

// 0 -> {1, 2}, 1 -> 3, 2 -> {3, 4}, 3 -> 5, 4 -> 5, 6 isolated (with a duplicated edge 2 -> 4).
archetype::graph make_archetype() { return archetype::graph({{1, 2}, {3}, {3, 4, 4}, {5}, {5}, {}, {}}); }

opara::profile make_profile(std::size_t n) {
  opara::profile p;
  p.limits.shared_bytes_per_block = 1 << 16;
  for (std::size_t v = 0; v < n; ++v) {
    opara::operator_record r;
    r.duration_us = static_cast<double>(1 + (v * 7) % 5);
    r.bound = v % 2 ? opara::boundness::compute : opara::boundness::memory;
    opara::kernel_record k;
    k.static_shared_bytes = static_cast<std::uint32_t>(1024 * (v % 3));
    r.kernels.push_back(k);
    p.ops.push_back(r);
  }
  return p;
}

template <class S, class O, class G>
void plan_and_check(const G& g, const opara::profile& prof, S s = {}) {
  const auto p = opara::make_plan<S, O>(g, &prof, {}, s);
  CHECK(p.num_nodes() == 7);
  CHECK(p.stream_policy == S::name);
  CHECK(p.order_policy == O::name);
  CHECK_NOTHROW(opara::validate(p, g));
  const auto dot = opara::to_dot(p, g);
  CHECK(dot.find("subgraph cluster_s0") != std::string::npos);
  const auto back = opara::plan_from_json(opara::to_json(p, g));
  CHECK(back.stream_of == p.stream_of);
  CHECK(back.wait_on == p.wait_on);
}

template <class O, class G>
void every_stream_policy(const G& g, const opara::profile& prof) {
  namespace st = opara::streams;
  plan_and_check<st::sequential, O>(g, prof);
  plan_and_check<st::opara_greedy, O>(g, prof);
  plan_and_check<st::min_path_cover, O>(g, prof);
  plan_and_check<st::round_robin, O>(g, prof);
  plan_and_check<st::capped<st::opara_greedy>, O>(g, prof, st::capped<st::opara_greedy>{{}, 2});
}

} // namespace

TEST_CASE("concepts.archetype_graph_is_enough_for_every_algorithm") {
  const auto g = make_archetype();
  const auto og = opara::to_graph(g);
  CHECK(og.num_nodes() == 7);
  CHECK(og.num_edges() == 7);  // the duplicate 2 -> 4 is merged
  CHECK(og.name(3) == "n3");

  const auto prof = make_profile(7);
  every_stream_policy<opara::order::program_order>(g, prof);
  every_stream_policy<opara::order::resource_aware>(g, prof);
  every_stream_policy<opara::order::critical_path_first>(g, prof);

  std::vector<double> cost(7, 1.0);
  const auto cp = opara::critical_path(g, cost);
  CHECK(cp.length == 4);
  CHECK(cp.nodes == std::vector<node_id>{0, 1, 3, 5});

  // Default policies, no profile.
  const auto p = opara::make_plan(g);
  CHECK_NOTHROW(opara::validate(p, g));
}

TEST_CASE("concepts.graph_adapted_through_graph_traits_only") {
  engine::net n;
  n.layers = {{"input", {1, 2}}, {"conv", {3}}, {"pool", {3}}, {"concat", {}}};
  const auto p = opara::make_plan<opara::streams::opara_greedy>(n);
  CHECK(p.num_streams == 2);
  CHECK_NOTHROW(opara::validate(p, n));
  const auto dot = opara::to_dot(p, n);
  CHECK(dot.find("label=\"conv\\n#") != std::string::npos);
  CHECK(opara::to_json(p, n).find("\"name\": \"concat\"") != std::string::npos);
}

TEST_CASE("concepts.profile_policies_on_a_user_graph_need_a_matching_profile") {
  const auto g = make_archetype();
  auto plan_ra = [&](const opara::profile* p) {
    return opara::make_plan<opara::streams::opara_greedy, opara::order::resource_aware>(g, p);
  };
  auto plan_cp = [&](const opara::profile& p) {
    return opara::make_plan<opara::streams::opara_greedy, opara::order::critical_path_first>(g, p);
  };
  CHECK_THROWS_WITH_AS((void)plan_ra(nullptr),
                       doctest::Contains("'resource_aware' needs a profile"), opara::bad_policy);
  const auto small = make_profile(3);
  CHECK_THROWS_WITH_AS(
      (void)plan_cp(small),
      doctest::Contains("the profile has 3 operator records, the graph has 7 nodes"), opara::bad_policy);
}

TEST_CASE("concepts.user_graph_errors_name_nodes") {
  const archetype::graph bad({{1}, {7}});
  CHECK_THROWS_WITH_AS((void)opara::make_plan(bad), doctest::Contains("unknown node 7"), opara::bad_graph);
  const archetype::graph cyclic({{1}, {2}, {0}});
  CHECK_THROWS_AS((void)opara::make_plan(cyclic), opara::not_a_dag);
}
