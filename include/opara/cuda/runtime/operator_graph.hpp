#pragma once
//! What opara needs to launch a user's operators: the cuda_operator_graph concept, its
//! customization point opara::launch_traits<G>, and opara::cuda::task_graph, a ready-made graph
//! of std::function launchers.
//!
//! Customization: opara::graph_traits<G> (CPU side, opara/graph/traits.hpp) stays the place for
//! structure; launching lives in a separate trait, opara::launch_traits<G>, so that the CPU
//! headers never see a cudaStream_t. Its primary template looks, in this order, for
//!   graph_traits<G>::launch(g, v, stream)   (a user who adapted G there already),
//!   g.launch(v, stream)                      (a member function),
//! and for the optional boundness hint
//!   graph_traits<G>::bound(g, v), then g.bound(v),
//! and for the optional programmatic-dependent-launch declaration (see programmatic_graph)
//!   graph_traits<G>::programmatic(g, v), then g.programmatic(v).
//! A graph type that offers neither is adapted by specializing opara::launch_traits<G>.
//!
//! Library kernels (cuBLAS, cuDNN, cuFFT) inside launch(v, s): operators on different streams run
//! concurrently, in the capture and in every replay, so they must not share library scratch state.
//! Give each operator (or each stream it may run on) its own cublasHandle_t and workspace, created
//! before compile(), and at every launch call cublasSetStream(handle, s) and then
//! cublasSetWorkspace(handle, its workspace, bytes): cublasSetStream resets the workspace to the
//! handle's default pool, which two operators of one handle would then share (a race no stream
//! order prevents). Run such operators once before the capture (profiling does), so that the
//! library's lazy initialization is not captured, and keep handles and workspaces alive as long as
//! the executable (README "Library kernels inside operators"; tests/gpu/cublas.cu).
//!
//! Bindings: launch(v, s) reads the buffers it passes to its kernels from the user's engine state
//! each time it is called; a capture records them. executable::update captures again after the
//! engine points its operators at new buffers (README "New inputs and outputs without recompiling").

#include <opara/cuda/runtime/error.hpp>
#include <opara/graph/traits.hpp>
#include <opara/profile/profile.hpp>

#include <cuda_runtime_api.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace opara {

//! How to launch operator v of a G on a stream, and (optionally) whether it is memory- or
//! compute-bound. Specialize for a graph type you cannot change.
template <class G>
struct launch_traits {
  //! Enqueues operator v's work on `s`. Must not synchronize and must use no other stream; library
  //! calls take `s` and a handle and workspace no concurrent operator uses (see the file comment).
  static void launch(const G& g, node_id v, cudaStream_t s)
    requires requires { graph_traits<G>::launch(g, v, s); } || requires { g.launch(v, s); }
  {
    if constexpr (requires { graph_traits<G>::launch(g, v, s); }) graph_traits<G>::launch(g, v, s);
    else g.launch(v, s);
  }
  //! The user's hint about operator v (optional).
  static boundness bound(const G& g, node_id v)
    requires requires {
      { graph_traits<G>::bound(g, v) } -> std::convertible_to<boundness>;
    } || requires {
      { g.bound(v) } -> std::convertible_to<boundness>;
    }
  {
    if constexpr (requires { { graph_traits<G>::bound(g, v) } -> std::convertible_to<boundness>; })
      return graph_traits<G>::bound(g, v);
    else
      return g.bound(v);
  }
  //! The user's declaration that operator v's kernels honour the programmatic-launch contract
  //! (optional; see programmatic_graph).
  static bool programmatic(const G& g, node_id v)
    requires requires {
      { graph_traits<G>::programmatic(g, v) } -> std::convertible_to<bool>;
    } || requires {
      { g.programmatic(v) } -> std::convertible_to<bool>;
    }
  {
    if constexpr (requires { { graph_traits<G>::programmatic(g, v) } -> std::convertible_to<bool>; })
      return graph_traits<G>::programmatic(g, v);
    else
      return g.programmatic(v);
  }
};

//! An operator_graph whose operators can be launched on a CUDA stream.
template <class G>
concept cuda_operator_graph = operator_graph<G> && requires(const G& g, node_id v, cudaStream_t s) {
  launch_traits<G>::launch(g, v, s);
};

//! A cuda_operator_graph that also says which operators are memory- or compute-bound.
template <class G>
concept bound_hinted_graph = cuda_operator_graph<G> && requires(const G& g, node_id v) {
  { launch_traits<G>::bound(g, v) } -> std::convertible_to<boundness>;
};

