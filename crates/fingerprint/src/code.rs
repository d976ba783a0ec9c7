//! A compact whole-file code for exact and near-duplicate detection at upload time.
//!
//! In the spirit of the ISCC Audio-Code (ISO 24138), but not that code: 64 bits that are
//! compared by Hamming distance. The audio's log-band spectrogram (the one the landmarks use)
//! is summarised by two blocks of features, each normalised to zero mean and unit variance:
//! a thumbnail of 8 time segments × 8 band groups (each band group's mean over time removed, so
//! it describes how the sound evolves) and the average spectral envelope over 16 band groups.
//! The features are projected onto 64 fixed pseudo-random hyperplanes (SimHash), so the
//! Hamming distance between two codes estimates the angle between their feature vectors:
//! re-encodings and small edits flip a few bits, unrelated audio about half of them.
//! Leading and trailing silence is ignored, and a change of gain changes nothing.

use std::fmt;
use std::str::FromStr;

use crate::peaks::{N_BANDS, log_spectrogram};
use crate::{Error, Result};

/// Codes at most this far apart are reported as near-duplicates by [`AudioCode::is_near_duplicate`].
pub const NEAR_DUPLICATE_BITS: u32 = 10;

const SEGMENTS: usize = 8;
const GROUPS: usize = 8;
const ENVELOPE_GROUPS: usize = 16;
const N_FEATURES: usize = SEGMENTS * GROUPS + ENVELOPE_GROUPS;
/// Frames whose loudest band is below this are silence (same floor as the peak picker).
const SILENT_DB: f32 = -30.0;

/// A 64-bit whole-file audio code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioCode(pub u64);

impl AudioCode {
    /// Computes the code of mono samples at [`crate::SAMPLE_RATE`]. Needs at least one second
    /// of non-silent audio, otherwise [`Error::NotEnoughAudio`].
    pub fn from_samples(samples: &[f32]) -> Result<Self> {
        let duration_s = samples.len() as f64 / f64::from(crate::SAMPLE_RATE);
        let not_enough = || Error::NotEnoughAudio {
            duration_s,
            peaks: 0,
            min_duration_s: 1.0,
        };
        let (s, n_frames) = log_spectrogram(samples);
        let loud = |t: usize| {
            s[t * N_BANDS..(t + 1) * N_BANDS]
                .iter()
                .any(|&v| v > SILENT_DB)
        };
        let first = (0..n_frames).find(|&t| loud(t)).ok_or_else(not_enough)?;
        let last = (0..n_frames)
            .rev()
            .find(|&t| loud(t))
            .ok_or_else(not_enough)?;
        let len = last + 1 - first;
        if (len as f64) < crate::peaks::FRAME_RATE {
            return Err(not_enough());
        }
        let mut thumb = [0.0f64; SEGMENTS * GROUPS];
        let mut env = [0.0f64; ENVELOPE_GROUPS];
        let mut counts = [0usize; SEGMENTS * GROUPS];
        let mut env_counts = [0usize; ENVELOPE_GROUPS];
        for t in first..=last {
            let seg = (t - first) * SEGMENTS / len;
            for b in 0..N_BANDS {
                let v = f64::from(s[t * N_BANDS + b].max(SILENT_DB - 30.0));
                let g = b * GROUPS / N_BANDS;
                thumb[seg * GROUPS + g] += v;
                counts[seg * GROUPS + g] += 1;
                let e = b * ENVELOPE_GROUPS / N_BANDS;
                env[e] += v;
                env_counts[e] += 1;
            }
        }
        for (x, &c) in thumb.iter_mut().zip(&counts) {
            *x /= c.max(1) as f64;
        }
        for (x, &c) in env.iter_mut().zip(&env_counts) {
            *x /= c.max(1) as f64;
        }
        for g in 0..GROUPS {
            let mean = (0..SEGMENTS).map(|k| thumb[k * GROUPS + g]).sum::<f64>() / SEGMENTS as f64;
            for k in 0..SEGMENTS {
                thumb[k * GROUPS + g] -= mean;
            }
        }
        let mut features = Vec::with_capacity(N_FEATURES);
        features.extend(standardise(&thumb));
        features.extend(standardise(&env));
        let mut rng = SplitMix(0x5EED_C0DE_A0D1_0001);
        let mut code = 0u64;
        for bit in 0..64 {
            let dot: f64 = features.iter().map(|&f| f * rng.gaussian()).sum();
            if dot > 0.0 {
                code |= 1 << bit;
            }
        }
        Ok(AudioCode(code))
    }

    /// Number of differing bits (0 = identical, about 32 = unrelated).
    pub fn hamming(&self, other: &AudioCode) -> u32 {
        (self.0 ^ other.0).count_ones()
    }

    /// True when the two codes are at most [`NEAR_DUPLICATE_BITS`] apart.
    pub fn is_near_duplicate(&self, other: &AudioCode) -> bool {
        self.hamming(other) <= NEAR_DUPLICATE_BITS
    }
}

fn standardise(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    x.iter()
        .map(|v| if sd > 1e-9 { (v - mean) / sd } else { 0.0 })
        .collect()
}

/// A tiny deterministic generator for the fixed hyperplanes (part of the code's definition).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Written as `ea1-` followed by 16 lower-case hex digits (`ea1` = Encore audio code v1).
impl fmt::Display for AudioCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ea1-{:016x}", self.0)
    }
}

impl FromStr for AudioCode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let hex = s
            .strip_prefix("ea1-")
            .ok_or_else(|| Error::Invalid(format!("audio code {s:?} does not start with ea1-")))?;
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "audio code {s:?} needs 16 hex digits after ea1-"
            )));
        }
        u64::from_str_radix(hex, 16)
            .map(AudioCode)
            .map_err(|e| Error::Invalid(format!("audio code {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn display_parse_round_trip(x in any::<u64>()) {
            let c = AudioCode(x);
            prop_assert_eq!(c.to_string().parse::<AudioCode>().unwrap(), c);
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = s.parse::<AudioCode>();
        }

        #[test]
        fn hamming_is_a_metric(a in any::<u64>(), b in any::<u64>(), c in any::<u64>()) {
            let (a, b, c) = (AudioCode(a), AudioCode(b), AudioCode(c));
            prop_assert_eq!(a.hamming(&a), 0);
            prop_assert_eq!(a.hamming(&b), b.hamming(&a));
            prop_assert!(a.hamming(&c) <= a.hamming(&b) + b.hamming(&c));
        }
    }

    #[test]
    fn bad_strings_are_rejected() {
        for s in [
            "",
            "ea1-",
            "ea1-123",
            "ea2-0123456789abcdef",
            "ea1-0123456789abcdeg",
        ] {
            assert!(s.parse::<AudioCode>().is_err(), "{s}");
        }
    }

    #[test]
    fn silence_is_not_enough_audio() {
        let err = AudioCode::from_samples(&vec![0.0; 8000 * 5]).unwrap_err();
        assert!(matches!(err, Error::NotEnoughAudio { .. }));
    }
}
