//! One STFT pass over the audio that yields every feature the generator and the visualiser
//! need: RMS, low-band (rumble) level, spectral centroid, onset strength and onset sharpness,
//! and the energies of a few display bands.

use encore_audio::Stft;

/// Edges of the log-spaced bands used for onset flux and sharpness, in Hz.
const FLUX_BANDS: usize = 24;
const FLUX_LO_HZ: f64 = 30.0;
/// The rumble band: what an actuator renders as a low, felt vibration.
const RUMBLE_HZ: (f64, f64) = (20.0, 150.0);
/// Display band edges for the visualiser, in Hz (the last band runs to Nyquist).
pub(crate) const DISPLAY_EDGES_HZ: [f64; 7] = [20.0, 60.0, 250.0, 500.0, 2000.0, 4000.0, 8000.0];
/// Names of the display bands.
pub(crate) const DISPLAY_NAMES: [&str; 7] = [
    "sub", "bass", "low_mid", "mid", "high_mid", "presence", "air",
];
/// Floor of band powers (mean square), -80 dBFS.
const POWER_FLOOR: f32 = 1e-8;
/// Centroid mapping: 100 Hz is sharpness 0, 8 kHz is sharpness 1 (log scale).
const SHARP_LO_HZ: f64 = 100.0;
const SHARP_HI_HZ: f64 = 8000.0;

/// Per-frame features. Frame `t` is centred on sample `t * hop`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Features {
    /// Frames per second.
    pub frame_rate: f64,
    /// Time-domain RMS over a window of two hops centred on the frame.
    pub rms: Vec<f32>,
    /// RMS-equivalent amplitude of the rumble band (20-150 Hz).
    pub low: Vec<f32>,
    /// Power-weighted log-frequency centroid mapped to 0..=1.
    pub centroid: Vec<f32>,
    /// Onset strength: mean positive increase of band log power (dB) over the previous frame.
    pub flux: Vec<f32>,
    /// Where in frequency the new energy of `flux` is, mapped to 0..=1 (kick low, hi-hat high).
    pub flux_sharpness: Vec<f32>,
    /// Mean-square power per display band.
    pub display: Vec<[f32; DISPLAY_EDGES_HZ.len()]>,
}

fn sharpness_of_hz(hz: f64) -> f32 {
    let x = (hz.max(1.0).log2() - SHARP_LO_HZ.log2()) / (SHARP_HI_HZ.log2() - SHARP_LO_HZ.log2());
    x.clamp(0.0, 1.0) as f32
}

