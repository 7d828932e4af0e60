#pragma once
// Shared by the GPU tests: checked device buffers, the random DAG workload (each operator combines
// its inputs elementwise) and its CPU reference in double. Without a device the tests' main
// (gpu_test_main.cpp) exits 77: skipped, not passed. The kernels are in kernels.hpp.

#include <opara/cuda.hpp>

#include "kernels.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace gpu_test {

//! OPARA_TEST_QUICK=1: reduced sizes for compute-sanitizer runs.
inline bool quick() {
  const char* q = std::getenv("OPARA_TEST_QUICK");
  return q && *q && *q != '0';
}

//! OPARA_TEST_SANITIZER=1: running under compute-sanitizer (timings and CUPTI are not meaningful).
inline bool sanitizer() {
  const char* q = std::getenv("OPARA_TEST_SANITIZER");
  return q && *q && *q != '0';
}

//! True when a profile must come from CUPTI: not under compute-sanitizer (which holds CUPTI), and
//! not when OPARA_ALLOW_EVENT_PROFILER=1 says the machine forbids CUPTI.
inline bool cupti_required() {
  const char* e = std::getenv("OPARA_ALLOW_EVENT_PROFILER");
  return !sanitizer() && !(e && *e && *e != '0');
}

template <class T>
class device_buffer {
public:
  explicit device_buffer(std::size_t n) : n_(n) { OPARA_CUDA_CHECK(cudaMalloc(&p_, n * sizeof(T))); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() { OPARA_CUDA_CHECK_NOTHROW(cudaFree(p_)); }
  T* get() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    OPARA_CUDA_CHECK(cudaMemcpy(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void upload(const std::vector<T>& h) const {
    OPARA_CUDA_CHECK(cudaMemcpy(p_, h.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }

private:
  T* p_ = nullptr;
  std::size_t n_;
};

//! A random DAG: node ids are not topological (a random rank decides the direction of edges).
struct random_dag {
  std::size_t n = 0;
  std::vector<std::vector<opara::node_id>> preds;
  std::vector<float> w, b;
};

inline random_dag make_random_dag(std::mt19937& rng, std::size_t min_nodes, std::size_t max_nodes) {
  random_dag d;
  d.n = std::uniform_int_distribution<std::size_t>(min_nodes, max_nodes)(rng);
  std::vector<opara::node_id> by_rank(d.n);
  for (std::size_t i = 0; i < d.n; ++i) by_rank[i] = static_cast<opara::node_id>(i);
  std::shuffle(by_rank.begin(), by_rank.end(), rng);
  d.preds.resize(d.n);
  std::uniform_real_distribution<float> uw(0.5f, 1.5f), ub(-1.f, 1.f);
  for (std::size_t r = 0; r < d.n; ++r) {
    const opara::node_id v = by_rank[r];
    if (r > 0) {
      const int k = std::uniform_int_distribution<int>(0, 3)(rng);  // 0: another root
      for (int j = 0; j < k; ++j) {
        const opara::node_id u = by_rank[std::uniform_int_distribution<std::size_t>(0, r - 1)(rng)];
        if (std::find(d.preds[v].begin(), d.preds[v].end(), u) == d.preds[v].end()) d.preds[v].push_back(u);
      }
    }
    d.w.push_back(uw(rng));
    d.b.push_back(ub(rng));
  }
  return d;
}

//! CPU reference in double: every node's output, node-major (n * elems).
inline std::vector<double> reference(const random_dag& d, const std::vector<float>& x0, std::size_t elems) {
  opara::graph_builder gb;
  gb.add_nodes(d.n);
  for (std::size_t v = 0; v < d.n; ++v)
    for (auto u : d.preds[v]) gb.add_edge(u, static_cast<opara::node_id>(v));
  const opara::graph g = gb.build();
  std::vector<double> out(d.n * elems);
  for (opara::node_id v : g.topological_order()) {
    for (std::size_t i = 0; i < elems; ++i) {
      double r;
      if (d.preds[v].empty()) {
        r = double(d.w[v]) * x0[i] + d.b[v];
      } else {
        double s = 0;
        for (auto u : d.preds[v]) s += out[u * elems + i];
        r = 0.5 * std::sin(s) + double(d.w[v]) * x0[i];
      }
      out[v * elems + i] = r;
    }
  }
  return out;
}

//! ||got - ref|| / ||ref|| over all elements; NaN when any element is not finite.
inline double relative_error(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return std::nan("");
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

//! The task_graph that computes d on the GPU into `out` (n * elems floats), `block` threads per
//! block; with `repeat_every` > 0, every repeat_every-th operator launches its kernel twice (the
//! same result; a second kernel record per operator for the profiler to attribute).
inline opara::cuda::task_graph make_task_graph(const random_dag& d, float* out, const float* x0, int elems,
                                               int block = 256, std::size_t repeat_every = 0) {
  opara::cuda::task_graph tg;
  for (std::size_t v = 0; v < d.n; ++v) {
    inputs in{};
    in.count = static_cast<int>(d.preds[v].size());
    for (int k = 0; k < in.count; ++k) in.p[k] = out + std::size_t(d.preds[v][k]) * elems;
    float* o = out + v * elems;
    const float w = d.w[v], b = d.b[v];
    const int launches = repeat_every > 0 && v % repeat_every == 0 ? 2 : 1;
    tg.add("op" + std::to_string(v), [=](cudaStream_t s) {
      for (int l = 0; l < launches; ++l) gpu_test::launch(combine_kernel, (elems + block - 1) / block, block, 0, s, o, in, x0, w, b, elems);
      OPARA_CUDA_CHECK(cudaGetLastError());
    }, (v % 2) ? opara::boundness::memory : opara::boundness::compute);
  }
  for (std::size_t v = 0; v < d.n; ++v)
    for (auto u : d.preds[v]) tg.depends(u, static_cast<opara::node_id>(v));
  return tg;
}

//! A hand-made profile for the order policies that need one (sizes and durations vary by node).
inline opara::profile make_profile(const opara::cuda::task_graph& tg, std::mt19937& rng) {
  opara::profile p;
  p.key = opara::cuda::current_key(opara::to_graph(tg));
  p.limits = opara::cuda::current_limits();
  p.ops.resize(tg.num_nodes());
  for (opara::node_id v = 0; v < tg.num_nodes(); ++v) {
    opara::kernel_record k;
    k.name = "combine_kernel";
    k.grid = {16, 1, 1};
    k.block = {256, 1, 1};
    k.static_shared_bytes = std::uniform_int_distribution<std::uint32_t>(0, 48)(rng) * 1024;
    k.duration_us = std::uniform_real_distribution<double>(1, 50)(rng);
    p.ops[v].kernels.push_back(k);
    p.ops[v].duration_us = k.duration_us;
    p.ops[v].bound = tg.bound(v);
  }
  return p;
}

} // namespace gpu_test
