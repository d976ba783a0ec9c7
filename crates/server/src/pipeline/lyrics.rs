//! The lyrics step: align the work's lyrics to its audio with encore-lyrics (refine mode when
//! the LRC has line times, full otherwise) and store the `encore lyrics align --json` shape.

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::{Arc, OnceLock};

use encore_lyrics::{
    AlignOptions, Aligner, Format, HybridModel, Language, Lyrics, MedianAligner, Mode,
    PronunciationDict, SphinxModel,
};
use encore_whisper::{WhisperAudio, full_with_whisper, refine_with_whisper};
use serde_json::{Value, json};
use sqlx::Row;

use super::{Step, StepContext, StepError, StepOutput};
use crate::services::WhisperUnavailable;
use crate::store::keys;

/// Derived blob holding the aligned lyrics JSON.
pub const LYRICS_ALIGNED: &str = "lyrics-aligned.json";

// The lyrics front end reads the analysis PCM as it is stored.
const _: () = assert!(encore_audio::ANALYSIS_SAMPLE_RATE == encore_lyrics::FRONTEND_SAMPLE_RATE);

/// The lyrics step (after analyse). Works without lyrics finish at once with
/// `{"aligned": false}`.
#[derive(Debug, Clone, Copy)]
pub struct LyricsStep;

fn transient(e: impl Into<anyhow::Error>) -> StepError {
    StepError::Transient(e.into())
}

/// An alignment made by the step.
struct Aligned {
    lyrics: Lyrics,
    /// The acoustic model's name.
    model: String,
    /// Whether Whisper took part.
    whisper: bool,
    /// Why Whisper had no part when it was asked (a language it does not know, ...).
    whisper_error: Option<String>,
}

/// Debian's English pronunciation dictionary when installed (as `encore lyrics align` uses it),
/// read once per process.
fn dictionary() -> Option<Arc<PronunciationDict>> {
    static DICT: OnceLock<Option<Arc<PronunciationDict>>> = OnceLock::new();
    DICT.get_or_init(|| PronunciationDict::installed().map(Arc::new))
        .clone()
}

/// Debian's Sphinx en-US model when installed (phone identity that `encore lyrics align` adds
/// in refine mode), read once per process.
fn sphinx() -> Option<Arc<SphinxModel>> {
    static SPHINX: OnceLock<Option<Arc<SphinxModel>>> = OnceLock::new();
    SPHINX
        .get_or_init(|| SphinxModel::installed().map(Arc::new))
        .clone()
}

/// The acoustic model shipped with encore-lyrics (the default of `encore lyrics align`), parsed
/// once per process.
fn shipped_model() -> Result<&'static HybridModel, StepError> {
    static MODEL: OnceLock<Result<HybridModel, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| HybridModel::default_model().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| StepError::Permanent(format!("the shipped lyrics model: {e}")))
}

/// The `encore lyrics align --json` shape.
pub fn contract_json(lyrics: &Lyrics) -> Value {
    let lines: Vec<Value> = lyrics
        .lines
        .iter()
        .map(|l| {
            let words: Vec<Value> = l
                .words
                .iter()
                .map(|w| {
                    json!({
                        "text": w.text, "start_s": w.start_s, "end_s": w.end_s, "confidence": w.confidence,
                    })
                })
                .collect();
            json!({ "text": l.text, "start_s": l.start_s, "end_s": l.end_s, "words": words })
        })
        .collect();
    json!({ "lines": lines })
}

