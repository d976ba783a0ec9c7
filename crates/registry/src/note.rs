//! C2SP signed notes: Ed25519 signer and verifier keys (vkeys), note parsing and signing, and
//! C2SP tlog-cosignature (type 0x04) timestamped cosignatures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::error::{Error, Result};
use crate::hash::sha256;

/// Signature type byte of plain Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 checkpoint cosignatures.
pub const ALG_COSIGNATURE: u8 = 0x04;
/// Largest note accepted (hostile-input limit).
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// Most signature lines accepted on one note (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 64;

/// Which kind of key: a log (note) key or a witness (cosignature) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Plain Ed25519 note signatures (type 0x01), used by logs.
    Ed25519,
    /// tlog-cosignature/v1 timestamped Ed25519 signatures (type 0x04), used by witnesses.
    Cosignature,
}

impl KeyKind {
    fn alg(self) -> u8 {
        match self {
            KeyKind::Ed25519 => ALG_ED25519,
            KeyKind::Cosignature => ALG_COSIGNATURE,
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(Error::malformed(
            "key name",
            format!("{name:?} must be non-empty with no spaces or '+'"),
        ));
    }
    Ok(())
}

fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> u32 {
    let h = sha256(&[name.as_bytes(), b"\n", &[alg], public]);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// A private signing key with its name (`PRIVATE+KEY+name+id+base64(type||seed)` on disk, the
/// format Go's `golang.org/x/mod/sumdb/note` reads).
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    kind: KeyKind,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, kind: KeyKind, seed: [u8; 32]) -> Result<Self> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, kind.alg(), key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            id,
            kind,
            key,
        })
    }

    /// A new random key.
    pub fn generate(name: &str, kind: KeyKind) -> Result<Self> {
        NoteSigner::from_seed(name, kind, random_bytes()?)
    }

    /// Parses the private key text format.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = |d: &str| Error::malformed("private key", d.to_owned());
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        let raw = B64.decode(b64).map_err(|e| bad(&e.to_string()))?;
        let kind = match raw.first() {
            Some(&ALG_ED25519) => KeyKind::Ed25519,
            Some(&ALG_COSIGNATURE) => KeyKind::Cosignature,
            _ => return Err(bad("unknown key type")),
        };
        let seed: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| bad("seed is not 32 bytes"))?;
        let signer = NoteSigner::from_seed(name, kind, seed)?;
        if format!("{:08x}", signer.id) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The private key text format.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![self.kind.alg()];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            kind: self.kind,
            key: self.key.verifying_key(),
        }
    }

    /// Signs note text (ending in a newline) and returns one signature line
    /// (`— name base64\n`). Cosignature keys need the timestamp, log keys ignore it.
    pub fn sign_line(&self, text: &str, timestamp: u64) -> String {
        let mut sig = self.id.to_be_bytes().to_vec();
        match self.kind {
            KeyKind::Ed25519 => sig.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes()),
            KeyKind::Cosignature => {
                let msg = cosignature_message(text, timestamp);
                sig.extend_from_slice(&timestamp.to_be_bytes());
                sig.extend_from_slice(&self.key.sign(msg.as_bytes()).to_bytes());
            }
        }
        format!("\u{2014} {} {}\n", self.name, B64.encode(sig))
    }

    /// Signs arbitrary bytes with the raw Ed25519 key (for statements).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// Reads 32 random bytes from the operating system.
pub(crate) fn random_bytes() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Io {
        path: "getrandom".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(b)
}

