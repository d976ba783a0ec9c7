//! Onset detection, tempo estimation, beat tracking that follows tempo changes, and downbeats.
//!
//! Everything here works on an onset-strength [`Envelope`] (see [`onset_strength`](crate::onset_strength)):
//!
//! - [`detect_onsets`]: librosa-style peak picking on the normalised envelope.
//! - [`tempogram`]: windowed autocorrelation of the envelope (librosa's autocorrelation
//!   tempogram), computed every few frames.
//! - [`estimate_tempo`]: the global tempo, from the mean tempogram weighted by a log-normal
//!   tempo prior (librosa's `tempo`).
//! - [`local_tempo`]: a smooth tempo curve, a Viterbi path through the tempogram whose
//!   transitions penalise tempo jumps; it lets the beat tracker follow tempo changes.
//! - [`track_beats`]: Ellis' (2007) dynamic-programming beat tracker, with the beat period
//!   taken from the local tempo at each frame instead of one global value.
//! - [`downbeats`]: the bar phase (meter 3 or 4) that best explains accents and harmonic
//!   changes at the beats.

use realfft::RealFftPlanner;

use crate::onset::Envelope;

/// Parameters of [`detect_onsets`], in seconds (librosa's `onset_detect` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnsetDetectParams {
    /// A peak must be the maximum over this span before it.
    pub pre_max_s: f64,
    /// ... and over this span after it.
    pub post_max_s: f64,
    /// The local mean is taken over this span before the peak ...
    pub pre_avg_s: f64,
    /// ... and this span after it.
    pub post_avg_s: f64,
    /// A peak must exceed the local mean by this much (the envelope is scaled to 0..=1).
    pub delta: f32,
    /// Minimum gap between two onsets.
    pub wait_s: f64,
}

impl Default for OnsetDetectParams {
    fn default() -> Self {
        OnsetDetectParams {
            pre_max_s: 0.03,
            post_max_s: 0.0,
            pre_avg_s: 0.10,
            post_avg_s: 0.10,
            delta: 0.07,
            wait_s: 0.03,
        }
    }
}

/// Frame indices of onsets: peaks of the envelope (scaled to 0..=1) that are local maxima and
/// stand `delta` above the local mean, at least `wait` apart. Silence gives no onsets.
pub fn detect_onsets(env: &Envelope, params: &OnsetDetectParams) -> Vec<usize> {
    let x = &env.values;
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if x.is_empty() || hi - lo <= 1e-9 || !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let norm: Vec<f32> = x.iter().map(|v| (v - lo) / (hi - lo)).collect();
    let frames = |s: f64| (s * env.frame_rate) as usize;
    let pre_max = frames(params.pre_max_s);
    let post_max = frames(params.post_max_s) + 1;
    let pre_avg = frames(params.pre_avg_s);
    let post_avg = frames(params.post_avg_s) + 1;
    let wait = frames(params.wait_s);
    let n = norm.len();
    // Prefix sums give each local mean in O(1).
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for &v in &norm {
        prefix.push(prefix[prefix.len() - 1] + f64::from(v));
    }
    let mut onsets = Vec::new();
    let mut last: Option<usize> = None;
    for i in 0..n {
        let (a, b) = (i.saturating_sub(pre_max), (i + post_max).min(n));
        if norm[a..b].iter().any(|&v| v > norm[i]) {
            continue;
        }
        let (a, b) = (i.saturating_sub(pre_avg), (i + post_avg).min(n));
        let mean = (prefix[b] - prefix[a]) / (b - a) as f64;
        if f64::from(norm[i]) < mean + f64::from(params.delta) {
            continue;
        }
        if last.is_some_and(|l| i - l <= wait) {
            continue;
        }
        onsets.push(i);
        last = Some(i);
    }
    onsets
}

