//! `encore admin create`, `encore import` and `encore serve` end to end, on a real socket.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Procs, encore, http_text as http};

fn write_wav(path: &Path, seconds: f64) {
    let sr = 22_050u32;
    let samples: Vec<f32> = (0..(seconds * f64::from(sr)) as usize)
        .map(|i| {
            if i % 5512 < 40 {
                0.8
            } else {
                0.02 * ((i as f32) * 0.05).sin()
            }
        })
        .collect();
    let buf = encore_audio::AudioBuffer::mono(sr, samples);
    let mut f = std::fs::File::create(path).unwrap();
    buf.write_wav_pcm16(&mut f).unwrap();
}

#[test]
fn admin_import_serve_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("album")).unwrap();
    write_wav(&music.join("one.wav"), 1.0);
    write_wav(&music.join("album/two.wav"), 1.5);
    std::fs::write(music.join("broken.mp3"), b"not really an mp3 file").unwrap();
    std::fs::write(music.join("notes.txt"), b"ignored").unwrap();

    let mut child = encore()
        .args(["admin", "create", "--email", "root@example.org", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env_remove("ENCORE_ADMIN_PASSWORD")
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim().len(),
        36,
        "prints the new user id"
    );
    let again = encore()
        .args(["admin", "create", "--email", "root@example.org", "--data"])
        .arg(&data)
        .env("ENCORE_ADMIN_PASSWORD", "another long password")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let import = encore()
        .arg("import")
        .arg(&music)
        .args(["--creator", "root@example.org", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        import.status.code(),
        Some(2),
        "a file failed: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(import.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("album/two.wav")
    );
    assert!(
        lines[1]["error"].as_str().unwrap().contains("audio"),
        "{:?}",
        lines[1]
    );
    assert!(lines[2]["work_id"].is_string());
    assert_eq!(
        lines[3]["summary"],
        serde_json::json!({"imported": 2, "failed": 1})
    );

    let server = encore()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--data",
        ])
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Procs(vec![server]);
    let mut stderr = BufReader::new(server.0[0].stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let (status, _, body) = http(&addr, "GET", "/api/health", &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(
            "\"schema_version\":{}",
            encore_server::SCHEMA_VERSION
        )),
        "{body}"
    );

    let (status, head, body) = http(
        &addr,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        r#"{"email":"root@example.org","password":"a long admin password"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    // The in-process worker analyses both imported works.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, _, body) = http(&addr, "GET", "/api/admin/jobs", &[("Cookie", &cookie)], "");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if ["analyse", "fingerprint", "register", "haptics", "lyrics"]
            .iter()
            .all(|s| v[s]["done"] == 2)
        {
            break;
        }
        assert!(Instant::now() < deadline, "jobs did not finish: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, _, body) = http(&addr, "GET", "/api/works", &[("Cookie", &cookie)], "");
    let works: serde_json::Value = serde_json::from_str(&body).unwrap();
    let titles: Vec<_> = works["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["title"].as_str().unwrap().to_string())
        .collect();
    assert!(
        titles.contains(&"one".to_string()) && titles.contains(&"two".to_string()),
        "{titles:?}"
    );

    // The registry certificate of "one" verifies with `encore verify` against the log's key.
    let one = works["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["title"] == "one")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, head, proof) = http(
        &addr,
        "GET",
        &format!("/api/works/{one}/certificate"),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(status, 200, "{proof}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-disposition: attachment"),
        "{head}"
    );
    let (_, _, key) = http(&addr, "GET", "/api/registry/key", &[], "");
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let proof_path = dir.path().join("one.tlog-proof");
    std::fs::write(&proof_path, &proof).unwrap();
    let verify = encore()
        .arg("verify")
        .arg(&proof_path)
        .args(["--key", key["vkey"].as_str().unwrap(), "--json", "--file"])
        .arg(music.join("one.wav"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let wrong = encore()
        .arg("verify")
        .arg(&proof_path)
        .args(["--key", key["vkey"].as_str().unwrap(), "--file"])
        .arg(music.join("album/two.wav"))
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "another file does not match");

    // SIGTERM: graceful shutdown, exit 0.
    let pid = server.0[0].id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.0[0].wait().unwrap();
    assert!(status.success(), "{status:?}");

    // Maintenance: nothing to backfill; an orphaned blob is listed (dry run), then deleted.
    let out = encore()
        .args(["admin", "backfill", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"created": [], "requeued": []}));
    let ghost = data.join("blobs/derived/00000000-0000-4000-8000-000000000000");
    std::fs::create_dir_all(&ghost).unwrap();
    std::fs::write(ghost.join("leftover"), b"12345").unwrap();
    let sweep = |delete: bool| {
        let mut c = encore();
        c.args([
            "admin",
            "sweep",
            "--min-age-minutes",
            "0",
            "--json",
            "--data",
        ])
        .arg(&data);
        if delete {
            c.arg("--delete");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let dry = sweep(false);
    assert_eq!(dry["orphans"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["orphan_bytes"], 5);
    assert!(ghost.join("leftover").exists(), "a dry run deletes nothing");
    let done = sweep(true);
    assert_eq!(done["deleted"], true);
    assert!(!ghost.join("leftover").exists());
    assert_eq!(sweep(false)["orphans"].as_array().unwrap().len(), 0);
}

#[test]
fn workers_refuse_to_start_with_whisper_on_when_it_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["worker", "serve"] {
        let o = encore()
            .arg(command)
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--lyrics-whisper", "on"])
            .env("ENCORE_CACHE", dir.path().join("empty-cache"))
            .env_remove("ENCORE_WHISPER_PYTHON")
            .env_remove("ENCORE_WHISPER_MODEL")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{command}: {err}");
        assert!(
            err.contains("--lyrics-whisper=on") && err.contains("empty-cache/whisper-base"),
            "{command}: {err}"
        );
    }
    // A value that is not one of auto, on, off is refused by name.
    let o = encore()
        .args(["worker", "--lyrics-whisper", "sometimes"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("sometimes"));
}

#[test]
fn import_reads_lrc_files_beside_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for name in ["timed", "latin1", "utf16", "huge", "none"] {
        write_wav(&music.join(format!("{name}.wav")), 1.0);
    }
    // UTF-8 with a byte-order mark and line times; Latin-1 plain text; UTF-16 LE; over the
    // 1 MB lyrics limit.
    std::fs::write(
        music.join("timed.lrc"),
        b"\xEF\xBB\xBF[ar:Someone]\n[00:00.10]first line\n[00:00.50]second line\n",
    )
    .unwrap();
    std::fs::write(music.join("latin1.lrc"), b"caf\xE9 au lait\nna\xEFve\n").unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "[00:00.20]über alles\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(music.join("utf16.lrc"), utf16).unwrap();
    std::fs::write(music.join("huge.lrc"), vec![b'a'; 1_000_001]).unwrap();
    let o = encore()
        .args(["admin", "create", "--email", "lrc@example.org", "--data"])
        .arg(&data)
        .env("ENCORE_ADMIN_PASSWORD", "a long admin password")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let import = encore()
        .arg("import")
        .arg(&music)
        .args([
            "--creator",
            "lrc@example.org",
            "--language",
            "de",
            "--json",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(import.status.code(), Some(2), "the huge one fails");
    let out = String::from_utf8(import.stdout).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let huge = lines
        .iter()
        .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("huge.wav")))
        .unwrap();
    let error = huge["error"].as_str().unwrap();
    assert!(
        error.contains("huge.lrc") && error.contains("limit"),
        "{error}"
    );
    assert_eq!(
        lines.last().unwrap()["summary"],
        serde_json::json!({"imported": 4, "failed": 1})
    );
    let db = rusqlite::Connection::open(data.join("encore.db")).unwrap();
    let lyrics = |title: &str| -> (Option<String>, Option<String>) {
        db.query_row(
            "SELECT lyrics, lyrics_format FROM works WHERE title = ?1",
            [title],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (text, format) = lyrics("timed");
    assert_eq!(format.as_deref(), Some("lrc"));
    assert!(
        text.unwrap()
            .starts_with("[ar:Someone]\n[00:00.10]first line")
    );
    let (text, format) = lyrics("latin1");
    assert_eq!(
        (text.as_deref(), format.as_deref()),
        (Some("café au lait\nnaïve\n"), Some("plain"))
    );
    assert_eq!(lyrics("utf16").0.as_deref(), Some("[00:00.20]über alles\n"));
    assert_eq!(lyrics("none"), (None, None));
    // Untagged files get `--language`.
    let language: Option<String> = db
        .query_row(
            "SELECT language FROM works WHERE title = 'timed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(language.as_deref(), Some("de"));
    // A `--language` that is not a language tag is refused before anything is imported.
    let o = encore()
        .arg("import")
        .arg(&music)
        .args([
            "--creator",
            "lrc@example.org",
            "--language",
            "German!",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--language"));
}
