#pragma once
//! A small JSON value, a strict RFC 8259 parser and a writer. opara needs JSON for profiles, plans
//! and benchmark output, and the GPU machine cannot install a JSON library, so it carries its own.
//! No stability promise (detail/).
//!
//! Parser: rejects everything RFC 8259 rejects (comments, trailing commas, single quotes, leading
//! zeros, NaN, control characters and invalid UTF-8 in strings, lone surrogates, trailing text) and
//! also duplicate object keys (found in O(k log k) for k keys), numbers too large for a double, and
//! nesting deeper than max_depth. Errors throw opara::parse_error with a message
//! "opara: invalid JSON at <line>:<column>: ..." (1-based; the column counts bytes).
//! Numbers are doubles; the writer prints the shortest text that reads back to the same double,
//! so every finite number round-trips exactly. Strings are written as valid UTF-8: a byte that is
//! not part of a valid sequence becomes U+FFFD, so whatever opara writes, it reads back. The writer
//! refuses nesting deeper than max_depth (what it writes, the parser reads), and a value is
//! destroyed without recursion, so no document depth can exhaust the stack.
//! Object members keep their insertion order.
//!
//! object_reader reads one object member by member with errors that name the JSON path; the
//! profile, plan and autotune-cache readers are built on it.

#include <opara/error.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace opara::detail::json {

//! Deepest nesting of arrays and objects the parser accepts and the writer writes.
inline constexpr int max_depth = 512;

//! The six JSON kinds.
enum class kind : std::uint8_t { null, boolean, number, string, array, object };

//! Name of a kind as used in error messages ("a number", "an object", ...).
[[nodiscard]] constexpr std::string_view kind_name(kind k) noexcept {
  switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "a boolean";
    case kind::number: return "a number";
    case kind::string: return "a string";
    case kind::array: return "an array";
    case kind::object: return "an object";
  }
  return "?";
}

class value;
//! A JSON array.
using array = std::vector<value>;
//! A JSON object: members in insertion (or document) order; keys are unique.
using object = std::vector<std::pair<std::string, value>>;

//! One JSON value. The accessors `as_*` throw opara::parse_error when the value has another kind.
class value {
public:
  //! null
  value() noexcept = default;
  value(std::nullptr_t) noexcept {}
  value(bool b) noexcept : v_(b) {}
  value(double d) noexcept : v_(d) {}
  //! Any integer (stored as a double: exact up to 2^53).
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  value(I i) noexcept : v_(static_cast<double>(i)) {}
  value(std::string s) noexcept : v_(std::move(s)) {}
  value(std::string_view s) : v_(std::string(s)) {}
  value(const char* s) : v_(std::string(s)) {}
  value(array a) noexcept : v_(std::move(a)) {}
  value(object o) noexcept : v_(std::move(o)) {}

  value(const value&) = default;
  value(value&&) noexcept = default;
  value& operator=(const value&) = default;
  value& operator=(value&&) noexcept = default;
  //! Destroys nested arrays and objects with an explicit stack, not recursion (see the file comment).
  ~value() { release_children(); }

  [[nodiscard]] kind type() const noexcept { return static_cast<kind>(v_.index()); }
  [[nodiscard]] bool is_null() const noexcept { return type() == kind::null; }
  [[nodiscard]] bool is_bool() const noexcept { return type() == kind::boolean; }
  [[nodiscard]] bool is_number() const noexcept { return type() == kind::number; }
  [[nodiscard]] bool is_string() const noexcept { return type() == kind::string; }
  [[nodiscard]] bool is_array() const noexcept { return type() == kind::array; }
  [[nodiscard]] bool is_object() const noexcept { return type() == kind::object; }

  //! The boolean; throws parse_error if this is not a boolean.
  [[nodiscard]] bool as_bool() const { return get<bool>(kind::boolean); }
  //! The number; throws parse_error if this is not a number.
  [[nodiscard]] double as_number() const { return get<double>(kind::number); }
  //! The string; throws parse_error if this is not a string.
  [[nodiscard]] const std::string& as_string() const { return get<std::string>(kind::string); }
  [[nodiscard]] std::string& as_string() { return get<std::string>(kind::string); }
  //! The elements; throws parse_error if this is not an array.
  [[nodiscard]] const array& as_array() const { return get<array>(kind::array); }
  [[nodiscard]] array& as_array() { return get<array>(kind::array); }
  //! The members; throws parse_error if this is not an object.
  [[nodiscard]] const object& as_object() const { return get<object>(kind::object); }
  [[nodiscard]] object& as_object() { return get<object>(kind::object); }