/// Parameters of tempo estimation and beat tracking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoParams {
    /// Centre of the log-normal tempo prior, in BPM.
    pub prior_bpm: f64,
    /// Width of the prior in octaves.
    pub prior_octaves: f64,
    /// Slowest tempo considered.
    pub min_bpm: f64,
    /// Fastest tempo considered.
    pub max_bpm: f64,
    /// Length of the tempogram window, in seconds.
    pub window_s: f64,
    /// Time between tempogram frames, in seconds.
    pub step_s: f64,
    /// How strongly the local tempo resists change (weight of the squared log tempo ratio
    /// between consecutive tempogram frames).
    pub tempo_inertia: f64,
    /// How strongly beat intervals must match the local period (Ellis' "tightness").
    pub tightness: f64,
    /// When the autocorrelation at half the chosen beat period reaches this fraction of the
    /// autocorrelation at the period, the faster level is taken as the beat (see
    /// [`estimate_tempo`]).
    pub subdivision_ratio: f64,
}

impl Default for TempoParams {
    fn default() -> Self {
        TempoParams {
            prior_bpm: 120.0,
            prior_octaves: 1.0,
            min_bpm: 30.0,
            max_bpm: 300.0,
            window_s: 384.0 * 512.0 / 22050.0,
            step_s: 0.25,
            tempo_inertia: 40.0,
            tightness: 100.0,
            subdivision_ratio: 0.9,
        }
    }
}

/// An autocorrelation tempogram: `frames[j][lag]` is the normalised autocorrelation of the
/// onset envelope around time `j * step` frames, for lags `0..=max_lag` envelope frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Tempogram {
    /// One row per tempogram frame; lag 0 is 1.0 unless the window is silent (then all 0).
    pub frames: Vec<Vec<f32>>,
    /// Envelope frames between tempogram frames.
    pub step: usize,
    /// Frame rate of the envelope the tempogram was computed from.
    pub frame_rate: f64,
}

impl Tempogram {
    /// BPM of a lag in envelope frames.
    pub fn bpm_of_lag(&self, lag: f64) -> f64 {
        60.0 * self.frame_rate / lag
    }
}

/// Computes the autocorrelation tempogram of `env` (Hann-windowed, normalised by lag 0).
pub fn tempogram(env: &Envelope, params: &TempoParams) -> Tempogram {
    let fr = env.frame_rate.max(1e-9);
    let win = ((params.window_s * fr).round() as usize).max(8);
    let step = ((params.step_s * fr).round() as usize).max(1);
    let max_lag = ((60.0 * fr / params.min_bpm.max(1.0)).ceil() as usize + 2).min(win - 1);
    let n = env.values.len();
    let n_fft = (2 * win).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n_fft);
    let inv = planner.plan_fft_inverse(n_fft);
    let mut input = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut out = inv.make_output_vec();
    let window: Vec<f32> = (0..win)
        .map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / win as f64).cos()) as f32)
        .collect();
    let n_frames = if n == 0 { 0 } else { n.div_ceil(step) };
    let mut frames = Vec::with_capacity(n_frames);
    let half = (win / 2) as isize;
    for j in 0..n_frames {
        let centre = (j * step) as isize;
        input.iter_mut().for_each(|v| *v = 0.0);
        let mut mean = 0.0f32;
        let mut count = 0usize;
        for i in 0..win {
            let idx = centre - half + i as isize;
            if idx >= 0 && (idx as usize) < n {
                mean += env.values[idx as usize];
                count += 1;
            }
        }
        let mean = if count > 0 { mean / count as f32 } else { 0.0 };
        for (i, slot) in input.iter_mut().take(win).enumerate() {
            let idx = centre - half + i as isize;
            if idx >= 0 && (idx as usize) < n {
                // Removing the local mean keeps slow loudness drifts out of the autocorrelation.
                *slot = (env.values[idx as usize] - mean) * window[i];
            }
        }
        let _ = fwd.process(&mut input, &mut spec);
        for c in spec.iter_mut() {
            *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
        }
        let _ = inv.process(&mut spec, &mut out);
        let zero = out[0];
        let row: Vec<f32> = if zero > 1e-12 {
            out[..=max_lag].iter().map(|v| v / zero).collect()
        } else {
            vec![0.0; max_lag + 1]
        };
        frames.push(row);
    }
    Tempogram {
        frames,
        step,
        frame_rate: fr,
    }
}

fn log_prior(bpm: f64, params: &TempoParams) -> f64 {
    let z = (bpm.log2() - params.prior_bpm.log2()) / params.prior_octaves.max(1e-3);
    -0.5 * z * z
}

