// capture::key: every option of capture::options that changes what is captured is in the key, and
// a new option cannot be added without saying whether it is (CPU only: options.hpp needs no CUDA).
#include <opara/cuda/capture/options.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace {

// How many fields an aggregate has: the most initializers `T{...}` takes.
struct any_value {
  template <class T>
  operator T() const;  // never defined: only used in unevaluated requires-expressions
};
template <class T, class... Given>
constexpr std::size_t field_count() {
  if constexpr (requires { T{Given{}..., any_value{}}; }) return field_count<T, Given..., any_value>();
  else return sizeof...(Given);
}

using opara::capture::key;
using opara::capture::make_key;
using opara::capture::options;

// Each field of capture::options, changed from its default. `keyed`: it changes the graph built,
// so two option sets that differ in it must have different keys (and labels).
struct field_change {
  const char* name;
  bool keyed;
  std::function<void(options&)> change;
};

std::vector<field_change> every_field() {
  return {
      {"nvtx", false, [](options& o) { o.nvtx = true; }},
      {"require_work", false, [](options& o) { o.require_work = false; }},
      {"mode", false, [](options& o) { o.mode = opara::capture::capture_mode::global; }},
      {"programmatic", true, [](options& o) { o.programmatic = false; }},
      {"programmatic_edges", true, [](options& o) { o.programmatic_edges = opara::capture::programmatic_scope::all; }},
      {"priorities", true, [](options& o) { o.priorities = true; }},
      {"priority_slack", true, [](options& o) { o.priority_slack = 0.2; }},
      {"priority_costs", true, [](options& o) { o.priority_costs = {1.0, 2.0}; }},
      {"shared_carveout", true, [](options& o) { o.shared_carveout = -1; }},
      {"launch_segments", true, [](options& o) { o.launch_segments = 1; }},
      {"segment_growth", true, [](options& o) { o.segment_growth = 5.0; }},
  };
}

} // namespace

// A new field of capture::options fails here until it is added to every_field() above, and to
// capture::key (with make_key and to_string) or to the key's list of options left out.
static_assert(field_count<options>() == 11,
              "capture::options gained or lost a field: classify it in tests/capture_key.cpp and capture::key");
static_assert(field_count<key>() == 9, "capture::key gained or lost a field: update make_key, to_string and this test");

TEST_CASE("capture key: every option that changes the graph changes the key") {
  const std::vector<field_change> fields = every_field();
  REQUIRE(fields.size() == field_count<options>());
  const key plain = make_key("stream_capture", options{});
  CHECK(to_string(plain) == "stream_capture");
  for (const field_change& field : fields) {
    CAPTURE(field.name);
    options changed;
    field.change(changed);
    const key k = make_key("stream_capture", changed);
    if (field.keyed) {
      CHECK(k != plain);
      CHECK((k < plain || plain < k));
      CHECK(to_string(k) != to_string(plain));  // the label formats the key: it tells them apart too
    } else {
      CHECK(k == plain);  // checked or traced differently, captured alike
    }
  }
  // The policy is part of the key.
  CHECK(make_key("explicit_graph(dag)", options{}) != plain);
}

TEST_CASE("capture key: labels of the defaults and the usual changes") {
  options o;
  o.shared_carveout = 25;
  CHECK(to_string(make_key("stream_capture", o)) == "stream_capture+carveout25");
  o = {};
  o.launch_segments = 1;
  o.segment_growth = 5;
  CHECK(to_string(make_key("stream_capture", o)) == "stream_capture+segments1g5");
  o = {};
  o.programmatic = false;
  o.priorities = true;
  CHECK(to_string(make_key("explicit_graph", o)) == "explicit_graph+no_pdl+priorities");
}
