#!/usr/bin/env bash
# Personal-information scanner benchmark: generates the labelled corpus with the project's own
# generator, scores `encore` on it (per-kind precision/recall/F1, single-core MB/s), then runs
# Microsoft Presidio (pattern recognizers, no NLP model) on the same corpus and scores it the
# same way. Reported figures use SEED=20261123; development used seed 1 (never tune on this one).
#
# Usage: bench/compliance/run.sh            (env: SEED, SIZE_MB, ROWS, OUT, SKIP_PRESIDIO=1)
set -euo pipefail
cd "$(dirname "$0")/../.."

SEED=${SEED:-20261123}
SIZE_MB=${SIZE_MB:-8}
ROWS=${ROWS:-2000}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-compliance}
VENV="${ENCORE_CACHE:-$HOME/.cache/encore}/venv-compliance"
ONE_CORE=()
if command -v taskset >/dev/null; then ONE_CORE=(taskset -c 0); fi

cargo build --release -p encore-cli
BIN="${CARGO_TARGET_DIR:-target}/release/encore"

"$BIN" scan-bench corpus "$OUT" --seed "$SEED" --size-mb "$SIZE_MB" --rows "$ROWS"
echo "== encore (engine, in memory, one core, best of 5)"
"${ONE_CORE[@]}" "$BIN" scan-bench eval "$OUT" --repeat 5 | tee "$OUT/encore.txt"
echo "== encore scan (whole command: walk, read, SQLite, JSON output)"
"${ONE_CORE[@]}" "$BIN" scan "$OUT/corpus" --json > "$OUT/encore-scan.jsonl"
tail -n 1 "$OUT/encore-scan.jsonl"

if [ "${SKIP_PRESIDIO:-0}" = 1 ]; then exit 0; fi
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q presidio-analyzer python-stdnum
echo "== presidio-analyzer $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("presidio-analyzer"))') (pattern recognizers, NoOpNlpEngine, one core)"
"${ONE_CORE[@]}" "$VENV/bin/python" bench/compliance/presidio_scan.py "$OUT/corpus" > "$OUT/presidio.jsonl"
"$BIN" scan-bench eval "$OUT" --predictions "$OUT/presidio.jsonl" --name presidio | tee "$OUT/presidio.txt"