fn lag_range(fr: f64, params: &TempoParams, max_lag: usize) -> (usize, usize) {
    let lo = ((60.0 * fr / params.max_bpm).floor() as usize).max(1);
    let hi = ((60.0 * fr / params.min_bpm).ceil() as usize).min(max_lag.saturating_sub(1));
    (lo, hi.max(lo))
}

/// Refines an integer peak position with a parabola through its neighbours.
fn parabolic(values: &[f32], i: usize) -> f64 {
    if i == 0 || i + 1 >= values.len() {
        return i as f64;
    }
    let (a, b, c) = (
        f64::from(values[i - 1]),
        f64::from(values[i]),
        f64::from(values[i + 1]),
    );
    let denom = a - 2.0 * b + c;
    if denom.abs() < 1e-12 {
        return i as f64;
    }
    i as f64 + (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
}

/// The global tempo in BPM (librosa's method: the mean tempogram times a log-normal prior),
/// or `None` when the envelope has no periodicity at all (silence).
pub fn estimate_tempo(tg: &Tempogram, params: &TempoParams) -> Option<f64> {
    let max_lag = tg.frames.first()?.len().checked_sub(1)?;
    let mut mean = vec![0.0f32; max_lag + 1];
    let mut used = 0usize;
    for row in &tg.frames {
        if row[0] > 0.0 {
            used += 1;
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
    }
    if used == 0 {
        return None;
    }
    mean.iter_mut().for_each(|m| *m /= used as f32);
    let (lo, hi) = lag_range(tg.frame_rate, params, max_lag);
    let weighted: Vec<f32> = (0..=max_lag)
        .map(|lag| {
            if lag < lo || lag > hi {
                return f32::NEG_INFINITY;
            }
            let prior = log_prior(tg.bpm_of_lag(lag as f64), params).exp() as f32;
            mean[lag].max(0.0) * prior
        })
        .collect();
    let mut best = (lo..=hi).max_by(|&a, &b| weighted[a].total_cmp(&weighted[b]))?;
    if weighted[best] <= 0.0 {
        return None;
    }
    // Metrical-level check: when the pulse at half the chosen lag is (nearly) as strong as at
    // the chosen lag, every subdivision is as strong as the beat (a metronome, not a beat with
    // weaker off-beats), so the faster level is the beat; the prior alone would halve it.
    let half = best / 2;
    if half >= lo && best >= 4 {
        let cand = (half.saturating_sub(1).max(lo)..=(half + 1).min(hi))
            .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))?;
        if mean[cand] >= params.subdivision_ratio as f32 * mean[best] {
            best = cand;
        }
    }
    let lag = if best > lo && best < hi {
        parabolic(&mean, best)
    } else {
        best as f64
    };
    Some(tg.bpm_of_lag(lag))
}

