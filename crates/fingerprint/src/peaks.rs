//! The front end: a log-frequency spectrogram and its landmark peaks.
//!
//! Audio at [`SAMPLE_RATE`] is cut into 1024-sample Hann frames every [`HOP`] samples (16 ms).
//! Each power spectrum is mapped onto [`N_BANDS`] log-spaced bands (24 per octave from 120 Hz),
//! so that a pitch shift or a change of playback speed moves every peak by the same number of
//! bands. Peaks are local maxima over ±[`PEAK_RADIUS_BANDS`] bands and ±[`PEAK_RADIUS_FRAMES`]
//! frames that stand out of their surroundings; a sliding one-second window keeps the
//! [`PEAKS_PER_SECOND`] most prominent ones, which makes the density independent of loudness and
//! of where a query starts.

use encore_audio::Stft;

/// Sample rate the fingerprinter works at (telephone band and above is enough).
pub const SAMPLE_RATE: u32 = 8_000;
/// STFT frame length in samples.
pub const N_FFT: usize = 1024;
/// STFT hop in samples (16 ms at 8 kHz).
pub const HOP: usize = 128;
/// Log-frequency bands per octave.
pub const BANDS_PER_OCTAVE: f64 = 24.0;
/// Lowest band centre in Hz.
pub const F_MIN: f64 = 120.0;
/// Number of log bands (120 Hz to about 3.8 kHz).
pub const N_BANDS: usize = 119;
/// Peak neighbourhood half-width in bands.
pub const PEAK_RADIUS_BANDS: usize = 6;
/// Peak neighbourhood half-width in frames.
pub const PEAK_RADIUS_FRAMES: usize = 6;
/// Peaks kept per second (sliding window) for reference audio; queries keep more.
pub const PEAKS_PER_SECOND: usize = 14;
/// Frames per second.
pub const FRAME_RATE: f64 = SAMPLE_RATE as f64 / HOP as f64;

/// Power (dB, unnormalised FFT) below which nothing counts as a peak: about -80 dBFS.
const ABS_FLOOR_DB: f32 = -30.0;
/// A peak must rise this much above the local average to count.
const MIN_PROMINENCE_DB: f32 = 3.0;

/// One spectral peak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Peak {
    /// Frame index.
    pub t: u32,
    /// Band index.
    pub b: u16,
    /// Frame position refined by parabolic interpolation.
    pub tf: f32,
    /// Band position refined by parabolic interpolation.
    pub f: f32,
    /// Height above the local average, in dB.
    pub prominence: f32,
}

/// How one band reads the linear spectrum.
#[derive(Debug, Clone, Copy)]
enum BandSource {
    /// Maximum over linear bins `lo..=hi`.
    Max(usize, usize),
    /// Linear interpolation at fractional bin `x`.
    Interp(f64),
}

fn band_sources() -> Vec<BandSource> {
    let bin_hz = f64::from(SAMPLE_RATE) / N_FFT as f64;
    (0..N_BANDS)
        .map(|b| {
            let fc = F_MIN * 2f64.powf(b as f64 / BANDS_PER_OCTAVE);
            let half = 2f64.powf(0.5 / BANDS_PER_OCTAVE);
            let lo = (fc / half / bin_hz).ceil() as usize;
            let hi = (fc * half / bin_hz).floor() as usize;
            if lo <= hi {
                BandSource::Max(lo, hi.min(N_FFT / 2))
            } else {
                BandSource::Interp(fc / bin_hz)
            }
        })
        .collect()
}

/// Log-band spectrogram in dB, frame-major (`t * N_BANDS + b`).
pub(crate) fn log_spectrogram(samples: &[f32]) -> (Vec<f32>, usize) {
    let stft = Stft::new(N_FFT, HOP);
    let sources = band_sources();
    let n_frames = stft.n_frames(samples.len());
    let mut out = Vec::with_capacity(n_frames * N_BANDS);
    stft.for_each_power_frame(samples, |_, power| {
        for src in &sources {
            let p = match *src {
                BandSource::Max(lo, hi) => power[lo..=hi].iter().copied().fold(0.0f32, f32::max),
                BandSource::Interp(x) => {
                    let i = x.floor() as usize;
                    let w = (x - i as f64) as f32;
                    let a = power.get(i).copied().unwrap_or(0.0);
                    let c = power.get(i + 1).copied().unwrap_or(0.0);
                    a * (1.0 - w) + c * w
                }
            };
            out.push(10.0 * (p + 1e-10).log10());
        }
    });
    (out, n_frames)
}

/// Running maximum over `±r` along a strided axis (naive; r is small).
fn max_filter_bands(s: &[f32], n_frames: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; s.len()];
    for t in 0..n_frames {
        let row = &s[t * N_BANDS..(t + 1) * N_BANDS];
        for b in 0..N_BANDS {
            let lo = b.saturating_sub(r);
            let hi = (b + r).min(N_BANDS - 1);
            out[t * N_BANDS + b] = row[lo..=hi].iter().copied().fold(f32::MIN, f32::max);
        }
    }
    out
}

fn max_filter_frames(s: &[f32], n_frames: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; s.len()];
    for t in 0..n_frames {
        let lo = t.saturating_sub(r);
        let hi = (t + r).min(n_frames - 1);
        for b in 0..N_BANDS {
            let mut m = f32::MIN;
            for u in lo..=hi {
                m = m.max(s[u * N_BANDS + b]);
            }
            out[t * N_BANDS + b] = m;
        }
    }
    out
}

