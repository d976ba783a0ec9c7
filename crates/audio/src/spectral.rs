//! Short-time Fourier transform and mel filterbank, with librosa's conventions
//! (periodic Hann window, centred frames with zero padding, Slaney mel scale and area norm).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A reusable STFT plan for one frame size and hop.
///
/// Frame `t` is centred on sample `t * hop` (the signal is zero-padded by `n_fft / 2` on both
/// sides), so frame times are simply `t * hop / sample_rate`.
#[derive(Clone)]
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: PowerSpectrum,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.n_fft)
            .field("hop", &self.hop)
            .finish()
    }
}

impl Stft {
    /// A plan with `n_fft`-sample frames every `hop` samples. Both are clamped to at least 2/1.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let n_fft = n_fft.max(2);
        let window = (0..n_fft)
            .map(|i| {
                let x = std::f64::consts::TAU * i as f64 / n_fft as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        let fft = PowerSpectrum::new(n_fft);
        Stft {
            n_fft,
            hop: hop.max(1),
            window,
            fft,
        }
    }

    /// Frame length in samples.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Hop length in samples.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Number of frequency bins per frame (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames for a signal of `len` samples.
    pub fn n_frames(&self, len: usize) -> usize {
        if len == 0 { 0 } else { 1 + len / self.hop }
    }

    /// Calls `f(frame_index, power)` for each frame, where `power[k] = |X_k|^2`. Memory stays
    /// at one frame, whatever the signal length.
    pub fn for_each_power_frame(&self, signal: &[f32], mut f: impl FnMut(usize, &[f32])) {
        let mut fft = self.fft.clone();
        let mut frame = vec![0.0f32; self.n_fft];
        let mut power = vec![0.0f32; self.n_bins()];
        let half = (self.n_fft / 2) as isize;
        for t in 0..self.n_frames(signal.len()) {
            let start = (t * self.hop) as isize - half;
            for (i, slot) in frame.iter_mut().enumerate() {
                let idx = start + i as isize;
                *slot = if idx >= 0 && (idx as usize) < signal.len() {
                    signal[idx as usize]
                } else {
                    0.0
                };
            }
            fft.power(&frame, &self.window, &mut power);
            f(t, &power);
        }
    }

    /// The whole power spectrogram.
    pub fn power_spectrogram(&self, signal: &[f32]) -> Spectrogram {
        let n_bins = self.n_bins();
        let mut data = Vec::with_capacity(self.n_frames(signal.len()) * n_bins);
        self.for_each_power_frame(signal, |_, p| data.extend_from_slice(p));
        Spectrogram { n_bins, data }
    }
}

/// The power spectrum `|X_k|^2`, k = 0..=n/2, of windowed real frames of `n` samples. For even
/// `n` the frame's even and odd samples are packed into one complex FFT of `n / 2` points and
/// split afterwards (`X_k = A_k + w^k B_k` with `A`, `B` the spectra of the even and odd
/// samples); the split computes the power directly, in one pass that vectorises. Odd `n` uses a
/// complex FFT of `n` points.
#[derive(Clone)]
pub(crate) struct PowerSpectrum {
    n: usize,
    fft: Arc<dyn Fft<f32>>,
    /// Real and imaginary parts of `exp(-2 pi i k / n)`, k = 0..n/2 (even `n` only).
    twiddle_re: Vec<f32>,
    twiddle_im: Vec<f32>,
    buf: Vec<Complex<f32>>,
    /// The split step's input `Z[k]` as separate real and imaginary parts (even `n` only).
    split: [Vec<f32>; 2],
    scratch: Vec<Complex<f32>>,
}

impl PowerSpectrum {
    /// A plan for frames of `n >= 1` samples.
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        let even = n.is_multiple_of(2);
        let len = if even { n / 2 } else { n };
        let fft = FftPlanner::<f32>::new().plan_fft_forward(len);
        let half = if even { len } else { 0 };
        let phase = |k: usize| -std::f64::consts::TAU * k as f64 / n as f64;
        let twiddle_re = (0..half).map(|k| phase(k).cos() as f32).collect();
        let twiddle_im = (0..half).map(|k| phase(k).sin() as f32).collect();
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        PowerSpectrum {
            n,
            fft,
            twiddle_re,
            twiddle_im,
            buf: vec![Complex::new(0.0, 0.0); len],
            split: std::array::from_fn(|_| vec![0.0; half]),
            scratch,
        }
    }

