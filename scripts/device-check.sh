#!/usr/bin/env bash
# One call on a lent GPU machine: the adapter; the fused attention kernels against the references,
# side by side and autotuned (#6's open target first); every op and model test on the GPU; LoRA
# training steps at BioGPT's shapes; the GEMM kernels and their tile sweep at 4096³ (plain and with
# Dawn's unsafe toggles); the BioGPT-shape kernel benches; decoding speed. Results go under $OUT
# (the device tool brings back at most 8 files): log.txt (every step's output), summary.txt,
# results.json (every bench's rows, by step, merged after each step) and tuning.json (what
# `radgrad tune` chose for this adapter).
#
# Here, before the call:   npm ci && bash scripts/device-prepare.sh    (writes .device/ and
#                          .devshared/, a copy of ../shared's golden/ and data/; both gitignored)
# The call (device tool):  source .device/enter.sh; bash scripts/device-check.sh
#                          with carry [".device", ".devshared"] and timeout_s 600. The whole run
#                          keeps within DEVICE_CHECK_BUDGET_S (default 540 s): each step's limit is
#                          cut to what is left, and steps that no longer fit are skipped (listed in
#                          summary.txt), so the results always come back. Steps run most important
#                          first. DEVICE_CHECK_STEPS="tests-all train ..." runs only the named steps.
# Each step has its own time limit so one slow step cannot eat the others; a failed step is
# recorded in summary.txt and the script goes on. Without a GPU it runs on whatever adapter Dawn
# finds (lavapipe here, with DEVICE_CHECK_QUICK=1 for small sizes), which is how it is tested.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.tmp/device-out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
SUMMARY="$OUT/summary.txt"
: > "$LOG"
: > "$SUMMARY"
T0=$SECONDS

BUDGET=${DEVICE_CHECK_BUDGET_S:-540}

# The device tool brings back at most 8 files: the benches' JSON tables are merged into one
# results.json after every step, so whatever has run is there even if the call is cut short.
merge_json() {
  node -e '
const fs = require("fs"), path = require("path"), dir = process.argv[1], out = path.join(dir, "results.json");
const all = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, "utf8")) : {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "tuning.json" && f !== "results.json")) {
  try { all[f.replace(/\.json$/, "")] = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")); fs.rmSync(path.join(dir, f)); } catch (e) { console.error(f, e.message); }
}
fs.writeFileSync(out + ".tmp", JSON.stringify(all, null, 1));
fs.renameSync(out + ".tmp", out);
' "$OUT"
}

step() { # step <name> <seconds> <command...>: runs it with a time limit, output appended to log.txt
  local name=$1 limit=$2; shift 2
  # DEVICE_CHECK_STEPS="tests-all generate ..." runs only the named steps (a rerun of a few).
  if [ -n "${DEVICE_CHECK_STEPS:-}" ] && [[ " $DEVICE_CHECK_STEPS " != *" $name "* ]]; then return; fi
  # What is left of the budget, less 10 s for the summary; a step that cannot get 20 s is skipped.
  local left=$((BUDGET - (SECONDS - T0) - 10))
  if [ "$left" -lt 20 ]; then
    printf '%-18s skipped (budget: %ss left of %ss)\n' "$name" "$((BUDGET - (SECONDS - T0)))" "$BUDGET" | tee -a "$SUMMARY"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS
  printf '\n===== %s (limit %ss): %s\n' "$name" "$limit" "$*" >> "$LOG"
  timeout --kill-after=5 "$limit" "$@" >> "$LOG" 2>&1
  local rc=$?
  printf '%-18s rc=%-3s %4ss  (at %4ss)\n' "$name" "$rc" "$((SECONDS - t0))" "$((SECONDS - T0))" | tee -a "$SUMMARY"
  merge_json
}

# ../shared does not travel to the device machine: a copy in .devshared/ (gitignored, carried) does.
[ -d .devshared ] && export RADGRAD_SHARED=$PWD/.devshared
RUN="node --import tsx bench/run.ts"
TOGGLES=disable_robustness,skip_validation,disable_workgroup_init
export RADGRAD_BENCH_REPS=${RADGRAD_BENCH_REPS:-10}
export RADGRAD_TEST_CONCURRENCY=${RADGRAD_TEST_CONCURRENCY:-6}
if [ "${DEVICE_CHECK_QUICK:-0}" = 1 ]; then
  export RADGRAD_BENCH_SWEEP_N=256 RADGRAD_BENCH_REPS=1 RADGRAD_BENCH_GEN_NEW=4
  SCALE=small GEN_MODELS=mid,mid-int8 TRAIN_MODEL=tiny TUNE_SIZES=small
else
  SCALE=full GEN_MODELS=biogpt,biogpt-int8 TRAIN_MODEL=biogpt
fi

