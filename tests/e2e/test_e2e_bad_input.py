"""Hostile and broken input against a running server: each case asserts the
status and that nothing was lost or corrupted (a good consultation processed
first is intact at the end, and the server still processes new ones)."""
import json
import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from scribe_testlib import (CONSULTATION, Server, WebSocket, make_consultation, poll_result,
                            request, request_json, upload_compat, workdir)


def error_code(body):
    doc = json.loads(body)
    assert set(doc) == {"error"} and {"code", "message"} <= set(doc["error"]), doc
    return doc["error"]["code"]


def fails_with(srv, data, label):
    key, _ = upload_compat(srv, data)
    doc = poll_result(srv, key, timeout=60)
    assert doc["status"] == "failed", (label, doc["status"])
    assert doc["error"], label
    print(f"{label}: failed with reason: {doc['error']}")
    # a failed job keeps its audio for inspection or retry
    assert os.path.exists(os.path.join(srv.data_dir, "objects", "audio", key)), label
    return doc


def main():
    d = workdir("e2e-bad")
    wav, webm, ref = make_consultation(d, CONSULTATION[:3], name="short")
    srv = Server(os.path.join(d, "data"), "--workers", "1", "--upload-max-bytes", "2000000",
                 "--upload-url-ttl", "2")
    try:
        good, _ = upload_compat(srv, webm)
        good_doc = poll_result(srv, good)
        assert good_doc["status"] == "completed"

        # --- audio the decoder must refuse, with a reason the user sees ---
        def put_bytes(data):
            p = os.path.join(d, f"bad-{time.monotonic_ns()}")
            with open(p, "wb") as f:
                f.write(data)
            return p
        webm_bytes = open(webm, "rb").read()
        corrupt = bytearray(webm_bytes)
        for i in range(200, len(corrupt), 7):
            corrupt[i] ^= 0x5A
        fails_with(srv, put_bytes(bytes(corrupt[:4000])), "corrupt webm")
        fails_with(srv, put_bytes(b""), "empty file")
        fails_with(srv, put_bytes(b"Patient notes: this is not audio at all.\n" * 50), "text")
        fails_with(srv, put_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(3000)), "png")

        # --- signed URL abuse ---
        st, doc = request_json("GET", srv.url("/get-upload-url"))
        url = doc["upload_url"]
        u = urllib.parse.urlsplit(url)
        q = urllib.parse.parse_qs(u.query)
        sig = q["sig"][0]
        bad_sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        tampered = url.replace(sig, bad_sig)
        st, _, body = request("PUT", tampered, b"x" * 10)
        assert st == 403, ("wrong signature", st)
        error_code(body)
        longer = url.replace("max=" + q["max"][0], "max=" + q["max"][0] + "0")
        st, _, body = request("PUT", longer, b"x" * 10)
        assert st == 403, ("tampered size limit", st)
        other_key = url.replace(doc["key"], "0" * 32)
        st, _, body = request("PUT", other_key, b"x" * 10)
        assert st == 403, ("signature for another key", st)
        st, _, body = request("PUT", u.scheme + "://" + u.netloc + u.path, b"x")
        assert st == 403, ("unsigned", st)
        # too large: Content-Length above the configured limit
        # (the server answers from the headers, before reading the body)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Content-Length: 2000001\r\n\r\n".encode() + b"\0" * 1000)
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
        s.close()
        assert b" 413 " in resp.split(b"\r\n")[0], ("oversize body", resp[:100])
        # expired: the TTL is 2 s here
        time.sleep(3.2)
        st, _, body = request("PUT", url, webm_bytes)
        assert st == 403 and error_code(body) == "expired", ("expired url", st, body)

        # --- traversal and malformed keys ---
        for path in ["/upload/..%2F..%2Fetc%2Fpasswd?expires=9999999999&max=10&sig=" + "0" * 64,
                     "/upload/../../etc/passwd?expires=1&max=1&sig=x",
                     "/result/..%2F..%2Fscribe.db", "/api/v1/consultations/..%2Fx"]:
            st, _, body = request("GET" if "upload" not in path else "PUT", srv.url(path), b"x")
            assert st in (400, 403, 404), (path, st)
        assert not os.path.exists(os.path.join(srv.data_dir, "etc"))

        # --- JSON bodies ---
        st, _, body = request("POST", srv.url("/upload-complete"), b"{not json",
                              {"Content-Type": "application/json"})
        assert st == 400, ("malformed json", st)
        error_code(body)
        nested = b"[" * 100000 + b"]" * 100000
        st, _, body = request("POST", srv.url("/upload-complete"), nested,
                              {"Content-Type": "application/json"})
        assert st in (400, 413), ("deeply nested json", st)
        st, body = request_json("POST", srv.url("/upload-complete"), {})
        assert st == 400, ("missing key", st)
        st, body = request_json("POST", srv.url("/upload-complete"), {"key": "f" * 32})
        assert st == 404, ("unknown key", st)
        st, body = request_json("POST", srv.url("/upload-complete"), {"key": 12})
        assert st == 400, ("key of the wrong type", st)
        # repeated upload-complete is idempotent
        for _ in range(3):
            st, body = request_json("POST", srv.url("/upload-complete"), {"key": good})
            assert st == 200 and body == {"status": "processing triggered"}

        # --- WebSocket garbage ---
        ws = WebSocket(srv.url("/ws").replace("http://", "ws://"))
        ws.send_frame(1, b"this is not json")
        ws.send_frame(1, b'{"action":"subscribe"}')
        ws.send_frame(1, b'{"action":"subscribe","audioKey":"../../x"}')
        ws.send_raw(os.urandom(64))
        time.sleep(0.3)
        ws.sock.close()
        ws = WebSocket(srv.url("/ws").replace("http://", "ws://"))
        ws.send_frame(1, b'{"a":1}', mask=False)  # clients must mask
        time.sleep(0.2)
        ws.sock.close()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
        s.settimeout(5)
        resp = s.recv(1024)
        assert b" 400 " in resp.split(b"\r\n")[0] or b" 426 " in resp.split(b"\r\n")[0], resp[:80]
        s.close()

        # --- nothing lost or corrupted; the server still works ---
        st, doc = request_json("GET", srv.url("/result/" + good))
        assert st == 200 and doc == good_doc, "good result changed"
        again, _ = upload_compat(srv, webm)
        assert poll_result(srv, again)["status"] == "completed"
    finally:
        rc = srv.stop()
    assert rc == 0, rc
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
