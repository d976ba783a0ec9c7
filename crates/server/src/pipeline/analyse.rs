//! The analyse step: decode the original once, measure it, and keep a mono 22.05 kHz copy for
//! every later step (plus the side signal of a stereo original, for the lyrics front end).

use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Step, StepContext, StepError, StepOutput};
use crate::db::now_ms;
use crate::store::keys;

/// Name of the derived blob holding the mono analysis PCM (little-endian `f32`, 22 050 Hz).
pub const MONO_PCM: &str = "mono-22050.f32le";

/// Name of the derived blob holding the side signal `(left - right) / 2` of a stereo original
/// at the rate of [`MONO_PCM`] (whose samples are the mid signal `(left + right) / 2`). The
/// lyrics step's centre-channel extraction needs both; originals with one channel, or whose
/// channels are identical, have no side blob.
pub const SIDE_PCM: &str = "side-22050.f32le";

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
        concat!("analyse/2 encore-server ", env!("CARGO_PKG_VERSION"))
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
        let (analysis, decoded) = tokio::task::spawn_blocking(move || analyse_file(&path))
            .await
            .map_err(|e| StepError::Transient(e.into()))??;
        ctx.blobs
            .put_bytes(
                &keys::derived(&ctx.work_id, MONO_PCM),
                f32le_bytes(&decoded.mono),
            )
            .await
            .map_err(|e| StepError::Transient(e.into()))?;
        let side_key = keys::derived(&ctx.work_id, SIDE_PCM);
        match &decoded.side {
            Some(side) => ctx.blobs.put_bytes(&side_key, f32le_bytes(side)).await,
            // A re-run must not leave a side signal that no longer belongs to the work.
            None => match ctx.blobs.delete(&side_key).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            },
        }
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

