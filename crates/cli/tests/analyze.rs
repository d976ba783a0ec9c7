//! `encore analyze` end to end: the JSON contract, folder mode, and bad input.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `encore` with the default log level, whatever `RUST_LOG` says outside the test.
fn encore(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_encore"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run encore")
}

/// A 16-bit PCM WAV of `seconds` of clicks at 120 BPM (or silence).
fn write_wav(path: &Path, seconds: f64, clicks: bool) {
    let sr = 22_050u32;
    let n = (seconds * f64::from(sr)) as usize;
    let mut samples = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / f64::from(sr);
        let phase = (t - 0.25).rem_euclid(0.5);
        let v = if clicks && t >= 0.25 && phase < 0.02 {
            0.5 * (-phase / 0.004).exp() * (std::f64::consts::TAU * 1000.0 * phase).sin()
        } else {
            0.0
        };
        samples.extend([v as f32, v as f32]);
    }
    let file = std::fs::File::create(path).unwrap();
    encore_audio::AudioBuffer::new(sr, 2, samples)
        .write_wav_pcm16(std::io::BufWriter::new(file))
        .unwrap();
}

#[test]
fn json_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clicks.wav");
    write_wav(&path, 12.0, true);
    let out = encore(&["analyze".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "duration_s",
        "sample_rate",
        "channels",
        "tempo_bpm",
        "beats_s",
        "downbeats_s",
        "onsets_s",
        "loudness",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    for key in ["integrated_lufs", "range_lu", "true_peak_dbtp"] {
        assert!(v["loudness"].get(key).is_some(), "missing loudness.{key}");
    }
    assert_eq!(v["sample_rate"], 22_050);
    assert_eq!(v["channels"], 2);
    let tempo = v["tempo_bpm"].as_f64().unwrap();
    assert!((tempo - 120.0).abs() < 4.0, "{tempo}");
    assert!(v["beats_s"].as_array().unwrap().len() >= 18);

    let human = encore(&["analyze".as_ref(), path.as_os_str()]);
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("tempo") && text.contains("LUFS"), "{text}");
}

#[test]
fn silence_prints_null_not_infinity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silence.wav");
    write_wav(&path, 3.0, false);
    let out = encore(&["analyze".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["tempo_bpm"].is_null());
    assert!(v["loudness"]["integrated_lufs"].is_null());
    assert!(v["loudness"]["true_peak_dbtp"].is_null());
}

#[test]
fn a_folder_gives_one_line_per_file_and_fails_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("a.wav"), 4.0, true);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write_wav(&dir.path().join("sub/b.WAV"), 4.0, true);
    std::fs::write(dir.path().join("broken.mp3"), b"not an mp3 at all").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let out = encore(&["analyze".as_ref(), dir.path().as_os_str()]);
    assert!(!out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let broken = lines
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with("broken.mp3"))
        .unwrap();
    assert!(broken["error"].as_str().unwrap().len() > 5);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.get("tempo_bpm").is_some())
            .count(),
        2
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 3"), "{stderr}");
}

#[test]
fn bad_files_name_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("readme.ogg");
    std::fs::write(&text, "hello, this is text\n".repeat(50)).unwrap();
    let good = dir.path().join("good.wav");
    write_wav(&good, 3.0, true);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let mut absurd = bytes.clone();
    absurd[22..24].copy_from_slice(&65_535u16.to_le_bytes());
    let absurd_path = dir.path().join("channels.wav");
    std::fs::write(&absurd_path, &absurd).unwrap();
    let mut rate0 = bytes.clone();
    rate0[24..28].copy_from_slice(&0u32.to_le_bytes());
    let rate0_path = dir.path().join("rate0.wav");
    std::fs::write(&rate0_path, &rate0).unwrap();
    let missing = dir.path().join("missing.flac");
    // Bytes from a linear congruential generator with an MP3 frame sync in them: no container,
    // and junk that Symphonia's probe warns about (by default that warning is not shown).
    let noise = dir.path().join("noise.wav");
    let mut state = 12_345u32;
    let mut junk: Vec<u8> = (0..5000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect();
    junk[407..409].copy_from_slice(&[0xff, 0xf2]);
    std::fs::write(&noise, junk).unwrap();
    let cases = [
        (&noise, "not a recognised audio file"),
        (&empty, "empty"),
        (&text, "text"),
        (&truncated, "truncated"),
        (&absurd_path, "channel"),
        (&rate0_path, "sample rate of 0 hz"),
        (&missing, ""),
    ];
    for (path, reason) in cases {
        let out = encore(&["analyze".as_ref(), path.as_os_str(), "--json".as_ref()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", path.display());
        // One line: the error, without the decoder library's warnings before it.
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(stderr.contains(name.as_ref()), "{stderr}");
        assert!(stderr.to_lowercase().contains(reason), "{reason}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_describes_the_command() {
    let out = encore(&["analyze".as_ref(), "--help".as_ref()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--json"));
}

#[test]
fn log_lines_mask_personal_information() {
    // A folder named after a person's e-mail address: the log line for the bad file in it
    // names the path, and the log writer masks the address before it reaches stderr (the
    // command's own error message, not a log line, still names the folder it was given).
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ada.lovelace@example.com");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("broken.wav"), b"RIFF not really").unwrap();
    let out = encore(&["analyze".as_ref(), folder.as_os_str(), "--json".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let log = stderr
        .lines()
        .find(|l| l.contains("analysis failed"))
        .unwrap_or_else(|| panic!("no log line: {stderr}"));
    assert!(log.contains("broken.wav"), "{log}");
    assert!(!log.contains("ada.lovelace@example.com"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "no colour codes when stderr is not a terminal: {log}"
    );
}