  //! The member named `key`, or nullptr when absent; throws parse_error if this is not an object.
  [[nodiscard]] const value* find(std::string_view key) const {
    for (const auto& [k, v] : as_object())
      if (k == key) return &v;
    return nullptr;
  }
  //! The member named `key`, inserted as null when absent (a null value becomes an empty object
  //! first); throws parse_error if this is neither null nor an object.
  value& operator[](std::string_view key) {
    if (is_null()) v_ = object{};
    auto& o = as_object();
    for (auto& [k, v] : o)
      if (k == key) return v;
    o.emplace_back(std::string(key), value{});
    return o.back().second;
  }
  //! Appends to an array (a null value becomes an empty array first); throws parse_error otherwise.
  value& push_back(value v) {
    if (is_null()) v_ = array{};
    auto& a = as_array();
    a.push_back(std::move(v));
    return a.back();
  }

  // Defined after the class: nvcc's front end needs value complete to compare objects.
  friend bool operator==(const value& a, const value& b);

private:
  // Moves this value's elements or member values to the end of `out`, leaving it empty.
  void move_children_to(std::vector<value>& out) {
    if (auto* a = std::get_if<array>(&v_)) {
      for (auto& e : *a) out.push_back(std::move(e));
      a->clear();
    } else if (auto* o = std::get_if<object>(&v_)) {
      for (auto& m : *o) out.push_back(std::move(m.second));
      o->clear();
    }
  }
  [[nodiscard]] bool has_nested() const noexcept {
    if (const auto* a = std::get_if<array>(&v_)) {
      for (const auto& e : *a)
        if (e.is_array() || e.is_object()) return true;
    } else if (const auto* o = std::get_if<object>(&v_)) {
      for (const auto& m : *o)
        if (m.second.is_array() || m.second.is_object()) return true;
    }
    return false;
  }
  // Flattens the tree below this value into a work list so that each value is destroyed with no
  // container children left (each destructor then does O(1) nested work). Out of memory, the
  // rest is destroyed the ordinary way.
  void release_children() noexcept {
    if (!has_nested()) return;
    try {
      std::vector<value> pending;
      move_children_to(pending);
      while (!pending.empty()) {
        value v = std::move(pending.back());
        pending.pop_back();
        v.move_children_to(pending);
      }
    } catch (...) {  // std::bad_alloc from the work list
    }
  }

  template <class T>
  const T& get(kind k) const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    throw parse_error("opara: JSON: expected " + std::string(kind_name(k)) + ", found " +
                      std::string(kind_name(type())));
  }
  template <class T>
  T& get(kind k) {
    return const_cast<T&>(std::as_const(*this).get<T>(k));
  }

  // Alternative order matches `kind`.
  std::variant<std::nullptr_t, bool, double, std::string, array, object> v_{nullptr};
};

//! Deep equality (numbers compare as doubles; object member order matters).
inline bool operator==(const value& a, const value& b) { return a.v_ == b.v_; }

namespace impl {

//! Length of the valid UTF-8 sequence (shortest form, no surrogates, at most U+10FFFF) starting at
//! s[i], a byte >= 0x80; 0 when the bytes there are not one. The rule the parser enforces and the
//! writer repairs by.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned code_point = 0, min = 0;
  if (lead >= 0xc2 && lead <= 0xdf) len = 2, code_point = lead & 0x1fu, min = 0x80;
  else if (lead >= 0xe0 && lead <= 0xef) len = 3, code_point = lead & 0x0fu, min = 0x800;
  else if (lead >= 0xf0 && lead <= 0xf4) len = 4, code_point = lead & 0x07u, min = 0x10000;
  else return 0;
  if (s.size() - i < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (b & 0x3fu);
  }
  if (code_point < min || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return 0;
  return len;
}

//! JSON's two-character escapes: the letter after the backslash and the character it stands for.
inline constexpr std::array<std::pair<char, char>, 8> short_escapes{
    {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'}, {'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}}};

