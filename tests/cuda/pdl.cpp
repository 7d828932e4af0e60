// Programmatic dependent launch and node priorities: on random DAGs that mix operators which declare
// PDL with operators which do not (and operators whose first or last node is a memset or memcpy),
// every capture policy makes exactly the edges from another operator's kernel node into a declaring
// operator's kernel node programmatic and no others; replays match the CPU reference and are
// bit-identical to the sequential graph; with priorities on, exactly the near-critical operators'
// kernel nodes carry the device's highest priority; with a shared-memory carveout, every kernel
// node (child graphs included) carries it; split into launch segments, every segment keeps them and
// replays give the same bits as the whole graph.
#include "support/gpu_test.hpp"

#include <opara/order/program_order.hpp>
#include <opara/compose/make_plan.hpp>
#include <opara/plan/segments.hpp>
#include <opara/streams/opara_greedy.hpp>
#include <opara/streams/round_robin.hpp>
#include <opara/streams/sequential.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

using namespace gpu_test;
namespace st = opara::streams;
namespace od = opara::order;
namespace cp = opara::capture;

namespace {

// Calls f(node) for every kernel node of `graph`, inside child graphs too (the tests' own walk,
// not the library's).
template <class F>
void each_kernel_node(cudaGraph_t graph, F&& f) {
  std::size_t count = 0;
  OPARA_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  OPARA_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    OPARA_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    if (type == cudaGraphNodeTypeGraph) {
      cudaGraph_t child = nullptr;
      OPARA_CUDA_CHECK(cudaGraphChildGraphNodeGetGraph(node, &child));
      each_kernel_node(child, f);
    } else if (type == cudaGraphNodeTypeKernel) {
      f(node);
    }
  }
}

// What each operator enqueues (by node id): the mix the capture policies must tell apart.
enum class op_kind : int {
  plain,         // combine_kernel, no declaration
  declared,      // pdl_combine_kernel, declared
  memset_first,  // memset(out) then pdl_combine_kernel accumulating, declared: first node not a kernel
  memcpy_last,   // pdl_combine_kernel into scratch then memcpy to out, declared: last node not a kernel
};
op_kind kind_of(std::size_t v) { return static_cast<op_kind>((v * 7 + 3) % 4); }

struct buffers {
  device_buffer<float> out, scratch;
  buffers(std::size_t n, int elems) : out(n * elems), scratch(n * elems) {}
};

opara::cuda::task_graph make_mixed_graph(const random_dag& d, const buffers& b, const float* x0, int elems) {
  opara::cuda::task_graph tg;
  for (std::size_t v = 0; v < d.n; ++v) {
    inputs in{};
    in.count = static_cast<int>(d.preds[v].size());
    for (int k = 0; k < in.count; ++k) in.p[k] = b.out.get() + std::size_t(d.preds[v][k]) * elems;
    float* o = b.out.get() + v * elems;
    float* scratch = b.scratch.get() + v * elems;
    const float w = d.w[v], bias = d.b[v];
    const unsigned blocks = (elems + 255) / 256;
    const op_kind kind = kind_of(v);
    tg.add(
        "op" + std::to_string(v),
        [=](cudaStream_t s) {
          switch (kind) {
            case op_kind::plain: gpu_test::launch(combine_kernel, blocks, 256, 0, s, o, in, x0, w, bias, elems); break;
            case op_kind::declared: gpu_test::launch(pdl_combine_kernel, blocks, 256, 0, s, o, in, x0, w, bias, elems, 0); break;
            case op_kind::memset_first:
              OPARA_CUDA_CHECK(cudaMemsetAsync(o, 0, elems * sizeof(float), s));
              gpu_test::launch(pdl_combine_kernel, blocks, 256, 0, s, o, in, x0, w, bias, elems, 1);
              break;
            case op_kind::memcpy_last:
              gpu_test::launch(pdl_combine_kernel, blocks, 256, 0, s, scratch, in, x0, w, bias, elems, 0);
              OPARA_CUDA_CHECK(cudaGetLastError());
              OPARA_CUDA_CHECK(cudaMemcpyAsync(o, scratch, elems * sizeof(float), cudaMemcpyDeviceToDevice, s));
              break;
          }
          OPARA_CUDA_CHECK(cudaGetLastError());
        },
        opara::boundness::memory, kind == op_kind::plain ? opara::input_wait::full : opara::input_wait::programmatic);
  }
  for (std::size_t v = 0; v < d.n; ++v)
    for (auto u : d.preds[v]) tg.depends(u, static_cast<opara::node_id>(v));
  return tg;
}

