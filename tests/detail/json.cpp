// JSON value/parser/writer and the profile JSON format.
#include <opara/detail/json.hpp>
#include <opara/profile/json.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include <unistd.h>

namespace js = opara::detail::json;

namespace {

// The message of the parse_error `text` raises ("" if it parses).
std::string parse_message(std::string_view text) {
  try {
    (void)js::parse(text);
  } catch (const opara::parse_error& e) {
    return e.what();
  }
  return {};
}

std::string profile_message(std::string_view text) {
  try {
    (void)opara::profile_from_json(text);
  } catch (const opara::parse_error& e) {
    return e.what();
  }
  return {};
}

opara::profile sample_profile() {
  opara::profile p;
  p.key = {"NVIDIA H100 80GB HBM3 \"quoted\" \\ é", 132, 13000, "0123456789abcdef",
           "GPU-5c0e3a8e-1f2b-4c3d-9e8f-0123456789ab", "580.159.04", "batch=8 \"224x224\""};
  p.limits = {132, 232448, 233472, 65536, 2048, 32};
  p.source = "cupti";
  opara::operator_record a;
  a.duration_us = 12.345678901234567;
  a.bound = opara::boundness::memory;
  a.kernels.push_back({"void relu<float>(float*, int)\n\ttab", {64, 2, 3}, {256, 1, 1}, 32, 0, 1024, 0.1 + 0.2, 0.75});
  a.kernels.push_back({"gemm", {4294967295u, 1, 1}, {1024, 1, 1}, 255, 49152, 183296, 1e-300, 1});
  opara::operator_record b;
  b.duration_us = 3.0;
  b.bound = opara::boundness::compute;
  opara::operator_record c;  // all defaults
  p.ops = {a, b, c};
  return p;
}

void check_equal(const opara::profile& x, const opara::profile& y) {
  CHECK(x.key.device_name == y.key.device_name);
  CHECK(x.key.sm_count == y.key.sm_count);
  CHECK(x.key.driver_version == y.key.driver_version);
  CHECK(x.key.graph_fingerprint == y.key.graph_fingerprint);
  CHECK(x.key.device_uuid == y.key.device_uuid);
  CHECK(x.key.driver_release == y.key.driver_release);
  CHECK(x.key.user_key == y.key.user_key);
  CHECK(x.key == y.key);
  CHECK(x.limits.sm_count == y.limits.sm_count);
  CHECK(x.limits.shared_bytes_per_block == y.limits.shared_bytes_per_block);
  CHECK(x.limits.shared_bytes_per_sm == y.limits.shared_bytes_per_sm);
  CHECK(x.limits.registers_per_sm == y.limits.registers_per_sm);
  CHECK(x.limits.max_threads_per_sm == y.limits.max_threads_per_sm);
  CHECK(x.limits.max_blocks_per_sm == y.limits.max_blocks_per_sm);
  CHECK(x.source == y.source);
  REQUIRE(x.ops.size() == y.ops.size());
  for (std::size_t i = 0; i < x.ops.size(); ++i) {
    CHECK(x.ops[i].duration_us == y.ops[i].duration_us);  // exact, not approximate
    CHECK(x.ops[i].bound == y.ops[i].bound);
    REQUIRE(x.ops[i].kernels.size() == y.ops[i].kernels.size());
    for (std::size_t j = 0; j < x.ops[i].kernels.size(); ++j) {
      const auto& k = x.ops[i].kernels[j];
      const auto& l = y.ops[i].kernels[j];
      CHECK(k.name == l.name);
      CHECK(k.grid == l.grid);
      CHECK(k.block == l.block);
      CHECK(k.registers_per_thread == l.registers_per_thread);
      CHECK(k.static_shared_bytes == l.static_shared_bytes);
      CHECK(k.dynamic_shared_bytes == l.dynamic_shared_bytes);
      CHECK(k.duration_us == l.duration_us);
      CHECK(k.occupancy == l.occupancy);
    }
  }
}

} // namespace

