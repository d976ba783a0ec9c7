//! High-quality sample-rate conversion (band-limited, FFT-based), streaming or all at once, and
//! a cheaper 2:1 half-band decimator for the analysis path ([`Resampler::for_analysis`]).

use rubato::{FftFixedIn, Resampler as _};

use crate::error::{Error, Result};

const CHUNK: usize = 4096;

/// A streaming mono resampler: [`push`](Self::push) input as it is decoded, then
/// [`finish`](Self::finish). The output is delay-compensated and has exactly
/// `round(input_len * to / from)` samples.
pub struct Resampler {
    /// Optional 2:1 half-band stage before `inner` (analysis path only).
    halfband: Option<HalfbandDecimator>,
    halved: Vec<f32>,
    inner: Option<FftFixedIn<f32>>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    to_skip: usize,
    consumed: u64,
    produced: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot resample {from} Hz to {to} Hz"
            )));
        }
        let inner = if from == to {
            None
        } else {
            Some(
                FftFixedIn::new(from as usize, to as usize, CHUNK, 2, 1)
                    .map_err(|e| Error::InvalidArgument(format!("resampler: {e}")))?,
            )
        };
        let to_skip = inner.as_ref().map(|r| r.output_delay()).unwrap_or(0);
        Ok(Resampler {
            halfband: None,
            halved: Vec::new(),
            inner,
            from,
            to,
            pending: Vec::new(),
            to_skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// A resampler for feature extraction (onsets, tempo): when `from` is even and at least
    /// twice `to` (44.1 kHz or 48 kHz to 22.05 kHz), a 2:1 half-band FIR decimator does the
    /// first halving, which costs a fraction of the FFT resampler; the FFT resampler only
    /// handles what is left (nothing for 44.1 kHz). Its pass band ends near 0.43 of the input
    /// Nyquist frequency (9.5 kHz at 44.1 kHz), with a gentle roll-off above: fine for log
    /// spectral features, not meant for listening.
    pub fn for_analysis(from: u32, to: u32) -> Result<Self> {
        if from.is_multiple_of(2) && to > 0 && from / 2 >= to {
            let mut r = Resampler::new(from / 2, to)?;
            r.halfband = Some(HalfbandDecimator::new());
            r.from = from;
            Ok(r)
        } else {
            Resampler::new(from, to)
        }
    }

    /// The output sample rate.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Feeds interleaved frames of `channels` channels, averaged to mono; appends whatever
    /// output is ready to `out`. The same as [`push`](Self::push) of the mono downmix.
    pub fn push_interleaved(&mut self, frames: &[f32], channels: usize, out: &mut Vec<f32>) {
        if let (Some(hb), None) = (self.halfband.as_mut(), self.inner.as_ref()) {
            // The decimator alone (44.1 kHz to 22.05 kHz): straight into `out`, no copy.
            let before = out.len();
            hb.push_interleaved(frames, channels, out);
            let n = (out.len() - before) as u64;
            self.consumed += n;
            self.produced += n;
            return;
        }
        if let Some(hb) = self.halfband.as_mut() {
            let mut halved = std::mem::take(&mut self.halved);
            halved.clear();
            hb.push_interleaved(frames, channels, &mut halved);
            self.push_inner(&halved, out);
            self.halved = halved;
        } else {
            let mut mono = std::mem::take(&mut self.halved);
            mono.clear();
            crate::buffer::downmix_into(frames, channels, &mut mono);
            self.push_inner(&mono, out);
            self.halved = mono;
        }
    }

    /// Feeds mono input; appends whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if let Some(hb) = self.halfband.as_mut() {
            let mut halved = std::mem::take(&mut self.halved);
            halved.clear();
            hb.push(input, &mut halved);
            self.push_inner(&halved, out);
            self.halved = halved;
        } else {
            self.push_inner(input, out);
        }
    }

    fn push_inner(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.consumed += input.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return;
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let chunk = &self.pending[start..start + need];
            if let Ok(res) = inner.process(&[chunk], None) {
                Self::emit(&res[0], &mut self.to_skip, &mut self.produced, out);
            }
            start += need;
        }
        self.pending.drain(..start);
    }

    /// Flushes the remaining input and the filter's tail.
    pub fn finish(mut self, out: &mut Vec<f32>) {
        if let Some(hb) = self.halfband.take() {
            let mut halved = std::mem::take(&mut self.halved);
            halved.clear();
            hb.finish(&mut halved);
            self.push_inner(&halved, out);
            // From here on `consumed` counts the half-rate samples.
            self.from /= 2;
        }
        let expected =
            (self.consumed as f64 * f64::from(self.to) / f64::from(self.from)).round() as u64;
        if let Some(inner) = self.inner.as_mut() {
            let mut pending = std::mem::take(&mut self.pending);
            // Zero-pad until the delayed output covers every input sample.
            let mut guard = 0;
            while self.produced < expected && guard < 64 {
                let need = inner.input_frames_next();
                pending.resize(need, 0.0);
                if let Ok(res) = inner.process(&[&pending[..]], None) {
                    Self::emit(&res[0], &mut self.to_skip, &mut self.produced, out);
                }
                pending.clear();
                guard += 1;
            }
        }
        let excess = self.produced.saturating_sub(expected) as usize;
        out.truncate(out.len().saturating_sub(excess));
    }

    fn emit(block: &[f32], to_skip: &mut usize, produced: &mut u64, out: &mut Vec<f32>) {
        let skip = (*to_skip).min(block.len());
        *to_skip -= skip;
        out.extend_from_slice(&block[skip..]);
        *produced += (block.len() - skip) as u64;
    }
}