// One node of the built graph: which operator made it (read back from the pointer it writes) and
// whether it is a kernel. A child-graph node (explicit_graph) is attributed through its first node.
struct node_info {
  std::size_t op = SIZE_MAX;
  bool kernel = false;
};

struct attribution {
  const buffers* b;
  int elems;
  std::size_t n;
  std::size_t op_of(const void* p) const {
    const auto* f = static_cast<const float*>(p);
    for (const device_buffer<float>* buf : {&b->out, &b->scratch})
      if (f >= buf->get() && f < buf->get() + n * elems) return static_cast<std::size_t>(f - buf->get()) / elems;
    return SIZE_MAX;
  }
  node_info info(cudaGraphNode_t node) const {
    cudaGraphNodeType type{};
    OPARA_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    node_info r;
    switch (type) {
      case cudaGraphNodeTypeKernel: {
        cudaKernelNodeParams k{};
        OPARA_CUDA_CHECK(cudaGraphKernelNodeGetParams(node, &k));
        r.op = op_of(*static_cast<float**>(k.kernelParams[0]));
        r.kernel = true;
        break;
      }
      case cudaGraphNodeTypeMemset: {
        cudaMemsetParams m{};
        OPARA_CUDA_CHECK(cudaGraphMemsetNodeGetParams(node, &m));
        r.op = op_of(m.dst);
        break;
      }
      case cudaGraphNodeTypeMemcpy: {
        cudaMemcpy3DParms m{};
        OPARA_CUDA_CHECK(cudaGraphMemcpyNodeGetParams(node, &m));
        r.op = op_of(m.dstPtr.ptr);
        break;
      }
      case cudaGraphNodeTypeGraph: {
        cudaGraph_t child = nullptr;
        OPARA_CUDA_CHECK(cudaGraphChildGraphNodeGetGraph(node, &child));
        std::size_t count = 0;
        OPARA_CUDA_CHECK(cudaGraphGetNodes(child, nullptr, &count));
        std::vector<cudaGraphNode_t> inner(count);
        OPARA_CUDA_CHECK(cudaGraphGetNodes(child, inner.data(), &count));
        REQUIRE(count > 0);
        r.op = info(inner[0]).op;
        break;
      }
      default: break;
    }
    return r;
  }
};

struct edge_census {
  std::size_t programmatic = 0;          // programmatic edges seen
  std::size_t eligible = 0;              // kernel (op u) -> kernel (declaring op v != u) edges
  std::size_t wrong = 0;                 // programmatic edges that break the rule
  std::size_t eligible_but_full = 0;     // eligible edges left full while PDL was asked for
  std::size_t into_non_declaring = 0;    // kernel -> kernel edges into non-declaring operators
};

