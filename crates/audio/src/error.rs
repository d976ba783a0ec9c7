//! The one error type of `encore-audio`.

use std::fmt;

/// Why audio could not be decoded or analysed.
///
/// Match on [`Error::kind`] to react to a class of failure; the `Display` text is meant for
/// people and names the reason (and the format, when one was recognised).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the input failed (file missing, permission denied, ...).
    #[error("cannot read input: {0}")]
    Io(#[from] std::io::Error),
    /// The input has no bytes at all.
    #[error("the input is empty (0 bytes)")]
    Empty,
    /// No supported container or codec was recognised in the bytes.
    #[error("not a recognised audio file: {0}")]
    UnrecognisedFormat(String),
    /// The container was recognised but its codec is not one Encore decodes.
    #[error("unsupported codec {codec} in a {container} file")]
    UnsupportedCodec {
        /// The container (e.g. "mp4").
        container: String,
        /// The codec, as far as it could be named.
        codec: String,
    },
    /// The stream is damaged beyond what the decoder can skip over.
    #[error("corrupt {format} stream: {reason}")]
    Corrupt {
        /// The container or codec name.
        format: String,
        /// What the decoder reported.
        reason: String,
    },
    /// The file contains no decodable audio samples.
    #[error("no audio samples could be decoded")]
    NoAudio,
    /// A header or the data is beyond what Encore accepts: protection against hostile files
    /// (absurd channel counts or sample rates, decoded length over [`Limits`](crate::Limits)).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// An argument passed by the caller is invalid (e.g. a sample rate of zero).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Coarse classes of [`Error`], stable for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::Io`].
    Io,
    /// [`Error::Empty`], [`Error::UnrecognisedFormat`], [`Error::UnsupportedCodec`].
    Unsupported,
    /// [`Error::Corrupt`], [`Error::NoAudio`].
    Corrupt,
    /// [`Error::LimitExceeded`].
    Limit,
    /// [`Error::InvalidArgument`].
    InvalidArgument,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io(_) => ErrorKind::Io,
            Error::Empty | Error::UnrecognisedFormat(_) | Error::UnsupportedCodec { .. } => {
                ErrorKind::Unsupported
            }
            Error::Corrupt { .. } | Error::NoAudio => ErrorKind::Corrupt,
            Error::LimitExceeded(_) => ErrorKind::Limit,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::Io => "io",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Limit => "limit",
            ErrorKind::InvalidArgument => "invalid_argument",
        };
        f.write_str(s)
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