    crate::simd::avx2_method!(
        /// Writes the power of `samples * window` (both `n` long) into `power` (`n / 2 + 1`
        /// long).
        pub(crate) fn power / power_avx2 => power_impl(
            &mut self, samples: &[f32], window: &[f32], power: &mut [f32]
        )
    );

    #[inline(always)]
    fn power_impl(&mut self, samples: &[f32], window: &[f32], power: &mut [f32]) {
        debug_assert!(samples.len() == self.n && window.len() == self.n);
        debug_assert_eq!(power.len(), self.n / 2 + 1);
        if !self.n.is_multiple_of(2) {
            for ((z, &x), &w) in self.buf.iter_mut().zip(samples).zip(window) {
                *z = Complex::new(x * w, 0.0);
            }
            self.fft
                .process_with_scratch(&mut self.buf, &mut self.scratch);
            for (p, z) in power.iter_mut().zip(&self.buf) {
                *p = z.norm_sqr();
            }
            return;
        }
        let m = self.n / 2;
        let pairs = samples.chunks_exact(2).zip(window.chunks_exact(2));
        for (z, (x, w)) in self.buf.iter_mut().zip(pairs) {
            *z = Complex::new(x[0] * w[0], x[1] * w[1]);
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let [zr, zi] = &mut self.split;
        for ((r, i), z) in zr.iter_mut().zip(zi.iter_mut()).zip(&self.buf) {
            (*r, *i) = (z.re, z.im);
        }
        // With R = conj(Z[m - k]): A = (Z + R) / 2, B = (Z - R) / 2i, X = A + w B.
        let (tr, ti) = (&self.twiddle_re, &self.twiddle_im);
        let bin = |zr: f32, zi: f32, mr: f32, mi: f32, wr: f32, wi: f32| {
            let (a_re, a_im) = (0.5 * (zr + mr), 0.5 * (zi - mi));
            let (b_re, b_im) = (0.5 * (zi + mi), -0.5 * (zr - mr));
            let x_re = a_re + wr * b_re - wi * b_im;
            let x_im = a_im + wr * b_im + wi * b_re;
            x_re * x_re + x_im * x_im
        };
        // k = 0 is its own mirror; then blocks of 8 bins k..k+8, whose mirrors m-k-7..=m-k
        // are read as one block and reversed (fixed sizes, so the loop vectorises).
        power[0] = bin(zr[0], zi[0], zr[0], zi[0], tr[0], ti[0]);
        const L: usize = 8;
        let mut k = 1;
        while k + L <= m {
            let j = m - k + 1 - L;
            let (Ok(p), Ok(a_r), Ok(a_i), Ok(m_r), Ok(m_i), Ok(w_r), Ok(w_i)) = (
                <&mut [f32; L]>::try_from(&mut power[k..k + L]),
                <&[f32; L]>::try_from(&zr[k..k + L]),
                <&[f32; L]>::try_from(&zi[k..k + L]),
                <&[f32; L]>::try_from(&zr[j..j + L]),
                <&[f32; L]>::try_from(&zi[j..j + L]),
                <&[f32; L]>::try_from(&tr[k..k + L]),
                <&[f32; L]>::try_from(&ti[k..k + L]),
            ) else {
                break;
            };
            for (l, p) in p.iter_mut().enumerate() {
                *p = bin(
                    a_r[l],
                    a_i[l],
                    m_r[L - 1 - l],
                    m_i[L - 1 - l],
                    w_r[l],
                    w_i[l],
                );
            }
            k += L;
        }
        for k in k..m {
            power[k] = bin(zr[k], zi[k], zr[m - k], zi[m - k], tr[k], ti[k]);
        }
        // X[m] = A_0 - B_0.
        let z0 = self.buf[0];
        power[m] = (z0.re - z0.im) * (z0.re - z0.im);
    }
}

/// Frames of equal length stored row after row (`frame * n_bins + bin`).
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Values per frame.
    pub n_bins: usize,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl Spectrogram {
    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.data.len().checked_div(self.n_bins).unwrap_or(0)
    }

    /// One frame.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_bins..(t + 1) * self.n_bins]
    }

    /// Iterates over frames.
    pub fn frames(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.n_bins.max(1))
    }
}

/// Converts Hz to mels on the Slaney scale (linear below 1 kHz, logarithmic above), as librosa.
pub fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        mel * f_sp
    }
}

/// Triangular mel filters with Slaney area normalisation, stored sparsely.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    /// Per mel band: first FFT bin and the weights from there.
    bands: Vec<(usize, Vec<f32>)>,
    n_bins: usize,
}

