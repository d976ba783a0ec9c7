//! Fine-grained transient detection for the full preset: peaks of a short-hop level envelope
//! (hop about 2.9 ms) that rise by a few dB within 50 ms, unless they sit in the tail of a much
//! louder event (a decaying peak hold masks them).
//!
//! Dense textures (engine cycles, rain drops, a drum pattern) fire every few tens of
//! milliseconds, the way designers mark them; the reverberant tail after a gunshot or a crash
//! mostly stays quiet. Parameters were chosen on the tune half of the designer pairs only (see
//! docs/readme/haptics.md, "Evaluation").

use encore_audio::Stft;

/// Floor of frame powers (mean square), -100 dBFS.
const POWER_FLOOR: f64 = 1e-10;

/// Transient picking parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FineParams {
    /// Half-width of the power moving average applied to the level, seconds.
    pub smooth_s: f64,
    /// A peak must be the maximum of the smoothed level within this many seconds either side.
    pub max_window_s: f64,
    /// A peak must rise by `rise_db` above the lowest level of the preceding `rise_s`.
    pub rise_s: f64,
    pub rise_db: f32,
    /// A peak must be within this many dB of the loudest frame.
    pub gate_db: f32,
    /// A peak must be within `mask_db` of a peak hold of the level that decays by
    /// `decay_db_s` dB per second (the tail of a much louder hit is masked).
    pub mask_db: f32,
    pub decay_db_s: f32,
}

/// The full preset's detector (chosen on the tune half, see the module documentation).
pub(crate) const FULL: FineParams = FineParams {
    smooth_s: 0.003,
    max_window_s: 0.015,
    rise_s: 0.05,
    rise_db: 2.0,
    gate_db: 30.0,
    mask_db: 5.0,
    decay_db_s: 5.0,
};

/// A short-hop level envelope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Level {
    /// Frames per second (about 345).
    pub frame_rate: f64,
    /// Mean-square power of each Hann-windowed frame (about 11.6 ms), in dB.
    pub db: Vec<f32>,
}

/// Computes the short-hop level of `mono` at `sample_rate`.
pub(crate) fn level(mono: &[f32], sample_rate: u32) -> Level {
    let sr = f64::from(sample_rate.max(1));
    let hop = ((64.0 * sr / 22_050.0).round() as usize).max(1);
    let n_fft = (hop * 4).next_power_of_two().max(16);
    let stft = Stft::new(n_fft, hop);
    // Parseval with a Hann window, as in `analysis`.
    let norm = 2.0 / (n_fft as f64 * 3.0 * n_fft as f64 / 8.0);
    let mut db = Vec::with_capacity(stft.n_frames(mono.len()));
    stft.for_each_power_frame(mono, |_, power| {
        let total: f64 = power.iter().map(|&p| f64::from(p)).sum::<f64>() * norm;
        let v = 10.0 * total.max(POWER_FLOOR).log10();
        db.push(if v.is_finite() { v as f32 } else { -100.0 });
    });
    Level {
        frame_rate: sr / hop as f64,
        db,
    }
}

/// Level in dB smoothed by a moving average of power over `[t - half, t + half]`.
fn smoothed_db(level_db: &[f32], half: usize) -> Vec<f32> {
    let n = level_db.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for &d in level_db {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + 10f64.powf(f64::from(d) / 10.0));
    }
    (0..n)
        .map(|t| {
            let (lo, hi) = (t.saturating_sub(half), (t + half + 1).min(n));
            let mean = (prefix[hi] - prefix[lo]) / (hi - lo) as f64;
            (10.0 * mean.max(POWER_FLOOR).log10()) as f32
        })
        .collect()
}

