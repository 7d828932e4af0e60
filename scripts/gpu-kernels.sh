#!/usr/bin/env bash
# GPU run of the GoogLeNet example (owner: kernels). One command on the GPU machine:
#   scripts/gpu-kernels.sh [build-dir]
# configure (sm_90), build the example targets, kernel tests, whole-model check (batch 1, 8) against
# the float64 CPU reference, PyTorch weights check, inception block, googlenet_bench; table last.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-/tmp/build-kernels}
OUTDIR=${OUT:-/tmp/gpu-kernels-out}
mkdir -p "$OUTDIR"
T=$(mktemp -d)
status=0
step() { echo; echo "=== $*"; }

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
step configure
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DOPARA_BUILD_TESTS=OFF -DOPARA_BUILD_BENCH=OFF -DOPARA_INSTALL=OFF > "$T/configure.log" 2>&1 \
  || { tail -30 "$T/configure.log"; exit 1; }
step build
cmake --build "$B" -j16 --target googlenet_test_kernels googlenet_bench inception_block > "$T/build.log" 2>&1 \
  || { grep -E "error|Error" -A5 "$T/build.log" | head -60; exit 1; }
E="$B/examples"

step kernel tests
"$E/googlenet/googlenet_test_kernels" > "$OUTDIR/test_kernels.log" 2>&1; rc=$?
grep -v "^ok " "$OUTDIR/test_kernels.log" | tail -30; [ $rc -eq 0 ] || status=1

step whole model vs float64 reference, batch 1 and 8
for p in tf32 tf32x3; do
  "$E/googlenet/googlenet_bench" --check-only --batch 1,8 --precision $p 2>&1 | grep -E "ok|FAIL|error" || status=1
done

step PyTorch weights
if PYTHONUNBUFFERED=1 python3 scripts/export_googlenet_weights.py "$T/googlenet.bin" --batch 2; then
  for p in tf32x3 tf32; do
    "$E/googlenet/googlenet_bench" --weights "$T/googlenet.bin" --check-only --batch none --precision $p 2>&1 | grep -E "ok|FAIL|error"
  done
  # A truncated file must be refused with a clear message.
  head -c 1000000 "$T/googlenet.bin" > "$T/truncated.bin"
  "$E/googlenet/googlenet_bench" --weights "$T/truncated.bin" --check-only --batch none 2>&1 | tail -1
else
  echo "export failed"; status=1
fi

step inception block
"$E/inception_block/inception_block" 2>&1 | tee "$OUTDIR/inception_block.log" || status=1

step per-layer times, batch 1
"$E/googlenet/googlenet_bench" --layers --batch 1 --reps 20 --check-only --min-blocks 96 > "$OUTDIR/layers.log" 2>&1
grep " layer " "$OUTDIR/layers.log" | sort -k10 -g -r | head -15
awk '/ layer /{s+=$10} END{printf "sum of conv layer times (isolated, batch 1): %.1f us\n", s}' "$OUTDIR/layers.log"

step googlenet_bench
"$E/googlenet/googlenet_bench" --precision tf32x3 --batch 1 --json "$OUTDIR/bench_tf32x3.json" > "$T/bench_tf32x3.log" 2>&1 || status=1
"$E/googlenet/googlenet_bench" --precision tf32 --json "$OUTDIR/bench_tf32.json" 2>&1 | tee "$OUTDIR/bench_tf32.log" || status=1
echo; echo "tf32x3, batch 1:"; tail -3 "$T/bench_tf32x3.log"
exit $status
