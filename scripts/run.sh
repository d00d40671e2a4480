#!/usr/bin/env bash
# The main job: builds Rustorium and runs it on the embedded redb store.
# The main job: a local devnet (node on a fresh data directory, transfers over QUIC, proofs, the
# built-in light client). Extra arguments go to `rustorium devnet` (e.g. --blocks 5 to stop).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
setup_venv
setup_vulkan
cd "$ROOT"
cargo build --release --locked --bin rustorium
exec "$CARGO_TARGET_DIR/release/rustorium" devnet "$@"
