//! inception_v3_requests: Inception-v3 as a real engine runs, from one activation arena that opara
//! plans, taking each request's own input and output buffers (request_driver.cpp says what it
//! measures). Exits 77 when there is no GPU.

#include "model.hpp"
#include "programs.hpp"

int main(int argc, char** argv) {
  return convnet::requests_main(argc, argv, {"Inception-v3", "inception_v3_requests", &inception_v3::make_inception_v3});
}
