//! The vocal-enhancement front end: centre-channel extraction from stereo, then
//! harmonic-percussive separation by median filtering, then per-frame features.
//!
//! Memory is bounded: spectra are processed frame by frame with a ring of
//! [`HPSS_FRAMES`] frames, so a 10-minute song keeps only its per-frame features.

use encore_audio::{AudioBuffer, MelFilterbank, Stft, resample};

use crate::error::{Error, Result};
use crate::sphinx::{SPHINX_NFILT, SphinxFilterbank};

/// Sample rate the front end analyses at.
pub const FRONTEND_SAMPLE_RATE: u32 = 22_050;
const N_FFT: usize = 1024;
const HOP: usize = 256;
/// Frames in the time median of the harmonic-percussive separation (about 0.2 s).
pub const HPSS_FRAMES: usize = 17;
const FREQ_MEDIAN_BINS: usize = 17;
/// Mel bands of the vocal-enhanced log-mel spectrogram.
pub const N_MELS: usize = 40;
/// Longest audio accepted, in seconds (protection against hostile input; memory stays bounded).
pub const MAX_AUDIO_S: f64 = 30.0 * 60.0;

/// Per-frame features of the vocal-enhanced signal, the input of every acoustic model.
#[derive(Debug, Clone)]
pub struct Features {
    /// Frames per second.
    pub frame_rate: f64,
    /// Log-mel power (dB) of the harmonic centre signal, `N_MELS` values per frame.
    pub log_mel: Vec<f32>,
    /// Energy (dB) of the harmonic centre signal in the vocal band (200-4000 Hz).
    pub vocal_db: Vec<f32>,
    /// Energy (dB) of the whole mix in the vocal band.
    pub mix_db: Vec<f32>,
    /// Positive spectral flux (dB) of the harmonic centre signal: onsets of sung syllables.
    pub flux: Vec<f32>,
    /// Energy (dB) of the percussive centre signal above 4 kHz: fricatives.
    pub hiss_db: Vec<f32>,
    /// Natural-log energies of the Sphinx mel filterbank (25 filters, 130-6800 Hz, on the
    /// pre-emphasised power spectrum of the centre signal), `SPHINX_NFILT` values per frame:
    /// the input of the Sphinx phone scorer.
    pub sphinx_mel: Vec<f32>,
}

impl Features {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.vocal_db.len()
    }
    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.vocal_db.is_empty()
    }
    /// Time of frame `t` in seconds (frame centres).
    pub fn time_of(&self, t: usize) -> f64 {
        t as f64 / self.frame_rate
    }
}

fn median_of(buf: &mut [f32]) -> f32 {
    let mid = buf.len() / 2;
    *buf.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// Runs the front end on decoded audio (any rate, mono or stereo; channels beyond two are
/// folded into left and right).
pub fn extract(audio: &AudioBuffer) -> Result<Features> {
    let dur = audio.duration_s();
    // Before resampling, the costly part for a hostile length.
    check_duration(dur)?;
    let _span = tracing::info_span!("lyrics_frontend", duration_s = dur).entered();
    let (left, right) = match audio.channels {
        1 => {
            let m = audio.samples.clone();
            (m.clone(), m)
        }
        _ => (audio.channel(0), audio.channel(1)),
    };
    let left = resample(&left, audio.sample_rate, FRONTEND_SAMPLE_RATE)?;
    let right = resample(&right, audio.sample_rate, FRONTEND_SAMPLE_RATE)?;
    let mid: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| 0.5 * (l + r))
        .collect();
    let side: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| 0.5 * (l - r))
        .collect();
    drop((left, right));
    from_mid_side(&mid, &side)
}

/// [`Error::Limit`] for audio longer than [`MAX_AUDIO_S`].
fn check_duration(seconds: f64) -> Result<()> {
    if seconds > MAX_AUDIO_S {
        return Err(Error::Limit {
            what: "audio duration (s)",
            got: seconds as u64,
            limit: MAX_AUDIO_S as u64,
        });
    }
    Ok(())
}

