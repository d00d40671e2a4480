#!/usr/bin/env bash
# Regenerates the pages' screenshots in docs/ (docs/ui-light-client.png, ui-explorer.png,
# ui-dashboard.png, linked from the README): a devnet on a small chain (depth 8, capacity 1) on
# loopback, the three pages in headless Chromium, then the devnet is stopped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_build
setup_ui browser
cd "$ROOT"
cargo build --release --locked -p rustorium
tmp="$(mktemp -d)"
trap 'kill "$devnet" 2>/dev/null || true; wait "$devnet" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The devnet genesis at depth 8, without the verifying-key pins of the depth-32 devnet keys.
sed -e 's/^depth = 32/depth = 8/' -e '/^\[\[verifying_keys\]\]/,$d' config/genesis.toml > "$tmp/genesis.toml"
"$CARGO_TARGET_DIR/release/rustorium" devnet --data "$tmp/data" --genesis "$tmp/genesis.toml" \
  --capacity 1 --rate 2 --http 127.0.0.1:7791 --quic 127.0.0.1:7790 --keys "$tmp/keys" > "$tmp/devnet.log" 2>&1 &
devnet=$!
url=http://127.0.0.1:7791
for _ in $(seq 1 300); do
  h="$(curl -sf "$url/proven/latest" | sed -n 's/.*"height":\([0-9]*\).*/\1/p' || true)"
  [ -n "$h" ] && [ "$h" -ge 12 ] && break
  sleep 1
done
node ui/test/light.mjs "$url" 12 --screenshot docs/ui-light-client.png > /dev/null
node ui/test/pages.mjs "$url" --screenshots docs > /dev/null
echo "wrote docs/ui-light-client.png docs/ui-explorer.png docs/ui-dashboard.png"
