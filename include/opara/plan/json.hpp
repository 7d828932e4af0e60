#pragma once
//! A plan as JSON, for tools and for keeping a plan next to its profile. Format, version 1:
//!
//!   {
//!     "opara_plan": 1,
//!     "stream_policy": "opara_greedy", "order_policy": "program_order",
//!     "num_streams": 2, "num_waits": 1, "pruned_waits": 0,
//!     "order": [0, 2, 1, 3],                           // launch order (node ids)
//!     "nodes": [                                       // indexed by node id
//!       {"name": "conv1", "stream": 0, "position": 0, "waits": []},
//!       {"name": "relu",  "stream": 1, "position": 2, "waits": [0]},   // producers waited for
//!       ...
//!     ]
//!   }
//!
//! "name", "position" and "num_waits" are for readers; plan_from_json checks them for consistency
//! but a plan needs only order, streams and waits.

#include <opara/detail/json.hpp>
#include <opara/error.hpp>
#include <opara/graph/traits.hpp>
#include <opara/plan/dot.hpp>
#include <opara/plan/plan.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

namespace opara {

namespace detail::plan_export {
[[noreturn]] inline void plan_json_fail(const std::string& path, const std::string& what) {
  throw parse_error("opara: plan JSON: " + path + ": " + what);
}
} // namespace detail::plan_export

//! Version of the plan JSON format.
inline constexpr int plan_format_version = 1;

//! Plan `p` for graph `g` as pretty-printed JSON (format in this header). Throws invalid_plan
//! when `p` does not fit g (like to_dot).
template <operator_graph G>
[[nodiscard]] std::string to_json(const plan& p, const G& g) {
  namespace js = detail::json;
  const std::size_t n = graph_traits<G>::num_nodes(g);
  detail::plan_export::check_shape(p, n, "to_json");
  const auto pos = detail::plan_export::launch_positions(p);
  js::value root;
  root["opara_plan"] = plan_format_version;
  root["stream_policy"] = p.stream_policy;
  root["order_policy"] = p.order_policy;
  root["num_streams"] = p.num_streams;
  root["num_waits"] = p.num_waits();
  root["pruned_waits"] = p.pruned_waits;
  js::array order(p.order.begin(), p.order.end());
  root["order"] = std::move(order);
  js::array nodes;
  nodes.reserve(n);
  for (node_id v = 0; v < n; ++v) {
    js::value o;
    o["name"] = node_name(g, v);
    o["stream"] = p.stream_of[v];
    o["position"] = pos[v];
    const auto w = p.waits_of(v);
    o["waits"] = js::array(w.begin(), w.end());
    nodes.push_back(std::move(o));
  }
  root["nodes"] = std::move(nodes);
  return js::write(root, 2);
}

//! Reads a plan written by to_json(plan, g). Throws opara::parse_error for malformed JSON (with
//! line:column), another format version, a missing member, or values that do not form a plan
//! (naming the JSON path). It does not check the plan against a graph: use validate for that.
[[nodiscard]] inline plan plan_from_json(std::string_view text) {
  namespace js = detail::json;
  auto& fail = detail::plan_export::plan_json_fail;
  auto member = [&](const js::value& obj, const std::string& path, std::string_view key, js::kind k) -> const js::value& {
    const js::value* m = obj.find(key);
    if (!m) fail(path, "missing \"" + std::string(key) + "\"");
    if (m->type() != k)
      fail(path + "." + std::string(key),
           "expected " + std::string(js::kind_name(k)) + ", found " + std::string(js::kind_name(m->type())));
    return *m;
  };
  auto index = [&](const js::value& v, const std::string& path, std::size_t bound) -> std::uint32_t {
    if (!v.is_number() || std::trunc(v.as_number()) != v.as_number() || v.as_number() < 0 ||
        v.as_number() >= static_cast<double>(bound))
      fail(path, "expected an integer in [0, " + std::to_string(bound) + "), found " + js::write(v));
    return static_cast<std::uint32_t>(v.as_number());
  };

  const js::value root = js::parse(text);
  if (!root.is_object()) fail("(root)", "expected an object, found " + std::string(js::kind_name(root.type())));
  const auto* ver = root.find("opara_plan");
  if (!ver) fail("(root)", "missing \"opara_plan\" (not an opara plan)");
  if (!ver->is_number() || ver->as_number() != plan_format_version)
    fail("opara_plan", "unsupported plan format version " + js::write(*ver) + " (this opara reads version " +
                           std::to_string(plan_format_version) + ")");

  plan p;
  p.stream_policy = member(root, "(root)", "stream_policy", js::kind::string).as_string();
  p.order_policy = member(root, "(root)", "order_policy", js::kind::string).as_string();
  const auto limit = static_cast<std::size_t>(std::numeric_limits<std::uint32_t>::max());
  p.num_streams = index(member(root, "(root)", "num_streams", js::kind::number), "num_streams", limit);
  p.pruned_waits = index(member(root, "(root)", "pruned_waits", js::kind::number), "pruned_waits", limit);
  const auto& nodes = member(root, "(root)", "nodes", js::kind::array).as_array();
  const std::size_t n = nodes.size();
  const auto& order = member(root, "(root)", "order", js::kind::array).as_array();
  if (order.size() != n)
    fail("order", "has " + std::to_string(order.size()) + " entries but there are " + std::to_string(n) + " nodes");
  std::vector<char> seen(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const node_id v = index(order[i], "order[" + std::to_string(i) + "]", n);
    if (seen[v]) fail("order[" + std::to_string(i) + "]", "node " + std::to_string(v) + " appears twice");
    seen[v] = 1;
    p.order.push_back(v);
  }
  p.stream_of.resize(n);
  p.wait_begin.assign(1, 0);
  for (std::size_t v = 0; v < n; ++v) {
    const std::string path = "nodes[" + std::to_string(v) + "]";
    if (!nodes[v].is_object()) fail(path, "expected an object, found " + std::string(js::kind_name(nodes[v].type())));
    p.stream_of[v] = index(member(nodes[v], path, "stream", js::kind::number), path + ".stream", p.num_streams);
    if (const auto* posv = nodes[v].find("position"))
      if (p.order[index(*posv, path + ".position", n)] != v) fail(path + ".position", "disagrees with \"order\"");
    const auto& w = member(nodes[v], path, "waits", js::kind::array).as_array();
    for (std::size_t k = 0; k < w.size(); ++k)
      p.wait_on.push_back(index(w[k], path + ".waits[" + std::to_string(k) + "]", n));
    p.wait_begin.push_back(static_cast<std::uint32_t>(p.wait_on.size()));
  }
  if (const auto* nw = root.find("num_waits"))
    if (!nw->is_number() || nw->as_number() != static_cast<double>(p.wait_on.size()))
      fail("num_waits", js::write(*nw) + " disagrees with the " + std::to_string(p.wait_on.size()) + " waits listed");
  return p;
}

} // namespace opara
