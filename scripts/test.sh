#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every test of the workspace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
setup_js
setup_ui browser
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
