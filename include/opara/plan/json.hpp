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
#include <opara/plan/plan.hpp>
#include <opara/plan/shape.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace opara {

//! Version of the plan JSON format.
inline constexpr int plan_format_version = 1;

//! Plan `p` for graph `g` as pretty-printed JSON (format in this header). O(n + waits) time, and
//! memory for the text plus one node at a time. Throws
//! invalid_plan when `p` does not have the shape of a plan for g (check_plan_shape).
template <operator_graph G>
[[nodiscard]] std::string to_json(const plan& p, const G& g) {
  namespace json = detail::json;
  const std::size_t n = graph_traits<G>::num_nodes(g);
  const auto pos = detail::plan_shape_positions(p, n, "to_json");
  json::value root;
  root["opara_plan"] = plan_format_version;
  root["stream_policy"] = p.stream_policy;
  root["order_policy"] = p.order_policy;
  root["num_streams"] = p.num_streams;
  root["num_waits"] = p.num_waits();
  root["pruned_waits"] = p.pruned_waits;
  json::array order(p.order.begin(), p.order.end());
  root["order"] = std::move(order);
  // The nodes are written one at a time, each as the whole document's writer would at its depth,
  // so no tree of n JSON objects is ever held.
  std::string out = json::write(root, 2);
  out.resize(out.size() - 3);  // "\n}\n": the root goes on with "nodes"
  out += ",\n  \"nodes\": [";
  for (node_id v = 0; v < n; ++v) {
    json::value o;
    o["name"] = node_name(g, v);
    o["stream"] = p.stream_of[v];
    o["position"] = pos[v];
    const auto w = p.waits_of(v);
    o["waits"] = json::array(w.begin(), w.end());
    out += v == 0 ? "\n    " : ", \n    ";
    json::impl::write(out, o, 2, 2);
  }
  out += "\n  ]\n}\n";
  return out;
}

//! Reads a plan written by to_json(plan, g). Throws opara::parse_error for malformed JSON (with
//! line:column), another format version, a missing member or a value of the wrong type (naming
//! the JSON path), and opara::invalid_plan when the values do not form a plan (check_plan_shape:
//! an order that is not a permutation, a stream or wait index out of range, more streams than
//! nodes, a node waiting for one producer twice, more pruned waits than n nodes have edges), or an
//! unknown member (a misspelt field is an error, not ignored). It does not check the plan against
//! a graph: use validate for that.
[[nodiscard]] inline plan plan_from_json(std::string_view text) {
  namespace json = detail::json;
  constexpr std::string_view prefix = "opara: plan JSON: ";
  const json::value root = json::parse(text);
  const json::object_reader r(root, std::string(json::object_reader::root_path), prefix);
  const auto* ver = r.get("opara_plan");
  if (!ver) r.fail(r.path(), "missing \"opara_plan\" (not an opara plan)");
  if (!ver->is_number() || ver->as_number() != plan_format_version)
    r.fail("opara_plan", "unsupported plan format version " + json::write(*ver) + " (this opara reads version " +
                             std::to_string(plan_format_version) + ")");
  constexpr auto u32_max = std::numeric_limits<std::uint32_t>::max();
  r.only({"opara_plan", "stream_policy", "order_policy", "num_streams", "num_waits", "pruned_waits", "order", "nodes"});

  plan p;
  p.stream_policy = r.require("stream_policy", json::kind::string).as_string();
  p.order_policy = r.require("order_policy", json::kind::string).as_string();
  p.num_streams = r.integer<std::uint32_t>(r.require("num_streams", json::kind::number), "num_streams");
  p.pruned_waits = r.integer<std::size_t>(r.require("pruned_waits", json::kind::number), "pruned_waits");
  const auto& nodes = r.require("nodes", json::kind::array).as_array();
  const auto& order = r.require("order", json::kind::array).as_array();
  const std::size_t n = nodes.size();
  if (n >= u32_max) r.fail("nodes", "has " + std::to_string(n) + " entries, more than 32-bit node ids can name");
  p.order.reserve(order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    p.order.push_back(r.integer<node_id>(order[i], "order[" + std::to_string(i) + "]", u32_max - 1));
  p.stream_of.resize(n);
  p.wait_begin.assign(1, 0);
  std::vector<std::uint32_t> claimed(n, no_position);  // "position" members, checked against "order" below
  for (std::size_t v = 0; v < n; ++v) {
    const json::object_reader nr(nodes[v], "nodes[" + std::to_string(v) + "]", prefix);
    nr.only({"name", "stream", "position", "waits"});
    p.stream_of[v] = nr.integer<stream_id>(nr.require("stream", json::kind::number), nr.sub("stream"));
    if (const auto* claimed_at = nr.get("position")) claimed[v] = nr.integer<std::uint32_t>(*claimed_at, nr.sub("position"));
    const auto& w = nr.require("waits", json::kind::array).as_array();
    for (std::size_t k = 0; k < w.size(); ++k)
      p.wait_on.push_back(nr.integer<node_id>(w[k], nr.sub("waits") + "[" + std::to_string(k) + "]", u32_max - 1));
    if (p.wait_on.size() >= u32_max) r.fail("nodes", "lists more waits than 32-bit offsets can hold");
    p.wait_begin.push_back(static_cast<std::uint32_t>(p.wait_on.size()));
  }
  const auto pos = detail::plan_shape_positions(p, n, "plan_from_json");
  for (std::size_t v = 0; v < n; ++v)
    if (claimed[v] != no_position && claimed[v] != pos[v])
      r.fail("nodes[" + std::to_string(v) + "].position",
             std::to_string(claimed[v]) + " disagrees with \"order\", which launches node " + std::to_string(v) +
                 " at " + std::to_string(pos[v]));
  if (const auto* listed_waits = r.get("num_waits"))
    if (!listed_waits->is_number() || listed_waits->as_number() != static_cast<double>(p.wait_on.size()))
      r.fail("num_waits", json::write(*listed_waits) + " disagrees with the " + std::to_string(p.wait_on.size()) + " waits listed");
  return p;
}

} // namespace opara
