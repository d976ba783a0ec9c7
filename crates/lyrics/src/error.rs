//! The one error type of `encore-lyrics`.

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A lyrics file could not be parsed; `line` is 1-based.
    #[error("{format} line {line}: {message}")]
    Parse {
        /// The format being parsed (`LRC`, `TTML`, ...).
        format: &'static str,
        /// 1-based line number in the input.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// Input exceeded a limit. Limits protect against hostile files (a million lines, a
    /// ten-hour song, a deeply nested XML document) and bound memory.
    #[error("limit exceeded: {what} is {got}, the limit is {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value found.
        got: u64,
        /// The limit.
        limit: u64,
    },
    /// The input is well formed but cannot be used (no words, times out of order, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The external phonemiser (`espeak-ng`) failed or is missing.
    #[error("espeak-ng: {0}")]
    Espeak(String),
    /// A model file was refused.
    #[error(transparent)]
    ModelFile(#[from] crate::hybrid::ModelFileError),
    /// A Sphinx acoustic model file was refused.
    #[error(transparent)]
    SphinxFile(#[from] crate::sphinx::SphinxFileError),
    /// Decoding or resampling the audio failed.
    #[error(transparent)]
    Audio(#[from] encore_audio::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn parse_err(format: &'static str, line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        format,
        line,
        message: message.into(),
    }
}
