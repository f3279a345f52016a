"""Crash and restart: kill -9 a worker in the middle of a job, restart it,
and the job completes exactly once; SIGTERM a worker mid-job and the job
is released, not lost; restart the server with jobs queued and none is
lost."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from scribe_testlib import (CONSULTATION, Server, make_consultation, poll_result, request_json,
                            upload_compat, workdir)


def wait_status(srv, key, statuses, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, doc = request_json("GET", srv.url(f"/api/v1/consultations/{key}"))
        if st == 200 and doc["status"] in statuses:
            return doc
        time.sleep(0.05)
    raise TimeoutError(f"{key} never reached {statuses}")


def count(pattern, *logs):
    return sum(len(re.findall(pattern, l)) for l in logs)


def main():
    d = workdir("e2e-crash")
    # A longer recording so the kill lands mid-transcription.
    _, webm, _ = make_consultation(d, CONSULTATION * 3, name="long")
    data = os.path.join(d, "data")
    srv = Server(data, "--workers", "0")
    try:
        # --- kill -9 mid-job ---
        key, _ = upload_compat(srv, webm)
        w1 = Server(data, "--lease-seconds", "2", command="worker")
        wait_status(srv, key, {"transcribing"})
        time.sleep(0.3)
        w1.kill9()
        w2 = Server(data, "--lease-seconds", "2", command="worker")
        doc = poll_result(srv, key, timeout=240)
        assert doc["status"] == "completed", doc["status"]
        assert w2.stop() == 0
        logs = [w1.read_log(), w2.read_log()]
        assert count(rf"job start key={key}", *logs) == 2, logs
        assert count(rf"job done key={key}", *logs) == 1, logs

        # --- SIGTERM mid-job releases the job ---
        key2, _ = upload_compat(srv, webm)
        w3 = Server(data, command="worker")
        wait_status(srv, key2, {"transcribing"})
        t0 = time.time()
        assert w3.stop() == 0, "worker did not exit cleanly"
        print(f"worker stopped in {time.time() - t0:.2f}s")
        assert "job released key=" + key2 in w3.read_log()
        st, doc = request_json("GET", srv.url(f"/api/v1/consultations/{key2}"))
        assert doc["status"] == "queued", doc["status"]

        # --- server restart with jobs queued ---
        key3, _ = upload_compat(srv, webm)
        assert srv.stop() == 0
        srv = Server(data, "--workers", "1")
        for k in (key2, key3):
            assert poll_result(srv, k, timeout=240)["status"] == "completed", k
        log = srv.read_log()
        assert count(rf"job done key={key2}", log) == 1
        assert count(rf"job done key={key3}", log) == 1
    finally:
        srv.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
