#!/usr/bin/env bash
# Installs what Encore's build and tests need on Debian: system packages (apt) and the Rust
# components. Safe to run again: it only installs what is missing.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config cmake libopus-dev   # native parts of the audio decoders
  ffmpeg sox libsox-fmt-all opus-tools            # test fixtures in every format, transcoding
  espeak-ng fluidsynth fluid-soundfont-gm         # synthetic speech and music with known timing
  golang-go golang-golang-x-mod-dev               # independent verifier for the rights registry
  openssl sqlite3 python3                         # RFC 3161 timestamps, database fixtures, tools
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "installing Rust with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
