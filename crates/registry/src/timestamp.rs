//! RFC 3161 timestamp tokens on checkpoints: building requests (`application/timestamp-query`),
//! checking responses, verifying tokens against trusted TSA certificates, and carrying tokens
//! on a checkpoint note.
//!
//! **How a token travels.** The log asks the timestamp authority (TSA) for a token whose message
//! imprint is SHA-256 of the checkpoint's note *text* (origin, size, root: the bytes the log
//! signs). The token (DER `TimeStampToken`, a CMS `SignedData`) is appended to the checkpoint
//! note as one more signature line,
//!
//! ```text
//! — <tsa name> base64(key ID || DER TimeStampToken)
//! key ID = SHA-256(<tsa name> || 0x0A || 0xFF || "encore.rfc3161-timestamp/v1")[:4]
//! ```
//!
//! using the signed-note signature type `0xFF` ("types without an assigned identifier byte,
//! followed by a longer identifier"). Because C2SP signed-note verifiers MUST ignore signatures
//! from unknown keys, the line is invisible to older `encore verify`, to witnesses and to Go's
//! `sumdb/note`, and a tlog-proof certificate (which embeds the checkpoint note verbatim)
//! carries the token without any change to the tlog-proof format.
//!
//! **Verification** ([`verify_timestamp_token`]): the token is a CMS `SignedData` with content
//! type `id-ct-TSTInfo` and exactly one signer; the `TSTInfo` imprint equals the hash of the
//! message; the signed attributes hold the content type and the digest of the `TSTInfo`; the
//! signature (RSA PKCS#1 v1.5, ECDSA P-256/P-384 or Ed25519, via `ring`) verifies with the
//! signer certificate (found by issuer+serial or subject key identifier among the token's and
//! the trusted certificates); the signer certificate has the `timeStamping` extended key usage;
//! and it is, or chains by verified signatures to, a certificate in the [`TsaTrust`], with the
//! token time inside every certificate's validity period.

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode, Tagged as _};
use ring::{digest, signature};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::error::{Error, Result};
use crate::note::{Note, NoteSignature};

/// Largest token or response accepted (hostile-input limit).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The identifier after the `0xFF` signature type in a timestamp line's key ID.
pub const TIMESTAMP_SIGNATURE_ID: &str = "encore.rfc3161-timestamp/v1";
/// Most certificates looked at in one token or trust list.
const MAX_CERTS: usize = 32;

const OID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const OID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const OID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const OID_EKU: Oid = Oid::new_unwrap("2.5.29.37");
const OID_SKI: Oid = Oid::new_unwrap("2.5.29.14");
const OID_KP_TIMESTAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");

fn bad(detail: impl Into<String>) -> Error {
    Error::malformed("timestamp token", detail)
}

fn refused(detail: impl Into<String>) -> Error {
    Error::Timestamp(detail.into())
}

// ---------------------------------------------------------------------------------------------
// Minimal DER TLV reading and writing (for TimeStampReq, TimeStampResp and TSTInfo, which the
// `cms` crate does not model). Definite lengths only, low tag numbers only.

#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    if input.len() < 2 {
        return Err(bad("truncated DER element"));
    }
    let tag = input[0];
    if tag & 0x1f == 0x1f {
        return Err(bad("high tag numbers are not used in timestamp structures"));
    }
    let (len, header) = match input[1] {
        l if l < 0x80 => (l as usize, 2),
        0x80 => return Err(bad("indefinite length (BER) where DER is required")),
        l => {
            let n = (l & 0x7f) as usize;
            if n > 4 || input.len() < 2 + n {
                return Err(bad("bad DER length"));
            }
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + n)
        }
    };
    if input.len() - header < len {
        return Err(bad("DER element longer than its input"));
    }
    Ok((
        Tlv {
            tag,
            value: &input[header..header + len],
        },
        &input[header + len..],
    ))
}

/// Exactly one element of the given tag, nothing after it.
fn read_only<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<Tlv<'a>> {
    let (t, rest) = read_tlv(input)?;
    if t.tag != tag || !rest.is_empty() {
        return Err(bad(format!("{what}: unexpected DER structure")));
    }
    Ok(t)
}

fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (t, r) = read_tlv(rest)?;
        out.push(t);
        rest = r;
        if out.len() > 64 {
            return Err(bad("too many elements"));
        }
    }
    Ok(out)
}

fn write_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn write_uint(v: &[u8]) -> Vec<u8> {
    let skip = v.iter().take_while(|b| **b == 0).count().min(v.len() - 1);
    let mut c = Vec::new();
    if v[skip] & 0x80 != 0 {
        c.push(0);
    }
    c.extend_from_slice(&v[skip..]);
    write_tlv(0x02, &c)
}

fn oid_der(oid: &Oid) -> Vec<u8> {
    write_tlv(0x06, oid.as_bytes())
}

fn parse_oid(t: Tlv<'_>) -> Result<Oid> {
    if t.tag != 0x06 {
        return Err(bad("expected an OBJECT IDENTIFIER"));
    }
    Oid::from_bytes(t.value).map_err(|e| bad(format!("bad OBJECT IDENTIFIER: {e}")))
}

/// Small non-negative INTEGER.
fn parse_small_uint(t: Tlv<'_>) -> Result<u64> {
    if t.tag != 0x02 || t.value.is_empty() || t.value.len() > 8 || t.value[0] & 0x80 != 0 {
        return Err(bad("expected a small non-negative INTEGER"));
    }
    Ok(t.value.iter().fold(0u64, |a, b| (a << 8) | *b as u64))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The hash algorithms a message imprint or signer digest may use.
fn digest_alg(oid: &Oid) -> Option<&'static digest::Algorithm> {
    match *oid {
        OID_SHA256 => Some(&digest::SHA256),
        OID_SHA384 => Some(&digest::SHA384),
        OID_SHA512 => Some(&digest::SHA512),
        _ => None,
    }
}

fn digest_name(oid: &Oid) -> &'static str {
    match *oid {
        OID_SHA256 => "SHA-256",
        OID_SHA384 => "SHA-384",
        OID_SHA512 => "SHA-512",
        _ => "unsupported",
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and responses.

/// An RFC 3161 `TimeStampReq` for a message: SHA-256 imprint, a random nonce, and whether the
/// TSA should include its certificate in the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRequest {
    imprint: [u8; 32],
    nonce: u64,
    cert_req: bool,
    der: Vec<u8>,
}

