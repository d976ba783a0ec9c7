//! Visualisation data for the web player: band energies per frame, the beat grid, short-term
//! loudness and waveform min/max peaks at several zoom levels, quantised for compact JSON.
//!
//! Schema (version 1), all arrays indexed by frame from time 0:
//! - `bands[k].values[i]`: energy of band `k` in frame `i` (`frame_rate` frames per second) as
//!   0..=255, mapping -80..=0 dBFS linearly (0 = -80 dB or less);
//! - `beats_s`: beat times in seconds (millisecond precision); `beats_source` says `"input"`
//!   (a beat tracker's) or `"onsets"` (estimated here from onsets);
//! - `loudness.rms_dbfs[i]`: RMS level in whole dBFS over `window_s` seconds centred on
//!   `i / loudness.frame_rate` s, floored at -90;
//! - `peaks[z]`: for zoom level `z`, `min[i]` and `max[i]` of the samples
//!   `i * samples_per_peak ..` (at `sample_rate`), scaled to -127..=127.

use serde::{Deserialize, Serialize};

use crate::analysis::{DISPLAY_EDGES_HZ, DISPLAY_NAMES, features};
use crate::error::Result;
use crate::generate::checked_samples;
use crate::onsets::beats_from_onsets;

/// Analysis frames averaged into one display frame.
const FRAMES_PER_DISPLAY: usize = 4;
/// Loudness hop and window, seconds.
const LOUDNESS_HOP_S: f64 = 0.1;
const LOUDNESS_WINDOW_S: f64 = 0.4;

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct VisualizeOptions {
    /// Beat times from a beat tracker; estimated from onsets when `None`.
    pub beats_s: Option<Vec<f64>>,
    /// Zoom levels, as samples per peak.
    pub samples_per_peak: Vec<usize>,
}

impl Default for VisualizeOptions {
    fn default() -> Self {
        VisualizeOptions {
            beats_s: None,
            samples_per_peak: vec![256, 1024, 4096, 16384],
        }
    }
}

/// One display band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Short name (`sub`, `bass`, `low_mid`, `mid`, `high_mid`, `presence`, `air`).
    pub name: String,
    /// Lower edge, Hz.
    pub lo_hz: f64,
    /// Upper edge, Hz.
    pub hi_hz: f64,
    /// Quantised energy per frame, 0..=255 for -80..=0 dBFS.
    pub values: Vec<u8>,
}

/// Short-term loudness over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Values per second.
    pub frame_rate: f64,
    /// Averaging window, seconds.
    pub window_s: f64,
    /// RMS level in whole dBFS, floored at -90.
    pub rms_dbfs: Vec<i16>,
}

/// Waveform peaks at one zoom level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    /// Samples summarised by each peak.
    pub samples_per_peak: usize,
    /// Minimum per block, -127..=127.
    pub min: Vec<i8>,
    /// Maximum per block, -127..=127.
    pub max: Vec<i8>,
}

/// Everything the web player draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visualization {
    /// Schema version, 1.
    pub version: u32,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Sample rate the peaks refer to.
    pub sample_rate: u32,
    /// Band frames per second.
    pub frame_rate: f64,
    /// Band energies.
    pub bands: Vec<Band>,
    /// Beat times, seconds.
    pub beats_s: Vec<f64>,
    /// `"input"` or `"onsets"`.
    pub beats_source: String,
    /// Loudness over time.
    pub loudness: Loudness,
    /// Waveform peaks, finest zoom first.
    pub peaks: Vec<Peaks>,
}

fn q8(x: f32) -> i8 {
    (x.clamp(-1.0, 1.0) * 127.0).round() as i8
}

