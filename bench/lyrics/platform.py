#!/usr/bin/env python3
"""The platform's lyric alignment end to end, scored like `encore lyrics eval`.

Starts `encore serve` on a fresh data folder, signs up a creator, uploads every song of a
JamendoLyrics-layout folder through the HTTP API (as the studio does: audio, language, and the
lyrics as line-timed LRC for refine mode or plain text for full mode), waits for the lyrics
step, fetches the aligned lyrics and scores the word onsets against the reference: mean
absolute error (AAE), median, share within 0.3 s and 1 s, per song and averaged over songs.

    python3 bench/lyrics/platform.py [DIR] [--mode refine|full] [--lyrics-whisper auto|refine|on|off]
        [--encore PATH]

DIR defaults to ../shared/data/lyrics/jamendo-dev; --encore to the release build under
$CARGO_TARGET_DIR (or target/). Standard library only.
"""
import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LANGUAGES = {"english": "en", "french": "fr", "spanish": "es", "german": "de",
             "italian": "it", "portuguese": "pt", "chinese": "zh", "mandarin": "zh"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, base):
        self.base, self.cookie, self.csrf = base, None, None

    def call(self, method, path, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        if self.csrf and method != "GET":
            req.add_header("X-CSRF-Token", self.csrf)
        with urllib.request.urlopen(req, timeout=600) as r:
            for k, v in r.getheaders():
                if k.lower() == "set-cookie" and v.startswith("encore_session="):
                    self.cookie = v.split(";", 1)[0]
            return json.loads(r.read() or b"null")

    def upload(self, fields, audio):
        boundary = "encorebench7MA4YWxkTrZu0gW"
        body = b""
        for name, value in fields.items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                     f"{value}\r\n").encode()
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; "
                 f"filename=\"{audio.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        body += audio.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        return self.call("POST", "/api/works", body, f"multipart/form-data; boundary={boundary}")


def stamp(t):
    cs = round(t * 100)
    return f"{cs // 6000:02}:{(cs // 100) % 60:02}.{cs % 100:02}"


def songs(root):
    languages = {}
    meta = root / "JamendoLyrics.csv"
    if meta.exists():
        for row in csv.DictReader(meta.open(encoding="utf-8")):
            languages[Path(row["Filepath"]).stem] = LANGUAGES.get(row["Language"].lower())
    audio_dir = root / "mp3" if (root / "mp3").is_dir() else root / "audio"
    for audio in sorted(audio_dir.iterdir()):
        name = audio.stem
        yield name, audio, languages.get(name)


def lrc_of(root, name):
    """The reference line times as LRC, as `encore lyrics eval` gives refine mode."""
    out = []
    with (root / "annotations/lines" / f"{name}.csv").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            start, end, text = line.rstrip("\n").split(",", 2)
            out.append(f"[{stamp(float(start))}]{text.strip().strip(chr(34))}\n[{stamp(float(end))}]")
    return "\n".join(out) + "\n"


def metrics(predicted, reference):
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} aligned words against {len(reference)} reference words")
    err = sorted(abs(p - r) for p, r in zip(predicted, reference))
    return {"words": len(err), "aae_s": sum(err) / len(err), "median_s": statistics.median(err),
            "within_0_3": sum(e <= 0.3 for e in err) / len(err),
            "within_1_0": sum(e <= 1.0 for e in err) / len(err)}


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", default=str(here.parents[2] / "shared/data/lyrics/jamendo-dev"))
    ap.add_argument("--mode", choices=["refine", "full"], default="refine")
    ap.add_argument("--lyrics-whisper", choices=["auto", "refine", "on", "off"], default="auto")
    target = os.environ.get("CARGO_TARGET_DIR", str(here.parents[1] / "target"))
    ap.add_argument("--encore", default=str(Path(target) / "release/encore"))
    args = ap.parse_args()
    root = Path(args.dir)
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        server = subprocess.Popen(
            [args.encore, "serve", "--data", f"{work}/data", "--listen", f"127.0.0.1:{port}",
             "--workers", "1", "--lyrics-whisper", args.lyrics_whisper],
            stderr=open(f"{work}/server.log", "w"))
        try:
            c = Client(f"http://127.0.0.1:{port}")
            for _ in range(200):
                try:
                    c.call("GET", "/api/health")
                    break
                except OSError:
                    time.sleep(0.1)
            c.csrf = c.call("POST", "/api/auth/signup", {
                "email": "bench@example.org", "password": "a long benchmark password",
                "role": "creator", "name": "Bench"})["csrf_token"]
            works = {}
            for name, audio, lang in songs(root):
                text = (lrc_of(root, name) if args.mode == "refine"
                        else (root / "lyrics" / f"{name}.txt").read_text(encoding="utf-8"))
                fields = {"title": name, "artists": "Bench", "lyrics": text}
                if lang:
                    fields["language"] = lang
                works[name] = c.upload(fields, audio)["id"]
            results = []
            for name, wid in works.items():
                while True:
                    jobs = {j["step"]: j for j in c.call("GET", f"/api/works/{wid}/jobs")["jobs"]}
                    lyrics = jobs.get("lyrics", {})
                    if lyrics.get("status") in ("done", "failed"):
                        break
                    time.sleep(1)
                result = c.call("GET", f"/api/works/{wid}/analysis")["lyrics"]["result"]
                aligned = c.call("GET", f"/api/works/{wid}/lyrics")["aligned"]
                predicted = [w["start_s"] for line in aligned["lines"] for w in line["words"]]
                with (root / "annotations/words" / f"{name}.csv").open(encoding="utf-8") as f:
                    next(f)
                    reference = [float(l.split(",", 1)[0]) for l in f if l.strip()]
                m = metrics(predicted, reference)
                m.update(song=name, mode=result.get("mode"), model=result.get("model"),
                         whisper=result.get("whisper"), step_ms=lyrics.get("duration_ms"))
                results.append(m)
                print(json.dumps(m), flush=True)
            mean = {k: statistics.mean(r[k] for r in results)
                    for k in ("aae_s", "median_s", "within_0_3", "within_1_0")}
            mean["step_s"] = sum(r["step_ms"] or 0 for r in results) / 1000
            print(json.dumps({"MEAN": mean, "songs": len(results), "mode": args.mode,
                              "lyrics_whisper": args.lyrics_whisper}))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