//! A cuda_operator_graph whose operators may declare programmatic dependent launch (PDL). An
//! operator v for which launch_traits<G>::programmatic(g, v) is true promises, for EVERY kernel
//! it launches and EVERY block of that kernel:
//!   - before cudaGridDependencySynchronize() (PTX griddepcontrol.wait) it reads only memory that
//!     no operator of the graph writes (weights, constants, its launch arguments) and writes
//!     nothing any other operator reads or writes (shared memory and registers are free);
//!   - it executes cudaGridDependencySynchronize() before its first access to any other global
//!     memory: inputs, outputs, workspaces (a block that returns early without touching global
//!     memory needs no wait).
//! The wait returns once every kernel this one depends on programmatically has completed and its
//! writes are visible; without a programmatic dependency it returns at once, so such kernels are
//! correct in any launch. cudaTriggerProgrammaticLaunchCompletion() (griddepcontrol.launch_dependents)
//! may be called anywhere, by any or all blocks: it only lets dependents be launched before this
//! kernel ends (once every block has triggered or exited), and never makes this kernel's writes
//! visible to them early (their wait still waits for completion). Dependents then hold SM resources
//! while they wait, so a kernel with several waves triggers in its last one, or not at all.
//! The capture policies give such an operator programmatic edges only from kernel nodes of other
//! operators (capture::options::programmatic); operators that do not declare it never get one.
template <class G>
concept programmatic_graph = cuda_operator_graph<G> && requires(const G& g, node_id v) {
  { launch_traits<G>::programmatic(g, v) } -> std::convertible_to<bool>;
};

//! Launches operator v of g on s through launch_traits.
template <cuda_operator_graph G>
void launch_operator(const G& g, node_id v, cudaStream_t s) {
  launch_traits<G>::launch(g, v, s);
}

//! The user's boundness hint for v, or boundness::unknown when G gives none.
template <cuda_operator_graph G>
boundness bound_hint(const G& g, node_id v) {
  if constexpr (bound_hinted_graph<G>) return static_cast<boundness>(launch_traits<G>::bound(g, v));
  else return boundness::unknown;
}

//! True when operator v of g declares programmatic dependent launch; false when G says nothing.
template <cuda_operator_graph G>
bool declares_programmatic(const G& g, node_id v) {
  if constexpr (programmatic_graph<G>) return static_cast<bool>(launch_traits<G>::programmatic(g, v));
  else return false;
}

//! How an operator's kernels wait for their producers (cuda::task_graph::add).
enum class input_wait : std::uint8_t {
  full,          //!< ordinary stream order: launched after its producers complete
  programmatic,  //!< its kernels call cudaGridDependencySynchronize() first (programmatic_graph's contract)
};

namespace cuda {

//! A graph of named operators, each a std::function that enqueues its work on the stream it is
//! given. Build it with add() and depends(); it models cuda_operator_graph and
//! bidirectional_operator_graph. Structure is checked when it is planned (to_graph).
//! Threads: const use (compiling, launching operators) may happen in several threads at once as far
//! as task_graph goes (its launchers run concurrently only if they are safe to); add() and
//! depends() need exclusive use.
class task_graph {
public:
  //! The work of one operator: enqueue on the given stream, never synchronize.
  using launcher = std::function<void(cudaStream_t)>;

  //! Adds an operator and returns its id (0, 1, 2, ... in call order). `wait` = input_wait::programmatic
  //! declares that its kernels keep programmatic_graph's contract.
  node_id add(std::string name, launcher work, boundness bound = boundness::unknown, input_wait wait = input_wait::full) {
    nodes_.push_back(node{std::move(name), std::move(work), bound, {}, {}, wait});
    return static_cast<node_id>(nodes_.size() - 1);
  }
  //! Declares that `after` consumes the output of `before`. Throws bad_graph for unknown ids
  //! (cycles and self-loops are reported when the graph is planned).
  task_graph& depends(node_id before, node_id after) {
    if (before >= nodes_.size() || after >= nodes_.size())
      throw bad_graph("opara::cuda::task_graph::depends(" + std::to_string(before) + ", " + std::to_string(after) +
                      "): unknown node (the graph has " + std::to_string(nodes_.size()) + " nodes)");
    nodes_[before].succ.push_back(after);
    nodes_[after].pred.push_back(before);
    return *this;
  }

  [[nodiscard]] std::size_t num_nodes() const noexcept { return nodes_.size(); }
  [[nodiscard]] std::span<const node_id> successors(node_id v) const noexcept { return nodes_[v].succ; }
  [[nodiscard]] std::span<const node_id> predecessors(node_id v) const noexcept { return nodes_[v].pred; }
  [[nodiscard]] const std::string& name(node_id v) const noexcept { return nodes_[v].name; }
  [[nodiscard]] boundness bound(node_id v) const noexcept { return nodes_[v].bound; }
  //! True when v was added with input_wait::programmatic.
  [[nodiscard]] bool programmatic(node_id v) const noexcept { return nodes_[v].wait == input_wait::programmatic; }
  //! Runs v's launcher on s. Throws bad_graph when v has no launcher.
  void launch(node_id v, cudaStream_t s) const {
    if (!nodes_[v].work) throw bad_graph("opara::cuda::task_graph: operator '" + nodes_[v].name + "' has no launcher");
    nodes_[v].work(s);
  }

private:
  struct node {
    std::string name;
    launcher work;
    boundness bound;
    std::vector<node_id> succ, pred;
    input_wait wait = input_wait::full;
  };
  std::vector<node> nodes_;
};

static_assert(cuda_operator_graph<task_graph>);
static_assert(bound_hinted_graph<task_graph>);
static_assert(named_operator_graph<task_graph>);
static_assert(programmatic_graph<task_graph>);

} // namespace cuda
} // namespace opara
