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

/// Sends raw bytes to `addr` and returns the HTTP status of the reply.
fn raw_status(addr: &str, request: &[u8]) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    String::from_utf8_lossy(&resp)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn witness_serves_connections_concurrently_with_limits() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ok(&["registry", "init", p(&log), "--origin", "example.org/works"]);
    let (server, vkey) =
        start_witness(&dir.path().join("w"), "w.example.org", &log.join("key.pub"));
    let addr = server.1.trim_start_matches("http://").to_owned();
    // Three clients that stall mid-request: a one-at-a-time server would wait for each of
    // them to time out (10 s each) before serving the log.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold")
            .unwrap();
        idle.push(s);
    }
    let a = dir.path().join("a.wav");
    wav(&a, 440.0);
    let start = Instant::now();
    ok(&[
        "registry",
        "add",
        p(&log),
        p(&a),
        "--witness",
        &format!("{}={vkey}", server.1),
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "the log waited for stalled connections: {:?}",
        start.elapsed()
    );
    // Request size limit: 413 before reading a large body; unknown paths: 404.
    let big = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        1 << 20
    );
    assert_eq!(raw_status(&addr, big.as_bytes()), 413);
    assert_eq!(
        raw_status(
            &addr,
            b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        404
    );
    // A stalled request is cut off by the request timeout (408), not kept forever.
    let t = Instant::now();
    assert_eq!(
        raw_status(
            &addr,
            b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"
        ),
        408
    );
    assert!(t.elapsed() < Duration::from_secs(15));
    drop(idle);
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

// ---------------------------------------------------------------------------------------------
// RFC 3161 timestamps from `openssl ts` behind a tiny HTTP shim.

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A test CA and a TSA certificate it issued (`key`: "rsa" or "ec"), with an `openssl ts`
/// configuration, in `dir`.
fn make_tsa(dir: &Path, key: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let newkey: &[&str] = if key == "ec" {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    } else {
        &["-newkey", "rsa:2048"]
    };
    let mut a = vec![
        "req", "-x509", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
    ];
    a.extend_from_slice(newkey);
    a.extend_from_slice(&[
        "-days",
        "30",
        "-subj",
        "/CN=Test Root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ]);
    assert!(openssl(dir, &a));
    let mut a = vec!["req", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr"];
    a.extend_from_slice(newkey);
    a.extend_from_slice(&["-subj", "/CN=Test TSA"]);
    assert!(openssl(dir, &a));
    std::fs::write(
        dir.join("ext.cnf"),
        "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    assert!(openssl(
        dir,
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
            "30",
            "-extfile",
            "ext.cnf",
        ]
    ));
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        format!(
            "[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = {}\nserial = $dir/serial\n\
             signer_cert = $dir/tsa.pem\nsigner_key = $dir/tsa.key\ncerts = $dir/ca.pem\n\
             signer_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n\
             ess_cert_id_alg = sha256\n",
            dir.display()
        ),
    )
    .unwrap();
}

/// Serves RFC 3161 over HTTP on loopback: each POST body goes to `openssl ts -reply`.
fn start_tsa_shim(dir: PathBuf) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsr", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let (head_end, len) = loop {
                let k = conn.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break (0, 0);
                }
                req.extend_from_slice(&buf[..k]);
                if let Some(p) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..p]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    break (p + 4, len);
                }
            };
            while req.len() < head_end + len {
                let k = conn.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..k]);
            }
            let q = dir.join(format!("q{n}.tsq"));
            let r = dir.join(format!("r{n}.tsr"));
            std::fs::write(&q, &req[head_end.min(req.len())..]).unwrap();
            let ok = Command::new("openssl")
                .args(["ts", "-reply", "-config", "tsa.cnf", "-queryfile"])
                .arg(&q)
                .arg("-out")
                .arg(&r)
                .current_dir(&dir)
                .output()
                .is_ok_and(|o| o.status.success());
            let (status, body) = match std::fs::read(&r) {
                Ok(b) if ok => ("200 OK", b),
                _ => ("500 Internal Server Error", b"openssl failed".to_vec()),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    url
}

