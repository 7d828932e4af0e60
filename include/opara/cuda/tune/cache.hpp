#pragma once
//! The autotune cache: a JSON file that remembers, per device and graph, which of a list of
//! candidate schedulers was fastest, so that the next start compiles only the winner. No CUDA here
//! (the file format is checked on any machine); autotune (cuda/tune/autotune.hpp) uses it.
//!
//! Format, version 2 (version 1's key had no device_uuid, driver_release, user_key):
//!   {"opara_autotune": 2,
//!    "entries": [{"key": {"device_name": ..., "sm_count": ..., "driver_version": ...,
//!                         "graph_fingerprint": ..., "device_uuid": ..., "driver_release": ...,
//!                         "user_key": ...},           // the profile's key (profile/json.hpp)
//!                 "candidates": ["opara_greedy/resource_aware/stream_capture", ...],
//!                 "choice": 0,                   // index into candidates
//!                 "median_us": [412.5, null, ...]}]}   // per candidate as measured; null: not
//!                                                   // measured (the GPU model ruled it out)
//! Every entry is checked when the file is read: a "choice" that is not a whole number naming one
//! of its candidates, or any other malformed member, is a parse_error naming the file and the JSON
//! path, never a silently wrong index. The file is replaced atomically (detail/atomic_file.hpp).
//!
//! Several tuners (threads or processes) may share one cache file: store() reads, merges and
//! rewrites it while holding an advisory lock on "<path>.lock" (detail/file_lock.hpp), so no
//! tuner's entry is lost. A torn, foreign or old-version file never stops a tuner: lookup() says so
//! on stderr and reports no choice (the candidates are measured again), and store() says so and
//! replaces the file with the new entry. store() waits for the lock a bounded time (a holder may be
//! stopped); try_store() then goes on without storing and says so, as it does when the file cannot
//! be written. autotune_cache holds only its path and that time: one object may be used from
//! several threads.

#include <opara/detail/atomic_file.hpp>
#include <opara/detail/file_lock.hpp>
#include <opara/detail/json.hpp>
#include <opara/error.hpp>
#include <opara/profile/json.hpp>
#include <opara/profile/profile.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace opara::tune {

//! Version of the autotune cache format this opara reads and writes (2: keys name the device's
//! UUID, the driver release and the caller's key).
inline constexpr int cache_format_version = 2;

//! One remembered decision.
struct cache_entry {
  profile_key key;                      //!< the device and graph it was measured on
  std::vector<std::string> candidates;  //!< the candidates' labels, in the tuner's order
  std::size_t choice = 0;               //!< index of the fastest candidate
  std::vector<double> median_us;        //!< per candidate, NaN when not measured (null in the file);
                                        //!< may be empty in hand-made files
};

//! The autotune cache at one path. Reading a missing file gives no entries.
class autotune_cache {
public:
  //! How long store() waits for the cache's lock by default: a store holds it for milliseconds.
  static constexpr std::chrono::milliseconds default_lock_timeout{10000};

  explicit autotune_cache(std::filesystem::path path, std::chrono::milliseconds lock_timeout = default_lock_timeout)
      : path_(std::move(path)), lock_timeout_(lock_timeout) {}

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  //! Every entry in the file (none when there is no file). Throws parse_error naming the file and
  //! the JSON path of a malformed value, opara::error when the file cannot be examined or read, or
  //! is not a regular file (a directory, a FIFO, a device), or is larger than detail::max_read_bytes.
  [[nodiscard]] std::vector<cache_entry> entries() const { return entries_at(path_); }

  //! The choice remembered for `key` and these candidate labels, or nothing when there is no entry
  //! for the key, or only one made for other candidates, or when the file is unreadable, torn,
  //! foreign or of another version (each said on stderr: the candidates are measured again).
  //! Throws opara::error only when the path cannot be examined.
  [[nodiscard]] std::optional<std::size_t> lookup(const profile_key& key, const std::vector<std::string>& candidates) const {
    for (const cache_entry& entry : entries_or_none(path_, "measuring again")) {
      if (entry.key != key) continue;
      if (entry.candidates == candidates) return entry.choice;
      std::fprintf(stderr, "opara::autotune: %s has a choice for this device and graph, but for other candidates; "
                           "measuring again\n", path_.string().c_str());
      return std::nullopt;
    }
    return std::nullopt;
  }

