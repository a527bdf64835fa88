#!/usr/bin/env bash
# One-time (idempotent) setup on a fresh Debian bookworm machine: npm dependencies, the build,
# Mesa's lavapipe Vulkan driver from bookworm-backports when no GPU adapter is found (bookworm's
# own 22.3 is too old for Dawn), and Chromium for the training-report rendering test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_update() { if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi; }

if ! command -v node >/dev/null; then
  echo "setup: Node.js 20+ is required (https://nodejs.org or your distribution's nodejs package)" >&2
  exit 1
fi

log "installing npm dependencies (npm ci) and building"
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  log "node_modules is up to date"
else
  npm ci --no-audit --no-fund
fi
npm run build --silent

if node scripts/probe-adapter.mjs; then
  log "a WebGPU adapter is available"
else
  if ! command -v apt-get >/dev/null; then
    echo "setup: no WebGPU adapter and no apt-get: install a Vulkan driver (Mesa lavapipe >= 24) yourself" >&2
    exit 1
  fi
  log "no usable adapter: installing Mesa lavapipe (mesa-vulkan-drivers 25.x) from bookworm-backports"
  . /etc/os-release
  CODENAME="${VERSION_CODENAME:-bookworm}"
  if ! grep -rqs "${CODENAME}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian ${CODENAME}-backports main" | $SUDO tee /etc/apt/sources.list.d/radgrad-backports.list >/dev/null
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t "${CODENAME}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
  node scripts/probe-adapter.mjs || { echo "setup: still no WebGPU adapter after installing lavapipe" >&2; exit 1; }
fi

if [ "${RADGRAD_SKIP_CHROMIUM:-0}" != 1 ] && ! command -v chromium >/dev/null; then
  log "installing Debian chromium (renders report.html in a test)"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null || log "chromium could not be installed; the report rendering test will be skipped"
fi
log "done. Run the tests with: npm test"
