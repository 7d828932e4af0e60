#pragma once
// The bench suite's corpus: operator DAGs of real models (traced by scripts/trace_corpus.py into
// bench/corpus/*.json) and generated wide graphs, each node a calibrated synthetic kernel.
//
// From a traced node's FLOPs F and bytes moved B to a kernel (the rule, for an H100/H200-class GPU
// at batch 1; `rng` is seeded per model, so a workload is the same in every run):
//   - time alone: t = max(2 us, F / 100 TFLOP/s, B / 2.5 TB/s) x a log-normal draw (sigma 0.25),
//     at most 400 us. 100 TFLOP/s and 2.5 TB/s are what batch-1 layers reach on Hopper (TF32
//     tensor-core convolutions run at 55-135 TFLOP/s in examples/googlenet, copies at 3-4 TB/s),
//     2 us the floor of a small kernel;
//   - compute-bound (a spin kernel holding shared memory and registers) when F / B is above 40
//     FLOP/byte, the ridge point of those two rates; otherwise memory-bound (a streaming kernel);
//   - compute kernels: blocks = F / 25 MFLOP x a draw in [0.5, 2], 1 to 132 (one wave); 128 or
//     256 threads; 16, 32, 64 or 96 KiB of shared memory; 32 or 64 registers per thread (drawn);
//   - memory kernels: blocks = B / 256 KiB x a draw in [0.5, 2], 1 to 4 x SMs, 256 threads.

#include "synthetic.hpp"

#include <opara/detail/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

// The kernel a traced node becomes (see the rule above).
inline node_spec corpus_kernel(double flops, double bytes, int sms, std::mt19937& rng) {
  constexpr double tflops = 100e6;  // FLOP per microsecond
  constexpr double bytes_per_us = 2.5e6;
  std::lognormal_distribution<double> jitter(0.0, 0.25);
  std::uniform_real_distribution<double> spread(0.5, 2.0);
  node_spec s;
  const double t = std::max({2.0, flops / tflops, bytes / bytes_per_us}) * jitter(rng);
  s.target_us = std::min(400.0, t);
  s.memory = !(bytes > 0 && flops / bytes > 40.0);
  if (s.memory) {
    s.threads = 256;
    s.blocks = static_cast<unsigned>(std::clamp(bytes / (256.0 * 1024) * spread(rng), 1.0, 4.0 * sms));
  } else {
    s.threads = std::uniform_int_distribution<int>(0, 1)(rng) ? 256 : 128;
    s.blocks = static_cast<unsigned>(std::clamp(flops / 25e6 * spread(rng), 1.0, static_cast<double>(sms)));
    static constexpr unsigned smem_kib[] = {16, 32, 64, 96};
    s.shared_bytes = smem_kib[std::uniform_int_distribution<int>(0, 3)(rng)] * 1024;
    s.regs = std::uniform_int_distribution<int>(0, 1)(rng) ? 64 : 32;
  }
  return s;
}

// A traced model with each operator's kernel drawn by the corpus rule (host only).
struct corpus_model {
  struct op {
    std::string name;
    node_spec kernel;
    std::vector<opara::node_id> preds;  // all earlier operators
  };
  std::string name;
  double flops = 0;
  std::vector<op> ops;
};

// Reads bench/corpus/<name>.json and draws its kernels for a GPU of `sms` SMs (the rng is seeded
// with the model's name: the same draws on every host). Throws std::runtime_error naming the file
// for an unreadable or malformed corpus file.
inline corpus_model read_corpus_model(const std::filesystem::path& file, int sms) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read corpus file " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = opara::detail::json::parse(text.str());
  const auto* model = doc.find("model");
  const auto* nodes = doc.find("nodes");
  if (!model || !model->is_string() || !nodes || !nodes->is_array())
    throw std::runtime_error("corpus file " + file.string() + " needs a string 'model' and an array 'nodes'");
  corpus_model m;
  m.name = model->as_string();
  std::uint32_t seed = 2166136261u;  // FNV-1a of the model's name
  for (char c : m.name) seed = (seed ^ static_cast<unsigned char>(c)) * 16777619u;
  std::mt19937 rng(seed);
  const auto& arr = nodes->as_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& n = arr[i];
    const auto* name = n.find("name");
    const auto* f = n.find("flops");
    const auto* b = n.find("bytes");
    const auto* preds = n.find("preds");
    if (!name || !f || !b || !preds || !name->is_string() || !f->is_number() || !b->is_number() || !preds->is_array())
      throw std::runtime_error("corpus file " + file.string() + ": node " + std::to_string(i) +
                               " needs 'name', 'flops', 'bytes' and 'preds'");
    m.flops += f->as_number();
    corpus_model::op o{name->as_string(), corpus_kernel(f->as_number(), b->as_number(), sms, rng), {}};
    for (const auto& p : preds->as_array()) {
      const double u = p.as_number();
      if (!(u >= 0 && u < static_cast<double>(i)))
        throw std::runtime_error("corpus file " + file.string() + ": node " + std::to_string(i) + " names predecessor " +
                                 std::to_string(u) + " (predecessors come earlier)");
      o.preds.push_back(static_cast<opara::node_id>(u));
    }
    m.ops.push_back(std::move(o));
  }
  return m;
}

