#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every test of the workspace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
setup_js
setup_ui browser
# The ceremony tests' Powers of Tau (minutes of snarkjs): made in the background, overlapping the
# build, unless cached (tests/ceremony.rs waits for it).
fixture="$CARGO_TARGET_DIR/tmp/ceremony/pot14_beacon.ptau"
if [ ! -f "$fixture" ]; then
  mkdir -p "$(dirname "$fixture")"
  ( "$ROOT/scripts/ceremony-fixture.sh" "$fixture" > "$fixture.log" 2>&1 || true; rm -f "$fixture.generating" ) &
  echo $! > "$fixture.generating"
fi
setup_venv
setup_vulkan
setup_nats
cd "$ROOT"
cargo test --workspace --locked --release "$@"
# The compute layer built without its GPU backends (cargo features `cuda`, `wgpu` off).
cargo test -p rustorium-accel --no-default-features --lib --locked --release "$@"
# The one-call GPU check end to end, on lavapipe with small sizes, so it cannot rot.
./scripts/gpu-check.sh run --small --profile hardware/lavapipe.toml \
    --bin "$CARGO_TARGET_DIR/release" --out "$(mktemp -d)"
