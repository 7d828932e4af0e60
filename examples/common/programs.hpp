#pragma once
//! The two programs every model of examples/ builds, as its main() calls them: the model bench
//! (<model>_bench: bench_driver.cpp, compiled once into convnet_bench_driver) and the request bench
//! (<model>_requests: request_driver.cpp, into convnet_request_driver). A model's main.cpp includes
//! this and its model.hpp and names the model; the drivers say what they run and what their options
//! are.

#include "network.hpp"

namespace convnet {

//! What the model bench needs to know about a model.
struct bench_model {
  const char* name;     //!< "GoogLeNet", "Inception-v3"
  const char* program;  //!< "googlenet_bench"
  topology (*make)();   //!< the topology, torchvision's layout
};

//! The model bench (bench_driver.cpp). Exits 77 when there is no GPU.
int bench_main(int argc, char** argv, const bench_model& model);

//! What the request bench needs to know about a model.
struct request_model {
  const char* name;     //!< "GoogLeNet", "Inception-v3"
  const char* program;  //!< "googlenet_requests"
  topology (*make)();   //!< the topology, torchvision's layout
};

//! The request bench (request_driver.cpp). Exits 77 when there is no GPU, 1 when an output differs.
int requests_main(int argc, char** argv, const request_model& model);

} // namespace convnet
