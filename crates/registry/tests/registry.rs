//! Integration tests of the registry engine: the Go cross-verification, property tests against
//! an independent implementation (ct-merkle), fault injection at every write step, start-up
//! refusal of corrupted or forked state, and witnesses (quorum, 409, split view).

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use encore_registry::*;
use proptest::prelude::*;

fn log_key() -> NoteSigner {
    NoteSigner::from_seed("example.org/registry", KeyKind::Ed25519, [1; 32]).unwrap()
}

fn entries(from: u64, n: u64) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| format!("entry {i}").into_bytes())
        .collect()
}

/// Every invariant a reopened log must satisfy: it opens, its storage passes the fsck, every
/// `expected` entry is at its index, and proofs verify against the published checkpoint.
fn check_invariants<S: Storage>(storage: S, expected: &[Vec<u8>]) -> Log<S> {
    let log = Log::open(storage, log_key()).expect("reopen");
    log.verify_storage().expect("fsck");
    assert!(log.size() >= expected.len() as u64);
    let cp = verify_checkpoint(log.checkpoint_note(), &log_key().verifier()).unwrap();
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(&log.entry(i as u64).unwrap(), e, "entry {i}");
    }
    for i in [0, expected.len() as u64 / 2, log.size().saturating_sub(1)] {
        if i < log.size() {
            let p = log.proof(i).unwrap();
            verify_inclusion(
                &Hash::leaf(p.extra.as_ref().unwrap()),
                i,
                cp.size,
                &p.inclusion,
                &cp.root,
            )
            .unwrap();
        }
    }
    log
}

