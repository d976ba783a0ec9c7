#!/usr/bin/env python3
"""Writes random multi-track MIDI pieces (standard library only) for fingerprint evaluation.

usage: gen_midi.py OUT_DIR COUNT SEED [MIN_S MAX_S]

Writes OUT_DIR/all-SEED.mid holding every piece one after the other, and prints
`NAME<TAB>START_S<TAB>DURATION_S` per piece (the renderer cuts the rendering there).

Each piece has its own tempo, key, chord progression, General MIDI instruments (melody,
chords, bass) and a drum pattern, so rendered pieces are distinct music, not variations.
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
    progression = [rng.randrange(7) for _ in range(4)]
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

    kick, snare, hat = 36, rng.choice([38, 40]), rng.choice([42, 44, 46])
    drum_pattern = [rng.random() < 0.5 for _ in range(8)]
    for bar in range(beats // 4 + 1):
        degree = progression[bar % 4]
        root = key + scale[degree % len(scale)]
        start = bar * 4 * tpq
        for k in (0, 2, 4):
            note(1, start, 4 * tpq - 10, root + 12 + scale[(degree + k) % len(scale)] - scale[degree % len(scale)], rng.randrange(50, 80))
        for b in range(4):
            note(2, start + b * tpq, tpq - 20, root - 12, rng.randrange(70, 100))
        t = start
        while t < start + 4 * tpq:
            dur = rng.choice([tpq // 2, tpq // 2, tpq, tpq, tpq * 2, tpq // 4])
            if rng.random() < 0.85:
                pitch = key + 12 + rng.choice(scale) + 12 * rng.choice([0, 0, 1])
                note(0, t, dur - 10, pitch, rng.randrange(70, 115))
            t += dur
        for e in range(8):
            tt = start + e * tpq // 2
            note(9, tt, 60, hat, rng.randrange(40, 80))
            if e % 4 == 0 or (drum_pattern[e] and e % 2 == 1):
                note(9, tt, 60, kick, 100)
            if e % 4 == 2:
                note(9, tt, 60, snare, 90)
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
