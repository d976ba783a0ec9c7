#!/usr/bin/env bash
# Builds Encore and starts the platform with embedded defaults: SQLite and local files under
# ./encore-data, the HTTP API on http://127.0.0.1:8080 (override with ENCORE_DATA / ENCORE_LISTEN).
# With ENCORE_ADMIN_EMAIL and ENCORE_ADMIN_PASSWORD set, it first creates that admin account.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release -p encore-cli
bin="${CARGO_TARGET_DIR:-target}/release/encore"
data="${ENCORE_DATA:-./encore-data}"
if [ -n "${ENCORE_ADMIN_EMAIL:-}" ] && [ -n "${ENCORE_ADMIN_PASSWORD:-}" ]; then
  "$bin" admin create --email "$ENCORE_ADMIN_EMAIL" --data "$data" || true
fi
exec "$bin" serve --data "$data" --listen "${ENCORE_LISTEN:-127.0.0.1:8080}"
