// main of the GPU tests: without a CUDA device a test exits 77 (ctest: skipped) before it runs a
// case; listing its cases (--list-test-cases, how ctest discovers them) needs no device.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdio>
#include <string>

namespace {
// doctest's options that only print (help, version, counts, the lists): they need no device.
bool only_prints(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    a.erase(0, a.find_first_not_of('-'));
    if (a.rfind("dt-", 0) == 0) a.erase(0, 3);
    a = a.substr(0, a.find('='));
    for (const char* o : {"list-test-cases", "ltc", "list-test-suites", "lts", "list-reporters", "lr", "help", "h",
                          "?", "version", "v", "count", "c"})
      if (a == o) return true;
  }
  return false;
}
} // namespace

int main(int argc, char** argv) {
  if (!only_prints(argc, argv)) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
      (void)cudaGetLastError();
      std::fprintf(stderr, "no CUDA device: skipping\n");
      return 77;
    }
  }
  doctest::Context context(argc, argv);
  return context.run();
}