impl TimestampRequest {
    /// A request for `message` with a random nonce.
    pub fn new(message: &[u8], cert_req: bool) -> Result<Self> {
        let mut n = [0u8; 8];
        getrandom::fill(&mut n).map_err(|e| Error::Io {
            path: "getrandom".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        // Positive and non-zero, so the INTEGER is canonical and meaningful.
        Ok(Self::with_nonce(
            message,
            (u64::from_be_bytes(n) >> 1).max(1),
            cert_req,
        ))
    }

    /// A request for `message` with the given nonce.
    pub fn with_nonce(message: &[u8], nonce: u64, cert_req: bool) -> Self {
        let imprint: [u8; 32] = Sha256::digest(message).into();
        let alg = write_tlv(0x30, &[oid_der(&OID_SHA256), vec![0x05, 0x00]].concat());
        let mi = write_tlv(0x30, &[alg, write_tlv(0x04, &imprint)].concat());
        let mut body = [write_uint(&[1]), mi, write_uint(&nonce.to_be_bytes())].concat();
        if cert_req {
            body.extend_from_slice(&[0x01, 0x01, 0xff]);
        }
        TimestampRequest {
            imprint,
            nonce,
            cert_req,
            der: write_tlv(0x30, &body),
        }
    }

    /// The DER request body (`Content-Type: application/timestamp-query`).
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The nonce.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// Checks a DER `TimeStampResp` (`application/timestamp-reply`) against this request:
    /// status granted, a well-formed token whose imprint and nonce are this request's. Returns
    /// the token (DER `TimeStampToken`). The signature is checked by [`verify_timestamp_token`].
    pub fn token_from_response(&self, resp: &[u8]) -> Result<Vec<u8>> {
        let token = token_from_response(resp)?;
        let info = parse_timestamp_token(&token)?;
        if info.hash_algorithm != "SHA-256" || info.imprint != self.imprint {
            return Err(refused(
                "the TSA timestamped a different message imprint than requested",
            ));
        }
        let nonce = self.nonce.to_be_bytes();
        let skip = nonce.iter().take_while(|b| **b == 0).count();
        let want = &nonce[skip..];
        match &info.nonce {
            Some(n)
                if n.as_slice() == want
                    || (n.len() == want.len() + 1 && n[0] == 0 && &n[1..] == want) => {}
            _ => return Err(refused("the token's nonce is not the request's nonce")),
        }
        Ok(token)
    }
}

/// Extracts the token from a DER `TimeStampResp`, failing with the TSA's status text when it was
/// not granted.
pub fn token_from_response(resp: &[u8]) -> Result<Vec<u8>> {
    if resp.len() > MAX_TOKEN_BYTES {
        return Err(Error::LimitExceeded {
            what: "timestamp response size",
            limit: MAX_TOKEN_BYTES as u64,
        });
    }
    let top = read_only(resp, 0x30, "TimeStampResp")?;
    let parts = children(top.value)?;
    let status_info = parts
        .first()
        .filter(|t| t.tag == 0x30)
        .ok_or_else(|| bad("TimeStampResp without PKIStatusInfo"))?;
    let si = children(status_info.value)?;
    let status = si
        .first()
        .copied()
        .map(parse_small_uint)
        .transpose()?
        .ok_or_else(|| bad("PKIStatusInfo without status"))?;
    if status > 1 {
        let mut text = Vec::new();
        if let Some(s) = si.get(1).filter(|t| t.tag == 0x30) {
            for t in children(s.value)? {
                text.push(String::from_utf8_lossy(t.value).into_owned());
            }
        }
        let name = match status {
            2 => "rejection",
            3 => "waiting",
            4 => "revocationWarning",
            5 => "revocationNotification",
            _ => "unknown status",
        };
        return Err(refused(format!(
            "the TSA refused the request: status {status} ({name}){}",
            if text.is_empty() {
                String::new()
            } else {
                format!(": {}", text.join("; "))
            }
        )));
    }
    let token = parts
        .get(1)
        .filter(|t| t.tag == 0x30)
        .ok_or_else(|| bad("granted TimeStampResp without a token"))?;
    // Re-encode the token's TLV exactly as received.
    Ok(write_tlv(0x30, token.value))
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// What a timestamp token says (from its `TSTInfo`), plus the signer once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampInfo {
    /// The token time, Unix seconds (fractions dropped).
    pub time: i64,
    /// The `genTime` exactly as in the token (`YYYYMMDDhhmmss[.f]Z`).
    pub gen_time: String,
    /// The TSA policy OID.
    pub policy: String,
    /// The token serial number, hex.
    pub serial: String,
    /// Hash algorithm of the message imprint (`SHA-256`, ...).
    pub hash_algorithm: &'static str,
    /// The message imprint.
    pub imprint: Vec<u8>,
    /// The nonce, as unsigned big-endian bytes (may carry a leading zero).
    pub nonce: Option<Vec<u8>>,
    /// The signer certificate's subject (RFC 4514 text), once verified; `None` when only parsed.
    pub signer: Option<String>,
}

struct ParsedToken {
    signed: SignedData,
    tst_der: Vec<u8>,
    info: TimestampInfo,
}

fn parse_token(token: &[u8]) -> Result<ParsedToken> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Error::LimitExceeded {
            what: "timestamp token size",
            limit: MAX_TOKEN_BYTES as u64,
        });
    }
    // Structural check first with our own reader (clear errors, no trailing bytes).
    read_only(token, 0x30, "TimeStampToken")?;
    let ci = ContentInfo::from_der(token).map_err(|e| bad(format!("ContentInfo: {e}")))?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(bad(format!(
            "content type {} is not SignedData",
            ci.content_type
        )));
    }
    let signed: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| bad(format!("SignedData: {e}")))?;
    if signed.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(bad(format!(
            "encapsulated content type {} is not id-ct-TSTInfo",
            signed.encap_content_info.econtent_type
        )));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| bad("no TSTInfo content"))?;
    let tst_der = econtent
        .decode_as::<OctetString>()
        .map_err(|e| bad(format!("TSTInfo is not an OCTET STRING: {e}")))?
        .into_bytes();
    let info = parse_tst_info(&tst_der)?;
    Ok(ParsedToken {
        signed,
        tst_der,
        info,
    })
}