#[async_trait]
impl Step for LyricsStep {
    fn name(&self) -> &'static str {
        "lyrics"
    }

    fn version(&self) -> &'static str {
        concat!("lyrics/5 encore-server ", env!("CARGO_PKG_VERSION"))
    }

    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }

    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        let row = sqlx::query("SELECT lyrics, lyrics_format, language FROM works WHERE id = $1")
            .bind(&ctx.work_id)
            .fetch_one(&ctx.db.pool)
            .await
            .map_err(transient)?;
        let Some(text) = row
            .try_get::<Option<String>, _>("lyrics")
            .map_err(transient)?
        else {
            return Ok(StepOutput::done(
                json!({"aligned": false, "reason": "no lyrics"}),
            ));
        };
        let format = match row
            .try_get::<Option<String>, _>("lyrics_format")
            .map_err(transient)?
            .as_deref()
        {
            Some("lrc") => Format::Lrc,
            _ => Format::Text,
        };
        let language: Option<String> = row.try_get("language").map_err(transient)?;
        let lyrics = match encore_lyrics::parse(&text, format) {
            Ok(l) if !l.lines.is_empty() => l,
            Ok(_) => {
                return Ok(StepOutput::done(
                    json!({"aligned": false, "reason": "no lyric lines"}),
                ));
            }
            Err(e) => {
                return Ok(StepOutput::done(
                    json!({"aligned": false, "reason": format!("lyrics do not parse: {e}")}),
                ));
            }
        };
        let mode = if lyrics.is_line_timed() {
            Mode::Refine
        } else {
            Mode::Full
        };
        let model = shipped_model()?;
        let mid = ctx.mono_pcm().await?;
        // LRC lines that start after the audio ends are aligned with their words at the end;
        // the result says how many, so the creator can see the LRC does not fit.
        let duration_s = mid.len() as f64 / f64::from(encore_lyrics::FRONTEND_SAMPLE_RATE);
        let lines_after_end = lyrics.lines_starting_after(duration_s).count();
        if lines_after_end > 0 {
            tracing::warn!(
                work = %ctx.work_id,
                lines_after_end,
                duration_s,
                "lyric lines start after the audio ends"
            );
        }
        let side = ctx.side_pcm().await?;
        let whisper = ctx.services.whisper.clone();
        // Outer error: Whisper did not start when it must (`on`), worth a retry. Inner error:
        // these lyrics cannot be aligned to this audio, a result of the step.
        let outcome = tokio::task::spawn_blocking(
            move || -> Result<Result<Aligned, String>, WhisperUnavailable> {
                // The analysis PCM is the mid signal; with the side signal of a stereo original
                // the front end can pull the centre (where the voice usually is) out of the mix.
                // A one-channel original gets no side signal.
                let features = match encore_lyrics::from_mid_side(&mid, &side.unwrap_or_default()) {
                    Ok(f) => f,
                    Err(e) => return Ok(Err(e.to_string())),
                };
                let options = AlignOptions {
                    mode,
                    language: language.as_deref().map(Language::from_code),
                    dictionary: dictionary(),
                    ..AlignOptions::default()
                };
                // As `encore lyrics align` by default: the Sphinx phones in refine mode, where
                // they were measured better on real songs; the shipped model alone in full mode.
                let refine_phones = sphinx();
                let aligner = MedianAligner::new(vec![Aligner::recommended(
                    model.clone(),
                    refine_phones.clone().filter(|_| mode == Mode::Refine),
                    options.clone(),
                )]);
                let name = aligner.name().to_string();
                // Whisper joins as in `encore lyrics align --whisper=WHEN`: refine mode needs the
                // Sphinx phones for its median; full mode aligns the lines it moved as refine
                // mode does when they are there, and takes only the transcript's hints when not.
                if (mode == Mode::Full || refine_phones.is_some()) && whisper.joins(mode)? {
                    let mut listener = &*whisper;
                    let aligned =
                        WhisperAudio::from_mono(&mid, encore_lyrics::FRONTEND_SAMPLE_RATE)
                            .and_then(|audio| match (mode, refine_phones) {
                                (Mode::Refine, Some(phones)) => refine_with_whisper(
                                    &mut listener,
                                    model.clone(),
                                    phones,
                                    options,
                                    &audio,
                                    &features,
                                    &lyrics,
                                ),
                                (_, phones) => full_with_whisper(
                                    &mut listener,
                                    &aligner,
                                    phones.map(|p| (model.clone(), p)),
                                    options,
                                    &audio,
                                    &features,
                                    &lyrics,
                                ),
                            });
                    return Ok(aligned
                        .map(|a| Aligned {
                            lyrics: a.lyrics,
                            model: name,
                            whisper: a.whisper_error.is_none(),
                            whisper_error: a.whisper_error.map(|e| e.to_string()),
                        })
                        .map_err(|e| e.to_string()));
                }
                Ok(aligner
                    .align_features(&features, &lyrics)
                    .map(|lyrics| Aligned {
                        lyrics,
                        model: name,
                        whisper: false,
                        whisper_error: None,
                    })
                    .map_err(|e| e.to_string()))
            },
        )
        .await
        .map_err(transient)?
        .map_err(transient)?;
        let mode_name = if mode == Mode::Refine {
            "refine"
        } else {
            "full"
        };
        let aligned = match outcome {
            Ok(a) => a,
            // The lyrics cannot be aligned to this audio (too many words for its length, ...):
            // the work is still usable with unaligned lyrics.
            Err(e) => {
                return Ok(StepOutput::done(json!({
                    "aligned": false, "mode": mode_name, "reason": format!("alignment failed: {e}"),
                })));
            }
        };
        let body = contract_json(&aligned.lyrics);
        let words: usize = aligned.lyrics.lines.iter().map(|l| l.words.len()).sum();
        ctx.blobs
            .put_bytes(
                &keys::derived(&ctx.work_id, LYRICS_ALIGNED),
                Bytes::from(body.to_string()),
            )
            .await
            .map_err(transient)?;
        Ok(StepOutput::done(json!({
            "aligned": true,
            "mode": mode_name,
            "model": aligned.model,
            "lines": aligned.lyrics.lines.len(),
            "words": words,
            "lines_after_end": lines_after_end,
            // Whether Whisper took part, and why not when it was asked and failed.
            "whisper": aligned.whisper,
            "whisper_error": aligned.whisper_error,
        })))
    }
}