// `previous`: per operator, the one launched just before it on its stream (capture::programmatic_scope::
// stream_order: only edges from it are eligible); empty: every edge from another operator is.
edge_census census(cudaGraph_t graph, const attribution& a, const opara::cuda::task_graph& tg,
                   const std::vector<opara::node_id>& previous = {}) {
  std::size_t count = 0;
  OPARA_CUDA_CHECK(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &count));
  std::vector<cudaGraphNode_t> from(count), to(count);
  std::vector<cudaGraphEdgeData> data(count);
  OPARA_CUDA_CHECK(cudaGraphGetEdges(graph, from.data(), to.data(), data.data(), &count));
  edge_census c;
  for (std::size_t i = 0; i < count; ++i) {
    const node_info u = a.info(from[i]), v = a.info(to[i]);
    REQUIRE(u.op < tg.num_nodes());
    REQUIRE(v.op < tg.num_nodes());
    const bool eligible = u.kernel && v.kernel && u.op != v.op && tg.programmatic(static_cast<opara::node_id>(v.op)) &&
                          (previous.empty() || previous[v.op] == static_cast<opara::node_id>(u.op));
    const bool programmatic = data[i].type == cudaGraphDependencyTypeProgrammatic;
    c.eligible += eligible ? 1 : 0;
    c.into_non_declaring += u.kernel && v.kernel && u.op != v.op && !tg.programmatic(static_cast<opara::node_id>(v.op));
    if (programmatic) {
      ++c.programmatic;
      if (!eligible || data[i].from_port != cudaGraphKernelNodePortProgrammatic || data[i].to_port != 0) ++c.wrong;
    } else if (eligible) {
      ++c.eligible_but_full;
    }
  }
  return c;
}

struct fixture {
  int elems = quick() ? 512 : 8192;
  opara::cuda::stream_handle stream = opara::cuda::stream_handle::create();
  std::vector<float> x0h;
  device_buffer<float> x0;
  std::mt19937 rng{2026};
  fixture() : x0(static_cast<std::size_t>(quick() ? 512 : 8192)) {
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    x0h.resize(x0.size());
    for (auto& x : x0h) x = u(rng);
    x0.upload(x0h);
  }
};

// Poisons out, replays `replays` times back to back, returns out.
std::vector<float> run(const opara::executable& exe, const buffers& b, cudaStream_t s, int replays) {
  OPARA_CUDA_CHECK(cudaMemsetAsync(b.out.get(), 0xff, b.out.size() * sizeof(float), s));
  OPARA_CUDA_CHECK(cudaMemsetAsync(b.scratch.get(), 0xff, b.scratch.size() * sizeof(float), s));
  for (int r = 0; r < replays; ++r) exe(s);
  OPARA_CUDA_CHECK(cudaStreamSynchronize(s));
  return b.out.download();
}

} // namespace

