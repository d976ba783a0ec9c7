//! Loudness per ITU-R BS.1770-4 / EBU R128: integrated loudness, loudness range (EBU Tech 3342)
//! and true peak (4x oversampling, BS.1770-4 Annex 2), streamed over the original channels.
//!
//! [`LoudnessMeter`] keeps O(channels) filter state plus one `f64` per 100 ms of audio, so an
//! hour of audio costs about 300 kB whatever the sample rate.

use crate::kweight::{KFilter, KState};
use crate::resample::bessel_i0;

/// Loudness figures of a whole programme. `None` means "not defined": digital silence, or too
/// little audio above the gates (-70 LUFS absolute) to measure.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Loudness {
    /// Gated integrated loudness, LUFS (BS.1770-4: 400 ms blocks, 75 % overlap, absolute gate
    /// -70 LUFS, relative gate -10 LU).
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU (EBU Tech 3342: 3 s short-term loudness every 100 ms, gates -70 LUFS
    /// and -20 LU, 95th minus 10th percentile).
    pub range_lu: Option<f64>,
    /// Maximum true peak over all channels, dBTP (4x oversampled).
    pub true_peak_dbtp: Option<f64>,
    /// Maximum sample peak over all channels, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Highest momentary (400 ms) loudness, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Highest short-term (3 s) loudness, LUFS.
    pub max_short_term_lufs: Option<f64>,
}

/// A biquad's coefficients (run as part of [`KFilter`]).
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

