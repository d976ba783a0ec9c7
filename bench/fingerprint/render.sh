#!/usr/bin/env bash
# Renders random MIDI pieces to mono WAV with fluidsynth: render.sh OUT_DIR COUNT SEED [MIN_S MAX_S] [RATE]
set -euo pipefail
out=$1 count=$2 seed=$3 lo=${4:-60} hi=${5:-240} rate=${6:-16000}
sf2=${SF2:-/usr/share/sounds/sf2/FluidR3_GM.sf2}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/midi"
python3 "$here/gen_midi.py" "$out/midi" "$count" "$seed" "$lo" "$hi" |
while IFS=$'\t' read -r mid secs; do
    wav="$out/$(basename "${mid%.mid}").wav"
    [ -s "$wav" ] && continue
    bytes=$(python3 -c "print(int($secs * $rate) * 4)")
    # fluidsynth's player can fail to stop on some files: cut the raw stream at the piece length.
    { fluidsynth -ni -q -g 0.7 -T raw -O s16 -r "$rate" -F - "$sf2" "$mid" 2>/dev/null || true; } |
        head -c "$bytes" |
        sox -t raw -r "$rate" -e signed -b 16 -c 2 - -c 1 "$wav"
done