/// A public verifier key (`name+id+base64(type||key)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    kind: KeyKind,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a vkey.
    pub fn parse(vkey: &str) -> Result<Self> {
        let vkey = vkey.trim();
        let bad = |d: String| Error::malformed("verifier key", format!("{vkey:?}: {d}"));
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key".into()));
        };
        check_name(name)?;
        let raw = B64.decode(b64).map_err(|e| bad(e.to_string()))?;
        let kind = match raw.first() {
            Some(&ALG_ED25519) => KeyKind::Ed25519,
            Some(&ALG_COSIGNATURE) => KeyKind::Cosignature,
            Some(t) => return Err(bad(format!("unsupported signature type {t:#04x}"))),
            None => return Err(bad("empty key".into())),
        };
        let pk: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| bad("key is not 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|e| bad(e.to_string()))?;
        let want = key_id(name, kind.alg(), &pk);
        if id.len() != 8 || u32::from_str_radix(id, 16).ok() != Some(want) {
            return Err(bad("key id does not match the key".into()));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id: want,
            kind,
            key,
        })
    }

    /// The vkey text.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.kind.alg()];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// True when the signature line was made by this key (same name and id).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.id == self.id
    }

    /// Verifies a signature of ours on note `text`; returns the cosignature timestamp (0 for
    /// plain signatures).
    pub fn verify(&self, text: &str, sig: &NoteSignature) -> Result<u64> {
        let bad = || Error::BadSignature(format!("signature by {} does not verify", self.name));
        match self.kind {
            KeyKind::Ed25519 => {
                let s = Signature::from_slice(&sig.sig).map_err(|_| bad())?;
                self.key.verify(text.as_bytes(), &s).map_err(|_| bad())?;
                Ok(0)
            }
            KeyKind::Cosignature => {
                if sig.sig.len() != 72 {
                    return Err(bad());
                }
                let ts = u64::from_be_bytes(sig.sig[..8].try_into().map_err(|_| bad())?);
                if ts > i64::MAX as u64 {
                    return Err(bad());
                }
                let s = Signature::from_slice(&sig.sig[8..]).map_err(|_| bad())?;
                self.key
                    .verify(cosignature_message(text, ts).as_bytes(), &s)
                    .map_err(|_| bad())?;
                Ok(ts)
            }
        }
    }

    /// Verifies raw bytes with the Ed25519 key (for statements).
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        self.key.verify(msg, &Signature::from_bytes(sig)).is_ok()
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id (first four bytes of the decoded signature).
    pub id: u32,
    /// The signature bytes after the key id.
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// The line as it appears in a note, with its newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.sig);
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }

    /// Parses signature lines (each `— name base64`, newline-terminated).
    pub fn parse_lines(block: &str) -> Result<Vec<NoteSignature>> {
        let mut out = Vec::new();
        if !block.ends_with('\n') {
            return Err(Error::malformed(
                "note",
                "signature block must end with a newline",
            ));
        }
        for (i, line) in block[..block.len() - 1].split('\n').enumerate() {
            let bad = |d: &str| Error::malformed("note", format!("signature line {}: {d}", i + 1));
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("must start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("missing signature"))?;
            check_name(name).map_err(|_| bad("bad key name"))?;
            let raw = B64
                .decode(b64)
                .map_err(|_| bad("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("signature too short"));
            }
            out.push(NoteSignature {
                name: name.to_owned(),
                id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                sig: raw[4..].to_vec(),
            });
            if out.len() > MAX_SIGNATURES {
                return Err(Error::LimitExceeded {
                    what: "signatures on a note",
                    limit: MAX_SIGNATURES as u64,
                });
            }
        }
        Ok(out)
    }
}

/// A parsed (not yet verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text, including its final newline.
    pub text: String,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note.
    pub fn parse(bytes: &[u8]) -> Result<Note> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(Error::LimitExceeded {
                what: "note size",
                limit: MAX_NOTE_BYTES as u64,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| {
            Error::malformed("note", format!("not UTF-8 at byte {}", e.valid_up_to()))
        })?;
        if let Some(pos) = s.find(|c: char| c < ' ' && c != '\n') {
            return Err(Error::malformed(
                "note",
                format!("control character at byte {pos}"),
            ));
        }
        let split = s
            .rfind("\n\n")
            .ok_or_else(|| Error::malformed("note", "no blank line before the signatures"))?;
        let text = &s[..split + 1];
        let sigs = NoteSignature::parse_lines(&s[split + 2..])?;
        if sigs.is_empty() {
            return Err(Error::malformed("note", "no signatures"));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures: sigs,
        })
    }

    /// The note as bytes: text, blank line, signatures.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }

    /// Verifies against trusted keys: a signature from a trusted key that fails rejects the
    /// whole note, unknown signatures are ignored. Returns the verifiers (with cosignature
    /// timestamps) that signed.
    pub fn verify<'a>(&self, keys: &'a [NoteVerifier]) -> Result<Vec<(&'a NoteVerifier, u64)>> {
        let mut ok = Vec::new();
        for sig in &self.signatures {
            if let Some(k) = keys.iter().find(|k| k.matches(sig)) {
                let ts = k.verify(&self.text, sig)?;
                if !ok
                    .iter()
                    .any(|(seen, _): &(&NoteVerifier, u64)| std::ptr::eq(*seen, k))
                {
                    ok.push((k, ts));
                }
            }
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from C2SP signed-note ("Verifier keys" example).
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn spec_example_verifies() {
        let v = NoteVerifier::parse(SPEC_VKEY).unwrap();
        assert_eq!(v.to_vkey(), SPEC_VKEY);
        let n = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(n.text, "This is an example message.\n");
        assert_eq!(n.verify(std::slice::from_ref(&v)).unwrap().len(), 1);
        assert_eq!(n.to_text(), SPEC_NOTE);
        let tampered = SPEC_NOTE.replace("example message", "example massage");
        let n = Note::parse(tampered.as_bytes()).unwrap();
        assert!(n.verify(&[v]).is_err());
    }

    #[test]
    fn sign_and_verify_both_kinds() {
        let log = NoteSigner::from_seed("example.com/log", KeyKind::Ed25519, [7; 32]).unwrap();
        let wit = NoteSigner::from_seed("w.example", KeyKind::Cosignature, [8; 32]).unwrap();
        let text = "example.com/log\n1\nAAAA\n";
        let note = format!(
            "{text}\n{}{}",
            log.sign_line(text, 0),
            wit.sign_line(text, 1_679_315_147)
        );
        let n = Note::parse(note.as_bytes()).unwrap();
        let keys = [log.verifier(), wit.verifier()];
        let got = n.verify(&keys).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, 1_679_315_147);
        assert_eq!(
            NoteSigner::parse(&log.to_private_text())
                .unwrap()
                .verifier(),
            log.verifier()
        );
        assert_eq!(
            NoteVerifier::parse(&wit.verifier().to_vkey()).unwrap(),
            wit.verifier()
        );
        // Unknown keys are ignored: no error, no match.
        let other = NoteSigner::from_seed("other", KeyKind::Ed25519, [9; 32]).unwrap();
        assert!(n.verify(&[other.verifier()]).unwrap().is_empty());
    }

    #[test]
    fn malformed_notes_are_refused() {
        for bad in [
            "no blank line\n\u{2014} a AAAAAAA=\n",
            "text\n\n",
            "text\n\n- a AAAAAAAA\n",
            "text\n\n\u{2014} a AAAAAAAA",
            "te\u{1}xt\n\n\u{2014} a AAAAAAAA\n",
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(
            NoteVerifier::parse("a+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").is_err()
        );
    }
}