/// The two K-weighting stages (high shelf, then high pass) for any sample rate, derived from
/// their analogue prototypes with the bilinear transform; at 48 kHz they equal the
/// coefficients printed in BS.1770-4.
fn k_weighting(sample_rate: u32) -> [Biquad; 2] {
    let fs = f64::from(sample_rate);
    let shelf = {
        let f0 = 1_681.974_450_955_533;
        let gain_db = 3.999_843_853_973_347;
        let q = 0.707_175_236_955_419_6;
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let vh = 10f64.powf(gain_db / 20.0);
        let vb = vh.powf(0.499_666_774_154_541_6);
        let a0 = 1.0 + k / q + k * k;
        Biquad {
            b: [
                (vh + vb * k / q + k * k) / a0,
                2.0 * (k * k - vh) / a0,
                (vh - vb * k / q + k * k) / a0,
            ],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    };
    let highpass = {
        let f0 = 38.135_470_876_024_44;
        let q = 0.500_327_037_323_877_3;
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let a0 = 1.0 + k / q + k * k;
        Biquad {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    };
    [shelf, highpass]
}

/// Taps per polyphase branch of the true-peak interpolator.
const TP_TAPS: usize = 16;
/// Oversampling factor for true peak.
const TP_FACTOR: usize = 4;

/// The three fractional-delay branches (1/4, 2/4, 3/4) of a Kaiser-windowed sinc interpolator;
/// the integer branch is the input itself, so the sample peak is part of the true peak.
fn true_peak_filter() -> [[f32; TP_TAPS]; TP_FACTOR - 1] {
    let len = TP_FACTOR * TP_TAPS; // taps 0..=len, centre at len / 2
    let centre = (len / 2) as f64;
    let beta = 7.0;
    let mut out = [[0.0f32; TP_TAPS]; TP_FACTOR - 1];
    for (p, branch) in out.iter_mut().enumerate() {
        let phase = p + 1;
        let mut taps = [0.0f64; TP_TAPS];
        for (k, tap) in taps.iter_mut().enumerate() {
            let n = (TP_FACTOR * k + phase) as f64;
            let x = (n - centre) / TP_FACTOR as f64;
            let sinc = if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = (n - centre) / centre;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
            *tap = sinc * w;
        }
        let sum: f64 = taps.iter().sum();
        for (b, t) in branch.iter_mut().zip(taps) {
            *b = (t / sum) as f32;
        }
    }
    out
}

/// Per-channel gains of BS.1770-4 for the common layouts (L, R, C, LFE, Ls, Rs): surround
/// channels weigh 1.41, the LFE channel of a 5.1 stream is left out.
fn channel_gains(channels: usize) -> Vec<f64> {
    match channels {
        5 => vec![1.0, 1.0, 1.0, 1.41, 1.41],
        6 => vec![1.0, 1.0, 1.0, 0.0, 1.41, 1.41],
        n => vec![1.0; n],
    }
}

/// Streaming BS.1770-4 / EBU R128 meter: feed interleaved chunks with [`push`](Self::push),
/// then call [`finish`](Self::finish).
///
/// ```
/// use encore_audio::LoudnessMeter;
///
/// // 20 s of a 1 kHz sine at -23 dBFS on both channels reads -23.0 LUFS (EBU Tech 3341 case 1).
/// let sr = 48_000;
/// let amp = 10f32.powf(-23.0 / 20.0);
/// let mut meter = LoudnessMeter::new(sr, 2);
/// let frames: Vec<f32> = (0..sr as usize * 20)
///     .flat_map(|i| {
///         let v = amp * (std::f32::consts::TAU * 1000.0 * i as f32 / sr as f32).sin();
///         [v, v]
///     })
///     .collect();
/// meter.push(&frames);
/// let lufs = meter.finish().integrated_lufs.unwrap();
/// assert!((lufs + 23.0).abs() < 0.1, "{lufs}");
/// ```
#[derive(Debug, Clone)]
pub struct LoudnessMeter {
    sample_rate: u32,
    channels: usize,
    gains: Vec<f64>,
    /// The K-weighting cascade as one 4th-order recursion in block form.
    filter: KFilter,
    /// Per channel: the recursion's last inputs and outputs.
    state: Vec<KState>,
    /// Per channel of a pair: the samples being filtered, as `f64`.
    k_scratch: [Vec<f64>; 2],
    /// Weighted sum of squares in the current 100 ms sub-block.
    acc: f64,
    /// Samples (frames) in the current sub-block, and the index of the sub-block.
    acc_frames: u64,
    sub_index: u64,
    /// Mean-square energy of every completed 100 ms sub-block.
    sub_blocks: Vec<f64>,
    tp_filter: [[f32; TP_TAPS]; TP_FACTOR - 1],
    tp_bounds: TruePeakBounds,
    /// Per channel: the last `TP_TAPS - 1` samples, for the interpolator.
    tp_history: Vec<Vec<f32>>,
    /// Per channel and block of [`TP_BLOCK`] frames (`[c * blocks + block]`), the largest
    /// absolute sample.
    tp_block_max: Vec<f32>,
    true_peak: f32,
    sample_peak: f32,
}

/// Outputs of the true-peak interpolator computed together (one block).
const TP_BLOCK: usize = 16;
/// Blocks whose bounds are tested together before any is looked at one by one.
const TP_GROUP: usize = 8;

/// Upper bounds of the interpolator's output, used to skip blocks that cannot raise the true
/// peak. Output `m` of branch `p` is `sum_k h_p[k] x[m - k]`; its two largest taps weigh the
/// two samples it lies between (`x[m - 7]`, `x[m - 8]`).
#[derive(Debug, Clone, Copy)]
struct TruePeakBounds {
    /// Largest L1 norm of a branch: `|y| <= l1 * max|x|` over the filter's window.
    l1: f32,
    /// Per branch, `|h_p[7]|` and `|h_p[8]|`.
    centre: [[f32; 2]; TP_FACTOR - 1],
    /// Largest L1 norm of a branch without those two taps.
    rest: f32,
}

/// Relative margin on the bounds: the interpolator runs in `f32`, so a computed output can
/// exceed its exact value by a few ulps times the taps' L1 norm.
const TP_BOUND_MARGIN: f32 = 1.0 + 1e-4;

impl TruePeakBounds {
    fn new(filter: &[[f32; TP_TAPS]; TP_FACTOR - 1]) -> Self {
        let l1 = |b: &[f32; TP_TAPS]| b.iter().map(|t| t.abs()).sum::<f32>();
        let centre = filter.map(|b| [b[TP_TAPS / 2 - 1].abs(), b[TP_TAPS / 2].abs()]);
        let rest = filter
            .iter()
            .zip(&centre)
            .map(|(b, c)| (l1(b) - c[0] - c[1]).max(0.0))
            .fold(0.0f32, f32::max);
        TruePeakBounds {
            l1: filter.iter().map(l1).fold(1.0f32, f32::max) * TP_BOUND_MARGIN,
            centre,
            rest: rest * TP_BOUND_MARGIN,
        }
    }
}

impl LoudnessMeter {
    /// A meter for `channels` interleaved channels at `sample_rate` Hz (both at least 1).
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        let channels = channels.max(1);
        let sample_rate = sample_rate.max(1);
        let tp_filter = true_peak_filter();
        LoudnessMeter {
            sample_rate,
            channels,
            gains: channel_gains(channels),
            filter: {
                let [shelf, hp] = k_weighting(sample_rate);
                KFilter::new(shelf.b, shelf.a, hp.a)
            },
            state: vec![KState::default(); channels],
            k_scratch: [Vec::new(), Vec::new()],
            acc: 0.0,
            acc_frames: 0,
            sub_index: 0,
            sub_blocks: Vec::new(),
            tp_bounds: TruePeakBounds::new(&tp_filter),
            tp_filter,
            tp_history: vec![vec![0.0; TP_TAPS - 1]; channels],
            tp_block_max: Vec::new(),
            true_peak: 0.0,
            sample_peak: 0.0,
        }
    }

    /// Frames in sub-block `k` (100 ms, with fractional lengths spread evenly).
    fn sub_block_len(&self, k: u64) -> u64 {
        let sr = u64::from(self.sample_rate);
        ((k + 1) * sr).div_ceil(10) - (k * sr).div_ceil(10)
    }

    /// Feeds interleaved samples (a trailing partial frame is ignored).
    pub fn push(&mut self, interleaved: &[f32]) {
        let ch = self.channels;
        let frames = interleaved.len() / ch;
        let interleaved = &interleaved[..frames * ch];
        self.update_true_peak(interleaved);
        let mut i = 0;
        while i < frames {
            let len = self.sub_block_len(self.sub_index);
            let take = ((len - self.acc_frames) as usize).min(frames - i);
            self.acc += self.k_weighted_energy(&interleaved[i * ch..(i + take) * ch]);
            self.acc_frames += take as u64;
            i += take;
            if self.acc_frames == len {
                self.sub_blocks.push(self.acc / len as f64);
                self.acc = 0.0;
                self.acc_frames = 0;
                self.sub_index += 1;
            }
        }
        // Flush denormals so silence after sound stays fast.
        for st in &mut self.state {
            st.flush_denormals();
        }
    }

    /// K-weights `frames` (interleaved, whole frames) and returns the sum over frames of the
    /// channel-weighted squares. Channels are filtered two at a time, so that their recursions
    /// overlap.
    fn k_weighted_energy(&mut self, frames: &[f32]) -> f64 {
        let ch = self.channels;
        let mut sum = 0.0;
        let mut c = 0;
        while c < ch {
            let n = if c + 1 < ch { 2 } else { 1 };
            let g = &self.gains[c..c + n];
            if g.iter().any(|&g| g != 0.0) {
                let s = self.filter.energy(
                    frames,
                    ch,
                    c,
                    &mut self.state[c..c + n],
                    &mut self.k_scratch,
                );
                sum += g.iter().zip(s).map(|(g, s)| g * s).sum::<f64>();
            }
            c += n;
        }
        sum
    }

    crate::simd::avx2_method!(
        /// Updates the sample peak and the 4x-oversampled true peak. Every sample is a point
        /// of the oversampled signal, so the chunk's sample peak is first taken as a lower
        /// bound; then a block of [`TP_BLOCK`] interpolated outputs is only computed when an
        /// upper bound of it exceeds the peak so far (an exact bound, not an approximation: the
        /// result equals computing every output). Block maxima are read from the interleaved
        /// samples; only a block that needs a closer look is copied out, with the history
        /// before it.
        fn update_true_peak / update_true_peak_avx2 => update_true_peak_impl(
            &mut self, interleaved: &[f32]
        )
    );

    #[inline(always)]
    fn update_true_peak_impl(&mut self, interleaved: &[f32]) {
        let ch = self.channels;
        let frames = interleaved.len() / ch;
        if frames == 0 {
            return;
        }
        let hist = TP_TAPS - 1;
        let nb = frames.div_ceil(TP_BLOCK);
        block_abs_max(interleaved, ch, &mut self.tp_block_max);
        let peak = self.tp_block_max.iter().fold(0.0f32, |m, &v| m.max(v));
        self.sample_peak = self.sample_peak.max(peak);
        self.true_peak = self.true_peak.max(peak);
        let bounds = self.tp_bounds;
        // Channel c of frames `start - hist .. start + TP_BLOCK`; frames before the chunk come
        // from the history (history[k] is frame k - hist).
        let mut window = [0.0f32; TP_WINDOW];
        for c in 0..ch {
            let history = &mut self.tp_history[c];
            let maxima = &self.tp_block_max[c * nb..(c + 1) * nb];
            // Output m uses frames m - hist ..= m; block b's window lies within blocks b-1, b.
            let window_max = |b: usize| match b.checked_sub(1) {
                Some(p) => select_max(maxima[p], maxima[b]),
                None => select_max(abs_max(history), maxima[0]),
            };
            let mut b = 0;
            while b < nb {
                // Groups of blocks that no bound lets through are skipped in one vectorised
                // test (the same test as below, against the same peak).
                if let (Some(p), Some(cur)) = (b.checked_sub(1), maxima.get(b..b + TP_GROUP)) {
                    let prev = &maxima[p..p + TP_GROUP];
                    let l1 = bounds.l1;
                    let tp = self.true_peak;
                    let hit = cur
                        .iter()
                        .zip(prev)
                        .fold(false, |h, (&x, &y)| h | (select_max(x, y) * l1 > tp));
                    if !hit {
                        b += TP_GROUP;
                        continue;
                    }
                }
                let group_end = (b + TP_GROUP).min(nb);
                for b in b..group_end {
                    let window_max = window_max(b);
                    if window_max * bounds.l1 <= self.true_peak {
                        continue;
                    }
                    let start = b * TP_BLOCK;
                    let len = TP_BLOCK.min(frames - start);
                    let slots = &mut window[..hist + len];
                    let from_chunk = match start.checked_sub(hist) {
                        Some(_) => &mut slots[..],
                        None => {
                            slots[..hist - start].copy_from_slice(&history[start..]);
                            &mut slots[hist - start..]
                        }
                    };
                    let first = start.saturating_sub(hist);
                    let samples = interleaved[first * ch + c..].iter().step_by(ch);
                    for (slot, &v) in from_chunk.iter_mut().zip(samples) {
                        *slot = v;
                    }
                    let end = hist + len;
                    if centre_bound_exceeds(&window, hist, end, window_max, &bounds, self.true_peak)
                    {
                        let peak = interpolated_abs_max(&self.tp_filter, &window, len);
                        self.true_peak = self.true_peak.max(peak);
                    }
                }
                b = group_end;
            }
            // The last `hist` frames of history + chunk become the history.
            if frames >= hist {
                for (k, h) in history.iter_mut().enumerate() {
                    *h = interleaved[(frames - hist + k) * ch + c];
                }
            } else {
                history.copy_within(frames.., 0);
                for (k, h) in history[hist - frames..].iter_mut().enumerate() {
                    *h = interleaved[k * ch + c];
                }
            }
        }
    }

    /// Loudness of `blocks` consecutive sub-blocks ending at `end` (exclusive), in LUFS.
    fn window_energies(&self, blocks: usize) -> Vec<f64> {
        let s = &self.sub_blocks;
        if s.len() < blocks {
            return Vec::new();
        }
        let mut sum: f64 = s[..blocks].iter().sum();
        let mut out = Vec::with_capacity(s.len() - blocks + 1);
        out.push(sum / blocks as f64);
        for i in blocks..s.len() {
            sum += s[i] - s[i - blocks];
            out.push((sum / blocks as f64).max(0.0));
        }
        out
    }

    /// The figures for everything pushed so far.
    pub fn finish(&self) -> Loudness {
        let lufs = |e: f64| -0.691 + 10.0 * e.log10();
        let energy_of = |l: f64| 10f64.powf((l + 0.691) / 10.0);
        let defined = |v: f64| v.is_finite().then_some(v);

        // Integrated: 400 ms blocks every 100 ms.
        let momentary = self.window_energies(4);
        let abs_gate = energy_of(-70.0);
        let above: Vec<f64> = momentary
            .iter()
            .copied()
            .filter(|&e| e > abs_gate)
            .collect();
        let integrated = if above.is_empty() {
            None
        } else {
            let mean = above.iter().sum::<f64>() / above.len() as f64;
            let rel_gate = mean * energy_of(-10.0) / energy_of(0.0);
            let gated: Vec<f64> = above.into_iter().filter(|&e| e > rel_gate).collect();
            (!gated.is_empty())
                .then(|| lufs(gated.iter().sum::<f64>() / gated.len() as f64))
                .and_then(defined)
        };

        // Loudness range: 3 s short-term loudness every 100 ms.
        let short = self.window_energies(30);
        let above: Vec<f64> = short.iter().copied().filter(|&e| e > abs_gate).collect();
        let range = if above.is_empty() {
            None
        } else {
            let mean = above.iter().sum::<f64>() / above.len() as f64;
            let rel_gate = mean * energy_of(-20.0) / energy_of(0.0);
            let mut gated: Vec<f64> = above
                .into_iter()
                .filter(|&e| e > rel_gate)
                .map(lufs)
                .collect();
            gated.sort_by(f64::total_cmp);
            (!gated.is_empty()).then(|| percentile(&gated, 0.95) - percentile(&gated, 0.10))
        };

        let max_db = |v: &[f64]| {
            v.iter()
                .copied()
                .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))))
                .map(lufs)
                .and_then(defined)
        };
        let db = |p: f32| (p > 0.0).then(|| 20.0 * f64::from(p).log10());
        Loudness {
            integrated_lufs: integrated,
            range_lu: range,
            true_peak_dbtp: db(self.true_peak),
            sample_peak_dbfs: db(self.sample_peak),
            max_momentary_lufs: max_db(&momentary),
            max_short_term_lufs: max_db(&short),
        }
    }
}