/// Non-zero taps on each side of the half-band decimator's centre.
const HALFBAND_PAIRS: usize = 12;
/// Kaiser window parameter of the half-band filter (about 70 dB stop-band attenuation).
const HALFBAND_BETA: f64 = 7.0;

/// A streaming 2:1 decimator with a linear-phase half-band FIR filter (windowed sinc, Kaiser
/// window). Every other tap of a half-band filter is zero except the centre one (1/2), so
/// output `m` is `x[2m] / 2 + sum_t h_t (x[2m - 2t - 1] + x[2m + 2t + 1])`: only the odd input
/// samples enter the sum, and they are kept contiguous so the loop vectorises. Output `m` is
/// centred on input `2m` (no delay), and `n` inputs give `ceil(n / 2)` outputs.
#[derive(Debug, Clone)]
pub(crate) struct HalfbandDecimator {
    /// `h_t` for t = 0..HALFBAND_PAIRS (offsets +-1, +-3, ...).
    taps: Vec<f32>,
    /// Even input samples from the next output's centre on.
    even: Vec<f32>,
    /// Odd input samples from `HALFBAND_PAIRS` before the next output's centre on.
    odd: Vec<f32>,
    /// Parity of the next input sample (false: even).
    odd_next: bool,
}

/// The modified Bessel function of the first kind, order 0 (power series), for Kaiser windows.
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
    }
    sum
}

impl HalfbandDecimator {
    pub(crate) fn new() -> Self {
        let n = HALFBAND_PAIRS;
        // Window support: offsets -2n..=2n (the end points have weight ~0).
        let half = (2 * n) as f64;
        let mut taps: Vec<f64> = (0..n)
            .map(|t| {
                let j = (2 * t + 1) as f64;
                let x = std::f64::consts::PI * j / 2.0;
                let r = j / half;
                let w = bessel_i0(HALFBAND_BETA * (1.0 - r * r).max(0.0).sqrt())
                    / bessel_i0(HALFBAND_BETA);
                0.5 * x.sin() / x * w
            })
            .collect();
        // Unit gain at DC: 1/2 + 2 * sum(h) = 1.
        let sum: f64 = taps.iter().sum();
        for t in &mut taps {
            *t *= 0.25 / sum;
        }
        HalfbandDecimator {
            taps: taps.into_iter().map(|t| t as f32).collect(),
            even: Vec::new(),
            odd: vec![0.0; n],
            odd_next: false,
        }
    }

