//! Fine-grained transient detection for the full preset: peaks of a short-hop level envelope
//! (hop about 2.9 ms) that rise by a few dB within 50 ms, unless they sit in the tail of a much
//! louder event (a decaying peak hold masks them).
//!
//! Dense textures (engine cycles, rain drops, a drum pattern) fire every few tens of
//! milliseconds, the way designers mark them; the reverberant tail after a gunshot or a crash
//! mostly stays quiet. Parameters were chosen on the tune half of the designer pairs only (see
//! docs/readme/haptics.md, "Evaluation").
//!
//! The full preset then keeps a peak when a learned score passes a threshold: peaks are picked
//! loosely ([`CANDIDATES`]: 1 dB rise, no masking), each gets [`N_FEATURES`] features (its rise,
//! level, peak-hold margin, high-band share, neighbours, and file-level context such as how
//! many candidates per second the file has and what share of them the hand-tuned rules
//! ([`FULL`]) keep), and a logistic regression trained on the tune half decides.

use encore_audio::Stft;

/// Floor of frame powers (mean square), -100 dBFS.
const POWER_FLOOR: f64 = 1e-10;

/// Lower edge of the high band whose share of the power is a scorer feature, Hz.
const HIGH_HZ: f64 = 2000.0;

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
    /// Share of each frame's power above 2 kHz, in dB (at most 0).
    pub high_db: Vec<f32>,
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
    let mut high_db = Vec::with_capacity(stft.n_frames(mono.len()));
    let k_high = ((HIGH_HZ * n_fft as f64 / sr).ceil() as usize).max(1);
    stft.for_each_power_frame(mono, |_, power| {
        let sum = |p: &[f32]| p.iter().map(|&x| f64::from(x)).sum::<f64>();
        let all = sum(power);
        let high = sum(power.get(k_high..).unwrap_or(&[]));
        let v = 10.0 * (all * norm).max(POWER_FLOOR).log10();
        db.push(if v.is_finite() { v as f32 } else { -100.0 });
        let r = 10.0 * ((high + 1e-12) / (all + 1e-12)).log10();
        high_db.push(if r.is_finite() {
            r.clamp(-60.0, 0.0) as f32
        } else {
            -60.0
        });
    });
    Level {
        frame_rate: sr / hop as f64,
        db,
        high_db,
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

/// A peak that passed the picking rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Peak {
    /// Frame index.
    pub frame: usize,
    /// Rise above the lowest level of the preceding `rise_s`, dB.
    pub rise_db: f32,
    /// Level minus the peak hold before this frame, dB (negative in the tail of a louder hit).
    pub hold_margin_db: f32,
}

/// Peaks of the smoothed level `env` (frames per second `rate`) that pass the rules of `p`.
pub(crate) fn peaks(env: &[f32], rate: f64, p: &FineParams) -> Vec<Peak> {
    let n = env.len();
    if n == 0 || rate <= 0.0 {
        return Vec::new();
    }
    let loudest = env.iter().copied().fold(f32::MIN, f32::max);
    let w = (p.max_window_s * rate).round().max(1.0) as usize;
    let back = (p.rise_s * rate).round().max(1.0) as usize;
    let fall = p.decay_db_s / rate as f32;
    let mut hold = f32::MIN;
    let mut out = Vec::new();
    for t in 0..n {
        let v = env[t];
        let margin = if hold == f32::MIN { 100.0 } else { v - hold };
        let masked = margin < -p.mask_db;
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
            out.push(Peak {
                frame: t,
                rise_db: v - valley,
                hold_margin_db: margin,
            });
        }
    }
    out
}

/// Transient times (seconds) of mono audio with the full preset's detector: the loose
/// candidates whose learned score passes [`SCORER_THRESHOLD`].
pub(crate) fn transient_times(mono: &[f32], sample_rate: u32) -> Vec<f64> {
    candidates(&level(mono, sample_rate))
        .into_iter()
        .filter(|(_, x)| score(x) >= SCORER_THRESHOLD)
        .map(|(t, _)| t)
        .collect()
}