/// Computes the features of `mono` at `sample_rate` (hop about 11.6 ms, frame about 46 ms).
pub(crate) fn features(mono: &[f32], sample_rate: u32) -> Features {
    let sr = f64::from(sample_rate.max(1));
    let hop = ((256.0 * sr / 22_050.0).round() as usize).max(1);
    let n_fft = (hop * 4).next_power_of_two().max(64);
    let stft = Stft::new(n_fft, hop);
    let n_bins = stft.n_bins();
    let bin_hz = sr / n_fft as f64;
    // Parseval with a Hann window: mean square ~ 2 * sum(|X|^2) / (n * sum(w^2)), sum(w^2) = 3n/8.
    let norm = (2.0 / (n_fft as f64 * 3.0 * n_fft as f64 / 8.0)) as f32;

    let nyquist = sr / 2.0;
    let flux_edges: Vec<f64> = (0..=FLUX_BANDS)
        .map(|i| FLUX_LO_HZ * (nyquist / FLUX_LO_HZ).powf(i as f64 / FLUX_BANDS as f64))
        .collect();
    let band_of_bin: Vec<Option<usize>> = (0..n_bins)
        .map(|k| {
            let f = k as f64 * bin_hz;
            (f >= FLUX_LO_HZ).then(|| {
                flux_edges
                    .partition_point(|&e| e <= f)
                    .saturating_sub(1)
                    .min(FLUX_BANDS - 1)
            })
        })
        .collect();
    let band_sharp: Vec<f32> = (0..FLUX_BANDS)
        .map(|b| sharpness_of_hz((flux_edges[b] * flux_edges[b + 1]).sqrt()))
        .collect();
    let display_of_bin: Vec<Option<usize>> = (0..n_bins)
        .map(|k| {
            let f = k as f64 * bin_hz;
            (f >= DISPLAY_EDGES_HZ[0]).then(|| DISPLAY_EDGES_HZ.partition_point(|&e| e <= f) - 1)
        })
        .collect();
    let bin_sharp: Vec<f32> = (0..n_bins)
        .map(|k| sharpness_of_hz(k as f64 * bin_hz))
        .collect();
    let rumble = (
        (RUMBLE_HZ.0 / bin_hz).ceil() as usize,
        ((RUMBLE_HZ.1 / bin_hz).floor() as usize).min(n_bins - 1),
    );

    let n_frames = stft.n_frames(mono.len());
    let mut f = Features {
        frame_rate: sr / hop as f64,
        rms: Vec::with_capacity(n_frames),
        low: Vec::with_capacity(n_frames),
        centroid: Vec::with_capacity(n_frames),
        flux: Vec::with_capacity(n_frames),
        flux_sharpness: Vec::with_capacity(n_frames),
        display: Vec::with_capacity(n_frames),
    };
    let floor_db = 10.0 * POWER_FLOOR.log10();
    let mut prev_db = [floor_db; FLUX_BANDS];
    let mut bands = [0.0f32; FLUX_BANDS];
    stft.for_each_power_frame(mono, |t, power| {
        // Time-domain RMS over [centre - hop, centre + hop).
        let c = t * hop;
        let lo = c.saturating_sub(hop);
        let hi = (c + hop).min(mono.len());
        let ms = if hi > lo {
            mono[lo..hi].iter().map(|x| x * x).sum::<f32>() / (2 * hop) as f32
        } else {
            0.0
        };
        f.rms.push(ms.sqrt());

        bands.iter_mut().for_each(|b| *b = 0.0);
        let mut display = [0.0f32; DISPLAY_EDGES_HZ.len()];
        let (mut total, mut weighted) = (0.0f32, 0.0f32);
        for (k, &p) in power.iter().enumerate() {
            let p = p * norm;
            if let Some(b) = band_of_bin[k] {
                bands[b] += p;
                total += p;
                weighted += p * bin_sharp[k];
            }
            if let Some(d) = display_of_bin[k] {
                display[d] += p;
            }
        }
        let low: f32 = power[rumble.0..=rumble.1.max(rumble.0)].iter().sum::<f32>() * norm;
        f.low.push(low.sqrt());
        f.centroid.push(if total > POWER_FLOOR {
            weighted / total
        } else {
            0.0
        });
        f.display.push(display);

        let (mut flux, mut sharp) = (0.0f32, 0.0f32);
        for (b, (&p, prev)) in bands.iter().zip(prev_db.iter_mut()).enumerate() {
            let db = 10.0 * p.max(POWER_FLOOR).log10();
            let inc = (db - *prev).max(0.0);
            flux += inc;
            sharp += inc * band_sharp[b];
            *prev = db;
        }
        f.flux.push(flux / FLUX_BANDS as f32);
        f.flux_sharpness
            .push(if flux > 0.0 { sharp / flux } else { 0.5 });
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f32, amp: f32, secs: f32, sr: u32) -> Vec<f32> {
        (0..(secs * sr as f32) as usize)
            .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / sr as f32).sin())
            .collect()
    }

    #[test]
    fn rms_low_band_and_centroid_follow_the_signal() {
        let sr = 22_050;
        let low = features(&sine(60.0, 0.5, 1.0, sr), sr);
        let high = features(&sine(5000.0, 0.5, 1.0, sr), sr);
        let mid = low.rms.len() / 2;
        assert!(
            (low.rms[mid] - 0.5 / 2f32.sqrt()).abs() < 0.02,
            "rms {}",
            low.rms[mid]
        );
        assert!(
            (low.low[mid] - 0.5 / 2f32.sqrt()).abs() < 0.05,
            "low {}",
            low.low[mid]
        );
        assert!(high.low[mid] < 0.01);
        assert!(low.centroid[mid] < 0.1 && high.centroid[mid] > 0.8);
        // The onset at t = 0 is seen (previous frame is silence).
        assert!(low.flux[0] > 10.0);
        assert!(low.flux[mid] < 1.0);
    }

    #[test]
    fn silence_and_empty_input_are_quiet() {
        let f = features(&vec![0.0; 22_050], 22_050);
        assert!(f.flux.iter().all(|&v| v == 0.0));
        assert!(f.rms.iter().all(|&v| v == 0.0));
        assert!(features(&[], 22_050).rms.is_empty());
    }
}
