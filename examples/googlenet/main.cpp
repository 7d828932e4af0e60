//! googlenet_bench: GoogLeNet (torchvision layout) on examples/common's engine and bench driver
//! (bench_driver.hpp says what it runs and what its options are). Exits 77 when there is no GPU.

#include "bench_driver.hpp"
#include "model.hpp"

int main(int argc, char** argv) {
  return convnet::bench_main(argc, argv, {"GoogLeNet", "googlenet_bench", &googlenet::make_googlenet});
}
