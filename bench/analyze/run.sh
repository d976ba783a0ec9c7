#!/usr/bin/env bash
# Benchmark: `encore analyze` against librosa's beat tracker on audio with exact beat times.
#
#   bash bench/analyze/run.sh            # reported figures (seed 2)
#   SEED=1 bash bench/analyze/run.sh     # the development set used for any tuning
#
# Needs python3 (venv), fluidsynth and fluid-soundfont-gm. Creates a venv with librosa,
# mir_eval and pretty_midi under ${ENCORE_CACHE:-$HOME/.cache/encore}/venv-audio, builds the
# release binary, generates the audio under $CACHE/bench-audio-seedN, and prints a table.
# Everything runs on one core (taskset -c 0) when taskset exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${ENCORE_CACHE:-$HOME/.cache/encore}"
VENV="$CACHE/venv-audio"
SEED="${SEED:-2}"
DATA="$CACHE/bench-audio-seed$SEED"
mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q librosa mir_eval pretty_midi
cargo build --release -q -p encore-cli
BIN="${CARGO_TARGET_DIR:-target}/release/encore"
if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  "$VENV/bin/python" bench/analyze/make_data.py --seed "$SEED" --out "$DATA" \
    --clicks "${CLICKS:-10}" --midi "${MIDI:-10}"
  touch "$DATA/.complete"
fi
PIN=()
if command -v taskset >/dev/null; then PIN=(taskset -c 0); fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
echo "seed $SEED, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
"${PIN[@]}" "$VENV/bin/python" bench/analyze/evaluate.py "$DATA" "$BIN"
