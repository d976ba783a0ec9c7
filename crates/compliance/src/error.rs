//! The crate's one error type.

/// Everything that can go wrong in `encore-compliance`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Protection against hostile or runaway input: the buffer is larger than the configured
    /// limit. Scan it in pieces (for example line-aligned chunks) instead.
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    LimitExceeded {
        /// Size of the input.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A kind name that is not one of the stable names.
    #[error(
        "unknown kind {0:?} (expected one of cn_resident_id, cn_mobile, bank_card, email, cn_uscc, passport, ip_address)"
    )]
    UnknownKind(String),
    /// A label or prediction line could not be parsed.
    #[error("line {line}: {message}")]
    BadRecord {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Writing through the masking writer failed.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
}
