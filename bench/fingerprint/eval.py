#!/usr/bin/env python3
"""Builds distorted queries and scores `encore fingerprint query` (see run.sh for the knobs)."""
import array
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path

OUT = Path(os.environ["OUT"])
ENCORE = os.environ["ENCORE_BIN"]
FILL = os.environ["FILL_BIN"]
SHARED = Path(os.environ.get("SHARED_AUDIO", ""))
QUERIES = int(os.environ.get("QUERIES", "30"))
FILL_HOURS = float(os.environ.get("FILL_HOURS", "100"))
RNG = random.Random(int(os.environ.get("SEED", "2026")))
RATE = 16000

DISTORTIONS = {
    "clean": [],
    "white_10db": ["noise", "whitenoise", 10],
    "white_0db": ["noise", "whitenoise", 0],
    "pink_10db": ["noise", "pinknoise", 10],
    "pink_0db": ["noise", "pinknoise", 0],
    "mp3_64k": ["mp3"],
    "bandpass_300_3400": ["sox", "sinc", "300-3400"],
    "speed_+3%": ["sox", "speed", "1.03"],
    "speed_-3%": ["sox", "speed", "0.97"],
    "pitch_+1st": ["sox", "pitch", "100"],
    "pitch_-1st": ["sox", "pitch", "-100"],
    "tempo_+5%": ["sox", "tempo", "1.05"],
    "tempo_-5%": ["sox", "tempo", "0.95"],
    "echo": ["sox", "echo", "0.8", "0.7", "90", "0.4", "250", "0.3"],
}
LENGTHS = [5, 10]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def duration(path):
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True).stdout)


def read16(path):
    with wave.open(str(path)) as w:
        a = array.array("h")
        a.frombytes(w.readframes(w.getnframes()))
    return a


def write16(path, a):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(a.tobytes())


def mix_noise(base, out, kind, snr_db, length):
    noise_path = out.with_suffix(".noise.wav")
    run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(noise_path), "synth", str(length), kind, "vol", "0.5"])
    x, n = read16(base), read16(noise_path)
    n = n[: len(x)]
    px = sum(v * v for v in x) / max(1, len(x))
    pn = sum(v * v for v in n) / max(1, len(n))
    g = (px / max(pn, 1e-9) / 10 ** (snr_db / 10)) ** 0.5 if px > 0 else 0
    y = array.array("h", (max(-32768, min(32767, int(a + g * b))) for a, b in zip(x, n)))
    write16(out, y)
    noise_path.unlink()


REPORT_ONLY = os.environ.get("REPORT_ONLY") == "1"


def make_query(src, offset, length, name, spec, qdir):
    base = qdir / f"{name}.base.wav"
    if REPORT_ONLY:  # same names as below, nothing rebuilt: re-reads an earlier query run
        return base if not spec else qdir / (f"{name}.mp3" if spec[0] == "mp3" else f"{name}.wav")
    run(["sox", str(src), "-r", str(RATE), "-c", "1", "-b", "16", str(base), "trim", f"{offset:.3f}", str(length)])
    if not spec:
        return base
    if spec[0] == "noise":
        out = qdir / f"{name}.wav"
        mix_noise(base, out, spec[1], spec[2], length)
    elif spec[0] == "mp3":
        out = qdir / f"{name}.mp3"
        run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(base), "-b:a", "64k", str(out)])
    else:
        out = qdir / f"{name}.wav"
        run(["sox", str(base), str(out)] + spec[1:] + ["rate", str(RATE)])
    base.unlink()
    return out


CPU = {}


