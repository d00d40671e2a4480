#!/usr/bin/env bash
# The one-call GPU check (issue 16), in two halves:
#
#   scripts/gpu-check.sh stage
#       Here, on the build machine: builds the release binaries and stages them, stripped and
#       compressed, with every CUDA kernel compiled to a CUBIN for sm_90 (GPU_ARCHS=sm_80,sm_90
#       for more) and the pinned NVRTC 13.0 libraries of the project venv (the GPU servers run
#       CUDA 13.0 with driver 580, which rejects code from a newer NVRTC), into gpu-stage/
#       (git-ignored, about 48 MB). The GPU machine has no Rust toolchain and no internet: carry
#       gpu-stage/ there (the device tool: carry ["gpu-stage"], command
#       `scripts/gpu-check.sh run`, timeout_s 580).
#
#   scripts/gpu-check.sh run [--profile P] [--small] [--bin DIR] [--out DIR]
#       On the GPU machine (or in CI on lavapipe with --small): detect, `hardware check` (the
#       gate: a failure stops the run), Poseidon batches and tree updates, MSM and NTT per backend
#       beside arkworks, a block proof on the profile's backends beside the CPU prover of the same
#       host, `hardware tune`. Each step has a time budget (timeout); the whole run fits in 9
#       minutes. Output: OUT/report.md (every table and the summary), OUT/steps.log (stderr),
#       OUT/tuned.toml/.md/.svg. The summary is printed last. Exit status: 0 when every step
#       passed.
#
# Defaults: --profile hardware/h200.toml, --bin: the staged binaries (unpacked to $UNPACK),
# --out: $OUT (the device tool's folder) or gpu-check-out. --small: CI sizes and software
# adapters allowed (scripts/test.sh runs `run --small --profile hardware/lavapipe.toml` with the
# binaries it just built).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAGE="$ROOT/gpu-stage"
# Where `run` unpacks the staged binaries and libraries (gpu-stage/ stays small enough to carry).
UNPACK="${TMPDIR:-/tmp}/rustorium-gpu-check"

stage() {
    source "$ROOT/scripts/setup.sh"
    setup_build
    setup_venv
    cd "$ROOT"
    cargo build --release --locked -p rustorium -p rustorium-bench
    rm -rf "$STAGE"
    mkdir -p "$STAGE/bin" "$STAGE/lib"
    for b in rustorium rustorium-bench; do
        cp "$CARGO_TARGET_DIR/release/$b" "$STAGE/bin/$b"
        strip "$STAGE/bin/$b" 2>/dev/null || true
    done
    # The CUBINs for the GPU servers' architecture (Hopper), so they load without compiling;
    # NVRTC travels too, for other architectures and as the fallback.
    "$STAGE/bin/rustorium" hardware kernels --arch "${GPU_ARCHS:-sm_90}" --out "$STAGE/kernels"
    local nvrtc
    nvrtc="$(ls -d "$ROOT"/.venv/lib/python3*/site-packages/nvidia/cu13/lib | head -1)"
    # Compressed: the device tool carries at most 64 MiB with the working tree.
    tar -C "$STAGE" -cf - bin | xz -T2 -6 >"$STAGE/bin.tar.xz"
    rm -rf "$STAGE/bin"
    for l in libnvrtc.so.13 libnvrtc-builtins.so.13.0; do
        xz -T2 -6 -c "$nvrtc/$l" >"$STAGE/lib/$l.xz"
    done
    du -sh "$STAGE"
    echo "staged in $STAGE: carry gpu-stage to the GPU machine and run scripts/gpu-check.sh run"
}