/// Per channel and block of [`TP_BLOCK`] frames of `interleaved`, the largest absolute sample,
/// into `out` as `[c * blocks + block]` (NaN is ignored).
#[inline(always)]
fn block_abs_max(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    let nb = (interleaved.len() / channels).div_ceil(TP_BLOCK);
    out.clear();
    out.resize(channels * nb, 0.0);
    match channels {
        1 => {
            for (o, block) in out.iter_mut().zip(interleaved.chunks(TP_BLOCK)) {
                *o = abs_max(block);
            }
        }
        2 => {
            let (left, right) = out.split_at_mut(nb);
            let blocks = interleaved.chunks(2 * TP_BLOCK);
            for ((l, r), block) in left.iter_mut().zip(right.iter_mut()).zip(blocks) {
                // Blocks hold whole frames: even lanes hold the left channel, odd the right.
                let [a, b, c, d, e, f, g, h] = abs_max_lanes(block);
                *l = select_max(select_max(a, c), select_max(e, g));
                *r = select_max(select_max(b, d), select_max(f, h));
            }
        }
        ch => {
            for (b, block) in interleaved.chunks(ch * TP_BLOCK).enumerate() {
                for frame in block.chunks_exact(ch) {
                    for (c, v) in frame.iter().enumerate() {
                        let o = &mut out[c * nb + b];
                        *o = select_max(v.abs(), *o);
                    }
                }
            }
        }
    }
}