impl MelFilterbank {
    /// `n_mels` bands between `fmin` and `fmax` Hz for an `n_fft`-point FFT at `sample_rate`.
    pub fn new(sample_rate: u32, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let sr = f64::from(sample_rate);
        let fmax = fmax.min(sr / 2.0);
        let (mel_lo, mel_hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let edges: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let bin_hz: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();
        let bands = (0..n_mels)
            .map(|m| {
                let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
                let norm = 2.0 / (hi - lo);
                // Only bins strictly between `lo` and `hi` can have a positive weight.
                let bin = sr / n_fft as f64;
                let k_lo = ((lo / bin).floor().max(0.0) as usize).min(n_bins);
                let k_hi = ((hi / bin).ceil().max(0.0) as usize + 1).min(n_bins);
                let weights: Vec<(usize, f32)> = bin_hz[k_lo..k_hi.max(k_lo)]
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (k_lo + i, f))
                    .filter_map(|(k, &f)| {
                        let up = (f - lo) / (mid - lo);
                        let down = (hi - f) / (hi - mid);
                        let w = up.min(down).max(0.0) * norm;
                        (w > 0.0).then_some((k, w as f32))
                    })
                    .collect();
                match (weights.first(), weights.last()) {
                    (Some(&(first, _)), Some(&(last, _))) => {
                        let mut dense = vec![0.0; last - first + 1];
                        for (k, w) in weights {
                            dense[k - first] = w;
                        }
                        (first, dense)
                    }
                    _ => (0, Vec::new()),
                }
            })
            .collect();
        MelFilterbank { bands, n_bins }
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    crate::simd::avx2_method!(
        /// Applies the filters to one power frame, writing one value per band into `out`.
        pub fn apply / apply_avx2 => apply_impl(&self, power: &[f32], out: &mut [f32])
    );

    #[inline(always)]
    fn apply_impl(&self, power: &[f32], out: &mut [f32]) {
        debug_assert_eq!(power.len(), self.n_bins);
        for ((first, weights), o) in self.bands.iter().zip(out.iter_mut()) {
            *o = dot(weights, power.get(*first..).unwrap_or(&[]));
        }
    }
}

/// Writes `10 log10(max(p, floor))` of every value of `power` into `db` (pairwise over the
/// shorter). `floor` must be a positive normal number. Branch-free so that the loop vectorises,
/// unlike a call to libm per value; within 3e-5 dB of `log10` (a few `f32` steps). The exponent
/// is split off, and `ln` of the mantissa, moved into [1/sqrt 2, sqrt 2), is the series of
/// `2 atanh((m - 1) / (m + 1))` to the 7th power.
#[inline(always)]
pub(crate) fn power_to_db(power: &[f32], floor: f32, db: &mut [f32]) {
    const DB_PER_LN: f32 = 10.0 / std::f32::consts::LN_10;
    for (d, &p) in db.iter_mut().zip(power) {
        // `max` returns `floor` for NaN; infinity stays finite through the bit arithmetic.
        let bits = p.max(floor).to_bits();
        let mut e = ((bits >> 23) & 0xff) as i32 - 127;
        let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        let big = m > std::f32::consts::SQRT_2;
        m = if big { m * 0.5 } else { m };
        e += i32::from(big);
        let t = (m - 1.0) / (m + 1.0);
        let t2 = t * t;
        let ln_m = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (0.2 + t2 * (1.0 / 7.0))));
        *d = DB_PER_LN * (e as f32 * std::f32::consts::LN_2 + ln_m);
    }
}