    pub(crate) fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let mut rest = input;
        if self.odd_next
            && let Some((&first, tail)) = rest.split_first()
        {
            self.odd.push(first);
            rest = tail;
            self.odd_next = false;
        }
        let pairs = rest.chunks_exact(2);
        if let [last] = pairs.remainder() {
            self.odd_next = true;
            self.even.extend(pairs.clone().map(|p| p[0]));
            self.even.push(*last);
        } else {
            self.even.extend(pairs.clone().map(|p| p[0]));
        }
        self.odd.extend(pairs.map(|p| p[1]));
        self.emit(out);
    }

    crate::simd::avx2_method!(
        /// Like [`push`](Self::push) for interleaved frames, averaged to mono on the way in.
        pub(crate) fn push_interleaved / push_interleaved_avx2 => push_interleaved_impl(
            &mut self, frames: &[f32], channels: usize, out: &mut Vec<f32>
        )
    );

    #[inline(always)]
    fn push_interleaved_impl(&mut self, frames: &[f32], channels: usize, out: &mut Vec<f32>) {
        if channels != 2 || self.odd_next {
            let mut mono = Vec::with_capacity(frames.len() / channels.max(1));
            crate::buffer::downmix_into(frames, channels, &mut mono);
            self.push(&mono, out);
            return;
        }
        let pairs = frames.chunks_exact(4);
        let rest = pairs.remainder();
        self.even.extend(pairs.clone().map(|f| 0.5 * (f[0] + f[1])));
        self.odd.extend(pairs.map(|f| 0.5 * (f[2] + f[3])));
        if rest.len() >= 2 {
            self.even.push(0.5 * (rest[0] + rest[1]));
            self.odd_next = true;
        }
        self.emit(out);
    }

    crate::simd::avx2_method!(
        /// Computes every output whose window is inside the buffers and drops consumed input.
        fn emit / emit_avx2 => emit_impl(&mut self, out: &mut Vec<f32>)
    );

    #[inline(always)]
    fn emit_impl(&mut self, out: &mut Vec<f32>) {
        const N: usize = HALFBAND_PAIRS;
        // Outputs per step: four groups of 8 lanes, whose sums are independent chains (each
        // output still adds its terms in the same order).
        const L: usize = 8;
        const B: usize = 4 * L;
        const W: usize = 2 * N + B - 1;
        let Some(ready) = (self.odd.len() + 1).checked_sub(2 * N) else {
            return;
        };
        let count = self.even.len().min(ready);
        let taps: &[f32; N] = self.taps[..N].try_into().unwrap_or(&[0.0; N]);
        let base = out.len();
        out.resize(base + count, 0.0);
        let y = &mut out[base..];
        let mut blocks = y.chunks_exact_mut(B);
        for (b, y) in (&mut blocks).enumerate() {
            let m = b * B;
            // Fixed-size views: every index below is a constant, so the loops unroll and
            // vectorise without bounds checks.
            let (Ok(win), Ok(even)) = (
                <&[f32; W]>::try_from(&self.odd[m..m + W]),
                <&[f32; B]>::try_from(&self.even[m..m + B]),
            ) else {
                break;
            };
            // Four groups of 8 outputs, each in its own accumulator so that the four chains
            // of additions overlap.
            let group = |g: usize| -> [f32; L] { std::array::from_fn(|i| 0.5 * even[g * L + i]) };
            let (mut a0, mut a1, mut a2, mut a3) = (group(0), group(1), group(2), group(3));
            for (t, &h) in taps.iter().enumerate() {
                for i in 0..L {
                    let x = |g: usize| win[g * L + N - 1 - t + i] + win[g * L + N + t + i];
                    a0[i] += h * x(0);
                    a1[i] += h * x(1);
                    a2[i] += h * x(2);
                    a3[i] += h * x(3);
                }
            }
            for (y, a) in y.chunks_exact_mut(L).zip([a0, a1, a2, a3]) {
                y.copy_from_slice(&a);
            }
        }
        let done = count - blocks.into_remainder().len();
        for (m, y) in (done..count).zip(&mut out[base + done..]) {
            let mut a = 0.5 * self.even[m];
            for (t, &h) in taps.iter().enumerate() {
                a += h * (self.odd[m + N - 1 - t] + self.odd[m + N + t]);
            }
            *y = a;
        }
        self.even.drain(..count);
        self.odd.drain(..count);
    }

    /// Zero-pads the end and emits the remaining outputs.
    pub(crate) fn finish(mut self, out: &mut Vec<f32>) {
        let need = self.even.len() + 2 * self.taps.len() - 1;
        if self.odd.len() < need {
            self.odd.resize(need, 0.0);
        }
        self.emit(out);
    }
}

