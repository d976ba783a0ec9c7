#!/usr/bin/env bash
# Fingerprint evaluation: renders reference, negative and filler music, indexes it (one core),
# grows the index with postings-level filler to FILL_HOURS, builds distorted queries with
# sox/ffmpeg and reports per distortion TPR, FPR and latency, plus indexing speed, index size
# and peak memory.
#
#   bench/fingerprint/run.sh            # defaults below; results in $OUT/report.md
#   N_REFS=60 N_NEG=30 FILL_HOURS=100 QUERIES=40 bench/fingerprint/run.sh
#
# Other modes of eval.py: CALIBRATE_NEG=DIR prints the false-vote distribution of negative
# queries cut from DIR (thresholds of 1) instead of the report; REUSE=1 keeps the index;
# REPORT_ONLY=1 re-reads the last query run; QUERY_FLAGS passes flags to `encore fingerprint query`.
#
# Needs: sox, ffmpeg, fluidsynth, fluid-soundfont-gm, python3, taskset (util-linux).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export OUT=${OUT:-${ENCORE_CACHE:-$HOME/.cache/encore}/fingerprint-bench}
export N_REFS=${N_REFS:-40} N_NEG=${N_NEG:-20} FILL_HOURS=${FILL_HOURS:-100} QUERIES=${QUERIES:-30}
export SEED=${SEED:-2026}
mkdir -p "$OUT"
(cd "$root" && cargo build --release -p encore-cli && cargo build --release -p encore-fingerprint --example fill_index)
target=${CARGO_TARGET_DIR:-$root/target}
export ENCORE_BIN="$target/release/encore" FILL_BIN="$target/release/examples/fill_index"
# Reference pieces and held-out negatives come from different seeds than any tuning set.
"$here/render.sh" "$OUT/refs" "$N_REFS" "$SEED" 60 200
"$here/render.sh" "$OUT/neg" "$N_NEG" "$((SEED + 1))" 60 200
# The catalogue's distinct filler music: FILL_PARTS x 48 pieces of 60-240 s (about 2 h each),
# seeds 3001.. (never queried, never tuned on); rendered once and kept in $OUT/filler.
FILL_PARTS=${FILL_PARTS:-5}
for k in $(seq 1 "$FILL_PARTS"); do
    if [ ! -f "$OUT/filler/part$k/midi/pieces-$((3000 + k)).tsv" ] || [ -f "$OUT/filler/part$k/midi/all-$((3000 + k)).wav" ]; then
        "$here/render.sh" "$OUT/filler/part$k" 48 "$((3000 + k))" 60 240
    fi
done
export SHARED_AUDIO=${SHARED_AUDIO:-$root/../shared/data/audio}
python3 "$here/eval.py"
