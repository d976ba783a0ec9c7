#!/usr/bin/env bash
# Renders random MIDI pieces to mono WAV with fluidsynth:
#   render.sh OUT_DIR COUNT SEED [MIN_S MAX_S] [RATE]
# All pieces are rendered in one fluidsynth run (loading the sound font once), then cut apart.
set -euo pipefail
out=$1 count=$2 seed=$3 lo=${4:-60} hi=${5:-240} rate=${6:-16000}
sf2=${SF2:-/usr/share/sounds/sf2/FluidR3_GM.sf2}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/midi"
python3 "$here/gen_midi.py" "$out/midi" "$count" "$seed" "$lo" "$hi" > "$out/midi/pieces-$seed.tsv"
total=$(awk -F'\t' '{e = $2 + $3} END {printf "%d", e + 1}' "$out/midi/pieces-$seed.tsv")
all="$out/midi/all-$seed.wav"
# fluidsynth's player can fail to stop: cut the raw stream at the known length.
{ fluidsynth -ni -q -g 0.7 -T raw -O s16 -r "$rate" -F - "$sf2" "$out/midi/all-$seed.mid" 2>/dev/null || true; } |
    head -c $((total * rate * 4)) |
    sox -t raw -r "$rate" -e signed -b 16 -c 2 - -c 1 "$all"
while IFS=$'\t' read -r name start secs; do
    sox "$all" "$out/$name.wav" trim "$start" "$secs"
done < "$out/midi/pieces-$seed.tsv"
rm -f "$all"
