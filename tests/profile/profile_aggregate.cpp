// profile/aggregate.hpp: the CPU half of the CUPTI profiler (tags, grouping, averaging).
#include <opara/profile/aggregate.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

opara::kernel_activity kernel(std::uint64_t tag, std::uint64_t start_ns, const std::string& name, double us,
                              std::uint32_t grid_x = 1) {
  opara::kernel_activity a;
  a.tag = tag;
  a.start_ns = start_ns;
  a.record.name = name;
  a.record.grid = {grid_x, 1, 1};
  a.record.duration_us = us;
  return a;
}

std::uint64_t tag(std::uint32_t run, opara::node_id node, std::size_t num_nodes) {
  return opara::operator_tag{run, node}.encode(num_nodes);
}

} // namespace

TEST_CASE("profile_aggregate.tags_round_trip_and_reject_what_is_out_of_range") {
  for (std::uint32_t run = 0; run < 3; ++run) {
    for (opara::node_id node = 0; node < 5; ++node) {
      const std::uint64_t id = tag(run, node, 5);
      CHECK(id != 0);
      const auto back = opara::operator_tag::decode(id, 5, 3);
      REQUIRE(back.has_value());
      CHECK(back->run == run);
      CHECK(back->node == node);
    }
  }
  CHECK_FALSE(opara::operator_tag::decode(0, 5, 3).has_value());        // no tag
  CHECK_FALSE(opara::operator_tag::decode(3 * 5 + 1, 5, 3).has_value());  // a fourth run
  CHECK_FALSE(opara::operator_tag::decode(1, 0, 3).has_value());        // an empty graph
  // The largest graph and run count still encode without wrapping.
  const opara::operator_tag last{0xffffffffu, 0xfffffffeu};
  const auto id = last.encode(0xffffffffu);
  const auto back = opara::operator_tag::decode(id, 0xffffffffu, 0x100000000ull);
  REQUIRE(back.has_value());
  CHECK(back->run == last.run);
  CHECK(back->node == last.node);
}

TEST_CASE("profile_aggregate.groups_by_operator_in_start_order_and_averages_runs") {
  // Two operators, two runs. Operator 0 launches kernels "a" then "b"; operator 1 launches "c".
  // Handed over out of order, as CUPTI's buffers may deliver them.
  std::vector<opara::kernel_activity> seen = {
      kernel(tag(1, 0, 2), 500, "b", 6.0), kernel(tag(0, 0, 2), 110, "b", 4.0, 7),
      kernel(tag(0, 1, 2), 200, "c", 10.0), kernel(tag(0, 0, 2), 100, "a", 1.0, 3),
      kernel(tag(1, 0, 2), 400, "a", 3.0),  kernel(tag(1, 1, 2), 450, "c", 20.0),
  };
  const auto out = opara::aggregate_kernels(seen, 2, 2);
  CHECK(out.unattributed == 0);
  REQUIRE(out.ops.size() == 2);
  REQUIRE(out.ops[0].kernels.size() == 2);
  CHECK(out.ops[0].kernels[0].name == "a");
  CHECK(out.ops[0].kernels[0].grid[0] == 3);  // the first run's record
  CHECK(out.ops[0].kernels[0].duration_us == doctest::Approx(2.0));
  CHECK(out.ops[0].kernels[1].name == "b");
  CHECK(out.ops[0].kernels[1].grid[0] == 7);
  CHECK(out.ops[0].kernels[1].duration_us == doctest::Approx(5.0));
  CHECK(out.ops[0].duration_us == doctest::Approx((1.0 + 4.0 + 3.0 + 6.0) / 2));
  REQUIRE(out.ops[1].kernels.size() == 1);
  CHECK(out.ops[1].kernels[0].duration_us == doctest::Approx(15.0));
  CHECK(out.ops[1].duration_us == doctest::Approx(15.0));
  CHECK(out.ops[1].bound == opara::boundness::unknown);  // boundness is the profiler's business
}