//! The character `letter` escapes ("\n" -> newline), or nullptr when it is not a short escape.
inline const char* unescape(char letter) noexcept {
  for (const auto& [name, character] : short_escapes)
    if (name == letter) return &character;
  return nullptr;
}

//! The letter that escapes character `c` when writing (never '/', which needs no escape), or 0.
inline char escape_letter(char c) noexcept {
  for (const auto& [name, character] : short_escapes)
    if (character == c && name != '/') return name;
  return 0;
}

class parser {
public:
  explicit parser(std::string_view text) : s_(text) {}

  value parse_document() {
    skip_ws();
    value v = parse_value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(i_, what); }
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < pos && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw parse_error("opara: invalid JSON at " + std::to_string(line) + ":" + std::to_string(col) + ": " + what);
  }
  std::string describe_here() const {
    if (i_ >= s_.size()) return "end of input";
    const auto c = static_cast<unsigned char>(s_[i_]);
    if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    static constexpr char hex[] = "0123456789abcdef";
    return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
  }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  value parse_value(int depth) {
    if (i_ >= s_.size()) fail("expected a value, found end of input");
    switch (s_[i_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return value(parse_string());
      case 't': literal("true"); return value(true);
      case 'f': literal("false"); return value(false);
      case 'n': literal("null"); return value(nullptr);
      default:
        if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return value(parse_number());
        fail("expected a value, found " + describe_here());
    }
  }

  void literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) fail("invalid literal (expected '" + std::string(word) + "')");
    i_ += word.size();
  }

  // The frame shared by arrays and objects: the opening bracket, then elements separated by
  // commas up to `close` (none at all is fine); element() parses one.
  template <class Element>
  void parse_sequence(int depth, char close, std::string_view what, Element&& element) {
    if (depth > max_depth) fail("nesting deeper than " + std::to_string(max_depth));
    ++i_;  // [ or {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == close) {
      ++i_;
      return;
    }
    for (;;) {
      skip_ws();
      element();
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return;
      }
      fail("expected ',' or '" + std::string(1, close) + "' in " + std::string(what) + ", found " + describe_here());
    }
  }

  value parse_object(int depth) {
    object o;
    std::vector<std::size_t> key_pos;  // text position of each member's key
    parse_sequence(depth, '}', "object", [&] {
      if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key, found " + describe_here());
      key_pos.push_back(i_);
      std::string key = parse_string();
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':' after object key, found " + describe_here());
      ++i_;
      skip_ws();
      value v = parse_value(depth);
      o.emplace_back(std::move(key), std::move(v));
    });
    check_unique_keys(o, key_pos);
    return value(std::move(o));
  }

  // Sorting member indices by key finds every duplicate in O(k log k); the error points at the
  // first key (in document order) that repeats an earlier one.
  void check_unique_keys(const object& o, const std::vector<std::size_t>& key_pos) const {
    if (o.size() < 2) return;
    std::vector<std::uint32_t> idx(o.size());
    std::iota(idx.begin(), idx.end(), std::uint32_t{0});
    std::sort(idx.begin(), idx.end(), [&](std::uint32_t a, std::uint32_t b) {
      return o[a].first != o[b].first ? o[a].first < o[b].first : a < b;
    });
    std::size_t worst = o.size();
    for (std::size_t k = 1; k < idx.size(); ++k)
      if (o[idx[k]].first == o[idx[k - 1]].first) worst = std::min<std::size_t>(worst, idx[k]);
    if (worst < o.size()) fail_at(key_pos[worst], "duplicate key \"" + o[worst].first + "\"");
  }

  value parse_array(int depth) {
    array a;
    parse_sequence(depth, ']', "array", [&] { a.push_back(parse_value(depth)); });
    return value(std::move(a));
  }

  double parse_number() {
    const std::size_t start = i_;
    auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    if (s_[i_] == '-') ++i_;
    if (!digit()) fail("expected a digit in number, found " + describe_here());
    if (s_[i_] == '0') {
      ++i_;
      if (digit()) fail_at(i_ - 1, "leading zeros are not allowed in numbers");
    } else {
      while (digit()) ++i_;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digit()) fail("expected a digit after the decimal point, found " + describe_here());
      while (digit()) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digit()) fail("expected a digit in the exponent, found " + describe_here());
      while (digit()) ++i_;
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + i_, d);
    if (ec == std::errc::result_out_of_range) {
      // Underflow is harmless (reads as 0); overflow is not representable.
      if (decimal_magnitude(s_.substr(start, i_ - start)) > 0) fail_at(start, "number out of range of a double");
      return s_[start] == '-' ? -0.0 : 0.0;
    }
    if (ec != std::errc{} || ptr != s_.data() + i_) fail_at(start, "malformed number");
    return d;
  }

  // For a valid JSON number with a nonzero digit, e such that its absolute value lies in
  // [10^(e-1), 10^e); the exponent is read with saturation, so any length of digits is safe.
  static long long decimal_magnitude(std::string_view num) {
    std::size_t k = num.front() == '-' ? 1 : 0;
    long long int_digits = 0, first_nonzero = -1, digits = 0;
    for (; k < num.size() && num[k] >= '0' && num[k] <= '9'; ++k, ++digits, ++int_digits)
      if (first_nonzero < 0 && num[k] != '0') first_nonzero = digits;
    if (k < num.size() && num[k] == '.')
      for (++k; k < num.size() && num[k] >= '0' && num[k] <= '9'; ++k, ++digits)
        if (first_nonzero < 0 && num[k] != '0') first_nonzero = digits;
    long long exp = 0;
    if (k < num.size() && (num[k] == 'e' || num[k] == 'E')) {
      ++k;
      const bool negative = num[k] == '-';
      if (num[k] == '-' || num[k] == '+') ++k;
      for (; k < num.size(); ++k) exp = std::min<long long>(exp * 10 + (num[k] - '0'), 1'000'000'000);
      if (negative) exp = -exp;
    }
    if (first_nonzero < 0) return std::numeric_limits<long long>::min();  // zero
    return int_digits - first_nonzero + exp;
  }

  unsigned hex4() {
    if (s_.size() - i_ < 4) fail("expected 4 hex digits after \\u");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_];
      u <<= 4;
      if (c >= '0' && c <= '9') u |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') u |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') u |= static_cast<unsigned>(c - 'A' + 10);
      else fail("expected a hex digit in \\u escape, found " + describe_here());
      ++i_;
    }
    return u;
  }

  static void put_utf8(std::string& out, unsigned code_point) {
    if (code_point < 0x80) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      out += static_cast<char>(0xc0 | (code_point >> 6));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    } else if (code_point < 0x10000) {
      out += static_cast<char>(0xe0 | (code_point >> 12));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code_point >> 18));
      out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code_point & 0x3f));
    }
  }

  // Checks one UTF-8 sequence starting at i_ (lead byte >= 0x80) and copies it.
  void copy_utf8(std::string& out) {
    const std::size_t len = utf8_sequence_length(s_, i_);
    if (len == 0) fail("invalid UTF-8 in string");
    out.append(s_.substr(i_, len));
    i_ += len;
  }

  std::string parse_string() {
    const std::size_t open = i_;
    ++i_;  // "
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail_at(open, "unterminated string");
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("control character in string (escape it)");
      if (c >= 0x80) {
        copy_utf8(out);
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) fail_at(open, "unterminated string");
      const char e = s_[i_++];
      if (const char* c = unescape(e)) {
        out += *c;
        continue;
      }
      switch (e) {
        case 'u': {
          const std::size_t esc = i_ - 2;
          unsigned code_point = hex4();
          if (code_point >= 0xdc00 && code_point <= 0xdfff) fail_at(esc, "lone low surrogate in \\u escape");
          if (code_point >= 0xd800 && code_point <= 0xdbff) {
            if (s_.substr(i_, 2) != "\\u") fail_at(esc, "high surrogate not followed by a low surrogate");
            i_ += 2;
            const unsigned low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail_at(esc, "high surrogate not followed by a low surrogate");
            code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
          }
          put_utf8(out, code_point);
          break;
        }
        default:
          i_ -= 2;
          fail("invalid escape '\\" + std::string(1, e) + "' in string");
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline void write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char byte = s[i];
    const auto c = static_cast<unsigned char>(byte);
    if (c >= 0x80) {  // valid UTF-8 is copied; any other byte becomes U+FFFD
      const std::size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        out += "\xef\xbf\xbd";
      } else {
        out.append(s.substr(i, len));
        i += len - 1;
      }
      continue;
    }
    if (const char letter = escape_letter(byte)) {
      out += '\\';
      out += letter;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += byte;
    }
  }
  out += '"';
}

