#!/usr/bin/env bash
# Counts the instructions of a fixed small run with valgrind's callgrind and prints the total
# (Ir). Instruction counts repeat to a fraction of a percent on a busy machine, where wall
# times do not, so a change of this figure shows a speed regression without a quiet machine.
#
# Usage: scripts/callgrind.sh [--no-build] [--out FILE]
#   --no-build  use the release binary already built (in $CARGO_TARGET_DIR or target/)
#   --out FILE  keep callgrind's profile in FILE (inspect with callgrind_annotate FILE)
# Environment: FLEETSIM_BIN=path runs that binary instead (implies --no-build).
#
# The run: the default scenario (mixed-enterprise-1m: both paths, the gateway, programs) cut to
# 100,000 devices x 90 days, one thread, one repetition, no files written.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --out) out="${2:?--out needs a file}"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v valgrind >/dev/null 2>&1; then
    echo "error: valgrind is missing (Debian: apt-get install valgrind)" >&2
    exit 1
fi

bin="${FLEETSIM_BIN:-}"
if [ -z "$bin" ]; then
    if [ "$build" = 1 ]; then
        cargo build --release --quiet
    fi
    bin="${CARGO_TARGET_DIR:-target}/release/fleetsim"
fi
if [ ! -x "$bin" ]; then
    echo "error: no binary at $bin (build with cargo build --release)" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
profile="${out:-$tmp/callgrind.out}"
args=(bench mixed-enterprise-1m --devices 100000 --days 90 --threads 1 --repeat 1)
valgrind --tool=callgrind --callgrind-out-file="$profile" "$bin" "${args[@]}" \
    >"$tmp/stdout" 2>"$tmp/stderr" || {
    echo "error: the run under valgrind failed:" >&2
    tail -20 "$tmp/stderr" >&2
    exit 1
}
ir="$(sed -n 's/^summary: //p' "$profile" | awk '{print $1}')"
if [ -z "$ir" ]; then
    echo "error: no total in callgrind's profile $profile" >&2
    exit 1
fi
echo "run: fleetsim ${args[*]}"
grep -E '^run 1:' "$tmp/stdout" | sed 's/^run 1: .*, \([0-9]* events\),.*/\1/' || true
printf 'instructions (Ir): %s\n' "$ir"
