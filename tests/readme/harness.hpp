#pragma once
// What the C++ blocks of README.md and docs/*.md assume besides opara: a user's inference engine
// with a graph type of its own (tests/cmake/readme.cmake compiles every block with this in front).
// Standard headers only, so a block that forgets an opara include fails to compile, as for a user.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>
#ifdef OPARA_README_CUDA
#include <cuda_runtime_api.h>
#endif

namespace engine {

struct operation {
  std::string label;
  std::vector<int> consumers;  // indices of the operations that read this one's output
  bool memory_bound = false;
  std::vector<int> reads, writes;  // tensors (indices into network::tensor_bytes)
#ifdef OPARA_README_CUDA
  std::function<void(cudaStream_t)> run;  // enqueues the operation's kernels
#endif
};

struct network {
  std::vector<operation> ops;
  std::vector<std::size_t> tensor_bytes;   // per tensor
  std::vector<std::size_t> tensor_offset;  // per tensor: where the engine's arena keeps it
};

} // namespace engine
