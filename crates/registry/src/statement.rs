//! Registration statements: the canonical, versioned, signed record of one work, the creator's
//! key, the identity commitment, and the audio/lyrics digests that go into it.
//!
//! # Canonical encoding, version 1
//!
//! All integers are big-endian; every field is fixed or length-prefixed, so one statement has
//! exactly one encoding and parsing rejects anything else (trailing bytes, unknown flags).
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version = `0x01` |
//! | 32 | SHA-256 of the original audio file bytes |
//! | 32 | content digest of the decoded audio (see [`content_digest`]) |
//! | 1 | flags: bit 0 = lyrics digest present; other bits must be 0 |
//! | 0 or 32 | SHA-256 of the normalised lyrics (see [`normalize_lyrics`]) |
//! | 2 + n | title: u16 length, then n bytes of UTF-8 (n <= 1024, no control characters) |
//! | 32 | creator's Ed25519 public key |
//! | 32 | identity commitment (see [`IdentityCommitment`]) |
//! | 8 | claimed time, seconds since the Unix epoch |
//! | 64 | Ed25519 signature by the creator key over `"encore/statement/v1\n"` followed by all the bytes above |

use std::path::Path;

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::error::{Error, Result};
use crate::hash::{hex, sha256};
use crate::note::random_bytes;

/// Current statement version.
pub const STATEMENT_VERSION: u8 = 1;
/// Longest title accepted, in UTF-8 bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Sample rate the content digest is computed at.
pub const CONTENT_DIGEST_RATE: u32 = 22_050;
const SIGNING_CONTEXT: &[u8] = b"encore/statement/v1\n";
const PCM_CONTEXT: &[u8] = b"encore/pcm-digest/v1 22050Hz mono s16le\n";
const IDENTITY_CONTEXT: &[u8] = b"encore/identity/v1\n";

/// A creator's Ed25519 signing key (stored as `encore-creator-key-v1 <hex seed>`).
#[derive(Clone)]
pub struct CreatorKey(SigningKey);

impl std::fmt::Debug for CreatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CreatorKey({})", hex(&self.public()))
    }
}

impl CreatorKey {
    /// A key from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        CreatorKey(SigningKey::from_bytes(&seed))
    }

    /// A new random key.
    pub fn generate() -> Result<Self> {
        Ok(CreatorKey::from_seed(random_bytes()?))
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!("encore-creator-key-v1 {}\n", hex(self.0.as_bytes()))
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self> {
        let h = text
            .trim()
            .strip_prefix("encore-creator-key-v1 ")
            .ok_or_else(|| {
                Error::malformed("creator key", "missing encore-creator-key-v1 prefix")
            })?;
        let seed = parse_hex32(h)
            .ok_or_else(|| Error::malformed("creator key", "expected 64 hex digits"))?;
        Ok(CreatorKey::from_seed(seed))
    }
}

fn parse_hex32(h: &str) -> Option<[u8; 32]> {
    if h.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A salted commitment to the creator's legal identity: SHA-256 of
/// `"encore/identity/v1\n" || salt (32 bytes) || identity (UTF-8)`. The identity and salt stay
/// with the creator (and the platform's private records); only the commitment enters the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityCommitment(pub [u8; 32]);

impl IdentityCommitment {
    /// Commits to `identity` with `salt`.
    pub fn new(identity: &str, salt: &[u8; 32]) -> Self {
        IdentityCommitment(sha256(&[IDENTITY_CONTEXT, salt, identity.as_bytes()]))
    }

    /// Commits with a fresh random salt; returns the salt to keep.
    pub fn random(identity: &str) -> Result<(Self, [u8; 32])> {
        let salt = random_bytes()?;
        Ok((IdentityCommitment::new(identity, &salt), salt))
    }

    /// True when `identity` and `salt` open this commitment.
    pub fn opens(&self, identity: &str, salt: &[u8; 32]) -> bool {
        IdentityCommitment::new(identity, salt) == *self
    }
}

/// The content digest of decoded audio: the mono signal at 22 050 Hz (as
/// `encore_audio::load_mono` produces it), each sample clamped to [-1, 1], scaled by 32767,
/// rounded to the nearest integer and written as 16-bit little-endian, hashed with SHA-256
/// after the context line `"encore/pcm-digest/v1 22050Hz mono s16le\n"`. A lossless re-encode
/// (WAV to FLAC) of the same audio has the same content digest; any change to the samples
/// changes it.
pub fn content_digest(mono_22050: &[f32]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(PCM_CONTEXT);
    let mut buf = Vec::with_capacity(8192);
    for chunk in mono_22050.chunks(4096) {
        buf.clear();
        for &x in chunk {
            let x = if x.is_nan() { 0.0 } else { x.clamp(-1.0, 1.0) };
            let q = (x * 32767.0).round() as i16;
            buf.extend_from_slice(&q.to_le_bytes());
        }
        h.update(&buf);
    }
    h.finalize().into()
}

/// Digests of one audio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioDigests {
    /// SHA-256 of the file's bytes.
    pub file_sha256: [u8; 32],
    /// [`content_digest`] of the decoded audio.
    pub content: [u8; 32],
}

