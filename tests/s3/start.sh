#!/bin/sh
# start.sh STATE_DIR - ctest fixture: installs the npm packages (npm ci, into
# STATE_DIR/node_modules) and starts server.js (s3rver behind the
# signature-checking proxy) in the background.  Writes STATE_DIR/endpoint.env
# for the tests, or STATE_DIR/skip with a reason when node/npm or the
# packages are unavailable (the S3 tests then skip; this script still passes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
state=${1:?usage: start.sh STATE_DIR}
mkdir -p "$state"
rm -f "$state/endpoint.env" "$state/skip"

skip() {
  echo "$1" > "$state/skip"
  echo "S3 test server not started: $1 (S3 tests will skip)"
  exit 0
}

command -v node >/dev/null 2>&1 || skip "node not installed"
command -v npm >/dev/null 2>&1 || skip "npm not installed"

# Stop a server left by an interrupted run of this build dir.
if [ -f "$state/server.pid" ]; then
  "$here/stop.sh" "$state" >/dev/null 2>&1
fi

# npm ci only when the lock file changed since the last install.
if ! cmp -s "$here/package-lock.json" "$state/package-lock.json" ||
   [ ! -d "$state/node_modules/s3rver" ] || [ ! -d "$state/node_modules/aws4" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$state/" || skip "cannot copy package files"
  (cd "$state" && npm ci --no-audit --no-fund --loglevel=error >"$state/npm.log" 2>&1) ||
    skip "npm ci failed (see $state/npm.log)"
fi

rm -rf "$state/data"
NODE_PATH="$state/node_modules" nohup node "$here/server.js" --dir "$state" \
  >"$state/server.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 200 ]; do
  if [ -f "$state/endpoint.env" ]; then
    echo "S3 test server (s3rver + SigV4 proxy) pid $pid:"
    grep ENDPOINT "$state/endpoint.env"
    exit 0
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
  i=$((i + 1))
done
kill $pid 2>/dev/null
cat "$state/server.log"
echo "S3 test server failed to start" >&2
exit 1