TEST_CASE("json.parses_every_kind") {
  const auto v = js::parse(R"( {"a": [1, -2.5e3, 0, -0, 1E+2], "b": {"c": null, "d": true, "e": false},
                                "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"} )");
  REQUIRE(v.is_object());
  const auto& a = v.find("a")->as_array();
  REQUIRE(a.size() == 5);
  CHECK(a[0].as_number() == 1);
  CHECK(a[1].as_number() == -2500);
  CHECK(a[4].as_number() == 100);
  CHECK(std::signbit(a[3].as_number()));
  CHECK(v.find("b")->find("c")->is_null());
  CHECK(v.find("b")->find("d")->as_bool());
  CHECK_FALSE(v.find("b")->find("e")->as_bool());
  CHECK(v.find("s")->as_string() == "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.find("missing") == nullptr);
  CHECK_THROWS_AS((void)v.find("a")->as_string(), opara::parse_error);
}

TEST_CASE("json.round_trips_values_exactly") {
  js::value v;
  v["pi"] = 3.141592653589793;
  v["third"] = 1.0 / 3.0;
  v["tiny"] = 5e-324;
  v["huge"] = 1.7976931348623157e308;
  v["big_int"] = 9007199254740992.0;
  v["neg_zero"] = -0.0;
  v["ctrl"] = std::string("\x01\x1f", 2);
  v["list"].push_back(1);
  v["list"].push_back(js::object{});
  v["list"].push_back(js::array{});
  for (int indent : {-1, 0, 2}) {
    const auto back = js::parse(js::write(v, indent));
    CHECK(back == v);
    CHECK(std::signbit(back.find("neg_zero")->as_number()));
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    double d;
    do {
      const std::uint64_t bits = rng();
      std::memcpy(&d, &bits, sizeof d);
    } while (!std::isfinite(d));
    CHECK(js::parse(js::write(js::value(d))).as_number() == d);
  }
  CHECK(js::write(js::value(132)) == "132");
  CHECK(js::write(js::value(0.1)) == "0.1");
}

TEST_CASE("json.pretty_writer_keeps_scalar_arrays_on_one_line") {
  js::value v;
  v["grid"] = js::array{1, 2, 3};
  const auto text = js::write(v, 2);
  CHECK(text == "{\n  \"grid\": [1, 2, 3]\n}\n");
  CHECK(js::write(v) == R"({"grid":[1,2,3]})");
}

TEST_CASE("json.writer_rejects_non_finite_numbers") {
  CHECK_THROWS_AS((void)js::write(js::value(std::numeric_limits<double>::quiet_NaN())), opara::error);
  CHECK_THROWS_AS((void)js::write(js::value(std::numeric_limits<double>::infinity())), opara::error);
}

TEST_CASE("json.malformed_input_names_line_and_column") {
  CHECK(parse_message("{\"a\": 1,\n  \"b\": }") == "opara: invalid JSON at 2:8: expected a value, found '}'");
  CHECK(parse_message("[1, 2,]") == "opara: invalid JSON at 1:7: expected a value, found ']'");
  CHECK(parse_message("{\"a\": 1,}") == "opara: invalid JSON at 1:9: expected a string key, found '}'");
  CHECK(parse_message("[1 2]") == "opara: invalid JSON at 1:4: expected ',' or ']' in array, found '2'");
  CHECK(parse_message("{\"a\" 1}") == "opara: invalid JSON at 1:6: expected ':' after object key, found '1'");
  CHECK(parse_message("012") == "opara: invalid JSON at 1:1: leading zeros are not allowed in numbers");
  CHECK(parse_message("1.") == "opara: invalid JSON at 1:3: expected a digit after the decimal point, found end of input");
  CHECK(parse_message("\n\n  \"abc") == "opara: invalid JSON at 3:3: unterminated string");
  CHECK(parse_message("{} x") == "opara: invalid JSON at 1:4: unexpected text after the JSON value");
  CHECK(parse_message("") == "opara: invalid JSON at 1:1: expected a value, found end of input");
  CHECK(parse_message("{\"a\":1,\"a\":2}") == "opara: invalid JSON at 1:8: duplicate key \"a\"");
  CHECK(parse_message("tru") == "opara: invalid JSON at 1:1: invalid literal (expected 'true')");
  CHECK(parse_message("\"\\x\"") == "opara: invalid JSON at 1:2: invalid escape '\\x' in string");
  CHECK(parse_message("1e999") == "opara: invalid JSON at 1:1: number out of range of a double");
  CHECK_FALSE(parse_message("\"a\tb\"").empty());        // raw control character
  CHECK_FALSE(parse_message("\"\\ud800\"").empty());     // lone surrogate
  CHECK_FALSE(parse_message("\"\xff\"").empty());        // invalid UTF-8
  CHECK_FALSE(parse_message("\"\xc0\xaf\"").empty());    // overlong UTF-8
  CHECK_FALSE(parse_message("// c\n1").empty());         // comments
  CHECK_FALSE(parse_message("'a'").empty());
  CHECK_FALSE(parse_message("NaN").empty());
  CHECK_FALSE(parse_message("+1").empty());
  CHECK_FALSE(parse_message(std::string(600, '[') + std::string(600, ']')).empty());  // too deep
  CHECK(parse_message(std::string(500, '[') + std::string(500, ']')).empty());
  CHECK(parse_message("1e-999").empty());  // underflow reads as 0
}

