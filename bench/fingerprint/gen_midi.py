#!/usr/bin/env python3
"""Writes random multi-track MIDI pieces (standard library only) for fingerprint evaluation.

usage: gen_midi.py OUT_DIR COUNT SEED [MIN_S MAX_S]

Writes OUT_DIR/all-SEED.mid holding every piece one after the other, and prints
`NAME<TAB>START_S<TAB>DURATION_S` per piece (the renderer cuts the rendering there).

Each piece has its own tempo, key, chord progression, General MIDI instruments (melody,
chords, bass), drum kit, 16-step drum and bass patterns, swing, mix (volume, pan, reverb) and
is played "by a person": every note gets its own velocity and a few milliseconds of timing
jitter. So two rendered pieces never share identical audio, and a repeated section is not a
bit-exact copy of itself, as in recorded music. (Until 2026-11-24 pieces drew drum patterns and
kits from a handful of choices and were quantised, so different pieces shared seconds of
identical drum audio: a fingerprint rightly found those, and they counted as false positives.)
"""
import random
import struct
import sys
from pathlib import Path


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def track(events):
    """events: list of (tick, bytes); returns an MTrk chunk."""
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    data = bytearray()
    last = 0
    for tick, msg in events:
        data += vlq(tick - last) + msg
        last = tick
    data += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + bytes(data)


TPQ = 480
GAP_BEATS = 4


