//! The crate's one error type.

/// Everything that can go wrong in the registry. Match on the variant; the message says what and
/// where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input (a note, checkpoint, proof, statement, key or tile) does not follow its format.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which kind of input.
        what: &'static str,
        /// What exactly is wrong, and where.
        detail: String,
    },
    /// A hostile-input limit was exceeded (sizes, counts); protects against malicious files.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was too big.
        what: &'static str,
        /// The limit that applies.
        limit: u64,
    },
    /// A signature did not verify, or no trusted signature was present.
    #[error("signature check failed: {0}")]
    BadSignature(String),
    /// A Merkle inclusion or consistency proof did not verify.
    #[error("proof check failed: {0}")]
    BadProof(String),
    /// The stored log does not agree with itself or with its checkpoint (possible fork or
    /// corruption); the log refuses to continue.
    #[error("inconsistent log state: {0}")]
    Inconsistent(String),
    /// A storage operation failed.
    #[error("storage error at {path}: {detail}")]
    Storage {
        /// The object path involved.
        path: String,
        /// What the backend said.
        detail: String,
    },
    /// The checkpoint was changed by someone else since it was read (conditional update lost).
    #[error("checkpoint changed concurrently; another writer is active")]
    Conflict,
    /// Not enough witnesses cosigned the checkpoint under the policy.
    #[error("witness policy not met: {got} of {need} required cosignatures ({detail})")]
    WitnessPolicy {
        /// Valid cosignatures obtained.
        got: usize,
        /// Cosignatures required.
        need: usize,
        /// Per-witness failure reasons.
        detail: String,
    },
    /// An RFC 3161 timestamp token was refused (wrong imprint, bad signature, untrusted signer,
    /// TSA refusal or transport failure).
    #[error("timestamp token rejected: {0}")]
    Timestamp(String),
    /// An index or size is outside the tree.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// The audio could not be decoded.
    #[error("audio: {0}")]
    Audio(#[from] encore_audio::Error),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