// A traced model (bench/corpus/<name>.json) as a workload. Throws like read_corpus_model.
inline workload corpus_workload(calibrated_device& dev, const std::filesystem::path& file) {
  const corpus_model m = read_corpus_model(file, dev.sm_count());
  workload w{m.name, "", {}};
  for (const auto& o : m.ops) {
    const auto v = add_node(w, dev, o.name, o.kernel);
    for (const opara::node_id u : o.preds) w.graph.depends(u, v);
  }
  w.description = "traced " + w.name + " (batch 1, " + std::to_string(m.ops.size()) + " ops, " +
                  std::to_string(static_cast<long long>(m.flops / 1e6)) + " MFLOP), calibrated synthetic kernels";
  return w;
}

// Every bench/corpus/*.json in `dir`, by file name.
inline std::vector<std::filesystem::path> corpus_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) throw std::runtime_error("no corpus directory " + dir.string());
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A small kernel of a wide graph: 1-16 blocks, 3-15 us (compute), or a light memory kernel.
inline node_spec wide_kernel(std::mt19937& rng) {
  node_spec s;
  s.memory = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
  s.blocks = 1u << std::uniform_int_distribution<int>(0, 4)(rng);
  s.threads = 128;
  s.target_us = std::uniform_real_distribution<double>(3, 15)(rng);
  if (!s.memory) {
    s.shared_bytes = std::uniform_int_distribution<int>(0, 3)(rng) * 16 * 1024;
    s.regs = std::uniform_int_distribution<int>(0, 1)(rng) ? 32 : 8;
  }
  return s;
}

// Generated wide graphs (hundreds of parallel branches), three shapes:
//  - "branches<W>": one source, W branch chains of 1-3 small kernels, one sink (a huge inception
//    block);
//  - "stages<S>x<W>": S stages, each a fan-out of W small kernels and one wide kernel (all SMs)
//    joined by a concat-like memory kernel, so wide and small work alternate;
//  - "layered<L>x<W>": L layers of W kernels, each with 1-3 random producers in the previous
//    layer, a mix of small and SM-filling kernels.
inline std::vector<workload> wide_graphs(calibrated_device& dev, unsigned seed = 12) {
  std::vector<workload> out;
  std::mt19937 rng(seed);
  const unsigned sms = static_cast<unsigned>(dev.sm_count());
  {
    const int width = 256;
    workload w{"branches256", "1 -> 256 branch chains of 1-3 small kernels (1-16 blocks, 3-15 us) -> 1", {}};
    const auto src = add_node(w, dev, "src", {true, 64, 256, 0, 8, 4});
    const auto sink = add_node(w, dev, "sink", {true, 64, 256, 0, 8, 4});
    for (int b = 0; b < width; ++b) {
      opara::node_id prev = src;
      const int len = std::uniform_int_distribution<int>(1, 3)(rng);
      for (int i = 0; i < len; ++i) {
        const auto v = add_node(w, dev, "b" + std::to_string(b) + "_" + std::to_string(i), wide_kernel(rng));
        w.graph.depends(prev, v);
        prev = v;
      }
      w.graph.depends(prev, sink);
    }
    out.push_back(std::move(w));
  }
  {
    const int stages = 4, width = 128;
    workload w{"stages4x128", "4 stages of 128 small kernels + 1 SM-filling kernel, each joined", {}};
    opara::node_id join = add_node(w, dev, "input", {true, 64, 256, 0, 8, 4});
    for (int s = 0; s < stages; ++s) {
      const auto next = add_node(w, dev, "S" + std::to_string(s) + "_join", {true, 64, 256, 0, 8, 5});
      const auto heavy = add_node(w, dev, "S" + std::to_string(s) + "_wide", {false, sms, 256, 64 * 1024, 64, 30});
      w.graph.depends(join, heavy);
      w.graph.depends(heavy, next);
      for (int i = 0; i < width; ++i) {
        const auto v = add_node(w, dev, "S" + std::to_string(s) + "_k" + std::to_string(i), wide_kernel(rng));
        w.graph.depends(join, v);
        w.graph.depends(v, next);
      }
      join = next;
    }
    out.push_back(std::move(w));
  }
  {
    const int layers = 8, width = 125;
    workload w{"layered8x125", "8 random layers of 125 kernels (1-3 producers each), small and SM-filling mixed", {}};
    std::vector<opara::node_id> prev, cur;
    for (int l = 0; l < layers; ++l) {
      cur.clear();
      for (int i = 0; i < width; ++i) {
        node_spec s = wide_kernel(rng);
        if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) s = {false, sms, 256, 32 * 1024, 32, 20};
        const auto v = add_node(w, dev, "L" + std::to_string(l) + "_" + std::to_string(i), s);
        if (!prev.empty()) {
          const int k = std::uniform_int_distribution<int>(1, 3)(rng);
          for (int j = 0; j < k; ++j)
            w.graph.depends(prev[std::uniform_int_distribution<std::size_t>(0, prev.size() - 1)(rng)], v);
        }
        cur.push_back(v);
      }
      prev = cur;
    }
    out.push_back(std::move(w));
  }
  return out;
}

} // namespace bench