fn f32le_bytes(samples: &[f32]) -> Bytes {
    Bytes::from(
        samples
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

/// The signals [`analyse_file`] decodes, at [`encore_audio::ANALYSIS_SAMPLE_RATE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The mono mix (for a stereo original, the mid signal).
    pub mono: Vec<f32>,
    /// The side signal of the first two channels, `None` for one channel or identical channels.
    pub side: Option<Vec<f32>>,
}

/// Decodes a file once: measures it and returns the mono analysis signal and, for a stereo
/// original, its side signal.
pub fn analyse_file(path: &Path) -> Result<(Analysis, Decoded), StepError> {
    let decode_error = |e| StepError::Permanent(format!("the audio does not decode: {e}"));
    let decoder = encore_audio::Decoder::open(path).map_err(decode_error)?;
    let info = decoder.info().clone();
    let sr = encore_audio::ANALYSIS_SAMPLE_RATE;
    let mut frames = 0u64;
    let mut side_resampler = if info.channels >= 2 {
        Some(encore_audio::Resampler::new(info.sample_rate, sr).map_err(decode_error)?)
    } else {
        None
    };
    let (mut side, mut diff) = (Vec::new(), Vec::new());
    let mono = encore_audio::mono_from_decoder(decoder, sr, |chunk| {
        let channels = chunk.channels.max(1);
        frames += (chunk.samples.len() / channels) as u64;
        if let (Some(r), true) = (side_resampler.as_mut(), channels >= 2) {
            diff.clear();
            diff.extend(
                chunk
                    .samples
                    .chunks_exact(channels)
                    .map(|f| 0.5 * (f[0] - f[1])),
            );
            r.push(&diff, &mut side);
        }
    })
    .map_err(decode_error)?;
    if let Some(r) = side_resampler {
        r.finish(&mut side);
    }
    // Same length as the mono signal (both resamplers saw the same frames); identical channels
    // carry no side signal worth storing.
    side.resize(mono.samples.len(), 0.0);
    let side = side.iter().any(|s| s.abs() > 1e-6).then_some(side);
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
    Ok((
        analysis,
        Decoded {
            mono: mono.samples,
            side,
        },
    ))
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

    /// Writes one second of a 16-bit WAV of `channels` channels whose frames `frame(t)` gives,
    /// analyses it, and returns the result with the audio as written.
    fn analyse_wav(
        channels: usize,
        frame: impl Fn(f64) -> Vec<f32>,
    ) -> (Analysis, Decoded, encore_audio::AudioBuffer) {
        let sr = 44_100;
        let samples: Vec<f32> = (0..sr)
            .flat_map(|i| frame(f64::from(i) / f64::from(sr)))
            .collect();
        let buf = encore_audio::AudioBuffer::new(sr, channels, samples);
        let mut wav = Vec::new();
        buf.write_wav_pcm16(&mut wav).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &wav).unwrap();
        let (analysis, decoded) = analyse_file(file.path()).unwrap();
        let written = encore_audio::decode_bytes(wav, Some("wav")).unwrap();
        (analysis, decoded, written)
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn a_stereo_original_keeps_its_side_signal() {
        use std::f64::consts::TAU;
        // Left: 300 Hz at 0.4; right: 500 Hz at 0.2. Mid and side each hold both tones, at
        // half their amplitudes, with opposite signs for the right channel's tone in the side.
        let (analysis, decoded, stereo) = analyse_wav(2, |t| {
            let (l, r) = (0.4 * (TAU * 300.0 * t).sin(), 0.2 * (TAU * 500.0 * t).sin());
            vec![l as f32, r as f32]
        });
        assert_eq!(
            (analysis.channels, analysis.analysis_sample_rate),
            (2, 22_050)
        );
        let side = decoded.side.expect("a stereo original has a side signal");
        assert_eq!(side.len(), decoded.mono.len());
        assert!((decoded.mono.len() as i64 - 22_050).abs() < 10);
        // Away from the resampler's edges, mid + side is the left channel, mid - side the right.
        let sr = 22_050.0;
        for i in (1_000..20_000).step_by(97) {
            let t = i as f64 / sr;
            let (l, r) = (0.4 * (TAU * 300.0 * t).sin(), 0.2 * (TAU * 500.0 * t).sin());
            assert!(
                (f64::from(decoded.mono[i] + side[i]) - l).abs() < 2e-3,
                "left at {i}"
            );
            assert!(
                (f64::from(decoded.mono[i] - side[i]) - r).abs() < 2e-3,
                "right at {i}"
            );
        }
        let expected = (0.2f64.powi(2) / 2.0 + 0.1f64.powi(2) / 2.0).sqrt();
        assert!((rms(&side[1_000..20_000]) - expected).abs() < 0.01);
        // The lyrics step's front end on mid and side sees what `encore lyrics align` sees on
        // the stereo file (resampling is linear, so mid/side before or after it agree).
        let stored = encore_lyrics::from_mid_side(&decoded.mono, &side).unwrap();
        let direct = encore_lyrics::extract_features(&stereo).unwrap();
        assert_eq!(stored.len(), direct.len());
        // Up to float rounding, which the median filters of the separation can move a little
        // in a few quiet bands.
        let diffs: Vec<f32> = stored
            .log_mel
            .iter()
            .zip(&direct.log_mel)
            .filter(|(a, b)| a.max(**b) > -60.0)
            .map(|(a, b)| (a - b).abs())
            .collect();
        assert!(
            diffs.len() > stored.log_mel.len() / 20,
            "{} bands",
            diffs.len()
        );
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        let max = diffs.iter().copied().fold(0.0, f32::max);
        assert!(mean < 0.01 && max < 1.0, "mean {mean} dB, max {max} dB");
    }

    #[test]
    fn mono_and_dual_mono_originals_have_no_side_signal() {
        let tone = |t: f64| (0.3 * (std::f64::consts::TAU * 440.0 * t).sin()) as f32;
        let (_, mono, _) = analyse_wav(1, |t| vec![tone(t)]);
        assert!(mono.side.is_none());
        let (_, dual, _) = analyse_wav(2, |t| vec![tone(t), tone(t)]);
        assert!(dual.side.is_none());
        assert!(rms(&dual.mono) > 0.2);
    }

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
