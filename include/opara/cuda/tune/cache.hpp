#pragma once
//! The autotune cache: a JSON file that remembers, per device and graph, which of a list of
//! candidate schedulers was fastest, so that the next start compiles only the winner. No CUDA here
//! (the file format is checked on any machine); autotune (cuda/tune/autotune.hpp) uses it.
//!
//! Format, version 1:
//!   {"opara_autotune": 1,
//!    "entries": [{"key": {"device_name": ..., "sm_count": ..., "driver_version": ...,
//!                         "graph_fingerprint": ...},
//!                 "candidates": ["opara_greedy/resource_aware/stream_capture", ...],
//!                 "choice": 0,                   // index into candidates
//!                 "median_us": [412.5, ...]}]}   // per candidate, as measured
//! Every entry is checked when the file is read: a "choice" that is not a whole number naming one
//! of its candidates, or any other malformed member, is a parse_error naming the file and the JSON
//! path, never a silently wrong index. The file is replaced atomically (detail/atomic_file.hpp).

#include <opara/detail/atomic_file.hpp>
#include <opara/detail/json.hpp>
#include <opara/error.hpp>
#include <opara/profile/profile.hpp>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace opara::tune {

//! Version of the autotune cache format this opara reads and writes.
inline constexpr int cache_format_version = 1;

//! One remembered decision.
struct cache_entry {
  profile_key key;                      //!< the device and graph it was measured on
  std::vector<std::string> candidates;  //!< the candidates' labels, in the tuner's order
  std::size_t choice = 0;               //!< index of the fastest candidate
  std::vector<double> median_us;        //!< per candidate (may be empty in hand-made files)
};