/// The local beat period in envelope frames, one value per envelope frame (`n_frames`), from a
/// Viterbi path through the tempogram (observations: log autocorrelation plus the log prior;
/// transitions: `tempo_inertia` times the squared log ratio of consecutive periods).
/// Returns `None` for silence.
pub fn local_tempo(tg: &Tempogram, n_frames: usize, params: &TempoParams) -> Option<Vec<f64>> {
    let max_lag = tg.frames.first()?.len().checked_sub(1)?;
    let (lo, hi) = lag_range(tg.frame_rate, params, max_lag);
    if hi <= lo {
        return None;
    }
    let lags: Vec<usize> = (lo..=hi).collect();
    let s = lags.len();
    let prior: Vec<f64> = lags
        .iter()
        .map(|&l| log_prior(tg.bpm_of_lag(l as f64), params))
        .collect();
    let trans: Vec<f64> = (0..s * s)
        .map(|k| {
            let (a, b) = (lags[k / s] as f64, lags[k % s] as f64);
            let r = (a / b).ln();
            -params.tempo_inertia * r * r
        })
        .collect();
    let obs = |row: &[f32], k: usize| -> f64 {
        if row[0] <= 0.0 {
            return prior[k];
        }
        f64::from(row[lags[k]].max(1e-3)).ln() + prior[k]
    };
    let t = tg.frames.len();
    let mut score: Vec<f64> = (0..s).map(|k| obs(&tg.frames[0], k)).collect();
    let mut back = vec![0u16; t * s];
    let mut next = vec![0.0f64; s];
    let mut arg = vec![0u64; s];
    let (mut spare_b, mut spare_a) = (vec![0.0f64; s], vec![0u64; s]);
    for j in 1..t {
        let row = &tg.frames[j];
        Viterbi.step(
            &score,
            &trans,
            &mut next,
            &mut arg,
            (&mut spare_b, &mut spare_a),
        );
        for (b, &a) in back[j * s..(j + 1) * s].iter_mut().zip(&arg) {
            *b = a as u16;
        }
        for (k, n) in next.iter_mut().enumerate() {
            *n += obs(row, k);
        }
        // Keep the scores bounded on very long inputs.
        let top = next.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for (sc, n) in score.iter_mut().zip(&next) {
            *sc = n - top;
        }
    }
    if !tg.frames.iter().any(|r| r[0] > 0.0) {
        return None;
    }
    let mut k = (0..s).max_by(|&a, &b| score[a].total_cmp(&score[b]))?;
    let mut path = vec![0.0f64; t];
    for j in (0..t).rev() {
        let row = &tg.frames[j];
        let lag = lags[k];
        path[j] = if lag > lo && lag < hi && row[0] > 0.0 {
            parabolic(row, lag)
        } else {
            lag as f64
        };
        k = usize::from(back[j * s + k]);
    }
    let step = tg.step as f64;
    let per_frame = (0..n_frames)
        .map(|i| {
            let x = i as f64 / step;
            let j = (x.floor() as usize).min(t - 1);
            let j1 = (j + 1).min(t - 1);
            let f = (x - j as f64).clamp(0.0, 1.0);
            path[j] * (1.0 - f) + path[j1] * f
        })
        .collect();
    Some(per_frame)
}

/// One Viterbi step, `Viterbi.step` (AVX2 when the CPU has it): for every state `k`, the best
/// `score[p] + trans[p * s + k]` over predecessors `p` into `best[k]` and that `p` into `arg[k]`
/// (ties keep the first `p`).
/// Predecessors outermost, so that the inner loop runs over independent states and vectorises.
/// Each predecessor reads one pair of buffers and writes the other (`spare` is the second
/// pair): updating in place, the compiler turns the conditional update into masked stores,
/// which are microcoded (slow) on AMD CPUs.
struct Viterbi;

impl Viterbi {
    crate::simd::avx2_method!(
        fn step / step_avx2 => step_impl(
            &self,
            score: &[f64],
            trans: &[f64],
            best: &mut [f64],
            arg: &mut [u64],
            spare: (&mut [f64], &mut [u64])
        )
    );

    #[inline(always)]
    fn step_impl(
        &self,
        score: &[f64],
        trans: &[f64],
        best: &mut [f64],
        arg: &mut [u64],
        spare: (&mut [f64], &mut [u64]),
    ) {
        let s = best.len();
        best.fill(f64::NEG_INFINITY);
        arg.fill(0);
        let (mut cur_b, mut cur_a) = (best, arg);
        let (mut new_b, mut new_a) = spare;
        let mut in_spare = false;
        for (p, (sc, tr)) in score.iter().zip(trans.chunks_exact(s)).enumerate() {
            let p = p as u64;
            let olds = cur_b.iter().zip(cur_a.iter()).zip(tr);
            let news = new_b.iter_mut().zip(new_a.iter_mut());
            for ((nb, na), ((&b, &a), &t)) in news.zip(olds) {
                let v = sc + t;
                let take = v > b;
                *nb = if take { v } else { b };
                *na = if take { p } else { a };
            }
            std::mem::swap(&mut cur_b, &mut new_b);
            std::mem::swap(&mut cur_a, &mut new_a);
            in_spare = !in_spare;
        }
        if in_spare {
            // The result is in the spare buffers, which `new_*` now name the originals of.
            new_b.copy_from_slice(cur_b);
            new_a.copy_from_slice(cur_a);
        }
    }
}

