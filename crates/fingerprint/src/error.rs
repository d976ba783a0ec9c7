//! The crate's single error type.

use std::fmt;

/// Everything that can go wrong while fingerprinting, storing or matching.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query (or a work being indexed) is shorter than the minimum, silent, or has too few
    /// spectral peaks to be identified. This is a result, not a failure: no match is claimed.
    #[error(
        "not enough audio: {duration_s:.2} s with {peaks} spectral peaks (need at least {min_duration_s} s of non-silent audio)"
    )]
    NotEnoughAudio {
        /// Duration of the audio that was given.
        duration_s: f64,
        /// Spectral peaks found in it.
        peaks: usize,
        /// The minimum duration accepted.
        min_duration_s: f64,
    },
    /// A size or count limit was exceeded; limits protect against hostile or corrupt input.
    #[error("limit exceeded: {what} is {actual}, the maximum is {max}")]
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// The value that was given.
        actual: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// The input was malformed (a bad audio code string, a bad argument).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// An index was written by an incompatible version of this crate.
    #[error("index format version {found} is not supported (this build reads version {supported})")]
    Version {
        /// Version found on disk.
        found: u64,
        /// Version this build understands.
        supported: u64,
    },
    /// The storage backend failed.
    #[error("{backend} store: {message}")]
    Store {
        /// Which backend (`redb`, `postgres`, `memory`).
        backend: &'static str,
        /// What it reported.
        message: String,
    },
    /// Decoding the audio failed.
    #[error(transparent)]
    Audio(#[from] encore_audio::Error),
}

impl Error {
    pub(crate) fn store(backend: &'static str, err: impl fmt::Display) -> Self {
        Error::Store {
            backend,
            message: err.to_string(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
