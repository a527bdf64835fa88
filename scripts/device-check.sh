#!/usr/bin/env bash
# One call on a lent GPU machine: which adapter, the GPU kernels against the CPU reference, then the
# benchmarks at full size, every result under $OUT (the device tool brings that folder back).
#
# Here, before the call:   npm ci && ../shared/device/prepare.sh        (writes .device/, gitignored)
# The call (device tool):  source .device/enter.sh; bash scripts/device-check.sh
#                          with carry [".device"] and a timeout that leaves time for a rerun.
# Each step has its own time limit (seconds, env overrides) so one slow step cannot eat the others;
# a failed step is recorded in $OUT/summary.txt and the script goes on.
# Without a GPU it runs on whatever adapter Dawn finds (lavapipe here), which is how it is tested.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.tmp/device-out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

step() { # step <name> <seconds> <command...>: runs it with a time limit, output to $OUT/<name>.txt
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  printf '%-22s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" | tee -a "$SUMMARY"
}

RUN="node --import tsx bench/run.ts"
step adapter        30                 node scripts/probe-adapter.mjs
# GPU kernels (tiled, subgroup and f16 paths) against the float64 CPU reference, and model parity.
step tests-ops      "${T_TESTS:-150}"  node scripts/run-tests.mjs --no-typecheck ops
step tests-models   "${T_MODELS:-60}"  node scripts/run-tests.mjs --no-typecheck models generate
# Benchmarks: BioGPT training shapes, 4096³ GEMMs, decode; then again with the unsafe-API toggles
# (shader-f16 and subgroup matrices on NVIDIA).
export RADGRAD_BENCH_SCALE=full
step bench-kernels  "${T_KERNELS:-120}" $RUN kernels matmul --json "$OUT/kernels.json"
RADGRAD_UNSAFE_GPU_FEATURES=1 \
step bench-unsafe   "${T_UNSAFE:-90}"  $RUN matmul --json "$OUT/matmul-unsafe.json"
RADGRAD_BENCH_GEN_MODELS=biogpt,biogpt-int8 \
step bench-generate "${T_GEN:-90}"     $RUN generate --json "$OUT/generate.json"
step bench-ops      "${T_OPS:-60}"     $RUN ops --json "$OUT/ops.json"
echo "results in $OUT"; cat "$SUMMARY"
