#!/usr/bin/env bash
# A 1 GB upload through the signed PUT: throughput and the server's peak
# resident memory growth.  Usage: bench/upload.sh [MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
SCRIBE_PORT_FILE=$tmp/port ./build/scribe serve --port 0 --workers 0 --data-dir "$tmp/data" --log-level warn &
pid=$!
for i in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
url=$(curl -s "http://127.0.0.1:$port/get-upload-url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_url"])')
start=$(date +%s.%N)
head -c $((mib * 1024 * 1024)) /dev/zero | curl -s -o /dev/null -w '%{http_code}\n' -T - -H "Content-Length: $((mib * 1024 * 1024))" "$url"
end=$(date +%s.%N)
peak=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
printf '%d MiB in %.2f s: %.0f MiB/s; RSS before %d KiB, peak %d KiB, growth %d KiB\n' \
  "$mib" "$(echo "$end - $start" | bc -l)" "$(echo "$mib / ($end - $start)" | bc -l)" "$before" "$peak" "$((peak - before))"
# peer: the same bytes written to disk by dd
start=$(date +%s.%N); head -c $((mib * 1024 * 1024)) /dev/zero | dd of="$tmp/dd.out" bs=1M conv=fsync status=none; end=$(date +%s.%N)
printf 'peer dd to disk with fsync: %.0f MiB/s\n' "$(echo "$mib / ($end - $start)" | bc -l)"