# Unpacks what `stage` compressed into $UNPACK (bin/, lib/).
unpack() {
    mkdir -p "$UNPACK/lib"
    if [ -f "$STAGE/bin.tar.xz" ]; then
        xz -dc "$STAGE/bin.tar.xz" | tar -C "$UNPACK" -xf -
    fi
    for z in "$STAGE"/lib/*.xz; do
        [ -f "$z" ] || continue
        local l
        l="$(basename "${z%.xz}")"
        xz -dc "$z" >"$UNPACK/lib/$l"
    done
}

run() {
    local profile="hardware/h200.toml" small=0 bin="$UNPACK/bin" out="${OUT:-$ROOT/gpu-check-out}"
    while [ $# -gt 0 ]; do
        case "$1" in
            --profile) profile="$2"; shift 2 ;;
            --small) small=1; shift ;;
            --bin) bin="$2"; shift 2 ;;
            --out) out="$2"; shift 2 ;;
            *) echo "unknown argument $1" >&2; exit 2 ;;
        esac
    done
    cd "$ROOT"
    mkdir -p "$out"
    if [ -d "$STAGE" ]; then
        unpack
        export LD_LIBRARY_PATH="$UNPACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    local own_cache=0
    if [ -z "${RUSTORIUM_KERNEL_CACHE:-}" ]; then
        if [ -d "$STAGE/kernels" ]; then
            export RUSTORIUM_KERNEL_CACHE="$STAGE/kernels"
        else
            export RUSTORIUM_KERNEL_CACHE="$out/kernel-cache"
            own_cache=1
        fi
    fi
    local report="$out/report.md" log="$out/steps.log"
    : >"$report"
    : >"$log"
    local soft="" sizes="16,18,20,22,24" leaves="10000,100000,1000000" depth=32 capacity=64 runs=2
    local tune_flags=""
    if [ "$small" = 1 ]; then
        soft="--allow-software" sizes="8,10" leaves="1000" depth=8 capacity=1 runs=1
        tune_flags="--quick --allow-software"
    fi
    local summary="| step | status | seconds | budget |\n| --- | --- | --- | --- |\n"
    local failed=0
    # step NAME BUDGET_SECONDS COMMAND…: runs it under its budget, its stdout to the report.
    step() {
        local name="$1" budget="$2"
        shift 2
        local start status
        start=$(date +%s%N)
        echo "## $name" >>"$report"
        echo "\$ $*" >>"$report"
        echo >>"$report"
        echo "=== $name: $*" >>"$log"
        if timeout "$budget" "$@" >>"$report" 2>>"$log"; then
            status=ok
        else
            local rc=$?
            if [ "$rc" = 124 ]; then status="TIMEOUT"; else status="FAILED ($rc)"; fi
            failed=1
        fi
        echo >>"$report"
        local ds secs
        ds=$((($(date +%s%N) - start) / 100000000))
        secs="$((ds / 10)).$((ds % 10))"
        summary+="| $name | $status | $secs | $budget |\n"
        echo "[gpu-check] $name: $status in $secs s" >&2
        [ "$status" = ok ]
    }
    step detect 20 "$bin/rustorium" hardware detect || true
    if step "hardware check ($profile)" 90 "$bin/rustorium" hardware check --profile "$profile"; then
        step "bench accel" 120 "$bin/rustorium-bench" accel --log-sizes "$sizes" --leaves "$leaves" $soft || true
        step "bench prove --kernels-only" 120 "$bin/rustorium-bench" prove --kernels-only \
            --kernel-log-sizes "$sizes" $soft || true
        step "bench prove (profile vs CPU)" 130 "$bin/rustorium-bench" prove --proofs-only \
            --profile "$profile" --depth "$depth" --capacity "$capacity" --runs "$runs" || true
        # shellcheck disable=SC2086
        step "hardware tune" 60 "$bin/rustorium" hardware tune --out "$out/tuned.toml" $tune_flags || true
    else
        summary+="| (the rest) | skipped: the gate failed | | |\n"
    fi
    {
        echo "## Summary"
        echo
        printf '%b' "$summary"
    } >>"$report"
    if [ "$own_cache" = 1 ]; then rm -rf "$RUSTORIUM_KERNEL_CACHE"; fi
    echo
    printf '%b' "$summary"
    echo
    echo "report: $report; stderr: $log"
    return "$failed"
}

case "${1:-}" in
    stage) shift; stage "$@" ;;
    run) shift; run "$@" ;;
    *) echo "usage: scripts/gpu-check.sh stage | run [--profile P] [--small] [--bin DIR] [--out DIR]" >&2; exit 2 ;;
esac
