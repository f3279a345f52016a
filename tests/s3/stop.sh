#!/bin/sh
# stop.sh STATE_DIR - ctest fixture cleanup: stops the server start.sh began
# (only that process, by its pid) and removes its data.
set -u
state=${1:?usage: stop.sh STATE_DIR}
if [ -f "$state/server.pid" ]; then
  pid=$(cat "$state/server.pid")
  case "$pid" in
    ''|*[!0-9]*) ;;
    *)
      # Only if that pid still runs our server.js.
      if grep -q "server.js" "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null
      fi
      ;;
  esac
  rm -f "$state/server.pid"
fi
rm -rf "$state/data" "$state/endpoint.env"
exit 0