TEST_CASE("pdl.programmatic_edges_exactly_into_declaring_operators") {
  fixture f;
  const int graphs = quick() ? 2 : 30;
  const int replays = quick() ? 3 : 50;
  std::map<std::string, std::size_t> programmatic_edges;
  for (int gi = 0; gi < graphs; ++gi) {
    const random_dag d = make_random_dag(f.rng, 8, quick() ? 12 : 40);
    const auto ref = reference(d, f.x0h, f.elems);
    buffers b(d.n, f.elems);
    const auto tg = make_mixed_graph(d, b, f.x0.get(), f.elems);
    const attribution a{&b, f.elems, d.n};

    opara::capture::options off;
    off.programmatic = false;
    const auto sequential = opara::make_plan(tg, nullptr, {}, st::sequential{}, od::program_order{});
    const auto base = cp::stream_capture{}.capture(tg, sequential, f.stream.get(), off);
    const auto expected = run(base, b, f.stream.get(), 1);
    REQUIRE(relative_error(expected, ref) < 1e-5);
    const edge_census base_edges = census(base.native_graph(), a, tg);
    CHECK(base_edges.programmatic == 0);  // off means off

    const opara::capture::options on;  // programmatic is on by default, along stream order
    REQUIRE(on.programmatic);
    REQUIRE(on.programmatic_edges == opara::capture::programmatic_scope::stream_order);
    opara::capture::options every = on;
    every.programmatic_edges = opara::capture::programmatic_scope::all;
    auto check = [&](const opara::executable& exe, const std::string& label, const opara::capture::options& used) {
      INFO(label, " graph ", gi, " nodes ", d.n);
      if (exe.is_graph()) {
        const auto previous = used.programmatic_edges == opara::capture::programmatic_scope::stream_order
                                  ? opara::detail::previous_on_stream(exe.plan())
                                  : std::vector<opara::node_id>{};
        const edge_census c = census(exe.native_graph(), a, tg, previous);
        CHECK(c.wrong == 0);
        CHECK(c.eligible_but_full == 0);
        CHECK(c.programmatic == c.eligible);
        programmatic_edges[label] += c.programmatic;
      }
      const auto got = run(exe, b, f.stream.get(), replays);
      CHECK(relative_error(got, ref) < 1e-5);
      CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
    };
    const auto greedy = opara::make_plan(tg, nullptr, {}, st::opara_greedy{}, od::program_order{});
    const auto rr = opara::make_plan(tg, nullptr, {}, st::round_robin{3}, od::program_order{});
    for (const opara::capture::options* used : {&on, static_cast<const opara::capture::options*>(&every)}) {
      const std::string scope = used == &on ? "" : " (all edges)";
      check(cp::stream_capture{}.capture(tg, sequential, f.stream.get(), *used), "stream_capture/sequential" + scope, *used);
      check(cp::stream_capture{}.capture(tg, greedy, f.stream.get(), *used), "stream_capture/opara_greedy" + scope, *used);
      check(cp::stream_capture{}.capture(tg, rr, f.stream.get(), *used), "stream_capture/round_robin3" + scope, *used);
      check(cp::explicit_graph{}.capture(tg, greedy, f.stream.get(), *used), "explicit_graph/opara_greedy" + scope, *used);
      check(cp::explicit_graph{cp::edge_source::dag}.capture(tg, rr, f.stream.get(), *used), "explicit_graph(dag)" + scope,
            *used);
      check(cp::eager{}.capture(tg, greedy, f.stream.get(), *used), "eager" + scope, *used);
    }
  }
  // Every graph policy made some under both scopes (random DAGs of 8+ operators, 3 of 4 declaring),
  // and the stream-order scope fewer than all edges on the multi-stream plans.
  CHECK(programmatic_edges.size() == 10u);
  // (Quick mode's two small graphs may have no edge across streams into a declaring operator.)
  if (!quick())
    CHECK(programmatic_edges["stream_capture/opara_greedy"] < programmatic_edges["stream_capture/opara_greedy (all edges)"]);
  for (const auto& [label, count] : programmatic_edges) {
    CHECK_MESSAGE(count > 0, label);
    MESSAGE(label, ": ", count, " programmatic edges over ", graphs, " graphs");
  }
}

TEST_CASE("pdl.non_declaring_graph_gets_no_programmatic_edge") {
  // gpu_test's task_graph declares nothing: programmatic on changes no edge.
  fixture f;
  const random_dag d = make_random_dag(f.rng, 20, 20);
  device_buffer<float> out(d.n * f.elems);
  const auto tg = make_task_graph(d, out.get(), f.x0.get(), f.elems);
  opara::capture::options on;
  on.programmatic = true;
  const auto p = opara::make_plan(tg, nullptr, {}, st::opara_greedy{}, od::program_order{});
  for (const opara::executable& exe : {cp::stream_capture{}.capture(tg, p, f.stream.get(), on),
                                        cp::explicit_graph{}.capture(tg, p, f.stream.get(), on)}) {
    std::size_t count = 0;
    OPARA_CUDA_CHECK(cudaGraphGetEdges(exe.native_graph(), nullptr, nullptr, nullptr, &count));
    std::vector<cudaGraphNode_t> from(count), to(count);
    std::vector<cudaGraphEdgeData> data(count);
    OPARA_CUDA_CHECK(cudaGraphGetEdges(exe.native_graph(), from.data(), to.data(), data.data(), &count));
    CHECK(count > 0);
    for (const auto& e : data) CHECK(e.type == cudaGraphDependencyTypeDefault);
  }
}

