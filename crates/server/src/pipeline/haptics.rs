//! The haptics step: haptic tracks in every export format and the web player's visualisation
//! data, from the analysis PCM, stored as derived blobs.

use async_trait::async_trait;
use bytes::Bytes;
use encore_haptics::{
    GenerateOptions, VisualizeOptions, generate, to_ahap, to_android, to_lofelt, to_web, visualize,
};
use serde_json::json;
use sqlx::Row;

use super::{Step, StepContext, StepError, StepOutput};
use crate::store::keys;

/// Derived blob holding the visualisation JSON (the `encore visualize --json` shape).
pub const VISUALIZATION: &str = "visualization.json";

/// The haptic formats: (API name, derived blob name, content type, download extension).
pub const HAPTIC_FORMATS: &[(&str, &str, &str, &str)] = &[
    ("ahap", "haptics.ahap", "application/json", "ahap"),
    (
        "android",
        "haptics-android.json",
        "application/json",
        "json",
    ),
    ("lofelt", "haptics.haptic", "application/json", "haptic"),
    ("web", "haptics-web.json", "application/json", "json"),
];

/// The haptics step (after analyse).
#[derive(Debug, Clone, Copy)]
pub struct HapticsStep;

fn transient(e: impl Into<anyhow::Error>) -> StepError {
    StepError::Transient(e.into())
}

fn permanent(e: impl std::fmt::Display) -> StepError {
    StepError::Permanent(format!("haptics: {e}"))
}

#[async_trait]
impl Step for HapticsStep {
    fn name(&self) -> &'static str {
        "haptics"
    }

    fn version(&self) -> &'static str {
        concat!("haptics/1 encore-server ", env!("CARGO_PKG_VERSION"))
    }

    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }

    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        let title: String = sqlx::query("SELECT title FROM works WHERE id = $1")
            .bind(&ctx.work_id)
            .fetch_one(&ctx.db.pool)
            .await
            .map_err(transient)?
            .try_get("title")
            .map_err(transient)?;
        let pcm = ctx.mono_pcm().await?;
        let work_id = ctx.work_id.clone();
        let (files, summary) = tokio::task::spawn_blocking(move || {
            let sr = encore_audio::ANALYSIS_SAMPLE_RATE;
            // Beats as `encore visualize` tracks them; a work too short for the tracker gets
            // the visualiser's own onset-based estimate.
            let beats = match encore_audio::analyze_mono(
                &pcm,
                sr,
                &encore_audio::AnalyzeOptions::default(),
            ) {
                Ok(r) => Some(r.beats_s),
                Err(e) => {
                    tracing::info!(error = %e, "no beat grid; the visualisation estimates one");
                    None
                }
            };
            let mut track = generate(&pcm, sr, &GenerateOptions::default()).map_err(permanent)?;
            track.metadata.project = title;
            track.metadata.source = work_id;
            let vis = visualize(
                &pcm,
                sr,
                &VisualizeOptions {
                    beats_s: beats,
                    ..VisualizeOptions::default()
                },
            )
            .map_err(permanent)?;
            let files: Vec<(&'static str, Vec<u8>)> = vec![
                (
                    "haptics.ahap",
                    to_ahap(&track).map_err(permanent)?.into_bytes(),
                ),
                (
                    "haptics-android.json",
                    serde_json::to_vec(&to_android(&track).map_err(permanent)?)
                        .map_err(transient)?,
                ),
                (
                    "haptics.haptic",
                    to_lofelt(&track).map_err(permanent)?.into_bytes(),
                ),
                (
                    "haptics-web.json",
                    serde_json::to_vec(&to_web(&track).map_err(permanent)?).map_err(transient)?,
                ),
                (VISUALIZATION, serde_json::to_vec(&vis).map_err(transient)?),
            ];
            let summary = json!({
                "transients": track.transients().count(),
                "amplitude_breakpoints": track.amplitude.len(),
                "beats": vis.beats_s.len(),
            });
            Ok::<_, StepError>((files, summary))
        })
        .await
        .map_err(transient)??;
        let mut sizes = serde_json::Map::new();
        for (name, data) in files {
            sizes.insert(name.into(), json!(data.len()));
            ctx.blobs
                .put_bytes(&keys::derived(&ctx.work_id, name), Bytes::from(data))
                .await
                .map_err(transient)?;
        }
        let mut result = summary;
        result["files"] = serde_json::Value::Object(sizes);
        result["formats"] = json!(HAPTIC_FORMATS.iter().map(|f| f.0).collect::<Vec<_>>());
        Ok(StepOutput::done(result))
    }
}
