//! C2SP tlog-witness: the witness state machine (add-checkpoint with a consistency proof,
//! 409 on a stale old size, 422 on a rollback, fork or split view, cosignatures per
//! tlog-cosignature), its request encoding, and the client side the log uses. No HTTP here:
//! the CLI serves [`Witness::add_checkpoint`] over HTTP.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::checkpoint::{Checkpoint, parse_decimal};
use crate::error::{Error, Result};
use crate::hash::{Hash, hex, sha256};
use crate::merkle::{self, MAX_PROOF_HASHES};
use crate::note::{KeyKind, Note, NoteSigner, NoteVerifier};

/// The longest add-checkpoint request body accepted (hostile-input limit).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The most consistency proof lines a client may send.
pub const MAX_WITNESS_PROOF: usize = 63;

/// Why a witness refused a checkpoint; [`WitnessError::status`] is the HTTP status the
/// tlog-witness spec assigns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// 400: malformed request, or old size larger than the checkpoint size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no valid signature from a trusted key for the origin.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: unknown origin.
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    /// 409: old size does not match the latest cosigned size (carried here).
    #[error("old size does not match the latest cosigned size {0}")]
    Conflict(u64),
    /// 422: the consistency proof fails, or a different root at the same size (split view).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 500: the new state could not be persisted; nothing was cosigned.
    #[error("could not persist witness state: {0}")]
    Persist(Error),
}

impl WitnessError {
    /// The HTTP status code for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::Forbidden(_) => 403,
            WitnessError::UnknownLog(_) => 404,
            WitnessError::Conflict(_) => 409,
            WitnessError::Unprocessable(_) => 422,
            WitnessError::Persist(_) => 500,
        }
    }
}

/// What a witness remembers for one log: the latest cosigned checkpoint (with the log's and the
/// witness's signatures, for the monitoring endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogState {
    size: u64,
    root: Hash,
    note: Vec<u8>,
}

/// A witness: a cosigning key, the logs it follows (origin and keys) and their latest state.
#[derive(Debug)]
pub struct Witness {
    signer: NoteSigner,
    logs: BTreeMap<String, Vec<NoteVerifier>>,
    state: BTreeMap<String, LogState>,
}

const STATE_MAGIC: &str = "encore-witness-state-v1\n";

impl Witness {
    /// A witness with a cosignature key (kind [`KeyKind::Cosignature`]) following these logs
    /// (each key's name is the log's origin).
    pub fn new(signer: NoteSigner, logs: Vec<NoteVerifier>) -> Result<Self> {
        if signer.verifier().kind() != KeyKind::Cosignature {
            return Err(Error::malformed(
                "witness key",
                "must be a cosignature (type 0x04) key",
            ));
        }
        let mut map: BTreeMap<String, Vec<NoteVerifier>> = BTreeMap::new();
        for l in logs {
            map.entry(l.name().to_owned()).or_default().push(l);
        }
        Ok(Witness {
            signer,
            logs: map,
            state: BTreeMap::new(),
        })
    }

    /// The witness's cosignature verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Serialises the state (persist it before answering; see [`Witness::add_checkpoint`]).
    pub fn state_bytes(&self) -> Vec<u8> {
        let mut out = STATE_MAGIC.as_bytes().to_vec();
        for s in self.state.values() {
            out.extend_from_slice(format!("{}\n", s.note.len()).as_bytes());
            out.extend_from_slice(&s.note);
        }
        out
    }

