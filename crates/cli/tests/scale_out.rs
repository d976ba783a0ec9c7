//! Scale-out with real processes: two `encore serve --workers 0` and two `encore worker`
//! processes share PostgreSQL and an S3-compatible server (moto_server on loopback). Works are
//! uploaded through both servers, one worker is killed with SIGKILL while it holds a job, and
//! every job must still complete exactly once with nothing lost. SKIPs (with a message) when
//! PostgreSQL, psql or moto_server is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Procs, encore, free_port, http};

fn pg_url() -> String {
    std::env::var("ENCORE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// Runs SQL with psql; returns the unaligned output.
fn psql(sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .arg(pg_url())
        .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// Twenty seconds of a pseudo-random melody, mono 22.05 kHz, as a 16-bit WAV.
fn melody(seed: u32) -> Vec<u8> {
    let sr = 22_050u32;
    let note = (sr as f64 * 0.15) as usize;
    let mut state = seed;
    let (mut freq, mut phase) = (440.0f64, 0.0f64);
    let samples: Vec<f32> = (0..20 * sr as usize)
        .map(|i| {
            if i % note == 0 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                freq = 180.0 + f64::from(state >> 21);
            }
            phase += std::f64::consts::TAU * freq / f64::from(sr);
            let env = (-((i % note) as f64 / f64::from(sr)) * 6.0).exp();
            (env * (0.4 * phase.sin() + 0.15 * (2.0 * phase).sin())) as f32
        })
        .collect();
    let buf = encore_audio::AudioBuffer::mono(sr, samples);
    let mut out = Vec::new();
    buf.write_wav_pcm16(&mut out).unwrap();
    out
}

fn start_moto() -> Option<(Child, String)> {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "SKIP scale-out test: cannot start moto_server ({e}); run scripts/install-deps.sh"
            );
            return None;
        }
    };
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            eprintln!("SKIP scale-out test: moto_server did not start");
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((child, addr))
}