  //! Records `entry`, replacing any entry for the same key, and rewrites the file atomically, all
  //! under the cache's lock, so entries stored meanwhile by other threads or processes are kept. An
  //! existing file that is unreadable, torn, foreign or of another version is said on stderr and
  //! replaced. A symbolic link is followed: the file it names is locked and replaced. Throws
  //! bad_policy when entry.choice names no candidate, detail::lock_timeout (an opara::error) when
  //! the lock is not free within the cache's lock timeout, opara::error naming the path when it
  //! cannot be locked, examined or written, or is not a regular file.
  void store(const cache_entry& entry) const {
    if (entry.choice >= entry.candidates.size())
      throw bad_policy("opara::autotune: cannot store choice " + std::to_string(entry.choice) + " among " +
                       std::to_string(entry.candidates.size()) + " candidates");
    // Links are resolved once: the file locked is the file read and replaced.
    const std::filesystem::path file = detail::resolve_target(path_);
    const detail::file_lock exclusive(file, lock_timeout_);
    std::vector<cache_entry> all = entries_or_none(file, "replacing it");
    std::erase_if(all, [&](const cache_entry& old) { return old.key == entry.key; });
    all.push_back(entry);
    detail::write_file_atomically(file, to_json(all) + "\n", "autotune cache");
  }

  //! store() for a caller that goes on without the cache (the choice is made; remembering it is an
  //! extra): a failure to lock, examine or write the file is said on stderr ("...; the choice is
  //! used but not remembered") and its message returned. Empty when stored. Throws bad_policy when
  //! entry.choice names no candidate.
  [[nodiscard]] std::string try_store(const cache_entry& entry) const {
    try {
      store(entry);
      return {};
    } catch (const bad_policy&) {
      throw;
    } catch (const error& failure) {
      std::fprintf(stderr, "%s; the choice is used but not remembered\n", failure.what());
      return failure.what();
    }
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
      entry.key = detail::profile_json::read_key(item.child("key"));
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
          entry.median_us.push_back(times->as_array()[k].is_null()
                                        ? std::numeric_limits<double>::quiet_NaN()
                                        : item.number(times->as_array()[k],
                                                      item.sub("median_us") + "[" + std::to_string(k) + "]"));
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
      item["key"] = detail::profile_json::key_json(entry.key);
      json::array labels, times;
      for (const auto& label : entry.candidates) labels.emplace_back(label);
      for (double time : entry.median_us) {
        if (std::isnan(time)) times.emplace_back(nullptr);  // not measured
        else times.emplace_back(time);
      }
      item["candidates"] = std::move(labels);
      item["choice"] = entry.choice;
      item["median_us"] = std::move(times);
      listed.push_back(std::move(item));
    }
    document["entries"] = std::move(listed);
    return json::write(document, 2);
  }

private:
  //! The entries of the cache file at `file` (the cache's path, or the file its links lead to).
  [[nodiscard]] static std::vector<cache_entry> entries_at(const std::filesystem::path& file) {
    std::error_code failure;
    const bool present = std::filesystem::exists(file, failure);
    if (failure) throw error("opara::autotune: cannot look for the cache '" + file.string() + "': " + failure.message());
    if (!present) return {};
    return parse(detail::read_regular_file(file, "opara::autotune: cannot read the cache"), file.string());
  }

  //! entries_at(file), or none when the file cannot be used: then says why on stderr, followed by
  //! `then`. Throws opara::error only when the path cannot be examined.
  [[nodiscard]] static std::vector<cache_entry> entries_or_none(const std::filesystem::path& file, const char* then) {
    std::error_code failure;
    const bool present = std::filesystem::exists(file, failure);
    if (failure) throw error("opara::autotune: cannot look for the cache '" + file.string() + "': " + failure.message());
    if (!present) return {};
    try {
      return entries_at(file);
    } catch (const error& unusable) {  // parse_error (torn, foreign, old version) or a read error
      std::fprintf(stderr, "%s; %s\n", unusable.what(), then);
      return {};
    }
  }

  std::filesystem::path path_;
  std::chrono::milliseconds lock_timeout_;
};

} // namespace opara::tune
