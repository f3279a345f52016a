#!/usr/bin/env bash
# Queue throughput with 1, 2, 4, 8 workers (engines left out) and event
# latency between handles, for the sqlite and postgres backends, in the same
# run.  Starts a throw-away PostgreSQL cluster when PostgreSQL is installed.
# Usage: bench/queue/run.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-2000}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCRIBE_BENCH=ON >/dev/null
cmake --build build --target queue_bench -j"$(nproc)" >/dev/null
tmp=$(mktemp -d /tmp/scribe-qbench.XXXXXX); chmod 755 "$tmp"
trap 'scripts/postgres-test-server stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
pg=$(scripts/postgres-test-server start "$tmp/pg" | tail -n 1 || true)
[ -f "$tmp/pg/conninfo" ] || pg=""
./build/bench/queue/queue_bench "$tmp" "$pg" "$jobs"
