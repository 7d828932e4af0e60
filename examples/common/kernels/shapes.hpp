#pragma once
//! Launch shapes of the convolution and pooling kernels (examples/common: GoogLeNet and Inception-v3).
//! Plain C++ (no CUDA), shared by the kernels and the float64 CPU reference.

#include <cstdint>

namespace convnet::kernels {

//! Tensor-core precision of a convolution. tf32: fp32 tensors, TF32 products, fp32 accumulation (both
//! paths); tf32x3: the split that is fp32-accurate (portable path only); bf16: bf16 activations and
//! weights in memory, bf16 products, fp32 accumulation, bias and ReLU in fp32, results rounded to bf16
//! (sm_90 path only).
enum class conv_precision : std::uint8_t { tf32, tf32x3, bf16 };

inline const char* precision_name(conv_precision p) {
  return p == conv_precision::tf32 ? "tf32" : p == conv_precision::tf32x3 ? "tf32x3" : "bf16";
}

//! A bf16 value as stored (the upper 16 bits of an fp32): the element type of the sm_90 path's bf16
//! tensors and weights as the host sees them (the kernels read them as __nv_bfloat16).
struct bfloat16 {
  std::uint16_t bits;
};

//! Elements in one 16-byte chunk of an NHWC pixel on the sm_90 path: 4 fp32 or 8 bf16. A pixel
//! stores its channels rounded up to a multiple of it, and the K loop steps over 8 chunks
//! (one 128-byte swizzle row: 32 fp32 or 64 bf16 elements).
inline int nhwc_chunk(conv_precision p) { return p == conv_precision::bf16 ? 8 : 4; }

//! Shape of one convolution. Weights are [cout][k_pad] with k_pad = round_up(cin*kh*kw, 32) and
//! zeros in the padding; the output goes to channels [c_off, c_off + cout) of a c_total-channel tensor.
struct conv_shape {
  int batch = 1;
  int cin = 0, h = 0, w = 0;  //!< input
  int cout = 0, kh = 1, kw = 1;  //!< kh != kw allowed (1x7, 7x1, 1x3, 3x1)
  int stride = 1, pad_h = 0, pad_w = 0;
  int c_off = 0, c_total = 0;  //!< output channel slice; c_total == 0 means cout
  [[nodiscard]] int ho() const { return (h + 2 * pad_h - kh) / stride + 1; }
  [[nodiscard]] int wo() const { return (w + 2 * pad_w - kw) / stride + 1; }
  [[nodiscard]] int k() const { return cin * kh * kw; }
  [[nodiscard]] int k_pad() const { return (k() + 31) / 32 * 32; }
  [[nodiscard]] int total_channels() const { return c_total == 0 ? cout : c_total; }
  [[nodiscard]] long long flops() const { return 2LL * batch * cout * ho() * wo() * k(); }
  // The sm_90 path (NHWC, kernels/conv_sm90.cuh): each input pixel stores cin4 channels (zeros past
  // cin), K runs over (r, s, ci), and the weights are [cout][kh][kw][cin4], zero-padded to k_pad_nhwc().
  // bf16 (the precision argument): cin8 channels per pixel and K padded to a multiple of 64 instead.
  [[nodiscard]] int cin4() const { return (cin + 3) / 4 * 4; }
  [[nodiscard]] int cin_nhwc(conv_precision p = conv_precision::tf32) const {
    const int v = nhwc_chunk(p);
    return (cin + v - 1) / v * v;
  }
  [[nodiscard]] int k_nhwc(conv_precision p = conv_precision::tf32) const { return kh * kw * cin_nhwc(p); }
  [[nodiscard]] int k_pad_nhwc(conv_precision p = conv_precision::tf32) const {
    const int bk = 8 * nhwc_chunk(p);
    return (k_nhwc(p) + bk - 1) / bk * bk;
  }
};

//! PyTorch's pooling output size: floor or ceil, and with ceil the last window must start inside
//! the input or its left padding (torch.nn.functional.max_pool2d's rule).
inline int pool_out_size(int in, int k, int stride, int pad, bool ceil_mode) {
  const int num = in + 2 * pad - k;
  int out = (ceil_mode ? (num + stride - 1) / stride : num / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

//! Shape of one pool; writes channel slice [c_off, c_off + c) of a c_total-channel tensor.
//! average: mean over the window with the padding counted in the divisor (PyTorch's
//! avg_pool2d(count_include_pad=True): the window clipped to the padded input); otherwise the maximum.
struct pool_shape {
  int batch = 1, c = 0, h = 0, w = 0;
  int k = 3, stride = 1, pad = 0;
  bool ceil_mode = true;
  bool average = false;
  int c_off = 0, c_total = 0;  //!< c_total == 0 means c
  [[nodiscard]] int ho() const { return pool_out_size(h, k, stride, pad, ceil_mode); }
  [[nodiscard]] int wo() const { return pool_out_size(w, k, stride, pad, ceil_mode); }
  [[nodiscard]] int total_channels() const { return c_total == 0 ? c : c_total; }
};

//! A tile configuration: BM output channels x BN output pixels per block.
enum class conv_tile : std::uint8_t { m64n64, m32n64, m64n32, m32n32, m16n64 };

inline const char* tile_name(conv_tile t) {
  switch (t) {
    case conv_tile::m64n64: return "64x64";
    case conv_tile::m32n64: return "32x64";
    case conv_tile::m64n32: return "64x32";
    case conv_tile::m32n32: return "32x32";
    case conv_tile::m16n64: return "16x64";
  }
  return "?";
}

//! Blocks a tile gives for a shape.
inline long long conv_blocks(const conv_shape& s, conv_tile t) {
  int bm = 64, bn = 64;
  switch (t) {
    case conv_tile::m64n64: bm = 64; bn = 64; break;
    case conv_tile::m32n64: bm = 32; bn = 64; break;
    case conv_tile::m64n32: bm = 64; bn = 32; break;
    case conv_tile::m32n32: bm = 32; bn = 32; break;
    case conv_tile::m16n64: bm = 16; bn = 64; break;
  }
  const long long n = 1LL * s.batch * s.ho() * s.wo();
  return ((n + bn - 1) / bn) * ((s.cout + bm - 1) / bm);
}

//! Per-layer tile: the largest tile that still gives at least `min_blocks` blocks (enough to fill
//! part of the GPU and hide latency, few enough that parallel branches can share the SMs).
inline conv_tile choose_conv_tile(const conv_shape& s, long long min_blocks = 48) {
  for (conv_tile t : {conv_tile::m64n64, conv_tile::m64n32, conv_tile::m32n64, conv_tile::m32n32})
    if (conv_blocks(s, t) >= min_blocks) return t;
  const long long n = 1LL * s.batch * s.ho() * s.wo();
  // Few pixels (7x7 at batch 1): split the channels finer rather than waste columns.
  return n <= 64 ? conv_tile::m16n64 : conv_tile::m32n32;
}

//! Split-K across a thread-block cluster (see conv.cuh): for layers with few blocks and a long K
//! loop (the 7x7 and 14x14 layers at batch 1), `splits` blocks of one cluster each run a contiguous
//! part of the K loop and reduce through distributed shared memory, in a fixed order. Measured on
//! an H100 (RESULTS.md): at batch 1 the parallel graph gains most with max_blocks 200; at batch 8
//! splitting the 7x7 layers (392 pixels) made the parallel graph slower (the branches already fill
//! the GPU), hence max_pixels.
struct split_k_rule {
  int max_splits = 4;           //!< 1 turns split-K off; at most 8 (portable cluster size)
  long long max_blocks = 200;   //!< blocks * splits stays at or under this
  long long max_pixels = 256;   //!< only layers with batch * ho * wo at or under this (thin GEMMs)
  int min_k = 512;              //!< only K = cin*kh*kw at or over this
  int min_tiles_per_split = 6;  //!< each split keeps at least this many BK = 32 steps
};

//! Split count for a layer and tile under `r` (1: no split).
inline int conv_splits(const conv_shape& s, conv_tile t, const split_k_rule& r = {}) {
  if (s.k() < r.min_k || 1LL * s.batch * s.ho() * s.wo() > r.max_pixels) return 1;
  const long long blocks = conv_blocks(s, t);
  const int k_tiles = s.k_pad() / 32;
  const int cap = r.max_splits < 8 ? r.max_splits : 8;
  int n = 1;
  while (n < cap && blocks * (n + 1) <= r.max_blocks && k_tiles / (n + 1) >= r.min_tiles_per_split) ++n;
  return n;
}

//! Which convolution kernels an engine runs: the Hopper path (NHWC, wgmma, sm_90a only) or the
//! portable one (NCHW, mma.sync through WMMA, any GPU the binary is built for). automatic: sm90 on a
//! compute-capability-9.0 device with TF32 precision, portable otherwise.
enum class conv_path : std::uint8_t { automatic, sm90, portable };

inline const char* path_name(conv_path p) {
  return p == conv_path::sm90 ? "sm90" : p == conv_path::portable ? "portable" : "automatic";
}

//! A tile of the sm_90 kernel: BM output pixels (one warpgroup per 64) x BN output channels.
enum class sm90_tile : std::uint8_t { m128n128, m128n64, m64n128, m64n64, m64n32, m64n16, m128n192, m128n96 };

inline int sm90_bm(sm90_tile t) {
  return t == sm90_tile::m128n128 || t == sm90_tile::m128n64 || t == sm90_tile::m128n192 || t == sm90_tile::m128n96 ? 128 : 64;
}
inline int sm90_bn(sm90_tile t) {
  switch (t) {
    case sm90_tile::m128n128: case sm90_tile::m64n128: return 128;
    case sm90_tile::m128n64: case sm90_tile::m64n64: return 64;
    case sm90_tile::m64n32: return 32;
    case sm90_tile::m64n16: return 16;
    case sm90_tile::m128n192: return 192;
    case sm90_tile::m128n96: return 96;
  }
  return 64;
}
inline const char* tile_name(sm90_tile t) {
  switch (t) {
    case sm90_tile::m128n128: return "128x128";
    case sm90_tile::m128n64: return "128x64";
    case sm90_tile::m64n128: return "64x128";
    case sm90_tile::m64n64: return "64x64";
    case sm90_tile::m64n32: return "64x32";
    case sm90_tile::m64n16: return "64x16";
    case sm90_tile::m128n192: return "128x192";
    case sm90_tile::m128n96: return "128x96";
  }
  return "?";
}

//! Blocks of one split of an sm_90 launch.
inline long long sm90_blocks(const conv_shape& s, sm90_tile t) {
  const long long m = 1LL * s.batch * s.ho() * s.wo();
  return ((m + sm90_bm(t) - 1) / sm90_bm(t)) * ((s.cout + sm90_bn(t) - 1) / sm90_bn(t));
}

//! Horizontal fusion on the sm_90 path: several convolutions of one input with the same window run
//! as one GEMM over their stacked weights, and output i takes the GEMM's next `cout` columns into
//! channels [c_off, c_off + cout) of its own c_total-channel NHWC tensor (up to max_conv_outputs).
inline constexpr int max_conv_outputs = 4;
template <class T>
struct conv_output {
  T* out = nullptr;
  int cout = 0, c_off = 0, c_total = 0;
};

//! The sm_90 kernel's main loop (kernels/conv_sm90.cuh). ring: every thread copies its share of a
//! K step with cp.async and the block meets at a barrier before each step's wgmmas. specialized: a
//! producer warpgroup copies, the consumer warpgroups only run wgmmas and the epilogue, the two
//! handing stages to each other through mbarriers (no block barrier in the loop). persistent:
//! specialized with no more blocks than the GPU holds at once, each block looping over output tiles,
//! so that its producer fills the ring for the next tile while the consumers store the last one
//! (split-K launches keep one tile per block).
enum class sm90_pipeline : std::uint8_t { ring, specialized, persistent };

inline const char* pipeline_name(sm90_pipeline p) {
  return p == sm90_pipeline::ring ? "ring" : p == sm90_pipeline::specialized ? "specialized" : "persistent";
}

//! An sm_90 launch configuration: tile, split-K count and main loop.
struct sm90_config {
  sm90_tile tile = sm90_tile::m64n64;
  int splits = 1;
  sm90_pipeline pipeline = sm90_pipeline::ring;
};

//! Per-layer sm_90 configuration from a small cost model fitted to measurements (conv_sweep on an
//! H200, examples/googlenet/RESULTS.md): a block's K loop costs 0.25 us + 2e-5 us x BM x BN per 32-wide
//! K step (latency-bound), repeated per wave of co-resident blocks; a full GPU cannot beat the tile's
//! measured throughput on the padded GEMM (TFLOP/s below); split-K adds ~1 us per doubling (the
//! cluster reduction). The estimate's minimum over tiles and splits {1, 2, 4, 8} (each split keeping
//! >= 3 K steps) wins; on the 11 layers swept it lands within 2% of the best measured total (a
//! refit with a lower per-step latency, 0.15 us, did as well there but split the many small 1x1
//! layers too little: +10% on their sum).
//! `slots`: blocks of two-per-SM tiles the layer may have in flight at once, 264 = 132 SMs x 2 on an
//! H100/H200 when it runs alone; fewer when other branches share the GPU (the engine's
//! min_conv_blocks), which favours fewer, larger blocks. 128x192 blocks fit once per SM.
//! bf16 (`p`): a K step is 64 elements (the same 128-byte rows, so the same per-step latency), half as
//! many steps, and twice each tile's TF32 throughput (the tensor cores' bf16 rate is twice their TF32
//! rate; not yet measured on these kernels).
inline sm90_config choose_sm90_config(const conv_shape& s, long long slots = 264,
                                      conv_precision p = conv_precision::tf32) {
  struct tile_cost {
    sm90_tile tile;
    double tflops;
    int per_sm;
  };
  const tile_cost tiles[] = {{sm90_tile::m128n192, 138, 1}, {sm90_tile::m128n128, 173, 2}, {sm90_tile::m128n96, 134, 2},
                             {sm90_tile::m128n64, 134, 2},  {sm90_tile::m64n128, 145, 2},  {sm90_tile::m64n64, 99, 2},
                             {sm90_tile::m64n32, 72, 2},    {sm90_tile::m64n16, 40, 2}};
  const long long m = 1LL * s.batch * s.ho() * s.wo();
  const int bk = 8 * nhwc_chunk(p);
  const int k_tiles = s.k_pad_nhwc(p) / bk;
  const double rate = p == conv_precision::bf16 ? 2.0 : 1.0;
  sm90_config best;
  double best_us = -1;
  for (const tile_cost& t : tiles) {
    if (t.tile == sm90_tile::m64n16 && s.cout > 16) continue;
    const int bm = sm90_bm(t.tile), bn = sm90_bn(t.tile);
    const long long mt = (m + bm - 1) / bm, nt = (s.cout + bn - 1) / bn;
    const double tile_slots = static_cast<double>(slots > 1 ? slots : 2) * t.per_sm / 2;
    for (int splits : {1, 2, 4, 8}) {
      if (splits > 1 && k_tiles / splits < 3) break;
      const double waves = static_cast<double>(mt * nt * splits) / tile_slots;
      const double latency = (waves > 1 ? waves : 1.0) * (static_cast<double>(k_tiles) / splits) * (0.25 + 2e-5 * bm * bn);
      const double throughput =
          2.0 * static_cast<double>(mt * bm) * static_cast<double>(nt * bn) * k_tiles * bk / (rate * t.tflops * 1e6);
      const double us = (latency > throughput ? latency : throughput) + (splits == 1 ? 0.0 : splits == 2 ? 1.0 : splits == 4 ? 2.0 : 3.0);
      if (best_us < 0 || us < best_us) {
        best_us = us;
        best = {t.tile, splits};
      }
    }
  }
  return best;
}

} // namespace convnet::kernels