TEST_CASE("profile_json.round_trips_exactly") {
  const auto p = sample_profile();
  const auto text = opara::to_json(p);
  CHECK(text.find("\"opara_profile\": 2") != std::string::npos);
  CHECK(text.find("\"bound\": \"memory\"") != std::string::npos);
  CHECK(text.find("\"grid\": [64, 2, 3]") != std::string::npos);
  const auto q = opara::profile_from_json(text);
  check_equal(p, q);
  CHECK(opara::to_json(q) == text);
}

TEST_CASE("profile_json.save_and_load_round_trip") {
  const auto dir = std::filesystem::temp_directory_path() / ("opara_test_json_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "p.json";
  const auto p = sample_profile();
  opara::save_profile(p, file);
  CHECK_FALSE(std::filesystem::exists(dir / "p.json.tmp"));
  check_equal(p, opara::load_profile(file));

  // File errors name the path and the OS reason.
  try {
    (void)opara::load_profile(dir / "missing.json");
    FAIL("no exception");
  } catch (const opara::parse_error&) {
    FAIL("wrong exception type");
  } catch (const opara::error& e) {
    const std::string m = e.what();
    CHECK(m.find("missing.json") != std::string::npos);
    CHECK(m.find("No such file or directory") != std::string::npos);
  }
  try {
    opara::save_profile(p, dir / "no_such_dir" / "p.json");
    FAIL("no exception");
  } catch (const opara::error& e) {
    const std::string m = e.what();
    CHECK(m.find("no_such_dir") != std::string::npos);
    CHECK(m.find("No such file or directory") != std::string::npos);
  }
  // Parse errors name the file too.
  std::ofstream(dir / "bad.json") << "{\"opara_profile\": 2, \"ops\": [}";
  try {
    (void)opara::load_profile(dir / "bad.json");
    FAIL("no exception");
  } catch (const opara::parse_error& e) {
    const std::string m = e.what();
    CHECK(m.find("bad.json") != std::string::npos);
    CHECK(m.find("1:30") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("profile_json.hand_written_profile_uses_defaults") {
  const auto p = opara::profile_from_json(R"({"opara_profile": 2, "ops": [{"duration_us": 5, "bound": "compute"}, {}]})");
  REQUIRE(p.ops.size() == 2);
  CHECK(p.ops[0].duration_us == 5);
  CHECK(p.ops[0].bound == opara::boundness::compute);
  CHECK(p.ops[1].bound == opara::boundness::unknown);
  CHECK(p.source == "manual");
  CHECK(p.limits.sm_count == 0);
}

TEST_CASE("profile_json.rejects_wrong_version_and_bad_fields") {
  CHECK(profile_message(R"({"opara_profile": 1, "ops": []})") ==
        "opara: profile JSON: opara_profile: unsupported profile format version 1 (this opara reads version 2)");
  CHECK(profile_message(R"({"ops": []})").find("missing \"opara_profile\"") != std::string::npos);
  CHECK(profile_message(R"({"opara_profile": 2})").find("missing \"ops\"") != std::string::npos);
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{"bound": "io"}]})") ==
        "opara: profile JSON: ops[0].bound: expected \"memory\", \"compute\" or \"unknown\", found \"io\"");
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{}, {"kernels": [{"grid": [1, 2]}]}]})") ==
        "opara: profile JSON: ops[1].kernels[0].grid: expected an array of 3 unsigned integers, found an array of 2");
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{"kernels": [{"grid": [1, -2, 1]}]}]})")
            .find("ops[0].kernels[0].grid[1]: expected an integer in [0, 4294967295], found -2") != std::string::npos);
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{"duraton_us": 1}]})") ==
        "opara: profile JSON: ops[0]: unknown member \"duraton_us\"");
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{"duration_us": "1"}]})") ==
        "opara: profile JSON: ops[0].duration_us: expected a number, found a string");
  CHECK(profile_message(R"({"opara_profile": 2, "ops": [{"kernels": [{"occupancy": 1.5}]}]})")
            .find("between 0 and 1") != std::string::npos);
  CHECK(profile_message(R"({"opara_profile": 2, "limits": {"sm_count": 1.5}, "ops": []})")
            .find("limits.sm_count: expected an integer") != std::string::npos);
  CHECK(profile_message("[]").find("expected an object") != std::string::npos);
  CHECK(profile_message("{\"opara_profile\": 2,\n \"ops\": [1,]}").find("2:12") != std::string::npos);
}

