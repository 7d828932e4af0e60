#!/usr/bin/env bash
# GPU run of the examples' kernels and models, GoogLeNet then Inception-v3 (owner: kernels). One
# command on the GPU machine:
#   scripts/gpu-kernels.sh [quick|full|sanitize|copies|compare|bf16|fusion|peers|pipelines] [build-dir]
# quick: configure (sm_90 + sm_90a), build, both kernel tests (portable and sm_90 paths), whole-model
#        checks against the float64 reference (batch 1 and 8; sm90, portable tf32, portable tf32x3),
#        per-layer tables (--layers) at batch 1 and 8 on both paths, googlenet_bench --quick on sm90;
#        for Inception-v3 the model checks (sm90, portable tf32), sm90 per-layer tables and
#        inception_v3_bench --quick.
# full:  build, googlenet_bench on the portable path and on the sm90 path (JSON), the PyTorch
#        comparison (scripts/pytorch_torchvision.py, embedded in the sm90 JSON) and the PyTorch-weights
#        check; the same for inception_v3_bench (sm90 path); tables last. Results under $OUT (or
#        /tmp/gpu-kernels-out).
# sanitize: compute-sanitizer memcheck and racecheck on the kernel tests (all of them take longer than
#        the time limit under racecheck: CONVNET_TEST_ONLY="k1x7|avgpool|..." limits the shapes checked,
#        CONVNET_TEST_PIPELINES=specialized,persistent the sm_90 main loops; SANITIZE_TOOLS (memcheck,
#        racecheck, none: the test alone), SANITIZE_ONLY (CONVNET_TEST_ONLY for the sanitizer's runs
#        only; RACECHECK_ONLY for racecheck's), SANITIZE_TESTS and SANITIZE_TIMEOUT (s per run,
#        default 280) the runs).
# copies: where a small layer's time goes: conv_sweep stamps (the ring's blocks, part by part, and one
#        launch's span), conv_sweep copies (how fast one SM fills its shared memory: 16-byte cp.async as
#        the ring issues them against bulk copies) and conv_sweep fixed, in that order.
# compare: two prebuilt builds (COMPARE_DIRS, see below) alternately: model checks, per-layer sums,
#        --quick benches.
# bf16:  the BF16 sm_90 path: its kernel test, both models against the float64 reference (batch 1
#        and 8), the PyTorch-weights check (when scripts/export_torchvision_weights.py runs), per-layer
#        tables and --quick benches at batch 1 and 8 for both models, with the TF32 sm90 figures of the
#        same run beside them.
# fusion: horizontal fusion of the 1x1 convolutions of one input (--fuse-1x1) against none, both models,
#        TF32 and BF16: the model checks, per-layer sums at batch 8, and --quick benches at batch 1 and 8
#        (each pair in the same call, JSON each).
# pipelines: the sm_90 main loops (ring, specialized, persistent; kernels::sm90_pipeline) against each
#        other: both kernel tests (PIPELINE_TESTS=0: not), per model (PIPELINE_MODELS) and pipeline
#        the model against the float64 reference (the new loops), per-layer sums at batch 8 and
#        --quick benches at batch 1 and 8, TF32 and BF16 (JSON each), then conv_sweep on its
#        heaviest layers (96 and 200 KB rings) and, for GoogLeNet, a small layer's fixed cost and
#        where its blocks spend their time (conv_sweep fixed, conv_sweep stamps).
# peers: one model (PEERS_MODEL=googlenet|inception_v3) with PyTorch eager, CUDA Graph and
#        torch.compile (fp32 and bf16 autocast) and its bench in TF32 and BF16 (batch 1 and 8), JSON each.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-quick}
B=${2:-/tmp/build-kernels}
OUTDIR=${OUT:-/tmp/gpu-kernels-out}
mkdir -p "$OUTDIR"
T=$(mktemp -d)
status=0
step() { echo; echo "=== $*"; }
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
day=$(date -u +%Y-%m-%d)
export OPARA_COMMIT=${OPARA_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
# PREBUILT=dir: the binaries were built elsewhere (the same nvcc, sm_90a) and carried into dir: no
# configure, no build (saves a short device call its minutes of compiling).
# compare: COMPARE_DIRS="dirA dirB" (prebuilt, each with googlenet_bench, inception_v3_bench,
# googlenet_conv_sweep_96 and googlenet_conv_sweep_stamps) run alternately in one call.
if [ -n "${PREBUILT:-}" ] || [ "$what" = compare ]; then
  E=${PREBUILT:-} C=${PREBUILT:-} I=${PREBUILT:-}
  echo "prebuilt binaries from ${PREBUILT:-$COMPARE_DIRS}"
else
  step configure and build
  # KEEP_CONFIG=1 and a configured build dir (scripts/gpu-check's): build its targets as configured.
  [ -n "${KEEP_CONFIG:-}" ] && [ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DOPARA_BUILD_TESTS=OFF -DOPARA_BUILD_BENCH=OFF -DOPARA_INSTALL=OFF > "$T/configure.log" 2>&1 \
    || { tail -30 "$T/configure.log"; exit 1; }
  targets=(convnet_test_kernels convnet_test_kernels_sm90 convnet_test_kernels_sm90_bf16 googlenet_bench inception_v3_bench)
  [ "$what" = copies ] && targets=(googlenet_conv_sweep_96 googlenet_conv_sweep_stamps)
  [ "$what" = sanitize ] && targets=(${SANITIZE_TESTS:-convnet_test_kernels_sm90 convnet_test_kernels_sm90_bf16 convnet_test_kernels})
  if [ "$what" = pipelines ]; then
    # PIPELINE_LEAN=1 (a short device call): no portable kernel test, no 200 KB sweep.
    targets+=(googlenet_conv_sweep_96 googlenet_conv_sweep_stamps)
    if [ "${PIPELINE_LEAN:-0}" = 1 ]; then targets=("${targets[@]:1}"); else targets+=(googlenet_conv_sweep_200); fi
  fi
  cmake --build "$B" -j16 --target "${targets[@]}" > "$T/build.log" 2>&1 \
    || { grep -E "error|Error" -A5 "$T/build.log" | head -60; exit 1; }
  E="$B/examples/googlenet"
  C="$B/examples/common"
  I="$B/examples/inception_v3"
fi

if [ "$what" = quick ]; then
  step kernel tests
  for t in convnet_test_kernels convnet_test_kernels_sm90; do
    "$C/$t" > "$OUTDIR/$t.log" 2>&1; rc=$?
    grep -v "^ok " "$OUTDIR/$t.log" | tail -8; [ $rc -eq 0 ] || status=1
  done
  step whole model vs float64 reference, batch 1 and 8
  for cfg in "sm90 tf32" "portable tf32" "portable tf32x3"; do
    set -- $cfg
    "$E/googlenet_bench" --check-only --batch 1,8 --path $1 --precision $2 2>&1 | grep -E "^ok|FAIL|error|operators" || status=1
  done
  step per-layer times, isolated
  for p in portable sm90; do
    for b in 1 8; do
      "$E/googlenet_bench" --layers --batch $b --reps 20 --check-only --path $p --min-blocks ${MINB:-132} > "$OUTDIR/layers-$p-b$b.log" 2>&1 || status=1
      grep -E "ceilings|sum of conv" "$OUTDIR/layers-$p-b$b.log" | sed "s/^/[$p b$b] /"
    done
  done
  echo "slowest sm90 layers, batch 8:"; grep " layer " "$OUTDIR/layers-sm90-b8.log" | awk '{for(i=1;i<=NF;i++) if($i=="us"){print $(i-1) "\t" $0; break}}' | sort -g -r | head -14 | cut -f2
  step googlenet_bench --quick, sm90, pools fused into their 1x1 conv or not
  timeout 240 "$E/googlenet_bench" --batch 1,8 --quick --path sm90 > "$OUTDIR/bench-quick.log" 2>&1 || status=1
  timeout 240 "$E/googlenet_bench" --batch 1,8 --quick --path sm90 --fuse > "$OUTDIR/bench-quick-fused.log" 2>&1 || status=1
  for f in bench-quick bench-quick-fused; do echo "--- $f"; sed -n '/^batch  /,$p' "$OUTDIR/$f.log"; done
  step Inception-v3: whole model vs float64 reference, per-layer times, inception_v3_bench --quick
  for p in sm90 portable; do
    "$I/inception_v3_bench" --check-only --batch 1,8 --path $p 2>&1 | grep -E "^ok|FAIL|error|operators" || status=1
  done
  for b in 1 8; do
    "$I/inception_v3_bench" --layers --batch $b --reps 20 --check-only --path sm90 > "$OUTDIR/iv3-layers-sm90-b$b.log" 2>&1 || status=1
    grep -E "sum of conv|critical path" "$OUTDIR/iv3-layers-sm90-b$b.log" | sed "s/^/[sm90 b$b] /"
  done
  timeout 300 "$I/inception_v3_bench" --batch 1,8 --quick --path sm90 > "$OUTDIR/iv3-bench-quick.log" 2>&1 || status=1
  sed -n '/^batch  /,$p' "$OUTDIR/iv3-bench-quick.log"
fi

if [ "$what" = bf16 ]; then
  step BF16 kernel test
  "$C/convnet_test_kernels_sm90_bf16" > "$OUTDIR/convnet_test_kernels_sm90_bf16.log" 2>&1; rc=$?
  grep -v "^ok " "$OUTDIR/convnet_test_kernels_sm90_bf16.log" | tail -8; [ $rc -eq 0 ] || status=1
  step BF16 whole models vs float64 reference, batch 1 and 8
  for m in "$E/googlenet_bench" "$I/inception_v3_bench"; do
    "$m" --check-only --batch 1,8 --precision bf16 2>&1 | grep -E "^ok|FAIL|error|operators" || status=1
  done
  step BF16 PyTorch weights check
  for m in googlenet inception_v3; do
    if PYTHONUNBUFFERED=1 python3 scripts/export_torchvision_weights.py /tmp/$m.bin --model $m --batch 2 > "$T/export-$m.log" 2>&1; then
      bin="$E/googlenet_bench"; [ $m = inception_v3 ] && bin="$I/inception_v3_bench"
      for p in bf16 tf32; do
        "$bin" --weights /tmp/$m.bin --check-only --batch none --path sm90 --precision $p 2>&1 | grep -E "PyTorch weights|FAIL|error" || status=1
      done
    else
      echo "$m: weights export failed (no PyTorch?):"; tail -3 "$T/export-$m.log"
    fi
  done
  step per-layer times, isolated, sm90 bf16 and tf32
  for m in googlenet inception_v3; do
    bin="$E/googlenet_bench"; [ $m = inception_v3 ] && bin="$I/inception_v3_bench"
    for p in bf16 tf32; do
      for b in 1 8; do
        "$bin" --layers --batch $b --reps 20 --check-only --path sm90 --precision $p > "$OUTDIR/$m-layers-$p-b$b.log" 2>&1 || status=1
        grep -E "sum of conv|critical path" "$OUTDIR/$m-layers-$p-b$b.log" | sed "s/^/[$m $p b$b] /"
      done
    done
  done
  step --quick benches, batch 1 and 8, sm90 bf16 then tf32
  for m in googlenet inception_v3; do
    bin="$E/googlenet_bench"; [ $m = inception_v3 ] && bin="$I/inception_v3_bench"
    for p in bf16 tf32; do
      timeout 300 "$bin" --batch 1,8 --quick --path sm90 --precision $p --json "$OUTDIR/$m-$p-$gpu-$day.json" \
        > "$OUTDIR/$m-bench-quick-$p.log" 2>&1 || status=1
      echo "--- $m $p"; sed -n '/^batch  /,$p' "$OUTDIR/$m-bench-quick-$p.log"
    done
  done
fi

if [ "$what" = fusion ]; then
  for m in ${FUSION_MODELS:-googlenet inception_v3}; do
    bin="$E/googlenet_bench"; [ $m = inception_v3 ] && bin="$I/inception_v3_bench"
    for p in tf32 bf16; do
      step "$m $p: fused 1x1 convolutions against unfused"
      "$bin" --check-only --batch 1,8 --path sm90 --precision $p --fuse-1x1 2>&1 | grep -E "^ok|FAIL|error|operators" || status=1
      for f in "" --fuse-1x1; do
        tag=$m-$p${f:+-fused1x1}
        "$bin" --layers --batch 8 --reps 20 --check-only --path sm90 --precision $p $f > "$OUTDIR/$tag-layers-b8.log" 2>&1 || status=1
        grep -E "sum of conv|critical path" "$OUTDIR/$tag-layers-b8.log" | sed "s/^/[$tag b8] /"
        timeout 200 "$bin" --batch 1,8 --quick --path sm90 --precision $p $f --json "$OUTDIR/$tag-$gpu-$day.json" \
          > "$OUTDIR/$tag-bench-quick.log" 2>&1 || status=1
        echo "--- $tag"; sed -n '/^batch  /,$p' "$OUTDIR/$tag-bench-quick.log"
      done
    done
  done
fi

if [ "$what" = sanitize ]; then
  step compute-sanitizer memcheck and racecheck on the kernel tests
  for tool in ${SANITIZE_TOOLS:-memcheck racecheck}; do
    for t in ${SANITIZE_TESTS:-convnet_test_kernels_sm90 convnet_test_kernels_sm90_bf16 convnet_test_kernels}; do
      # tool "none": the test alone (no compute-sanitizer)
      # SANITIZE_ONLY: the shapes (CONVNET_TEST_ONLY) under the sanitizer, RACECHECK_ONLY under racecheck
      # (the slowest); the test alone runs them all.
      only=${SANITIZE_ONLY:-${CONVNET_TEST_ONLY:-}}; [ $tool = racecheck ] && only=${RACECHECK_ONLY:-$only}
      run=(env CONVNET_TEST_ONLY="$only" compute-sanitizer --tool $tool --error-exitcode 9)
      [ $tool = none ] && run=(env)
      s0=$(date +%s)
      timeout "${SANITIZE_TIMEOUT:-280}" "${run[@]}" "$C/$t" > "$OUTDIR/$tool-$t.log" 2>&1; rc=$?
      echo "$tool $t: rc=$rc in $(( $(date +%s) - s0 )) s: $(grep -E 'checks passed' "$OUTDIR/$tool-$t.log" | tail -1) $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUTDIR/$tool-$t.log" | tail -1)"
      grep "^FAIL" "$OUTDIR/$tool-$t.log" | head -5
      [ $rc -eq 0 ] || status=1
    done
  done
fi

if [ "$what" = compare ]; then
  # Two builds of the kernels (a change and its parent), alternately in the same call: per model
  # (COMPARE_MODELS) and precision (COMPARE_PRECISIONS) the model check, the per-layer sum at batch 8
  # and --quick benches at batch 1 and 8 (JSON each); with COMPARE_COPIES=1 (and GoogLeNet among the
  # models) the copies steps as well, each build's.
  for m in ${COMPARE_MODELS:-googlenet}; do
    for p in ${COMPARE_PRECISIONS:-tf32 bf16}; do
      for d in $COMPARE_DIRS; do
        bin="$d/googlenet_bench"; [ $m = inception_v3 ] && bin="$d/inception_v3_bench"
        tag=$m-$p-$(basename "$d")
        step "$tag"
        timeout 100 "$bin" --check-only --batch 1,8 --path sm90 --precision $p 2>&1 | grep -E "^ok|FAIL|error" | head -4 || status=1
        timeout 100 "$bin" --layers --batch 8 --reps 20 --check-only --path sm90 --precision $p > "$OUTDIR/$tag-layers-b8.log" 2>&1 || status=1
        grep -E "sum of conv|critical path" "$OUTDIR/$tag-layers-b8.log" | sed "s/^/[$tag b8] /"
        timeout 200 "$bin" --batch 1,8 --quick --path sm90 --precision $p --json "$OUTDIR/$tag-$gpu-$day.json" \
          > "$OUTDIR/$tag-bench-quick.log" 2>&1 || status=1
        sed -n '/^batch  /,$p' "$OUTDIR/$tag-bench-quick.log"
      done
    done
  done
  if [ "${COMPARE_COPIES:-0}" = 1 ] && [[ " ${COMPARE_MODELS:-googlenet} " == *" googlenet "* ]]; then
    for d in $COMPARE_DIRS; do
      OUT="$OUTDIR/copies-$(basename "$d")" PREBUILT="$d" "$0" copies || status=1
    done
  fi
fi

if [ "$what" = copies ]; then
  step "where a small layer's blocks spend their time (conv_sweep stamps, the ring)"
  timeout 60 "$E/googlenet_conv_sweep_stamps" stamps > "$OUTDIR/conv_sweep-stamps.log" 2>&1 || status=1
  grep PARTS "$OUTDIR/conv_sweep-stamps.log"
  step "how fast one SM fills its shared memory (conv_sweep copies)"
  timeout 60 "$E/googlenet_conv_sweep_96" copies > "$OUTDIR/conv_sweep-copies.log" 2>&1 || status=1
  grep COPIES "$OUTDIR/conv_sweep-copies.log"
  step "a small layer's fixed cost (conv_sweep fixed)"
  timeout 60 "$E/googlenet_conv_sweep_96" fixed > "$OUTDIR/conv_sweep-fixed.log" 2>&1 || status=1
  grep -E "empty|fit" "$OUTDIR/conv_sweep-fixed.log"
fi

if [ "$what" = full ]; then
  step PyTorch
  PYTHONUNBUFFERED=1 timeout 600 python3 scripts/pytorch_torchvision.py --model googlenet --batch 1,8 --json "$OUTDIR/pytorch.json" \
    > "$OUTDIR/pytorch.log" 2>&1 || { tail -5 "$OUTDIR/pytorch.log"; status=1; }
  cat "$OUTDIR/pytorch.log" | grep batch
  step googlenet_bench, portable path then sm90 path
  timeout 150 "$E/googlenet_bench" --batch 1,8 --layers --path portable --json "$OUTDIR/googlenet-portable-$gpu-$day.json" \
    > "$OUTDIR/bench-portable.log" 2>&1 || status=1
  py=(); [ -f "$OUTDIR/pytorch.json" ] && py=(--pytorch "$OUTDIR/pytorch.json")
  timeout 150 "$E/googlenet_bench" --batch 1,8 --layers --path sm90 --json "$OUTDIR/googlenet-$gpu-$day.json" "${py[@]}" \
    > "$OUTDIR/bench-sm90.log" 2>&1 || status=1
  step PyTorch weights check
  if PYTHONUNBUFFERED=1 python3 scripts/export_torchvision_weights.py /tmp/googlenet.bin --model googlenet --batch 2 > "$T/export.log" 2>&1; then
    for p in sm90 portable; do
      "$E/googlenet_bench" --weights /tmp/googlenet.bin --check-only --batch none --path $p 2>&1 | grep -E "PyTorch weights|FAIL|error" || status=1
    done
  else
    tail -5 "$T/export.log"; status=1
  fi
  step Inception-v3: PyTorch, inception_v3_bench on the sm90 path, PyTorch weights check
  PYTHONUNBUFFERED=1 timeout 700 python3 scripts/pytorch_torchvision.py --model inception_v3 --batch 1,8 \
    --json "$OUTDIR/pytorch-inception_v3.json" > "$OUTDIR/pytorch-inception_v3.log" 2>&1 \
    || { tail -5 "$OUTDIR/pytorch-inception_v3.log"; status=1; }
  grep batch "$OUTDIR/pytorch-inception_v3.log"
  py=(); [ -f "$OUTDIR/pytorch-inception_v3.json" ] && py=(--pytorch "$OUTDIR/pytorch-inception_v3.json")
  timeout 300 "$I/inception_v3_bench" --batch 1,8 --layers --path sm90 --json "$OUTDIR/inception_v3-$gpu-$day.json" "${py[@]}" \
    > "$OUTDIR/iv3-bench-sm90.log" 2>&1 || status=1
  if PYTHONUNBUFFERED=1 python3 scripts/export_torchvision_weights.py /tmp/inception_v3.bin --model inception_v3 --batch 2 > "$T/export-iv3.log" 2>&1; then
    for p in sm90 portable; do
      "$I/inception_v3_bench" --weights /tmp/inception_v3.bin --check-only --batch none --path $p 2>&1 | grep -E "PyTorch weights|FAIL|error" || status=1
    done
  else
    tail -5 "$T/export-iv3.log"; status=1
  fi
  for p in portable sm90; do echo "--- googlenet $p"; sed -n '/^batch  /,$p' "$OUTDIR/bench-$p.log"; done
  echo "--- inception_v3 sm90"; sed -n '/^batch  /,$p' "$OUTDIR/iv3-bench-sm90.log"
fi
if [ "$what" = pipelines ]; then
  # Most urgent first: the fp32 kernel test, then per model (PIPELINE_MODELS) its variants and its
  # conv_sweeps (GoogLeNet: the fixed-cost split too), the bf16 kernel test after the first model.
  # PIPELINE_TESTS=0 skips the kernel tests.
  kernel_test() {
    [ "${PIPELINE_TESTS:-1}" = 1 ] || return 0
    step "kernel test $1 (every pipeline)"
    timeout 120 "$C/$1" > "$OUTDIR/$1.log" 2>&1; rc=$?
    echo "$1: rc=$rc"; grep -v "^ok " "$OUTDIR/$1.log" | tail -6; [ $rc -eq 0 ] || status=1
  }
  # A smoke test first (the 7x7 shapes, every pipeline): a hang there would take every later step.
  pipes="ring specialized persistent"
  CONVNET_TEST_ONLY=k7x7 timeout 40 "$C/convnet_test_kernels_sm90" > "$OUTDIR/smoke.log" 2>&1; rc=$?
  echo "smoke (k7x7, every pipeline): rc=$rc $(tail -1 "$OUTDIR/smoke.log")"
  if [ $rc -ne 0 ]; then status=1; pipes=ring; grep -v "^ok " "$OUTDIR/smoke.log" | tail -5; else kernel_test convnet_test_kernels_sm90; fi
  first=1
  for m in ${PIPELINE_MODELS:-googlenet inception_v3}; do
    bin="$E/googlenet_bench"; [ $m = inception_v3 ] && bin="$I/inception_v3_bench"
    for p in tf32 bf16; do
      for pipe in $pipes; do
        tag=$m-$p-$pipe
        step "$tag"
        [ $pipe = ring ] || timeout 100 "$bin" --check-only --batch 1,8 --path sm90 --precision $p --pipeline $pipe 2>&1 | grep -E "^ok|FAIL|error" | head -4 || status=1
        timeout 100 "$bin" --layers --batch 8 --reps 20 --check-only --path sm90 --precision $p --pipeline $pipe > "$OUTDIR/$tag-layers-b8.log" 2>&1 || status=1
        grep -E "sum of conv|critical path" "$OUTDIR/$tag-layers-b8.log" | sed "s/^/[$tag b8] /"
        timeout 200 "$bin" --batch 1,8 --quick --path sm90 --precision $p --pipeline $pipe --json "$OUTDIR/$tag-$gpu-$day.json" \
          > "$OUTDIR/$tag-bench-quick.log" 2>&1 || status=1
        sed -n '/^batch  /,$p' "$OUTDIR/$tag-bench-quick.log"
      done
    done
    if [ $m = googlenet ]; then
      step "a small layer's fixed cost (conv_sweep fixed)"
      timeout 60 "$E/googlenet_conv_sweep_96" fixed > "$OUTDIR/conv_sweep-fixed.log" 2>&1 || status=1
      grep -E "empty|fit" "$OUTDIR/conv_sweep-fixed.log"
      step "where its blocks spend their time (conv_sweep stamps, the ring)"
      timeout 60 "$E/googlenet_conv_sweep_stamps" stamps > "$OUTDIR/conv_sweep-stamps.log" 2>&1 || status=1
      grep PARTS "$OUTDIR/conv_sweep-stamps.log"
    fi
    step "conv_sweep $m (TF32), every pipeline"
    timeout 150 "$E/googlenet_conv_sweep_96" $m > "$OUTDIR/conv_sweep-$m.log" 2>&1 || status=1
    grep BEST "$OUTDIR/conv_sweep-$m.log"
    [ "${PIPELINE_LEAN:-0}" = 1 ] || step "conv_sweep $m, specialized and persistent with a 200 KB ring"
    [ "${PIPELINE_LEAN:-0}" = 1 ] || { CONV_SWEEP_PIPELINES=specialized,persistent timeout 150 "$E/googlenet_conv_sweep_200" $m \
      > "$OUTDIR/conv_sweep-200-$m.log" 2>&1 || status=1; grep BEST "$OUTDIR/conv_sweep-200-$m.log"; }
    [ $first = 1 ] && kernel_test convnet_test_kernels_sm90_bf16
    first=0
  done
fi
if [ "$what" = peers ]; then
  # The peers in the same device call as opara, one model (PEERS_MODEL: googlenet or inception_v3):
  # PyTorch eager, CUDA Graph and torch.compile, fp32 (TF32) and under bf16 autocast, then the
  # model's bench at batch 1 and 8 in TF32 and in BF16 on the sm_90 path, each JSON embedding
  # PyTorch's. PEERS_REPS sets the bench's --reps (default 300).
  m=${PEERS_MODEL:-googlenet}
  bin="$E/googlenet_bench"; [ "$m" = inception_v3 ] && bin="$I/inception_v3_bench"
  step "$m: PyTorch (eager, CUDA Graph, torch.compile; fp32 and bf16 autocast)"
  PYTHONUNBUFFERED=1 timeout 420 python3 scripts/pytorch_torchvision.py --model "$m" --batch 1,8 \
    --json "$OUTDIR/pytorch-$m.json" > "$OUTDIR/pytorch-$m.log" 2>&1 || { tail -5 "$OUTDIR/pytorch-$m.log"; status=1; }
  grep batch "$OUTDIR/pytorch-$m.log"
  py=(); [ -f "$OUTDIR/pytorch-$m.json" ] && py=(--pytorch "$OUTDIR/pytorch-$m.json")
  for p in tf32 bf16; do
    step "$m bench, sm90 $p, batch 1 and 8"
    timeout 200 "$bin" --batch 1,8 --path sm90 --precision $p --reps "${PEERS_REPS:-300}" \
      --json "$OUTDIR/$m-$p-$gpu-$day.json" "${py[@]}" > "$OUTDIR/$m-bench-$p.log" 2>&1 || status=1
    sed -n '/^batch  /,$p' "$OUTDIR/$m-bench-$p.log"
  done
fi
exit $status