def piece(rng, seconds, start=0, ev=None):
    """Adds one piece's events from tick `start` to `ev` (channel -> events); returns
    (events, end tick, seconds)."""
    tpq = TPQ
    bpm = rng.uniform(70, 160)
    beats = int(seconds * bpm / 60) + 1
    key = rng.randrange(48, 60)
    scale = rng.choice([[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 2, 4, 7, 9, 12, 14]])
    progression = [rng.randrange(7) for _ in range(rng.choice([2, 4, 4, 8]))]
    melody_prog, chord_prog, bass_prog = rng.randrange(0, 80), rng.randrange(0, 96), rng.choice([32, 33, 34, 35, 38, 39, 43])
    tempo = int(60_000_000 / bpm)
    if ev is None:
        ev = {0: [], 1: [], 2: [], 9: []}
    origin = start
    ev[0].append((origin, b"\xff\x51\x03" + tempo.to_bytes(3, "big")))
    for ch, prog in ((0, melody_prog), (1, chord_prog), (2, bass_prog)):
        ev[ch].append((origin, bytes([0xC0 | ch, prog])))
    piece_events = {ch: [] for ch in ev}

    def note(ch, start, dur, pitch, vel):
        pitch = max(0, min(127, pitch))
        piece_events[ch].append((origin + start, bytes([0x90 | ch, pitch, vel])))
        piece_events[ch].append((origin + start + dur, bytes([0x80 | ch, pitch, 0])))

    kit = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 24, 25, 32, 33, 40, 41, 48])
    ev[9].append((origin, bytes([0xC9, kit])))
    for ch in (0, 1, 2, 9):
        for cc, lo, hi in ((7, 70, 120), (10, 24, 104), (91, 0, 90), (93, 0, 60)):
            ev[ch].append((origin, bytes([0xB0 | ch, cc, rng.randrange(lo, hi)])))
    # Drums: per piece a kick, snare, hat and a percussion voice, each with its own 16-step
    # probabilities; a few bars of the pattern are regenerated as fills.
    kick = rng.choice([35, 36])
    snare = rng.choice([37, 38, 39, 40])
    hat = rng.choice([42, 44, 46, 51, 53, 59, 69, 70, 82])
    perc = rng.choice([None, 54, 56, 60, 61, 62, 63, 64, 75, 76, 77])
    p_kick = [0.95 if e == 0 else rng.choice([0.0, 0.0, 0.2, 0.6, 0.9]) for e in range(16)]
    p_snare = [rng.choice([0.0, 0.0, 0.0, 0.15, 0.8]) if e % 8 != 4 else 0.95 for e in range(16)]
    hat_every = rng.choice([1, 2, 2, 4])
    p_perc = [rng.choice([0.0, 0.0, 0.3, 0.7]) for _ in range(16)]
    swing = rng.uniform(0.0, 0.2) * rng.choice([0, 1])
    groove = [rng.random() for _ in range(16)]

    def drum_pattern(fill):
        hits = []
        for e in range(16):
            r = rng.random() if fill else groove[e]
            if r < p_kick[e]:
                hits.append((e, kick, rng.randrange(85, 127)))
            if r < p_snare[e] or (fill and e >= 12 and rng.random() < 0.5):
                hits.append((e, snare, rng.randrange(70, 120)))
            if e % hat_every == 0:
                hits.append((e, hat, rng.randrange(35, 95)))
            if perc is not None and rng.random() < p_perc[e]:
                hits.append((e, perc, rng.randrange(40, 100)))
        return hits

    bass_steps = [s for s in range(8) if s == 0 or rng.random() < 0.5]
    bass_steps_intervals = [rng.choice([0, 0, 0, 7, 12, 5]) for _ in range(8)]
    jitter = rng.uniform(4, 14)  # ticks of timing spread (about 3-12 ms)

    def human(t):
        return max(0, int(t + rng.gauss(0, jitter)))

    for bar in range(beats // 4 + 1):
        degree = progression[bar % len(progression)]
        root = key + scale[degree % len(scale)]
        start = bar * 4 * tpq
        for k in (0, 2, 4):
            note(1, human(start), 4 * tpq - 10, root + 12 + scale[(degree + k) % len(scale)] - scale[degree % len(scale)], rng.randrange(45, 85))
        for i, step in enumerate(bass_steps):
            nxt = bass_steps[i + 1] if i + 1 < len(bass_steps) else 8
            note(2, human(start + step * tpq // 2), (nxt - step) * tpq // 2 - 20, root - 12 + bass_steps_intervals[step], rng.randrange(65, 110))
        t = start
        while t < start + 4 * tpq:
            dur = rng.choice([tpq // 2, tpq // 2, tpq, tpq, tpq * 2, tpq // 4])
            if rng.random() < 0.85:
                pitch = key + 12 + rng.choice(scale) + 12 * rng.choice([0, 0, 1])
                note(0, human(t), dur - 10, pitch, rng.randrange(60, 120))
            t += dur
        fill = bar % 8 == 7 and rng.random() < 0.6
        for e, drum, vel in drum_pattern(fill):
            tt = start + e * tpq // 4 + (int(swing * tpq / 4) if e % 2 == 1 else 0)
            note(9, human(tt), 60, drum, vel)
    end = origin + beats * tpq
    for ch in ev:
        ev[ch] += [e for e in piece_events[ch] if e[0] <= end]
        # Silence every voice: the note-offs after the end were dropped.
        ev[ch].append((end, bytes([0xB0 | ch, 123, 0])))
    return ev, end + GAP_BEATS * tpq, (beats + GAP_BEATS) * 60.0 / bpm


def write_midi(path, ev):
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(ev), TPQ)
    path.write_bytes(header + b"".join(track(ev[ch]) for ch in sorted(ev)))


def main():
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    lo = float(sys.argv[4]) if len(sys.argv) > 4 else 60
    hi = float(sys.argv[5]) if len(sys.argv) > 5 else 240
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    # All pieces in one MIDI file, one after the other (one fluidsynth start for all);
    # prints NAME<TAB>START_S<TAB>DURATION_S per piece for the renderer to cut.
    ev, tick, at = None, 0, 0.0
    for i in range(count):
        ev, tick, seconds = piece(rng, rng.uniform(lo, hi), tick, ev)
        print(f"piece-{seed}-{i:05d}\t{at:.4f}\t{seconds - GAP_BEATS * 0:.4f}")
        at += seconds
    write_midi(out / f"all-{seed}.mid", ev)


if __name__ == "__main__":
    main()
