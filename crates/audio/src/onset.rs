//! Onset strength: how much new energy appears in each frame (log-mel spectral flux).

use crate::spectral::{MelFilterbank, Stft, power_to_db};

/// A feature sampled at a fixed frame rate: `values[t]` describes time `t / frame_rate` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// One value per frame.
    pub values: Vec<f32>,
    /// Frames per second.
    pub frame_rate: f64,
}

impl Envelope {
    /// The time of frame `t` in seconds.
    pub fn time_of(&self, t: usize) -> f64 {
        t as f64 / self.frame_rate
    }

    /// Duration covered, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.values.len() as f64 / self.frame_rate
    }
}

/// Parameters of [`onset_strength`]. The defaults follow librosa (2048-point frames, 512-sample
/// hop and 128 mel bands at 22 050 Hz), scaled to the actual sample rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnsetParams {
    /// Frame length in seconds.
    pub frame_s: f64,
    /// Hop in seconds.
    pub hop_s: f64,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Floor of the log-power, in dB below full scale.
    pub floor_db: f32,
}

impl Default for OnsetParams {
    fn default() -> Self {
        OnsetParams {
            frame_s: 2048.0 / 22050.0,
            hop_s: 512.0 / 22050.0,
            n_mels: 128,
            floor_db: -100.0,
        }
    }
}

/// Spectral-flux onset strength of a mono signal: the mean over mel bands of the positive
/// increase of log power from one frame to the next.
pub fn onset_strength(mono: &[f32], sample_rate: u32, params: &OnsetParams) -> Envelope {
    let sr = f64::from(sample_rate.max(1));
    let n_fft = ((params.frame_s * sr).round() as usize)
        .next_power_of_two()
        .max(64);
    let hop = ((params.hop_s * sr).round() as usize).max(1);
    let stft = Stft::new(n_fft, hop);
    let bank = MelFilterbank::new(sample_rate, n_fft, params.n_mels, 0.0, sr / 2.0);
    let n_mels = bank.n_mels();
    let mut mel = vec![0.0f32; n_mels];
    let mut db = vec![0.0f32; n_mels];
    let mut prev = vec![params.floor_db; n_mels];
    let mut values = Vec::with_capacity(stft.n_frames(mono.len()));
    let floor = 10f32.powf(params.floor_db / 10.0);
    stft.for_each_power_frame(mono, |t, power| {
        bank.apply(power, &mut mel);
        power_to_db(&mel, floor, &mut db);
        let mut flux = 0.0f32;
        for (&db, p) in db.iter().zip(prev.iter_mut()) {
            if t > 0 {
                flux += (db - *p).max(0.0);
            }
            *p = db;
        }
        values.push(flux / n_mels as f32);
    });
    Envelope {
        values,
        frame_rate: sr / hop as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_make_peaks_at_their_times() {
        let sr = 22050;
        let mut signal = vec![0.0f32; sr as usize * 3];
        for k in 0..3 {
            let at = (k as f64 * 0.9 + 0.5) * f64::from(sr);
            for i in 0..200 {
                signal[at as usize + i] = if i % 2 == 0 { 0.9 } else { -0.9 };
            }
        }
        let env = onset_strength(&signal, sr, &OnsetParams::default());
        for k in 0..3 {
            let t = k as f64 * 0.9 + 0.5;
            let lo = ((t - 0.1) * env.frame_rate) as usize;
            let hi = ((t + 0.1) * env.frame_rate) as usize;
            let peak = (lo..hi)
                .max_by(|&a, &b| env.values[a].total_cmp(&env.values[b]))
                .unwrap();
            assert!(
                (env.time_of(peak) - t).abs() < 0.05,
                "click {k}: peak at {}",
                env.time_of(peak)
            );
        }
    }

    #[test]
    fn silence_has_no_flux() {
        let env = onset_strength(&vec![0.0; 22050], 22050, &OnsetParams::default());
        assert!(env.values.iter().all(|&v| v == 0.0));
    }
}
