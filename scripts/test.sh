#!/usr/bin/env bash
# Runs every check and test Encore has. Installs what it needs first.
# Tests that need ../shared/data run when it is there and print SKIP otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
# A target directory outside the clone, so repeated runs reuse the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/encore/target}"
export CARGO_TERM_COLOR=never

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
# Without pipefail here, a failing test run still reaches the summary and the browser tests;
# its status is kept and returned at the end.
set +o pipefail
cargo test --workspace --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/encore-test.log"
status=${PIPESTATUS[0]}
set -o pipefail
passed=$(grep -Eo '[0-9]+ passed' "${TMPDIR:-/tmp}/encore-test.log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "${TMPDIR:-/tmp}/encore-test.log" | awk '{s+=$1} END {print s+0}')
echo "$passed passed, $failed failed"

# The web app in a real browser: Debian's chromium, headless, driven by playwright-core,
# against the debug `encore` binary the cargo tests just built.
echo "== browser tests (tests/browser)"
export ENCORE_ARTIFACTS="${ENCORE_ARTIFACTS:-$CARGO_TARGET_DIR/browser-artifacts}"
browser_status=0
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && npm test) || browser_status=$?
echo "browser screenshots: $ENCORE_ARTIFACTS"
[ "$status" -ne 0 ] && exit "$status"
exit "$browser_status"
