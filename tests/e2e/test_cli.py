"""The command-line program: help, version, config printing and errors,
transcribe and extract."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from scribe_testlib import CONSULTATION, SCRIBE, make_consultation, workdir


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([SCRIBE, *args], input=stdin, capture_output=True, env=e, timeout=240)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    d = workdir("cli")
    rc, out, err = run("version")
    assert rc == 0 and out.startswith("scribe "), out
    rc, out, _ = run("--help")
    assert rc == 0 and "serve" in out and "transcribe" in out
    for cmd in ("serve", "worker", "transcribe", "extract", "version"):
        rc, out, err = run(cmd, "--help")
        assert rc == 0 and "usage: scribe " + cmd in out, (cmd, out, err)
    rc, out, err = run("nonsense")
    assert rc == 2 and "unknown command" in err

    # configuration: precedence and masking
    conf = os.path.join(d, "scribe.conf")
    with open(conf, "w") as f:
        f.write("port = 9100\nsigning_key = 0123456789abcdef0123456789abcdef\n")
    rc, out, err = run("serve", "--config", conf, "--print-config", env={"SCRIBE_HOST": "127.0.0.2"})
    assert rc == 0, err
    assert "port = 9100" in out and 'host = "127.0.0.2"' in out, out
    assert "0123456789abcdef" not in out and "********" in out
    rc, out, err = run("serve", "--config", conf, "--port", "9200", "--print-config")
    assert "port = 9200" in out
    rc, out, err = run("serve", "--port", "99999")
    assert rc == 2 and "port" in err, err
    rc, out, err = run("serve", "--frobnicate")
    assert rc == 2 and "unknown option" in err, err
    rc, out, err = run("serve", "--print-config", env={"SCRIBE_KEEP_AUDIO": "perhaps"})
    assert rc == 2 and "SCRIBE_KEEP_AUDIO" in err, err

    # extract: transcript in, JSON out
    text = "\n".join(("Doctor: " if v == "rms" else "Patient: ") + t for v, t in CONSULTATION)
    rc, out, err = run("extract", "-", stdin=text.encode())
    assert rc == 0, err
    doc = json.loads(out)
    assert any(m["name"] == "penicillin" for m in doc["medications"]), doc["medications"]
    assert doc["follow_up_interval"]["min_days"] == 14, doc["follow_up_interval"]

    # transcribe: the whole pipeline on files
    wav, webm, ref = make_consultation(d, CONSULTATION[:5])
    rc, out, err = run("transcribe", webm)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["status"] == "completed" and doc["transcript"], doc
    rc, out, err = run("transcribe", webm, wav)
    assert rc == 0 and len(json.loads(out)) == 2
    bad = os.path.join(d, "bad.mp3")
    with open(bad, "w") as f:
        f.write("not audio")
    rc, out, err = run("transcribe", bad)
    assert rc == 1 and "bad.mp3" in err, err
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
