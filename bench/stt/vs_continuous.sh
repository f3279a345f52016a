#!/usr/bin/env bash
# Scribe's PocketSphinx path against Debian's pocketsphinx_continuous on the
# same file and model: a synthesized recording with long pauses (4 flite
# sentences separated by 30 s of silence, 105 s in all).  Prints wall time
# and peak memory of each, and the ratio.  Needs: flite, sox, pocketsphinx
# (scripts/install-deps --bench).  Usage: bench/stt/vs_continuous.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
flite -voice slt -t "I have had a sore throat and a fever for three days." -o "$tmp/a0.wav"
flite -voice rms -t "I will prescribe penicillin five hundred milligrams three times a day." -o "$tmp/b0.wav"
sox "$tmp/a0.wav" -r 16000 -c 1 -b 16 "$tmp/a.wav"
sox "$tmp/b0.wav" -r 16000 -c 1 -b 16 "$tmp/b.wav"
sox -n -r 16000 -c 1 -b 16 "$tmp/s.wav" trim 0 30
sox "$tmp/a.wav" "$tmp/s.wav" "$tmp/b.wav" "$tmp/s.wav" "$tmp/a.wav" "$tmp/s.wav" "$tmp/b.wav" "$tmp/long.wav"
echo "audio: $(soxi -D "$tmp/long.wav") s"
for domain in off on; do
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$build/scribe" transcribe "$tmp/long.wav" \
    --pocketsphinx-domain "$domain" > /dev/null
  read -r sw sm < "$tmp/t"
  echo "scribe transcribe (domain $domain): ${sw} s wall, ${sm} KB peak"
done
/usr/bin/time -f "%e %M" -o "$tmp/t" pocketsphinx_continuous -infile "$tmp/long.wav" \
  -logfn /dev/null > /dev/null
read -r pw pm < "$tmp/t"
echo "pocketsphinx_continuous: ${pw} s wall, ${pm} KB peak"
echo "ratio (scribe, domain on / pocketsphinx_continuous): $(echo "$sw / $pw" | bc -l | cut -c1-4)"