/// The DER tokens on a checkpoint note (lines whose key name is `name`).
fn tokens_on(note: &str, name: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    note.lines()
        .filter_map(|l| l.strip_prefix(&format!("\u{2014} {name} ")))
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap()[4..].to_vec())
        .collect()
}

#[test]
fn timestamps_from_openssl_tsa_over_http() {
    if !openssl(Path::new("."), &["version"]) {
        println!("SKIP: openssl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tsa = dir.path().join("tsa");
    make_tsa(&tsa, "rsa");
    let other = dir.path().join("other");
    make_tsa(&other, "ec");
    let url = start_tsa_shim(tsa.clone());
    let log = dir.path().join("log");
    let a = dir.path().join("a.wav");
    wav(&a, 440.0);
    ok(&["registry", "init", p(&log), "--origin", "example.org/ts"]);
    let ca = tsa.join("ca.pem");
    ok(&[
        "registry",
        "add",
        p(&log),
        p(&a),
        "--tsa-url",
        &url,
        "--tsa-cert",
        p(&ca),
        "--tsa-name",
        "tsa.test",
        "--tsa-request-certs",
    ]);
    let cert = dir.path().join("a.tlog-proof");
    ok(&["registry", "proof", p(&log), "0", "-o", p(&cert)]);
    let key = log.join("key.pub");
    let out = ok(&[
        "verify",
        p(&cert),
        "--key",
        p(&key),
        "--tsa-cert",
        p(&ca),
        "--require-timestamp",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["timestamps"][0]["tsa"], "CN=Test TSA");
    let t = v["timestamps"][0]["time"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 120..=now + 5).contains(&t), "{t}");

    // Independent check of the stored token by openssl, over the checkpoint text.
    let note = std::fs::read_to_string(log.join("checkpoint")).unwrap();
    let tokens = tokens_on(&note, "tsa.test");
    assert_eq!(tokens.len(), 1);
    std::fs::write(tsa.join("token.der"), &tokens[0]).unwrap();
    let text = &note[..note.find("\n\n").unwrap() + 1];
    std::fs::write(tsa.join("text.bin"), text).unwrap();
    let verify_args = [
        "ts",
        "-verify",
        "-data",
        "text.bin",
        "-in",
        "token.der",
        "-token_in",
        "-CAfile",
        "ca.pem",
        "-untrusted",
        "tsa.pem",
    ];
    assert!(
        openssl(&tsa, &verify_args),
        "openssl ts -verify refused our token"
    );
    std::fs::write(tsa.join("text.bin"), "changed\n").unwrap();
    assert!(!openssl(&tsa, &verify_args));

    // Without --tsa-cert the token is not checked, and said so (older verifiers ignore it).
    let out = ok(&["verify", p(&cert), "--key", p(&key)]);
    assert!(out.contains("1 timestamp token(s) not checked"), "{out}");
    // Another CA: refused.
    let out = run(&[
        "verify",
        p(&cert),
        "--key",
        p(&key),
        "--tsa-cert",
        p(&other.join("ca.pem")),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timestamp"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A damaged token in the certificate: refused.
    let text = std::fs::read_to_string(&cert).unwrap();
    let pos = text.find("\u{2014} tsa.test ").unwrap() + "\u{2014} tsa.test ".len() + 200;
    let mut bad = text.clone().into_bytes();
    bad[pos] = if bad[pos] == b'A' { b'B' } else { b'A' };
    let bad_cert = dir.path().join("bad.tlog-proof");
    std::fs::write(&bad_cert, bad).unwrap();
    assert!(
        !run(&[
            "verify",
            p(&bad_cert),
            "--key",
            p(&key),
            "--tsa-cert",
            p(&ca)
        ])
        .status
        .success()
    );
    // A log without a TSA: --require-timestamp fails.
    let plain = dir.path().join("plain");
    ok(&[
        "registry",
        "init",
        p(&plain),
        "--origin",
        "example.org/plain",
    ]);
    ok(&["registry", "add", p(&plain), p(&a)]);
    let plain_cert = dir.path().join("plain.tlog-proof");
    ok(&["registry", "proof", p(&plain), "0", "-o", p(&plain_cert)]);
    let out = run(&[
        "verify",
        p(&plain_cert),
        "--key",
        p(&plain.join("key.pub")),
        "--tsa-cert",
        p(&ca),
        "--require-timestamp",
    ]);
    assert!(!out.status.success());
    // The log refuses to publish when the TSA's token does not verify against --tsa-cert.
    let b = dir.path().join("b.wav");
    wav(&b, 550.0);
    let out = run(&[
        "registry",
        "add",
        p(&log),
        p(&b),
        "--tsa-url",
        &url,
        "--tsa-cert",
        p(&other.join("ca.pem")),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stdout).unwrap().is_empty(),
        "nothing acknowledged"
    );
}

// ---------------------------------------------------------------------------------------------
// `--store s3://...` against a real S3-compatible server (moto_server) on loopback.

/// One HTTP/1.1 request on loopback; returns the status code and body.
fn http(port: u16, method: &str, path: &str) -> Option<(u16, Vec<u8>)> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = String::from_utf8_lossy(&resp[..split])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, resp[split + 4..].to_vec()))
}

/// Starts `moto_server` on a free loopback port; `None` (the test SKIPs) when it cannot run.
fn start_moto() -> Option<(Server, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server(child, String::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if http(port, "GET", "/").is_some() {
            return Some((server, port));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn s3_store_on_moto_server() {
    let Some((_moto, port)) = start_moto() else {
        println!("SKIP: moto_server (pip install 'moto[server]') could not start");
        return;
    };
    // Create the bucket (moto accepts unsigned requests).
    let (status, _) = http(port, "PUT", "/encore-logs").unwrap();
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    wav(&a, 440.0);
    wav(&b, 660.0);
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let s3 = |args: &[&str]| -> Output {
        Command::new(BIN)
            .args(args)
            .envs(env)
            .output()
            .expect("run encore")
    };
    let s3_ok = |args: &[&str]| -> String {
        let out = s3(args);
        assert!(
            out.status.success(),
            "encore {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let store = "s3://encore-logs/registry/one";
    s3_ok(&[
        "registry",
        "init",
        p(&log),
        "--origin",
        "example.org/s3",
        "--store",
        store,
    ]);
    assert!(
        !log.join("checkpoint").exists(),
        "tiles and checkpoint live in the bucket"
    );
    let out = s3_ok(&["registry", "add", p(&log), p(&a), p(&b)]);
    assert_eq!(out.lines().count(), 2, "{out}");
    // The objects are in the bucket (moto's state dump lists them), in the tlog-tiles layout,
    // and not in the local directory.
    let (status, dump) = http(port, "GET", "/moto-api/data.json").unwrap();
    assert_eq!(status, 200);
    let dump = String::from_utf8_lossy(&dump);
    for key in [
        "registry/one/checkpoint",
        "registry/one/tile/0/000.p/2",
        "registry/one/tile/entries/000.p/2",
    ] {
        assert!(dump.contains(key), "{key} not in the bucket");
    }
    assert!(!log.join("tile").exists() && !log.join("checkpoint").exists());
    // Proof from the store recorded at init, and offline verification.
    let cert = dir.path().join("b.tlog-proof");
    s3_ok(&["registry", "proof", p(&log), "1", "-o", p(&cert)]);
    ok(&[
        "verify",
        p(&cert),
        "--key",
        p(&log.join("key.pub")),
        "--file",
        p(&b),
    ]);
    // Identical statement: same index; a second init on the same prefix is refused.
    let again = s3_ok(&["registry", "add", p(&log), p(&a), "--time", "1"]);
    assert!(
        again.starts_with('2'),
        "a new claimed time is a new statement: {again}"
    );
    let other = dir.path().join("other");
    assert!(
        !s3(&[
            "registry",
            "init",
            p(&other),
            "--origin",
            "example.org/s3",
            "--store",
            store
        ])
        .status
        .success(),
        "a log already exists under that prefix"
    );
    // A wrong endpoint fails with an error, not a hang or a panic.
    let out = Command::new(BIN)
        .args(["registry", "add", p(&log), p(&a)])
        .envs(env)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
