#!/usr/bin/env bash
# Installs what Rustorium's main job and tests need on a fresh Debian 12 machine with Rust and
# python3, as root. Idempotent: each step checks before it installs. Sourced by run.sh and test.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustorium/target}"

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$apt_updated" -eq 0 ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

setup_build() {
  command -v cc >/dev/null 2>&1 || apt_install build-essential
  command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
}

# Vulkan loader and Mesa's drivers (lavapipe: software Vulkan, so wgpu kernels run without a GPU).
setup_vulkan() {
  apt_install libvulkan1 mesa-vulkan-drivers
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
}

# NATS with JetStream for the proving fleet (Debian's nats-server 2.9; installed to /usr/sbin,
# which the fleet code searches besides PATH). The fleet tests start their own servers.
setup_nats() {
  [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || apt_install nats-server
}

# `npm ci` in DIR when its node_modules do not match DIR/package-lock.json (Debian's node and npm
# installed first if missing).
npm_ci() {
  local dir="$1"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  # npm's own node_modules/.package-lock.json is not byte-equal to the lock file: keep a copy of
  # the lock file that was installed instead.
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
  fi
}

# circomlibjs and snarkjs for the interop tests, pinned by scripts/js/package-lock.json.
setup_js() {
  npm_ci "$ROOT/scripts/js"
}

# The node's web pages (/ui): npm dependencies pinned by ui/package-lock.json, bundled into
# ui/dist/ (which the build embeds); `browser` adds Debian's chromium for the page tests.
setup_ui() {
  local ui="$ROOT/ui"
  npm_ci "$ui"
  if [ ! -f "$ui/dist/snarkjs.min.js" ] || [ ! -f "$ui/dist/circomlib.js" ] \
    || [ -n "$(find "$ui/build.mjs" "$ui/src" "$ui/package-lock.json" -newer "$ui/dist/circomlib.js" 2>/dev/null)" ]; then
    (cd "$ui" && node build.mjs)
  fi
  if [ "${1:-}" = browser ]; then
    apt_install chromium
  fi
}

# Project-local Python venv (.venv) with scripts/requirements.txt; puts NVRTC on LD_LIBRARY_PATH.
setup_venv() {
  local venv="$ROOT/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  fi
  if ! cmp -s "$ROOT/scripts/requirements.txt" "$venv/.requirements.txt"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
    cp "$ROOT/scripts/requirements.txt" "$venv/.requirements.txt"
  fi
  local lib
  lib="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13/lib 2>/dev/null | head -n 1)"
  if [ -n "$lib" ]; then
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
}
