// Library kernels inside operators: a fan-out of cuBLAS SGEMMs planned onto several streams and
// joined by a sum, captured (stream_capture, explicit_graph) or launched live (eager), replayed many
// times, agrees with a float64 CPU reference and replays bit-identically. Each operator owns its
// cublasHandle_t and its workspace, and binds both to the stream it is given at every launch
// (cublasSetStream resets the workspace to cuBLAS's default pool, which concurrent operators
// would share: README "Library kernels inside operators").
#include "support/gpu_test.hpp"

#include <opara/order/program_order.hpp>
#include <opara/streams/opara_greedy.hpp>

#include <cublas_v2.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

using namespace gpu_test;
using namespace gpu_test::cublas_kernels;
namespace cp = opara::capture;

namespace {

void check_cublas(cublasStatus_t status, const char* expression) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(expression) + " failed: " + cublasGetStatusName(status) + " (" +
                             cublasGetStatusString(status) + ")");
}
#define CHECK_CUBLAS(expr) check_cublas((expr), #expr)

// One operator's cuBLAS state: its own handle and its own workspace.
class blas_context {
public:
  static constexpr std::size_t workspace_bytes = 32u << 20;  // cuBLAS's recommendation for Hopper
  explicit blas_context(cublasMath_t math) : workspace_(workspace_bytes) {
    CHECK_CUBLAS(cublasCreate(&handle_));
    CHECK_CUBLAS(cublasSetMathMode(handle_, math));
  }
  blas_context(const blas_context&) = delete;
  blas_context& operator=(const blas_context&) = delete;
  ~blas_context() { (void)cublasDestroy(handle_); }
  // Binds the handle to `s` and to this operator's workspace (in this order: cublasSetStream
  // resets the workspace to the default pool shared by every use of the handle's pool).
  cublasHandle_t on(cudaStream_t s) const {
    CHECK_CUBLAS(cublasSetStream(handle_, s));
    CHECK_CUBLAS(cublasSetWorkspace(handle_, workspace_.get(), workspace_bytes));
    return handle_;
  }

private:
  cublasHandle_t handle_ = nullptr;
  device_buffer<unsigned char> workspace_;
};

struct problem {
  int m, n, k, gemms;
  std::vector<float> base, b;  // base: m x k; b: gemms x (k x n), column-major
};

problem make_problem(int m, int n, int k, int gemms, std::mt19937& rng) {
  problem p{m, n, k, gemms, {}, {}};
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  p.base.resize(std::size_t(m) * k);
  p.b.resize(std::size_t(gemms) * k * n);
  for (auto& x : p.base) x = u(rng);
  for (auto& x : p.b) x = u(rng);
  return p;
}

// sum over g of (base * (1 + g/4)) @ B_g, in double, column-major m x n.
std::vector<double> reference(const problem& p) {
  std::vector<double> out(std::size_t(p.m) * p.n, 0.0);
  for (int g = 0; g < p.gemms; ++g) {
    std::vector<float> a(p.base.size());
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = p.base[i] * (1.0f + 0.25f * g);
    const float* b = p.b.data() + std::size_t(g) * p.k * p.n;
    for (int j = 0; j < p.n; ++j)
      for (int l = 0; l < p.k; ++l) {
        const double blj = b[std::size_t(j) * p.k + l];
        for (int i = 0; i < p.m; ++i) out[std::size_t(j) * p.m + i] += double(a[std::size_t(l) * p.m + i]) * blj;
      }
  }
  return out;
}

// The device side of a problem: inputs, each GEMM's product, the sum; and the operator graph
// scale -> gemm0..gemm{G-1} -> sum, each GEMM with its own blas_context.
struct gemm_graph {
  const problem& p;
  device_buffer<float> base, a_all, b_all, c_all, out;
  std::vector<std::unique_ptr<blas_context>> blas;
  opara::cuda::task_graph tg;