/// Beat frames by dynamic programming (Ellis 2007): each beat maximises the onset strength
/// (smoothed around the beat) plus the best predecessor score, minus `tightness` times the
/// squared log ratio of the interval to the local `period` (in frames, one per envelope frame).
pub fn track_beats(env: &Envelope, period: &[f64], params: &TempoParams) -> Vec<usize> {
    let n = env.values.len().min(period.len());
    if n == 0 {
        return Vec::new();
    }
    let x = &env.values[..n];
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let std = var.sqrt();
    if std.is_nan() || std <= 1e-9 || !std.is_finite() {
        return Vec::new();
    }
    // Local score: the normalised envelope smoothed by a Gaussian a fraction of a beat wide.
    let mut sorted: Vec<f64> = period[..n].to_vec();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted[n / 2].max(1.0);
    let half = typical.round() as isize;
    let kernel: Vec<f64> = (-half..=half)
        .map(|k| (-0.5 * (k as f64 * 32.0 / typical).powi(2)).exp())
        .collect();
    let norm: Vec<f64> = x.iter().map(|&v| f64::from(v) / std).collect();
    let local: Vec<f64> = (0..n as isize)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .filter_map(|(k, w)| {
                    let idx = i + k as isize - half;
                    (idx >= 0 && (idx as usize) < n).then(|| w * norm[idx as usize])
                })
                .sum()
        })
        .collect();

    let mut cum = vec![0.0f64; n];
    let mut backlink = vec![usize::MAX; n];
    let max_local = local.iter().copied().fold(0.0, f64::max);
    let mut started = false;
    // `ln_d[d] = ln(d)`: the log interval ratio is `ln_d[i - prev] - ln(p)`, one `ln` per
    // frame instead of one per candidate predecessor.
    let mut ln_d: Vec<f64> = Vec::new();
    for i in 0..n {
        let p = period[i].max(1.0);
        let lo = i as f64 - 2.0 * p;
        let hi = i as f64 - p / 2.0;
        let (mut best, mut arg) = (f64::NEG_INFINITY, usize::MAX);
        if hi >= 0.0 {
            let a = lo.round().max(0.0) as usize;
            let b = hi.round().max(0.0) as usize;
            let b = b.min(i.saturating_sub(1));
            let ln_p = p.ln();
            if ln_d.len() <= i - a.min(b) {
                ln_d.extend((ln_d.len()..=i - a.min(b)).map(|d| (d as f64).ln()));
            }
            for (prev, &c) in cum.iter().enumerate().take(b + 1).skip(a) {
                let r = ln_d[i - prev] - ln_p;
                let v = c - params.tightness * r * r;
                if v > best {
                    best = v;
                    arg = prev;
                }
            }
        }
        // Before the first real onset, beats may start anywhere without a predecessor.
        if !started || arg == usize::MAX {
            cum[i] = local[i];
            backlink[i] = usize::MAX;
        } else {
            cum[i] = local[i] + best;
            backlink[i] = arg;
        }
        if local[i] > 0.01 * max_local {
            started = true;
        }
    }

    // The last beat: the last local maximum of the cumulative score that reaches half the
    // median of all local maxima.
    let maxima: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&i| cum[i] > cum[i - 1] && cum[i] >= cum[i + 1])
        .collect();
    if maxima.is_empty() {
        return Vec::new();
    }
    let mut vals: Vec<f64> = maxima.iter().map(|&i| cum[i]).collect();
    vals.sort_by(f64::total_cmp);
    let median = vals[vals.len() / 2];
    let Some(&last) = maxima.iter().rev().find(|&&i| cum[i] >= 0.5 * median) else {
        return Vec::new();
    };
    let mut beats = vec![last];
    let mut i = last;
    while backlink[i] != usize::MAX {
        i = backlink[i];
        beats.push(i);
    }
    beats.reverse();
    trim_weak_beats(&local, beats)
}

