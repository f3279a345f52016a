#!/usr/bin/env python3
"""A fake OpenAI-compatible speech-to-text server for tests (stdlib only).

Listens on 127.0.0.1:0 and prints the port on its first stdout line.

POST /<scenario>/<tag>/v1/audio/transcriptions checks the request the way a
strict server would (Authorization header, multipart/form-data with a
RIFF/WAVE 16 kHz mono 16-bit `file`, `model`, `response_format`) and answers
according to <scenario>.  <tag> only separates the request counters of
different tests.  GET /stats/<scenario>/<tag> returns what was received:
{"count": n, "last": {fields...}}.

The transcript is synthetic: this checks the protocol, never recognition
quality.  Segments are found in the uploaded audio itself (one per burst of
sound, times relative to the upload), so a client's chunking and time
offsets can be checked.

Scenarios:
  ok        verbose_json, one segment per burst, text "Tone number N, fine."
  sentence  verbose_json, one segment with TEXT_SENTENCE (mixed case, punctuation)
  textonly  {"text": TEXT_SENTENCE} without segments
  r429      429 with Retry-After: 1 for the first two requests, then as ok
  r500      always 500
  e401      always 401
  e400      always 400 with an error message
  e413      always 413
  slow      sleeps 5 s, then as ok
  notjson   200 with an HTML body
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "test-key-123"
TEXT_SENTENCE = "  The patient has a headache, and a fever since yesterday. [BLANK_AUDIO] (coughs)"

lock = threading.Lock()
stats = {}


def parse_multipart(body, content_type):
    """Returns {name: (filename, content_type, bytes)} or raises ValueError."""
    params = {}
    for piece in content_type.split(";")[1:]:
        if "=" in piece:
            k, v = piece.strip().split("=", 1)
            params[k.lower()] = v.strip('"')
    if not content_type.lower().startswith("multipart/form-data") or "boundary" not in params:
        raise ValueError("not multipart/form-data")
    delim = b"--" + params["boundary"].encode()
    parts = body.split(delim)
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        raise ValueError("unterminated multipart body")
    fields = {}
    for raw in parts[1:-1]:
        if not raw.startswith(b"\r\n") or not raw.endswith(b"\r\n"):
            raise ValueError("bad part framing")
        raw = raw[2:-2]
        head, sep, content = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without headers")
        name = filename = ctype = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "content-disposition":
                for item in v.split(";"):
                    item = item.strip()
                    if item.startswith("name="):
                        name = item[5:].strip('"')
                    elif item.startswith("filename="):
                        filename = item[9:].strip('"')
            elif k.lower() == "content-type":
                ctype = v.strip()
        if name is None:
            raise ValueError("part without a name")
        fields[name] = (filename, ctype, content)
    return fields


def parse_wav(data):
    """Returns the samples of a 16 kHz mono 16-bit RIFF/WAVE, or raises."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not RIFF/WAVE")
    if int.from_bytes(data[4:8], "little") != len(data) - 8:
        raise ValueError("RIFF size mismatch")
    pos, fmt_ok = 12, False
    while pos + 8 <= len(data):
        cid, clen = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        c = data[pos + 8:pos + 8 + clen]
        if cid == b"fmt ":
            tag, ch, rate = int.from_bytes(c[0:2], "little"), int.from_bytes(c[2:4], "little"), \
                int.from_bytes(c[4:8], "little")
            bits = int.from_bytes(c[14:16], "little")
            if (tag, ch, rate, bits) != (1, 1, 16000, 16):
                raise ValueError("want PCM 16 kHz mono 16-bit, got %r" % ((tag, ch, rate, bits),))
            fmt_ok = True
        elif cid == b"data":
            if not fmt_ok or len(c) != clen or clen % 2:
                raise ValueError("bad data chunk")
            return [int.from_bytes(c[i:i + 2], "little", signed=True) for i in range(0, clen, 2)]
        pos += 8 + clen + (clen & 1)
    raise ValueError("no data chunk")


