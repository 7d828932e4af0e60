#!/usr/bin/env python3
"""Export a torchvision model (seeded, eval mode) for opara's model benches: googlenet_bench or
inception_v3_bench --weights FILE.

    python3 scripts/export_torchvision_weights.py OUT.bin [--model googlenet|inception_v3] [--batch 2] [--seed 0]

Builds torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True) (224x224) or
torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True) (299x299), both with
transform_input=False, under a fixed seed (no download), gives every BatchNorm non-trivial statistics (running mean/var calibrated on random images so
activations stay O(1), then random gamma/beta and a perturbation of the statistics), switches to
eval mode, and writes every conv weight, BN (weight, bias, running_mean, running_var, eps), fc,
a fixed random input and PyTorch's own fp32 output for it (TF32 disabled).

File format (little-endian), read by examples/common/network.hpp:
  char[8] magic "OPARAGWT"; uint32 version = 1; uint32 tensor count;
  per tensor: uint32 name length, name (UTF-8), uint32 ndim, int64 dims[ndim], float32 data (row-major).
Tensor names are the state_dict names plus "<module>.bn.eps" (one element), "input" and "output".
"""

import argparse
import struct
import sys

import torch
import torchvision


# name -> (constructor, input size): torchvision's layout, random init, no auxiliary classifier.
MODELS = {
    "googlenet": (lambda tv: tv.models.googlenet(weights=None, aux_logits=False, init_weights=True,
                                                 transform_input=False), 224),
    "inception_v3": (lambda tv: tv.models.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                                       transform_input=False), 299),
}


def write_tensors(path, tensors):
    with open(path, "wb") as f:
        f.write(b"OPARAGWT")
        f.write(struct.pack("<II", 1, len(tensors)))
        for name, t in tensors:
            t = t.detach().to("cpu", torch.float32).contiguous()
            nb = name.encode("utf-8")
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dq" % t.dim(), *t.shape))
            f.write(t.numpy().tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--model", default="googlenet", choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(a.seed)
    build, size = MODELS[a.model]
    model = build(torchvision)

    # Calibrate BN running statistics on random images (cumulative average: momentum=None), so that
    # every layer's activations are O(1); a fresh model's 0/1 statistics would shrink them to nothing.
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 3, size, size))
    g = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)            # gamma in [0.5, 1.5)
            m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.4)      # beta in [-0.2, 0.2)
            m.running_mean.add_((torch.rand(n, generator=g) - 0.5) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(n, generator=g) * 0.5 + 0.75)
    model.eval()

    x = torch.rand(a.batch, 3, size, size, generator=g) * 2 - 1
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        y = model.to(dev)(x.to(dev)).float().cpu()
    model = model.cpu()

    tensors = []
    sd = model.state_dict()
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        tensors.append((name, t))
    for mname, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            tensors.append((mname + ".eps", torch.tensor([m.eps])))
    tensors.append(("input", x))
    tensors.append(("output", y))
    write_tensors(a.out, tensors)
    convs = sum(1 for n, _ in tensors if n.endswith(".conv.weight"))
    print(f"wrote {a.out}: {a.model}, {len(tensors)} tensors ({convs} convs), batch {a.batch}, device {dev}, "
          f"output |y| mean {y.abs().mean().item():.4f}, torch {torch.__version__}, torchvision {torchvision.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