/// Logit of a candidate being a designer emphasis point.
pub(crate) fn score(x: &[f32; N_FEATURES]) -> f32 {
    x.iter()
        .zip(&SCORER_WEIGHTS)
        .map(|(a, b)| a * b)
        .sum::<f32>()
        + SCORER_BIAS
}

// Logistic regression over `candidates` features (raw units; L2 100 on standardised features),
// trained on the TUNE half of the designer pairs only; the threshold (a logit) maximised the
// pooled F-measure of 6-fold cross-validation (folds by file) within that half. Regenerate with
//   cargo run --release -p encore-haptics --example train_transient_scorer -- \
//       ../shared/data/haptics/lofelt-pairs
// and paste its output here.
pub(crate) const SCORER_WEIGHTS: [f32; N_FEATURES] = [
    0.008219, 0.045129, -0.013640, 0.029556, 0.039648, 0.020809, -0.051810, 0.445232, -0.145797,
    -0.008497, -0.013866, 0.156242, 0.367541, 0.042152, -1.048773, 2.254883, -0.041480,
];
pub(crate) const SCORER_BIAS: f32 = 4.394635;
pub(crate) const SCORER_THRESHOLD: f32 = -1.0;

/// Loose picking for the learned scorer: a 1 dB rise, a 40 dB gate and no masking.
pub(crate) const CANDIDATES: FineParams = FineParams {
    smooth_s: 0.003,
    max_window_s: 0.015,
    rise_s: 0.05,
    rise_db: 1.0,
    gate_db: 40.0,
    mask_db: 1000.0,
    decay_db_s: 5.0,
};

/// Number of features per candidate.
pub const N_FEATURES: usize = 17;

