// The model-guided planner and policies (model/list_planner.hpp, streams/model_guided.hpp,
// order/model_guided.hpp): what the GPU model makes them choose.
#include <opara/gpu_model/model.hpp>
#include <opara/gpu_model/list_planner.hpp>
#include <opara/opara.hpp>
#include <opara/order/model_guided.hpp>
#include <opara/streams/model_guided.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/model_fixtures.hpp"

using namespace opara;
using namespace opara::test;

TEST_CASE("list_planner.streams_by_time_orders_and_finds_like_an_ordered_set") {
  // Random opens, moves to later times (with many equal times) and searches, against std::set of
  // (time, -index): the same order, the same first entry after a time, through block splits.
  using entry = opara::detail::streams_by_time::entry;
  opara::detail::streams_by_time streams;
  std::set<std::pair<double, std::int64_t>> reference;
  std::vector<double> avail;
  std::mt19937_64 rng(5);
  for (int step = 0; step < 20000; ++step) {
    if (avail.empty() || rng() % 4 == 0) {
      const double t = static_cast<double>(rng() % 64);
      const auto s = static_cast<std::uint32_t>(avail.size());
      streams.insert(entry{t, s});
      reference.emplace(t, -static_cast<std::int64_t>(s));
      avail.push_back(t);
    } else {
      const auto s = static_cast<std::uint32_t>(rng() % avail.size());
      const double t = avail[s] + static_cast<double>(rng() % 3);
      streams.move(s, avail[s], t);
      reference.erase({avail[s], -static_cast<std::int64_t>(s)});
      reference.emplace(t, -static_cast<std::int64_t>(s));
      avail[s] = t;
    }
    const double probe = static_cast<double>(rng() % 200) - 0.5;
    auto c = streams.first_after(probe);
    auto it = reference.upper_bound({probe, std::numeric_limits<std::int64_t>::max()});
    REQUIRE(streams.is_end(c) == (it == reference.end()));
    if (it != reference.end()) REQUIRE(streams[c].stream == static_cast<std::uint32_t>(-it->second));
    if (streams.prev(c)) REQUIRE(streams[c].stream == static_cast<std::uint32_t>(-std::prev(it)->second));
    else REQUIRE(it == reference.begin());
  }
  auto c = streams.begin();
  for (const auto& [t, minus_s] : reference) {
    REQUIRE(!streams.is_end(c));
    CHECK(streams[c].avail == t);
    CHECK(streams[c].stream == static_cast<std::uint32_t>(-minus_s));
    streams.next(c);
  }
  CHECK(streams.is_end(c));
}

TEST_CASE("list_planner.caps_streams_only_where_the_model_predicts_a_gain") {
  // A source, then 8 branches that each fill the GPU: no cap changes the prediction beyond a
  // second stream, so the most parallel placement stays (one stream per branch).
  graph_builder b;
  b.add_nodes(9);
  for (node_id v = 1; v < 9; ++v) b.add_edge(0, v);
  const graph g = b.build();
  std::vector<kernel_record> ks{kernel(1, 2)};
  for (int i = 0; i < 8; ++i) ks.push_back(kernel(132, 10));
  const auto topo = g.topological_order();
  const std::vector<node_id> order(topo.begin(), topo.end());
  const auto full = one_kernel_each(ks);
  CHECK(best_placement(g, order, full).streams.num_streams == 8);
  // A chain of three one-block 20 us kernels launched first, beside 6 fillers of 131 blocks: on a
  // stream each, the fillers that are eligible first take every SM the chain's next kernel needs;
  // on fewer streams they queue behind each other and the chain goes through. The model caps.
  graph_builder c;
  c.add_nodes(9);
  c.add_edge(6, 7).add_edge(7, 8);
  const graph chain = c.build();
  std::vector<kernel_record> mixed;
  for (int i = 0; i < 6; ++i) mixed.push_back(kernel(131, 10));
  for (int i = 0; i < 3; ++i) mixed.push_back(kernel(1, 20));
  const auto p = one_kernel_each(mixed);
  const std::vector<node_id> chain_first{6, 7, 8, 0, 1, 2, 3, 4, 5};
  model_planner_options unlimited;
  unlimited.stream_caps.clear();  // only the unlimited cap
  const auto wide = best_placement(chain, chain_first, p, unlimited);
  const auto capped = best_placement(chain, chain_first, p);
  CHECK(wide.streams.num_streams == 7);
  CHECK(capped.streams.num_streams < 7);
  CHECK(capped.predicted_us < 0.75 * wide.predicted_us);
  CHECK(capped.predicted_us < 60 + 2 * 0.6 + 5);  // about the chain alone
}

