#pragma once
// Command-line helpers the benches share.

#include <stdexcept>
#include <string>

namespace bench {

// True when `only` is empty or names `name` in its comma-separated list (--only a,b,c).
inline bool wanted(const std::string& only, const std::string& name) {
  return only.empty() || ("," + only + ",").find("," + name + ",") != std::string::npos;
}

// Reads a bench's command line flag by flag:
//   for (bench::arguments args(argc, argv); args.next();) {
//     const std::string& a = args.flag();
//     if (a == "--json") path = args.value(); else ...
//   }
// value() takes the argument after the flag, or throws std::invalid_argument "<flag> needs a value".
class arguments {
public:
  arguments(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // Moves to the next flag; false when there is none.
  bool next() {
    if (++at_ >= argc_) return false;
    flag_ = argv_[at_];
    return true;
  }
  [[nodiscard]] const std::string& flag() const noexcept { return flag_; }
  std::string value() {
    if (at_ + 1 >= argc_) throw std::invalid_argument(flag_ + " needs a value");
    return argv_[++at_];
  }

private:
  int argc_;
  char** argv_;
  int at_ = 0;
  std::string flag_;
};

} // namespace bench
