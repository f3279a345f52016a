#!/usr/bin/env python3
"""Pipeline overhead: from the start of the signed PUT (which enqueues the
job, like upload-complete) to the WebSocket `completed` event, minus the
engines' own time (the result's timings.total_ms: decode + transcribe +
extract).  Reports median and p90 over N short recordings.

Usage: bench/pipeline_overhead.py [N]   (build first; needs flite, sox, ffmpeg)"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../tests/e2e"))
os.environ.setdefault("SCRIBE_BIN", os.path.join(os.path.dirname(__file__), "../build/scribe"))
from scribe_testlib import Server, WebSocket, make_consultation, request, request_json  # noqa

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
d = tempfile.mkdtemp(prefix="scribe-bench-")
_, webm, _ = make_consultation(d, [("slt", "Take one tablet twice a day.")], name="tiny")
audio = open(webm, "rb").read()
srv = Server(os.path.join(d, "data"), "--workers", "1", "--log-level", "warn")
ws = WebSocket(srv.url("/ws").replace("http://", "ws://"))
overheads, totals = [], []
try:
    for i in range(n):
        st, doc = request_json("GET", srv.url("/get-upload-url"))
        key = doc["key"]
        ws.send_json({"action": "subscribe", "audioKey": key})
        ws.wait_for(key, {"subscribed"}, timeout=10)
        t0 = time.perf_counter()  # includes the upload itself: conservative
        st, _, _ = request("PUT", doc["upload_url"], audio)
        ev, _ = ws.wait_for(key, {"completed", "failed"}, timeout=60)
        wall = (time.perf_counter() - t0) * 1000
        engines = ev["result"]["timings"]["total_ms"]
        overheads.append(wall - engines)
        totals.append(wall)
finally:
    srv.stop()
overheads.sort()
print(f"{n} jobs: wall median {statistics.median(totals):.1f} ms; "
      f"overhead (wall - engines) median {statistics.median(overheads):.1f} ms, "
      f"p90 {overheads[int(0.9 * (n - 1))]:.1f} ms")
print("peer: the original design waited on SQS long polling (up to 20 s) and 2 s client polling")
