//! Alignments with Whisper as one of the listeners: refine mode with Whisper's word starts as a
//! third opinion, and full mode where Whisper's transcript steers the line pass and Whisper
//! then looks for each line again. Shared by `encore lyrics align`, `encore lyrics eval` and
//! the platform's lyrics step.

use std::sync::Arc;

use encore_lyrics::{
    AlignOptions, Features, HybridModel, Lyrics, MedianAligner, Mode, SphinxModel,
};

use crate::client::{Whisper, WhisperAudio};
use crate::error::{Error, Result};
use encore_lyrics::{HeardWord, Language};

/// How far from where full mode placed a line Whisper looks for it (both sides; the window is
/// the line and this much around it, with words of the lines around it as context). Chosen on
/// synthetic songs: lines moved by 3 or 6 s were found again within about 0.4 s, and 4 s was
/// worse on `tval` (docs/readme/lyrics.md).
pub const LINE_SEARCH_MARGIN_S: f64 = 8.0;

/// How early Whisper base's attention places sung words when it looks for lines
/// ([`Whisper::starts_around_lines`]): the median of its word starts less the true ones
/// (without each line's first word), -0.44 s over the 313 words of a synthetic set made only
/// for this (`encore lyrics synth DIR --songs 2 --seed 5151 --langs en,de,es,fr,it --sung
/// --variants --snr=-6,6`, 30 % over recordings; -0.31 to -0.93 s per song). The lines move by
/// Whisper's offset less this constant (see [`encore_lyrics::move_lines`]).
pub const LINE_SEARCH_LAG_S: f64 = -0.44;

/// An alignment, and why Whisper had no part in it when it failed.
#[derive(Debug)]
pub struct WithWhisper {
    /// The alignment.
    pub lyrics: Lyrics,
    /// Whisper's failure when it was not [`Listener::required`] and the alignment was finished
    /// without it (in full mode, after a failure in the last step, refine mode's word starts,
    /// the lines Whisper moved stay where it moved them); `None` when Whisper took part to the
    /// end.
    pub whisper_error: Option<Error>,
}

/// What the compositions ask Whisper. [`Whisper`] answers itself; a server that shares one
/// process between jobs implements it to hold the process only while a question is answered.
pub trait Listener {
    /// Whether failures are errors ([`Whisper::required`]) instead of a reason to align
    /// without Whisper.
    fn required(&self) -> bool;
    /// [`Whisper::word_starts`].
    fn word_starts(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
    ) -> Result<Vec<Option<f64>>>;
    /// [`Whisper::starts_around_lines`].
    fn starts_around_lines(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
        margin_s: f64,
    ) -> Result<Vec<Option<f64>>>;
    /// [`Whisper::heard_words`].
    fn heard_words(&mut self, audio: &WhisperAudio, lang: &Language) -> Result<Vec<HeardWord>>;
}

impl Listener for Whisper {
    fn required(&self) -> bool {
        self.required
    }

    fn word_starts(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
    ) -> Result<Vec<Option<f64>>> {
        Whisper::word_starts(self, audio, lyrics, lang)
    }

    fn starts_around_lines(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
        margin_s: f64,
    ) -> Result<Vec<Option<f64>>> {
        Whisper::starts_around_lines(self, audio, lyrics, lang, margin_s)
    }

    fn heard_words(&mut self, audio: &WhisperAudio, lang: &Language) -> Result<Vec<HeardWord>> {
        Whisper::heard_words(self, audio, lang)
    }
}

/// `error` when Whisper is required, else `fallback`'s alignment with the error recorded (and
/// a warning).
fn give_up(
    whisper: &impl Listener,
    error: Error,
    fallback: impl FnOnce() -> Result<Lyrics>,
) -> Result<WithWhisper> {
    if whisper.required() {
        return Err(error);
    }
    tracing::warn!("aligning without Whisper: {error}");
    Ok(WithWhisper {
        lyrics: fallback()?,
        whisper_error: Some(error),
    })
}

/// Refine mode with Whisper as a third opinion: the hybrid model with and without the Sphinx
/// phones, and Whisper's word starts, median per word ([`encore_lyrics::median_with_starts`]).
/// When Whisper fails (a language it does not know, its process gone) and is not required, the
/// first run (the default without Whisper) is the answer.
pub fn refine_with_whisper(
    whisper: &mut impl Listener,
    hybrid: HybridModel,
    phones: Arc<SphinxModel>,
    options: AlignOptions,
    audio: &WhisperAudio,
    features: &Features,
    lyrics: &Lyrics,
) -> Result<WithWhisper> {
    let lang = options.language_for(lyrics);
    let mut runs =
        MedianAligner::of_two(hybrid, phones, options).align_runs(features, lyrics, &[])?;
    if runs.is_empty() {
        return Err(encore_lyrics::Error::Invalid("no alignment".into()).into());
    }
    match whisper.word_starts(audio, &runs[0], &lang) {
        Ok(starts) => Ok(WithWhisper {
            lyrics: encore_lyrics::median_with_starts(runs, &starts)?,
            whisper_error: None,
        }),
        Err(e) => give_up(whisper, e, || Ok(runs.swap_remove(0))),
    }
}

/// Full mode with Whisper: what Whisper hears in the song, matched to the lyrics' words
/// ([`encore_lyrics::anchor_words`]), steers `aligner`'s line pass. Then, with the hybrid model
/// and the Sphinx phones (`refine`), Whisper looks for each line again in a window
/// [`LINE_SEARCH_MARGIN_S`] wider on both sides, the lines move where it found them
/// ([`encore_lyrics::move_lines`]), and their words are aligned as in
/// [`refine_with_whisper`]. When Whisper fails and is not required: `aligner`'s alignment
/// without hints if the transcript failed, the hinted one if the line search did.
pub fn full_with_whisper(
    whisper: &mut impl Listener,
    aligner: &MedianAligner,
    refine: Option<(HybridModel, Arc<SphinxModel>)>,
    mut options: AlignOptions,
    audio: &WhisperAudio,
    features: &Features,
    lyrics: &Lyrics,
) -> Result<WithWhisper> {
    let lang = options.language_for(lyrics);
    let heard = match whisper.heard_words(audio, &lang) {
        Ok(heard) => heard,
        Err(e) => return give_up(whisper, e, || Ok(aligner.align_features(features, lyrics)?)),
    };
    let hints = encore_lyrics::anchor_words(lyrics, &lang, &heard);
    tracing::debug!(heard = ?heard, "whisper heard");
    tracing::debug!(hints = ?hints, "whisper hints per lyric word");
    tracing::info!(
        heard = heard.len(),
        words = hints.len(),
        anchored = hints.iter().flatten().count(),
        "whisper hints"
    );
    let aligned = aligner.align_features_with_hints(features, lyrics, &hints)?;
    let Some((hybrid, phones)) = refine else {
        return Ok(WithWhisper {
            lyrics: aligned,
            whisper_error: None,
        });
    };
    let starts = match whisper.starts_around_lines(audio, &aligned, &lang, LINE_SEARCH_MARGIN_S) {
        Ok(starts) => starts,
        Err(e) => return give_up(whisper, e, || Ok(aligned)),
    };
    let moved = encore_lyrics::move_lines(
        &aligned,
        &starts,
        LINE_SEARCH_LAG_S,
        LINE_SEARCH_MARGIN_S,
        audio.duration_s(),
    )?;
    options.mode = Mode::Refine;
    refine_with_whisper(whisper, hybrid, phones, options, audio, features, &moved)
}
