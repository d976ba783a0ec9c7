//! The one error type of `encore-haptics`.

/// Why a haptic track could not be generated, parsed or exported.
///
/// Every variant names what was wrong and where (a JSON path such as
/// `signals.continuous.envelopes.amplitude[3].time`, or a line and column).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not well-formed JSON (or not the expected JSON shape).
    #[error("malformed {format} JSON at line {line}, column {column}: {message}")]
    Json {
        /// The format being read (`.haptic`, `AHAP`, ...).
        format: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON reader reported.
        message: String,
    },
    /// The JSON is well-formed but breaks a rule of the format.
    #[error("invalid {format} at {path}: {reason}")]
    Invalid {
        /// The format being read or validated.
        format: &'static str,
        /// Where the problem is, as a JSON path.
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// A version this crate cannot read.
    #[error("unsupported {format} version {version}")]
    UnsupportedVersion {
        /// The format.
        format: &'static str,
        /// The version found in the input.
        version: String,
    },
    /// The input is larger than Encore accepts: protection against hostile files (too many bytes,
    /// breakpoints, events or seconds). The text says which limit and its value.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// A caller passed an unusable argument (no samples, a zero sample rate, NaN intensity, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Writing an export failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn json(format: &'static str, err: &serde_json::Error) -> Self {
        Error::Json {
            format,
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        }
    }

    pub(crate) fn invalid(
        format: &'static str,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            format,
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
