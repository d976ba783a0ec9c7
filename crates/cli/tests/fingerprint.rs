//! `encore fingerprint` end to end: index, query (JSON contract), not-enough-audio, errors, code.

use std::path::Path;
use std::process::Command;

fn encore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_encore"))
}

/// Deterministic tones-and-clicks "music" at 8 kHz.
fn music(seed: u32, secs: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::with_capacity(secs * 8000);
    while out.len() < secs * 8000 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let f = 150.0 + (state >> 21) as f32;
        let len = 800 + (state >> 24) as usize * 8;
        out.extend((0..len).map(|i| {
            let x = i as f32 / 8000.0;
            0.3 * (-x * 5.0).exp()
                * ((std::f32::consts::TAU * f * x).sin()
                    + 0.5 * (std::f32::consts::TAU * 2.0 * f * x).sin())
        }));
    }
    out.truncate(secs * 8000);
    out
}

fn write_wav(path: &Path, samples: &[f32]) {
    let buf = encore_audio::AudioBuffer::mono(8000, samples.to_vec());
    let file = std::fs::File::create(path).unwrap();
    buf.write_wav_pcm16(std::io::BufWriter::new(file)).unwrap();
}

#[test]
fn index_then_query_prints_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    let song = music(1, 40);
    write_wav(&a, &song);
    write_wav(&b, &music(2, 40));
    let out = encore()
        .args(["fingerprint", "index", "--db"])
        .arg(&db)
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let q = dir.path().join("q.wav");
    write_wav(&q, &song[12 * 8000..22 * 8000]);
    let short = dir.path().join("short.wav");
    write_wav(&short, &song[..4000]);
    let silent = dir.path().join("silent.wav");
    write_wav(&silent, &vec![0.0; 8000 * 5]);
    let other = dir.path().join("other.wav");
    write_wav(&other, &music(99, 10));
    let out = encore()
        .args(["fingerprint", "query", "--json", "--db"])
        .arg(&db)
        .args([&q, &short, &silent, &other])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let first = &lines[0];
    assert_eq!(first["query"], q.display().to_string());
    assert!(first["elapsed_ms"].as_f64().unwrap() >= 0.0);
    let m = &first["matches"][0];
    assert_eq!(m["path"], a.display().to_string());
    assert!((m["offset_s"].as_f64().unwrap() - 12.0).abs() < 0.5, "{m}");
    assert!(m["score"].as_f64().unwrap() >= 1.0);
    for l in &lines[1..3] {
        assert_eq!(l["status"], "not_enough_audio", "{l}");
        assert_eq!(l["matches"].as_array().unwrap().len(), 0);
    }
    assert_eq!(
        lines[3]["matches"].as_array().unwrap().len(),
        0,
        "{}",
        lines[3]
    );
}

#[test]
fn unreadable_query_is_an_error_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let junk = dir.path().join("junk.mp3");
    std::fs::write(&junk, b"this is not audio").unwrap();
    let out = encore()
        .args(["fingerprint", "query", "--json", "--db"])
        .arg(&db)
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(line["status"], "error");
    assert!(line["error"].as_str().unwrap().contains("junk.mp3"));
}

#[test]
fn code_prints_close_codes_for_a_gain_change() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wav");
    let quiet = dir.path().join("quiet.wav");
    let song = music(3, 30);
    write_wav(&a, &song);
    write_wav(&quiet, &song.iter().map(|v| v * 0.5).collect::<Vec<_>>());
    let out = encore()
        .args(["fingerprint", "code", "--json"])
        .args([&a, &quiet])
        .output()
        .unwrap();
    assert!(out.status.success());
    let codes: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = v["code"].as_str().unwrap().to_string();
            u64::from_str_radix(s.strip_prefix("ea1-").unwrap(), 16).unwrap()
        })
        .collect();
    assert!((codes[0] ^ codes[1]).count_ones() <= 4);
}