/// `a` if it is greater than `b`, else `b` (so a NaN `a` is ignored); cheaper than `f32::max`,
/// which also ignores a NaN `b`.
#[inline(always)]
fn select_max(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Largest absolute value (0 for an empty slice; NaN is ignored).
#[inline(always)]
fn abs_max(values: &[f32]) -> f32 {
    let lanes = abs_max_lanes(values);
    lanes.iter().fold(0.0f32, |m, &v| if v > m { v } else { m })
}

/// Largest absolute value of `values[i]` over every `i` with `i % 8 == lane`, per lane (0 for
/// none; NaN is ignored), in lanes that vectorise.
#[inline(always)]
fn abs_max_lanes(values: &[f32]) -> [f32; 8] {
    let mut lanes = [0.0f32; 8];
    let mut chunks = values.chunks_exact(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            let a = v.abs();
            *l = if a > *l { a } else { *l };
        }
    }
    for (l, v) in lanes.iter_mut().zip(chunks.remainder()) {
        let a = v.abs();
        *l = if a > *l { a } else { *l };
    }
    lanes
}

/// Whether any output `start..end` of the true-peak interpolator may exceed `peak`, by the
/// per-output bound `|h_p[7]| |x[m-7]| + |h_p[8]| |x[m-8]| + rest * window_max`.
#[inline(always)]
fn centre_bound_exceeds(
    buf: &[f32],
    start: usize,
    end: usize,
    window_max: f32,
    bounds: &TruePeakBounds,
    peak: f32,
) -> bool {
    let tail = bounds.rest * window_max;
    let half = TP_TAPS / 2;
    buf[start + 1 - half..end + 1 - half]
        .iter()
        .zip(&buf[start - half..end - half])
        .any(|(a, b)| {
            let (a, b) = (a.abs(), b.abs());
            let centre = bounds
                .centre
                .iter()
                .map(|c| c[0] * a + c[1] * b)
                .fold(0.0f32, f32::max);
            centre * TP_BOUND_MARGIN + tail > peak
        })
}