TEST_CASE("list_planner.a_branch_follows_its_producer_on_its_stream") {
  // Two chains a0 -> a1, b0 -> b1 of one-block kernels: each chain on its own stream, no crossing.
  const graph g = graph_of(4, {{0, 2}, {1, 3}});
  const auto p = one_kernel_each({kernel(1, 5), kernel(1, 5), kernel(1, 5), kernel(1, 5)});
  const auto placed = best_placement(g, std::vector<node_id>{0, 1, 2, 3}, p);
  REQUIRE(placed.streams.num_streams == 2);
  CHECK(placed.streams.stream_of[0] == placed.streams.stream_of[2]);
  CHECK(placed.streams.stream_of[1] == placed.streams.stream_of[3]);
}

TEST_CASE("list_planner.a_cheap_edge_along_a_stream_keeps_the_consumer_after_its_latest_producer") {
  // 0 (5 us) and 1 (8 us) in parallel, 2 consumes both. Without PDL, 2 starts at 8 + 1 wherever it
  // goes and follows the stream that frees last... with a cheap edge along a stream (PDL), it goes
  // after 1, its latest producer, and starts at 8 + 0.1 instead of 9.
  const graph g = graph_of(3, {{0, 2}, {1, 2}});
  const auto p = one_kernel_each({kernel(1, 5), kernel(1, 8), kernel(1, 5)});
  model_planner_options o;
  o.gpu = gpu_model{0, 1, 0};
  o.gpu.stream_dependency_us = 0.1;
  const std::vector<node_id> order{0, 1, 2};
  const auto placed = best_placement(g, order, p, o);
  REQUIRE(placed.streams.num_streams == 2);
  CHECK(placed.streams.stream_of[2] == placed.streams.stream_of[1]);
  CHECK(placed.predicted_us == doctest::Approx(8 + 0.1 + 5));
  // Without PDL the prediction is 8 + 1 + 5.
  o.gpu.stream_dependency_us = -1;
  CHECK(best_placement(g, order, p, o).predicted_us == doctest::Approx(8 + 1 + 5));
}

TEST_CASE("list_planner.critical_work_goes_first") {
  // A chain of 3 one-block 20 us kernels beside 6 fillers of 131 blocks (10 us): program order
  // launches the fillers first and they take every free SM before the chain's first kernel; the
  // model's order starts the chain at once on the SM the fillers leave free.
  const graph g = graph_of(9, {{6, 7}, {7, 8}});
  std::vector<kernel_record> ks;
  for (int i = 0; i < 6; ++i) ks.push_back(kernel(131, 10));
  for (int i = 0; i < 3; ++i) ks.push_back(kernel(1, 20));
  const auto p = one_kernel_each(ks);
  const auto chosen = model_schedule(g, p);
  const plan program = make_plan<streams::opara_greedy, order::program_order>(g, p);
  CHECK(chosen.order.front() == 6);
  CHECK(predicted_makespan_us(g, program, p) > 100);       // the chain waits for the fillers
  CHECK(chosen.placement.predicted_us < 60 + 2 * 0.6 + 5);  // the chain alone, plus latencies
}