#[test]
fn two_servers_two_workers_survive_a_killed_worker() {
    if let Err(e) = psql("SELECT 1") {
        eprintln!(
            "SKIP scale-out test: PostgreSQL unreachable with psql at {} ({e})",
            pg_url()
        );
        return;
    }
    let Some((moto, moto_addr)) = start_moto() else {
        return;
    };
    let mut procs = Procs(vec![moto]);
    let (status, _, _) = http(&moto_addr, "PUT", "/scaleout", &[], b"");
    assert_eq!(status, 200, "bucket");

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tag = format!("{}_{nanos:x}", std::process::id());
    let schema = format!("scale_{tag}");
    let fp_schema = format!("scale_{tag}_fp");
    psql(&format!("CREATE SCHEMA {schema}")).unwrap();
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let db_url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let env = |c: &mut Command| {
        c.env("ENCORE_DATABASE_URL", &db_url)
            .env("ENCORE_S3_ENDPOINT", format!("http://{moto_addr}"))
            .env("ENCORE_S3_BUCKET", "scaleout")
            .env("ENCORE_S3_ACCESS_KEY_ID", "test")
            .env("ENCORE_S3_SECRET_ACCESS_KEY", "test")
            .env("ENCORE_JOB_LEASE_SECS", "3")
            .env("ENCORE_FINGERPRINT_SCHEMA", &fp_schema)
            .arg("--data")
            .arg(dir.path());
    };

    let run = || {
        // Two servers (no in-process workers).
        let mut addrs = Vec::new();
        for _ in 0..2 {
            let mut c = encore();
            c.args(["serve", "--listen", "127.0.0.1:0", "--workers", "0"]);
            env(&mut c);
            let mut child = c.stderr(Stdio::piped()).spawn().unwrap();
            let mut line = String::new();
            BufReader::new(child.stderr.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or_else(|| panic!("no address in {line:?}"))
                .to_string();
            addrs.push(addr);
            procs.0.push(child);
        }
        // A creator, through the first server.
        let (status, head, body) = http(
            &addrs[0],
            "POST",
            "/api/auth/signup",
            &[("Content-Type", "application/json")],
            br#"{"email":"c@example.org","password":"a long enough password","role":"creator","name":"C"}"#,
        );
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let cookie = head
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: "))
            .map(|c| c.split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let csrf = v["csrf_token"].as_str().unwrap().to_string();

        // Uploads through both servers (before any worker runs, so the queue is full).
        let n = 8;
        let mut works = Vec::new();
        for i in 0..n {
            let wav = melody(100 + i);
            let boundary = "scaleoutboundary";
            let mut body = Vec::new();
            for (name, value) in [
                ("title", format!("Work {i}")),
                ("artists", "Scale".to_string()),
                (
                    "lyrics",
                    "la la la la\nna na na na\nla na la na".to_string(),
                ),
            ] {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
                );
            }
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"w.wav\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(&wav);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let ct = format!("multipart/form-data; boundary={boundary}");
            let (status, _, resp) = http(
                &addrs[i as usize % 2],
                "POST",
                "/api/works",
                &[
                    ("Content-Type", &ct),
                    ("Cookie", &cookie),
                    ("X-CSRF-Token", &csrf),
                ],
                &body,
            );
            assert_eq!(status, 201, "{}", String::from_utf8_lossy(&resp));
            let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
            works.push(v["id"].as_str().unwrap().to_string());
        }

        // Two worker processes.
        let mut worker_pids = Vec::new();
        for _ in 0..2 {
            let mut c = encore();
            c.args(["worker", "--workers", "2"]);
            env(&mut c);
            let child = c
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            worker_pids.push(child.id());
            procs.0.push(child);
        }
        // Kill the first worker with SIGKILL while it holds a job.
        let victim = worker_pids[0];
        let deadline = Instant::now() + Duration::from_secs(120);
        let killed_job = loop {
            let held = psql(&format!(
                "SELECT id FROM {schema}.jobs WHERE status = 'running' AND lease_owner LIKE '{victim}-%' LIMIT 1"
            ))
            .unwrap();
            if !held.is_empty() {
                let status = Command::new("kill")
                    .args(["-9", &victim.to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
                // The job seen may have finished between the query and the kill; what the
                // dead worker still holds now is what must run again (with two job slots it
                // almost always holds one).
                std::thread::sleep(Duration::from_millis(100));
                let still = psql(&format!(
                    "SELECT id FROM {schema}.jobs WHERE status = 'running' AND lease_owner LIKE '{victim}-%' LIMIT 1"
                ))
                .unwrap();
                break (!still.is_empty()).then_some(still);
            }
            assert!(
                Instant::now() < deadline,
                "the first worker never held a job"
            );
            std::thread::sleep(Duration::from_millis(20));
        };

        // Everything completes: the surviving worker takes the killed job over once its
        // lease expires.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let left = psql(&format!(
                "SELECT COUNT(*) FROM {schema}.jobs WHERE status <> 'done'"
            ))
            .unwrap();
            if left == "0" {
                break;
            }
            let failed = psql(&format!(
                "SELECT step, last_error FROM {schema}.jobs WHERE status = 'failed'"
            ))
            .unwrap();
            assert!(failed.is_empty(), "jobs failed: {failed}");
            assert!(Instant::now() < deadline, "{left} jobs still not done");
            std::thread::sleep(Duration::from_millis(200));
        }
        let q = |sql: &str| psql(&sql.replace("S.", &format!("{schema}."))).unwrap();
        assert_eq!(q("SELECT COUNT(*) FROM S.jobs"), (n * 5).to_string());
        assert_eq!(
            q("SELECT COUNT(*) FROM S.jobs WHERE completions <> 1"),
            "0",
            "each job completed exactly once"
        );
        assert_eq!(
            q("SELECT COUNT(*) FROM S.step_results"),
            (n * 5).to_string()
        );
        assert_eq!(
            q("SELECT COUNT(*) FROM S.works WHERE status = 'ready'"),
            n.to_string()
        );
        match &killed_job {
            Some(job) => {
                let attempts = q(&format!("SELECT attempts FROM S.jobs WHERE id = '{job}'"));
                assert!(
                    attempts.parse::<i64>().unwrap() >= 2,
                    "the killed job ran again: {attempts}"
                );
            }
            None => eprintln!(
                "note: the killed worker had finished its jobs just before SIGKILL; \
                 only completion is checked"
            ),
        }
        // One registry entry per work, all distinct.
        let indices =
            q("SELECT COUNT(DISTINCT result) FROM S.step_results WHERE step = 'register'");
        assert_eq!(indices, n.to_string());
        // Nothing lost: every work's outputs are served by either server from the bucket.
        for (i, id) in works.iter().enumerate() {
            let addr = &addrs[(i + 1) % 2];
            let (status, _, _) = http(
                addr,
                "GET",
                &format!("/api/works/{id}/haptics/web"),
                &[("Cookie", &cookie)],
                b"",
            );
            assert_eq!(status, 200, "haptics of {id}");
            let (status, _, body) = http(
                addr,
                "GET",
                &format!("/api/works/{id}/lyrics"),
                &[("Cookie", &cookie)],
                b"",
            );
            assert_eq!(status, 200);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                v["aligned"]["lines"].as_array().map(Vec::len),
                Some(3),
                "{v}"
            );
            let (status, _, proof) = http(
                addr,
                "GET",
                &format!("/api/works/{id}/certificate"),
                &[("Cookie", &cookie)],
                b"",
            );
            assert_eq!(status, 200, "certificate of {id}");
            if i == 0 {
                let (_, _, key) = http(addr, "GET", "/api/registry/key", &[], b"");
                let key: serde_json::Value = serde_json::from_slice(&key).unwrap();
                let path = dir.path().join("w0.tlog-proof");
                std::fs::write(&path, &proof).unwrap();
                let wav = dir.path().join("w0.wav");
                std::fs::write(&wav, melody(100)).unwrap();
                let out = encore()
                    .arg("verify")
                    .arg(&path)
                    .args(["--key", key["vkey"].as_str().unwrap(), "--file"])
                    .arg(&wav)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    drop(procs);
    let _ = psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {fp_schema} CASCADE"
    ));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
