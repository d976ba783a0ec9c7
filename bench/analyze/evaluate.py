"""Runs `encore analyze` and librosa's beat tracker on the same files and prints a table.

Beat F-measure: mir_eval.beat.f_measure (70 ms window; like mir_eval, beats in the first 5 s
are ignored). Tempo: share of constant-tempo pieces whose estimate is within 4 % of the truth
(and, in brackets, allowing a factor 2 or 1/2, 3 or 1/3). Speed: seconds of audio per second
of wall time and per CPU second, both pinned to one core by the caller (taskset). In the table,
encore is timed per process, start-up included; librosa per call in a warm process (load with
its default resampling + beat_track), the first call (JIT compilation) excluded. A last line
times `encore analyze DIR` on the whole folder in one process, which pays start-up once, as
librosa's warm process does.
"""

import glob
import json
import os
import resource
import subprocess
import sys
import time

import librosa
import mir_eval
import numpy as np


def tempo_ok(est, truth, octaves):
    if est is None or truth is None:
        return False
    factors = [1.0, 2.0, 0.5, 3.0, 1 / 3.0] if octaves else [1.0]
    return any(abs(est - truth * f) <= 0.04 * truth * f for f in factors)


def main():
    data, encore = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(data, "*.wav")))
    rows = {"encore": [], "librosa": []}
    # Warm-up: numba compiles librosa's tracker on its first call.
    y, sr = librosa.load(files[0])
    librosa.beat.beat_track(y=y, sr=sr)
    for path in files:
        truth = json.load(open(path[:-4] + ".json"))
        ref = np.array(truth["beats_s"])
        dur = librosa.get_duration(path=path)

        t = time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([encore, "analyze", path, "--json"], check=True, capture_output=True)
        enc_wall = time.perf_counter() - t
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        enc_cpu = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
        res = json.loads(out.stdout)
        est = np.array(res["beats_s"])
        rows["encore"].append(
            (path, truth, mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est)),
             res["tempo_bpm"], dur, enc_wall, res.get("downbeats_s", []), enc_cpu)
        )

        t = time.perf_counter()
        c = time.process_time()
        y, sr = librosa.load(path)
        tempo, frames = librosa.beat.beat_track(y=y, sr=sr)
        lib_wall = time.perf_counter() - t
        lib_cpu = time.process_time() - c
        est = librosa.frames_to_time(frames, sr=sr)
        rows["librosa"].append(
            (path, truth, mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est)),
             float(np.atleast_1d(tempo)[0]), dur, lib_wall, [], lib_cpu)
        )

    def summary(rs, subset):
        rs = [r for r in rs if subset(r[1])]
        if not rs:
            return None
        f = np.mean([r[2] for r in rs])
        const = [r for r in rs if r[1]["tempo_bpm"] is not None]
        acc1 = np.mean([tempo_ok(r[3], r[1]["tempo_bpm"], False) for r in const]) if const else float("nan")
        acc2 = np.mean([tempo_ok(r[3], r[1]["tempo_bpm"], True) for r in const]) if const else float("nan")
        speed = sum(r[4] for r in rs) / sum(r[5] for r in rs)
        cpu_speed = sum(r[4] for r in rs) / sum(r[7] for r in rs)
        return len(rs), f, acc1, acc2, speed, cpu_speed

    subsets = [
        ("all", lambda t: True),
        ("click tracks", lambda t: True),
        ("MIDI (fluidsynth)", lambda t: True),
        ("tempo changes", lambda t: t["kind"] != "constant"),
    ]
    name_filter = {"click tracks": "click-", "MIDI (fluidsynth)": "midi-"}
    print("| set | files | tool | beat F (70 ms) | tempo acc (4 %) [octave errors allowed] | speed (s audio / s wall) | speed (s audio / CPU s) |")
    print("|---|---|---|---|---|---|---|")
    for label, subset in subsets:
        for tool in ("encore", "librosa"):
            rs = rows[tool]
            if label in name_filter:
                rs = [r for r in rs if os.path.basename(r[0]).startswith(name_filter[label])]
            s = summary(rs, subset)
            if s is None:
                continue
            n, f, a1, a2, sp, cs = s
            acc = "n/a (tempo changes)" if np.isnan(a1) else f"{a1:.2f} [{a2:.2f}]"
            print(f"| {label} | {n} | {tool} | {f:.3f} | {acc} | {sp:.0f} | {cs:.0f} |")
    # The same files in one process (`encore analyze DIR`), the way librosa is timed (a warm
    # process): start-up is paid once instead of once per file.
    t = time.perf_counter()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([encore, "analyze", data], check=True, capture_output=True)
    dir_wall = time.perf_counter() - t
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    dir_cpu = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
    analysed = len(out.stdout.splitlines())
    total = sum(r[4] for r in rows["encore"])
    lib_cpu_speed = total / sum(r[7] for r in rows["librosa"])
    enc_cpu_speed = total / sum(r[7] for r in rows["encore"])
    print(f"\nencore per process vs librosa, per CPU second: {enc_cpu_speed / lib_cpu_speed:.2f}x")
    print(f"encore analyze DIR (one process, {analysed} files): {total / dir_wall:.0f} s audio / s wall, "
          f"{total / dir_cpu:.0f} / CPU s, {total / dir_cpu / lib_cpu_speed:.2f}x librosa per CPU second")
    # Downbeats (encore only): F-measure of downbeats with the same window.
    fd = [mir_eval.beat.f_measure(np.array(r[1]["downbeats_s"]), np.array(r[6])) for r in rows["encore"]]
    print(f"encore downbeat F-measure (70 ms, all files): {np.mean(fd):.3f}")
    if os.environ.get("VERBOSE"):
        for (p, _, fe, te, *_), (_, tr, fl, tl, *_) in zip(rows["encore"], rows["librosa"]):
            print(f"{os.path.basename(p):28s} truth {tr['tempo_bpm'] or 0:6.1f}  encore F {fe:.3f} {te or 0:6.1f}  librosa F {fl:.3f} {tl:6.1f}")


if __name__ == "__main__":
    main()