//! The autotune cache at one path. Reading a missing file gives no entries.
class autotune_cache {
public:
  explicit autotune_cache(std::filesystem::path path) : path_(std::move(path)) {}

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  //! Every entry in the file (none when there is no file). Throws parse_error naming the file and
  //! the JSON path of a malformed value, opara::error when the file cannot be examined or read.
  [[nodiscard]] std::vector<cache_entry> entries() const {
    std::error_code failure;
    const bool present = std::filesystem::exists(path_, failure);
    if (failure) throw error("opara::autotune: cannot look for the cache '" + path_.string() + "': " + failure.message());
    if (!present) return {};
    std::ifstream file(path_, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    if (!file) throw error("opara::autotune: cannot read the cache '" + path_.string() + "'");
    return parse(text.str(), path_.string());
  }

  //! The choice remembered for `key` and these candidate labels, or nothing when there is no entry
  //! for the key, or only one made for other candidates (said on stderr: they are measured again).
  //! Throws like entries().
  [[nodiscard]] std::optional<std::size_t> lookup(const profile_key& key, const std::vector<std::string>& candidates) const {
    for (const cache_entry& entry : entries()) {
      if (!same_key(entry.key, key)) continue;
      if (entry.candidates == candidates) return entry.choice;
      std::fprintf(stderr, "opara::autotune: %s has a choice for this device and graph, but for other candidates; "
                           "measuring again\n", path_.string().c_str());
      return std::nullopt;
    }
    return std::nullopt;
  }

  //! Records `entry`, replacing any entry for the same key, and rewrites the file atomically.
  //! Throws bad_policy when entry.choice names no candidate, parse_error when the existing file is
  //! malformed, opara::error naming the path when it cannot be read or written.
  void store(const cache_entry& entry) const {
    if (entry.choice >= entry.candidates.size())
      throw bad_policy("opara::autotune: cannot store choice " + std::to_string(entry.choice) + " among " +
                       std::to_string(entry.candidates.size()) + " candidates");
    std::vector<cache_entry> all = entries();
    std::erase_if(all, [&](const cache_entry& old) { return same_key(old.key, entry.key); });
    all.push_back(entry);
    detail::write_file_atomically(path_, to_json(all) + "\n", "autotune cache");
  }

  //! The entries of a cache file's text; `origin` names it in errors. Throws parse_error.
  [[nodiscard]] static std::vector<cache_entry> parse(std::string_view text, const std::string& origin) {
    namespace json = detail::json;
    const std::string prefix = "opara::autotune: cache " + origin + ": ";
    json::value document;
    try {
      document = json::parse(text);
    } catch (const parse_error& failure) {
      throw parse_error(prefix + "not valid JSON: " + failure.what());
    }
    const json::object_reader root(document, std::string(json::object_reader::root_path), prefix);
    root.only({"opara_autotune", "entries"});
    const auto version = root.integer<int>(root.require("opara_autotune", json::kind::number), "opara_autotune");
    if (version != cache_format_version)
      root.fail("opara_autotune", "this opara reads version " + std::to_string(cache_format_version) + ", found " +
                                      std::to_string(version));
    const auto& listed = root.require("entries", json::kind::array).as_array();
    std::vector<cache_entry> out;
    out.reserve(listed.size());
    for (std::size_t i = 0; i < listed.size(); ++i) {
      const json::object_reader item(listed[i], "entries[" + std::to_string(i) + "]", prefix);
      item.only({"key", "candidates", "choice", "median_us"});
      cache_entry entry;
      const json::object_reader key = item.child("key");
      key.only({"device_name", "sm_count", "driver_version", "graph_fingerprint"});
      key.read("device_name", entry.key.device_name);
      key.read_int("sm_count", entry.key.sm_count);
      key.read_int("driver_version", entry.key.driver_version);
      key.read("graph_fingerprint", entry.key.graph_fingerprint);
      const auto& labels = item.require("candidates", json::kind::array).as_array();
      if (labels.empty()) item.fail(item.sub("candidates"), "expected at least one candidate, found none");
      for (std::size_t k = 0; k < labels.size(); ++k) {
        item.expect(labels[k], item.sub("candidates") + "[" + std::to_string(k) + "]", json::kind::string);
        entry.candidates.push_back(labels[k].as_string());
      }
      // An index must name a candidate: no cast of a negative, fractional or huge number.
      entry.choice = item.integer<std::size_t>(item.require("choice", json::kind::number), item.sub("choice"),
                                               entry.candidates.size() - 1);
      if (const auto* times = item.get("median_us")) {
        item.expect(*times, item.sub("median_us"), json::kind::array);
        if (!times->as_array().empty() && times->as_array().size() != entry.candidates.size())
          item.fail(item.sub("median_us"), "expected " + std::to_string(entry.candidates.size()) +
                                               " times (one per candidate), found " +
                                               std::to_string(times->as_array().size()));
        for (std::size_t k = 0; k < times->as_array().size(); ++k)
          entry.median_us.push_back(
              item.number(times->as_array()[k], item.sub("median_us") + "[" + std::to_string(k) + "]"));
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  //! The text of a cache file holding `all`.
  [[nodiscard]] static std::string to_json(const std::vector<cache_entry>& all) {
    namespace json = detail::json;
    json::value document = json::object{};
    document["opara_autotune"] = cache_format_version;
    json::array listed;
    for (const cache_entry& entry : all) {
      json::value item = json::object{};
      json::value key = json::object{};
      key["device_name"] = entry.key.device_name;
      key["sm_count"] = entry.key.sm_count;
      key["driver_version"] = entry.key.driver_version;
      key["graph_fingerprint"] = entry.key.graph_fingerprint;
      item["key"] = std::move(key);
      json::array labels, times;
      for (const auto& label : entry.candidates) labels.emplace_back(label);
      for (double time : entry.median_us) times.emplace_back(time);
      item["candidates"] = std::move(labels);
      item["choice"] = entry.choice;
      item["median_us"] = std::move(times);
      listed.push_back(std::move(item));
    }
    document["entries"] = std::move(listed);
    return json::write(document, 2);
  }

private:
  static bool same_key(const profile_key& a, const profile_key& b) {
    return a.device_name == b.device_name && a.sm_count == b.sm_count && a.driver_version == b.driver_version &&
           a.graph_fingerprint == b.graph_fingerprint;
  }

  std::filesystem::path path_;
};

} // namespace opara::tune