inline void write_number(std::string& out, double d) {
  if (!std::isfinite(d)) throw error("opara: JSON cannot represent the number " + std::to_string(d));
  if (d == 0) {  // keep -0.0 distinguishable, print 0 as "0"
    out += std::signbit(d) ? "-0" : "0";
    return;
  }
  char buf[32];
  // Shortest representation that reads back to the same double.
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

inline bool scalar(const value& v) { return !v.is_array() && !v.is_object(); }

inline void write(std::string& out, const value& v, int indent, int level) {
  if (level >= max_depth && (v.is_array() || v.is_object()))
    throw error("opara: JSON: cannot write nesting deeper than " + std::to_string(max_depth) +
                " (opara's parser would refuse it)");
  auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(lvl), ' ');
  };
  switch (v.type()) {
    case kind::null: out += "null"; break;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; break;
    case kind::number: write_number(out, v.as_number()); break;
    case kind::string: write_string(out, v.as_string()); break;
    case kind::array: {
      const auto& a = v.as_array();
      bool flat = indent < 0 || a.empty();
      if (!flat) {  // arrays of scalars stay on one line ([x, y, z] reads better than a column)
        flat = true;
        for (const auto& e : a) flat = flat && scalar(e);
      }
      out += '[';
      for (std::size_t k = 0; k < a.size(); ++k) {
        if (k) out += indent < 0 ? "," : ", ";
        if (!flat) newline(level + 1);
        write(out, a[k], indent, level + 1);
      }
      if (!flat) newline(level);
      out += ']';
      break;
    }
    case kind::object: {
      const auto& o = v.as_object();
      out += '{';
      for (std::size_t k = 0; k < o.size(); ++k) {
        if (k) out += ',';
        if (indent >= 0) newline(level + 1);
        write_string(out, o[k].first);
        out += indent < 0 ? ":" : ": ";
        write(out, o[k].second, indent, level + 1);
      }
      if (indent >= 0 && !o.empty()) newline(level);
      out += '}';
      break;
    }
  }
}

} // namespace impl