/// The front end on mid and side signals at [`FRONTEND_SAMPLE_RATE`]. Where `side` is shorter
/// than `mid` it is taken as silent (an empty `side`: a one-channel original). Audio longer
/// than [`MAX_AUDIO_S`] is an [`Error::Limit`].
pub fn from_mid_side(mid: &[f32], side: &[f32]) -> Result<Features> {
    check_duration(mid.len() as f64 / f64::from(FRONTEND_SAMPLE_RATE))?;
    let padded;
    let side = if side.len() < mid.len() {
        padded = [side, &vec![0.0; mid.len() - side.len()]].concat();
        &padded[..]
    } else {
        side
    };
    let stft = Stft::new(N_FFT, HOP);
    let sr = f64::from(FRONTEND_SAMPLE_RATE);
    let bin = |hz: f64| ((hz * N_FFT as f64 / sr).round() as usize).min(N_FFT / 2);
    let n_bins = bin(8000.0) + 1;
    let (v_lo, v_hi, h_lo) = (bin(200.0), bin(4000.0), bin(4000.0));
    let n_frames = stft.n_frames(mid.len());
    let mut centre_ring: Vec<Vec<f32>> = vec![vec![0.0; n_bins]; HPSS_FRAMES];
    let mut mix_ring: Vec<f32> = vec![0.0; HPSS_FRAMES];
    let bank = MelFilterbank::new(FRONTEND_SAMPLE_RATE, N_FFT, N_MELS, 80.0, 8000.0);
    let mut feats = Features {
        frame_rate: sr / HOP as f64,
        log_mel: Vec::with_capacity(n_frames * N_MELS),
        vocal_db: Vec::with_capacity(n_frames),
        mix_db: Vec::with_capacity(n_frames),
        flux: Vec::with_capacity(n_frames),
        hiss_db: Vec::with_capacity(n_frames),
        sphinx_mel: Vec::with_capacity(n_frames * SPHINX_NFILT),
    };
    let sphinx_bank = SphinxFilterbank::new(FRONTEND_SAMPLE_RATE, N_FFT);
    let half = HPSS_FRAMES / 2;
    let mut tbuf = vec![0.0f32; HPSS_FRAMES];
    let mut fbuf = Vec::with_capacity(FREQ_MEDIAN_BINS);
    let mut full = vec![0.0f32; N_FFT / 2 + 1];
    let mut mel = vec![0.0f32; N_MELS];
    let mut prev_log: Vec<f32> = vec![-100.0; n_bins];
    let mut emit = |ring: &[Vec<f32>], mix: f32, t_out: usize, feats: &mut Features| {
        let cur = &ring[t_out % HPSS_FRAMES];
        let (mut v, mut hiss, mut flux) = (0.0f64, 0.0f64, 0.0f64);
        full.iter_mut().for_each(|x| *x = 0.0);
        for k in 0..n_bins {
            for (j, slot) in tbuf.iter_mut().enumerate() {
                *slot = ring[j][k];
            }
            let h = median_of(&mut tbuf);
            fbuf.clear();
            let lo = k.saturating_sub(FREQ_MEDIAN_BINS / 2);
            let hi = (k + FREQ_MEDIAN_BINS / 2 + 1).min(n_bins);
            fbuf.extend_from_slice(&cur[lo..hi]);
            let p = median_of(&mut fbuf);
            let (h2, p2) = (h * h, p * p);
            let mask = if h2 + p2 > 0.0 { h2 / (h2 + p2) } else { 0.0 };
            let vk = cur[k] * mask;
            full[k] = vk;
            if (v_lo..=v_hi).contains(&k) {
                v += f64::from(vk);
                let l = 10.0 * (vk + 1e-10).log10();
                flux += f64::from((l - prev_log[k]).max(0.0));
                prev_log[k] = l;
            }
            if k >= h_lo {
                hiss += f64::from(cur[k] * (1.0 - mask));
            }
        }
        bank.apply(&full, &mut mel);
        // The centre before the harmonic mask: the mask would remove the consonants' noise.
        sphinx_bank.log_energies(&cur[..n_bins], &mut feats.sphinx_mel);
        feats
            .log_mel
            .extend(mel.iter().map(|m| 10.0 * (m + 1e-10).log10()));
        feats.vocal_db.push((10.0 * (v + 1e-10).log10()) as f32);
        feats.mix_db.push(10.0 * (mix + 1e-10).log10());
        feats.hiss_db.push((10.0 * (hiss + 1e-10).log10()) as f32);
        feats.flux.push((flux / (v_hi - v_lo + 1) as f64) as f32);
    };
    // Both STFTs run over the same chunk of frames at a time, so memory stays at one chunk.
    let chunk = 512usize;
    let mut mid_t = 0usize;
    let (mut mid_spec, mut side_spec): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (Vec::new(), Vec::new());
    while mid_t < n_frames {
        let end = (mid_t + chunk).min(n_frames);
        // Frames are centred on t * HOP; N_FFT / 2 is a multiple of HOP, so frame k of the
        // segment starting at s0 is frame (s0 / HOP + k) of the whole signal.
        let s0 = (mid_t * HOP).saturating_sub(N_FFT / 2);
        let s1 = ((end - 1) * HOP + N_FFT / 2 + 1).min(mid.len());
        let skip = (mid_t * HOP - s0) / HOP;
        let want = end - mid_t;
        mid_spec.clear();
        side_spec.clear();
        stft.for_each_power_frame(&mid[s0..s1], |t, p| {
            if (skip..skip + want).contains(&t) {
                mid_spec.push(p[..n_bins].to_vec());
            }
        });
        stft.for_each_power_frame(&side[s0..s1.min(side.len())], |t, p| {
            if (skip..skip + want).contains(&t) {
                side_spec.push(p[..n_bins].to_vec());
            }
        });
        for (i, (m, s)) in mid_spec.iter().zip(&side_spec).enumerate() {
            let t = mid_t + i;
            let slot = &mut centre_ring[t % HPSS_FRAMES];
            for ((c, mk), sk) in slot.iter_mut().zip(m).zip(s) {
                *c = (mk - sk).max(0.0);
            }
            mix_ring[t % HPSS_FRAMES] = m[v_lo..=v_hi]
                .iter()
                .zip(&s[v_lo..=v_hi])
                .map(|(a, b)| a + b)
                .sum();
            if t >= half {
                let t_out = t - half;
                emit(
                    &centre_ring,
                    mix_ring[t_out % HPSS_FRAMES],
                    t_out,
                    &mut feats,
                );
            }
        }
        mid_t = end;
    }
    // Flush the last frames, padding the ring with silence.
    for t in n_frames..n_frames + half {
        centre_ring[t % HPSS_FRAMES]
            .iter_mut()
            .for_each(|x| *x = 0.0);
        if t >= half {
            let t_out = t - half;
            emit(
                &centre_ring,
                mix_ring[t_out % HPSS_FRAMES],
                t_out,
                &mut feats,
            );
        }
    }
    Ok(feats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(pan_left: f32, pan_right: f32, secs: f32) -> AudioBuffer {
        let n = (secs * FRONTEND_SAMPLE_RATE as f32) as usize;
        let mut inter = Vec::with_capacity(2 * n);
        for i in 0..n {
            let t = i as f32 / FRONTEND_SAMPLE_RATE as f32;
            let s: f32 = (1..8)
                .map(|h| (std::f32::consts::TAU * 220.0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.2;
            inter.push(s * pan_left);
            inter.push(s * pan_right);
        }
        AudioBuffer::new(FRONTEND_SAMPLE_RATE, 2, inter)
    }

    fn mean(x: &[f32]) -> f32 {
        x.iter().sum::<f32>() / x.len() as f32
    }

    #[test]
    fn centre_extraction_removes_hard_panned_sources() {
        let centre = extract(&tone(1.0, 1.0, 2.0)).unwrap();
        let left = extract(&tone(1.0, 0.0, 2.0)).unwrap();
        // Same mix energy, but only the centred source survives the centre estimate.
        assert!((mean(&centre.mix_db) - mean(&left.mix_db)).abs() < 6.0);
        assert!(
            mean(&centre.vocal_db) > mean(&left.vocal_db) + 30.0,
            "{} {}",
            mean(&centre.vocal_db),
            mean(&left.vocal_db)
        );
        assert_eq!(centre.log_mel.len(), centre.len() * N_MELS);
        assert!((centre.frame_rate - 86.13).abs() < 0.01);
        assert!((centre.len() as f64 / centre.frame_rate - 2.0).abs() < 0.05);
    }

    #[test]
    fn steady_tones_are_harmonic_clicks_are_not() {
        let n = 2 * FRONTEND_SAMPLE_RATE as usize;
        let clicks: Vec<f32> = (0..n)
            .map(|i| if i % 5000 == 0 { 0.9 } else { 0.0 })
            .collect();
        let steady = extract(&tone(1.0, 1.0, 2.0)).unwrap();
        let hits = extract(&AudioBuffer::mono(FRONTEND_SAMPLE_RATE, clicks)).unwrap();
        // Harmonic share of the vocal band: high for the tone, low for the clicks.
        let share = |f: &Features| mean(&f.vocal_db) - mean(&f.mix_db);
        assert!(
            share(&steady) > share(&hits) + 6.0,
            "{} {}",
            share(&steady),
            share(&hits)
        );
    }

    #[test]
    fn overlong_audio_is_a_limit_error() {
        let audio = AudioBuffer::mono(1000, vec![0.0; (MAX_AUDIO_S as usize + 60) * 1000]);
        assert!(matches!(extract(&audio), Err(Error::Limit { .. })));
        let sr = FRONTEND_SAMPLE_RATE as usize;
        let mid = vec![0.0; (MAX_AUDIO_S as usize + 1) * sr];
        assert!(matches!(from_mid_side(&mid, &[]), Err(Error::Limit { .. })));
    }

    #[test]
    fn a_short_or_missing_side_signal_is_silence() {
        let sr = FRONTEND_SAMPLE_RATE as usize;
        let mid: Vec<f32> = (0..sr)
            .map(|i| (0.3 * (i as f64 * 0.06).sin()) as f32)
            .collect();
        let zeros = from_mid_side(&mid, &vec![0.0; sr]).unwrap();
        for side in [&[][..], &vec![0.0; sr / 2][..]] {
            let got = from_mid_side(&mid, side).unwrap();
            assert_eq!(got.len(), zeros.len());
            assert_eq!(got.log_mel, zeros.log_mel);
        }
    }
}
