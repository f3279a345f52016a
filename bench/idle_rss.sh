#!/usr/bin/env bash
# Resident memory of an idle `scribe serve` without models loaded
# (--workers 0), and with one in-process worker (PocketSphinx loaded).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
for w in 0 1; do
  rm -f "$tmp/port"
  SCRIBE_PORT_FILE=$tmp/port ./build/scribe serve --port 0 --workers $w --data-dir "$tmp/data$w" --log-level warn &
  pid=$!
  for i in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  for i in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$(cat $tmp/port)/healthz"; done
  sleep 1
  echo "workers=$w idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
  kill $pid; wait $pid || true
done