TEST_CASE("json.overflowing_number_is_rejected_not_read_as_zero") {
  // 1 followed by 400 zeros, times 10^-5: about 1e395, far beyond a double.
  const std::string huge = "1" + std::string(400, '0') + "e-5";
  CHECK(parse_message(huge) == "opara: invalid JSON at 1:1: number out of range of a double");
  CHECK(parse_message("-" + huge) == "opara: invalid JSON at 1:1: number out of range of a double");
  // Leading zeros after the point count: 0.<400 zeros>1e500 is 1e99, a double.
  CHECK(js::parse("0." + std::string(400, '0') + "1e500").as_number() == doctest::Approx(1e99));
  CHECK(parse_message("0." + std::string(400, '0') + "1e800") ==
        "opara: invalid JSON at 1:1: number out of range of a double");  // 1e399
  CHECK(parse_message("1e99999999999999999999999").find("out of range") != std::string::npos);
  CHECK(js::parse("1e-99999999999999999999999").as_number() == 0);  // underflow still reads as 0
  CHECK(js::parse("0e99999").as_number() == 0);
}

TEST_CASE("json.duplicate_keys_are_found_in_a_large_object_quickly") {
  // 512k distinct keys, then one repeat: a quadratic check needs about 10^11 string comparisons
  // here (hours; ctest's timeout fails it), sorting about 10^7.
  std::string text = "{";
  for (int i = 0; i < (1 << 19); ++i) text += "\"k" + std::to_string(i) + "\":0,";
  std::string dup = text + "\"k70000\":1}";
  text.back() = '}';
  CHECK(js::parse(text).as_object().size() == (1u << 19));
  const auto msg = parse_message(dup);
  CHECK(msg.find("duplicate key \"k70000\"") != std::string::npos);
  CHECK(msg.find("at 1:" + std::to_string(dup.size() - 10)) != std::string::npos);  // at the repeat
  // The first repeat in document order is the one named.
  CHECK(parse_message("{\"b\":1,\"a\":2,\"a\":3,\"b\":4}") == "opara: invalid JSON at 1:14: duplicate key \"a\"");
}

TEST_CASE("json.invalid_utf8_is_replaced_so_the_round_trip_holds") {
  const std::string bad = std::string("conv\xff") + "\xc0\xaf" + "ok\xe2\x82" + "\xe2\x82\xac";  // ...€ stays
  const std::string text = js::write(js::value(bad));
  CHECK(text == "\"conv\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac\"");
  CHECK(parse_message(text).empty());
  CHECK(js::parse(text).as_string() == "conv\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac");
  const std::string good = "caf\xc3\xa9 \xf0\x9f\x98\x80";
  CHECK(js::parse(js::write(js::value(good))).as_string() == good);
}

TEST_CASE("json.deep_values_neither_write_nor_destroy_by_unbounded_recursion") {
  // A million nested arrays: recursive destruction or writing would overflow the stack.
  js::value deep;
  for (int i = 0; i < 1000000; ++i) {
    js::array a;
    a.push_back(std::move(deep));
    deep = js::value(std::move(a));
  }
  CHECK_THROWS_WITH_AS((void)js::write(deep), doctest::Contains("nesting deeper than 512"), opara::error);
  deep = js::value();  // the old tree is destroyed here, without recursion
  CHECK(deep.is_null());

  js::value ok;  // 512 levels write and read back
  for (int i = 0; i < js::max_depth; ++i) ok = js::value(js::array{std::move(ok)});
  CHECK(js::parse(js::write(ok)) == ok);
  ok = js::value(js::array{std::move(ok)});
  CHECK_THROWS_AS((void)js::write(ok), opara::error);
}