#[test]
fn go_cross_verification() {
    if Command::new("go").arg("version").output().is_err() {
        println!(
            "SKIP go_cross_verification: `go` not found (install golang-go golang-golang-x-mod-dev)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("log");
    let mut log = Log::create(DirStorage::open(&logdir).unwrap(), log_key()).unwrap();
    log.append(&entries(0, 300), 0).unwrap();
    let old_cp = log.checkpoint_note().to_vec();
    let old_size = log.size();
    // Several batches, ending past one full level-1 tile (65 536) with a level-2 partial tile.
    for b in 0..4 {
        log.append(&entries(300 + b * 16_500, 16_500), 0).unwrap();
    }
    let size = log.size();
    assert_eq!(size, 66_300);
    std::fs::write(dir.path().join("old"), &old_cp).unwrap();
    std::fs::write(
        dir.path().join("proof"),
        log.proof(65_999).unwrap().to_text(),
    )
    .unwrap();
    let cons: String = log
        .consistency_proof(old_size, size)
        .unwrap()
        .iter()
        .map(|h| format!("{}\n", h.to_base64()))
        .collect();
    std::fs::write(dir.path().join("cons"), cons).unwrap();
    drop(log);
    // A timestamp-token line (as `LogTimestamper` appends, with a token-sized body): Go's
    // `note` must ignore it as a signature from an unknown key and still verify the log's.
    let mut cp = std::fs::read(logdir.join("checkpoint")).unwrap();
    let line = encore_registry::timestamp::timestamp_signature("tsa.example.org", &[0x30; 1500]);
    cp.extend_from_slice(line.to_line().as_bytes());
    std::fs::write(logdir.join("checkpoint"), &cp).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/tlogcheck.go");
    let bin = dir.path().join("tlogcheck");
    let gopath = std::env::var("ENCORE_GOPATH").unwrap_or_else(|_| "/usr/share/gocode".into());
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("GOPATH", &gopath)
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.path().join("gocache"))
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let out = Command::new(&bin)
        .arg(&logdir)
        .arg(log_key().verifier().to_vkey())
        .arg(dir.path().join("old"))
        .arg(dir.path().join("proof"))
        .arg(dir.path().join("cons"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Go verifier failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
    assert!(stdout.contains("size 66300"), "{stdout}");
}

#[test]
fn rfc9162_style_known_answers() {
    // Leaves are the RFC 6962 test vectors used by Certificate Transparency implementations
    // (certificate-transparency-go merkle tests): "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243,
    // 0x5051525354555657, 0x606162636465666768696a6b6c6d6e6f.
    let leaves: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x10],
        vec![0x20, 0x21],
        vec![0x30, 0x31],
        vec![0x40, 0x41, 0x42, 0x43],
        vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        (0x60..=0x6f).collect(),
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let tree = MemoryTree::new(leaves.iter().map(|l| Hash::leaf(l)).collect());
    for (n, want) in roots.iter().enumerate() {
        assert_eq!(
            tree.root(n as u64 + 1).unwrap().to_hex(),
            *want,
            "root of size {}",
            n + 1
        );
    }
    // Inclusion of leaf 0 in the tree of size 8, and consistency 1 -> 8 (RFC 6962 vectors).
    let p = inclusion_proof(&tree, 0, 8).unwrap();
    let hexes: Vec<String> = p.iter().map(Hash::to_hex).collect();
    assert_eq!(
        hexes,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]
    );
    let c = consistency_proof(&tree, 6, 8).unwrap();
    let hexes: Vec<String> = c.iter().map(Hash::to_hex).collect();
    assert_eq!(
        hexes,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn proofs_verify_and_match_ct_merkle(n in 1u64..600, a in any::<u64>(), b in any::<u64>(), flip in any::<(usize, u8)>()) {
        let data: Vec<Vec<u8>> = entries(0, n);
        let mut log = Log::create(MemStorage::new(), log_key()).unwrap();
        // Two batches so the log has a history to prove consistency with.
        let m = a % n + 1;
        log.append(&data[..m as usize], 0).unwrap();
        let old_root = verify_checkpoint(log.checkpoint_note(), &log_key().verifier()).unwrap().root;
        log.append(&data[m as usize..], 0).unwrap();
        let cp = verify_checkpoint(log.checkpoint_note(), &log_key().verifier()).unwrap();

        let mut reference = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, Vec<u8>>::new();
        for d in &data {
            reference.push(d.clone());
        }
        let ref_root = reference.root();
        prop_assert_eq!(ref_root.as_bytes().as_slice(), cp.root.0.as_slice());

        let i = b % n;
        let p = log.proof(i).unwrap();
        verify_inclusion(&Hash::leaf(&data[i as usize]), i, n, &p.inclusion, &cp.root).unwrap();
        let theirs = reference.prove_inclusion(i as usize);
        let ours: Vec<u8> = p.inclusion.iter().flat_map(|h| h.0).collect();
        prop_assert_eq!(theirs.as_bytes(), ours.as_slice());

        let c = log.consistency_proof(m, n).unwrap();
        verify_consistency(m, n, &old_root, &cp.root, &c).unwrap();
        let theirs = reference.prove_consistency((n - m) as usize);
        let ours_c: Vec<u8> = c.iter().flat_map(|h| h.0).collect();
        if m != n {
            prop_assert_eq!(theirs.as_bytes(), ours_c.as_slice());
        }

        // Any flipped bit in a proof hash or the leaf makes verification fail.
        if !p.inclusion.is_empty() {
            let mut bad = p.inclusion.clone();
            let k = flip.0 % bad.len();
            bad[k].0[(flip.0 / 7) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_inclusion(&Hash::leaf(&data[i as usize]), i, n, &bad, &cp.root).is_err());
        }
        let mut leaf = Hash::leaf(&data[i as usize]);
        leaf.0[flip.0 % 32] ^= 1 << (flip.1 % 8);
        prop_assert!(verify_inclusion(&leaf, i, n, &p.inclusion, &cp.root).is_err());
        if !c.is_empty() {
            let mut bad = c.clone();
            let k = flip.0 % bad.len();
            bad[k].0[(flip.0 / 7) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_consistency(m, n, &old_root, &cp.root, &bad).is_err());
        }
        // And any flipped bit in the certificate text is refused by the full verifier.
        let text = p.to_text();
        let pos = flip.0 % text.len();
        let mut bad = text.clone();
        bad[pos] ^= 1 << (flip.1 % 8);
        let policy = Policy { log: log_key().verifier(), witnesses: vec![], quorum: 0 };
        if bad != text {
            let verdict = TlogProof::parse(&bad).and_then(|p| {
                // The entries here are not statements; check the Merkle part directly.
                let cp = verify_checkpoint(&p.checkpoint, &policy.log)?;
                verify_inclusion(&Hash::leaf(p.extra.as_deref().unwrap_or(&[])), p.index, cp.size, &p.inclusion, &cp.root)
            });
            // Base64 has a few bits that decode the same (padding); the text then still says
            // the same thing, which is fine. Otherwise it must fail.
            if verdict.is_ok() {
                let reparsed = TlogProof::parse(&bad).unwrap();
                prop_assert_eq!(reparsed.extra, p.extra.clone());
                prop_assert_eq!(reparsed.index, p.index);
                prop_assert_eq!(reparsed.inclusion, p.inclusion.clone());
            }
        }
    }
}

#[test]
fn fault_injection_at_every_write_step() {
    for fault in [Fault::Before, Fault::After] {
        let mut step = 0;
        loop {
            let storage = Arc::new(FaultyStorage::new(MemStorage::new()));
            let mut log = Log::create(storage.clone(), log_key()).unwrap();
            let first = entries(0, 300);
            log.append(&first, 0).unwrap();
            drop(log);
            let mut log = Log::open(storage.clone(), log_key()).unwrap();
            storage.arm(step, fault);
            let second = entries(300, 260);
            let res = log.append(&second, 0);
            let writes = storage.disarm();
            drop(log);
            let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
            match res {
                Ok(idx) => {
                    // The fault struck past the last write of the batch: nothing was injected.
                    assert_eq!(idx.len(), 260);
                    check_invariants(storage.clone(), &all);
                    break;
                }
                Err(e) => {
                    assert!(matches!(e, Error::Storage { .. }), "{e}");
                    // Failed after writing the checkpoint: the entries are durable but were not
                    // acknowledged; otherwise the log is exactly as before.
                    let log = check_invariants(storage.clone(), &first);
                    let published_all = log.size() == 560;
                    assert!(log.size() == 300 || published_all, "size {}", log.size());
                    // The log continues: the retry returns the same indices (dedup) and
                    // everything is consistent.
                    let mut log = log;
                    let idx = log.append(&second, 0).unwrap();
                    assert_eq!(idx, (300..560).collect::<Vec<_>>());
                    drop(log);
                    check_invariants(storage.clone(), &all);
                }
            }
            assert!(writes > step);
            step += 1;
        }
        assert!(step > 3, "the batch should take several writes");
    }
}

#[test]
fn startup_refuses_corrupted_or_forked_state() {
    let mem = Arc::new(MemStorage::new());
    let mut log = Log::create(mem.clone(), log_key()).unwrap();
    log.append(&entries(0, 600), 0).unwrap();
    drop(log);
    Log::open(mem.clone(), log_key()).unwrap();

    // A changed full leaf tile (history rewritten).
    let orig = mem.get("tile/0/000").unwrap().unwrap();
    let mut bad = orig.clone();
    bad[5] ^= 1;
    mem.tamper("tile/0/000", bad);
    let err = Log::open(mem.clone(), log_key()).unwrap_err();
    assert!(matches!(err, Error::Inconsistent(_)), "{err}");
    mem.tamper("tile/0/000", orig);

    // A partial tile that disagrees with the checkpoint.
    let p = "tile/0/002.p/88";
    let orig = mem.get(p).unwrap().unwrap();
    mem.tamper(p, orig[..orig.len() - 32].to_vec());
    assert!(matches!(
        Log::open(mem.clone(), log_key()),
        Err(Error::Inconsistent(_))
    ));
    mem.tamper(p, orig);

    // A checkpoint signed by another key, or with a changed root.
    let cp = mem.get("checkpoint").unwrap().unwrap();
    let text = String::from_utf8(cp.clone()).unwrap();
    mem.tamper("checkpoint", text.replacen("600", "601", 1).into_bytes());
    assert!(Log::open(mem.clone(), log_key()).is_err());
    mem.tamper("checkpoint", cp.clone());

    // A staged checkpoint that does not extend the published one: a fork.
    let other = Arc::new(MemStorage::new());
    let mut fork = Log::create(other.clone(), log_key()).unwrap();
    fork.append(&entries(1000, 700), 0).unwrap();
    mem.tamper(STAGED_PATH, other.get("checkpoint").unwrap().unwrap());
    let err = Log::open(mem.clone(), log_key()).unwrap_err();
    assert!(matches!(err, Error::Inconsistent(_)), "{err}");
}

fn witness(i: u8) -> (Arc<Mutex<Witness>>, NoteVerifier) {
    let s = NoteSigner::from_seed(
        &format!("witness{i}.example"),
        KeyKind::Cosignature,
        [10 + i; 32],
    )
    .unwrap();
    let v = s.verifier();
    (
        Arc::new(Mutex::new(
            Witness::new(s, vec![log_key().verifier()]).unwrap(),
        )),
        v,
    )
}

#[test]
fn witnesses_cosign_and_certificates_need_the_quorum() {
    let ws: Vec<_> = (0..3).map(witness).collect();
    let mut log = Log::create(MemStorage::new(), log_key()).unwrap();
    let lw = ws
        .iter()
        .map(|(w, v)| LogWitness {
            client: Box::new(LocalWitness::new(w.clone(), || 1_700_000_000)),
            verifier: v.clone(),
        })
        .collect();
    log.set_witnesses(lw, 2).unwrap();
    let creator = CreatorKey::from_seed([3; 32]);
    let mk = |i: u8| {
        let claim = Claim {
            audio_sha256: [i; 32],
            content_digest: [i; 32],
            lyrics_sha256: None,
            title: format!("work {i}"),
            identity: IdentityCommitment::new("someone", &[0; 32]),
            claimed_time: 1,
        };
        Statement::sign(claim, &creator).unwrap().encode()
    };
    for b in 0..3u8 {
        log.append(&[mk(2 * b), mk(2 * b + 1)], 0).unwrap();
    }
    let proof = log.proof(3).unwrap();
    let text = proof.to_text();
    assert!(text.len() < 4096, "certificate is {} bytes", text.len());
    let vkeys: Vec<NoteVerifier> = ws.iter().map(|(_, v)| v.clone()).collect();
    let ok = verify_certificate(
        &TlogProof::parse(&text).unwrap(),
        &Policy {
            log: log_key().verifier(),
            witnesses: vkeys.clone(),
            quorum: 3,
        },
    )
    .unwrap();
    assert_eq!(ok.witnesses.len(), 3);
    assert_eq!(ok.witnesses[0].1, 1_700_000_000);
    // A stranger's key does not count towards the quorum.
    let stranger = NoteSigner::from_seed("witness0.example", KeyKind::Cosignature, [99; 32])
        .unwrap()
        .verifier();
    let err = verify_certificate(
        &proof,
        &Policy {
            log: log_key().verifier(),
            witnesses: vec![stranger],
            quorum: 1,
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::WitnessPolicy { .. }), "{err}");

    // Two witnesses down: the quorum of 2 is not met, nothing is published, and the batch is
    // published later once they are back.
    let before = log.size();
    let (dead1, _) = witness(7);
    let (dead2, _) = witness(8);
    let lw = vec![
        LogWitness {
            client: Box::new(LocalWitness::new(ws[0].0.clone(), || 1_700_000_001)),
            verifier: ws[0].1.clone(),
        },
        LogWitness {
            client: Box::new(LocalWitness::new(dead1, || 0)),
            verifier: ws[1].1.clone(),
        },
        LogWitness {
            client: Box::new(LocalWitness::new(dead2, || 0)),
            verifier: ws[2].1.clone(),
        },
    ];
    log.set_witnesses(lw, 2).unwrap();
    let err = log.append(&[mk(50)], 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WitnessPolicy {
                got: 1,
                need: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.size(), before);
    let lw = ws
        .iter()
        .map(|(w, v)| LogWitness {
            client: Box::new(LocalWitness::new(w.clone(), || 1_700_000_002)),
            verifier: v.clone(),
        })
        .collect();
    log.set_witnesses(lw, 3).unwrap();
    assert_eq!(log.append(&[mk(50)], 0).unwrap(), vec![before]);
    assert_eq!(log.size(), before + 1);
}

#[test]
fn witness_refuses_rollback_fork_and_split_view() {
    let (w, _) = witness(0);
    let mut w = w.lock().unwrap();
    let mut a = Log::create(MemStorage::new(), log_key()).unwrap();
    a.append(&entries(0, 5), 0).unwrap();
    let cp5 = a.checkpoint_note().to_vec();
    let ok = |r: Result<Vec<u8>, WitnessError>| r.unwrap();
    ok(w.add_checkpoint(&encode_add_checkpoint(0, &[], &cp5), 1, |_| Ok(())));
    a.append(&entries(5, 4), 0).unwrap();
    let cp9 = a.checkpoint_note().to_vec();
    let proof = a.consistency_proof(5, 9).unwrap();
    // Stale old size: 409 with the witness's size.
    let e = w
        .add_checkpoint(&encode_add_checkpoint(0, &[], &cp9), 2, |_| Ok(()))
        .unwrap_err();
    assert!(
        matches!(e, WitnessError::Conflict(5)) && e.status() == 409,
        "{e}"
    );
    // A bad proof: 422.
    let mut bad = proof.clone();
    bad[0].0[0] ^= 1;
    assert_eq!(
        w.add_checkpoint(&encode_add_checkpoint(5, &bad, &cp9), 2, |_| Ok(()))
            .unwrap_err()
            .status(),
        422
    );
    // Persistence failure: 500 and no state change.
    assert_eq!(
        w.add_checkpoint(&encode_add_checkpoint(5, &proof, &cp9), 2, |_| Err(
            Error::Conflict
        ))
        .unwrap_err()
        .status(),
        500
    );
    let sig = ok(w.add_checkpoint(&encode_add_checkpoint(5, &proof, &cp9), 2, |_| Ok(())));
    assert!(sig.starts_with("\u{2014} witness0.example ".as_bytes()));
    // Rollback to 5: 409 (old size must be 9) or 400 (old > new).
    assert_eq!(
        w.add_checkpoint(&encode_add_checkpoint(9, &[], &cp5), 3, |_| Ok(()))
            .unwrap_err()
            .status(),
        400
    );
    // Split view: another tree of size 9 signed by the same log key.
    let mut b = Log::create(MemStorage::new(), log_key()).unwrap();
    b.append(&entries(100, 9), 0).unwrap();
    let other9 = b.checkpoint_note().to_vec();
    assert_eq!(
        w.add_checkpoint(&encode_add_checkpoint(9, &[], &other9), 4, |_| Ok(()))
            .unwrap_err()
            .status(),
        422
    );
    assert_eq!(
        w.add_checkpoint(&encode_add_checkpoint(5, &proof, &other9), 4, |_| Ok(()))
            .unwrap_err()
            .status(),
        409
    );
    // Unknown origin 404, unsigned 403, garbage 400.
    let stranger = NoteSigner::from_seed("other.example/log", KeyKind::Ed25519, [5; 32]).unwrap();
    let mut c = Log::create(MemStorage::new(), stranger).unwrap();
    c.append(&entries(0, 1), 0).unwrap();
    assert_eq!(
        w.add_checkpoint(
            &encode_add_checkpoint(0, &[], c.checkpoint_note()),
            5,
            |_| Ok(())
        )
        .unwrap_err()
        .status(),
        404
    );
    let forged = String::from_utf8(cp9.clone())
        .unwrap()
        .replace("\n9\n", "\n10\n");
    assert_eq!(
        w.add_checkpoint(
            &encode_add_checkpoint(9, &[], forged.as_bytes()),
            5,
            |_| Ok(())
        )
        .unwrap_err()
        .status(),
        403
    );
    assert_eq!(
        w.add_checkpoint(b"nonsense", 5, |_| Ok(()))
            .unwrap_err()
            .status(),
        400
    );
    // State survives a restart and still refuses the split view.
    let state = w.state_bytes();
    let (w2, _) = witness(0);
    let mut w2 = w2.lock().unwrap();
    w2.load_state(&state).unwrap();
    assert_eq!(
        w2.add_checkpoint(&encode_add_checkpoint(9, &[], &other9), 6, |_| Ok(()))
            .unwrap_err()
            .status(),
        422
    );
}

#[test]
fn dir_storage_log_survives_reopen_and_refuses_a_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::create(DirStorage::open(dir.path()).unwrap(), log_key()).unwrap();
    let e = entries(0, 1000);
    log.append(&e[..10], 0).unwrap();
    log.append(&e[10..], 0).unwrap();
    assert!(DirStorage::open(dir.path()).is_err());
    drop(log);
    check_invariants(DirStorage::open(dir.path()).unwrap(), &e);
    assert!(Log::create(DirStorage::open(dir.path()).unwrap(), log_key()).is_err());
}
