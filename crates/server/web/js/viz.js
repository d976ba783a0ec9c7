// The visualisation canvas, driven by the server's visualisation JSON (`encore visualize
// --json`): band energies per frame (0-255 for -80..0 dBFS), beat times, loudness and
// waveform peaks. Draws band bars for the current frame, a pulse on each beat, and the
// waveform overview with the play position.

const COLORS = ['#7aa7ff', '#5f8ff5', '#8fd3ff', '#9be7c4', '#ffd479', '#ffab70', '#ff8fa3'];

export function validateViz(v) {
  if (!v || v.version !== 1 || !Array.isArray(v.bands) || !Number.isFinite(v.frame_rate)) {
    throw new Error('not a version 1 visualisation document');
  }
  return v;
}

/** A short text description of the music for screen readers. */
export function describeViz(v) {
  const beats = Array.isArray(v.beats_s) ? v.beats_s.length : 0;
  const dur = v.duration_s || 0;
  const bpm = beats > 1 && dur > 0 ? Math.round((beats / dur) * 60) : null;
  const rms = v.loudness?.rms_dbfs || [];
  const loud = rms.length ? Math.max(...rms) : null;
  return `Visualisation of the music: ${v.bands.length} frequency bands${bpm ? `, about ${bpm} beats per minute` : ''}${loud !== null ? `, loudest moment ${loud} dBFS` : ''}.`;
}

export class Visualizer {
  constructor(canvas, data) {
    this.canvas = canvas;
    this.data = data;
    this.ctx = canvas.getContext('2d');
    this.peaks = null;
    if (Array.isArray(data.peaks) && data.peaks.length) {
      // The coarsest level that still gives about one peak per pixel.
      this.peaks = data.peaks.slice().sort((a, b) => b.samples_per_peak - a.samples_per_peak)[0];
      for (const p of data.peaks) if (p.max && p.max.length >= 400 && p.max.length < (this.peaks.max?.length ?? Infinity) * 8) this.peaks = p;
    }
    this.beatIndex = 0;
    this.lastBeat = -10;
  }

  /** Draws the frame at playback time `t` seconds. */
  draw(t) {
    const { canvas, ctx, data } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== hgt) { canvas.width = w; canvas.height = hgt; }
    ctx.fillStyle = '#10131a';
    ctx.fillRect(0, 0, w, hgt);
    const frame = Math.max(0, Math.floor(t * data.frame_rate));
    const top = hgt * 0.72;
    // Beat pulse.
    const beats = data.beats_s || [];
    while (this.beatIndex > 0 && beats[this.beatIndex - 1] > t) this.beatIndex--;
    while (this.beatIndex < beats.length && beats[this.beatIndex] <= t) { this.lastBeat = beats[this.beatIndex]; this.beatIndex++; }
    const since = t - this.lastBeat;
    if (since >= 0 && since < 0.25) {
      ctx.fillStyle = `rgba(255, 255, 255, ${0.18 * (1 - since / 0.25)})`;
      ctx.fillRect(0, 0, w, top);
    }
    // Band bars.
    const n = data.bands.length;
    const gap = 4 * dpr;
    const bw = (w - gap * (n + 1)) / n;
    data.bands.forEach((band, i) => {
      const v = band.values?.[Math.min(frame, band.values.length - 1)] ?? 0;
      const bh = (v / 255) * (top - 8 * dpr);
      ctx.fillStyle = COLORS[i % COLORS.length];
      ctx.fillRect(gap + i * (bw + gap), top - bh, bw, bh);
    });
    // Waveform overview and play position.
    const p = this.peaks;
    const mid = top + (hgt - top) / 2;
    const amp = (hgt - top) / 2 - 2 * dpr;
    if (p && p.max && p.max.length) {
      ctx.fillStyle = '#5c6780';
      for (let x = 0; x < w; x++) {
        const a = Math.floor((x / w) * p.max.length);
        const b = Math.max(a + 1, Math.floor(((x + 1) / w) * p.max.length));
        let lo = 127; let hi = -127;
        for (let k = a; k < b && k < p.max.length; k++) { lo = Math.min(lo, p.min[k]); hi = Math.max(hi, p.max[k]); }
        ctx.fillRect(x, mid - (hi / 127) * amp, 1, Math.max(1, ((hi - lo) / 127) * amp));
      }
    }
    const dur = data.duration_s || 0;
    if (dur > 0) {
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(Math.min(w - 2, (t / dur) * w), top, 2 * dpr, hgt - top);
    }
  }
}