fn parse_tst_info(der: &[u8]) -> Result<TimestampInfo> {
    let top = read_only(der, 0x30, "TSTInfo")?;
    let f = children(top.value)?;
    if f.len() < 5 {
        return Err(bad("TSTInfo has too few fields"));
    }
    if parse_small_uint(f[0])? != 1 {
        return Err(bad("TSTInfo version is not 1"));
    }
    let policy = parse_oid(f[1])?;
    if f[2].tag != 0x30 {
        return Err(bad("TSTInfo messageImprint is not a SEQUENCE"));
    }
    let mi = children(f[2].value)?;
    let (alg, hashed) = match mi.as_slice() {
        [alg, h] if alg.tag == 0x30 && h.tag == 0x04 => (*alg, *h),
        _ => return Err(bad("malformed messageImprint")),
    };
    let alg_oid = parse_oid(
        *children(alg.value)?
            .first()
            .ok_or_else(|| bad("empty AlgorithmIdentifier"))?,
    )?;
    let hash_algorithm = digest_name(&alg_oid);
    if f[3].tag != 0x02 || f[3].value.is_empty() || f[3].value.len() > 20 {
        return Err(bad(
            "TSTInfo serialNumber is not an INTEGER of at most 20 bytes",
        ));
    }
    if f[4].tag != 0x18 {
        return Err(bad("TSTInfo genTime is not a GeneralizedTime"));
    }
    let gen_time = std::str::from_utf8(f[4].value)
        .map_err(|_| bad("genTime is not ASCII"))?
        .to_owned();
    let time = parse_generalized_time(&gen_time)?;
    let mut nonce = None;
    for t in &f[5..] {
        match t.tag {
            0x02 => {
                if t.value.is_empty() || t.value[0] & 0x80 != 0 {
                    return Err(bad("negative or empty nonce"));
                }
                nonce = Some(t.value.to_vec());
            }
            0x30 | 0x01 | 0xa0 | 0xa1 => {} // accuracy, ordering, tsa name, extensions
            other => {
                return Err(bad(format!(
                    "unexpected TSTInfo field with tag {other:#04x}"
                )));
            }
        }
    }
    Ok(TimestampInfo {
        time,
        gen_time,
        policy: policy.to_string(),
        serial: hex(f[3].value),
        hash_algorithm,
        imprint: hashed.value.to_vec(),
        nonce,
        signer: None,
    })
}

/// `YYYYMMDDhhmmss[.fraction]Z` to Unix seconds.
fn parse_generalized_time(s: &str) -> Result<i64> {
    let b = s.as_bytes();
    let e = || bad(format!("bad genTime {s:?}"));
    if b.len() < 15 || b[b.len() - 1] != b'Z' || !b[..14].iter().all(u8::is_ascii_digit) {
        return Err(e());
    }
    let frac = &b[14..b.len() - 1];
    if !frac.is_empty()
        && (frac.len() < 2 || frac[0] != b'.' || !frac[1..].iter().all(u8::is_ascii_digit))
    {
        return Err(e());
    }
    let n = |r: std::ops::Range<usize>| -> i64 {
        b[r].iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d, h, mi, se) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(e());
    }
    // Days from civil (proleptic Gregorian).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// Parses a DER `TimeStampToken` and its `TSTInfo` without checking any signature.
pub fn parse_timestamp_token(token: &[u8]) -> Result<TimestampInfo> {
    Ok(parse_token(token)?.info)
}

/// Certificates trusted to issue timestamp tokens: TSA certificates themselves or the CAs
/// (roots or intermediates) that issued them.
#[derive(Debug, Clone, Default)]
pub struct TsaTrust {
    certs: Vec<Certificate>,
}

