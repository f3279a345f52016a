"""Scale-out end to end: two API servers and three workers (separate
processes) share PostgreSQL (queue, results, notifications) and an
S3-compatible store (uploads go straight to the bucket with presigned PUTs,
as in the original design).  50 consultations: every one completes exactly
once and every WebSocket subscriber is notified, whichever server it is
connected to, while a worker is killed with SIGKILL and PostgreSQL is
restarted during the run."""
import collections
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from scribe_testlib import (Server, WebSocket, make_consultation, request,
                            request_json, skip, workdir)

SRC = os.environ.get("SCRIBE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
BIN = os.environ.get("SCRIBE_BINARY_DIR", os.path.join(SRC, "build"))
N = int(os.environ.get("SCRIBE_SCALEOUT_N", "50"))


def read_env(path):
    out = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            out[k] = v
    return out


def main():
    pg_dir = os.path.join(BIN, "pg-test")
    s3_env = os.path.join(BIN, "s3-test", "endpoint.env")
    if not os.path.exists(os.path.join(pg_dir, "conninfo")):
        skip("no PostgreSQL test server (fixture postgres)")
    if not os.path.exists(s3_env):
        skip("no S3 test server (fixture s3)")
    conninfo = open(os.path.join(pg_dir, "conninfo")).read().strip()
    s3 = read_env(s3_env)
    d = workdir("e2e-scaleout")
    _, webm, _ = make_consultation(d, [("slt", "Take one tablet twice a day.")], name="short")
    audio = open(webm, "rb").read()
    prefix = f"scaleout-{os.getpid()}/"
    env = {
        "SCRIBE_QUEUE": "postgres", "SCRIBE_RESULTS": "postgres", "SCRIBE_NOTIFY": "postgres",
        "SCRIBE_POSTGRES_URL": conninfo, "SCRIBE_STORAGE": "s3",
        "SCRIBE_S3_ENDPOINT": s3["SCRIBE_TEST_S3_ENDPOINT"],
        "SCRIBE_S3_BUCKET": s3["SCRIBE_TEST_S3_BUCKET"],
        "SCRIBE_S3_REGION": s3["SCRIBE_TEST_S3_REGION"], "SCRIBE_S3_PREFIX": prefix,
        "SCRIBE_S3_ACCESS_KEY": s3["SCRIBE_TEST_S3_ACCESS_KEY"],
        "SCRIBE_S3_SECRET_KEY": s3["SCRIBE_TEST_S3_SECRET_KEY"],
        "SCRIBE_SIGNING_KEY": "scale-out-test-signing-key-0123456789abcdef",
        "SCRIBE_LEASE_SECONDS": "6", "SCRIBE_RETRY_BASE_MS": "200",
    }
    mig = subprocess.run([os.environ.get("SCRIBE_BIN", os.path.join(BIN, "scribe")), "migrate"],
                         env=dict(os.environ, **env), capture_output=True, timeout=60)
    assert mig.returncode == 0, mig.stderr
    servers = [Server(os.path.join(d, f"api{i}"), "--workers", "0", env=env) for i in range(2)]
    workers = [Server(os.path.join(d, f"w{i}"), command="worker", env=env) for i in range(3)]
    extra = []
    try:
        # one WebSocket per server; each key is subscribed on the server that
        # did NOT take its upload, so every event crosses servers
        sockets = [WebSocket(s.url("/ws").replace("http://", "ws://")) for s in servers]
        events = collections.defaultdict(list)
        lock = threading.Lock()

        def reader(i, ws):
            while True:
                try:
                    ev = ws.recv_json(timeout=600)
                except Exception:
                    return
                with lock:
                    events[(i, ev.get("audioKey"))].append(ev.get("type"))

        threads = [threading.Thread(target=reader, args=(i, ws), daemon=True)
                   for i, ws in enumerate(sockets)]
        for t in threads:
            t.start()
        keys = []
        for n in range(N):
            up, other = servers[n % 2], n % 2 ^ 1
            st, doc = request_json("GET", up.url("/get-upload-url"))
            assert st == 200, doc
            assert doc["upload_url"].startswith(s3["SCRIBE_TEST_S3_ENDPOINT"]), "not presigned S3"
            key = doc["key"]
            sockets[other].send_json({"action": "subscribe", "audioKey": key})
            st, _, body = request("PUT", doc["upload_url"], audio)
            assert st == 200, (st, body[:200])
            # the client tells the server (the original design's bucket event)
            st, body = request_json("POST", up.url("/upload-complete"), {"key": key})
            assert st == 200, (st, body)
            keys.append((key, other))
            if n == N // 3:
                workers[0].kill9()  # mid-run, probably holding a job
                extra.append(Server(os.path.join(d, "w3"), command="worker", env=env))
            if n == N // 2:
                r = subprocess.run([os.path.join(SRC, "scripts/postgres-test-server"), "restart",
                                    pg_dir], capture_output=True, timeout=120)
                assert r.returncode == 0, r.stderr
        deadline = time.time() + 400
        while time.time() < deadline:
            with lock:
                done = sum(1 for k, o in keys if "completed" in events[(o, k)])
            if done == len(keys):
                break
            time.sleep(0.5)
        with lock:
            missing = [k for k, o in keys if "completed" not in events[(o, k)]]
        assert not missing, f"{len(missing)} subscribers never notified: {missing[:3]}"
        # every result is stored and complete, on both servers
        for k, _ in keys:
            for s in servers:
                st, doc = request_json("GET", s.url("/result/" + k))
                assert st == 200 and doc["status"] == "completed", (k, st)
        for w in workers[1:] + extra:
            assert w.stop() == 0
        logs = "".join(w.read_log() for w in workers + extra)
        for k, _ in keys:
            n_done = len(re.findall(rf"job done key={k}", logs))
            assert n_done == 1, f"{k} processed {n_done} times"
        print(f"{N} consultations, each completed once; subscribers on the other server notified")
    finally:
        for w in workers + extra:
            if w.proc.poll() is None:
                w.stop()
        for s in servers:
            s.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
