#!/usr/bin/env python3
"""usage: score.py LEXICON_DIR OUT_DIR NAME...
For each NAME, compares NAME.ref.txt with NAME.<mode>.hyp.txt in OUT_DIR for every mode found
(off, on) and prints WER (the shared scorer's normalisation via ../shared/tools/wer.py's module),
the recall of drug-name and condition-name words, and the real-time factor (NAME.<mode>.ms,
the decoder's milliseconds, against NAME.seconds)."""
import collections, os, re, sys

sys.path.insert(0, os.path.join(os.environ["SHARED"], "data", "aci-bench"))
import score  # noqa: E402  (the shared development scorer)


def names(path, cols):
    out = set()
    for line in open(path, encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            f = line.rstrip("\n").split("\t")
            if "class" in f[1:2]:
                continue
            for c in cols:
                if c < len(f) and f[c] != "-":
                    for v in f[c].split("|"):
                        out.update(w for w in re.findall(r"[a-z]+", v.lower()) if len(w) >= 5)
    return out


lexdir, outdir, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
drugs = names(os.path.join(lexdir, "medications.tsv"), (0, 3))
conds = names(os.path.join(lexdir, "conditions.tsv"), (0, 2))
common = set("pressure blood heart attack chest failure sugar level high right left pain".split())
conds -= common
for mode in os.environ.get("MODES", "off on").split():
    err = refw = 0
    hit = collections.Counter(); tot = collections.Counter()
    ms = secs = 0.0
    for i in ids:
        hp = os.path.join(outdir, "%s.%s.hyp.txt" % (i, mode))
        if not os.path.exists(hp):
            break
        ref = score.wer_tokens(open(os.path.join(outdir, i + ".ref.txt")).read())
        hyp = score.wer_tokens(open(hp).read())
        err += score.levenshtein(ref, hyp); refw += len(ref)
        hc = collections.Counter(hyp)
        for kind, vocab in (("drug", drugs), ("condition", conds)):
            rc = collections.Counter(w for w in ref if w in vocab)
            tot[kind] += sum(rc.values())
            hit[kind] += sum(min(n, hc[w]) for w, n in rc.items())
        ms += float(open(os.path.join(outdir, "%s.%s.ms" % (i, mode))).read())
        secs += float(open(os.path.join(outdir, i + ".seconds")).read())
    else:
        print("domain=%-3s WER %.3f (%d/%d)  drug recall %.2f (%d/%d)  condition recall %.2f (%d/%d)"
              "  RTF %.3f (%.0f s audio)" % (
                  mode, err / max(1, refw), err, refw, hit["drug"] / max(1, tot["drug"]), hit["drug"],
                  tot["drug"], hit["condition"] / max(1, tot["condition"]), hit["condition"],
                  tot["condition"], ms / 1000 / max(secs, 1e-9), secs))