/// Dot product over the shorter of `a` and `b`, in eight partial sums so that it vectorises.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A mel power spectrogram (`n_mels` values per frame).
pub fn mel_spectrogram(
    signal: &[f32],
    sample_rate: u32,
    stft: &Stft,
    n_mels: usize,
) -> Spectrogram {
    let bank = MelFilterbank::new(
        sample_rate,
        stft.n_fft(),
        n_mels,
        0.0,
        f64::from(sample_rate) / 2.0,
    );
    let mut data = Vec::with_capacity(stft.n_frames(signal.len()) * n_mels);
    let mut mel = vec![0.0; n_mels];
    stft.for_each_power_frame(signal, |_, p| {
        bank.apply(p, &mut mel);
        data.extend_from_slice(&mel);
    });
    Spectrogram {
        n_bins: n_mels,
        data,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn power_spectrum_matches_a_direct_dft() {
        for n in [2usize, 3, 8, 15, 64, 100, 2048] {
            let samples: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 % 113) as f32 / 56.0 - 1.0) + (0.3 * i as f32).sin())
                .collect();
            let window: Vec<f32> = (0..n).map(|i| 0.5 + 0.5 * (i as f32 / n as f32)).collect();
            let mut power = vec![0.0f32; n / 2 + 1];
            PowerSpectrum::new(n).power(&samples, &window, &mut power);
            let mut scale = 0.0f64;
            let want: Vec<f64> = (0..=n / 2)
                .map(|k| {
                    let (mut re, mut im) = (0.0f64, 0.0f64);
                    for (i, (&x, &w)) in samples.iter().zip(&window).enumerate() {
                        let phase = -std::f64::consts::TAU * (k * i) as f64 / n as f64;
                        let v = f64::from(x) * f64::from(w);
                        re += v * phase.cos();
                        im += v * phase.sin();
                    }
                    scale = scale.max(re * re + im * im);
                    re * re + im * im
                })
                .collect();
            for (k, (&p, w)) in power.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(p) - w).abs() <= 1e-5 * scale,
                    "n {n}, bin {k}: {p} vs {w}"
                );
            }
        }
    }

    #[test]
    fn power_to_db_matches_log10() {
        let floor = 1e-10f32;
        let mut values: Vec<f32> = (0..20_000)
            .map(|i| 10f32.powf(-12.0 + 18.0 * i as f32 / 20_000.0))
            .collect();
        values.extend([0.0, -1.0, f32::NAN, f32::MIN_POSITIVE, 1.0, 2.0, 0.5, 1e30]);
        let mut db = vec![0.0f32; values.len()];
        power_to_db(&values, floor, &mut db);
        for (&p, &d) in values.iter().zip(&db) {
            let want = 10.0 * f64::from(p.max(floor)).log10();
            assert!((f64::from(d) - want).abs() < 3e-5, "{p}: {d} vs {want}");
        }
        let mut inf = [0.0f32];
        power_to_db(&[f32::INFINITY], floor, &mut inf);
        assert!(inf[0].is_finite() && inf[0] > 380.0);
    }

    use super::*;

    #[test]
    fn a_sine_peaks_in_its_bin() {
        let sr = 8000;
        let signal: Vec<f32> = (0..8000)
            .map(|i| (std::f32::consts::TAU * 1000.0 * i as f32 / sr as f32).sin())
            .collect();
        let stft = Stft::new(512, 128);
        let spec = stft.power_spectrogram(&signal);
        assert_eq!(spec.n_frames(), 1 + 8000 / 128);
        let frame = spec.frame(30);
        let peak = frame
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(peak, 64); // 1000 Hz * 512 / 8000
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        // Slaney scale known values (librosa.hz_to_mel).
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
        assert!((hz_to_mel(440.0) - 6.6).abs() < 1e-9);
    }

    #[test]
    fn mel_filters_only_skip_zero_weights() {
        // The bank equals a dense evaluation of every triangle at every bin.
        for (sr, n_fft, n_mels) in [(22_050u32, 2048usize, 128usize), (8_000, 256, 40)] {
            let bank = MelFilterbank::new(sr, n_fft, n_mels, 0.0, f64::from(sr) / 2.0);
            let n_bins = n_fft / 2 + 1;
            let (mel_lo, mel_hi) = (hz_to_mel(0.0), hz_to_mel(f64::from(sr) / 2.0));
            let edge =
                |i: usize| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64);
            for (m, (first, weights)) in bank.bands.iter().enumerate() {
                let (lo, mid, hi) = (edge(m), edge(m + 1), edge(m + 2));
                for k in 0..n_bins {
                    let f = k as f64 * f64::from(sr) / n_fft as f64;
                    let w = ((f - lo) / (mid - lo)).min((hi - f) / (hi - mid)).max(0.0)
                        * (2.0 / (hi - lo));
                    let got = k
                        .checked_sub(*first)
                        .and_then(|i| weights.get(i))
                        .copied()
                        .unwrap_or(0.0);
                    assert_eq!(got, w as f32, "band {m} bin {k}");
                }
            }
        }
    }

    #[test]
    fn mel_filters_cover_the_band_they_name() {
        let bank = MelFilterbank::new(22050, 2048, 40, 0.0, 11025.0);
        assert_eq!(bank.n_mels(), 40);
        let mut power = vec![0.0; 1025];
        power[100] = 1.0; // ~1077 Hz
        let mut out = vec![0.0; 40];
        bank.apply(&power, &mut out);
        let band = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let centre = mel_to_hz(hz_to_mel(0.0) + (hz_to_mel(11025.0)) * (band + 1) as f64 / 41.0);
        assert!(
            (centre - 1077.0).abs() < 250.0,
            "band {band} centre {centre}"
        );
    }
}