/// Reads and decodes a file and computes both digests.
pub fn digest_audio_file(path: &Path) -> Result<AudioDigests> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let file_sha256 = sha256(&[&bytes]);
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_owned);
    let mono = encore_audio::load_mono_bytes(bytes, ext.as_deref(), CONTENT_DIGEST_RATE)?;
    Ok(AudioDigests {
        file_sha256,
        content: content_digest(&mono.samples),
    })
}

/// Lyrics normalisation for the lyrics digest: lowercase, every run of whitespace becomes one
/// space, each line trimmed, empty lines dropped, lines joined with `\n` (no final newline).
pub fn normalize_lyrics(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// SHA-256 of [`normalize_lyrics`].
pub fn lyrics_digest(text: &str) -> [u8; 32] {
    sha256(&[normalize_lyrics(text).as_bytes()])
}

/// The fields of a statement, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// SHA-256 of the original audio bytes.
    pub audio_sha256: [u8; 32],
    /// Content digest of the decoded audio.
    pub content_digest: [u8; 32],
    /// SHA-256 of the normalised lyrics, when lyrics were given.
    pub lyrics_sha256: Option<[u8; 32]>,
    /// The work's title.
    pub title: String,
    /// Commitment to the creator's legal identity.
    pub identity: IdentityCommitment,
    /// Claimed registration time, Unix seconds (supplied by the caller: engines read no clock).
    pub claimed_time: u64,
}

/// A signed statement, version 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The claim.
    pub claim: Claim,
    /// The creator's public key.
    pub creator: [u8; 32],
    /// The creator's signature.
    pub signature: [u8; 64],
}

impl Statement {
    /// Signs a claim with the creator's key.
    pub fn sign(claim: Claim, key: &CreatorKey) -> Result<Statement> {
        check_title(&claim.title)?;
        let creator = key.public();
        let body = encode_body(&claim, &creator);
        let signature = key.0.sign(&[SIGNING_CONTEXT, &body].concat()).to_bytes();
        Ok(Statement {
            claim,
            creator,
            signature,
        })
    }

