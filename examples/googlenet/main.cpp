//! googlenet_bench: GoogLeNet (torchvision layout) on examples/common's engine and bench driver
//! (bench_driver.cpp says what it runs and what its options are). Exits 77 when there is no GPU.

#include "model.hpp"
#include "programs.hpp"

int main(int argc, char** argv) {
  return convnet::bench_main(argc, argv, {"GoogLeNet", "googlenet_bench", &googlenet::make_googlenet});
}