impl TsaTrust {
    /// Trust every certificate in a PEM file (one or more `CERTIFICATE` blocks).
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let certs = Certificate::load_pem_chain(pem)
            .map_err(|e| Error::malformed("TSA certificate PEM", e.to_string()))?;
        Self::from_certs(certs)
    }

    /// Trust the given DER certificates.
    pub fn from_der(certs: &[Vec<u8>]) -> Result<Self> {
        let certs = certs
            .iter()
            .map(|d| {
                Certificate::from_der(d)
                    .map_err(|e| Error::malformed("TSA certificate", e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_certs(certs)
    }

    fn from_certs(certs: Vec<Certificate>) -> Result<Self> {
        if certs.is_empty() {
            return Err(Error::malformed("TSA certificates", "no certificate given"));
        }
        if certs.len() > MAX_CERTS {
            return Err(Error::LimitExceeded {
                what: "trusted TSA certificates",
                limit: MAX_CERTS as u64,
            });
        }
        Ok(TsaTrust { certs })
    }

    /// Number of trusted certificates.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether no certificate is trusted.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

fn signer_matches(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == cert.tbs_certificate.issuer
                && is.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == OID_SKI)
            .any(|e| {
                read_only(e.extn_value.as_bytes(), 0x04, "subjectKeyIdentifier")
                    .is_ok_and(|t| t.value == ski.0.as_bytes())
            }),
    }
}

fn has_timestamping_eku(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == OID_EKU)
        .any(|e| {
            read_only(e.extn_value.as_bytes(), 0x30, "extKeyUsage")
                .and_then(|t| children(t.value))
                .is_ok_and(|oids| {
                    oids.into_iter()
                        .any(|o| parse_oid(o).is_ok_and(|o| o == OID_KP_TIMESTAMPING))
                })
        })
}

/// Verifies `sig` over `msg` with `cert`'s public key, under the signature algorithm `sig_alg`
/// (with `digest` as the hash when the algorithm is bare `rsaEncryption` or an EC key).
fn verify_with(
    cert: &Certificate,
    sig_alg: &Oid,
    digest: Option<&Oid>,
    msg: &[u8],
    sig: &[u8],
) -> Result<()> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("public key is not a whole number of bytes"))?;
    let key_alg = spki.algorithm.oid;
    let unsupported = || {
        refused(format!(
            "unsupported signature algorithm {sig_alg} for a {key_alg} key"
        ))
    };
    let alg: &'static dyn signature::VerificationAlgorithm = match key_alg {
        OID_RSA => match (*sig_alg, digest.copied()) {
            (OID_RSA_SHA256, _) | (OID_RSA, Some(OID_SHA256)) => {
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            (OID_RSA_SHA384, _) | (OID_RSA, Some(OID_SHA384)) => {
                &signature::RSA_PKCS1_2048_8192_SHA384
            }
            (OID_RSA_SHA512, _) | (OID_RSA, Some(OID_SHA512)) => {
                &signature::RSA_PKCS1_2048_8192_SHA512
            }
            _ => return Err(unsupported()),
        },
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok())
                .ok_or_else(|| bad("EC key without a named curve"))?;
            let hash = match (*sig_alg, digest.copied()) {
                (OID_ECDSA_SHA256, _) | (OID_EC_PUBLIC_KEY, Some(OID_SHA256)) => 256,
                (OID_ECDSA_SHA384, _) | (OID_EC_PUBLIC_KEY, Some(OID_SHA384)) => 384,
                _ => return Err(unsupported()),
            };
            match (curve, hash) {
                (OID_P256, 256) => &signature::ECDSA_P256_SHA256_ASN1,
                (OID_P256, _) => &signature::ECDSA_P256_SHA384_ASN1,
                (OID_P384, 256) => &signature::ECDSA_P384_SHA256_ASN1,
                (OID_P384, _) => &signature::ECDSA_P384_SHA384_ASN1,
                _ => return Err(refused(format!("unsupported EC curve {curve}"))),
            }
        }
        OID_ED25519 if *sig_alg == OID_ED25519 => &signature::ED25519,
        _ => return Err(unsupported()),
    };
    signature::UnparsedPublicKey::new(alg, key)
        .verify(msg, sig)
        .map_err(|_| {
            refused(format!(
                "signature by {} does not verify",
                cert.tbs_certificate.subject
            ))
        })
}

