#!/usr/bin/env bash
# PocketSphinx with and without the domain model (medical dictionary +
# consultation LM) on flite-synthesised consultations: WER, recall of drug and
# condition names, real-time factor.  See docs/speech.md.
#   bench/stt/run.sh [BUILD_DIR] [N_DIALOGUES] [MAX_SECONDS]
# Defaults: build-bench (configured and built here), 12 dialogues, 30 s each.
# Needs ../shared (the development dialogues and tools); skips without it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
n=${2:-12}
max=${3:-30}
export SHARED=${SHARED:-$root/../shared}
dialogues=$SHARED/data/aci-bench/dialogues
if [ ! -d "$dialogues" ] || [ ! -x "$SHARED/tools/dialogue-audio.py" ]; then
  echo "bench/stt: $dialogues not found; skipped" >&2
  exit 0
fi
if [ ! -x "$build/scribe" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target scribe -j2 >/dev/null
fi
out=${OUT:-$build/bench-stt}
mkdir -p "$out"
ids=()
for f in $(ls "$dialogues"/*.txt | sort | head -n "$n"); do
  id=$(basename "$f" .txt)
  ids+=("$id")
  [ -f "$out/$id.wav" ] || "$SHARED/tools/dialogue-audio.py" "$f" "$out/$id" --max-seconds "$max" >/dev/null
  python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())" \
    "$out/$id.wav" >"$out/$id.seconds"
  for mode in off on; do
    "$build/scribe" transcribe "$out/$id.wav" --pocketsphinx-domain "$mode" --data-dir "$out/data" \
      2>/dev/null >"$out/$id.$mode.json"
    python3 - "$out/$id.$mode.json" "$out/$id.$mode" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2] + ".hyp.txt", "w").write(d["transcript"] + "\n")
open(sys.argv[2] + ".ms", "w").write(str(d["timings"]["stt_ms"]))
PY
  done
done
python3 "$root/bench/stt/score.py" "$root/data/lexicon" "$out" "${ids[@]}"
