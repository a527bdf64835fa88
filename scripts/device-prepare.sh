#!/usr/bin/env bash
# Packs .device/ for a lent GPU machine (../shared/device/prepare.sh) without the benchmark-only
# baselines (TensorFlow.js, jax-js and their core-js), which would push the tree that travels over
# the device tool's 64 MiB; the ops bench that compares against them is not run there.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE_EXCLUDE="--exclude=node_modules/@tensorflow --exclude=node_modules/@jax-js --exclude=node_modules/core-js" \
  bash ../shared/device/prepare.sh
