"""Generates audio with exact beat times for the `encore analyze` benchmark.

For each piece it writes NAME.wav (44.1 kHz stereo, 16-bit) and NAME.json with the true beat
times, downbeat times and tempo. Two kinds of material:

- click tracks: a pitched click per beat (accented, higher click on the downbeat) over noise,
  at a constant tempo or with a tempo change (a step or a ramp);
- MIDI pieces (drums, bass, piano chords) written with pretty_midi and rendered by fluidsynth
  with the General MIDI sound font, constant tempo or with a tempo change.

Use a different --seed for development (tuning) and for the reported figures.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pretty_midi

SR = 44100
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def beat_grid(rng, duration, kind):
    """Beat times for a constant tempo, a step change or a ramp."""
    t0 = rng.uniform(0.3, 1.5)
    if kind == "constant":
        bpm = rng.uniform(60, 180)
        period = lambda t: 60.0 / bpm
        label = bpm
    elif kind == "step":
        a = rng.uniform(70, 150)
        b = a * rng.choice([0.8, 1.25, 0.85, 1.2])
        change = duration * rng.uniform(0.35, 0.65)
        period = lambda t: 60.0 / (a if t < change else b)
        label = None
    else:  # ramp
        a = rng.uniform(80, 140)
        b = a * rng.uniform(0.75, 1.3)
        period = lambda t: 60.0 / (a + (b - a) * min(t / duration, 1.0))
        label = None
    beats = []
    t = t0
    while t < duration - 0.5:
        beats.append(t)
        t += period(t)
    return np.array(beats), label


def click_track(rng, duration, kind, meter):
    beats, tempo = beat_grid(rng, duration, kind)
    n = int(duration * SR)
    y = rng.normal(0, 10 ** (rng.uniform(-50, -30) / 20), n)
    click_len = int(0.03 * SR)
    env = np.exp(-np.arange(click_len) / (0.005 * SR))
    for i, b in enumerate(beats):
        down = i % meter == 0
        f = 1760.0 if down else 880.0
        amp = 0.5 if down else 0.3
        s = int(round(b * SR))
        seg = amp * env * np.sin(2 * np.pi * f * np.arange(click_len) / SR)
        y[s : s + click_len] += seg[: max(0, min(click_len, n - s))]
    stereo = np.stack([y, y], axis=1)
    return stereo, beats, beats[::meter], tempo


def midi_piece(rng, duration, kind, meter, path_mid):
    beats, tempo = beat_grid(rng, duration, kind)
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo or 120.0)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    bass = pretty_midi.Instrument(program=int(rng.choice([32, 33, 34, 38])))
    keys = pretty_midi.Instrument(program=int(rng.choice([0, 4, 16, 24, 48])))
    root = int(rng.integers(36, 48))
    progression = [0, 5, 7, 3, 8, 10]
    chord_root = root
    style = rng.integers(0, 3)
    for i, b in enumerate(beats):
        nxt = beats[i + 1] if i + 1 < len(beats) else b + (b - beats[i - 1])
        dur = nxt - b
        bar_pos = i % meter
        vel = lambda base: int(np.clip(base + rng.normal(0, 6), 30, 127))
        if bar_pos == 0:
            chord_root = root + int(rng.choice(progression))
            drums.notes.append(pretty_midi.Note(vel(110), 36, b, b + 0.1))
            drums.notes.append(pretty_midi.Note(vel(90), 49 if i % (meter * 4) == 0 else 42, b, b + 0.1))
            for iv in (12, 16, 19):
                keys.notes.append(pretty_midi.Note(vel(70), chord_root + iv, b, b + dur * meter * 0.95))
        elif style == 0 and bar_pos == meter // 2 or style != 0 and bar_pos % 2 == 1:
            drums.notes.append(pretty_midi.Note(vel(100), 38, b, b + 0.1))
        else:
            drums.notes.append(pretty_midi.Note(vel(85), 36 if style == 2 else 42, b, b + 0.1))
        # Off-beat hi-hats and bass notes make the material less trivial than clicks.
        drums.notes.append(pretty_midi.Note(vel(60), 42, b + dur / 2, b + dur / 2 + 0.05))
        bass.notes.append(pretty_midi.Note(vel(90), chord_root, b, b + dur * 0.8))
        if rng.random() < 0.3:
            bass.notes.append(pretty_midi.Note(vel(70), chord_root + 7, b + dur * 0.5, b + dur * 0.9))
    pm.instruments += [drums, bass, keys]
    pm.write(path_mid)
    return beats, beats[::meter], tempo


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--clicks", type=int, default=8)
    ap.add_argument("--midi", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    kinds = ["constant", "constant", "constant", "step", "ramp"]
    import wave

    for i in range(args.clicks):
        kind = kinds[i % len(kinds)]
        meter = int(rng.choice([3, 4, 4]))
        y, beats, downs, tempo = click_track(rng, args.duration, kind, meter)
        name = f"click-{i:02d}-{kind}"
        pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
        with wave.open(os.path.join(args.out, name + ".wav"), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(pcm.tobytes())
        write_truth(args.out, name, beats, downs, tempo, kind, meter)
    for i in range(args.midi):
        kind = kinds[i % len(kinds)]
        meter = int(rng.choice([3, 4, 4]))
        name = f"midi-{i:02d}-{kind}"
        mid = os.path.join(args.out, name + ".mid")
        beats, downs, tempo = midi_piece(rng, args.duration, kind, meter, mid)
        wav = os.path.join(args.out, name + ".wav")
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-F", wav, SF2, mid],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        write_truth(args.out, name, beats, downs, tempo, kind, meter)
    print(f"wrote {args.clicks + args.midi} pieces to {args.out}", file=sys.stderr)


def write_truth(out, name, beats, downs, tempo, kind, meter):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(
            {
                "beats_s": [float(b) for b in beats],
                "downbeats_s": [float(b) for b in downs],
                "tempo_bpm": tempo,
                "kind": kind,
                "meter": meter,
            },
            f,
        )


if __name__ == "__main__":
    main()
