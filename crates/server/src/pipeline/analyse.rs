//! The analyse step: decode the original once, measure it, and keep a mono 22.05 kHz copy for
//! every later step.

use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Step, StepContext, StepError, StepOutput};
use crate::db::now_ms;
use crate::store::keys;

/// Name of the derived blob holding the mono analysis PCM (little-endian `f32`, 22 050 Hz).
pub const MONO_PCM: &str = "mono-22050.f32le";

/// What the analyse step stores. Field names follow `encore analyze --json`; tempo, beats and
/// loudness join when encore-audio provides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Duration in seconds, from the decoded frame count.
    pub duration_s: f64,
    /// Sample rate of the original, Hz.
    pub sample_rate: u32,
    /// Channels of the original.
    pub channels: usize,
    /// Container name.
    pub container: String,
    /// Codec name.
    pub codec: String,
    /// Onset times in seconds (spectral-flux peaks).
    pub onsets_s: Vec<f64>,
    /// Onsets per second over the whole work.
    pub onset_rate_hz: f64,
    /// Sample rate of the stored mono analysis PCM.
    pub analysis_sample_rate: u32,
}

/// The analyse step (stage 0).
#[derive(Debug, Clone, Copy)]
pub struct AnalyseStep;

#[async_trait]
impl Step for AnalyseStep {
    fn name(&self) -> &'static str {
        "analyse"
    }

    fn version(&self) -> &'static str {
        concat!("analyse/1 encore-server ", env!("CARGO_PKG_VERSION"))
    }

    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        tokio::fs::create_dir_all(&ctx.scratch)
            .await
            .map_err(|e| StepError::Transient(e.into()))?;
        let tmp = tempfile::Builder::new()
            .prefix("analyse-")
            .tempfile_in(&ctx.scratch)
            .map_err(|e| StepError::Transient(e.into()))?
            .into_temp_path();
        ctx.blobs
            .download_to(&keys::original(&ctx.work_id), &tmp)
            .await?;
        let path = tmp.to_path_buf();
        let (analysis, mono) = tokio::task::spawn_blocking(move || analyse_file(&path))
            .await
            .map_err(|e| StepError::Transient(e.into()))??;
        let pcm: Vec<u8> = mono.iter().flat_map(|s| s.to_le_bytes()).collect();
        ctx.blobs
            .put_bytes(&keys::derived(&ctx.work_id, MONO_PCM), Bytes::from(pcm))
            .await
            .map_err(|e| StepError::Transient(e.into()))?;
        sqlx::query(
            "UPDATE works SET duration_s = $1, sample_rate = $2, channels = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(analysis.duration_s)
        .bind(i64::from(analysis.sample_rate))
        .bind(analysis.channels as i64)
        .bind(now_ms())
        .bind(&ctx.work_id)
        .execute(&ctx.db.pool)
        .await
        .map_err(|e| StepError::Transient(e.into()))?;
        let value = serde_json::to_value(&analysis).map_err(|e| StepError::Transient(e.into()))?;
        Ok(StepOutput::done(value))
    }
}

/// Decodes a file once: measures it and returns the mono analysis signal.
pub fn analyse_file(path: &Path) -> Result<(Analysis, Vec<f32>), StepError> {
    let decoder = encore_audio::Decoder::open(path)
        .map_err(|e| StepError::Permanent(format!("the audio does not decode: {e}")))?;
    let info = decoder.info().clone();
    let mut frames = 0u64;
    let mono =
        encore_audio::mono_from_decoder(decoder, encore_audio::ANALYSIS_SAMPLE_RATE, |chunk| {
            frames += (chunk.samples.len() / chunk.channels.max(1)) as u64;
        })
        .map_err(|e| StepError::Permanent(format!("the audio does not decode: {e}")))?;
    let sr = encore_audio::ANALYSIS_SAMPLE_RATE;
    let env =
        encore_audio::onset_strength(&mono.samples, sr, &encore_audio::OnsetParams::default());
    let onsets_s = pick_onsets(&env.values, env.frame_rate);
    let duration_s = frames as f64 / f64::from(info.sample_rate.max(1));
    let analysis = Analysis {
        duration_s,
        sample_rate: info.sample_rate,
        channels: info.channels,
        container: info.container.to_string(),
        codec: info.codec.clone(),
        onset_rate_hz: if duration_s > 0.0 {
            onsets_s.len() as f64 / duration_s
        } else {
            0.0
        },
        onsets_s,
        analysis_sample_rate: sr,
    };
    Ok((analysis, mono.samples))
}

/// Peak picking on an onset envelope: a frame is an onset when it is the maximum of the
/// surrounding ±3 frames, exceeds the mean of the surrounding ±10 frames by 7 % of the global
/// maximum, and comes at least 3 frames after the previous onset.
pub fn pick_onsets(values: &[f32], frame_rate: f64) -> Vec<f64> {
    let max = values.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 || !max.is_finite() {
        return Vec::new();
    }
    let delta = 0.07 * max;
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for t in 0..values.len() {
        let v = values[t];
        let lo = t.saturating_sub(3);
        let hi = (t + 4).min(values.len());
        if values[lo..hi].iter().any(|&w| w > v) {
            continue;
        }
        let lo = t.saturating_sub(10);
        let hi = (t + 11).min(values.len());
        let mean = values[lo..hi].iter().sum::<f32>() / (hi - lo) as f32;
        if v < mean + delta {
            continue;
        }
        if last.is_some_and(|l| t - l < 3) {
            continue;
        }
        last = Some(t);
        out.push(t as f64 / frame_rate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_are_found_once_each() {
        let mut v = vec![0.0f32; 100];
        v[20] = 1.0;
        v[21] = 0.5;
        v[60] = 0.8;
        let onsets = pick_onsets(&v, 10.0);
        assert_eq!(onsets, vec![2.0, 6.0]);
        assert!(pick_onsets(&[0.0; 10], 10.0).is_empty());
        assert!(pick_onsets(&[], 10.0).is_empty());
    }

    #[test]
    fn clicks_are_onsets() {
        // Four clicks, 0.5 s apart, in silence at 22.05 kHz.
        let sr = 22_050;
        let mut x = vec![0.0f32; sr * 3];
        for k in 0..4 {
            let at = sr / 4 + k * sr / 2;
            for i in 0..200 {
                x[at + i] = ((i as f32) * 0.7).sin() * (1.0 - i as f32 / 200.0);
            }
        }
        let env =
            encore_audio::onset_strength(&x, sr as u32, &encore_audio::OnsetParams::default());
        let onsets = pick_onsets(&env.values, env.frame_rate);
        assert_eq!(onsets.len(), 4, "{onsets:?}");
        for (k, t) in onsets.iter().enumerate() {
            let expected = 0.25 + 0.5 * k as f64;
            assert!((t - expected).abs() < 0.05, "{t} vs {expected}");
        }
    }
}