//! Parses one JSON document (surrounding whitespace allowed). Throws opara::parse_error
//! "opara: invalid JSON at <line>:<column>: <what>".
[[nodiscard]] inline value parse(std::string_view text) { return impl::parser(text).parse_document(); }

//! True when `s` is valid UTF-8 (the rule the parser enforces): what the writer copies unchanged.
[[nodiscard]] inline bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x80) continue;
    const std::size_t len = impl::utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len - 1;
  }
  return true;
}

//! Writes `v` as JSON: compact when indent < 0, else pretty with `indent` spaces per level (arrays
//! of scalars stay on one line). Strings that are not valid UTF-8 are repaired (see the file
//! comment). Throws opara::error for a NaN or infinite number or nesting deeper than max_depth.
[[nodiscard]] inline std::string write(const value& v, int indent = -1) {
  std::string out;
  impl::write(out, v, indent, 0);
  if (indent >= 0) out += '\n';
  return out;
}

//! Reads one JSON object member by member. Every error is a parse_error
//! "<prefix><path>: <what>", e.g. "opara: profile JSON: ops[3].kernels[0].grid[1]: expected an
//! integer in [0, 4294967295], found -1". Integers are read exactly or refused: a number that is
//! not a whole number in the target type's range never becomes another value.
class object_reader {
public:
  //! Reads `v`, found at `path`; throws unless it is an object. `prefix` must outlive the reader.
  object_reader(const value& v, std::string path, std::string_view prefix)
      : v_(v), path_(std::move(path)), prefix_(prefix) {
    if (!v.is_object()) fail(path_, "expected an object, found " + std::string(kind_name(v.type())));
  }