    /// Restores state saved by [`Witness::state_bytes`], re-verifying every checkpoint.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        let rest = bytes
            .strip_prefix(STATE_MAGIC.as_bytes())
            .ok_or_else(|| Error::malformed("witness state", "bad header"))?;
        let mut rest = rest;
        let mut state = BTreeMap::new();
        while !rest.is_empty() {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| Error::malformed("witness state", "truncated"))?;
            let len: usize = std::str::from_utf8(&rest[..nl])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::malformed("witness state", "bad length"))?;
            let note = rest
                .get(nl + 1..nl + 1 + len)
                .ok_or_else(|| Error::malformed("witness state", "truncated note"))?;
            let n = Note::parse(note)?;
            let cp = Checkpoint::parse(&n.text)?;
            let keys = self.logs.get(&cp.origin).ok_or_else(|| {
                Error::malformed("witness state", format!("unknown origin {:?}", cp.origin))
            })?;
            let mine = [self.signer.verifier()];
            if n.verify(keys)?.is_empty() || n.verify(&mine)?.is_empty() {
                return Err(Error::BadSignature(format!(
                    "stored checkpoint for {:?}",
                    cp.origin
                )));
            }
            state.insert(
                cp.origin.clone(),
                LogState {
                    size: cp.size,
                    root: cp.root,
                    note: note.to_vec(),
                },
            );
            rest = &rest[nl + 1 + len..];
        }
        self.state = state;
        Ok(())
    }

    /// The latest cosigned checkpoint for the log whose origin hashes (SHA-256, lowercase hex)
    /// to `origin_hash`, for `GET <prefix>/<origin hash>/checkpoint`.
    pub fn latest_by_origin_hash(&self, origin_hash: &str) -> Option<&[u8]> {
        self.state
            .iter()
            .find(|(o, _)| hex(&sha256(&[o.as_bytes()])) == origin_hash)
            .map(|(_, s)| s.note.as_slice())
    }

    /// Handles an add-checkpoint request body at time `now` (Unix seconds). The checks follow
    /// C2SP tlog-witness; when they pass, `persist` is called with the new state and only if it
    /// succeeds are the cosignature lines returned. Hold `&mut self` across the whole call (the
    /// check and the update are atomic by construction).
    pub fn add_checkpoint(
        &mut self,
        body: &[u8],
        now: u64,
        persist: impl FnOnce(&[u8]) -> Result<()>,
    ) -> Result<Vec<u8>, WitnessError> {
        let (old, proof, note_bytes) = parse_request(body)?;
        let note = Note::parse(note_bytes).map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        let cp =
            Checkpoint::parse(&note.text).map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        let keys = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| WitnessError::UnknownLog(cp.origin.clone()))?;
        match note.verify(keys) {
            Ok(v) if !v.is_empty() => {}
            Ok(_) => {
                return Err(WitnessError::Forbidden(
                    "no signature from a trusted log key".into(),
                ));
            }
            Err(e) => return Err(WitnessError::Forbidden(e.to_string())),
        }
        if old > cp.size {
            return Err(WitnessError::BadRequest(format!(
                "old size {old} is larger than the checkpoint size {}",
                cp.size
            )));
        }
        let (cur_size, cur_root) = self
            .state
            .get(&cp.origin)
            .map_or((0, Hash::empty()), |s| (s.size, s.root));
        if old != cur_size {
            return Err(WitnessError::Conflict(cur_size));
        }
        if cp.size == 0 && cp.root != Hash::empty() {
            return Err(WitnessError::Unprocessable(
                "a tree of size 0 must have the empty root".into(),
            ));
        }
        if old == 0 && !proof.is_empty() {
            return Err(WitnessError::Unprocessable(
                "the proof from size 0 must be empty".into(),
            ));
        }
        if old == cp.size && cp.root != cur_root {
            return Err(WitnessError::Unprocessable(format!(
                "split view: a different root for size {} was already cosigned",
                cp.size
            )));
        }
        merkle::verify_consistency(old, cp.size, &cur_root, &cp.root, &proof)
            .map_err(|e| WitnessError::Unprocessable(e.to_string()))?;
        let line = self.signer.sign_line(&note.text, now);
        let mut stored = note.clone();
        stored
            .signatures
            .retain(|s| keys.iter().any(|k| k.matches(s)));
        let mut stored = stored.to_text().into_bytes();
        stored.extend_from_slice(line.as_bytes());
        let prev = self.state.insert(
            cp.origin.clone(),
            LogState {
                size: cp.size,
                root: cp.root,
                note: stored,
            },
        );
        // At this point the new state exists only in memory; it must be durable before the
        // cosignature leaves, or a restart could cosign a rollback.
        if let Err(e) = persist(&self.state_bytes()) {
            match prev {
                Some(p) => self.state.insert(cp.origin.clone(), p),
                None => self.state.remove(&cp.origin),
            };
            return Err(WitnessError::Persist(e));
        }
        Ok(line.into_bytes())
    }
}

