#!/usr/bin/env python3
"""PyTorch's figures for a torchvision model (GoogLeNet at 224x224 or Inception-v3 at 299x299), to
compare with googlenet_bench / inception_v3_bench in the same device call: the model
(aux_logits=False, transform_input=False, eval, random weights: no download) run eagerly, as a
sequential CUDA Graph (torch.cuda.graphs), and through torch.compile(mode="reduce-overhead"), at
each batch size, fp32 tensors with PyTorch's default TF32 convolutions (cuDNN) -- the same
arithmetic as opara's TF32 kernels. The same three again under torch.autocast("cuda",
dtype=torch.bfloat16) (the "*_bf16_autocast" fields; --no-bf16 skips them): what PyTorch does with
bf16 tensor cores. torch.compile is compiled afresh for every batch size and precision
(torch._dynamo.reset() first, dynamic=False): reusing one compiled model, dynamo recompiles the
second batch size with a dynamic batch dimension, slower than a model compiled for that size.
Timing: CUDA events around each run, median of --reps after warm-up, in two modes: isolated (the
host waits for each run) and back to back. Writes JSON (--json), which the bench's --pytorch embeds
in its own.

  python3 scripts/pytorch_torchvision.py [--model googlenet|inception_v3] --batch 1,8 --json out.json
                                        [--no-compile] [--no-bf16]
"""
import argparse
import json
import statistics
import sys
import time


def timed(fn, reps, warmup, isolated):
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        starts[i].record()
        fn()
        ends[i].record()
        if isolated:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def both(fn, reps, warmup=20):
    return {"isolated_ms": timed(fn, reps, warmup, True), "back_to_back_ms": timed(fn, reps, warmup, False)}


def bf16_autocast(on, **kwargs):
    """torch.autocast to bfloat16 on CUDA when `on`, else a context that does nothing."""
    import contextlib
    import torch
    return torch.autocast("cuda", dtype=torch.bfloat16, **kwargs) if on else contextlib.nullcontext()


def cuda_graph(model, x, autocast):
    """The model captured in a CUDA Graph on a static copy of x, after three warm-up runs on a side
    stream; with `autocast`, warmed up and captured under bf16 autocast (without its cast cache, as
    CUDA Graphs need)."""
    import torch
    static_x = x.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with bf16_autocast(autocast, cache_enabled=False):
        with torch.cuda.stream(s):
            for _ in range(3):
                model(static_x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            model(static_x)
    return g


def compiled_figures(model, x, reps, autocast):
    """torch.compile(mode="reduce-overhead") compiled for this batch size alone (dynamo reset first,
    static shapes), run under bf16 autocast when `autocast`, warmed up and timed: (seconds to compile
    and warm up, both timing modes)."""
    import torch
    torch._dynamo.reset()
    t0 = time.time()
    compiled = torch.compile(model, mode="reduce-overhead", dynamic=False)
    with torch.inference_mode(), bf16_autocast(autocast):
        for _ in range(5):
            compiled(x)
        torch.cuda.synchronize()
        compile_s = time.time() - t0
        return compile_s, both(lambda: compiled(x), reps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="googlenet", choices=["googlenet", "inception_v3"])
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--json", default="")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--no-bf16", action="store_true", help="skip the torch.autocast(dtype=torch.bfloat16) figures")
    ap.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old command lines
    a = ap.parse_args()

    import torch
    import torchvision
    if not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return 77
    torch.manual_seed(0)
    dev = torch.device("cuda")
    build = getattr(torchvision.models, a.model)
    size = 299 if a.model == "inception_v3" else 224
    model = build(weights=None, aux_logits=False, transform_input=False, init_weights=True)
    model = model.to(dev).eval()
    bf16 = not a.no_bf16
    out = {"model": a.model, "input_size": size, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "cudnn": torch.backends.cudnn.version(), "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
           "bf16_autocast": bf16,
           "torch_compile": None if a.no_compile else {"mode": "reduce-overhead", "dynamic": False,
                                                        "compiled_per_batch": True},
           "results": []}
    for batch in [int(b) for b in a.batch.split(",")]:
        x = torch.randn(batch, 3, size, size, device=dev)
        r = {"batch": batch}
        with torch.inference_mode():
            r["eager"] = both(lambda: model(x), a.reps)
            g = cuda_graph(model, x, False)
            r["cuda_graph"] = both(g.replay, a.reps)
            del g
            if bf16:
                with bf16_autocast(True):
                    r["eager_bf16_autocast"] = both(lambda: model(x), a.reps)
                g = cuda_graph(model, x, True)
                r["cuda_graph_bf16_autocast"] = both(g.replay, a.reps)
                del g
        if not a.no_compile:
            r["compile_s"], r["torch_compile_reduce_overhead"] = compiled_figures(model, x, a.reps, False)
            if bf16:
                r["compile_bf16_autocast_s"], r["torch_compile_reduce_overhead_bf16_autocast"] = \
                    compiled_figures(model, x, a.reps, True)
        out["results"].append(r)
        print(json.dumps(r), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
