//! `encore lyrics` end to end: align a generated song, formats on stdout, errors, and the
//! evaluation on the shared JamendoLyrics development set when it is present.

use std::path::{Path, PathBuf};
use std::process::Command;

const SR: u32 = 22_050;

fn encore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_encore"))
}

/// A stereo WAV: a centred harmonic "voice" during `words`, hard-panned noise elsewhere.
fn write_song(path: &Path, words: &[(f64, f64)], duration: f64) {
    let n = (duration * f64::from(SR)) as usize;
    let mut samples = Vec::with_capacity(2 * n);
    let mut state = 99u32;
    for i in 0..n {
        let t = i as f64 / f64::from(SR);
        let mut v = 0.0;
        if words.iter().any(|&(a, b)| t >= a && t < b) {
            for h in 1..10 {
                v += (std::f64::consts::TAU * 200.0 * h as f64 * t).sin() / h as f64;
            }
            v *= 0.2;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (f64::from(state) / f64::from(u32::MAX) - 0.5) * 0.05;
        samples.extend([(v + noise) as f32, (v - noise) as f32]);
    }
    let file = std::fs::File::create(path).unwrap();
    encore_audio::AudioBuffer::new(SR, 2, samples)
        .write_wav_pcm16(std::io::BufWriter::new(file))
        .unwrap();
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("encore-lyrics-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn align_prints_the_contract_json_and_other_formats() {
    let dir = tmp("align");
    let audio = dir.join("song.wav");
    write_song(
        &audio,
        &[(2.0, 2.8), (3.0, 3.9), (7.0, 7.8), (8.0, 9.0)],
        11.0,
    );
    let lyrics = dir.join("song.txt");
    std::fs::write(&lyrics, "la lo\nna no\n").unwrap();
    let out = encore()
        .args(["lyrics", "align"])
        .arg(&audio)
        .arg(&lyrics)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = v["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for key in ["text", "start_s", "end_s", "words"] {
        assert!(lines[0].get(key).is_some(), "{key}");
    }
    let w = &lines[1]["words"][0];
    assert_eq!(w["text"], "na");
    assert!((w["start_s"].as_f64().unwrap() - 7.0).abs() < 0.4, "{v}");
    assert!(w["confidence"].as_f64().is_some());

    for (format, needle) in [
        ("lrc", "[00:0"),
        ("elrc", "<00:0"),
        ("ttml", "<span begin="),
    ] {
        let out = encore()
            .args(["lyrics", "align", "--format", format])
            .arg(&audio)
            .arg(&lyrics)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(needle),
            "{format}"
        );
    }
    // A line-timed LRC selects refine mode: line starts are kept.
    let lrc = dir.join("song.lrc");
    std::fs::write(
        &lrc,
        "[00:02.00]la lo\n[00:05.00]\n[00:07.00]na no\n[00:10.00]\n",
    )
    .unwrap();
    let out = encore()
        .args(["lyrics", "align", "--json"])
        .arg(&audio)
        .arg(&lrc)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lines"][1]["start_s"].as_f64(), Some(7.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tmp("bad");
    let audio = dir.join("song.wav");
    write_song(&audio, &[(1.0, 2.0)], 3.0);
    let lrc = dir.join("bad.lrc");
    std::fs::write(&lrc, "[00:01.00]ok\n[00:0x.00]bad\n").unwrap();
    let out = encore()
        .args(["lyrics", "align"])
        .arg(&audio)
        .arg(&lrc)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    let out = encore()
        .args(["lyrics", "align"])
        .arg(dir.join("missing.wav"))
        .arg(&lrc)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // A corrupt model file is refused with a message naming it; `broad` selects the
    // untrained broad-class model.
    let plain = dir.join("plain.txt");
    std::fs::write(&plain, "la\n").unwrap();
    let model = dir.join("bad.encam");
    std::fs::write(&model, b"ENCLYRAM\x01\x00\x00\x00garbage").unwrap();
    let out = encore()
        .args(["lyrics", "align", "--model"])
        .arg(&model)
        .arg(&audio)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.encam"), "{err}");
    let out = encore()
        .args(["lyrics", "align", "--model", "broad"])
        .arg(&audio)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_on_shared_jamendo_dev() {
    let data = std::env::var_os("ENCORE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = data.join("lyrics/jamendo-dev");
    if !dir.is_dir() {
        eprintln!("SKIP eval_on_shared_jamendo_dev: ../shared/data not found");
        return;
    }
    // One song (the named tuning song), refine mode: valid output, better than 1 s and than
    // words spread evenly inside the lines.
    let out = encore()
        .args([
            "lyrics", "eval", "--json", "--mode", "refine", "--only", "Fantasma",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["mode"], "refine");
    let aae = first["metrics"]["aae_s"].as_f64().unwrap();
    let even = first["even_baseline"]["aae_s"].as_f64().unwrap();
    assert!(aae < 1.0 && aae <= even, "refine AAE {aae} vs even {even}");
}
