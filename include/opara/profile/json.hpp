#pragma once
//! Profiles as JSON files, so a profile taken once on a device is reused (and can be written or
//! edited by hand). Format, version 2 (version 1 had no device_uuid, driver_release, user_key):
//!
//!   {
//!     "opara_profile": 2,                       // format version; anything else is rejected
//!     "key": {"device_name": "NVIDIA ...", "sm_count": 132,
//!             "driver_version": 13000, "graph_fingerprint": "0123456789abcdef",
//!             "device_uuid": "GPU-5c0e3a8e-...", "driver_release": "580.159.04",
//!             "user_key": "batch=8"},
//!     "limits": {"sm_count": 132, "shared_bytes_per_block": 232448, "shared_bytes_per_sm": 233472,
//!                "registers_per_sm": 65536, "max_threads_per_sm": 2048, "max_blocks_per_sm": 32},
//!     "source": "cupti",                        // "cupti", "events" or "manual"
//!     "ops": [                                  // one entry per node id, in id order
//!       {"duration_us": 12.5, "bound": "memory",   // "memory" | "compute" | "unknown"
//!        "kernels": [{"name": "relu_kernel", "grid": [64, 1, 1], "block": [256, 1, 1],
//!                     "registers_per_thread": 32, "static_shared_bytes": 0,
//!                     "dynamic_shared_bytes": 0, "duration_us": 12.5, "occupancy": 1}]}
//!     ]
//!   }
//!
//! "opara_profile" and "ops" are required. Any other member may be left out and then takes the
//! default of the corresponding C++ field (profile.hpp), which makes hand-written profiles short.
//! Unknown members are rejected, so a misspelt field is an error rather than silently ignored.
//! Numbers are written with the shortest text that reads back exactly: save then load gives back
//! an identical profile.

#include <opara/detail/atomic_file.hpp>
#include <opara/detail/json.hpp>
#include <opara/error.hpp>
#include <opara/profile/profile.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace opara {

//! Version of the profile JSON format this opara reads and writes (2: the key names the device's
//! UUID, the driver release and the caller's key).
inline constexpr int profile_format_version = 2;

//! Name of a boundness in the profile format: "memory", "compute" or "unknown".
[[nodiscard]] constexpr std::string_view to_string(boundness b) noexcept {
  switch (b) {
    case boundness::memory: return "memory";
    case boundness::compute: return "compute";
    case boundness::unknown: return "unknown";
  }
  return "unknown";
}

namespace detail::profile_json {

namespace json = detail::json;

inline json::value u32_triple(const std::array<std::uint32_t, 3>& a) { return json::array{a[0], a[1], a[2]}; }

//! The reader of profile JSON: errors read "opara: profile JSON: <path>: <what>".
inline json::object_reader reader(const json::value& v, std::string path) {
  return json::object_reader(v, std::move(path), "opara: profile JSON: ");
}

inline std::string errno_message(int e) { return std::generic_category().message(e); }

} // namespace detail::profile_json

//! Throws bad_policy unless `user_key` is valid UTF-8. Keys are saved as JSON text, where a byte
//! that is not UTF-8 becomes U+FFFD: such a key would come back changed and never match itself
//! (the profile measured at every start, the autotune choice never found).
inline void check_user_key(std::string_view user_key) {
  if (detail::json::valid_utf8(user_key)) return;
  std::string shown;
  for (const char c : user_key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      shown += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      shown += "\\x";
      shown += hex[byte >> 4];
      shown += hex[byte & 15];
    }
  }
  throw bad_policy("opara: the user_key \"" + shown +
                   "\" is not valid UTF-8 (it is saved as JSON text and would not match itself when read back)");
}

