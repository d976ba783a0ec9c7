//! `encore-registry`: Encore's rights registry, a tamper-evident transparency log of work
//! registrations that anyone can check offline.
//!
//! - A [`Statement`] is the canonical, versioned record of one registration (audio digests,
//!   lyrics digest, title, creator key, identity commitment, claimed time), signed by the
//!   creator ([`CreatorKey`]).
//! - A [`Log`] sequences statements into an RFC 6962 Merkle tree stored as C2SP tlog-tiles in a
//!   [`Storage`] ([`DirStorage`] by default), and publishes checkpoints as C2SP signed notes
//!   ([`NoteSigner`], [`Checkpoint`]), after collecting a k-of-n quorum of witness cosignatures.
//! - A [`Witness`] implements C2SP tlog-witness and tlog-cosignature (pure logic; the CLI serves
//!   it over HTTP).
//! - Checkpoints can carry RFC 3161 timestamp tokens from a timestamp authority
//!   ([`LogTimestamper`], [`verify_checkpoint_timestamps`], module [`timestamp`]).
//! - A [`TlogProof`] (C2SP tlog-proof) is the offline certificate, checked with
//!   [`verify_certificate`] against a [`Policy`].
//!
//! ```
//! use encore_registry::*;
//!
//! let log_key = NoteSigner::from_seed("example.com/registry", KeyKind::Ed25519, [1; 32])?;
//! let mut log = Log::create(MemStorage::new(), log_key.clone())?;
//!
//! let creator = CreatorKey::from_seed([2; 32]);
//! let claim = Claim {
//!     audio_sha256: [3; 32],
//!     content_digest: [4; 32],
//!     lyrics_sha256: None,
//!     title: "Song".into(),
//!     identity: IdentityCommitment::new("Jane Doe", &[5; 32]),
//!     claimed_time: 1_700_000_000,
//! };
//! let entry = Statement::sign(claim, &creator)?.encode();
//! let idx = log.append(&[entry.clone()], 1_700_000_000)?;
//! assert_eq!(idx, vec![0]);
//! assert_eq!(log.append(&[entry], 1_700_000_001)?, vec![0]); // identical statement
//!
//! let cert = TlogProof::parse(&log.proof(0)?.to_text())?;
//! let policy = Policy { log: log_key.verifier(), witnesses: vec![], quorum: 0 };
//! let ok = verify_certificate(&cert, &policy)?;
//! assert_eq!(ok.statement.claim.title, "Song");
//! # Ok::<(), encore_registry::Error>(())
//! ```

mod checkpoint;
mod error;
mod hash;
mod log;
mod merkle;
mod note;
mod object;
mod proof;
mod statement;
mod storage;
mod tiles;
pub mod timestamp;
mod witness;

pub use checkpoint::Checkpoint;
pub use error::{Error, Result};
pub use hash::Hash;
pub use log::{CHECKPOINT_PATH, Log, LogWitness, MAX_ENTRY_BYTES, STAGED_PATH, verify_checkpoint};
pub use merkle::{
    MemoryTree, SubtreeSource, consistency_proof, inclusion_proof, tree_hash, verify_consistency,
    verify_inclusion,
};
pub use note::{KeyKind, Note, NoteSignature, NoteSigner, NoteVerifier};
pub use object::ObjectStorage;
pub use proof::{AudioMatch, Policy, TlogProof, Verified, match_audio, verify_certificate};
pub use statement::{
    AudioDigests, CONTENT_DIGEST_RATE, Claim, CreatorKey, IdentityCommitment, Statement,
    content_digest, digest_audio_file, lyrics_digest, normalize_lyrics,
};
pub use storage::{DirStorage, Fault, FaultyStorage, MemStorage, Storage};
pub use tiles::{bundle_path, encode_index, parse_bundle, tile_partials, tile_path};
pub use timestamp::{
    LogTimestamper, TimestampClient, TimestampInfo, TimestampRequest, TsaTrust,
    checkpoint_timestamps, parse_timestamp_token, verify_checkpoint_timestamps,
    verify_timestamp_token,
};
pub use witness::{
    LocalWitness, MAX_REQUEST_BYTES as MAX_WITNESS_REQUEST_BYTES, Witness, WitnessCallError,
    WitnessClient, WitnessError, encode_add_checkpoint,
};
