#!/usr/bin/env bash
# The main job: a local devnet (node on a fresh data directory, transfers over QUIC, proofs, the
# built-in light client). Extra arguments go to `rustorium devnet` (e.g. --blocks 5 to stop).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
setup_ui
setup_venv
setup_vulkan
# `--fleet N` runs a local nats-server.
case " $* " in *" --fleet"*) setup_nats ;; esac
cd "$ROOT"
# `rustorium-bench` too: `rustorium bench …` runs it from beside the `rustorium` binary.
cargo build --release --locked -p rustorium -p rustorium-bench
exec "$CARGO_TARGET_DIR/release/rustorium" devnet "$@"