namespace detail::profile_json {

//! A profile_key as the JSON object both the profile and the autotune cache formats hold. Throws
//! bad_policy when its user_key is not valid UTF-8 (check_user_key).
inline json::value key_json(const profile_key& key) {
  check_user_key(key.user_key);
  json::value out = json::object{};
  out["device_name"] = key.device_name;
  out["sm_count"] = key.sm_count;
  out["driver_version"] = key.driver_version;
  out["graph_fingerprint"] = key.graph_fingerprint;
  out["device_uuid"] = key.device_uuid;
  out["driver_release"] = key.driver_release;
  out["user_key"] = key.user_key;
  return out;
}

//! Reads the key object `r` (members may be left out; unknown ones are rejected). Throws parse_error.
inline profile_key read_key(const json::object_reader& r) {
  r.only({"device_name", "sm_count", "driver_version", "graph_fingerprint", "device_uuid", "driver_release", "user_key"});
  profile_key key;
  r.read("device_name", key.device_name);
  r.read_int("sm_count", key.sm_count);
  r.read_int("driver_version", key.driver_version);
  r.read("graph_fingerprint", key.graph_fingerprint);
  r.read("device_uuid", key.device_uuid);
  r.read("driver_release", key.driver_release);
  r.read("user_key", key.user_key);
  return key;
}

} // namespace detail::profile_json

//! The profile as pretty-printed JSON (format in this header). Throws opara::error if a duration
//! is NaN or infinite (JSON cannot hold it), bad_policy if key.user_key is not valid UTF-8.
[[nodiscard]] inline std::string to_json(const profile& p) {
  namespace json = detail::json;
  json::value root;
  root["opara_profile"] = profile_format_version;
  root["key"] = detail::profile_json::key_json(p.key);
  auto& lim = root["limits"];
  lim["sm_count"] = p.limits.sm_count;
  lim["shared_bytes_per_block"] = p.limits.shared_bytes_per_block;
  lim["shared_bytes_per_sm"] = p.limits.shared_bytes_per_sm;
  lim["registers_per_sm"] = p.limits.registers_per_sm;
  lim["max_threads_per_sm"] = p.limits.max_threads_per_sm;
  lim["max_blocks_per_sm"] = p.limits.max_blocks_per_sm;
  root["source"] = p.source;
  json::array ops;
  ops.reserve(p.ops.size());
  for (const auto& op : p.ops) {
    json::value o;
    o["duration_us"] = op.duration_us;
    o["bound"] = to_string(op.bound);
    json::array kernels_json;
    kernels_json.reserve(op.kernels.size());
    for (const auto& k : op.kernels) {
      json::value kernel_json;
      kernel_json["name"] = k.name;
      kernel_json["grid"] = detail::profile_json::u32_triple(k.grid);
      kernel_json["block"] = detail::profile_json::u32_triple(k.block);
      kernel_json["registers_per_thread"] = k.registers_per_thread;
      kernel_json["static_shared_bytes"] = k.static_shared_bytes;
      kernel_json["dynamic_shared_bytes"] = k.dynamic_shared_bytes;
      kernel_json["duration_us"] = k.duration_us;
      kernel_json["occupancy"] = k.occupancy;
      kernels_json.push_back(std::move(kernel_json));
    }
    o["kernels"] = std::move(kernels_json);
    ops.push_back(std::move(o));
  }
  root["ops"] = std::move(ops);
  return json::write(root, 2);
}