def timed(cmd, log):
    """Runs cmd on one core; returns (wall seconds, peak RSS in MB of the child) and records
    the child's CPU seconds in CPU[log] (on a shared machine wall time includes waiting)."""
    cmd = (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    with open(log, "w") as f:
        run(cmd, stdout=f)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[str(log)] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, max(before.ru_maxrss, after.ru_maxrss) / 1024


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")


def calibrate(idx, neg_dir):
    """Negative queries (never reported on) against the index with thresholds of 1: prints the
    distribution of the best false pair and triplet votes, to set the thresholds."""
    qdir = OUT / "calibration"
    shutil.rmtree(qdir, ignore_errors=True)
    qdir.mkdir()
    negs = sorted(neg_dir.glob("*.wav"))
    files = []
    k = 0
    for dname in ["clean", "white_0db", "pink_10db", "speed_+3%", "tempo_-5%", "pitch_+1st"]:
        for length in LENGTHS:
            for n in negs:
                offset = RNG.uniform(0, duration(n) - length - 1)
                files.append(str(make_query(n, offset, length, f"c{k:05d}", DISTORTIONS[dname], qdir)))
                k += 1
    res = subprocess.run([ENCORE, "fingerprint", "query", "--db", str(idx), "--json", "--pair-threshold", "1",
                          "--triplet-threshold", "1", "--max-results", "50"] + files, capture_output=True, text=True, check=True)
    # Votes: consistent landmarks; support: the same with at most max_votes_per_second from one
    # second of the query, which is what must reach the threshold.
    best = {(method, kind): [] for method in ("pairs", "triplets") for kind in ("votes", "support")}
    for line in res.stdout.splitlines():
        r = json.loads(line)
        for (method, kind), v in best.items():
            v.append(max((m[kind] for m in r["matches"] if m["method"] == method), default=0))
    for (method, kind), v in best.items():
        v.sort()
        print(method, kind, "queries", len(v), "max", v[-1], "p99", pct(v, 0.99), "p95", pct(v, 0.95), "median", pct(v, 0.5))


def main():
    refs = sorted((OUT / "refs").glob("*.wav"))
    if SHARED.is_dir():
        refs += sorted(SHARED.glob("*.ogg"))
    negs = sorted((OUT / "neg").glob("*.wav"))
    durs = {r: duration(r) for r in refs + negs}
    ref_hours = sum(durs[r] for r in refs) / 3600
    idx = OUT / "index"
    stats = OUT / "index-stats.json"
    reuse = os.environ.get("REUSE") == "1" and stats.exists()
    if reuse:
        index_wall, rss_index, size_refs, index_cpu = json.loads(stats.read_text())
    else:
        shutil.rmtree(idx, ignore_errors=True)
        index_wall, rss_index = timed([ENCORE, "fingerprint", "index", "--db", str(idx), "--batch", "64"] + [str(r) for r in refs], OUT / "index.log")
        size_refs = (idx / "postings.redb").stat().st_size
        index_cpu = CPU[str(OUT / "index.log")]
    print(f"indexed {len(refs)} files, {ref_hours:.2f} h in {index_wall:.1f} s: {ref_hours * 3600 / index_wall:.0f}x real time, "
          f"{size_refs / 1e6 / ref_hours:.2f} MB/h, peak {rss_index:.0f} MB", flush=True)
    # The catalogue: distinct rendered filler music (never queried, other seeds) indexed like
    # any upload, then postings-level filler derived from it up to FILL_HOURS.
    fillers = sorted((OUT / "filler").glob("*/*.wav"))
    filler_hours = sum(duration(f) for f in fillers) / 3600 if fillers else 0.0
    filler_stats = OUT / "filler-stats.json"
    if fillers and not reuse:
        fw, frss = timed([ENCORE, "fingerprint", "index", "--db", str(idx), "--batch", "64"] + [str(f) for f in fillers], OUT / "index-filler.log")
        fcpu = CPU[str(OUT / "index-filler.log")]
        filler_stats.write_text(json.dumps([fw, frss, fcpu, filler_hours, (idx / "postings.redb").stat().st_size]))
        print(f"indexed {len(fillers)} filler files, {filler_hours:.2f} h: {fcpu:.1f} s CPU", flush=True)
    if FILL_HOURS > ref_hours + filler_hours and not reuse:
        sources = [str(f) for f in fillers] or [str(r) for r in refs if r.parent.name == "refs"][:20]
        t = time.monotonic()
        timed([FILL, str(idx), str(FILL_HOURS)] + sources, OUT / "fill.log")
        print(f"filled index to {FILL_HOURS} h in {time.monotonic() - t:.0f} s, {CPU[str(OUT / 'fill.log')]:.1f} s CPU", flush=True)
    stats.write_text(json.dumps([index_wall, rss_index, size_refs, index_cpu]))
    size_total = (idx / "postings.redb").stat().st_size
    total_hours = max(FILL_HOURS, ref_hours)

    cal = os.environ.get("CALIBRATE_NEG")
    if cal:
        calibrate(idx, Path(cal))
        return
    qdir = OUT / "queries"
    if not REPORT_ONLY:
        shutil.rmtree(qdir, ignore_errors=True)
        qdir.mkdir()
    truth = {}
    usable = [r for r in refs if durs[r] >= 15]
    sample = RNG.sample(usable, min(QUERIES, len(usable)))
    k = 0
    for dname, spec in DISTORTIONS.items():
        for length in LENGTHS:
            for src, positive in [(s, True) for s in sample] + [(n, False) for n in negs]:
                offset = RNG.uniform(0, durs[src] - length - 1)
                q = make_query(src, offset, length, f"q{k:05d}", spec, qdir)
                truth[str(q)] = (dname, length, str(src), offset, positive)
                k += 1
    print(f"built {len(truth)} queries", flush=True)
    files = list(truth)
    flags = os.environ.get("QUERY_FLAGS", "").split()
    if REPORT_ONLY:
        wall, rss_query = json.loads((OUT / "query-stats.json").read_text())
    else:
        wall, rss_query = timed([ENCORE, "fingerprint", "query", "--db", str(idx), "--json"] + flags + files, OUT / "query.jsonl")
        (OUT / "query-stats.json").write_text(json.dumps([wall, rss_query]))
    rows = {}
    misses = []
    for line in open(OUT / "query.jsonl"):
        r = json.loads(line)
        dname, length, src, offset, positive = truth[r["query"]]
        row = rows.setdefault((dname, length), {"tp": 0, "pos": 0, "fp": 0, "neg": 0, "ms": []})
        row["ms"].append(r["elapsed_ms"])
        top = r["matches"][0] if r["matches"] else None
        if positive:
            row["pos"] += 1
            if top and top["path"] == src and abs(top["offset_s"] - offset) <= 1.0:
                row["tp"] += 1
            else:
                misses.append((dname, length, Path(src).name, round(offset, 2), top and Path(top["path"]).name, top and round(top["offset_s"], 2), r.get("status")))
        else:
            row["neg"] += 1
            row["fp"] += 1 if top else 0
    report = OUT / "report.md"
    with open(report, "w") as f:
        f.write(f"machine: {os.cpu_count()} cores; date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n")
        f.write(f"- reference audio: {len(refs)} files, {ref_hours:.2f} h; index grown to {total_hours:.0f} h with filler\n")
        if filler_stats.exists():
            fw, frss, fcpu, fh, fsize = json.loads(filler_stats.read_text())
            f.write(f"- distinct rendered filler music indexed like uploads: {fh:.2f} h in {fcpu:.1f} s CPU = {fh * 3600 / max(fcpu, 1e-9):.0f}x real time per CPU second "
                    f"({fw:.1f} s wall), peak {frss:.0f} MB; index then {fsize / 1e6:.0f} MB = {fsize / 1e6 / (fh + ref_hours):.2f} MB/h\n")
        f.write(f"- indexing (decode + fingerprint + store, pinned to one core): {index_wall:.1f} s wall = {ref_hours * 3600 / index_wall:.0f}x real time; "
                f"{index_cpu:.1f} s CPU = {ref_hours * 3600 / max(index_cpu, 1e-9):.0f}x real time per CPU second\n")
        f.write(f"- index size: {size_refs / 1e6 / ref_hours:.2f} MB per hour (references only); {size_total / 1e6:.0f} MB at {total_hours:.0f} h ({size_total / 1e6 / total_hours:.2f} MB/h)\n")
        f.write(f"- peak memory: indexing {rss_index:.0f} MB, querying {rss_query:.0f} MB\n")
        f.write(f"- {len(files)} queries in one process: {wall:.1f} s wall\n\n")
        f.write("| distortion | length | TPR | FPR | median ms | p95 ms | positives | negatives |\n|---|---|---|---|---|---|---|---|\n")
        for (dname, length), row in rows.items():
            tpr = row["tp"] / max(1, row["pos"])
            fpr = row["fp"] / max(1, row["neg"])
            f.write(f"| {dname} | {length} s | {tpr:.3f} | {fpr:.3f} | {statistics.median(row['ms']):.1f} | {pct(row['ms'], 0.95):.1f} | {row['pos']} | {row['neg']} |\n")
        f.write("\nMisses (distortion, length, work, true offset, top match, its offset, status):\n\n")
        for m in misses:
            f.write(f"- {m}\n")
    print(report.read_text())


if __name__ == "__main__":
    sys.exit(main())
