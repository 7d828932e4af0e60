#pragma once
//! Exception hierarchy of opara. Everything opara throws on the host derives from opara::error.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace opara {

//! Base of every exception opara throws.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

//! The input graph is malformed: unknown node, self-loop, empty graph.
class bad_graph : public error {
public:
  using error::error;
};

//! The input graph has a cycle; `cycle()` holds the node ids on one cycle, in order.
class not_a_dag : public bad_graph {
public:
  not_a_dag(const std::string& what, std::vector<std::uint32_t> cycle)
      : bad_graph(what), cycle_(std::move(cycle)) {}
  //! Node ids on one cycle, each followed by its successor on the cycle (the last closes it).
  [[nodiscard]] const std::vector<std::uint32_t>& cycle() const noexcept { return cycle_; }

private:
  std::vector<std::uint32_t> cycle_;
};

//! A policy cannot plan the given graph (a cap of zero streams, a profile of the wrong size...).
class bad_policy : public error {
public:
  using error::error;
};

//! A plan does not honour the graph: `validate` names the first broken dependency.
class invalid_plan : public error {
public:
  using error::error;
};

//! Malformed or mismatched serialized data (JSON profiles, plans, weight files).
class parse_error : public error {
public:
  using error::error;
};

} // namespace opara