def bursts(samples, rate=16000):
    """(start, end) seconds of each stretch of loud 10 ms frames."""
    frame, out, cur = rate // 100, [], None
    for f in range(0, len(samples) // frame):
        peak = max(abs(x) for x in samples[f * frame:(f + 1) * frame])
        if peak > 1000:
            if cur is None:
                cur = [f, f + 1]
            elif f - cur[1] <= 20:
                cur[1] = f + 1
            else:
                out.append(cur)
                cur = [f, f + 1]
    if cur:
        out.append(cur)
    return [(a / 100.0, b / 100.0) for a, b in out]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj=None, headers=(), raw=None, ctype="application/json"):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path.strip("/").split("/")
        if len(p) == 3 and p[0] == "stats":
            with lock:
                st = stats.get(p[1] + "/" + p[2], {"count": 0, "last": None})
                self.reply(200, st)
        else:
            self.reply(404, {"error": {"message": "no such path"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        p = self.path.strip("/").split("/")
        if len(p) != 5 or p[2:] != ["v1", "audio", "transcriptions"]:
            return self.reply(404, {"error": {"message": "not found"}})
        scenario, key = p[0], p[0] + "/" + p[1]
        info = {"auth": self.headers.get("Authorization") == "Bearer " + API_KEY,
                "auth_header": self.headers.get("Authorization") is not None}
        try:
            fields = parse_multipart(body, self.headers.get("Content-Type", ""))
            filename, ftype, wav = fields["file"]
            samples = parse_wav(wav)
            info.update(wav_ok=True, wav_seconds=len(samples) / 16000.0, filename=filename)
            for f in ("model", "response_format", "language", "prompt"):
                if f in fields:
                    info[f] = fields[f][2].decode()
        except (ValueError, KeyError) as e:
            info.update(wav_ok=False, problem=str(e))
            samples = None
        with lock:
            st = stats.setdefault(key, {"count": 0, "last": None})
            st["count"] += 1
            st["last"] = info
            count = st["count"]
        if scenario == "e401" or not info["auth"]:
            return self.reply(401, {"error": {"message": "Incorrect API key provided: " +
                                              (self.headers.get("Authorization") or "")}})
        if samples is None:
            return self.reply(400, {"error": {"message": "bad request: " + info["problem"]}})
        if "model" not in info or info.get("response_format") != "verbose_json":
            return self.reply(400, {"error": {"message": "model and response_format required"}})
        if scenario == "e400":
            return self.reply(400, {"error": {"message": "Invalid file format.\nSupported: wav",
                                              "type": "invalid_request_error"}})
        if scenario == "e413":
            return self.reply(413, {"error": {"message": "too large"}})
        if scenario == "r500":
            return self.reply(500, {"error": {"message": "internal error"}})
        if scenario == "r429" and count <= 2:
            return self.reply(429, {"error": {"message": "rate limited"}},
                              headers=[("Retry-After", "1")])
        if scenario == "slow":
            time.sleep(5)
        if scenario == "notjson":
            return self.reply(200, raw=b"<html>hello</html>", ctype="text/html")
        dur = len(samples) / 16000.0
        if scenario in ("sentence", "textonly"):
            if scenario == "textonly":
                return self.reply(200, {"text": TEXT_SENTENCE})
            segs = [{"id": 0, "start": 0.0, "end": dur, "text": TEXT_SENTENCE}] if dur else []
            return self.reply(200, {"task": "transcribe", "language": "english",
                                    "duration": dur, "text": TEXT_SENTENCE, "segments": segs})
        segs = [{"id": i, "seek": 0, "start": a, "end": b, "text": " Tone number %d, fine." % i,
                 "tokens": [], "temperature": 0.0, "avg_logprob": -0.1,
                 "compression_ratio": 1.0, "no_speech_prob": 0.0}
                for i, (a, b) in enumerate(bursts(samples))]
        self.reply(200, {"task": "transcribe", "language": "english", "duration": dur,
                         "text": " ".join(s["text"] for s in segs), "segments": segs})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    # Exit when the test closes our stdin (or dies).
    threading.Thread(target=lambda: (sys.stdin.read(), srv.shutdown()), daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
