#pragma once
// The GoogLeNet example's engine as bench-suite workloads: inception3a at batch 1, and the whole
// GoogLeNet at batch 1 and 8 (TF32 convolutions, the engine's default tile policy min_blocks 96).

#include "bench_util.hpp"
#include "engine.hpp"
#include "model.hpp"

#include <string>

namespace bench {

template <class Run>
void run_googlenet_workloads(Run&& run) {
  const googlenet::topology block = googlenet::make_inception_block();
  const googlenet::weights wb = googlenet::make_random_weights(block, 11);
  {
    googlenet::engine e(block, wb, 1);
    e.upload_input(googlenet::random_input(e.tensor_floats(block.input), 3));
    run("inception3a_b1", "GoogLeNet inception3a, batch 1, our TF32 kernels", e);
  }
  const googlenet::topology net = googlenet::make_googlenet();
  const googlenet::weights w = googlenet::make_random_weights(net, 2024);
  for (int batch : {1, 8}) {
    googlenet::engine e(net, w, batch);
    e.upload_input(googlenet::random_input(e.tensor_floats(net.input), 7 + batch));
    run("googlenet_b" + std::to_string(batch), "GoogLeNet (torchvision layout), batch " + std::to_string(batch) +
        ", our TF32 kernels", e);
  }
}

} // namespace bench