step info         20  node --import tsx cli/index.ts info --json
RADGRAD_UNSAFE_GPU_FEATURES=1 step info-unsafe 20 node --import tsx cli/index.ts info --json
# #6's open target first. The fused attention kernels (blocked with the one-pass and the two-pass
# backward, rows, register tiles) against the references, then side by side at the training shape
# (B4 H16 T512 D64), then the autotuner on this adapter (GEMM tiles, each attention pass): its
# table, and the entry it saves (tuning.json comes back; put it in ~/.cache/radgrad/ on that
# machine kind, or make its choices the defaults).
step tests-attn   60  node scripts/run-tests.mjs --no-typecheck ops/attention models/biogpt_attn_impl
RADGRAD_BENCH_SCALE=$SCALE BENCH_KERNELS=attention RADGRAD_BENCH_REPS=5 \
step flash-sweep  90  $RUN kernels --json "$OUT/flash-sweep.json"
RADGRAD_TUNING_FILE=$OUT/tuning.json \
step tune         90  node --import tsx cli/index.ts tune --sizes "${TUNE_SIZES:-model}" --reps 5
# Every op, model and generation test on the GPU adapter.
step tests-all    120 node scripts/run-tests.mjs --no-typecheck ops nn models generate autograd tensor train gpu io
# LoRA training steps at BioGPT's shapes, batch 4 × 512 (the PyTorch anchor's setting), f32 and fp16.
RADGRAD_UNSAFE_GPU_FEATURES=1 RADGRAD_BENCH_FP16=$TRAIN_MODEL RADGRAD_BENCH_REPEATS=1 RADGRAD_BENCH_STEPS=4 RADGRAD_BENCH_PROFILE=1 \
step train        75  $RUN train_fp16
# The GEMM tile sweep at 4096³ (its kernels are covered by tests-all), then BioGPT's training
# shapes (B·T = 2048, C 1024, FFN 4096, 16 heads × 64, T 512) and decoding.
step sweep        75  $RUN gemm_sweep --json "$OUT/sweep.json"
RADGRAD_BENCH_SCALE=$SCALE BENCH_KERNELS=int8,decode,lora \
step kernels      90  $RUN kernels --json "$OUT/kernels.json"
RADGRAD_BENCH_REPS=3 RADGRAD_BENCH_GEN_PIPELINE=both RADGRAD_BENCH_GEN_MODELS=$GEN_MODELS RADGRAD_BENCH_GEN_NEW=${RADGRAD_BENCH_GEN_NEW:-64} \
step generate     75  $RUN generate --json "$OUT/generate.json"
# With the unsafe features: the tensor-core int8 kernel ('auto' picks it), and its BioGPT-shape rows.
RADGRAD_UNSAFE_GPU_FEATURES=1 \
step tests-unsafe 90  node scripts/run-tests.mjs --no-typecheck ops/matmul_int8 ops/lora_linear models generate
RADGRAD_UNSAFE_GPU_FEATURES=1 RADGRAD_BENCH_SCALE=$SCALE BENCH_KERNELS=int8 \
step kernels-unsafe 45 $RUN kernels
# The same with Dawn's unsafe toggles (and shader-f16 / subgroup matrices on NVIDIA).
RADGRAD_UNSAFE_GPU_FEATURES=1 RADGRAD_DAWN_TOGGLES=$TOGGLES \
step sweep-unsafe 75  $RUN gemm_sweep --json "$OUT/sweep-unsafe.json"
RADGRAD_BENCH_REPS=3 RADGRAD_DAWN_TOGGLES=$TOGGLES RADGRAD_BENCH_GEN_MODELS=${GEN_MODELS%%,*} RADGRAD_BENCH_GEN_NEW=${RADGRAD_BENCH_GEN_NEW:-64} \
step generate-tgl 45  $RUN generate
# Decoding with the fused decode attention (attn_implementation flash), plain and with the toggles.
RADGRAD_ATTN_IMPLEMENTATION=flash RADGRAD_BENCH_REPS=3 RADGRAD_BENCH_GEN_MODELS=$GEN_MODELS RADGRAD_BENCH_GEN_NEW=${RADGRAD_BENCH_GEN_NEW:-64} \
step gen-flash    60  $RUN generate --json "$OUT/generate-flash.json"
RADGRAD_ATTN_IMPLEMENTATION=flash RADGRAD_DAWN_TOGGLES=$TOGGLES RADGRAD_BENCH_REPS=3 RADGRAD_BENCH_GEN_MODELS=${GEN_MODELS%%,*} RADGRAD_BENCH_GEN_NEW=${RADGRAD_BENCH_GEN_NEW:-64} \
step gen-flash-tgl 45 $RUN generate
# Host time per decode step (recording + submit, GPU wait excluded), eager and flash.
RADGRAD_BENCH_HOST_MODELS=${GEN_MODELS%%,*} RADGRAD_BENCH_HOST_STEPS=32 RADGRAD_BENCH_HOST_STYLE=gpu \
step decode-host  45  $RUN decode_host
RADGRAD_ATTN_IMPLEMENTATION=flash RADGRAD_BENCH_HOST_MODELS=${GEN_MODELS%%,*} RADGRAD_BENCH_HOST_STEPS=32 RADGRAD_BENCH_HOST_STYLE=gpu RADGRAD_BENCH_HOST_DETAIL=1 \
step decode-host-flash 45 $RUN decode_host
{
  echo "total ${SECONDS}s"
  echo "--- tests: failures"
  grep -E '^not ok|^    not ok|^# (pass|fail)' "$LOG" | head -40
  echo "--- tables"
  grep -E '^(f32|f16|int8|GEMM|Int8|linear|attention|tiny|mid|biogpt|BioGPT|=====)' "$LOG" | cut -c1-170 | head -120
} >> "$SUMMARY"
echo "results in $OUT"; cat "$SUMMARY"
