#!/usr/bin/env bash
# Haptics evaluation: designer-made Lofelt pairs (transient F-measure, envelope correlation,
# split into the tune half and the held-out half), music (share of transients on onset-derived
# beats) and generation speed. Usage: bench/haptics/run.sh [--json]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="${ENCORE_SHARED_DATA:-$root/../shared/data}"
if [ ! -d "$data/haptics/lofelt-pairs" ]; then
  echo "SKIP bench/haptics: $data/haptics/lofelt-pairs not found" >&2
  exit 0
fi
cargo build --release -q -p encore-cli --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/encore"
exec "$bin" haptics eval "$data/haptics/lofelt-pairs" --music "$data/audio" "$@"