fn check_validity(cert: &Certificate, time: i64) -> Result<()> {
    let v = &cert.tbs_certificate.validity;
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    if time < nb || time > na {
        return Err(refused(format!(
            "the token time is outside the validity of certificate {}",
            cert.tbs_certificate.subject
        )));
    }
    Ok(())
}

/// Verifies a DER `TimeStampToken` over `message` against trusted TSA certificates (see the
/// module docs for every check). Returns what the token says, with the signer's subject.
pub fn verify_timestamp_token(
    token: &[u8],
    message: &[u8],
    trust: &TsaTrust,
) -> Result<TimestampInfo> {
    let ParsedToken {
        signed,
        tst_der,
        mut info,
    } = parse_token(token)?;
    // 1. The imprint is the message's hash.
    let imprint_oid = {
        let top = read_only(&tst_der, 0x30, "TSTInfo")?;
        let f = children(top.value)?;
        let mi = children(f[2].value)?;
        parse_oid(children(mi[0].value)?[0])?
    };
    let alg = digest_alg(&imprint_oid)
        .ok_or_else(|| refused(format!("unsupported imprint hash {imprint_oid}")))?;
    if digest::digest(alg, message).as_ref() != info.imprint.as_slice() {
        return Err(refused(
            "message imprint does not match: the token is for different data",
        ));
    }
    // 2. One signer, with signed attributes binding the TSTInfo.
    let signers: Vec<&SignerInfo> = signed.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(bad(format!(
            "a timestamp token has exactly one signer, this one {}",
            signers.len()
        )));
    };
    // Fields the signature does not cover must still be exactly what RFC 5652 prescribes.
    if !matches!(
        signed.version,
        CmsVersion::V3 | CmsVersion::V4 | CmsVersion::V5
    ) {
        return Err(bad("SignedData of a timestamp token must have version 3"));
    }
    let want_version = match si.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => CmsVersion::V1,
        SignerIdentifier::SubjectKeyIdentifier(_) => CmsVersion::V3,
    };
    if si.version != want_version {
        return Err(bad(
            "SignerInfo version does not match its signer identifier",
        ));
    }
    let null_or_absent = |a: &AlgorithmIdentifierOwned| {
        a.parameters
            .as_ref()
            .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty())
    };
    if !signed
        .digest_algorithms
        .iter()
        .any(|a| a.oid == si.digest_alg.oid && null_or_absent(a))
        || !signed.digest_algorithms.iter().all(null_or_absent)
    {
        return Err(bad(
            "SignedData digestAlgorithms do not list the signer's digest algorithm",
        ));
    }
    if !null_or_absent(&si.digest_alg) || !null_or_absent(&si.signature_algorithm) {
        return Err(bad("unexpected algorithm parameters"));
    }
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("signer without signed attributes"))?;
    let attr = |oid: Oid| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
            .ok_or_else(|| bad(format!("signed attribute {oid} missing")))
    };
    let ct: Oid = attr(OID_CONTENT_TYPE)?
        .decode_as()
        .map_err(|e| bad(format!("content-type attribute: {e}")))?;
    if ct != OID_TST_INFO {
        return Err(refused(
            "signed content-type attribute is not id-ct-TSTInfo",
        ));
    }
    let md: OctetString = attr(OID_MESSAGE_DIGEST)?
        .decode_as()
        .map_err(|e| bad(format!("message-digest attribute: {e}")))?;
    let dalg = digest_alg(&si.digest_alg.oid)
        .ok_or_else(|| refused(format!("unsupported digest {}", si.digest_alg.oid)))?;
    if digest::digest(dalg, &tst_der).as_ref() != md.as_bytes() {
        return Err(refused(
            "the signed message digest does not match the TSTInfo (token altered)",
        ));
    }
    // 3. The signer certificate, from the token or the trusted set.
    let mut pool: Vec<Certificate> = Vec::new();
    for c in signed.certificates.iter().flat_map(|s| s.0.iter()) {
        if let CertificateChoices::Certificate(c) = c {
            pool.push(c.clone());
        }
        if pool.len() > MAX_CERTS {
            return Err(Error::LimitExceeded {
                what: "certificates in a timestamp token",
                limit: MAX_CERTS as u64,
            });
        }
    }
    pool.extend(trust.certs.iter().cloned());
    let signer = pool
        .iter()
        .find(|c| signer_matches(&si.sid, c))
        .ok_or_else(|| {
            refused("the token's signer certificate is neither in the token nor trusted")
        })?;
    // 4. The signature over the DER of the signed attributes (RFC 5652 5.4: EXPLICIT SET OF).
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| bad(format!("re-encoding signed attributes: {e}")))?;
    verify_with(
        signer,
        &si.signature_algorithm.oid,
        Some(&si.digest_alg.oid),
        &signed_bytes,
        si.signature.as_bytes(),
    )
    .map_err(|e| match e {
        Error::Timestamp(m) => refused(format!("token signature: {m}")),
        e => e,
    })?;
    if !has_timestamping_eku(signer) {
        return Err(refused(format!(
            "signer {} lacks the timeStamping extended key usage",
            signer.tbs_certificate.subject
        )));
    }
    // 5. The chain up to a trusted certificate, signatures and validity checked.
    let mut cur = signer;
    for _ in 0..8 {
        check_validity(cur, info.time)?;
        if trust.certs.iter().any(|t| t == cur) {
            info.signer = Some(signer.tbs_certificate.subject.to_string());
            return Ok(info);
        }
        let issuer = pool
            .iter()
            .filter(|c| c.tbs_certificate.subject == cur.tbs_certificate.issuer && *c != cur)
            .find(|c| {
                cur.tbs_certificate.to_der().is_ok_and(|tbs| {
                    cur.signature.as_bytes().is_some_and(|sig| {
                        verify_with(c, &cur.signature_algorithm.oid, None, &tbs, sig).is_ok()
                    })
                })
            })
            .ok_or_else(|| {
                refused(format!(
                    "signer {} does not chain to a trusted TSA certificate",
                    signer.tbs_certificate.subject
                ))
            })?;
        cur = issuer;
    }
    Err(refused("certificate chain too long"))
}

