//! RFC 3161 timestamp tokens with `openssl ts` as the timestamp authority: a test CA and TSA
//! certificate made with openssl, tokens requested by the log, verified by our code and
//! independently by `openssl ts -verify`, and bad tokens refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use encore_registry::timestamp::{checkpoint_timestamps, timestamp_signature};
use encore_registry::*;

fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sh(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a TSA certificate issued by it, plus an `openssl ts` configuration.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// `key`: "rsa" or "ec". `digests`: what the TSA accepts.
    fn new(dir: &Path, name: &str, key: &str, digests: &str) -> Pki {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let newkey: &[&str] = if key == "ec" {
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        } else {
            &["-newkey", "rsa:2048"]
        };
        let subj_ca = format!("/CN={name} Root CA");
        let mut a = vec![
            "req", "-x509", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        ];
        a.extend_from_slice(newkey);
        a.extend_from_slice(&[
            "-days",
            "3650",
            "-subj",
            &subj_ca,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        sh(&dir, &a);
        let subj = format!("/CN={name} TSA");
        let mut a = vec!["req", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr"];
        a.extend_from_slice(newkey);
        a.extend_from_slice(&["-subj", &subj]);
        sh(&dir, &a);
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        sh(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.pem",
                "-days",
                "3650",
                "-extfile",
                "ext.cnf",
            ],
        );
        std::fs::write(dir.join("tsaserial"), "01\n").unwrap();
        // The TSA certificate and its CA: what a verifier needs when tokens omit certificates.
        let chain = [
            std::fs::read(dir.join("tsa.pem")).unwrap(),
            std::fs::read(dir.join("ca.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("chain.pem"), chain).unwrap();
        std::fs::write(
            dir.join("tsa.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\ndir = {}\n\
                 serial = $dir/tsaserial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.pem\n\
                 certs = $dir/ca.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\n\
                 default_policy = 1.2.3.4.1\ndigests = {digests}\naccuracy = secs:1\n\
                 ordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
                dir.display()
            ),
        )
        .unwrap();
        Pki { dir }
    }

    fn trust(&self, file: &str) -> TsaTrust {
        TsaTrust::from_pem(&std::fs::read(self.dir.join(file)).unwrap()).unwrap()
    }

    fn client(&self) -> OpensslTsa {
        OpensslTsa {
            dir: self.dir.clone(),
        }
    }
}

/// The authority: `openssl ts -reply` on each query.
struct OpensslTsa {
    dir: PathBuf,
}

impl TimestampClient for OpensslTsa {
    fn timestamp(&self, query: &[u8]) -> Result<Vec<u8>, String> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let q = self.dir.join(format!("q{n}.tsq"));
        let r = self.dir.join(format!("r{n}.tsr"));
        std::fs::write(&q, query).map_err(|e| e.to_string())?;
        let out = Command::new("openssl")
            .args(["ts", "-reply", "-config", "tsa.cnf", "-queryfile"])
            .arg(&q)
            .arg("-out")
            .arg(&r)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::fs::read(&r).map_err(|e| e.to_string())
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn request_token(pki: &Pki, message: &[u8], cert_req: bool) -> Vec<u8> {
    let req = TimestampRequest::new(message, cert_req).unwrap();
    let resp = pki.client().timestamp(req.to_der()).unwrap();
    req.token_from_response(&resp).unwrap()
}

fn openssl_verify(pki: &Pki, data: &[u8], token: &[u8]) -> bool {
    std::fs::write(pki.dir.join("data.bin"), data).unwrap();
    std::fs::write(pki.dir.join("token.der"), token).unwrap();
    Command::new("openssl")
        .args([
            "ts",
            "-verify",
            "-data",
            "data.bin",
            "-in",
            "token.der",
            "-token_in",
            "-CAfile",
            "ca.pem",
            "-untrusted",
            "tsa.pem",
        ])
        .current_dir(&pki.dir)
        .output()
        .unwrap()
        .status
        .success()
}

fn entry(i: u32) -> Vec<u8> {
    let claim = Claim {
        audio_sha256: [i as u8; 32],
        content_digest: [1; 32],
        lyrics_sha256: None,
        title: format!("work {i}"),
        identity: IdentityCommitment::new("x", &[0; 32]),
        claimed_time: 1_700_000_000,
    };
    Statement::sign(claim, &CreatorKey::from_seed([7; 32]))
        .unwrap()
        .encode()
}

#[test]
fn log_checkpoints_carry_tokens_that_we_and_openssl_verify() {
    if !have_openssl() {
        println!("SKIP: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (key, cert_req) in [("rsa", false), ("ec", true)] {
        let pki = Pki::new(tmp.path(), &format!("Encore {key}"), key, "sha256, sha384");
        let log_key = NoteSigner::from_seed("example.org/ts", KeyKind::Ed25519, [1; 32]).unwrap();
        let storage = std::sync::Arc::new(MemStorage::new());
        let mut log = Log::create(storage.clone(), log_key.clone()).unwrap();
        log.set_timestamper(Some(LogTimestamper {
            client: Box::new(pki.client()),
            name: "tsa.example.org".into(),
            trust: Some(pki.trust(if cert_req { "ca.pem" } else { "chain.pem" })),
            cert_req,
            required: true,
        }));
        let before = now();
        log.append(&[entry(1), entry(2)], 0).unwrap();
        log.append(&[entry(3)], 0).unwrap();
        let note = log.checkpoint_note().to_vec();
        let stamps = checkpoint_timestamps(&note).unwrap();
        assert_eq!(stamps.len(), 1, "one token on the published checkpoint");
        assert_eq!(stamps[0].0, "tsa.example.org");

        // Our verification: against the CA (when the token carries the TSA certificate), the
        // chain, and the pinned TSA certificate.
        if !cert_req {
            let e = verify_checkpoint_timestamps(&note, &pki.trust("ca.pem")).unwrap_err();
            assert!(e.to_string().contains("signer certificate"), "{e}");
        }
        let trusts = if cert_req {
            vec![pki.trust("ca.pem"), pki.trust("tsa.pem")]
        } else {
            vec![pki.trust("chain.pem"), pki.trust("tsa.pem")]
        };
        for trust in trusts {
            let infos = verify_checkpoint_timestamps(&note, &trust).unwrap();
            assert_eq!(infos.len(), 1);
            assert!(
                (before - 5..=now() + 5).contains(&infos[0].time),
                "{infos:?}"
            );
            assert_eq!(infos[0].policy, "1.2.3.4.1");
            assert_eq!(
                infos[0].signer.as_deref(),
                Some(format!("CN=Encore {key} TSA").as_str())
            );
        }

        // Independent check: openssl verifies the stored token over the checkpoint text.
        let text = Note::parse(&note).unwrap().text;
        assert!(openssl_verify(&pki, text.as_bytes(), &stamps[0].1));
        assert!(!openssl_verify(&pki, b"other data", &stamps[0].1));

        // The certificate carries it, and verifiers that do not know timestamps ignore it.
        let text = log.proof(2).unwrap().to_text();
        println!(
            "certificate with a {key} token (TSA certificate included: {cert_req}): {} bytes",
            text.len()
        );
        let cert = TlogProof::parse(&text).unwrap();
        let policy = Policy {
            log: log_key.verifier(),
            witnesses: vec![],
            quorum: 0,
        };
        verify_certificate(&cert, &policy).unwrap();
        assert_eq!(
            verify_checkpoint_timestamps(&cert.checkpoint, &pki.trust("chain.pem"))
                .unwrap()
                .len(),
            1
        );
        // Reopening the log accepts the note with its token line.
        drop(log);
        let log = Log::open(storage, log_key).unwrap();
        assert_eq!(log.size(), 3);
    }
}

#[test]
fn bad_tokens_are_refused_with_clear_errors() {
    if !have_openssl() {
        println!("SKIP: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path(), "Good", "rsa", "sha256");
    let other = Pki::new(tmp.path(), "Other", "ec", "sha256");
    let msg = b"origin\n1\nroot\n";
    let token = request_token(&pki, msg, false);
    let trust = pki.trust("chain.pem");
    verify_timestamp_token(&token, msg, &trust).unwrap();

    // Wrong imprint.
    let e = verify_timestamp_token(&token, b"another checkpoint\n", &trust).unwrap_err();
    assert!(e.to_string().contains("imprint"), "{e}");
    // Wrong signer: a token from another TSA, or our TSA checked against another CA.
    let foreign = request_token(&other, msg, true);
    let e = verify_timestamp_token(&foreign, msg, &trust).unwrap_err();
    assert!(matches!(e, Error::Timestamp(_)), "{e}");
    assert!(e.to_string().contains("chain"), "{e}");
    verify_timestamp_token(&foreign, msg, &other.trust("ca.pem")).unwrap();
    let e = verify_timestamp_token(&token, msg, &other.trust("chain.pem")).unwrap_err();
    assert!(e.to_string().contains("signer certificate"), "{e}");
    // Pinning the TSA certificate itself is enough.
    verify_timestamp_token(&foreign, msg, &other.trust("tsa.pem")).unwrap();

    // Every single-byte change is refused (and never panics).
    let mut refused = 0;
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x01;
        if verify_timestamp_token(&t, msg, &trust).is_err() {
            refused += 1;
        } else {
            println!(
                "accepted flip at {i}: {:02x?}",
                &token[i.saturating_sub(6)..(i + 6).min(token.len())]
            );
        }
    }
    assert_eq!(refused, token.len(), "a flipped bit was accepted");
    // Garbage and truncations.
    for t in [&b""[..], b"garbage", &token[..token.len() / 2], &token[1..]] {
        assert!(verify_timestamp_token(t, msg, &trust).is_err());
    }
    // A response for a different request (replayed) is refused by nonce/imprint.
    let req = TimestampRequest::new(msg, false).unwrap();
    let other_req = TimestampRequest::new(msg, false).unwrap();
    let resp = pki.client().timestamp(other_req.to_der()).unwrap();
    let e = req.token_from_response(&resp).unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");

    // A TSA that refuses the request (SHA-256 not accepted) is reported with its status.
    let strict = Pki::new(tmp.path(), "Strict", "rsa", "sha512");
    let req = TimestampRequest::new(msg, false).unwrap();
    let resp = strict.client().timestamp(req.to_der()).unwrap();
    let e = req.token_from_response(&resp).unwrap_err();
    assert!(e.to_string().contains("rejection"), "{e}");

    // A checkpoint note with a forged token line is refused as a whole.
    let key = NoteSigner::from_seed("example.org/ts", KeyKind::Ed25519, [1; 32]).unwrap();
    let mut log = Log::create(MemStorage::new(), key).unwrap();
    log.append(&[entry(9)], 0).unwrap();
    let mut note = log.checkpoint_note().to_vec();
    note.extend_from_slice(
        timestamp_signature("tsa.example.org", &token)
            .to_line()
            .as_bytes(),
    );
    let e = verify_checkpoint_timestamps(&note, &trust).unwrap_err();
    assert!(e.to_string().contains("imprint"), "{e}");
}

#[test]
fn log_refuses_to_publish_an_untrusted_token_unless_optional() {
    if !have_openssl() {
        println!("SKIP: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path(), "Good", "ec", "sha256");
    let other = Pki::new(tmp.path(), "Other", "ec", "sha256");
    let key = NoteSigner::from_seed("example.org/ts", KeyKind::Ed25519, [1; 32]).unwrap();
    let mut log = Log::create(MemStorage::new(), key).unwrap();
    let ts = |trust: TsaTrust, required: bool| LogTimestamper {
        client: Box::new(pki.client()),
        name: "tsa".into(),
        trust: Some(trust),
        cert_req: false,
        required,
    };
    log.set_timestamper(Some(ts(other.trust("chain.pem"), true)));
    let e = log.append(&[entry(1)], 0).unwrap_err();
    assert!(matches!(e, Error::Timestamp(_)), "{e}");
    assert_eq!(log.size(), 0, "nothing acknowledged without a valid token");
    // Optional: published without a token.
    log.set_timestamper(Some(ts(other.trust("chain.pem"), false)));
    assert_eq!(log.append(&[entry(1)], 0).unwrap(), vec![0]);
    assert!(
        checkpoint_timestamps(log.checkpoint_note())
            .unwrap()
            .is_empty()
    );
    // Trusted again: the next checkpoint carries a token.
    log.set_timestamper(Some(ts(pki.trust("chain.pem"), true)));
    assert_eq!(log.append(&[entry(2)], 0).unwrap(), vec![1]);
    assert_eq!(
        verify_checkpoint_timestamps(log.checkpoint_note(), &pki.trust("chain.pem"))
            .unwrap()
            .len(),
        1
    );
}