/// Length of the true-peak interpolator's window: the history before a block, then the block.
const TP_WINDOW: usize = TP_TAPS - 1 + TP_BLOCK;

/// Largest absolute value of the three fractional branches at the first `len` outputs (at most
/// [`TP_BLOCK`]) of the block that starts after the `TP_TAPS - 1` history frames of `window`.
/// Inlined into the dispatched caller, so that it runs in 8-lane AVX2 where the CPU has it.
#[inline(always)]
fn interpolated_abs_max(
    filter: &[[f32; TP_TAPS]; TP_FACTOR - 1],
    window: &[f32; TP_WINDOW],
    len: usize,
) -> f32 {
    let hist = TP_TAPS - 1;
    let mut y = [[0.0f32; TP_BLOCK]; TP_FACTOR - 1];
    // y_p[m] = sum_k h_p[k] * x[m - k], accumulated over k in order. The whole block is always
    // computed (fixed lengths vectorise fully); outputs from `len` on are ignored.
    for k in 0..TP_TAPS {
        let xs = &window[hist - k..hist - k + TP_BLOCK];
        for (branch, taps) in y.iter_mut().zip(filter) {
            let h = taps[k];
            for (out, x) in branch.iter_mut().zip(xs) {
                *out += h * x;
            }
        }
    }
    let len = len.min(TP_BLOCK);
    y.iter().map(|b| abs_max(&b[..len])).fold(0.0f32, f32::max)
}

