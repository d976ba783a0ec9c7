//! C2SP tlog-proof files (certificates) and their offline verification against a policy of
//! trusted log and witness keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{Checkpoint, parse_decimal};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::merkle::{self, MAX_PROOF_HASHES};
use crate::note::{Note, NoteVerifier};
use crate::statement::{AudioDigests, Statement};

const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest proof file accepted (hostile-input limit).
pub const MAX_PROOF_BYTES: usize = 1 << 20;

/// A tlog-proof: optional extra data (Encore puts the statement there), the entry index, the
/// inclusion proof and the checkpoint note with its cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The `extra` data (unauthenticated by itself; Encore's leaf is this data).
    pub extra: Option<Vec<u8>>,
    /// Zero-based entry index.
    pub index: u64,
    /// Inclusion proof hashes, leaf's sibling first.
    pub inclusion: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl TlogProof {
    /// The file text.
    pub fn to_text(&self) -> Vec<u8> {
        let mut s = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a proof file.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(Error::LimitExceeded {
                what: "proof size",
                limit: MAX_PROOF_BYTES as u64,
            });
        }
        let bad =
            |line: usize, d: &str| Error::malformed("tlog-proof", format!("line {line}: {d}"));
        let text = std::str::from_utf8(bytes)
            .map_err(|e| bad(0, &format!("not UTF-8 at byte {}", e.valid_up_to())))?;
        let mut rest = text;
        let mut line_no = 0;
        let mut next = |rest: &mut &str| -> Result<String> {
            line_no += 1;
            let (l, r) = rest
                .split_once('\n')
                .ok_or_else(|| bad(line_no, "unterminated line"))?;
            *rest = r;
            Ok(l.to_owned())
        };
        if next(&mut rest)? != HEADER {
            return Err(bad(1, "first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut line = next(&mut rest)?;
        let mut extra = None;
        if let Some(b) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(b).map_err(|_| bad(2, "extra is not base64"))?);
            line = next(&mut rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| bad(0, "expected `index N`"))?;
        let mut inclusion = Vec::new();
        loop {
            let l = next(&mut rest)?;
            if l.is_empty() {
                break;
            }
            if inclusion.len() >= MAX_PROOF_HASHES {
                return Err(Error::LimitExceeded {
                    what: "inclusion proof hashes",
                    limit: MAX_PROOF_HASHES as u64,
                });
            }
            inclusion.push(Hash::from_base64(&l)?);
        }
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint: rest.as_bytes().to_vec(),
        })
    }
}

/// Which keys a verifier trusts: the log's key, witness keys, and how many witnesses must have
/// cosigned (k of n).
#[derive(Debug, Clone)]
pub struct Policy {
    /// The log's key; its name is the log's origin.
    pub log: NoteVerifier,
    /// Trusted witness cosignature keys.
    pub witnesses: Vec<NoteVerifier>,
    /// Valid witness cosignatures required.
    pub quorum: usize,
}

/// What a verified certificate establishes.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The registered statement (creator signature checked).
    pub statement: Statement,
    /// Its index in the log.
    pub index: u64,
    /// The checkpoint that includes it.
    pub checkpoint: Checkpoint,
    /// Witnesses whose cosignatures verified, with their timestamps.
    pub witnesses: Vec<(String, u64)>,
}

/// How an audio file relates to a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioMatch {
    /// Same file bytes.
    Exact,
    /// Different bytes, same decoded audio (a lossless re-encode).
    SameContent,
    /// Neither.
    Different,
}

/// Compares an audio file's digests with a statement.
pub fn match_audio(statement: &Statement, digests: &AudioDigests) -> AudioMatch {
    if statement.claim.audio_sha256 == digests.file_sha256 {
        AudioMatch::Exact
    } else if statement.claim.content_digest == digests.content {
        AudioMatch::SameContent
    } else {
        AudioMatch::Different
    }
}

/// Verifies a certificate offline: the statement and its creator signature, the checkpoint's
/// origin and log signature, the witness quorum, and the inclusion of the statement.
pub fn verify_certificate(proof: &TlogProof, policy: &Policy) -> Result<Verified> {
    let entry = proof
        .extra
        .as_deref()
        .ok_or_else(|| Error::malformed("tlog-proof", "no extra line: the statement is missing"))?;
    let statement = Statement::decode(entry)?;
    let cp = crate::log::verify_checkpoint(&proof.checkpoint, &policy.log)?;
    let note = Note::parse(&proof.checkpoint)?;
    let cosigned = note.verify(&policy.witnesses)?;
    if cosigned.len() < policy.quorum {
        return Err(Error::WitnessPolicy {
            got: cosigned.len(),
            need: policy.quorum,
            detail: "too few trusted witness cosignatures on the checkpoint".into(),
        });
    }
    merkle::verify_inclusion(
        &Hash::leaf(entry),
        proof.index,
        cp.size,
        &proof.inclusion,
        &cp.root,
    )?;
    Ok(Verified {
        statement,
        index: proof.index,
        checkpoint: cp,
        witnesses: cosigned
            .into_iter()
            .map(|(k, t)| (k.name().to_owned(), t))
            .collect(),
    })
}
