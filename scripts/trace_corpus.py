#!/usr/bin/env python3
"""Traces torchvision models with torch.fx and writes their operator DAGs as JSON (bench/corpus/).

    python3 scripts/trace_corpus.py [--out bench/corpus] [--only NAME[,NAME...]]

Needs PyTorch and torchvision (no network: weights=None). Each model is traced with
torch.fx.symbolic_trace at batch 1 (3x224x224; 3x299x299 for Inception-v3, whose auxiliary logits
are off) and its tensor shapes are filled in by ShapeProp. Every graph node that launches work is one
corpus node with its op kind, FLOPs and bytes moved (estimated from the shapes, see op_cost) and its
predecessors. Nodes that launch no kernel (placeholders, get_attr, getattr/getitem, views such as
flatten/reshape/permute, dropout, stochastic depth and identity in eval mode, size arithmetic and
asserts: anything whose result is no tensor) are contracted:
their consumers depend on their nearest kernel-launching ancestors instead, so the dependency
structure is kept.

Output format (one file per model, <name>.json):
  {"model": str, "input": [N, C, H, W], "torch": str, "torchvision": str,
   "nodes": [{"name": str, "op": str, "flops": int, "bytes": int, "preds": [int, ...]}, ...]}
Nodes are in the traced program order (a topological order); preds index into "nodes".
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.fx
import torchvision
from torch.fx.passes.shape_prop import ShapeProp

MODELS = {
    # name: (constructor, input size)
    "googlenet": (lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False), 224),
    "inception_v3": (lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False), 299),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None), 224),
    "densenet121": (lambda: torchvision.models.densenet121(weights=None), 224),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(weights=None), 224),
    "shufflenet_v2_x1_0": (lambda: torchvision.models.shufflenet_v2_x1_0(weights=None), 224),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(weights=None), 224),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None), 224),
    "regnet_y_400mf": (lambda: torchvision.models.regnet_y_400mf(weights=None), 224),
    "vit_b_16": (lambda: torchvision.models.vit_b_16(weights=None), 224),
    "swin_t": (lambda: torchvision.models.swin_t(weights=None), 224),
}

# Modules and functions that launch no kernel of their own (views, no-ops in eval mode).
VIEW_MODULES = (torch.nn.Flatten, torch.nn.Identity, torch.nn.Dropout, torch.nn.Dropout2d, torch.nn.Unflatten)
VIEW_FUNCTIONS = {"flatten", "reshape", "view", "permute", "transpose", "squeeze", "unsqueeze", "getattr",
                  "getitem", "size", "dim", "_assert", "chunk", "split", "unbind", "expand", "narrow",
                  "dropout", "identity", "contiguous", "t", "numel", "type_as", "to", "_check",
                  "stochastic_depth"}  # torchvision.ops.stochastic_depth: the identity in eval mode


def tensors(x):
    """Every tensor metadata object reachable in x (tuples, lists, dicts of TensorMetadata)."""
    from torch.fx.passes.shape_prop import TensorMetadata
    if isinstance(x, TensorMetadata):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in tensors(e)]
    if isinstance(x, dict):
        return [t for e in x.values() for t in tensors(e)]
    return []


def numel(meta):
    return math.prod(meta.shape) if len(meta.shape) else 1


def nbytes(meta):
    return numel(meta) * torch.empty((), dtype=meta.dtype).element_size()


def arg_metas(node):
    out = []
    for a in list(node.args) + list(node.kwargs.values()):
        for n in (a if isinstance(a, (list, tuple)) else [a]):
            if isinstance(n, torch.fx.Node):
                out += tensors(n.meta.get("tensor_meta"))
    return out


def kind_of(node, modules):
    if node.op == "call_module":
        return type(modules[node.target]).__name__.lower()
    if node.op == "call_function":
        name = getattr(node.target, "__name__", str(node.target))
        return {"iadd": "add", "imul": "mul"}.get(name, name)
    if node.op == "call_method":
        return node.target
    return node.op


def is_view(node, modules):
    if node.op in ("placeholder", "output", "get_attr"):
        return True
    if node.op == "call_module" and isinstance(modules[node.target], VIEW_MODULES):
        return True
    # Arithmetic on sizes (h // p, h == size) yields no tensor: no kernel.
    return not tensors(node.meta.get("tensor_meta")) or kind_of(node, modules) in VIEW_FUNCTIONS


def op_cost(node, modules, kind):
    """(flops, bytes): multiply-adds count 2 FLOPs; bytes = tensor inputs + outputs + parameters."""
    outs = tensors(node.meta.get("tensor_meta"))
    ins = arg_metas(node)
    out_elems = sum(numel(t) for t in outs)
    params = 0
    flops = out_elems  # one operation per output element for element-wise work
    if node.op == "call_module":
        m = modules[node.target]
        params = sum(p.numel() * p.element_size() for p in m.parameters(recurse=True))
        if isinstance(m, torch.nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            flops = 2 * out_elems * k
        elif isinstance(m, torch.nn.Linear):
            flops = 2 * out_elems * m.in_features
        elif isinstance(m, torch.nn.MultiheadAttention):
            x = ins[0].shape  # (N, L, E) with batch_first
            n, l, e = (x[0], x[1], x[2]) if len(x) == 3 else (1, x[0], x[1])
            flops = 2 * n * l * e * 3 * e + 2 * 2 * n * l * l * e + 2 * n * l * e * e
        elif isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            ks = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size, m.kernel_size)
            flops = out_elems * ks[0] * ks[1]
        elif isinstance(m, (torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool2d)):
            flops = sum(numel(t) for t in ins)
        elif isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm)):
            flops = 5 * out_elems
        elif isinstance(m, (torch.nn.GELU, torch.nn.SiLU, torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.Sigmoid)):
            flops = 4 * out_elems
    elif kind in ("matmul", "bmm", "linear", "baddbmm", "addmm"):
        a = ins[0].shape if ins else ()
        flops = 2 * out_elems * (a[-1] if len(a) else 1)
    elif kind == "shifted_window_attention":
        # torchvision.models.swin_transformer: x (B, H, W, C), window attention of 7x7 windows + qkv/proj.
        b, h, w, c = ins[0].shape
        tokens = b * h * w
        flops = 2 * tokens * c * 3 * c + 2 * 2 * tokens * 49 * c + 2 * tokens * c * c
        params = sum(nbytes(t) for t in ins[1:])
    elif kind == "scaled_dot_product_attention":
        q = ins[0].shape
        flops = 4 * numel(ins[0]) * q[-2]
    moved = sum(nbytes(t) for t in ins) + sum(nbytes(t) for t in outs) + params
    return int(flops), int(moved)


def trace(name, ctor, size):
    model = ctor().eval()
    gm = torch.fx.symbolic_trace(model)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        ShapeProp(gm).propagate(x)
    modules = dict(gm.named_modules())
    index = {}    # fx node -> corpus index (kernel-launching nodes)
    through = {}  # fx node -> set of corpus indices it stands for (contracted nodes)
    nodes = []
    for node in gm.graph.nodes:
        preds = set()
        for inp in node.all_input_nodes:
            preds |= {index[inp]} if inp in index else through.get(inp, set())
        if is_view(node, modules):
            through[node] = preds
            continue
        kind = kind_of(node, modules)
        flops, moved = op_cost(node, modules, kind)
        index[node] = len(nodes)
        nodes.append({"name": node.name, "op": kind, "flops": flops, "bytes": moved, "preds": sorted(preds)})
    return {"model": name, "input": [1, 3, size, size], "torch": torch.__version__,
            "torchvision": torchvision.__version__, "nodes": nodes}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/corpus")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    failed = []
    for name, (ctor, size) in MODELS.items():
        if only and name not in only:
            continue
        try:
            doc = trace(name, ctor, size)
        except Exception as e:  # report and go on: one model's tracing failure must not hide the others
            print(f"trace_corpus: {name}: {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        path = os.path.join(a.out, name + ".json")
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        os.replace(path + ".tmp", path)
        n = doc["nodes"]
        print(f"{name}: {len(n)} operators, {sum(len(v['preds']) for v in n)} edges, "
              f"{sum(v['flops'] for v in n) / 1e9:.2f} GFLOP, {sum(v['bytes'] for v in n) / 1e6:.1f} MB -> {path}")
    if failed:
        print("trace_corpus: failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