/// Resamples a whole mono signal from `from` Hz to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let mut r = Resampler::new(from, to)?;
    let mut out = Vec::with_capacity(
        (input.len() as f64 * f64::from(to) / f64::from(from.max(1))) as usize + 1,
    );
    r.push(input, &mut out);
    r.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Samples 500..21 500 agree within 1e-3 (the edges see the filters' zero padding).
    fn assert_close_inside_edges(out: &[f32], expected: &[f32]) {
        let err = out[500..21_500]
            .iter()
            .zip(&expected[500..21_500])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn keeps_length_and_phase_of_a_sine() {
        let input = sine(440.0, 44_100, 44_100);
        let out = resample(&input, 44_100, 22_050).unwrap();
        assert_eq!(out.len(), 22_050);
        let expected = sine(440.0, 22_050, 22_050);
        assert_close_inside_edges(&out, &expected);
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        let input = sine(15_000.0, 44_100, 44_100);
        let out = resample(&input, 44_100, 22_050).unwrap();
        let rms = (out[1000..21_000].iter().map(|x| x * x).sum::<f32>() / 20_000.0).sqrt();
        assert!(rms < 1e-3, "alias energy {rms}");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let input = sine(1000.0, 48_000, 30_001);
        let whole = resample(&input, 48_000, 22_050).unwrap();
        let mut r = Resampler::new(48_000, 22_050).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(777) {
            r.push(chunk, &mut out);
        }
        r.finish(&mut out);
        assert_eq!(out.len(), whole.len());
        assert!(out.iter().zip(&whole).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    fn analysis_resample(input: &[f32], from: u32, to: u32, chunk: usize) -> Vec<f32> {
        let mut r = Resampler::for_analysis(from, to).unwrap();
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn halfband_keeps_length_and_phase_and_removes_aliases() {
        for n in [44_100, 44_101, 7, 1, 0] {
            let out = analysis_resample(&sine(440.0, 44_100, n), 44_100, 22_050, 1000);
            assert_eq!(out.len(), n.div_ceil(2), "{n}");
        }
        let out = analysis_resample(&sine(440.0, 44_100, 44_100), 44_100, 22_050, 333);
        let expected = sine(440.0, 22_050, 22_050);
        assert_close_inside_edges(&out, &expected);
        // 15 kHz aliases to 7.05 kHz: it must be gone.
        let out = analysis_resample(&sine(15_000.0, 44_100, 44_100), 44_100, 22_050, 4096);
        let rms = (out[1000..21_000].iter().map(|x| x * x).sum::<f32>() / 20_000.0).sqrt();
        assert!(rms < 1e-3, "alias energy {rms}");
    }

    #[test]
    fn halfband_streaming_equals_one_shot() {
        let input = sine(1000.0, 44_100, 30_001);
        let whole = analysis_resample(&input, 44_100, 22_050, input.len());
        for chunk in [1, 2, 3, 777] {
            assert_eq!(analysis_resample(&input, 44_100, 22_050, chunk), whole);
        }
    }

    #[test]
    fn interleaved_equals_mono_downmix() {
        let l = sine(440.0, 44_100, 10_001);
        let r = sine(3_000.0, 44_100, 10_001);
        let stereo: Vec<f32> = l.iter().zip(&r).flat_map(|(a, b)| [*a, *b]).collect();
        let mono: Vec<f32> = l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect();
        for from in [44_100, 48_000, 22_050] {
            let expected = analysis_resample(&mono, from, 22_050, 1000);
            for chunk in [2, 6, 998, 2 * 777] {
                let mut rs = Resampler::for_analysis(from, 22_050).unwrap();
                let mut out = Vec::new();
                for c in stereo.chunks(chunk) {
                    rs.push_interleaved(c, 2, &mut out);
                }
                rs.finish(&mut out);
                assert_eq!(out, expected, "{from} {chunk}");
            }
        }
    }

    #[test]
    fn halfband_then_fft_resampler_for_48k() {
        // Same length and timing as the FFT resampler alone (which, from 48 kHz, puts its
        // output half a sample late).
        let input = sine(440.0, 48_000, 48_000);
        let out = analysis_resample(&input, 48_000, 22_050, 1000);
        assert_eq!(out.len(), 22_050);
        let expected = resample(&input, 48_000, 22_050).unwrap();
        assert_close_inside_edges(&out, &expected);
    }

    #[test]
    fn rejects_zero_rates() {
        assert!(resample(&[0.0], 0, 100).is_err());
    }
}
