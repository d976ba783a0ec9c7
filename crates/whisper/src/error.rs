//! The one error type of `encore-whisper`.

use std::path::PathBuf;

use crate::python::PythonError;

/// Everything that can go wrong asking Whisper.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model folder has no `model.bin`.
    #[error("{}: no Whisper model (model.bin); scripts/install-deps.sh installs it", .0.display())]
    NoModel(PathBuf),
    /// The Python process did not start, exited, or its pipes failed.
    #[error(transparent)]
    Python(#[from] PythonError),
    /// Python reported an error for a request (a language Whisper does not know, ...).
    #[error("whisper: {0}")]
    Reported(String),
    /// Python's answer does not have the expected shape.
    #[error("whisper: unexpected answer: {0}")]
    Answer(&'static str),
    /// A line of an alignment has no start or end time (1-based line number).
    #[error("whisper: line {line} ({text:?}) has no start and end time")]
    UntimedLine {
        /// 1-based, among the lines with words.
        line: usize,
        /// The line's text.
        text: String,
    },
    /// Resampling the audio to Whisper's 16 kHz failed.
    #[error("whisper: resampling to 16 kHz: {0}")]
    Resample(#[from] encore_audio::Error),
    /// The temporary file Whisper reads the audio from could not be written.
    #[error("whisper: writing the audio to a temporary file: {0}")]
    TempFile(std::io::Error),
    /// An alignment around Whisper's opinion failed.
    #[error(transparent)]
    Align(#[from] encore_lyrics::Error),
}

impl Error {
    /// Whether the Python process is gone or unusable (start it again before the next song).
    pub fn is_process_gone(&self) -> bool {
        matches!(
            self,
            Error::Python(_) | Error::Answer(_) | Error::NoModel(_)
        )
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