fn parse_request(body: &[u8]) -> Result<(u64, Vec<Hash>, &[u8]), WitnessError> {
    let bad = |d: &str| WitnessError::BadRequest(d.to_owned());
    if body.len() > MAX_REQUEST_BYTES {
        return Err(bad("request body too large"));
    }
    let mut pos = 0;
    let mut next_line = || -> Result<&[u8], WitnessError> {
        let nl = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("unterminated line"))?;
        let line = &body[pos..pos + nl];
        pos += nl + 1;
        Ok(line)
    };
    let first = std::str::from_utf8(next_line()?).map_err(|_| bad("old size line is not UTF-8"))?;
    let old = first
        .strip_prefix("old ")
        .and_then(parse_decimal)
        .ok_or_else(|| bad("first line must be `old <size>`"))?;
    let mut proof = Vec::new();
    loop {
        let line = next_line()?;
        if line.is_empty() {
            break;
        }
        if proof.len() >= MAX_WITNESS_PROOF.min(MAX_PROOF_HASHES) {
            return Err(bad("more than 63 proof lines"));
        }
        let s = std::str::from_utf8(line).map_err(|_| bad("proof line is not UTF-8"))?;
        proof.push(Hash::from_base64(s).map_err(|e| bad(&e.to_string()))?);
    }
    Ok((old, proof, &body[pos..]))
}

/// Encodes an add-checkpoint request body.
pub fn encode_add_checkpoint(old_size: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old_size}\n").into_bytes();
    for h in proof {
        out.extend_from_slice(h.to_base64().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(checkpoint);
    out
}

/// Why a witness call did not produce cosignatures (client side).
#[derive(Debug, thiserror::Error)]
pub enum WitnessCallError {
    /// 409: the witness's latest cosigned size.
    #[error("witness is at size {0}")]
    Conflict(u64),
    /// Another refusal.
    #[error("refused with status {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Response body or reason.
        body: String,
    },
    /// The witness could not be reached.
    #[error("transport: {0}")]
    Transport(String),
}

/// How a log talks to one witness (HTTP in the CLI, in-process in tests).
pub trait WitnessClient: Send + Sync {
    /// Sends add-checkpoint; returns the witness's signature lines.
    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &[u8],
    ) -> Result<Vec<u8>, WitnessCallError>;
}

/// An in-process witness with a caller-supplied clock and no persistence (tests, benchmarks).
pub struct LocalWitness {
    witness: Arc<Mutex<Witness>>,
    now: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for LocalWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalWitness")
    }
}

impl LocalWitness {
    /// Wraps a shared witness.
    pub fn new(
        witness: Arc<Mutex<Witness>>,
        now: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        LocalWitness {
            witness,
            now: Box::new(now),
        }
    }
}

impl WitnessClient for LocalWitness {
    fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &[u8],
    ) -> Result<Vec<u8>, WitnessCallError> {
        let body = encode_add_checkpoint(old_size, proof, checkpoint);
        let mut w = self
            .witness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.add_checkpoint(&body, (self.now)(), |_| Ok(()))
            .map_err(|e| match e {
                WitnessError::Conflict(s) => WitnessCallError::Conflict(s),
                e => WitnessCallError::Refused {
                    status: e.status(),
                    body: e.to_string(),
                },
            })
    }
}
