#!/usr/bin/env bash
# Makes the ceremony tests' Powers of Tau (tests/ceremony.rs): 2^14 powers, enough for the
# depth-4 × 1 block circuit, made by snarkjs itself — `powersoftau new`, a public beacon (so every
# machine makes the same file) and `prepare phase2` (~4–5 min on 2 cores). Writes OUT atomically.
#
#   scripts/ceremony-fixture.sh OUT
#
# scripts/test.sh starts it in the background before the build (marker OUT.generating holds its
# PID) so that it overlaps compilation; the test waits for it, or runs it itself.
set -euo pipefail
out="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
snarkjs=(node "$root/scripts/js/node_modules/snarkjs/build/cli.cjs")
beacon=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d "$(dirname "$out")/gen.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"${snarkjs[@]}" powersoftau new bn128 14 "$tmp/0.ptau" > /dev/null
"${snarkjs[@]}" powersoftau beacon "$tmp/0.ptau" "$tmp/1.ptau" "$beacon" 10 > /dev/null
"${snarkjs[@]}" powersoftau prepare phase2 "$tmp/1.ptau" "$tmp/final.ptau" > /dev/null
mv "$tmp/final.ptau" "$out"