// ---------------------------------------------------------------------------------------------
// Tokens on checkpoint notes.

/// The key ID of a timestamp line under key name `name`.
pub fn timestamp_key_id(name: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', 0xff]);
    h.update(TIMESTAMP_SIGNATURE_ID.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The note signature line that carries `token` under key name `name`.
pub fn timestamp_signature(name: &str, token: &[u8]) -> NoteSignature {
    NoteSignature {
        name: name.to_owned(),
        id: timestamp_key_id(name),
        sig: token.to_vec(),
    }
}

/// The timestamp tokens on a checkpoint note, as (key name, DER token), unverified.
pub fn checkpoint_timestamps(note: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let n = Note::parse(note)?;
    Ok(n.signatures
        .into_iter()
        .filter(|s| s.id == timestamp_key_id(&s.name))
        .map(|s| (s.name, s.sig))
        .collect())
}

/// Verifies every timestamp token on a checkpoint note over the note's text against `trust`;
/// any token that fails rejects the note. Returns one [`TimestampInfo`] per token (possibly
/// none: require at least one where a timestamp is mandatory).
pub fn verify_checkpoint_timestamps(note: &[u8], trust: &TsaTrust) -> Result<Vec<TimestampInfo>> {
    let n = Note::parse(note)?;
    n.signatures
        .iter()
        .filter(|s| s.id == timestamp_key_id(&s.name))
        .map(|s| {
            verify_timestamp_token(&s.sig, n.text.as_bytes(), trust).map_err(|e| match e {
                Error::Timestamp(m) => refused(format!("{}: {m}", s.name)),
                Error::Malformed { what, detail } => Error::Malformed {
                    what,
                    detail: format!("{}: {detail}", s.name),
                },
                e => e,
            })
        })
        .collect()
}

/// Talks to a timestamp authority: sends a DER `TimeStampReq` and returns the DER
/// `TimeStampResp` (RFC 3161 over HTTP: POST `application/timestamp-query`). Implemented by the
/// CLI and the server; the engine does no I/O.
pub trait TimestampClient: Send + Sync {
    /// One request/response exchange; `Err` carries a transport or HTTP error text.
    fn timestamp(&self, query: &[u8]) -> std::result::Result<Vec<u8>, String>;
}

/// The log's timestamping configuration.
pub struct LogTimestamper {
    /// Talks to the TSA.
    pub client: Box<dyn TimestampClient>,
    /// The key name the token line carries on the checkpoint note (no spaces or `+`).
    pub name: String,
    /// When given, every token is verified against these certificates before publishing.
    pub trust: Option<TsaTrust>,
    /// Ask the TSA to include its certificate in the token (bigger certificates).
    pub cert_req: bool,
    /// Fail the batch when no token can be obtained (otherwise publish without one).
    pub required: bool,
}

impl std::fmt::Debug for LogTimestamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogTimestamper({})", self.name)
    }
}