/// Linear-interpolated percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * (pos - i as f64)
}

/// Measures a whole interleaved buffer.
pub fn loudness(interleaved: &[f32], sample_rate: u32, channels: usize) -> Loudness {
    let mut meter = LoudnessMeter::new(sample_rate, channels);
    meter.push(interleaved);
    meter.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stereo 1 kHz sine segments `(dBFS, seconds)`, identical on both channels.
    fn stereo_sine(sr: u32, segments: &[(f64, f64)]) -> Vec<f32> {
        let mut out = Vec::new();
        let mut i = 0u64;
        for &(db, secs) in segments {
            let amp = 10f64.powf(db / 20.0);
            for _ in 0..(secs * f64::from(sr)).round() as u64 {
                let v = (amp * (std::f64::consts::TAU * 1000.0 * i as f64 / f64::from(sr)).sin())
                    as f32;
                out.push(v);
                out.push(v);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn coefficients_match_bs1770_at_48k() {
        let [shelf, hp] = k_weighting(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(close(shelf.b[0], 1.535_124_859_586_97));
        assert!(close(shelf.b[1], -2.691_696_189_406_38));
        assert!(close(shelf.b[2], 1.198_392_810_852_85));
        assert!(close(shelf.a[0], -1.690_659_293_182_41));
        assert!(close(shelf.a[1], 0.732_480_774_215_85));
        assert!(close(hp.a[0], -1.990_047_454_833_98));
        assert!(close(hp.a[1], 0.990_072_250_366_21));
    }

    #[test]
    fn tech_3341_integrated_cases() {
        // (segments, expected LUFS), EBU Tech 3341 cases 1-5, at several sample rates.
        let cases: &[(&[(f64, f64)], f64)] = &[
            (&[(-23.0, 20.0)], -23.0),
            (&[(-33.0, 20.0)], -33.0),
            (&[(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
            (
                &[
                    (-72.0, 10.0),
                    (-36.0, 10.0),
                    (-23.0, 60.0),
                    (-36.0, 10.0),
                    (-72.0, 10.0),
                ],
                -23.0,
            ),
            (&[(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
        ];
        for sr in [48_000, 44_100] {
            for (k, (segments, expected)) in cases.iter().enumerate() {
                let l = loudness(&stereo_sine(sr, segments), sr, 2);
                let got = l.integrated_lufs.unwrap();
                assert!(
                    (got - expected).abs() <= 0.1,
                    "case {} at {sr}: {got}",
                    k + 1
                );
            }
        }
    }

    #[test]
    fn tech_3342_range_cases() {
        let cases: &[(&[(f64, f64)], f64)] = &[
            (&[(-20.0, 20.0), (-30.0, 20.0)], 10.0),
            (&[(-20.0, 20.0), (-15.0, 20.0)], 5.0),
            (&[(-40.0, 20.0), (-20.0, 20.0)], 20.0),
            (
                &[
                    (-50.0, 20.0),
                    (-35.0, 20.0),
                    (-20.0, 20.0),
                    (-35.0, 20.0),
                    (-50.0, 20.0),
                ],
                15.0,
            ),
        ];
        for (k, (segments, expected)) in cases.iter().enumerate() {
            let l = loudness(&stereo_sine(48_000, segments), 48_000, 2);
            let got = l.range_lu.unwrap();
            assert!((got - expected).abs() <= 1.0, "case {}: {got}", k + 1);
        }
    }

    #[test]
    fn true_peak_sees_an_intersample_peak() {
        // A sine at fs/4 with a 45 degree phase: every sample is at 0.707 of the true peak,
        // which is 3 dB above the sample peak (the situation of Tech 3341 case 15).
        let sr = 48_000;
        let amp = 0.5f64;
        let signal: Vec<f32> = (0..sr)
            .flat_map(|i| {
                let v = (amp
                    * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin())
                    as f32;
                [v, v]
            })
            .collect();
        let l = loudness(&signal, sr, 2);
        let sample = l.sample_peak_dbfs.unwrap();
        let tp = l.true_peak_dbtp.unwrap();
        assert!((sample - (-9.03)).abs() < 0.05, "{sample}");
        assert!(tp > -6.02 - 0.4 && tp < -6.02 + 0.2, "{tp}");
    }

    #[test]
    fn skipping_blocks_gives_the_true_peak_of_every_output() {
        // Noise bursts at changing levels, so some blocks are skipped and some are not.
        let mut seed = 0x1234_5678u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let signal: Vec<f32> = (0..40_000)
            .map(|i| noise() * [0.2, 1.6, 0.05, 1.9, 0.7][(i / 3000) % 5])
            .collect();
        let filter = true_peak_filter();
        let true_peak = |channel: &[f32]| {
            let mut padded = vec![0.0f32; TP_TAPS - 1];
            padded.extend_from_slice(channel);
            let mut peak = abs_max(channel);
            for m in TP_TAPS - 1..padded.len() {
                for taps in &filter {
                    let mut y = 0.0f32;
                    for (k, h) in taps.iter().enumerate() {
                        y += h * padded[m - k];
                    }
                    peak = peak.max(y.abs());
                }
            }
            peak
        };
        // Channel c is the signal delayed by 997 c samples and scaled, so the channels peak at
        // different places; chunks shorter than the filter's history are mixed in.
        for channels in 1..=3usize {
            let channel = |c: usize| -> Vec<f32> {
                let scale = [1.0, 0.8, 1.1][c];
                (0..signal.len())
                    .map(|i| i.checked_sub(997 * c).map_or(0.0, |j| signal[j] * scale))
                    .collect()
            };
            let chans: Vec<Vec<f32>> = (0..channels).map(channel).collect();
            let expected = chans.iter().map(|c| true_peak(c)).fold(0.0f32, f32::max);
            let interleaved: Vec<f32> = (0..signal.len())
                .flat_map(|i| chans.iter().map(move |c| c[i]))
                .collect();
            for sizes in [&[1_013, 7, 1, 64, 15, 16][..], &[7]] {
                let mut meter = LoudnessMeter::new(44_100, channels);
                let mut rest = &interleaved[..];
                for &frames in sizes.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, tail) = rest.split_at((frames * channels).min(rest.len()));
                    meter.push(chunk);
                    rest = tail;
                }
                assert_eq!(meter.true_peak, expected, "{channels} channels, {sizes:?}");
            }
        }
    }

    #[test]
    fn silence_is_undefined_not_minus_infinity() {
        let l = loudness(&vec![0.0; 96_000], 48_000, 2);
        assert_eq!(l.integrated_lufs, None);
        assert_eq!(l.range_lu, None);
        assert_eq!(l.true_peak_dbtp, None);
    }

    #[test]
    fn chunked_equals_one_shot() {
        let sig = stereo_sine(44_100, &[(-20.0, 3.0), (-30.0, 4.0)]);
        let whole = loudness(&sig, 44_100, 2);
        let mut m = LoudnessMeter::new(44_100, 2);
        for c in sig.chunks(2 * 997) {
            m.push(c);
        }
        let parts = m.finish();
        assert!((whole.integrated_lufs.unwrap() - parts.integrated_lufs.unwrap()).abs() < 1e-9);
        assert_eq!(whole.true_peak_dbtp, parts.true_peak_dbtp);
    }

    proptest::proptest! {
        #[test]
        fn true_peak_is_at_least_the_sample_peak(v in proptest::collection::vec(-1.0f32..1.0, 2..4000)) {
            let l = loudness(&v, 44_100, 1);
            if let (Some(tp), Some(sp)) = (l.true_peak_dbtp, l.sample_peak_dbfs) {
                proptest::prop_assert!(tp >= sp);
            }
            if let Some(i) = l.integrated_lufs {
                proptest::prop_assert!(i.is_finite());
            }
        }
    }
}