/// Local average over ±`rt` frames and ±`rb` bands, by a summed-area table.
fn box_mean(s: &[f32], n_frames: usize, rt: usize, rb: usize) -> Vec<f32> {
    let w = N_BANDS + 1;
    let mut sat = vec![0.0f64; (n_frames + 1) * w];
    for t in 0..n_frames {
        let mut row = 0.0f64;
        for b in 0..N_BANDS {
            row += f64::from(s[t * N_BANDS + b]);
            sat[(t + 1) * w + b + 1] = sat[t * w + b + 1] + row;
        }
    }
    let mut out = vec![0.0f32; s.len()];
    for t in 0..n_frames {
        let t0 = t.saturating_sub(rt);
        let t1 = (t + rt + 1).min(n_frames);
        for b in 0..N_BANDS {
            let b0 = b.saturating_sub(rb);
            let b1 = (b + rb + 1).min(N_BANDS);
            let sum = sat[t1 * w + b1] - sat[t0 * w + b1] - sat[t1 * w + b0] + sat[t0 * w + b0];
            out[t * N_BANDS + b] = (sum / ((t1 - t0) * (b1 - b0)) as f64) as f32;
        }
    }
    out
}

fn parabolic(a: f32, b: f32, c: f32) -> f32 {
    let den = a - 2.0 * b + c;
    if den.abs() < 1e-9 {
        0.0
    } else {
        (0.5 * (a - c) / den).clamp(-0.5, 0.5)
    }
}

/// Finds the landmark peaks of `samples` (mono at [`SAMPLE_RATE`]), sorted by time then band.
pub(crate) fn find_peaks(samples: &[f32], per_second: usize) -> Vec<Peak> {
    let (s, n_frames) = log_spectrogram(samples);
    if n_frames < 3 {
        return Vec::new();
    }
    let m = max_filter_frames(
        &max_filter_bands(&s, n_frames, PEAK_RADIUS_BANDS),
        n_frames,
        PEAK_RADIUS_FRAMES,
    );
    let mean = box_mean(&s, n_frames, 32, 12);
    let mut cands = Vec::new();
    for t in 1..n_frames - 1 {
        for b in 1..N_BANDS - 1 {
            let i = t * N_BANDS + b;
            let v = s[i];
            if v < m[i] || v < ABS_FLOOR_DB {
                continue;
            }
            let prominence = v - mean[i];
            if prominence < MIN_PROMINENCE_DB {
                continue;
            }
            // A flat plateau yields one peak: the first cell that equals the maximum.
            if s[i - 1] == v || s[i - N_BANDS] == v {
                continue;
            }
            let df = parabolic(s[i - 1], v, s[i + 1]);
            let dt = parabolic(s[i - N_BANDS], v, s[i + N_BANDS]);
            cands.push(Peak {
                t: t as u32,
                b: b as u16,
                tf: t as f32 + dt,
                f: b as f32 + df,
                prominence,
            });
        }
    }
    thin(cands, per_second)
}

/// Keeps a peak when fewer than `per_second` peaks within ±0.5 s are more prominent.
fn thin(cands: Vec<Peak>, per_second: usize) -> Vec<Peak> {
    let half = (FRAME_RATE / 2.0) as u32;
    let mut kept = Vec::with_capacity(cands.len());
    let mut lo = 0usize;
    let mut hi = 0usize;
    for (i, p) in cands.iter().enumerate() {
        while cands[lo].t + half < p.t {
            lo += 1;
        }
        while hi < cands.len() && cands[hi].t <= p.t + half {
            hi += 1;
        }
        let stronger = cands[lo..hi]
            .iter()
            .enumerate()
            .filter(|&(j, q)| {
                q.prominence > p.prominence || (q.prominence == p.prominence && lo + j < i)
            })
            .count();
        if stronger < per_second {
            kept.push(*p);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, secs: f32) -> Vec<f32> {
        let n = (secs * SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * freq * i as f32 / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn silence_has_no_peaks() {
        assert!(find_peaks(&vec![0.0; 8000 * 3], PEAKS_PER_SECOND).is_empty());
        assert!(find_peaks(&[], PEAKS_PER_SECOND).is_empty());
        assert!(find_peaks(&[0.1; 10], PEAKS_PER_SECOND).is_empty());
    }

    #[test]
    fn band_of_a_tone_is_where_expected() {
        // Bursts of 440 Hz: band = 24 * log2(440 / 120) = 44.98.
        let mut x = Vec::new();
        for _ in 0..6 {
            x.extend(tone(440.0, 0.25));
            x.extend(vec![0.0; 2000]);
        }
        let peaks = find_peaks(&x, PEAKS_PER_SECOND);
        assert!(!peaks.is_empty());
        for p in &peaks {
            assert!((p.f - 45.0).abs() < 1.0, "{p:?}");
        }
    }

    #[test]
    fn density_is_bounded() {
        // White-ish noise from a tiny LCG: dense candidates, thinned to the budget.
        let mut state = 1u32;
        let x: Vec<f32> = (0..8000 * 5)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let peaks = find_peaks(&x, PEAKS_PER_SECOND);
        let per_s = peaks.len() as f64 / 5.0;
        assert!(
            per_s > 3.0 && per_s <= 2.0 * PEAKS_PER_SECOND as f64,
            "{per_s}"
        );
    }
}
