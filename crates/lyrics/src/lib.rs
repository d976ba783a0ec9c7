//! `encore-lyrics`: time-synced lyrics for Encore.
//!
//! - **Formats** ([`parse`], [`write`], [`Format`]): LRC with metadata, repeated line times and
//!   `[offset:]`; enhanced LRC word times; TTML as Apple Music writes it; SRT; WebVTT; JSON.
//! - **Text** ([`normalize`], [`tokenize`], [`Language`]): punctuation and case folding, numbers
//!   spelled out (English, French, Spanish, German), words for Latin scripts and one sung syllable
//!   per Han character.
//! - **Pronunciation** ([`Pronouncer`]): Mandarin through pinyin initials and finals, English and
//!   Romance/Germanic letter-to-sound rules, a grapheme fallback for any language, and eSpeak-NG
//!   as an optional external phonemiser.
//! - **Alignment** ([`Aligner`]): Viterbi forced alignment over an HMM built from the lyrics,
//!   with emission scores from an [`AcousticModel`], fed by a vocal-enhancement front end.
//! - **Training** ([`train`], [`HybridModel`]): flat-start GMM-HMM, forced alignment to frame
//!   labels, an MLP over stacked log-mel frames, scaled likelihoods in the same aligner; a
//!   versioned model file and a default model ([`HybridModel::default_model`]).
//! - **Phone identity** ([`SphinxModel`], [`SphinxHybridModel`]): readers for a CMU Sphinx PTM
//!   model (Debian's `pocketsphinx-en-us`) and a scorer of its context-independent phones, added
//!   to the hybrid model's broad classes ([`Aligner::recommended`]: the default in refine mode).
//! - **Opt-in refinements**: per-song adaptation ([`AlignOptions::adapt_weight`]) and
//!   [`MedianAligner`] (each word's median time over several models), and
//!   [`median_with_starts`] (a third opinion from another aligner's word starts).
//! - **Hints from a transcript** ([`anchor_words`], [`Aligner::align_features_with_hints`]):
//!   words another recogniser heard, matched to the lyrics in order, steer full mode's line pass;
//!   [`move_lines`] moves full mode's lines where another aligner found their words.
//! - **Evaluation** ([`evaluate`]): word-onset errors against a reference.
//!
//! ```
//! use encore_lyrics::{Format, parse, write};
//!
//! let lrc = "[ti:Demo]\n[00:01.00]<00:01.00>Hello <00:01.50>world <00:02.00>\n";
//! let lyrics = parse(lrc, Format::Elrc)?;
//! assert_eq!(lyrics.lines[0].words[1].start_s, Some(1.5));
//! let ttml = write(&lyrics, Format::Ttml);
//! assert!(ttml.contains("<span begin=\"00:00:01.500\""));
//! # Ok::<(), encore_lyrics::Error>(())
//! ```

mod acoustic;
mod adapt;
mod align;
mod anchor;
mod dict;
mod doc;
mod ensemble;
mod error;
mod eval;
mod formats;
mod frontend;
mod gmm;
mod hybrid;
mod mlp;
mod phones;
mod shift;
mod sphinx;
mod text;
mod train;

pub use acoustic::{AcousticModel, BroadClassModel, Emissions};
pub use align::{AlignOptions, Aligner, Mode};
pub use anchor::{HeardWord, anchor_words};
pub use dict::PronunciationDict;
pub use doc::{Line, Lyrics, Word};
pub use ensemble::{MEDIAN_ADAPT_WEIGHT, MedianAligner, median_with_starts};
pub use error::{Error, Result};
pub use eval::{OnsetMetrics, average, evaluate};
pub use formats::{
    Format, MAX_INPUT_BYTES, MAX_LINES, MAX_TIME_S, MAX_WORDS_PER_LINE, parse, parse_any, write,
};
pub use frontend::{
    FRONTEND_SAMPLE_RATE, Features, MAX_AUDIO_S, N_MELS, extract as extract_features, from_mid_side,
};
pub use gmm::DiagGmm;
pub use hybrid::{
    FRAME_DIMS, HybridModel, MODEL_VERSION, ModelFileError, ModelHeader, N_TARGETS, TARGET_NAMES,
};
pub use mlp::{Adam, Layer, Mlp};
pub use phones::{Phone, PhoneClass, Pronouncer, espeak_ipa, ipa_phones, pinyin_parts};
pub use shift::move_lines;
pub use sphinx::{DEFAULT_PHONE_WEIGHT, SphinxFileError, SphinxHybridModel, SphinxModel};
pub use text::{Language, Token, is_han, normalize, spell_number, tokenize};
pub use train::{ProgressFn, TrainConfig, TrainReport, TrainSong, TrainWord, train};