/// Computes the visualisation data of mono audio.
pub fn visualize(
    mono: &[f32],
    sample_rate: u32,
    options: &VisualizeOptions,
) -> Result<Visualization> {
    let _span = tracing::debug_span!("haptics_visualize", samples = mono.len()).entered();
    let clean = checked_samples(mono, sample_rate)?;
    let f = features(&clean, sample_rate);
    let nyquist = f64::from(sample_rate) / 2.0;
    let bands = (0..DISPLAY_EDGES_HZ.len())
        .filter(|&k| DISPLAY_EDGES_HZ[k] < nyquist)
        .map(|k| Band {
            name: DISPLAY_NAMES[k].into(),
            lo_hz: DISPLAY_EDGES_HZ[k],
            hi_hz: DISPLAY_EDGES_HZ
                .get(k + 1)
                .copied()
                .unwrap_or(nyquist)
                .min(nyquist),
            values: f
                .display
                .chunks(FRAMES_PER_DISPLAY)
                .map(|c| {
                    let p = c.iter().map(|d| d[k]).sum::<f32>() / c.len() as f32;
                    let db = 10.0 * p.max(1e-8).log10();
                    ((db + 80.0) / 80.0 * 255.0).round().clamp(0.0, 255.0) as u8
                })
                .collect(),
        })
        .collect();
    let (beats_s, beats_source) = match &options.beats_s {
        Some(b) => (b.clone(), "input"),
        None => (beats_from_onsets(&f.flux, f.frame_rate), "onsets"),
    };
    let sr = f64::from(sample_rate);
    let hop = ((LOUDNESS_HOP_S * sr).round() as usize).max(1);
    let half = ((LOUDNESS_WINDOW_S * sr / 2.0).round() as usize).max(1);
    let mut prefix = Vec::with_capacity(clean.len() + 1);
    prefix.push(0.0f64);
    for &x in &clean {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(x) * f64::from(x));
    }
    let rms_dbfs = (0..clean.len().div_ceil(hop))
        .map(|i| {
            let c = i * hop;
            let (lo, hi) = (c.saturating_sub(half), (c + half).min(clean.len()));
            let ms = (prefix[hi] - prefix[lo]) / (hi - lo).max(1) as f64;
            (10.0 * ms.max(1e-9).log10()).round().max(-90.0) as i16
        })
        .collect();
    let peaks = options
        .samples_per_peak
        .iter()
        .filter(|&&s| s > 0)
        .map(|&spp| {
            let (min, max) = clean
                .chunks(spp)
                .map(|c| {
                    let lo = c.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = c.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    (q8(lo), q8(hi))
                })
                .unzip();
            Peaks {
                samples_per_peak: spp,
                min,
                max,
            }
        })
        .collect();
    Ok(Visualization {
        version: 1,
        duration_s: (clean.len() as f64 / sr * 1000.0).round() / 1000.0,
        sample_rate,
        frame_rate: f.frame_rate / FRAMES_PER_DISPLAY as f64,
        bands,
        beats_s: beats_s
            .into_iter()
            .map(|b| (b * 1000.0).round() / 1000.0)
            .collect(),
        beats_source: beats_source.into(),
        loudness: Loudness {
            frame_rate: 1.0 / LOUDNESS_HOP_S,
            window_s: LOUDNESS_WINDOW_S,
            rms_dbfs,
        },
        peaks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bass_tone_lights_the_bass_band_and_peaks_track_the_wave() {
        let sr: usize = 22_050;
        let tone: Vec<f32> = (0..sr * 2)
            .map(|i| 0.5 * (std::f32::consts::TAU * 100.0 * i as f32 / sr as f32).sin())
            .collect();
        let v = visualize(&tone, sr as u32, &VisualizeOptions::default()).unwrap();
        assert_eq!(v.bands.len(), 7);
        let mid = v.bands[1].values.len() / 2;
        assert!(
            v.bands[1].values[mid] > v.bands[4].values[mid] + 50,
            "{:?}",
            v.bands.iter().map(|b| b.values[mid]).collect::<Vec<_>>()
        );
        // 0.5 amplitude sine: RMS -9 dBFS.
        let l = v.loudness.rms_dbfs[v.loudness.rms_dbfs.len() / 2];
        assert!((l + 9).abs() <= 1, "{l}");
        assert_eq!(v.peaks.len(), 4);
        assert_eq!(v.peaks[0].max.len(), (sr * 2).div_ceil(256));
        let full = v.peaks[0].max.len() - 1;
        assert!(
            v.peaks[0].max[..full]
                .iter()
                .all(|&m| (62..=64).contains(&m))
        );
        assert!(
            v.peaks[0].min[..full]
                .iter()
                .all(|&m| (-64..=-62).contains(&m))
        );
        assert_eq!(v.beats_source, "onsets");
        let json = serde_json::to_string(&v).unwrap();
        let back: Visualization = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn input_beats_are_used() {
        let v = visualize(
            &[0.1; 22_050],
            22_050,
            &VisualizeOptions {
                beats_s: Some(vec![0.5, 1.0]),
                ..VisualizeOptions::default()
            },
        )
        .unwrap();
        assert_eq!(v.beats_s, vec![0.5, 1.0]);
        assert_eq!(v.beats_source, "input");
        assert!(visualize(&[], 22_050, &VisualizeOptions::default()).is_err());
    }
}
