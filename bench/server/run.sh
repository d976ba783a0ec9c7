#!/usr/bin/env bash
# Load benchmark of `encore serve` on loopback with wrk (Debian package `wrk`).
#
#   bench/server/run.sh            # builds the release binary, runs catalogue and streaming loads
#   ENCORE_BIN=path/to/encore DURATION=10s CONNECTIONS=200 bench/server/run.sh
#
# Prints wrk's figures for: catalogue list (GET /api/works), one work (GET /api/works/ID),
# search (GET /api/search?q=...), and Range streaming of a 10 MB original (1 MiB ranges), plus
# the server's resident memory before and after. Goals (issue #6): >= 5000 catalogue req/s,
# p99 < 50 ms, >= 1 Gbit/s streaming at 200 connections, flat memory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${DURATION:-10s}"
conns="${CONNECTIONS:-200}"
threads="${THREADS:-2}"
port="${PORT:-18089}"
addr="127.0.0.1:$port"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
if [[ -z "${ENCORE_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -p encore-cli >&2)
  ENCORE_BIN="${CARGO_TARGET_DIR:-$root/target}/release/encore"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
mkdir -p "$work/music"
# 60 s of stereo noise-like tones at 44.1 kHz: about 10 MB of WAV.
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=220:duration=60" -f lavfi -i "sine=frequency=330:duration=60" \
  -filter_complex amerge=inputs=2 -ar 44100 "$work/music/bench.wav"
for i in $(seq 1 "${COPIES:-50}"); do cp "$work/music/bench.wav" "$work/music/bench-$i.wav"; done

ENCORE_ADMIN_PASSWORD="benchmark password" "$ENCORE_BIN" admin create --email bench@example.org --data "$data" >/dev/null
"$ENCORE_BIN" import "$work/music" --creator bench@example.org --data "$data" --json > "$work/import.jsonl" || true

"$ENCORE_BIN" serve --data "$data" --listen "$addr" --workers 2 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do curl -fs "http://$addr/api/health" >/dev/null && break; sleep 0.1; done

login="$(curl -fs -c "$work/cookies" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.org","password":"benchmark password"}' "http://$addr/api/auth/login")"
csrf="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["csrf_token"])' "$login")"
ids="$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    v = json.loads(l)
    if "work_id" in v: print(v["work_id"])' "$work/import.jsonl")"
# Wait for the pipeline, then publish everything.
for _ in $(seq 1 600); do
  # The smallest count of done jobs over every pipeline step.
  done_n="$(curl -fs -b "$work/cookies" "http://$addr/api/admin/jobs" | python3 -c 'import json,sys; v = json.load(sys.stdin); print(min((s.get("done", 0) for s in v.values()), default=0))')"
  [[ "$done_n" -ge "$(echo "$ids" | wc -l)" ]] && break
  sleep 1
done
for id in $ids; do
  curl -fs -b "$work/cookies" -H "X-CSRF-Token: $csrf" -X POST "http://$addr/api/works/$id/publish" >/dev/null
done
first="$(echo "$ids" | head -1)"

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$server_pid/status"; }
echo "machine: $(nproc) cores, $(date -u +%F)"
echo "server RSS before: $(rss)"
run() {
  echo
  echo "== $1"
  shift
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "$@" | grep -E 'Requests/sec|Transfer/sec|Latency|50%|99%|requests in|Non-2xx'
}
run "catalogue list: GET /api/works?per_page=20" "http://$addr/api/works?per_page=20"
run "one work: GET /api/works/ID" "http://$addr/api/works/$first"
run "search: GET /api/search?q=bench" "http://$addr/api/search?q=bench"
run "streaming: GET /api/works/ID/stream, Range: bytes=0-1048575" -H "Range: bytes=0-1048575" "http://$addr/api/works/$first/stream"
echo
echo "server RSS after: $(rss)"