TEST_CASE("pdl.priorities_mark_exactly_the_near_critical_operators") {
  fixture f;
  const random_dag d = make_random_dag(f.rng, 24, 24);
  const auto ref = reference(d, f.x0h, f.elems);
  buffers b(d.n, f.elems);
  const auto tg = make_mixed_graph(d, b, f.x0.get(), f.elems);
  const attribution a{&b, f.elems, d.n};
  std::vector<double> cost(d.n);
  for (std::size_t v = 0; v < d.n; ++v) cost[v] = 1.0 + double((v * 37) % 11);
  const auto critical = opara::detail::near_critical(opara::to_graph(tg), cost, 0.1);
  std::size_t critical_count = 0;
  for (bool c : critical) critical_count += c ? 1 : 0;
  REQUIRE(critical_count > 0);
  REQUIRE(critical_count < d.n);  // a test that marks everything proves nothing
  int least = 0, greatest = 0;
  OPARA_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  REQUIRE(greatest != least);

  opara::capture::options o;
  o.priorities = true;
  o.programmatic = true;
  o.priority_costs = cost;
  o.priority_slack = 0.1;
  const auto p = opara::make_plan(tg, nullptr, {}, st::opara_greedy{}, od::program_order{});
  auto kernels_checked = [&](cudaGraph_t graph) {
    std::size_t checked = 0;
    each_kernel_node(graph, [&](cudaGraphNode_t node) {
      cudaLaunchAttributeValue value{};
      OPARA_CUDA_CHECK(cudaGraphKernelNodeGetAttribute(node, cudaLaunchAttributePriority, &value));
      const std::size_t op = a.info(node).op;
      REQUIRE(op < d.n);
      CHECK_MESSAGE(value.priority == (critical[op] ? greatest : 0), "operator ", op);
      ++checked;
    });
    return checked;
  };
  for (const opara::executable& exe : {cp::stream_capture{}.capture(tg, p, f.stream.get(), o),
                                        cp::explicit_graph{}.capture(tg, p, f.stream.get(), o)}) {
    INFO(exe.stats().capture_policy);
    CHECK(kernels_checked(exe.native_graph()) == d.n);  // one kernel per operator
    CHECK(relative_error(run(exe, b, f.stream.get(), quick() ? 2 : 20), ref) < 1e-5);
  }
  // Through the scheduler: its profile's durations become the costs (none given here).
  opara::scheduler<st::opara_greedy, od::program_order, cp::stream_capture, opara::profiler::events> s;
  s.options.capture.priorities = true;
  s.options.profile = opara::profiling::always;
  CHECK(s.label() == "opara_greedy/program_order/stream_capture+priorities");  // apart from the plain one
  const auto exe = s.compile(tg, f.stream.get());
  REQUIRE(exe.profile() != nullptr);
  std::vector<double> measured;
  for (const auto& op : exe.profile()->ops) measured.push_back(op.duration_us);
  const auto expect = opara::detail::near_critical(opara::to_graph(tg), measured, s.options.capture.priority_slack);
  std::size_t high = 0;
  for (std::size_t v = 0; v < d.n; ++v) high += expect[v] ? 1 : 0;
  std::size_t count = 0;
  OPARA_CUDA_CHECK(cudaGraphGetNodes(exe.native_graph(), nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  OPARA_CUDA_CHECK(cudaGraphGetNodes(exe.native_graph(), nodes.data(), &count));
  std::size_t seen_high = 0;
  for (cudaGraphNode_t node : nodes) {
    if (!a.info(node).kernel) continue;
    cudaLaunchAttributeValue value{};
    OPARA_CUDA_CHECK(cudaGraphKernelNodeGetAttribute(node, cudaLaunchAttributePriority, &value));
    const std::size_t op = a.info(node).op;
    CHECK(value.priority == (expect[op] ? greatest : 0));
    seen_high += value.priority == greatest ? 1 : 0;
  }
  CHECK(seen_high == high);
  CHECK(relative_error(run(exe, b, f.stream.get(), 2), ref) < 1e-5);
}

TEST_CASE("pdl.shared_carveout_on_every_kernel_node") {
  fixture f;
  const random_dag d = make_random_dag(f.rng, 20, 20);
  const auto ref = reference(d, f.x0h, f.elems);
  buffers b(d.n, f.elems);
  const auto tg = make_mixed_graph(d, b, f.x0.get(), f.elems);
  const auto p = opara::make_plan(tg, nullptr, {}, st::opara_greedy{}, od::program_order{});
  // Every kernel node's carveout, child graphs included (explicit_graph keeps multi-node operators
  // as child graphs).
  auto carveouts = [](cudaGraph_t graph) {
    std::vector<unsigned> out;
    each_kernel_node(graph, [&](cudaGraphNode_t node) {
      cudaLaunchAttributeValue value{};
      OPARA_CUDA_CHECK(cudaGraphKernelNodeGetAttribute(node, cudaLaunchAttributePreferredSharedMemoryCarveout, &value));
      out.push_back(value.sharedMemCarveout);
    });
    return out;
  };
  for (const int percent : {100, 25}) {
    opara::capture::options o;
    o.shared_carveout = percent;
    for (const bool programmatic : {true, false}) {
      o.programmatic = programmatic;  // explicit_graph copies single kernels only with node options
      for (const opara::executable& exe : {cp::stream_capture{}.capture(tg, p, f.stream.get(), o),
                                            cp::explicit_graph{}.capture(tg, p, f.stream.get(), o)}) {
        INFO(exe.stats().capture_policy, " carveout ", percent, " programmatic ", programmatic);
        const std::vector<unsigned> seen = carveouts(exe.native_graph());
        CHECK(seen.size() == d.n);  // one kernel per operator
        for (unsigned c : seen) CHECK(c == static_cast<unsigned>(percent));
        CHECK(relative_error(run(exe, b, f.stream.get(), 2), ref) < 1e-5);
      }
    }
  }
  // Out of range: refused before anything is captured, by every capture policy.
  for (const int bad : {-2, 101}) {
    opara::capture::options o;
    o.shared_carveout = bad;
    CHECK_THROWS_AS((void)cp::stream_capture{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
    CHECK_THROWS_AS((void)cp::explicit_graph{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
    CHECK_THROWS_AS((void)cp::eager{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
  }
  opara::scheduler<> s;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture");  // 100: the default
  s.options.capture.shared_carveout = 25;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture+carveout25");
  s.options.capture.shared_carveout = -1;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture+own_carveout");
}

TEST_CASE("pdl.launch_segments_split_at_free_cuts") {
  fixture f;
  const int graphs = quick() ? 2 : 12;
  std::size_t split = 0, whole = 0;
  for (int i = 0; i < graphs; ++i) {
    const random_dag d = make_random_dag(f.rng, 12, 24);
    const auto ref = reference(d, f.x0h, f.elems);
    buffers b(d.n, f.elems);
    const auto tg = make_mixed_graph(d, b, f.x0.get(), f.elems);
    for (const opara::plan& p : {opara::make_plan(tg, nullptr, {}, st::sequential{}, od::program_order{}),
                                 opara::make_plan(tg, nullptr, {}, st::opara_greedy{}, od::program_order{})}) {
      const std::size_t expected = 1 + opara::segment_cuts(p, 4).size();
      if (p.num_streams == 1) CHECK(expected == std::min<std::size_t>(4, d.n));  // every cut of one stream is free
      for (const bool priorities : {false, true}) {
        opara::capture::options o;
        o.priorities = priorities;
        o.launch_segments = 1;
        const std::vector<float> one_graph = run(cp::stream_capture{}.capture(tg, p, f.stream.get(), o), b, f.stream.get(), 1);
        o.launch_segments = 4;
        for (const opara::executable& exe : {cp::stream_capture{}.capture(tg, p, f.stream.get(), o),
                                              cp::explicit_graph{}.capture(tg, p, f.stream.get(), o),
                                              cp::explicit_graph{cp::edge_source::dag}.capture(tg, p, f.stream.get(), o)}) {
          INFO(exe.stats().capture_policy, " ", p.stream_policy, " priorities ", priorities, " nodes ", d.n);
          const std::size_t segments = exe.num_segments();
          CHECK(segments >= 1);
          CHECK(segments <= 4);
          if (exe.stats().capture_policy != "explicit_graph(dag)") CHECK(segments == expected);
          CHECK(exe.stats().segments == segments);
          CHECK((exe.native_exec() != nullptr) == (segments == 1));
          // (cudaGraphExecGetFlags does not report cudaGraphInstantiateFlagUseNodePriority, driver
          // 580, so the segments' flags cannot be checked from outside.)
          for (std::size_t k = 0; k < segments; ++k) CHECK(exe.native_exec(k) != nullptr);
          CHECK_THROWS_AS((void)exe.native_exec(segments), opara::error);
          const std::vector<float> got = run(exe, b, f.stream.get(), 3);
          CHECK(relative_error(got, ref) < 1e-5);
          CHECK(std::memcmp(got.data(), one_graph.data(), got.size() * sizeof(float)) == 0);
          (segments > 1 ? split : whole) += 1;
        }
      }
    }
  }
  CHECK(split > 0);
  MESSAGE("executables split: ", split, ", left whole: ", whole);
  // eager builds no graph and ignores it; out of range is refused by every capture policy.
  const random_dag d = make_random_dag(f.rng, 8, 8);
  buffers b(d.n, f.elems);
  const auto tg = make_mixed_graph(d, b, f.x0.get(), f.elems);
  const auto p = opara::make_plan(tg, nullptr, {}, st::sequential{}, od::program_order{});
  opara::capture::options o;
  o.launch_segments = 4;
  const opara::executable eager = cp::eager{}.capture(tg, p, f.stream.get(), o);
  CHECK(eager.num_segments() == 0);
  CHECK(relative_error(run(eager, b, f.stream.get(), 1), reference(d, f.x0h, f.elems)) < 1e-5);
  for (const int bad : {0, -1, 65}) {
    o.launch_segments = bad;
    CHECK_THROWS_AS((void)cp::stream_capture{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
    CHECK_THROWS_AS((void)cp::explicit_graph{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
    CHECK_THROWS_AS((void)cp::eager{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
  }
  opara::scheduler<> s;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture");  // 2 segments, growth 3: the defaults
  s.options.capture.launch_segments = 4;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture+segments4");
  s.options.capture.launch_segments = 1;
  s.options.capture.segment_growth = 5;
  CHECK(s.label() == "opara_greedy/critical_path_first/stream_capture+segments1g5");
  o.launch_segments = 2;
  for (const double bad : {0.5, 1001.0, std::nan("")}) {
    o.segment_growth = bad;
    CHECK_THROWS_AS((void)cp::stream_capture{}.capture(tg, p, f.stream.get(), o), opara::bad_policy);
  }
}

TEST_CASE("pdl.near_critical_rejects_bad_input") {
  const opara::graph g = [] {
    opara::graph_builder gb;
    gb.add_nodes(3);
    gb.add_edge(0, 1);
    return gb.build();
  }();
  CHECK_THROWS_AS(opara::detail::near_critical(g, std::vector<double>{1, 2}, 0.1), opara::error);
  CHECK_THROWS_AS(opara::detail::near_critical(g, std::vector<double>{}, -0.5), opara::error);
  const auto unit = opara::detail::near_critical(g, std::vector<double>{}, 0.0);
  CHECK(unit == std::vector<bool>{true, true, false});  // the path 0 -> 1 is longer than 2 alone
}
