"""End to end: a synthesized two-voice consultation, encoded like a
browser's recording, goes through the compatibility routes and the
WebSocket, then through /api/v1; the transcript and the extraction are
checked."""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from scribe_testlib import (Server, WebSocket, make_consultation, poll_result, request,
                            request_json, upload_compat, wer, workdir)

WER_BOUND = 0.45  # measured about 0.2-0.3 on this dialogue with the stock model


def check_result(doc, ref, key):
    assert doc["audio_key"] == key, doc.get("audio_key")
    assert doc["status"] == "completed", doc["status"]
    assert isinstance(doc["transcript"], str) and doc["transcript"], "empty transcript"
    w = wer(ref, doc["transcript"])
    print(f"WER {w:.3f}")
    assert w <= WER_BOUND, f"WER {w:.3f} above {WER_BOUND}"
    assert doc["segments"] and all(s["end"] >= s["start"] for s in doc["segments"])
    for field in ("diagnosis", "diagnoses", "medications", "allergies", "follow_up",
                  "follow_up_interval", "negations", "engine", "timings"):
        assert field in doc, f"missing {field}"
    names = [m["name"] for m in doc["medications"]]
    print("medications", names, "follow-up", doc["follow_up"], doc["follow_up_interval"])
    assert "penicillin" in names, names
    pen = next(m for m in doc["medications"] if m["name"] == "penicillin")
    assert pen["dose"] and "500" in pen["dose"], pen
    assert pen["status"] == "prescribed", pen
    assert pen["duration"] and "7" in pen["duration"], pen
    fu = doc["follow_up_interval"]
    assert fu and fu["min_days"] <= 14 <= fu["max_days"], fu
    for m in doc["medications"]:
        ev = m.get("evidence")
        assert ev and "segment" in ev and ev["end_char"] > ev["start_char"], m


def main():
    d = workdir("e2e-pipeline")
    wav, webm, ref = make_consultation(d)
    srv = Server(os.path.join(d, "data"), "--workers", "1")
    try:
        # --- compatibility routes, as the original AWS client uses them ---
        st, cfg = request_json("GET", srv.url("/config"))
        assert st == 200 and cfg["websocketUrl"].startswith("ws://"), cfg
        ws_path = urllib.parse.urlsplit(cfg["websocketUrl"]).path
        ws = WebSocket(srv.url(ws_path).replace("http://", "ws://"))
        key, _ = upload_compat(srv, webm, patient_id="PAT-0001")
        ws.send_json({"action": "subscribe", "audioKey": key})
        ev, seen = ws.wait_for(key, {"completed", "failed"}, timeout=240)
        assert ev["type"] == "completed", ev
        print("events:", [e["type"] for e in seen])
        check_result(ev["result"], ref, key)
        # upload-complete afterwards is harmless
        st, body = request_json("POST", srv.url("/upload-complete"), {"key": key})
        assert st == 200 and body == {"status": "processing triggered"}, (st, body)
        doc = poll_result(srv, key, timeout=5)
        check_result(doc, ref, key)
        assert doc.get("patient_id") == "PAT-0001"
        # a subscriber that arrives after completion still gets the result
        ws2 = WebSocket(srv.url(ws_path).replace("http://", "ws://"))
        ws2.send_json({"action": "subscribe", "audioKey": key})
        ev2, _ = ws2.wait_for(key, {"completed"}, timeout=10)
        assert ev2["result"]["audio_key"] == key
        ws2.close()
        ws.close()
        # the audio is deleted after processing by default
        assert not os.path.exists(os.path.join(srv.data_dir, "objects", "audio", key))

        # --- native API ---
        st, c = request_json("POST", srv.url("/api/v1/consultations"), {"patient_id": "PAT-0002"})
        assert st == 201 and c["id"] and c["upload_url"].startswith("http://"), (st, c)
        ws3 = WebSocket(srv.url("/api/v1/events").replace("http://", "ws://"))
        ws3.send_json({"action": "subscribe", "audioKey": c["id"]})
        with open(webm, "rb") as f:
            st, _, body = request("PUT", c["upload_url"], f.read())
        assert st == 200, body
        st, body = request_json("POST", srv.url(f"/api/v1/consultations/{c['id']}/complete"))
        assert st in (200, 202), (st, body)
        ev, seen = ws3.wait_for(c["id"], {"completed", "failed"}, timeout=240)
        types = [e["type"] for e in seen]
        print("native events:", types)
        assert ev["type"] == "completed", ev
        assert "progress" in types, types
        check_result(ev["result"], ref, c["id"])
        ws3.close()
        st, doc = request_json("GET", srv.url(f"/api/v1/consultations/{c['id']}"))
        assert st == 200 and doc["status"] == "completed"
        st, lst = request_json("GET", srv.url("/api/v1/consultations?status=completed&limit=1"))
        assert st == 200 and len(lst["items"]) == 1 and lst["next_cursor"], lst
        st, lst2 = request_json("GET", srv.url(
            "/api/v1/consultations?status=completed&limit=1&cursor=" +
            urllib.parse.quote(lst["next_cursor"])))
        assert st == 200 and len(lst2["items"]) == 1
        assert {lst["items"][0]["audio_key"], lst2["items"][0]["audio_key"]} == {key, c["id"]}
        st, _, _ = request("DELETE", srv.url(f"/api/v1/consultations/{c['id']}"))
        assert st == 204, st
        st, _ = request_json("GET", srv.url(f"/api/v1/consultations/{c['id']}"))
        assert st == 404
        st, _ = request_json("GET", srv.url("/healthz"))
        assert st == 200
        # nothing sensitive in the log
        log = srv.read_log()
        assert "PAT-0001" not in log and "penicillin" not in log.lower(), "log leaks PHI"
        assert "sig=" not in log, "log leaks signatures"
    finally:
        rc = srv.stop()
    assert rc == 0, f"server exit status {rc}"
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
