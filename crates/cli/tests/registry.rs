//! End-to-end tests of `encore registry`, `encore verify` and `encore witness serve` through
//! the real binary: the command-line contract, witnesses over HTTP, and a kill -9 loop.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use encore_registry::{DirStorage, Log, NoteSigner, verify_checkpoint, verify_consistency};

const BIN: &str = env!("CARGO_BIN_EXE_encore");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run encore")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "encore {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A short 16-bit stereo WAV tone.
fn wav(path: &Path, freq: f32) {
    let sr = 44_100;
    let samples: Vec<f32> = (0..sr / 20)
        .flat_map(|i| {
            let x = 0.5 * (std::f32::consts::TAU * freq * i as f32 / sr as f32).sin();
            [x, x]
        })
        .collect();
    let buf = encore_audio::AudioBuffer::new(sr, 2, samples);
    buf.write_wav_pcm16(std::fs::File::create(path).unwrap())
        .unwrap();
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn init_add_proof_verify_contract() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    wav(&a, 440.0);
    wav(&b, 660.0);
    let vkey = ok(&["registry", "init", p(&log), "--origin", "example.org/works"]);
    assert!(vkey.starts_with("example.org/works+"));
    assert_eq!(std::fs::read_to_string(log.join("key.pub")).unwrap(), vkey);
    assert!(
        !run(&["registry", "init", p(&log), "--origin", "example.org/works"])
            .status
            .success()
    );

    let out = ok(&["registry", "add", p(&log), p(&a), p(&b)]);
    assert_eq!(out, format!("0\t{}\n1\t{}\n", p(&a), p(&b)));
    // Identical statement (same claimed time): same index.
    let out1 = ok(&["registry", "add", p(&log), p(&a), "--time", "1000"]);
    let out2 = ok(&["registry", "add", p(&log), p(&a), "--time", "1000"]);
    assert_eq!(out1, out2);
    assert_eq!(out1, format!("2\t{}\n", p(&a)));
    for f in ["checkpoint", "tile/0/000.p/3", "tile/entries/000.p/3"] {
        assert!(log.join(f).is_file(), "{f} missing");
    }

    let proof = dir.path().join("b.tlog-proof");
    ok(&["registry", "proof", p(&log), "1", "-o", p(&proof)]);
    assert!(
        std::fs::read_to_string(&proof)
            .unwrap()
            .starts_with("c2sp.org/tlog-proof@v1\nextra ")
    );
    let key_pub = log.join("key.pub");
    ok(&["verify", p(&proof), "--key", p(&key_pub)]);
    ok(&["verify", p(&proof), "--key", vkey.trim(), "--file", p(&b)]);
    let json = ok(&["verify", p(&proof), "--key", p(&key_pub), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["index"], 1);
    assert_eq!(v["title"], "b");
    // Wrong audio, wrong key, tampered proof, garbage: non-zero exit.
    assert!(
        !run(&["verify", p(&proof), "--key", p(&key_pub), "--file", p(&a)])
            .status
            .success()
    );
    let other = dir.path().join("other");
    let other_vkey = ok(&[
        "registry",
        "init",
        p(&other),
        "--origin",
        "example.org/works",
    ]);
    assert!(
        !run(&["verify", p(&proof), "--key", other_vkey.trim()])
            .status
            .success()
    );
    let text = std::fs::read_to_string(&proof).unwrap();
    let tampered = dir.path().join("t.tlog-proof");
    std::fs::write(&tampered, text.replace("index 1", "index 0")).unwrap();
    assert!(
        !run(&["verify", p(&tampered), "--key", p(&key_pub)])
            .status
            .success()
    );
    std::fs::write(&tampered, b"\xff\x00garbage").unwrap();
    let out = run(&["verify", p(&tampered), "--key", p(&key_pub)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT VERIFIED"));
    // Out-of-range proof and a missing file are clear errors.
    let out = run(&["registry", "proof", p(&log), "99", "-o", p(&tampered)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("99"));
    assert!(
        !run(&["registry", "add", p(&log), "/nonexistent.wav"])
            .status
            .success()
    );
}

struct Server(std::process::Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_witness(dir: &Path, name: &str, log_vkey: &Path) -> (Server, String) {
    let vkey = ok(&["witness", "init", p(dir), "--name", name]);
    let mut child = Command::new(BIN)
        .args([
            "witness",
            "serve",
            p(dir),
            "--log",
            p(log_vkey),
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (Server(child, url.clone()), vkey.trim().to_owned())
}

#[test]
fn witnesses_over_http_cosign_and_verify_enforces_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ok(&["registry", "init", p(&log), "--origin", "example.org/works"]);
    let key_pub = log.join("key.pub");
    let mut servers = Vec::new();
    let mut vkeys = Vec::new();
    for i in 0..2 {
        let (s, v) = start_witness(
            &dir.path().join(format!("w{i}")),
            &format!("w{i}.example.org"),
            &key_pub,
        );
        servers.push(s);
        vkeys.push(v);
    }
    let files: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("{i}.wav")))
        .collect();
    for (i, f) in files.iter().enumerate() {
        wav(f, 300.0 + 100.0 * i as f32);
    }
    let witness_args: Vec<String> = servers
        .iter()
        .zip(&vkeys)
        .flat_map(|(s, v)| ["--witness".to_owned(), format!("{}={v}", s.1)])
        .collect();
    for f in &files {
        let mut args = vec!["registry", "add", p(&log), p(f)];
        args.extend(witness_args.iter().map(String::as_str));
        ok(&args);
    }
    let cp = std::fs::read_to_string(log.join("checkpoint")).unwrap();
    assert_eq!(cp.matches('\u{2014}').count(), 3, "{cp}");
    let proof = dir.path().join("p");
    ok(&["registry", "proof", p(&log), "2", "-o", p(&proof)]);
    ok(&[
        "verify",
        p(&proof),
        "--key",
        p(&key_pub),
        "--witness",
        &vkeys[0],
        "--witness",
        &vkeys[1],
    ]);
    // A third, unknown witness key: 2 of 3 passes, 3 of 3 fails.
    let stranger = ok(&[
        "witness",
        "init",
        p(&dir.path().join("w9")),
        "--name",
        "w9.example.org",
    ]);
    let base = [
        "verify",
        p(&proof),
        "--key",
        p(&key_pub),
        "--witness",
        &vkeys[0],
        "--witness",
        &vkeys[1],
        "--witness",
        stranger.trim(),
    ];
    ok(&[&base[..], &["--quorum", "2"]].concat());
    assert!(!run(&base).status.success());
    let mut w0 = servers.remove(0);
    let _ = w0.0.kill();
    let _ = w0.0.wait();
    // A witness down with quorum 2 of 2: the add fails and nothing is acknowledged.
    wav(&dir.path().join("x.wav"), 1234.0);
    let mut args = vec!["registry", "add", p(&log)];
    let x = dir.path().join("x.wav");
    args.push(p(&x));
    args.extend(witness_args.iter().map(String::as_str));
    let out = run(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("witness"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_loop_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ok(&["registry", "init", p(&log), "--origin", "example.org/works"]);
    let files: Vec<PathBuf> = (0..96)
        .map(|i| dir.path().join(format!("{i:02}.wav")))
        .collect();
    for (i, f) in files.iter().enumerate() {
        wav(f, 200.0 + 37.0 * i as f32);
    }
    let signer = NoteSigner::parse(&std::fs::read_to_string(log.join("key")).unwrap()).unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut checkpoints: Vec<Vec<u8>> = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let deadline = Instant::now() + Duration::from_secs(60);
    for _round in 0..8 {
        if Instant::now() > deadline {
            break;
        }
        let mut child = Command::new(BIN)
            .args(["registry", "add", p(&log), "--time", "1", "--batch", "2"])
            .args(&files)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % 200));
        let _ = child.kill(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((i, f)) = line.split_once('\t') {
                acked.push((i.parse().unwrap(), f.to_owned()));
            }
        }
        checkpoints.push(std::fs::read(log.join("checkpoint")).unwrap());
        // The log reopens cleanly after every kill.
        let l = Log::open(DirStorage::open(&log).unwrap(), signer.clone())
            .expect("reopen after kill -9");
        l.verify_storage().unwrap();
    }
    // A last uninterrupted run completes the set; every acknowledged entry kept its index.
    let out = ok(&[
        &["registry", "add", p(&log), "--time", "1", "--batch", "2"][..],
        &files.iter().map(|f| p(f)).collect::<Vec<_>>(),
    ]
    .concat());
    let final_map: std::collections::HashMap<String, u64> = out
        .lines()
        .map(|l| l.split_once('\t').unwrap())
        .map(|(i, f)| (f.to_owned(), i.parse().unwrap()))
        .collect();
    for (i, f) in &acked {
        assert_eq!(
            final_map.get(f),
            Some(i),
            "acknowledged entry {i} ({f}) was lost or moved"
        );
    }
    let l = Log::open(DirStorage::open(&log).unwrap(), signer.clone()).unwrap();
    let head = verify_checkpoint(l.checkpoint_note(), &signer.verifier()).unwrap();
    for c in &checkpoints {
        let old = verify_checkpoint(c, &signer.verifier()).unwrap();
        let proof = l.consistency_proof(old.size, head.size).unwrap();
        verify_consistency(old.size, head.size, &old.root, &head.root, &proof)
            .expect("checkpoints consistent");
    }
    println!(
        "kill -9 loop: {} acknowledged entries checked, {} checkpoints consistent",
        acked.len(),
        checkpoints.len()
    );
}