TEST_CASE("model_guided.policies_give_the_schedule_the_model_chose") {
  static_assert(stream_allocation_policy<streams::model_guided>);
  static_assert(launch_order_policy<order::model_guided>);
  static_assert(order::model_guided::needs_profile);
  // A random layered graph of mixed kernels.
  std::mt19937 rng(5);
  graph_builder b;
  const int layers = 6, width = 12;
  b.add_nodes(layers * width);
  for (int l = 1; l < layers; ++l)
    for (int i = 0; i < width; ++i)
      for (int k = 0; k < 2; ++k) b.add_edge((l - 1) * width + rng() % width, l * width + i);
  const graph g = b.build();
  std::vector<kernel_record> ks;
  for (int v = 0; v < layers * width; ++v)
    ks.push_back(kernel(1 + rng() % 200, 2 + rng() % 30, (1 + rng() % 8) / 64.0 * 8));
  const auto p = one_kernel_each(ks);
  const auto chosen = model_schedule(g, p);
  streams::model_guided s;
  s.profile = &p;
  const plan made = make_plan(g, &p, {}, s, order::model_guided{});
  validate(made, g);
  CHECK(made.order == chosen.order);
  CHECK(predicted_makespan_us(g, made, p) == doctest::Approx(chosen.placement.predicted_us));
  // No worse, in the model, than the topology-only policies.
  for (const plan& other : {make_plan<streams::opara_greedy, order::resource_aware>(g, p),
                            make_plan<streams::min_path_cover, order::critical_path_first>(g, p),
                            make_plan<streams::sequential, order::program_order>(g, p)})
    CHECK(chosen.placement.predicted_us <= predicted_makespan_us(g, other, p) + 1e-9);
  // make_plan hands the plan's profile to the stream policy: no member needed.
  static_assert(profile_reading_stream_policy<streams::model_guided>);
  static_assert(!profile_reading_stream_policy<streams::opara_greedy>);
  const plan handed = make_plan(g, &p, {}, streams::model_guided{}, order::model_guided{});
  CHECK(handed.stream_of == made.stream_of);
  CHECK(handed.num_streams == made.num_streams);
  // Without a profile: equal durations on at most streams_without_profile streams.
  streams::model_guided blind;
  blind.streams_without_profile = 3;
  const plan guessed = make_plan(g, nullptr, {}, blind, order::program_order{});
  validate(guessed, g);
  CHECK(guessed.num_streams <= 3);
  CHECK(guessed.stream_of != make_plan(g, &p, {}, blind, order::program_order{}).stream_of);
  blind.streams_without_profile = 0;
  CHECK_THROWS_AS((void)make_plan(g, nullptr, {}, blind, order::program_order{}), bad_policy);
  // The member, when set, is the profile the policy reads, even when make_plan has another.
  auto flat = p;
  for (auto& op : flat.ops) op.kernels.assign(1, kernel(132, 5));
  streams::model_guided pinned;
  pinned.profile = &flat;
  CHECK(make_plan(g, &p, {}, pinned, order::program_order{}).stream_of ==
        make_plan(g, &flat, {}, streams::model_guided{}, order::program_order{}).stream_of);
  CHECK_THROWS_AS((void)make_plan(g, nullptr, {}, streams::sequential{}, order::model_guided{}), bad_policy);
}

TEST_CASE("model_guided.labels_name_every_option_that_changes_the_plan") {
  // Autotune's cache tells candidates apart by label: one option missing from it, and a choice
  // made under the old value is reused under the new one.
  static_assert(sizeof(gpu_model) == 5 * sizeof(double),
                "a new gpu_model field changes the plan: name it in detail::model_options_label and here");
  CHECK(streams::model_guided{}.label() == "model_guided");  // the defaults: autotune's labels as before
  CHECK(order::model_guided{}.label() == "model_guided");
  std::vector<model_planner_options> variants(8);
  variants[0].gpu.launch_us = 0.5;
  variants[1].gpu.dependency_us = 0.3;
  variants[2].gpu.submit_us = 4;
  variants[3].gpu.stream_dependency_us = 0.05;
  variants[4].gpu.wait_us = 0.2;
  variants[5].stream_caps = {1, 4};
  variants[6].tolerance = 0.05;
  variants[7].tolerance = std::nextafter(model_planner_options{}.tolerance, 1.0);  // no rounding in the text
  std::vector<std::string> stream_labels, order_labels;
  for (const auto& o : variants) {
    streams::model_guided s;
    s.options = o;
    order::model_guided r;
    r.options = o;
    stream_labels.push_back(s.label());
    order_labels.push_back(r.label());
  }
  streams::model_guided blind;
  blind.streams_without_profile = 3;
  stream_labels.push_back(blind.label());
  stream_labels.push_back(streams::model_guided{}.label());
  order_labels.push_back(order::model_guided{}.label());
  for (const auto* labels : {&stream_labels, &order_labels}) {
    auto sorted = *labels;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());  // all different
  }
  CHECK(stream_labels[1] == "model_guided[dependency_us=0.3]");
  CHECK(order_labels[5] == "model_guided[stream_caps={1,4}]");
  CHECK(stream_labels[8] == "model_guided[streams_without_profile=3]");
  // Caps are read ascending, without repeats or zero: lists that plan alike are labelled alike.
  order::model_guided same;
  same.options.stream_caps = {4, 0, 1, 4};
  CHECK(same.label() == order_labels[5]);
  // The label travels into the autotune candidate's name through policy_label.
  CHECK(policy_label(blind) == blind.label());
}

