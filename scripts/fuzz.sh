#!/usr/bin/env bash
# Runs every cargo-fuzz target of every crate for a while (default 60 s each).
# Usage: scripts/fuzz.sh [SECONDS] [CRATE]
# cargo-fuzz needs nightly features; on a stable toolchain RUSTC_BOOTSTRAP=1 enables them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
only="${2:-}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for dir in crates/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  crate=$(basename "$(dirname "$dir")")
  [ -n "$only" ] && [ "$only" != "$crate" ] && continue
  for target in $(cargo fuzz list --fuzz-dir "$dir"); do
    echo "== $crate/$target for ${secs}s"
    cargo fuzz run --fuzz-dir "$dir" "$target" -- -max_total_time="$secs" -rss_limit_mb=2048
  done
done
