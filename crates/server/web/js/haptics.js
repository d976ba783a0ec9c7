// Haptics through the Web Vibration API, from the server's web haptic track:
// {"format": "encore-web-vibration", "version": 1, "slot_ms": 50,
//  "segments": [{"start_ms", "pattern": [on, off, ...]}]}.
// At each segment's start the player calls navigator.vibrate(pattern). Intensity is pulse width
// inside each slot, so the user's intensity scales every "on" time and gives the rest to "off".

const ON_KEY = 'encore.haptics';
const LEVEL_KEY = 'encore.hapticsIntensity';

export const hapticsSupported = typeof navigator !== 'undefined' && typeof navigator.vibrate === 'function';

function stored(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : v;
  } catch {
    return fallback;
  }
}

export const hapticSettings = {
  enabled: stored(ON_KEY, '0') === '1',
  intensity: Math.min(100, Math.max(0, Number(stored(LEVEL_KEY, '100')) || 0)),
  save() {
    try {
      localStorage.setItem(ON_KEY, this.enabled ? '1' : '0');
      localStorage.setItem(LEVEL_KEY, String(this.intensity));
    } catch { /* private mode */ }
  },
};

/** Checks a parsed web track; returns its segments sorted by start, or throws. */
export function validateTrack(track) {
  if (!track || track.format !== 'encore-web-vibration' || track.version !== 1 || !Array.isArray(track.segments)) {
    throw new Error('not an encore-web-vibration v1 track');
  }
  return track.segments
    .filter((s) => Number.isFinite(s.start_ms) && Array.isArray(s.pattern) && s.pattern.every((x) => Number.isFinite(x) && x >= 0))
    .sort((a, b) => a.start_ms - b.start_ms);
}

/** The pattern at `intensity` (0..1): each "on" scaled, the remainder added to the next "off". */
export function scalePattern(pattern, intensity) {
  if (intensity >= 1) return pattern.slice();
  const out = [];
  for (let i = 0; i < pattern.length; i += 2) {
    const on = Math.round(pattern[i] * intensity);
    const off = (pattern[i + 1] ?? 0) + (pattern[i] - on);
    out.push(on);
    if (i + 1 < pattern.length) out.push(off);
  }
  return out;
}

/**
 * Plays a track's segments in step with `audio`: call tick() often while playing (each frame),
 * reset() after a seek, stop() on pause.
 */
export class HapticScheduler {
  constructor(segments) {
    this.segments = segments;
    this.next = 0;
    this.lastMs = -1;
  }

  reset(tMs) {
    // Start with the first segment not yet begun: a segment half over would be off the beat.
    let i = 0;
    while (i < this.segments.length && this.segments[i].start_ms < tMs) i++;
    this.next = i;
    this.lastMs = tMs;
  }

  tick(tMs) {
    if (!hapticSettings.enabled || !hapticsSupported) return;
    if (tMs < this.lastMs || tMs - this.lastMs > 1000) this.reset(tMs);
    this.lastMs = tMs;
    let due = null;
    while (this.next < this.segments.length && this.segments[this.next].start_ms <= tMs) {
      due = this.segments[this.next];
      this.next++;
    }
    if (due && tMs - due.start_ms < 250) {
      navigator.vibrate(scalePattern(due.pattern, hapticSettings.intensity / 100));
    }
  }

  stop() {
    if (hapticsSupported) navigator.vibrate(0);
  }
}