/// Frames of the picked transients, in order.
pub(crate) fn pick(level: &Level, p: &FineParams) -> Vec<usize> {
    let n = level.db.len();
    let rate = level.frame_rate;
    if n == 0 || rate <= 0.0 {
        return Vec::new();
    }
    let env = smoothed_db(&level.db, (p.smooth_s * rate).round() as usize);
    let loudest = env.iter().copied().fold(f32::MIN, f32::max);
    let w = (p.max_window_s * rate).round().max(1.0) as usize;
    let back = (p.rise_s * rate).round().max(1.0) as usize;
    let fall = p.decay_db_s / rate as f32;
    let mut hold = f32::MIN;
    let mut out = Vec::new();
    for t in 0..n {
        let v = env[t];
        let masked = v < hold - p.mask_db;
        hold = (hold - fall).max(v);
        if masked || v < loudest - p.gate_db {
            continue;
        }
        let (lo, hi) = (t.saturating_sub(w), (t + w + 1).min(n));
        if env[lo..t].iter().any(|&u| u >= v) || env[t + 1..hi].iter().any(|&u| u > v) {
            continue;
        }
        // Before the first frame is silence: a sound that starts at once is a transient.
        let start = if t < back { -100.0 } else { v };
        let valley = env[t.saturating_sub(back)..t]
            .iter()
            .copied()
            .fold(start, f32::min);
        if v - valley >= p.rise_db {
            out.push(t);
        }
    }
    out
}

/// Transient times (seconds) of mono audio with the full preset's detector.
pub(crate) fn transient_times(mono: &[f32], sample_rate: u32) -> Vec<f64> {
    let l = level(mono, sample_rate);
    pick(&l, &FULL)
        .into_iter()
        .map(|t| t as f64 / l.frame_rate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 22_050;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// Noise bursts of `amp` decaying over 20 ms, at `times` (seconds), over `secs`.
    fn bursts(times: &[(f64, f32)], secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(SR)) as usize;
        let mut out = vec![0.0f32; n];
        let nz = noise(n, 7);
        for &(t0, amp) in times {
            let start = (t0 * f64::from(SR)) as usize;
            for i in 0..(0.1 * f64::from(SR)) as usize {
                if start + i < n {
                    let t = i as f32 / SR as f32;
                    out[start + i] += amp * (-t / 0.02).exp() * nz[start + i];
                }
            }
        }
        out
    }

    fn near(times: &[f64], t: f64, tol: f64) -> bool {
        times.iter().any(|&x| (x - t).abs() <= tol)
    }

    #[test]
    fn dense_equal_events_all_fire() {
        // 20 events 40 ms apart at the same level: a texture, every event is a transient.
        let events: Vec<(f64, f32)> = (0..20).map(|k| (0.1 + 0.04 * k as f64, 0.5)).collect();
        let times = transient_times(&bursts(&events, 1.2), SR);
        let found = events.iter().filter(|e| near(&times, e.0, 0.02)).count();
        assert!(found >= 18, "{found} of 20 found: {times:?}");
        assert!(times.len() <= 24, "{} transients", times.len());
    }

    #[test]
    fn quiet_events_in_a_loud_tail_are_masked() {
        // A loud hit, then weak bumps 20 dB down inside its tail: only the hit fires.
        let mut events = vec![(0.1, 1.0f32)];
        events.extend((1..8).map(|k| (0.1 + 0.05 * k as f64, 0.1)));
        let times = transient_times(&bursts(&events, 0.8), SR);
        assert!(near(&times, 0.1, 0.02), "{times:?}");
        assert!(times.len() <= 2, "{times:?}");
    }

    #[test]
    fn steady_sound_and_silence_do_not_fire() {
        let steady: Vec<f32> = (0..SR as usize)
            .map(|i| 0.5 * (std::f32::consts::TAU * 220.0 * i as f32 / SR as f32).sin())
            .collect();
        let times = transient_times(&steady, SR);
        // At most the start of the tone.
        assert!(times.iter().all(|&t| t < 0.05), "{times:?}");
        assert!(transient_times(&[0.0; 22_050], SR).is_empty());
        assert!(transient_times(&[], SR).is_empty());
        assert!(transient_times(&[0.5; 3], 1).len() <= 1);
    }
}
