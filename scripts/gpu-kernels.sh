#!/usr/bin/env bash
# GPU run of the GoogLeNet kernels (owner: kernels). One lean command on the GPU machine:
#   scripts/gpu-kernels.sh [build-dir]
# configure (sm_90), build googlenet_test_kernels + googlenet_bench, kernel tests, whole-model check
# (batch 1, 8; tf32 and tf32x3) against the float64 CPU reference, per-layer times at batch 1 with
# split-K off (GOOGLENET_SPLITK=1) and on, googlenet_bench --batch 1,8 with split-K off and on; tables last.
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
cmake --build "$B" -j16 --target googlenet_test_kernels googlenet_bench > "$T/build.log" 2>&1 \
  || { grep -E "error|Error" -A5 "$T/build.log" | head -60; exit 1; }
E="$B/examples/googlenet"

step kernel tests
"$E/googlenet_test_kernels" > "$OUTDIR/test_kernels.log" 2>&1; rc=$?
grep -v "^ok " "$OUTDIR/test_kernels.log" | tail -30; [ $rc -eq 0 ] || status=1
grep "^ok .*split[2-8]" "$OUTDIR/test_kernels.log" | sort -k12 -g | tail -3

step whole model vs float64 reference, batch 1 and 8
for p in tf32 tf32x3; do
  "$E/googlenet_bench" --check-only --batch 1,8 --precision $p 2>&1 | grep -E "ok|FAIL|error" || status=1
done

step per-layer times, batch 1, split-K off / on
GOOGLENET_SPLITK=1 "$E/googlenet_bench" --layers --batch 1 --reps 20 --check-only --min-blocks 96 > "$T/layers_off.log" 2>&1
"$E/googlenet_bench" --layers --batch 1 --reps 20 --check-only --min-blocks 96 > "$T/layers_on.log" 2>&1
join <(grep " layer " "$T/layers_off.log" | awk '{print $2, $10}' | sort) \
     <(grep " layer " "$T/layers_on.log" | awk '{print $2, $10}' | sort) | sort -k2 -g -r | head -24 \
  | awk '{printf "  %-26s off %7.2f us  on %7.2f us\n", $1, $2, $3}'
for f in off on; do
  awk -v f=$f '/ layer /{s+=$10} END{printf "sum of conv layer times (isolated, batch 1), split-K %s: %.1f us\n", f, s}' "$T/layers_$f.log"
done

step googlenet_bench
GOOGLENET_SPLITK=1 timeout 120 "$E/googlenet_bench" --batch 1,8 > "$OUTDIR/bench_off.log" 2>&1 || status=1
timeout 120 "$E/googlenet_bench" --batch 1,8 --json "$OUTDIR/bench_on.json" > "$OUTDIR/bench_on.log" 2>&1 || status=1
GOOGLENET_SPLITK_BLOCKS=132 timeout 60 "$E/googlenet_bench" --batch 1 > "$OUTDIR/bench_on132.log" 2>&1
GOOGLENET_SPLITK_PIXELS=100000 timeout 60 "$E/googlenet_bench" --batch 8 > "$OUTDIR/bench_onpix.log" 2>&1
GOOGLENET_SPLITK=1 timeout 60 "$E/googlenet_bench" --batch 1 --precision tf32x3 > "$OUTDIR/bench_x3off.log" 2>&1 || status=1
timeout 60 "$E/googlenet_bench" --batch 1 --precision tf32x3 > "$OUTDIR/bench_x3on.log" 2>&1 || status=1
for f in on132 onpix x3off x3on off on; do echo; echo "--- split-K $f"; grep -E "^batch|^[0-9]" "$OUTDIR/bench_$f.log"; done
exit $status
