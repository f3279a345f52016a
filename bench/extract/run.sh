#!/bin/sh
# bench/extract/run.sh - scores the "rules" extractor on the ACI-Bench
# development set (../shared/data/aci-bench, or $SCRIBE_ACIBENCH_DIR) for the
# labelled dialogues and for the same text without speaker labels, lower-cased
# and without punctuation, and prints the throughput (consultations/s, one core).
#
#   bench/extract/run.sh [--split train|valid]
#
# Builds an optimized copy in build-bench-extract/ (delete it afterwards).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build="${SCRIBE_BENCH_BUILD:-$src/build-bench-extract}"
data="${SCRIBE_ACIBENCH_DIR:-$src/../shared/data/aci-bench}"
if [ ! -f "$data/score.py" ]; then
  echo "aci-bench set not found at $data (set SCRIBE_ACIBENCH_DIR)" >&2
  exit 1
fi
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target test_extract_acibench -j2 >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# one core
SCRIBE_ACIBENCH_DIR="$data" SCRIBE_SOURCE_DIR="$src" \
  taskset -c 0 "$build/tests/extract/test_extract_acibench" --bench --out "$out" "$@" 2>&1 |
  grep -v '^\[ \|^\[=\|^\[-\|OK \]\|PASSED'