/// Candidate transients (loose picking) with their features, in time order: `(time_s, features)`.
///
/// Features: rise (dB), level relative to the loudest frame, level relative to the median level
/// of +-0.5 s, margin against the decaying peak hold, high-band (> 2 kHz) share (dB), that share
/// relative to its +-0.5 s mean, log candidate count within +-0.5 s, log gaps to the previous and
/// next candidate, level range over +-100 ms, 10 ms rise, log time from the start, whether
/// the hand-tuned detector (`FULL`) fires, and the peak-hold margin clamped to -5..0 dB.
pub(crate) fn candidates(level: &Level) -> Vec<(f64, [f32; N_FEATURES])> {
    let rate = level.frame_rate;
    let n = level.db.len();
    if n == 0 || rate <= 0.0 {
        return Vec::new();
    }
    let env = smoothed_db(&level.db, (CANDIDATES.smooth_s * rate).round() as usize);
    let loudest = env.iter().copied().fold(f32::MIN, f32::max);
    let cands = peaks(&env, rate, &CANDIDATES);
    let half = (0.5 * rate).round() as usize;
    let modw = (0.1 * rate).round() as usize;
    let short = (0.01 * rate).round().max(1.0) as usize;
    let mut high_prefix = Vec::with_capacity(n + 1);
    high_prefix.push(0.0f64);
    for &h in &level.high_db {
        high_prefix.push(high_prefix.last().copied().unwrap_or(0.0) + f64::from(h));
    }
    let frames: Vec<usize> = cands.iter().map(|c| c.frame).collect();
    let mut scratch = Vec::new();
    // File-level context: candidates per second, the share the hand-tuned detector keeps and
    // the median rise.
    let duration = n as f64 / rate;
    let per_s = ((cands.len() as f64 + 1.0) / duration.max(0.1)).ln() as f32;
    let full_share = cands
        .iter()
        .filter(|c| fires(c, env[c.frame], loudest))
        .count() as f32
        / cands.len().max(1) as f32;
    let mut rises: Vec<f32> = cands.iter().map(|c| c.rise_db.min(40.0)).collect();
    let mid = rises.len() / 2;
    let median_rise = if rises.is_empty() {
        0.0
    } else {
        *rises.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    let mut out: Vec<(f64, [f32; N_FEATURES])> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let t = c.frame;
            let v = env[t];
            let (lo, hi) = (t.saturating_sub(half), (t + half + 1).min(n));
            scratch.clear();
            scratch.extend_from_slice(&env[lo..hi]);
            let mid = scratch.len() / 2;
            let median = *scratch.select_nth_unstable_by(mid, f32::total_cmp).1;
            let hi_here = level.high_db.get(t).copied().unwrap_or(-60.0);
            let hi_mean = ((high_prefix[hi.min(level.high_db.len())]
                - high_prefix[lo.min(level.high_db.len())])
                / (hi.min(level.high_db.len()) - lo.min(level.high_db.len())).max(1) as f64)
                as f32;
            let count = frames
                [frames.partition_point(|&f| f < lo)..frames.partition_point(|&f| f < hi)]
                .len();
            let gap = |a: usize, b: usize| ((b - a) as f64 / rate).clamp(0.003, 2.0).ln() as f32;
            let prev = if i > 0 {
                gap(frames[i - 1], t)
            } else {
                2f32.ln()
            };
            let next = frames.get(i + 1).map_or(2f32.ln(), |&f| gap(t, f));
            let (mlo, mhi) = (t.saturating_sub(modw), (t + modw + 1).min(n));
            let (mn, mx) = env[mlo..mhi]
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &u| (a.min(u), b.max(u)));
            let before = if t >= short { env[t - short] } else { -100.0 };
            let time = t as f64 / rate;
            (
                time,
                [
                    c.rise_db.min(40.0),
                    (v - loudest).max(-60.0),
                    (v - median).clamp(-20.0, 40.0),
                    c.hold_margin_db.clamp(-40.0, 20.0),
                    hi_here,
                    (hi_here - hi_mean).clamp(-30.0, 30.0),
                    ((count + 1) as f32).ln(),
                    prev,
                    next,
                    (mx - mn).min(60.0),
                    (v - before).clamp(-10.0, 40.0),
                    ((time + 0.01) as f32).ln(),
                    // The hand-tuned detector's decision (`FULL`) and its mask margin, hinged.
                    f32::from(u8::from(fires(c, v, loudest))),
                    c.hold_margin_db.clamp(-FULL.mask_db, 0.0),
                    per_s,
                    full_share,
                    median_rise,
                ],
            )
        })
        .collect();
    out.shrink_to_fit();
    out
}

/// Whether the hand-tuned detector (`FULL`) keeps candidate `c` of level `v`.
fn fires(c: &Peak, v: f32, loudest: f32) -> bool {
    c.rise_db >= FULL.rise_db && v >= loudest - FULL.gate_db && c.hold_margin_db >= -FULL.mask_db
}

/// Candidates of mono audio with their features (for training the scorer; see
/// `examples/train_transient_scorer.rs`).
pub fn candidate_features(mono: &[f32], sample_rate: u32) -> Vec<(f64, [f32; N_FEATURES])> {
    candidates(&level(mono, sample_rate))
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

    #[test]
    fn candidate_features_are_finite() {
        assert!(candidate_features(&[], SR).is_empty());
        assert!(candidate_features(&[0.0; 1000], SR).is_empty());
        let events: Vec<(f64, f32)> = (0..6).map(|k| (0.1 + 0.15 * k as f64, 0.5)).collect();
        let c = candidate_features(&bursts(&events, 1.2), SR);
        assert!(c.len() >= 6, "{}", c.len());
        for (t, x) in &c {
            assert!(
                t.is_finite() && x.iter().all(|v| v.is_finite()),
                "{t} {x:?}"
            );
            assert!(score(x).is_finite());
        }
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
