#!/usr/bin/env bash
# wrk against scribe's GET /healthz and GET /result/{key}, next to nginx
# serving files of the same sizes, in the same run.  Prints req/s and ratios.
# Usage: bench/http.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-64}
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "run scripts/install-deps --bench"; exit 1; }
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; nginx -p "$tmp/nginx" -c nginx.conf -s stop 2>/dev/null; rm -rf "$tmp"' EXIT
SCRIBE_PORT_FILE=$tmp/port ./build/scribe serve --port 0 --workers 1 --data-dir "$tmp/data" --log-level warn &
for i in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
# a real completed result document to read: a short synthesized consultation
flite -voice slt -t "I will prescribe ibuprofen four hundred milligrams three times a day. Come back in two weeks." -o "$tmp/c.wav"
up=$(curl -s "http://127.0.0.1:$port/get-upload-url")
key=$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
curl -s -o /dev/null -T "$tmp/c.wav" "$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_url"])')"
for i in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/result/$key")" = 200 ] && break; sleep 0.1
done
health=$(curl -s "http://127.0.0.1:$port/healthz")
result=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/result/$key")
mkdir -p "$tmp/nginx/html" "$tmp/nginx/logs"
printf '%s' "$health" > "$tmp/nginx/html/healthz"
curl -s "http://127.0.0.1:$port/result/$key" > "$tmp/nginx/html/result"
cat > "$tmp/nginx/nginx.conf" <<CONF
worker_processes 2;
error_log $tmp/nginx/logs/error.log;
pid $tmp/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:18089; root $tmp/nginx/html; default_type application/json; } }
CONF
nginx -p "$tmp/nginx" -c nginx.conf
sleep 0.3
rps() { wrk -t2 -c"$conns" -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
s1=$(rps "http://127.0.0.1:$port/healthz"); n1=$(rps "http://127.0.0.1:18089/healthz")
s2=$(rps "http://127.0.0.1:$port/result/$key"); n2=$(rps "http://127.0.0.1:18089/result")
printf 'healthz:  scribe %s req/s, nginx %s req/s, ratio %.2f\n' "$s1" "$n1" "$(echo "$s1 / $n1" | bc -l)"
printf 'result (%s bytes): scribe %s req/s, nginx %s req/s, ratio %.2f\n' "$result" "$s2" "$n2" "$(echo "$s2 / $n2" | bc -l)"
