//! Sphinx-style cepstral features: a mel filterbank of 25 triangles from 130 to 6800 Hz on a
//! pre-emphasised power spectrum, natural log, an orthonormal DCT-II to 13 cepstra, a sine
//! lifter of 22, batch cepstral mean normalisation, then `1s_c_d_dd`: cepstra, deltas
//! `c[t+2] - c[t-2]` and double deltas `(c[t+3] - c[t-1]) - (c[t+1] - c[t-3])`, the ends padded
//! by repeating the first and last frames.

/// Mel filters of the filterbank (`-nfilt`).
pub const SPHINX_NFILT: usize = 25;
/// Cepstra per frame (`-ncep`).
pub const SPHINX_NCEP: usize = 13;
const LOWER_HZ: f64 = 130.0;
const UPPER_HZ: f64 = 6800.0;
const LIFTER: f64 = 22.0;
const PREEMPHASIS: f64 = 0.97;
/// Floor of the filter energies (the front end's power units), so digital silence stays finite.
const ENERGY_FLOOR: f32 = 1e-7;

fn mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// The Sphinx filterbank over the bins of one FFT size: triangles with unit area in Hz between
/// mel-spaced edges, weighted by the power response of the pre-emphasis filter `1 - 0.97 z^-1`.
#[derive(Debug, Clone)]
pub(crate) struct SphinxFilterbank {
    /// Per filter: first bin and weights.
    filters: Vec<(usize, Vec<f32>)>,
}

impl SphinxFilterbank {
    /// Filters for an FFT of `n_fft` points at `sample_rate` Hz.
    pub fn new(sample_rate: u32, n_fft: usize) -> Self {
        let sr = f64::from(sample_rate);
        let (lo, hi) = (mel(LOWER_HZ), mel(UPPER_HZ));
        let edges: Vec<f64> = (0..SPHINX_NFILT + 2)
            .map(|i| hz(lo + (hi - lo) * i as f64 / (SPHINX_NFILT + 1) as f64))
            .collect();
        let bin_hz = sr / n_fft as f64;
        let filters = (0..SPHINX_NFILT)
            .map(|m| {
                let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
                let height = 2.0 / (r - l);
                let first = (l / bin_hz).ceil() as usize;
                let last = ((r / bin_hz).floor() as usize).min(n_fft / 2);
                let weights = (first..=last.max(first))
                    .map(|k| {
                        let f = k as f64 * bin_hz;
                        let tri = if f <= l || f >= r {
                            0.0
                        } else if f <= c {
                            (f - l) / (c - l)
                        } else {
                            (r - f) / (r - c)
                        };
                        let w = std::f64::consts::TAU * k as f64 / n_fft as f64;
                        let pre = 1.0 + PREEMPHASIS * PREEMPHASIS - 2.0 * PREEMPHASIS * w.cos();
                        (tri * height * pre) as f32
                    })
                    .collect();
                (first, weights)
            })
            .collect();
        Self { filters }
    }

    /// Natural-log filter energies of one power spectrum (bins beyond `power` count as zero).
    pub fn log_energies(&self, power: &[f32], out: &mut Vec<f32>) {
        for (first, w) in &self.filters {
            let e: f32 = w
                .iter()
                .zip(power.iter().skip(*first))
                .map(|(a, b)| a * b)
                .sum();
            out.push((e.max(0.0) + ENERGY_FLOOR).ln());
        }
    }
}

/// Cepstra of log filter energies (`SPHINX_NFILT` per frame): orthonormal DCT-II, liftered;
/// `SPHINX_NCEP` per frame.
pub(crate) fn cepstra(log_mel: &[f32]) -> Vec<f32> {
    let n = SPHINX_NFILT as f64;
    let basis: Vec<f32> = (0..SPHINX_NCEP)
        .flat_map(|i| {
            let scale = if i == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            let lift = 1.0 + LIFTER / 2.0 * (std::f64::consts::PI * i as f64 / LIFTER).sin();
            (0..SPHINX_NFILT).map(move |j| {
                let c = (std::f64::consts::PI * i as f64 * (j as f64 + 0.5) / n).cos();
                (c * scale * lift) as f32
            })
        })
        .collect();
    let mut out = Vec::with_capacity(log_mel.len() / SPHINX_NFILT * SPHINX_NCEP);
    for frame in log_mel.chunks_exact(SPHINX_NFILT) {
        for row in basis.chunks_exact(SPHINX_NFILT) {
            out.push(row.iter().zip(frame).map(|(a, b)| a * b).sum());
        }
    }
    out
}

