#!/usr/bin/env bash
# The main job: builds Rustorium and runs it on the embedded redb store.
# Extra arguments go to the demo (e.g. --data DIR, --genesis FILE).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
cd "$ROOT"
cargo build --release --locked --bin rustorium
exec "$CARGO_TARGET_DIR/release/rustorium" demo "$@"
