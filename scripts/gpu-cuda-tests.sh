#!/usr/bin/env bash
# Builds opara's CUDA-side GPU tests (tests/cuda/: capture, concurrency, capture_errors, profiler, autotune, server, multi_gpu, pdl, user_policies),
# runs them, then runs them again in quick mode under compute-sanitizer memcheck and racecheck.
# Usage: bash scripts/gpu-cuda-tests.sh            (on the GPU machine; logs under $OUT when set)
#        PARALLEL=1 bash scripts/gpu-cuda-tests.sh (the sanitizer runs all at once)
#        JOBS=2 BUILD_ONLY=1 bash scripts/gpu-cuda-tests.sh   (compile check without a GPU)
# Builds from a copy of the sources in $WORK (the checkout stays clean).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/opara-cuda-tests}
JOBS=${JOBS:-16}
LOG=${OUT:-$WORK}
TESTS=(capture concurrency capture_errors profiler autotune server multi_gpu pdl user_policies)
mkdir -p "$WORK" "$LOG"
rm -f "$LOG/tests.log" "$LOG/sanitizer.log"
rm -rf "$WORK/src" && mkdir -p "$WORK/src"
cp -r "$ROOT/CMakeLists.txt" "$ROOT/cmake" "$ROOT/include" "$ROOT/compat" "$ROOT/tests" "$WORK/src/"
rm -rf "$WORK/src/tests/cmake"  # package-consumer checks are not needed for GPU tests

B="${BUILT:-$WORK/build}"  # BUILT=<dir>: use test executables already built there
if [ -z "${BUILT:-}" ]; then
cmake -S "$WORK/src" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DOPARA_BUILD_EXAMPLES=OFF -DOPARA_BUILD_BENCH=OFF -DOPARA_INSTALL=OFF >"$LOG/configure.log" 2>&1 \
  || { tail -30 "$LOG/configure.log"; echo "SUMMARY: configure failed"; exit 1; }
# Every GPU test file is in one executable, test_gpu; a topic's cases are those of its file
# (doctest's --source-file filter).
if ! cmake --build "$B" -j "$JOBS" --target test_gpu >"$LOG/build.log" 2>&1; then
  grep -E "error|Error" "$LOG/build.log" | head -40
  echo "SUMMARY: build failed"
  exit 1
fi
echo "build ok"
fi
[ -n "${BUILD_ONLY:-}" ] && { echo "SUMMARY: build only"; exit 0; }

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
declare -A result
for t in "${TESTS[@]}"; do
  start=$(date +%s%N)
  timeout 240 "$B/tests/test_gpu" --source-file="*/$t.cpp" >"$WORK/$t.log" 2>&1
  rc=$?
  result[$t]="rc=$rc ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
  { echo "===== $t rc=$rc"; cat "$WORK/$t.log"; } >>"$LOG/tests.log"
  echo "=== $t: rc=$rc"
  grep -E "MESSAGE|ERROR|FAILED|test cases|assertions|opara:" "$WORK/$t.log" | cut -c1-400 | head -30
done
export OPARA_TEST_QUICK=1 OPARA_TEST_SANITIZER=1
# Every (tool, test) pair is its own process: PARALLEL=1 runs them all at once (one GPU serves
# them all; the runs are independent), which cuts the device time by about the number of pairs.
sanitize() {  # tool test
  local tool=$1 t=$2 extra=""
  [ "$tool" = memcheck ] && extra="--leak-check full"
  # capture_errors makes CUDA calls fail on purpose (that is what it tests): API errors are expected there.
  [ "$t" = capture_errors ] && extra="$extra --report-api-errors no"
  timeout 240 compute-sanitizer --tool "$tool" $extra --error-exitcode 9 "$B/tests/test_gpu" --source-file="*/$t.cpp" >"$WORK/${tool}_$t.log" 2>&1
  echo $? >"$WORK/${tool}_$t.rc"
}
for tool in memcheck racecheck; do
  for t in "${TESTS[@]}"; do
    if [ -n "${PARALLEL:-}" ]; then sanitize "$tool" "$t" & else sanitize "$tool" "$t"; fi
  done
done
wait
for tool in memcheck racecheck; do
  for t in "${TESTS[@]}"; do
    rc=$(cat "$WORK/${tool}_$t.rc")
    { echo "===== $tool $t rc=$rc"; cat "$WORK/${tool}_$t.log"; } >>"$LOG/sanitizer.log"
    result[$tool.$t]="rc=$rc $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$WORK/${tool}_$t.log" | tail -1) $(grep -E 'test cases' "$WORK/${tool}_$t.log" | tail -1)"
    [ "$rc" -ne 0 ] && { echo "=== $tool $t rc=$rc"; grep -E "=========|ERROR|FAILED|test cases" "$WORK/${tool}_$t.log" | cut -c1-300 | head -20; }
  done
done
echo "SUMMARY:"
for k in $(printf '%s\n' "${!result[@]}" | sort); do echo "  $k: ${result[$k]}"; done