TEST_CASE("model_guided.large_graphs_are_planned_on_a_window") {
  // Above detail::planner_window operators the cap and the order are chosen on a window; the
  // policies still give the schedule model_schedule chose, and the plan is valid.
  std::mt19937 rng(11);
  const int layers = 60, width = 50;
  static_assert(layers * width > detail::planner_window);
  graph_builder b;
  b.add_nodes(layers * width);
  for (int l = 1; l < layers; ++l)
    for (int i = 0; i < width; ++i)
      for (int k = 0; k < 2; ++k) b.add_edge((l - 1) * width + rng() % width, l * width + i);
  const graph g = b.build();
  std::vector<kernel_record> ks;
  for (int v = 0; v < layers * width; ++v)
    ks.push_back(kernel(1 + rng() % 300, 2 + rng() % 30, (1 + rng() % 8) / 64.0 * 8));
  const auto p = one_kernel_each(ks);
  const auto chosen = model_schedule(g, p);
  REQUIRE(chosen.order.size() == g.num_nodes());
  CHECK(std::isfinite(chosen.placement.predicted_us));
  CHECK(chosen.placement.streams.num_streams <= chosen.placement.cap);
  const plan made = make_plan(g, &p, {}, streams::model_guided{}, order::model_guided{});
  validate(made, g);
  CHECK(made.order == chosen.order);
  CHECK(predicted_makespan_us(g, made, p) == doctest::Approx(chosen.placement.predicted_us));
  const auto placed = best_placement(g, chosen.order, p);
  CHECK(placed.streams.stream_of == chosen.placement.streams.stream_of);
  CHECK(placed.cap == chosen.placement.cap);
  CHECK(placed.predicted_us == doctest::Approx(chosen.placement.predicted_us));
}

TEST_CASE("model_guided.large_graphs_flatten_only_the_windows_and_check_every_duration") {
  // Above detail::planner_window operators the policies flatten only the windows' operators
  // (detail::model_input with a source profile): the same costs and the same window kernels as the
  // whole flattened profile, and a bad duration anywhere is still refused, naming its operator.
  std::mt19937 rng(5);
  const node_id n = 3000;
  static_assert(3000 > detail::planner_window);
  graph_builder b;
  b.add_nodes(n);
  for (node_id v = 1; v < n; ++v)
    for (int k = 0; k < 2; ++k) b.add_edge(static_cast<node_id>(rng() % v), v);
  const graph g = b.build();
  std::vector<kernel_record> ks;
  for (node_id v = 0; v < n; ++v) ks.push_back(kernel(1 + rng() % 5000, 0.5 + rng() % 300, (1 + rng() % 8) / 64.0 * 8));
  auto p = one_kernel_each(ks);
  for (node_id v = 0; v < n; v += 7) p.ops[v].kernels.push_back(kernel(1 + rng() % 900, 3.25));  // two kernels
  for (node_id v = 3; v < n; v += 11) p.ops[v].kernels.clear();  // event-timed
  const model_planner_options o{};
  const auto whole = detail::model_input_of(g, p, o, "test");
  const auto windowed = detail::model_input_of(g, p, o, "test", true);
  CHECK(whole.source == nullptr);
  REQUIRE(windowed.source == &p);
  CHECK(windowed.m.kernels.empty());
  CHECK(windowed.cost == whole.cost);  // exactly
  CHECK(windowed.m.batches == whole.m.batches);
  CHECK(windowed.m.capacity == whole.m.capacity);
  std::vector<node_id> nodes;
  for (node_id v = n; v-- > 0 && nodes.size() < detail::planner_window;)
    if (v % 2 == 0) nodes.push_back(v);
  std::vector<node_id> local(n, no_node);
  const auto a = detail::window_of(g, nodes, whole, local);
  const auto w = detail::window_of(g, nodes, windowed, local);
  CHECK(w.m.first == a.m.first);
  REQUIRE(w.m.kernels.size() == a.m.kernels.size());
  for (std::size_t k = 0; k < a.m.kernels.size(); ++k) {
    CHECK(w.m.kernels[k].duration_us == a.m.kernels[k].duration_us);
    CHECK(w.m.kernels[k].block_us == a.m.kernels[k].block_us);
    CHECK(w.m.kernels[k].blocks == a.m.kernels[k].blocks);
    CHECK(w.m.kernels[k].units == a.m.kernels[k].units);
  }
  CHECK(w.cost == a.cost);
  CHECK(w.g.num_edges() == a.g.num_edges());
  CHECK(std::all_of(local.begin(), local.end(), [](node_id x) { return x == no_node; }));
  // The policies plan as model_schedule does (it flattens the whole profile).
  const auto chosen = model_schedule(g, p);
  const plan made = make_plan(g, &p, {}, streams::model_guided{}, order::model_guided{});
  CHECK(made.order == chosen.order);
  CHECK(predicted_makespan_us(g, made, p) == doctest::Approx(chosen.placement.predicted_us));
  // A duration outside every window is refused all the same, naming the operator and kernel.
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const error& e) {
      return std::string(e.what());
    }
    return std::string("no refusal");
  };
  p.ops[n - 2].kernels.back().duration_us = std::numeric_limits<double>::quiet_NaN();
  std::string m = message([&] { (void)make_plan(g, &p, {}, streams::sequential{}, order::model_guided{}); });
  CHECK(m.find("launch order policy 'model_guided'") != std::string::npos);
  CHECK(m.find("of operator " + std::to_string(n - 2)) != std::string::npos);
  m = message([&] { (void)make_plan(g, &p, {}, streams::model_guided{}, order::program_order{}); });
  CHECK(m.find("stream policy 'model_guided'") != std::string::npos);
  CHECK(m.find("of operator " + std::to_string(n - 2)) != std::string::npos);
  CHECK(message([&] { (void)detail::model_input_of(g, p, o, "w", true); }) ==
        message([&] { (void)detail::model_input_of(g, p, o, "w"); }));
  p.ops[n - 2].kernels.back().duration_us = 1;
  p.ops[n - 1].kernels.clear();  // event-timed, with a negative time
  p.ops[n - 1].duration_us = -2;
  CHECK(message([&] { (void)detail::model_input_of(g, p, o, "w", true); }) ==
        message([&] { (void)detail::model_input_of(g, p, o, "w"); }));
  m = message([&] { (void)make_plan(g, &p, {}, streams::model_guided{}, order::program_order{}); });
  CHECK(m.find("operator " + std::to_string(n - 1)) != std::string::npos);
}

