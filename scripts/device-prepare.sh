#!/usr/bin/env bash
# Packs what a lent GPU machine needs, for `scripts/device-check.sh`:
# - .device/ via ../shared/device/prepare.sh, without the benchmark-only baselines (TensorFlow.js,
#   jax-js and their core-js), which would push the tree that travels over the device tool's 64 MiB
#   (the ops bench that compares against them is not run there);
# - .devshared/, a copy of ../shared's golden/ and data/ (../shared itself does not travel; the
#   tests read it through RADGRAD_SHARED, which device-check.sh sets when .devshared exists).
# Both are gitignored through .git/info/exclude. Then carry [".device", ".devshared"].
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE_EXCLUDE="--exclude=node_modules/@tensorflow --exclude=node_modules/@jax-js --exclude=node_modules/core-js" \
  bash ../shared/device/prepare.sh
grep -qx '/.devshared/' .git/info/exclude 2>/dev/null || echo '/.devshared/' >> .git/info/exclude
rm -rf .devshared && mkdir .devshared && cp -r ../shared/golden ../shared/data ../shared/README.md .devshared/
du -sh .device .devshared