TEST_CASE("json.object_reader_names_paths_and_reads_integers_exactly") {
  const auto v = js::parse(R"({"a": {"n": 4294967295, "m": 4294967296, "f": 1.5, "neg": -1, "s": "x"}})");
  const js::object_reader r(v, "(root)", "opara: test JSON: ");
  const auto a = r.child("a");
  CHECK(a.path() == "a");
  CHECK(a.integer<std::uint32_t>(*a.get("n"), a.sub("n")) == 4294967295u);
  CHECK_THROWS_WITH_AS((void)a.integer<std::uint32_t>(*a.get("m"), a.sub("m")),
                       "opara: test JSON: a.m: expected an integer in [0, 4294967295], found 4294967296",
                       opara::parse_error);
  CHECK_THROWS_WITH_AS((void)a.integer<std::uint32_t>(*a.get("f"), a.sub("f")), doctest::Contains("found 1.5"),
                       opara::parse_error);
  CHECK_THROWS_WITH_AS((void)a.integer<std::uint32_t>(*a.get("neg"), a.sub("neg")), doctest::Contains("a.neg"),
                       opara::parse_error);
  CHECK(a.integer<std::uint32_t>(*a.get("n"), a.sub("n"), 4294967295u) == 4294967295u);
  CHECK_THROWS_AS((void)a.integer<std::uint32_t>(*a.get("n"), a.sub("n"), 10u), opara::parse_error);
  CHECK_THROWS_WITH_AS((void)a.require("t", js::kind::string), "opara: test JSON: a: missing \"t\"", opara::parse_error);
  CHECK_THROWS_WITH_AS((void)a.require("s", js::kind::number), "opara: test JSON: a.s: expected a number, found a string",
                       opara::parse_error);
  CHECK_THROWS_WITH_AS(a.only({"n", "m", "f", "neg"}), "opara: test JSON: a: unknown member \"s\"", opara::parse_error);
  CHECK_THROWS_AS((void)r.child("b"), opara::parse_error);
}

TEST_CASE("profile_json.file_errors_surface_as_opara_errors") {
  const auto dir = std::filesystem::temp_directory_path() / ("opara_a_profile_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto message = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const opara::error& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("not an opara::error: ") + e.what();
    }
    return "no exception";
  };
  opara::profile p;
  p.ops.resize(1);
  // A directory where a file is expected, a name longer than the file system allows, an empty path.
  CHECK(message([&] { (void)opara::load_profile(dir); }).starts_with("opara: cannot read profile"));
  CHECK(message([&] { opara::save_profile(p, dir / std::string(300, 'n')); }).starts_with("opara: cannot write profile"));
  CHECK(message([&] { (void)opara::load_profile(dir / std::string(300, 'n')); }).starts_with("opara: cannot read profile"));
  CHECK(message([&] { opara::save_profile(p, ""); }).starts_with("opara: cannot write profile"));
  opara::save_profile(p, dir / "p.json");  // and a good one still works, through the atomic writer
  CHECK(opara::load_profile(dir / "p.json").ops.size() == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("profile_json.a_user_key_that_is_not_utf8_is_refused_not_saved_changed") {
  // Saved as U+FFFD it would never match itself again: measured at every start, never found.
  CHECK_NOTHROW(opara::check_user_key("batch=8 \xc3\xa9t\xc3\xa9"));
  CHECK_NOTHROW(opara::check_user_key(""));
  CHECK_THROWS_WITH_AS(opara::check_user_key("batch=\xff" "8"),
                       "opara: the user_key \"batch=\\xff8\" is not valid UTF-8 (it is saved as JSON text and would "
                       "not match itself when read back)",
                       opara::bad_policy);
  opara::profile p;
  p.ops.resize(1);
  p.key.user_key = "shape=\xc3";
  CHECK_THROWS_AS((void)opara::to_json(p), opara::bad_policy);
  p.key.user_key = "shape=\xc3\xa9";
  CHECK(opara::profile_from_json(opara::to_json(p)).key == p.key);  // a valid key comes back equal
}