TEST_CASE("model_guided.refusals_name_the_policy_and_what_to_do") {
  const graph g = graph_of(2, {{0, 1}});
  auto p = one_kernel_each({kernel(1, 5), kernel(1, 5)});
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no refusal");
  };
  auto internal = [](const std::string& m) {
    return m.find("best_placement") != std::string::npos || m.find("model_schedule") != std::string::npos ||
           m.find("detail") != std::string::npos;
  };
  // A profile of another graph (make_plan refuses it first; the policy on its own too).
  auto short_profile = p;
  short_profile.ops.pop_back();
  const std::vector<node_id> order{0, 1};
  std::string m = message([&] { (void)streams::model_guided{}.assign(g, order, &short_profile); });
  CHECK(m.find("stream policy 'model_guided'") != std::string::npos);
  CHECK(m.find("pass a profile of this graph") != std::string::npos);
  CHECK_FALSE(internal(m));
  CHECK_THROWS_AS((void)streams::model_guided{}.assign(g, order, &short_profile), bad_policy);
  // A duration the model cannot use.
  p.ops[1].kernels[0].duration_us = -1;
  m = message([&] { (void)make_plan(g, &p, {}, streams::model_guided{}, order::program_order{}); });
  CHECK(m.find("stream policy 'model_guided'") != std::string::npos);
  CHECK(m.find("operator 1") != std::string::npos);
  CHECK(m.find("measure that operator again or correct its record") != std::string::npos);
  CHECK_FALSE(internal(m));
  m = message([&] { (void)make_plan(g, &p, {}, streams::sequential{}, order::model_guided{}); });
  CHECK(m.find("launch order policy 'model_guided'") != std::string::npos);
  CHECK_FALSE(internal(m));
  // Options the model cannot use.
  p.ops[1].kernels[0].duration_us = 5;
  order::model_guided bad_order;
  bad_order.options.tolerance = -1;
  m = message([&] { (void)make_plan(g, &p, {}, streams::sequential{}, bad_order); });
  CHECK(m.find("launch order policy 'model_guided'") != std::string::npos);
  CHECK(m.find("options.tolerance") != std::string::npos);
  CHECK_FALSE(internal(m));
  streams::model_guided bad_streams;
  bad_streams.options.gpu.launch_us = std::numeric_limits<double>::infinity();
  m = message([&] { (void)make_plan(g, &p, {}, bad_streams, order::program_order{}); });
  CHECK(m.find("stream policy 'model_guided'") != std::string::npos);
  CHECK_FALSE(internal(m));
  bad_streams = {};
  bad_streams.streams_without_profile = 0;
  m = message([&] { (void)make_plan(g, nullptr, {}, bad_streams, order::program_order{}); });
  CHECK(m.find("stream policy 'model_guided'") != std::string::npos);
  CHECK(m.find("streams_without_profile") != std::string::npos);
}