/// Subtracts the mean of every cepstrum over the whole song (batch CMN).
pub(crate) fn cmn(cep: &mut [f32]) {
    let n = cep.len() / SPHINX_NCEP;
    if n == 0 {
        return;
    }
    let mut mean = [0.0f64; SPHINX_NCEP];
    for frame in cep.chunks_exact(SPHINX_NCEP) {
        for (m, v) in mean.iter_mut().zip(frame) {
            *m += f64::from(*v);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    for frame in cep.chunks_exact_mut(SPHINX_NCEP) {
        for (v, m) in frame.iter_mut().zip(&mean) {
            *v -= *m as f32;
        }
    }
}

/// `1s_c_d_dd` features: per frame, 13 cepstra, 13 deltas, 13 double deltas (39 values).
pub(crate) fn c_d_dd(cep: &[f32]) -> Vec<f32> {
    let n = cep.len() / SPHINX_NCEP;
    let at = |t: isize, i: usize| cep[(t.clamp(0, n as isize - 1) as usize) * SPHINX_NCEP + i];
    let mut out = Vec::with_capacity(n * 3 * SPHINX_NCEP);
    for t in 0..n as isize {
        for i in 0..SPHINX_NCEP {
            out.push(at(t, i));
        }
        for i in 0..SPHINX_NCEP {
            out.push(at(t + 2, i) - at(t - 2, i));
        }
        for i in 0..SPHINX_NCEP {
            out.push((at(t + 3, i) - at(t - 1, i)) - (at(t + 1, i) - at(t - 3, i)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cover_the_band_with_unit_area_before_preemphasis() {
        let bank = SphinxFilterbank::new(16_000, 512);
        assert_eq!(bank.filters.len(), SPHINX_NFILT);
        // The first filter starts near 130 Hz, the last ends near 6800 Hz.
        let bin = 16_000.0 / 512.0;
        assert!((bank.filters[0].0 as f64 * bin - 130.0).abs() < bin);
        let (first, w) = &bank.filters[SPHINX_NFILT - 1];
        assert!(((first + w.len()) as f64 * bin - 6800.0).abs() < 2.0 * bin);
    }

    #[test]
    fn dct_of_a_flat_spectrum_is_c0_only() {
        let flat = vec![2.0f32; SPHINX_NFILT];
        let c = cepstra(&flat);
        assert!((c[0] - 2.0 * (SPHINX_NFILT as f32).sqrt()).abs() < 1e-4);
        assert!(c[1..].iter().all(|v| v.abs() < 1e-4), "{c:?}");
    }

    #[test]
    fn deltas_follow_the_sphinx_definition() {
        // c0 rises by 1 per frame: delta = 4, double delta = 0 away from the ends.
        let cep: Vec<f32> = (0..10)
            .flat_map(|t| {
                let mut v = vec![0.0f32; SPHINX_NCEP];
                v[0] = t as f32;
                v
            })
            .collect();
        let f = c_d_dd(&cep);
        let frame = |t: usize| &f[t * 39..(t + 1) * 39];
        assert_eq!(frame(5)[0], 5.0);
        assert_eq!(frame(5)[13], 4.0);
        assert_eq!(frame(5)[26], 0.0);
        // At the start the first frame repeats: delta(0) = c[2] - c[0].
        assert_eq!(frame(0)[13], 2.0);
    }

    #[test]
    fn cmn_zeroes_the_mean() {
        let mut cep: Vec<f32> = (0..5 * SPHINX_NCEP).map(|i| i as f32).collect();
        cmn(&mut cep);
        let m: f32 = cep.iter().step_by(SPHINX_NCEP).sum();
        assert!(m.abs() < 1e-4);
    }
}