TEST_CASE("profile_aggregate.a_run_with_other_kernels_counts_for_the_duration_only") {
  // Run 0 and 2 launch one kernel; run 1 launches two (say, a workspace clear on first use).
  std::vector<opara::kernel_activity> seen = {
      kernel(tag(0, 0, 1), 0, "k", 10.0),
      kernel(tag(1, 0, 1), 10, "clear", 5.0), kernel(tag(1, 0, 1), 20, "k", 12.0),
      kernel(tag(2, 0, 1), 30, "k", 14.0),
  };
  const auto out = opara::aggregate_kernels(seen, 1, 3);
  REQUIRE(out.ops[0].kernels.size() == 1);
  CHECK(out.ops[0].kernels[0].name == "k");
  CHECK(out.ops[0].kernels[0].duration_us == doctest::Approx(12.0));  // runs 0 and 2 only
  CHECK(out.ops[0].duration_us == doctest::Approx((10.0 + 17.0 + 14.0) / 3));
}

TEST_CASE("profile_aggregate.untagged_and_out_of_range_kernels_are_counted_not_kept") {
  std::vector<opara::kernel_activity> seen = {
      kernel(0, 5, "library_init", 3.0),              // launched outside any operator
      kernel(tag(3, 0, 2), 6, "later_run", 3.0),      // a run the session did not make
      kernel(tag(0, 1, 2), 7, "ok", 2.0),
  };
  const auto out = opara::aggregate_kernels(seen, 2, 1);
  CHECK(out.unattributed == 2);
  CHECK(out.ops[0].kernels.empty());
  CHECK(out.ops[0].duration_us == 0);
  REQUIRE(out.ops[1].kernels.size() == 1);
  CHECK(out.ops[1].duration_us == doctest::Approx(2.0));
}

TEST_CASE("profile_aggregate.zero_runs_is_an_error") {
  CHECK_THROWS_AS((void)opara::aggregate_kernels({}, 3, 0), opara::bad_policy);
  const auto empty = opara::aggregate_kernels({}, 3, 1);
  CHECK(empty.ops.size() == 3);
  CHECK(empty.unattributed == 0);
}

TEST_CASE("profile_aggregate.operators_whose_kernels_came_from_a_helper_thread_are_reported") {
  // Operator 1 launched its kernel from a helper thread: CUPTI tied it to no operator.
  const std::vector<opara::kernel_activity> seen = {kernel(tag(0, 0, 3), 10, "a", 5), kernel(0, 20, "from_helper", 40),
                                                    kernel(tag(0, 2, 3), 90, "c", 5)};
  const auto aggregate = opara::aggregate_kernels(seen, 3, 1);
  CHECK(aggregate.unattributed == 1);
  CHECK(aggregate.ops[1].kernels.empty());
  CHECK(aggregate.ops[1].duration_us == 0);
  REQUIRE(aggregate.without_kernels == std::vector<opara::node_id>{1});
  const std::string said =
      opara::unattributed_operators_message(aggregate, [](opara::node_id v) { return "op" + std::to_string(v); });
  CHECK(said.find("1 operator(s) launched no kernel tied to them (op1)") != std::string::npos);
  CHECK(said.find("1 kernel(s) were tied to no operator") != std::string::npos);
  CHECK(said.find("profiler::events") != std::string::npos);
  // Nothing unattributed (an operator that launches nothing, say a view): nothing to say.
  const auto quiet = opara::aggregate_kernels({kernel(tag(0, 0, 2), 1, "a", 5)}, 2, 1);
  CHECK(quiet.without_kernels == std::vector<opara::node_id>{1});
  CHECK(opara::unattributed_operators_message(quiet, [](opara::node_id) { return "x"; }).empty());
  // An operator with kernels in a later run only is not reported.
  const auto later = opara::aggregate_kernels({kernel(tag(1, 0, 1), 1, "a", 5), kernel(0, 2, "b", 1)}, 1, 2);
  CHECK(later.without_kernels.empty());
}