//! Reads a profile written by to_json (or by hand). Throws opara::parse_error for malformed JSON
//! (with line:column), a missing or unsupported "opara_profile" version, a missing "ops", an
//! unknown member, or a value of the wrong type or range (naming its JSON path, e.g.
//! "ops[3].kernels[0].grid[1]").
[[nodiscard]] inline profile profile_from_json(std::string_view text) {
  namespace json = detail::json;
  using detail::profile_json::reader;
  const json::value root = json::parse(text);
  const auto r = reader(root, "(root)");
  const auto* ver = r.get("opara_profile");
  if (!ver) r.fail("(root)", "missing \"opara_profile\" (not an opara profile, or written by an older opara)");
  if (!ver->is_number() || ver->as_number() != profile_format_version)
    r.fail("opara_profile", "unsupported profile format version " + json::write(*ver) + " (this opara reads version " +
                                std::to_string(profile_format_version) + ")");
  r.only({"opara_profile", "key", "limits", "source", "ops"});

  profile p;
  if (r.get("key")) p.key = detail::profile_json::read_key(r.child("key"));
  if (r.get("limits")) {
    const auto limits_reader = r.child("limits");
    limits_reader.only({"sm_count", "shared_bytes_per_block", "shared_bytes_per_sm", "registers_per_sm", "max_threads_per_sm",
             "max_blocks_per_sm"});
    limits_reader.read_int("sm_count", p.limits.sm_count);
    limits_reader.read_int("shared_bytes_per_block", p.limits.shared_bytes_per_block);
    limits_reader.read_int("shared_bytes_per_sm", p.limits.shared_bytes_per_sm);
    limits_reader.read_int("registers_per_sm", p.limits.registers_per_sm);
    limits_reader.read_int("max_threads_per_sm", p.limits.max_threads_per_sm);
    limits_reader.read_int("max_blocks_per_sm", p.limits.max_blocks_per_sm);
  }
  r.read("source", p.source);

  if (!r.get("ops")) r.fail("(root)", "missing \"ops\" (one entry per operator)");
  const auto& ops = r.require("ops", json::kind::array).as_array();
  p.ops.reserve(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto o = reader(ops[i], "ops[" + std::to_string(i) + "]");
    o.only({"duration_us", "bound", "kernels"});
    operator_record rec;
    o.read("duration_us", rec.duration_us);
    std::string bound = "unknown";
    o.read("bound", bound);
    if (bound == "memory") rec.bound = boundness::memory;
    else if (bound == "compute") rec.bound = boundness::compute;
    else if (bound == "unknown") rec.bound = boundness::unknown;
    else o.fail_member("bound", "expected \"memory\", \"compute\" or \"unknown\", found \"" + bound + "\"");
    if (o.get("kernels")) {
      const auto& kernels_json = o.require("kernels", json::kind::array).as_array();
      rec.kernels.reserve(kernels_json.size());
      for (std::size_t j = 0; j < kernels_json.size(); ++j) {
        const auto kernel_reader = reader(kernels_json[j], o.sub("kernels") + "[" + std::to_string(j) + "]");
        kernel_reader.only({"name", "grid", "block", "registers_per_thread", "static_shared_bytes", "dynamic_shared_bytes",
                 "duration_us", "occupancy"});
        kernel_record k;
        kernel_reader.read("name", k.name);
        kernel_reader.read_triple("grid", k.grid);
        kernel_reader.read_triple("block", k.block);
        kernel_reader.read_int("registers_per_thread", k.registers_per_thread);
        kernel_reader.read_int("static_shared_bytes", k.static_shared_bytes);
        kernel_reader.read_int("dynamic_shared_bytes", k.dynamic_shared_bytes);
        kernel_reader.read("duration_us", k.duration_us);
        kernel_reader.read("occupancy", k.occupancy, /*unit_interval=*/true);
        rec.kernels.push_back(std::move(k));
      }
    }
    p.ops.push_back(std::move(rec));
  }
  return p;
}

//! Writes the profile to `path` as JSON, atomically (detail/atomic_file.hpp: a crash never leaves
//! half a profile). A symbolic link is followed and the file it names replaced; a replaced file
//! keeps its mode. Throws opara::error naming the path, the step and the OS error, also when the
//! path names a directory, a FIFO or a device (nothing is replaced).
inline void save_profile(const profile& p, const std::filesystem::path& path) {
  detail::write_file_atomically(path, to_json(p), "profile");
}

//! save_profile for a profile that is a cache (the caller has it in memory and goes on without
//! the file): a failure is said on stderr ("...; going on without saving it") and its message
//! returned. Empty when saved. Throws only what to_json throws (a NaN or infinite duration).
[[nodiscard]] inline std::string try_save_profile(const profile& p, const std::filesystem::path& path) {
  const std::string text = to_json(p);
  try {
    detail::write_file_atomically(path, text, "profile");
    return {};
  } catch (const error& failure) {
    std::fprintf(stderr, "%s; going on without saving it\n", failure.what());
    return failure.what();
  }
}

//! Reads a profile saved by save_profile. Throws opara::error naming the path and the reason if
//! the file cannot be read or is not a regular file (a FIFO or a device is never read: reading
//! could block or never end) or is larger than detail::max_read_bytes, and opara::parse_error
//! (message prefixed with the path) if its content is not a valid profile.
[[nodiscard]] inline profile load_profile(const std::filesystem::path& path) {
  const std::string text = detail::read_regular_file(path, "opara: cannot read profile");
  try {
    return profile_from_json(text);
  } catch (const parse_error& e) {
    std::string msg = e.what();
    constexpr std::string_view prefix = "opara: ";
    if (msg.starts_with(prefix)) msg.erase(0, prefix.size());
    throw parse_error("opara: " + path.string() + ": " + msg);
  }
}

} // namespace opara
