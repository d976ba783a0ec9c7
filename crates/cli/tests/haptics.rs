//! `encore haptics` and `encore visualize` on real files: every format, bad input, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn encore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_encore"))
}

/// A 3-second WAV of 55 Hz thumps twice a second, written with the audio core's writer.
fn thump_wav(dir: &Path) -> PathBuf {
    let sr = 22_050u32;
    let samples: Vec<f32> = (0..3 * sr as usize)
        .map(|i| {
            let t = (i % (sr as usize / 2)) as f32 / sr as f32;
            0.8 * (-t * 12.0).exp() * (std::f32::consts::TAU * 55.0 * t).sin()
        })
        .collect();
    let path = dir.join("thump.wav");
    let mut bytes = Vec::new();
    encore_audio::AudioBuffer::mono(sr, samples)
        .write_wav_pcm16(&mut bytes)
        .unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn every_format_is_written_and_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let wav = thump_wav(dir.path());
    for format in ["ahap", "android", "lofelt", "web", "wav"] {
        let out = dir.path().join(format!("out.{format}"));
        let status = encore()
            .args(["haptics"])
            .arg(&wav)
            .args(["--format", format, "-o"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "{format}");
        let bytes = std::fs::read(&out).unwrap();
        match format {
            "ahap" => assert!(
                encore_haptics::parse_ahap(&bytes)
                    .unwrap()
                    .transients()
                    .count()
                    >= 5
            ),
            "lofelt" => {
                let t = encore_haptics::parse_lofelt(&bytes).unwrap();
                assert_eq!(t.metadata.source, "thump.wav");
                assert!(t.transients().count() >= 5);
            }
            "android" => assert!(
                !encore_haptics::parse_android(&bytes)
                    .unwrap()
                    .composition
                    .is_empty()
            ),
            "web" => assert!(
                !encore_haptics::parse_web(&bytes)
                    .unwrap()
                    .segments
                    .is_empty()
            ),
            _ => assert_eq!(
                encore_audio::decode_bytes(bytes, Some("wav"))
                    .unwrap()
                    .sample_rate,
                8_000
            ),
        }
    }
    // Presets and intensity.
    let out = dir.path().join("gentle.haptic");
    let status = encore()
        .arg("haptics")
        .arg(&wav)
        .args([
            "--format",
            "lofelt",
            "--preset",
            "gentle",
            "--intensity",
            "0.3",
            "-o",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let t = encore_haptics::parse_lofelt(&std::fs::read(&out).unwrap()).unwrap();
    assert!(t.amplitude.iter().all(|p| p.amplitude <= 0.3 + 1e-6));
}

#[test]
fn visualize_prints_the_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let wav = thump_wav(dir.path());
    let out = encore()
        .arg("visualize")
        .arg(&wav)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert!((v["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.01);
    assert_eq!(v["bands"].as_array().unwrap().len(), 7);
    assert!(v["loudness"]["rms_dbfs"].as_array().unwrap().len() >= 30);
    assert_eq!(v["peaks"].as_array().unwrap().len(), 4);
    assert!(v["beats_s"].is_array());
}

#[test]
fn bad_input_fails_cleanly_and_keeps_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let junk = dir.path().join("junk.mp3");
    std::fs::write(&junk, b"this is not audio at all, just some text bytes").unwrap();
    let out = dir.path().join("keep.haptic");
    std::fs::write(&out, b"precious").unwrap();
    for (input, needle) in [
        (empty.as_path(), "empty"),
        (junk.as_path(), "junk.mp3"),
        (Path::new("/nonexistent/x.wav"), "x.wav"),
    ] {
        let o = encore()
            .arg("haptics")
            .arg(input)
            .args(["--format", "lofelt", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    }
    let wav = thump_wav(dir.path());
    let o = encore()
        .arg("haptics")
        .arg(&wav)
        .args(["--format", "lofelt", "--intensity", "7", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside 0..=1"));
    let o = encore()
        .arg("haptics")
        .arg(&wav)
        .args(["--format", "midi", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let o = encore()
        .args(["haptics", "eval"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no NAME.haptic"));
}

#[test]
fn eval_scores_a_track_against_itself_as_perfect() {
    let dir = tempfile::tempdir().unwrap();
    let wav = thump_wav(dir.path());
    let haptic = dir.path().join("thump.haptic");
    let status = encore()
        .arg("haptics")
        .arg(&wav)
        .args(["--format", "lofelt", "-o"])
        .arg(&haptic)
        .status()
        .unwrap();
    assert!(status.success());
    let out = encore()
        .args(["haptics", "eval"])
        .arg(dir.path())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = &v["sets"][2];
    assert_eq!(all["files"], 1);
    assert!(
        (all["pooled_f"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{all}"
    );
    assert!(all["mean_correlation"].as_f64().unwrap() > 0.999, "{all}");
    assert!(v["speed_x_realtime"]["generation"].as_f64().unwrap() > 0.0);
}