    /// The canonical encoding (the log entry).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode_body(&self.claim, &self.creator);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the canonical encoding and checks the creator's signature.
    pub fn decode(bytes: &[u8]) -> Result<Statement> {
        let mut r = Reader { b: bytes, pos: 0 };
        let version = r.u8()?;
        if version != STATEMENT_VERSION {
            return Err(Error::malformed(
                "statement",
                format!("unsupported version {version}"),
            ));
        }
        let audio_sha256 = r.arr32()?;
        let content_digest = r.arr32()?;
        let flags = r.u8()?;
        if flags & !1 != 0 {
            return Err(Error::malformed(
                "statement",
                format!("unknown flags {flags:#04x} at byte 65"),
            ));
        }
        let lyrics_sha256 = if flags & 1 == 1 {
            Some(r.arr32()?)
        } else {
            None
        };
        let len = usize::from(u16::from_be_bytes([r.u8()?, r.u8()?]));
        if len > MAX_TITLE_BYTES {
            return Err(Error::LimitExceeded {
                what: "title length",
                limit: MAX_TITLE_BYTES as u64,
            });
        }
        let title_at = r.pos;
        let title = std::str::from_utf8(r.take(len)?)
            .map_err(|_| {
                Error::malformed(
                    "statement",
                    format!("title at byte {title_at} is not UTF-8"),
                )
            })?
            .to_owned();
        check_title(&title)?;
        let creator = r.arr32()?;
        let identity = IdentityCommitment(r.arr32()?);
        let claimed_time = u64::from_be_bytes(r.take(8)?.try_into().unwrap_or([0; 8]));
        let body_end = r.pos;
        let signature: [u8; 64] = r.take(64)?.try_into().unwrap_or([0; 64]);
        if r.pos != bytes.len() {
            return Err(Error::malformed(
                "statement",
                format!("{} trailing bytes", bytes.len() - r.pos),
            ));
        }
        let vk = VerifyingKey::from_bytes(&creator)
            .map_err(|_| Error::BadSignature("creator key is not a valid Ed25519 point".into()))?;
        vk.verify(
            &[SIGNING_CONTEXT, &bytes[..body_end]].concat(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| Error::BadSignature("statement signature does not verify".into()))?;
        let claim = Claim {
            audio_sha256,
            content_digest,
            lyrics_sha256,
            title,
            identity,
            claimed_time,
        };
        Ok(Statement {
            claim,
            creator,
            signature,
        })
    }
}

fn check_title(title: &str) -> Result<()> {
    if title.len() > MAX_TITLE_BYTES {
        return Err(Error::LimitExceeded {
            what: "title length",
            limit: MAX_TITLE_BYTES as u64,
        });
    }
    if title.chars().any(char::is_control) {
        return Err(Error::malformed(
            "statement",
            "title contains a control character",
        ));
    }
    Ok(())
}

fn encode_body(c: &Claim, creator: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(STATEMENT_VERSION);
    out.extend_from_slice(&c.audio_sha256);
    out.extend_from_slice(&c.content_digest);
    match &c.lyrics_sha256 {
        Some(l) => {
            out.push(1);
            out.extend_from_slice(l);
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(c.title.len() as u16).to_be_bytes());
    out.extend_from_slice(c.title.as_bytes());
    out.extend_from_slice(creator);
    out.extend_from_slice(&c.identity.0);
    out.extend_from_slice(&c.claimed_time.to_be_bytes());
    out
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                Error::malformed(
                    "statement",
                    format!("truncated at byte {} (needed {n} more)", self.pos),
                )
            })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn arr32(&mut self) -> Result<[u8; 32]> {
        Ok(self.take(32)?.try_into().unwrap_or([0; 32]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim {
            audio_sha256: [1; 32],
            content_digest: [2; 32],
            lyrics_sha256: Some(lyrics_digest("Hello  World\n\n  second LINE ")),
            title: "Chanson d\u{e9}j\u{e0} vue".into(),
            identity: IdentityCommitment::new("Jane Doe, 1990-01-01", &[3; 32]),
            claimed_time: 1_700_000_000,
        }
    }

    #[test]
    fn known_answer_encoding() {
        let s = Statement::sign(claim(), &CreatorKey::from_seed([9; 32])).unwrap();
        let enc = s.encode();
        assert_eq!(enc.len(), 1 + 32 + 32 + 1 + 32 + 2 + 18 + 32 + 32 + 8 + 64);
        // Frozen known answer: a change here breaks every registered statement.
        assert_eq!(hex(&enc), KNOWN_STATEMENT_HEX);
        assert_eq!(Statement::decode(&enc).unwrap(), s);
    }

    // version | audio sha256 | content digest | flags=1 | lyrics digest | title len 18 + UTF-8 |
    // creator key (seed [9; 32]) | identity commitment | time 1700000000 | signature.
    const KNOWN_STATEMENT_HEX: &str = concat!(
        "01010101010101010101010101010101010101010101010101010101010101010102020202020202",
        "0202020202020202020202020202020202020202020202020201e4cb60423f317111c864796c8a72",
        "7bcd38b41c9f7a4f9597f47c23987b9aae1800124368616e736f6e2064c3a96ac3a020767565fd17",
        "24385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f6189c4414adb34c41e57f7b",
        "cbb2ee3c8e6a327055d4ff67dd5425d863fa7909dee7000000006553f100ee775eb0384a2c572f50",
        "f8c62650c2802e896f138b7a47f676eac36268a2741990ac6cd4eb4f6c2c42835ddf48cbf97e6939",
        "d22a1e1bd04d8ed65def1c20ac0f",
    );

    #[test]
    fn normalisation_and_identity() {
        assert_eq!(
            normalize_lyrics(" Hello  World\r\n\n  second LINE "),
            "hello world\nsecond line"
        );
        let c = IdentityCommitment::new("x", &[0; 32]);
        assert!(c.opens("x", &[0; 32]));
        assert!(!c.opens("y", &[0; 32]));
        assert!(!c.opens("x", &[1; 32]));
    }

    #[test]
    fn content_digest_known_answer() {
        // Five samples quantised to 0, 32767, -32767, 16384, 0 (NaN counts as silence).
        let d = content_digest(&[0.0, 1.5, -1.0, 0.5, f32::NAN]);
        let mut msg = PCM_CONTEXT.to_vec();
        for q in [0i16, 32767, -32767, 16384, 0] {
            msg.extend_from_slice(&q.to_le_bytes());
        }
        assert_eq!(d, sha256(&[&msg]));
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let s = Statement::sign(claim(), &CreatorKey::from_seed([9; 32])).unwrap();
        let enc = s.encode();
        for i in [0, 5, 70, 110, enc.len() - 1] {
            let mut bad = enc.clone();
            bad[i] ^= 1;
            assert!(Statement::decode(&bad).is_err(), "flip at {i}");
        }
        assert!(Statement::decode(&enc[..enc.len() - 1]).is_err());
        assert!(Statement::decode(&[enc.clone(), vec![0]].concat()).is_err());
        assert!(Statement::decode(&[]).is_err());
        let mut long = claim();
        long.title = "x".repeat(MAX_TITLE_BYTES + 1);
        assert!(matches!(
            Statement::sign(long, &CreatorKey::from_seed([9; 32])),
            Err(Error::LimitExceeded { .. })
        ));
    }

    #[test]
    fn creator_key_text_round_trip() {
        let k = CreatorKey::from_seed([5; 32]);
        assert_eq!(
            CreatorKey::parse(&k.to_text()).unwrap().public(),
            k.public()
        );
        assert!(CreatorKey::parse("encore-creator-key-v1 zz").is_err());
    }
}
