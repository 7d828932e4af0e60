//! inception_v3_bench: Inception-v3 (torchvision layout, 299x299) on examples/common's engine and
//! bench driver (bench_driver.cpp says what it runs and what its options are). Exits 77 when there
//! is no GPU.

#include "model.hpp"
#include "programs.hpp"

int main(int argc, char** argv) {
  return convnet::bench_main(argc, argv, {"Inception-v3", "inception_v3_bench", &inception_v3::make_inception_v3});
}