/// Drops leading and trailing beats whose smoothed local score is under half the RMS of all
/// beats' scores (librosa's trimming): they are usually the DP running into silence.
fn trim_weak_beats(local: &[f64], beats: Vec<usize>) -> Vec<usize> {
    if beats.len() < 3 {
        return beats;
    }
    let raw: Vec<f64> = beats.iter().map(|&b| local[b]).collect();
    let w = [0.25, 0.75, 1.0, 0.75, 0.25];
    let smooth: Vec<f64> = (0..raw.len() as isize)
        .map(|i| {
            w.iter()
                .enumerate()
                .filter_map(|(k, w)| {
                    let j = i + k as isize - 2;
                    (j >= 0 && (j as usize) < raw.len()).then(|| w * raw[j as usize])
                })
                .sum()
        })
        .collect();
    let rms = (smooth.iter().map(|v| v * v).sum::<f64>() / smooth.len() as f64).sqrt();
    let threshold = 0.5 * rms;
    let start = smooth.iter().position(|&v| v >= threshold).unwrap_or(0);
    let end = smooth
        .iter()
        .rposition(|&v| v >= threshold)
        .map_or(beats.len(), |e| e + 1);
    beats[start..end.max(start)].to_vec()
}

/// Per-frame features that help find bar lines: accent (onset strength), low-frequency
/// onset strength and a coarse spectral shape (log energies in a few bands).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarFeatures {
    /// Onset strength of the lowest bands (kick drums, bass notes), one per envelope frame.
    pub low_onset: Vec<f32>,
    /// Log band energies, `bands` values per envelope frame, row after row.
    pub bands: Vec<f32>,
    /// Number of bands per frame in [`BarFeatures::bands`].
    pub n_bands: usize,
}

