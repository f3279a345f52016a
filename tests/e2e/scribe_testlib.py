"""Helpers for Scribe's end-to-end tests: start the server, make speech,
talk HTTP and WebSocket, score transcripts.  Python standard library only."""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

BINARY_DIR = os.environ.get("SCRIBE_BINARY_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SCRIBE = os.environ.get("SCRIBE_BIN", os.path.join(BINARY_DIR, "scribe"))
TMP_ROOT = os.environ.get("SCRIBE_TEST_TMP", tempfile.gettempdir())

CONSULTATION = [
    ("rms", "Good morning. What brings you in today?"),
    ("slt", "I have had a sore throat and a fever for three days."),
    ("rms", "Do you have any chest pain?"),
    ("slt", "No, I do not have any chest pain."),
    ("rms", "It looks like a throat infection. I will prescribe penicillin five hundred "
            "milligrams three times a day for seven days."),
    ("slt", "Thank you, doctor."),
    ("rms", "Come back in two weeks if you are not better."),
]


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def need_tools(*tools):
    for t in tools:
        if shutil.which(t) is None:
            skip(f"{t} not installed")


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"{name}-", dir=TMP_ROOT)
    return d


def make_consultation(outdir, lines=CONSULTATION, name="consult"):
    """Synthesises the dialogue with flite (two voices) and returns
    (wav_path, webm_path, reference_text)."""
    need_tools("flite", "sox", "ffmpeg")
    parts = []
    for i, (voice, text) in enumerate(lines):
        raw = os.path.join(outdir, f"{name}-{i}.wav")
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", raw], check=True)
        fixed = os.path.join(outdir, f"{name}-{i}-16k.wav")
        subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", fixed, "pad", "0", "0.4"],
                       check=True)
        parts.append(fixed)
    wav = os.path.join(outdir, f"{name}.wav")
    subprocess.run(["sox", *parts, wav], check=True)
    webm = os.path.join(outdir, f"{name}.webm")
    # Like a browser's MediaRecorder: Opus in WebM, written to a pipe so the
    # file has no duration and no cues.
    with open(webm, "wb") as f:
        subprocess.run(["ffmpeg", "-v", "error", "-i", wav, "-c:a", "libopus", "-b:a", "24k",
                        "-f", "webm", "pipe:1"], stdout=f, check=True)
    return wav, webm, " ".join(t for _, t in lines)


def normalize_words(text):
    text = text.lower().replace("'", "")
    return re.findall(r"[a-z0-9]+", text)


def wer(ref, hyp):
    r, h = normalize_words(ref), normalize_words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev = cur
    return d[len(h)] / max(1, len(r))


class Server:
    """A `scribe serve` (or `scribe worker`) process on 127.0.0.1:0."""

    def __init__(self, data_dir, *args, command="serve", env=None):
        self.data_dir = data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.port_file = os.path.join(data_dir, f"port-{time.monotonic_ns()}")
        self.log_path = os.path.join(data_dir, f"{command}-{time.monotonic_ns()}.log")
        e = dict(os.environ)
        e["SCRIBE_PORT_FILE"] = self.port_file
        if env:
            e.update(env)
        cmd = [SCRIBE, command, "--data-dir", data_dir, "--log-level", "debug"]
        if command == "serve":
            cmd += ["--host", "127.0.0.1", "--port", "0"]
        cmd += list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=e)
        self.port = None
        if command == "serve":
            deadline = time.time() + 60
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"scribe exited: {self.read_log()}")
                if os.path.exists(self.port_file):
                    txt = open(self.port_file).read().strip()
                    if txt:
                        self.port = int(txt)
                        break
                time.sleep(0.05)
            if self.port is None:
                raise RuntimeError("scribe did not start")

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path, errors="replace").read()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("scribe did not stop on SIGTERM")
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def request(method, url, body=None, headers=None, timeout=30):
    """Returns (status, headers, body bytes)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + (("?" + u.query) if u.query else "")
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, dict(res.getheaders()), data


def request_json(method, url, body=None, headers=None):
    status, hdrs, data = request(method, url, body, headers)
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return status, doc


class WebSocket:
    """A minimal RFC 6455 client (text frames, masking, ping/close)."""

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed during handshake")
            buf += chunk
        head, self.pending = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        if " 101 " not in lines[0]:
            raise RuntimeError(f"handshake failed: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        if hdrs.get("sec-websocket-accept") != accept:
            raise RuntimeError("bad Sec-WebSocket-Accept")

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload, mask=True, fin=True):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            m = os.urandom(4)
            payload = bytes(b ^ m[i % 4] for i, b in enumerate(payload))
            hdr += m
        self.sock.sendall(hdr + payload)

    def send_json(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def recv_frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        mask = self._read(4) if b1 & 0x80 else None
        payload = self._read(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload

    def recv_json(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while True:
            op, payload = self.recv_frame()
            if op == 1:
                return json.loads(payload)
            if op == 9:
                self.send_frame(10, payload)
            elif op == 8:
                raise ConnectionError("closed by server")

    def wait_for(self, key, types, timeout=180):
        """Reads events until one for key has a type in types; returns it and
        the list of all events seen for key."""
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            ev = self.recv_json(timeout=max(0.1, deadline - time.time()))
            if ev.get("audioKey") == key:
                seen.append(ev)
                if ev.get("type") in types:
                    return ev, seen
        raise TimeoutError(f"no {types} event for {key}")

    def close(self):
        try:
            self.send_frame(8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def poll_result(server, key, timeout=180):
    """Polls GET /result/{key} like the original client; returns the doc."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, doc = request_json("GET", server.url("/result/" + urllib.parse.quote(key, safe="")))
        if status == 200:
            return doc
        time.sleep(0.25)
    raise TimeoutError(f"result for {key} not ready")


def upload_compat(server, path, patient_id=None):
    q = "?patientId=" + urllib.parse.quote(patient_id) if patient_id else ""
    status, doc = request_json("GET", server.url("/get-upload-url" + q))
    assert status == 200, (status, doc)
    assert set(doc) >= {"upload_url", "key"}, doc
    with open(path, "rb") as f:
        data = f.read()
    st, _, body = request("PUT", doc["upload_url"], data, {"Content-Type": "audio/webm;codecs=opus"})
    assert st == 200, (st, body)
    return doc["key"], doc["upload_url"]