impl LogTimestamper {
    /// Obtains and checks a token over `text` (a checkpoint note text).
    pub fn token_for(&self, text: &[u8]) -> Result<Vec<u8>> {
        let req = TimestampRequest::new(text, self.cert_req)?;
        let resp = self
            .client
            .timestamp(req.to_der())
            .map_err(|e| refused(format!("timestamp authority {}: {e}", self.name)))?;
        let token = req.token_from_response(&resp)?;
        if let Some(t) = &self.trust {
            verify_timestamp_token(&token, text, t)?;
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_encoding_known_answer() {
        let r = TimestampRequest::with_nonce(b"abc", 0x0102, false);
        // SEQUENCE { INTEGER 1, SEQUENCE { SEQUENCE { OID sha256, NULL }, OCTET STRING(32) },
        // INTEGER 0x0102 }
        let mut want = vec![
            0x30, 0x3a, 0x02, 0x01, 0x01, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09,
        ];
        want.extend_from_slice(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
        want.extend_from_slice(&[0x05, 0x00, 0x04, 0x20]);
        want.extend_from_slice(&Sha256::digest(b"abc"));
        want.extend_from_slice(&[0x02, 0x02, 0x01, 0x02]);
        assert_eq!(r.to_der(), want.as_slice());
        let r2 = TimestampRequest::with_nonce(b"abc", 0x80, true);
        assert!(
            r2.to_der()
                .ends_with(&[0x02, 0x02, 0x00, 0x80, 0x01, 0x01, 0xff])
        );
    }

    #[test]
    fn generalized_time() {
        assert_eq!(parse_generalized_time("19700101000000Z").unwrap(), 0);
        assert_eq!(
            parse_generalized_time("20261123231500.123Z").unwrap(),
            1_795_475_700
        );
        for b in [
            "2026112323150Z",
            "20261323231500Z",
            "20261123231500",
            "20261123231500.Z",
        ] {
            assert!(parse_generalized_time(b).is_err(), "{b}");
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for g in [
            &b""[..],
            b"\x30",
            b"\x30\x80\x00\x00",
            b"\x30\x05\x02\x01\x01",
            b"\x30\x03\x02\x01\x01trailing",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x1f\x01\x00",
        ] {
            assert!(parse_timestamp_token(g).is_err());
            assert!(token_from_response(g).is_err());
        }
        // A rejection status is reported with its text.
        let resp = write_tlv(
            0x30,
            &write_tlv(
                0x30,
                &[
                    write_uint(&[2]),
                    write_tlv(0x30, &write_tlv(0x0c, b"bad alg")),
                ]
                .concat(),
            ),
        );
        let e = token_from_response(&resp).unwrap_err().to_string();
        assert!(e.contains("rejection") && e.contains("bad alg"), "{e}");
    }

    #[test]
    fn key_id_is_stable() {
        assert_eq!(
            timestamp_key_id("tsa.example"),
            timestamp_key_id("tsa.example")
        );
        assert_ne!(
            timestamp_key_id("tsa.example"),
            timestamp_key_id("tsb.example")
        );
    }
}
