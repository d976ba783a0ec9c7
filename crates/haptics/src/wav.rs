//! Low-frequency haptic audio: a WAV that audio-driven actuators (voice-coil phones, haptic
//! vests, bass shakers) play directly. The continuous envelope drives a 40-120 Hz sine whose
//! pitch follows the frequency envelope; each transient adds a short decaying burst, lower and
//! longer when dull, higher and shorter when sharp.

use encore_audio::AudioBuffer;

use crate::error::{Error, Result};
use crate::model::HapticTrack;

/// Default sample rate of the haptic WAV, Hz (ample for content below 250 Hz).
pub const WAV_SAMPLE_RATE: u32 = 8_000;
/// Peak level of the continuous part, leaving headroom for transients.
const CONTINUOUS_GAIN: f32 = 0.7;

/// Renders a track as 16-bit mono WAV bytes at `sample_rate` Hz.
pub fn to_wav(track: &HapticTrack, sample_rate: u32) -> Result<Vec<u8>> {
    track.validate_as("WAV")?;
    if !(1_000..=192_000).contains(&sample_rate) {
        return Err(Error::InvalidArgument(format!(
            "WAV sample rate {sample_rate} Hz is outside 1000..=192000"
        )));
    }
    let sr = f64::from(sample_rate);
    let tail = 0.1;
    let n = ((track.duration_s() + tail) * sr).ceil() as usize;
    if n > (u32::MAX / 2) as usize {
        return Err(Error::LimitExceeded(format!(
            "{n} samples do not fit a WAV file"
        )));
    }
    let mut samples = Vec::with_capacity(n);
    let mut phase = 0.0f64;
    let (mut ai, mut fi) = (0usize, 0usize);
    for i in 0..n {
        let t = i as f64 / sr;
        while ai + 1 < track.amplitude.len() && track.amplitude[ai + 1].time <= t {
            ai += 1;
        }
        while fi + 1 < track.frequency.len() && track.frequency[fi + 1].time <= t {
            fi += 1;
        }
        let a = segment_value(&track.amplitude, ai, t, |p| (p.time, p.amplitude));
        let f = if track.frequency.is_empty() {
            0.5
        } else {
            segment_value(&track.frequency, fi, t, |p| (p.time, p.frequency))
        };
        let hz = 40.0 + 80.0 * f64::from(f);
        phase = (phase + std::f64::consts::TAU * hz / sr) % std::f64::consts::TAU;
        samples.push(CONTINUOUS_GAIN * a * phase.sin() as f32);
    }
    for tr in track.transients() {
        let hz = 60.0 + 140.0 * f64::from(tr.sharpness);
        let tau = 0.04 - 0.03 * f64::from(tr.sharpness);
        let start = (tr.time * sr).round() as usize;
        let len = (tau * 5.0 * sr) as usize;
        for k in 0..len {
            if let Some(s) = samples.get_mut(start + k) {
                let x = k as f64 / sr;
                *s += tr.intensity
                    * ((-x / tau).exp() * (std::f64::consts::TAU * hz * x).sin()) as f32;
            }
        }
    }
    for s in &mut samples {
        *s = s.clamp(-1.0, 1.0);
    }
    let mut out = Vec::with_capacity(44 + 2 * samples.len());
    AudioBuffer::mono(sample_rate, samples).write_wav_pcm16(&mut out)?;
    Ok(out)
}

fn segment_value<P>(points: &[P], i: usize, t: f64, f: impl Fn(&P) -> (f64, f32)) -> f32 {
    let Some(p) = points.get(i) else { return 0.0 };
    let (t0, v0) = f(p);
    match points.get(i + 1) {
        Some(q) if t > t0 => {
            let (t1, v1) = f(q);
            if t1 <= t0 {
                v1
            } else {
                v0 + (v1 - v0) * ((t - t0) / (t1 - t0)).min(1.0) as f32
            }
        }
        _ => v0,
    }
}