/// Downbeats: the beats (indices into `beats`) that start bars. Tries meters 3 and 4 and every
/// phase, scoring how much accent, low-frequency onsets and harmonic change (between the beat
/// segments before and after) fall on the candidate bar lines rather than elsewhere.
/// Needs at least two bars of beats; returns an empty list otherwise.
pub fn downbeats(env: &Envelope, features: &BarFeatures, beats: &[usize]) -> Vec<usize> {
    if beats.len() < 8 {
        return Vec::new();
    }
    let n = env.values.len();
    // The onset's total strength over +-2 frames: a peak split between two frames (the onset
    // falls between frame centres) counts as much as one that falls on a frame.
    let at = |v: &[f32], b: usize| -> f64 {
        let lo = b.saturating_sub(2);
        let hi = (b + 3).min(v.len());
        v.get(lo..hi)
            .map(|s| s.iter().map(|&x| f64::from(x)).sum::<f64>())
            .unwrap_or(0.0)
    };
    let accent: Vec<f64> = beats.iter().map(|&b| at(&env.values, b)).collect();
    let low: Vec<f64> = beats.iter().map(|&b| at(&features.low_onset, b)).collect();
    // Harmonic change: distance between the mean band shape of the beat before and after.
    let nb = features.n_bands;
    let segment_mean = |a: usize, b: usize| -> Vec<f64> {
        let mut m = vec![0.0f64; nb];
        if nb == 0 || b <= a {
            return m;
        }
        let mut count = 0usize;
        for t in a..b.min(n) {
            if let Some(row) = features.bands.get(t * nb..(t + 1) * nb) {
                for (x, v) in m.iter_mut().zip(row) {
                    *x += f64::from(*v);
                }
                count += 1;
            }
        }
        if count > 0 {
            m.iter_mut().for_each(|x| *x /= count as f64);
        }
        m
    };
    let segs: Vec<Vec<f64>> = beats.windows(2).map(|w| segment_mean(w[0], w[1])).collect();
    let change: Vec<f64> = (0..beats.len())
        .map(|i| {
            if i == 0 || i >= segs.len() {
                return 0.0;
            }
            let (a, b) = (&segs[i - 1], &segs[i]);
            a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / nb.max(1) as f64
        })
        .collect();
    let z = |v: &[f64]| -> Vec<f64> {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        if s > 1e-12 {
            v.iter().map(|x| (x - m) / s).collect()
        } else {
            vec![0.0; v.len()]
        }
    };
    let (za, zl, zc) = (z(&accent), z(&low), z(&change));
    let score: Vec<f64> = (0..beats.len())
        // Harmonic change counts less: an accent right after a beat makes the change look the
        // same on both sides of that beat, whereas accents point at one beat.
        .map(|i| za[i] + 0.75 * zl[i] + 0.5 * zc[i])
        .collect();
    let mut best = (f64::NEG_INFINITY, 4usize, 0usize);
    for meter in [4usize, 3] {
        for phase in 0..meter {
            let (mut on, mut n_on, mut off, mut n_off) = (0.0, 0usize, 0.0, 0usize);
            for (i, s) in score.iter().enumerate() {
                if i % meter == phase {
                    on += s;
                    n_on += 1;
                } else {
                    off += s;
                    n_off += 1;
                }
            }
            if n_on == 0 || n_off == 0 {
                continue;
            }
            let contrast = on / n_on as f64 - off / n_off as f64;
            // Small preference for 4/4, the most common meter, when the evidence is equal.
            let contrast = if meter == 4 {
                contrast + 0.05
            } else {
                contrast
            };
            if contrast > best.0 {
                best = (contrast, meter, phase);
            }
        }
    }
    let (_, meter, phase) = best;
    (0..beats.len()).filter(|i| i % meter == phase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic envelope with impulses every `period_s`, plus a little noise floor.
    fn pulse_env(period_s: &dyn Fn(f64) -> f64, dur_s: f64, fr: f64) -> (Envelope, Vec<f64>) {
        let n = (dur_s * fr) as usize;
        let mut values = vec![0.01f32; n];
        let mut t = 0.5;
        let mut times = Vec::new();
        while t < dur_s - 0.1 {
            let i = (t * fr).round() as usize;
            values[i] = 1.0;
            if i + 1 < n {
                values[i + 1] = 0.4;
            }
            times.push(t);
            t += period_s(t);
        }
        (
            Envelope {
                values,
                frame_rate: fr,
            },
            times,
        )
    }

    #[test]
    fn onsets_are_found_at_pulses() {
        let fr = 22050.0 / 512.0;
        let (env, times) = pulse_env(&|_| 0.37, 10.0, fr);
        let onsets = detect_onsets(&env, &OnsetDetectParams::default());
        assert_eq!(onsets.len(), times.len());
        for (o, t) in onsets.iter().zip(&times) {
            assert!((env.time_of(*o) - t).abs() < 0.03);
        }
    }

    #[test]
    fn silence_has_no_onsets_tempo_or_beats() {
        let env = Envelope {
            values: vec![0.0; 1000],
            frame_rate: 43.0,
        };
        assert!(detect_onsets(&env, &OnsetDetectParams::default()).is_empty());
        let p = TempoParams::default();
        let tg = tempogram(&env, &p);
        assert_eq!(estimate_tempo(&tg, &p), None);
        assert_eq!(local_tempo(&tg, 1000, &p), None);
        assert!(track_beats(&env, &vec![20.0; 1000], &p).is_empty());
    }

    #[test]
    fn tempo_of_pulse_trains() {
        let fr = 22050.0 / 512.0;
        for bpm in [70.0, 90.0, 120.0, 150.0] {
            let (env, _) = pulse_env(&|_| 60.0 / bpm, 30.0, fr);
            let p = TempoParams::default();
            let tg = tempogram(&env, &p);
            let est = estimate_tempo(&tg, &p).unwrap();
            assert!((est - bpm).abs() / bpm < 0.03, "{bpm}: {est}");
        }
    }

    #[test]
    fn local_tempo_follows_a_step_change() {
        let fr = 22050.0 / 512.0;
        let (env, times) = pulse_env(&|t| if t < 20.0 { 0.5 } else { 0.4 }, 40.0, fr);
        let p = TempoParams::default();
        let tg = tempogram(&env, &p);
        let period = local_tempo(&tg, env.values.len(), &p).unwrap();
        let at = |s: f64| 60.0 * fr / period[(s * fr) as usize];
        assert!((at(8.0) - 120.0).abs() < 4.0, "{}", at(8.0));
        assert!((at(32.0) - 150.0).abs() < 5.0, "{}", at(32.0));
        let beats = track_beats(&env, &period, &p);
        let hits = times
            .iter()
            .filter(|&&t| beats.iter().any(|&b| (env.time_of(b) - t).abs() < 0.07))
            .count();
        assert!(
            hits as f64 >= 0.95 * times.len() as f64,
            "{hits}/{}",
            times.len()
        );
    }
}