  //! Throws parse_error "<prefix><path>: <what>".
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw parse_error(std::string(prefix_) + path + ": " + what);
  }
  //! Throws parse_error naming the member `key` of this object.
  [[noreturn]] void fail_member(std::string_view key, const std::string& what) const { fail(sub(key), what); }

  //! Rejects members not in `known` (a misspelt field is an error, not silently ignored).
  void only(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, unused] : v_.as_object())
      if (std::find(known.begin(), known.end(), k) == known.end()) fail(path_, "unknown member \"" + k + "\"");
  }
  //! The member `key`, or nullptr.
  [[nodiscard]] const value* get(std::string_view key) const { return v_.find(key); }
  //! The member `key`, which must be present and of kind `k`.
  [[nodiscard]] const value& require(std::string_view key, kind k) const {
    const value* m = get(key);
    if (!m) fail(path_, "missing \"" + std::string(key) + "\"");
    expect(*m, sub(key), k);
    return *m;
  }
  //! A reader of the object member `key` (which must be present).
  [[nodiscard]] object_reader child(std::string_view key) const {
    return object_reader(require(key, kind::object), sub(key), prefix_);
  }
  //! The path of member `key` ("ops[3].kernels" for key "kernels" of "ops[3]"; a member of the
  //! root, whose path is "(root)", is named alone).
  [[nodiscard]] std::string sub(std::string_view key) const {
    return path_ == root_path ? std::string(key) : path_ + "." + std::string(key);
  }
  //! The path of the document's root object.
  static constexpr std::string_view root_path = "(root)";
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string_view prefix() const noexcept { return prefix_; }

  //! Reads string member `key` into `out` when present.
  void read(std::string_view key, std::string& out) const {
    if (const auto* m = get(key)) {
      expect(*m, sub(key), kind::string);
      out = m->as_string();
    }
  }
  //! Reads non-negative number member `key` into `out` when present (in [0, 1] with unit_interval).
  void read(std::string_view key, double& out, bool unit_interval = false) const {
    if (const auto* m = get(key)) out = number(*m, sub(key), unit_interval);
  }
  //! Reads integer member `key` into `out` when present.
  template <class I>
  void read_int(std::string_view key, I& out) const {
    if (const auto* m = get(key)) out = integer<I>(*m, sub(key));
  }
  //! Reads an array of exactly 3 unsigned 32-bit integers into `out` when present.
  void read_triple(std::string_view key, std::array<std::uint32_t, 3>& out) const {
    const auto* m = get(key);
    if (!m) return;
    if (!m->is_array() || m->as_array().size() != 3)
      fail(sub(key), "expected an array of 3 unsigned integers, found " +
                         (m->is_array() ? "an array of " + std::to_string(m->as_array().size())
                                        : std::string(kind_name(m->type()))));
    for (std::size_t k = 0; k < 3; ++k)
      out[k] = integer<std::uint32_t>(m->as_array()[k], sub(key) + "[" + std::to_string(k) + "]");
  }

  //! Throws unless `m` (at `path`) is of kind `k`.
  void expect(const value& m, const std::string& path, kind k) const {
    if (m.type() != k)
      fail(path, "expected " + std::string(kind_name(k)) + ", found " + std::string(kind_name(m.type())));
  }
  //! `m` as a finite non-negative number (in [0, 1] with unit_interval).
  [[nodiscard]] double number(const value& m, const std::string& path, bool unit_interval = false) const {
    expect(m, path, kind::number);
    const double d = m.as_number();
    if (d < 0) fail(path, "expected a non-negative number, found " + write(m));
    if (unit_interval && d > 1) fail(path, "expected a number between 0 and 1, found " + write(m));
    return d;
  }
  //! `m` as an integer of type I, exactly (no rounding, no wrap-around), at most `max`.
  template <class I>
  [[nodiscard]] I integer(const value& m, const std::string& path,
                          I max = std::numeric_limits<I>::max()) const {
    if (!m.is_number()) fail(path, "expected an integer, found " + std::string(kind_name(m.type())));
    const double d = m.as_number();
    constexpr I low = std::numeric_limits<I>::min();
    // d <= max as doubles can round up; compare against max + 1 (a power of two away) instead.
    if (std::trunc(d) != d || d < static_cast<double>(low) || !(d < static_cast<double>(max) + 1.0))
      fail(path, "expected an integer in [" + std::to_string(low) + ", " + std::to_string(max) + "], found " +
                     write(m));
    return static_cast<I>(d);
  }

private:
  const value& v_;
  std::string path_;
  std::string_view prefix_;
};

} // namespace opara::detail::json