  gemm_graph(const problem& pr, cublasMath_t math)
      : p(pr), base(pr.base.size()), a_all(std::size_t(pr.gemms) * pr.m * pr.k), b_all(pr.b.size()),
        c_all(std::size_t(pr.gemms) * pr.m * pr.n), out(std::size_t(pr.m) * pr.n) {
    base.upload(p.base);
    b_all.upload(p.b);
    const int per_a = p.m * p.k, per_c = p.m * p.n;
    const opara::node_id scale = tg.add("scale", [this, per_a](cudaStream_t s) {
      gpu_test::launch(scale_kernel, (per_a + 255) / 256, 256, 0, s, a_all.get(), base.get(), per_a, p.gemms);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
    for (int g = 0; g < p.gemms; ++g) {
      blas.push_back(std::make_unique<blas_context>(math));
      const opara::node_id v = tg.add("gemm" + std::to_string(g), [this, g](cudaStream_t s) {
        const float one = 1.f, zero = 0.f;
        CHECK_CUBLAS(cublasSgemm(blas[g]->on(s), CUBLAS_OP_N, CUBLAS_OP_N, p.m, p.n, p.k, &one,
                                 a_all.get() + std::size_t(g) * p.m * p.k, p.m,
                                 b_all.get() + std::size_t(g) * p.k * p.n, p.k, &zero,
                                 c_all.get() + std::size_t(g) * p.m * p.n, p.m));
      });
      tg.depends(scale, v);
    }
    const opara::node_id s_id = tg.add("sum", [this, per_c](cudaStream_t s) {
      gpu_test::launch(sum_kernel, (per_c + 255) / 256, 256, 0, s, out.get(), c_all.get(), per_c, p.gemms);
      OPARA_CUDA_CHECK(cudaGetLastError());
    });
    for (int g = 0; g < p.gemms; ++g) tg.depends(static_cast<opara::node_id>(g + 1), s_id);
  }
  void poison() const {
    OPARA_CUDA_CHECK(cudaMemset(a_all.get(), 0xff, a_all.size() * sizeof(float)));
    OPARA_CUDA_CHECK(cudaMemset(c_all.get(), 0xff, c_all.size() * sizeof(float)));
    OPARA_CUDA_CHECK(cudaMemset(out.get(), 0xff, out.size() * sizeof(float)));
  }
};

template <class C>
void fan_out_of_gemms(const C& capture, cublasMath_t math, double tolerance, unsigned seed) {
  std::mt19937 rng(seed);
  const bool small = quick();
  const problem p = make_problem(small ? 96 : 256, small ? 64 : 192, small ? 80 : 320, 6, rng);
  const std::vector<double> ref = reference(p);
  gemm_graph gg(p, math);
  auto stream = opara::cuda::stream_handle::create();
  // Every operator runs once before the capture (a profiling scheduler's measurement does this
  // too): cuBLAS's lazy initialization (kernel loading, heuristics) must not happen mid-capture.
  for (opara::node_id v = 0; v < gg.tg.num_nodes(); ++v) gg.tg.launch(v, stream.get());
  stream.synchronize();
  opara::scheduler<opara::streams::opara_greedy, opara::order::program_order, C, opara::profiler::none> sched;
  sched.capture = capture;
  const opara::executable exe = sched.compile(gg.tg, stream.get());
  INFO("capture=", exe.stats().capture_policy, " streams=", exe.plan().num_streams,
       " math=", math == CUBLAS_TF32_TENSOR_OP_MATH ? "tf32" : "fp32");
  CHECK(exe.plan().num_streams >= 2);  // the GEMMs do run side by side

  gg.poison();
  exe(stream.get());
  stream.synchronize();
  const std::vector<float> first = gg.out.download();
  const double err = relative_error(first, ref);
  CHECK(err < tolerance);  // NaN (an unwritten element) fails too
  const int replays = small ? 10 : 200;
  int identical = 0;
  for (int r = 0; r < replays; ++r) {
    if (r % 50 == 0) gg.poison();  // the replays themselves must rewrite everything
    exe(stream.get());
    if (r % 10 == 9 || r == replays - 1) {
      stream.synchronize();
      const std::vector<float> got = gg.out.download();
      CHECK(relative_error(got, ref) < tolerance);
      if (std::memcmp(got.data(), first.data(), got.size() * sizeof(float)) == 0) ++identical;
      else FAIL_CHECK("replay ", r, " differs from the first run");
    }
  }
  CHECK(identical > 0);
}

} // namespace

TEST_CASE("cublas.fan_out_of_gemms.stream_capture") {
  fan_out_of_gemms(cp::stream_capture{}, CUBLAS_DEFAULT_MATH, 3e-5, 1);
  fan_out_of_gemms(cp::stream_capture{}, CUBLAS_TF32_TENSOR_OP_MATH, 5e-3, 2);
}

TEST_CASE("cublas.fan_out_of_gemms.explicit_graph") {
  fan_out_of_gemms(cp::explicit_graph{}, CUBLAS_DEFAULT_MATH, 3e-5, 3);
  fan_out_of_gemms(cp::explicit_graph{}, CUBLAS_TF32_TENSOR_OP_MATH, 5e-3, 4);
}

TEST_CASE("cublas.fan_out_of_gemms.eager") {
  fan_out_of_gemms(cp::eager{}, CUBLAS_DEFAULT_MATH, 3e-5, 5);
}
