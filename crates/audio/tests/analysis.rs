//! Integration tests of `encore-audio`: synthetic signals with known answers, every supported
//! codec (fixtures made at test time with ffmpeg), hostile inputs, and the shared real clips.

use std::path::{Path, PathBuf};
use std::process::Command;

use encore_audio::{
    AnalyzeOptions, AudioBuffer, Decoder, Error, ErrorKind, Limits, analyze_bytes, analyze_decoder,
    analyze_file, analyze_mono,
};

const SR: u32 = 44_100;

/// A click (short decaying tone burst) at each of `beats` seconds, over quiet noise.
fn click_track(beats: &[f64], duration_s: f64, sr: u32) -> Vec<f32> {
    let n = (duration_s * f64::from(sr)) as usize;
    let mut state = 0x1234_5678u32;
    let mut y: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32 - 0.5) * 0.002
        })
        .collect();
    let len = (0.03 * f64::from(sr)) as usize;
    for (k, &b) in beats.iter().enumerate() {
        let start = (b * f64::from(sr)).round() as usize;
        let freq = if k % 4 == 0 { 1760.0 } else { 880.0 };
        let amp = if k % 4 == 0 { 0.6 } else { 0.35 };
        for i in 0..len {
            if let Some(s) = y.get_mut(start + i) {
                let t = i as f64 / f64::from(sr);
                *s += (amp * (-t / 0.005).exp() * (std::f64::consts::TAU * freq * t).sin()) as f32;
            }
        }
    }
    y
}

fn constant_beats(bpm: f64, start: f64, duration_s: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t = start;
    while t < duration_s - 0.3 {
        out.push(t);
        t += 60.0 / bpm;
    }
    out
}

/// Beat F-measure with a 70 ms window, ignoring the first 5 s (as mir_eval does).
fn f_measure(reference: &[f64], estimated: &[f64]) -> f64 {
    let r: Vec<f64> = reference.iter().copied().filter(|&t| t >= 5.0).collect();
    let e: Vec<f64> = estimated.iter().copied().filter(|&t| t >= 5.0).collect();
    if r.is_empty() || e.is_empty() {
        return 0.0;
    }
    let mut used = vec![false; e.len()];
    let mut hits = 0usize;
    for &t in &r {
        if let Some(j) = (0..e.len()).find(|&j| !used[j] && (e[j] - t).abs() <= 0.07) {
            used[j] = true;
            hits += 1;
        }
    }
    let p = hits as f64 / e.len() as f64;
    let q = hits as f64 / r.len() as f64;
    if p + q == 0.0 {
        0.0
    } else {
        2.0 * p * q / (p + q)
    }
}

fn wav_bytes(samples: Vec<f32>, sr: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    AudioBuffer::new(sr, channels, samples)
        .write_wav_pcm16(&mut out)
        .unwrap();
    out
}

#[test]
fn click_tracks_from_60_to_180_bpm() {
    for bpm in [60.0, 75.0, 90.0, 105.0, 120.0, 140.0, 160.0, 180.0] {
        let truth = constant_beats(bpm, 0.7, 30.0);
        let signal = click_track(&truth, 30.0, SR);
        let r = analyze_mono(&signal, SR, &AnalyzeOptions::default()).unwrap();
        let tempo = r.tempo_bpm.unwrap();
        assert!(
            (tempo - bpm).abs() / bpm < 0.04,
            "{bpm} BPM read as {tempo}"
        );
        let f = f_measure(&truth, &r.beats_s);
        assert!(f > 0.95, "{bpm} BPM: beat F-measure {f}");
        let onset_f = f_measure(&truth, &r.onsets_s);
        assert!(onset_f > 0.95, "{bpm} BPM: onset F-measure {onset_f}");
    }
}

#[test]
fn beats_follow_a_tempo_change() {
    // 100 BPM for 20 s, then 130 BPM.
    let mut truth = Vec::new();
    let mut t = 0.5;
    while t < 45.0 {
        truth.push(t);
        t += if t < 20.0 { 0.6 } else { 60.0 / 130.0 };
    }
    let signal = click_track(&truth, 45.5, SR);
    let r = analyze_mono(&signal, SR, &AnalyzeOptions::default()).unwrap();
    let f = f_measure(&truth, &r.beats_s);
    assert!(f > 0.93, "beat F-measure {f}");
    let late: Vec<f64> = r.beats_s.iter().copied().filter(|&b| b > 25.0).collect();
    let period = (late[late.len() - 1] - late[0]) / (late.len() - 1) as f64;
    assert!((60.0 / period - 130.0).abs() < 3.0, "{}", 60.0 / period);
}

#[test]
fn downbeats_of_an_accented_click_track() {
    let truth = constant_beats(110.0, 0.6, 30.0);
    let signal = click_track(&truth, 30.0, SR);
    let r = analyze_mono(&signal, SR, &AnalyzeOptions::default()).unwrap();
    let expected: Vec<f64> = truth.iter().step_by(4).copied().collect();
    let f = f_measure(&expected, &r.downbeats_s);
    assert!(f > 0.9, "downbeat F-measure {f}: {:?}", r.downbeats_s);
}

#[test]
fn silence_gives_nulls_not_infinities() {
    let a = analyze_bytes(wav_bytes(vec![0.0; SR as usize * 4], SR, 2), Some("wav")).unwrap();
    assert_eq!(a.channels, 2);
    assert!((a.duration_s - 2.0).abs() < 1e-6);
    assert!(a.beats_s.is_empty() && a.onsets_s.is_empty() && a.downbeats_s.is_empty());
    assert_eq!(a.tempo_bpm, None);
    assert_eq!(a.loudness.integrated_lufs, None);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"integrated_lufs\":null"), "{json}");
    assert!(json.contains("\"tempo_bpm\":null"), "{json}");
}

#[test]
fn a_sine_sweep_has_loudness_but_no_beats_to_speak_of() {
    let sr = 22_050u32;
    let n = sr as usize * 10;
    let signal: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(sr);
            // Exponential sweep 100 Hz -> 8 kHz over 10 s at -20 dBFS.
            let k = (8000.0f64 / 100.0).ln() / 10.0;
            (0.1 * (std::f64::consts::TAU * 100.0 * ((k * t).exp() - 1.0) / k).sin()) as f32
        })
        .collect();
    let a = analyze_bytes(wav_bytes(signal, sr, 1), Some("wav")).unwrap();
    let lufs = a.loudness.integrated_lufs.unwrap();
    assert!(lufs > -30.0 && lufs < -15.0, "{lufs}");
    let tp = a.loudness.true_peak_dbtp.unwrap();
    assert!((tp + 20.0).abs() < 0.6, "{tp}");
    // A sweep moves energy across bands continuously: a handful of flux peaks, no pulse train.
    assert!(a.onsets_s.len() < 10, "{:?}", a.onsets_s);
}

#[test]
fn stereo_wav_loudness_matches_tech_3341_case_1() {
    let amp = 10f32.powf(-23.0 / 20.0);
    let samples: Vec<f32> = (0..48_000 * 20)
        .flat_map(|i| {
            let v = amp * (std::f32::consts::TAU * 1000.0 * i as f32 / 48_000.0).sin();
            [v, v]
        })
        .collect();
    let a = analyze_bytes(wav_bytes(samples, 48_000, 2), None).unwrap();
    let lufs = a.loudness.integrated_lufs.unwrap();
    assert!((lufs + 23.0).abs() <= 0.1, "{lufs}");
    assert!(a.loudness.range_lu.unwrap() < 0.5);
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_codec_decodes_and_keeps_the_tempo() {
    if !ffmpeg_available() {
        println!("SKIP every_codec_decodes_and_keeps_the_tempo: ffmpeg not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let truth = constant_beats(120.0, 0.5, 20.0);
    let mono = click_track(&truth, 20.0, SR);
    let stereo: Vec<f32> = mono.iter().flat_map(|&v| [v, v]).collect();
    let wav = dir.path().join("source.wav");
    std::fs::write(&wav, wav_bytes(stereo, SR, 2)).unwrap();
    let cases: &[(&str, &[&str], u32)] = &[
        ("mp3", &["-c:a", "libmp3lame", "-b:a", "128k"], SR),
        ("flac", &["-c:a", "flac"], SR),
        ("ogg", &["-c:a", "libvorbis", "-q:a", "4"], SR),
        ("opus", &["-c:a", "libopus", "-b:a", "96k"], 48_000),
        ("m4a", &["-c:a", "aac", "-b:a", "128k"], SR),
        ("wav", &["-c:a", "pcm_s24le"], SR),
    ];
    for (ext, codec_args, rate) in cases {
        let out = dir.path().join(format!("clicks.{ext}"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(*codec_args)
            .arg(&out)
            .status()
            .unwrap();
        if !status.success() {
            println!("SKIP {ext}: this ffmpeg cannot encode it");
            continue;
        }
        let a = analyze_file(&out).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(a.sample_rate, *rate, "{ext}");
        assert_eq!(a.channels, 2, "{ext}");
        assert!(
            (a.duration_s - 20.0).abs() < 0.1,
            "{ext}: {} s",
            a.duration_s
        );
        let tempo = a.tempo_bpm.unwrap();
        assert!((tempo - 120.0).abs() < 3.0, "{ext}: {tempo}");
        let f = f_measure(&truth, &a.beats_s);
        assert!(f > 0.95, "{ext}: beat F-measure {f}");
        // Same loudness whatever the codec (lossy codecs change it by a fraction of a dB).
        let lufs = a.loudness.integrated_lufs.unwrap();
        assert!(lufs < -10.0 && lufs > -40.0, "{ext}: {lufs}");
    }
}

/// A WAV header with chosen fields followed by `data` bytes.
fn wav_header(channels: u16, rate: u32, bits: u16, data_len: u32, data: &[u8]) -> Vec<u8> {
    let block = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn hostile_and_broken_inputs_are_clear_errors() {
    let second: Vec<u8> = (0..SR * 2 * 2).map(|i| (i % 251) as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty"),
        (
            "text",
            b"this is a text file, not audio\n".repeat(20),
            "text",
        ),
        ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".repeat(10), "png"),
        (
            "65535 channels",
            wav_header(65_535, SR, 16, 4096, &second[..4096]),
            "channel",
        ),
        (
            "sample rate 0",
            wav_header(2, 0, 16, 4096, &second[..4096]),
            "",
        ),
        (
            "4 GB data chunk",
            wav_header(2, SR, 16, u32::MAX - 64, &second),
            "truncated",
        ),
        ("header only", wav_header(2, SR, 16, 0, &[]), ""),
        (
            "cut header",
            wav_header(2, SR, 16, 100, &[])[..20].to_vec(),
            "",
        ),
    ];
    for (what, bytes, needle) in cases {
        let err = analyze_bytes(bytes, None).expect_err(what);
        let msg = err.to_string();
        assert!(!msg.is_empty(), "{what}");
        assert!(
            msg.to_lowercase().contains(needle),
            "{what}: {msg} (kind {})",
            err.kind()
        );
    }
}

#[test]
fn enormous_inputs_hit_the_duration_limit() {
    let samples = vec![0.1f32; SR as usize * 3];
    let limits = Limits {
        max_duration_s: 1.0,
        ..Limits::default()
    };
    let dec = Decoder::from_bytes_with_limits(wav_bytes(samples, SR, 1), None, limits).unwrap();
    let err = analyze_decoder(dec, &AnalyzeOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(matches!(err, Error::LimitExceeded(_)));
}

fn shared_audio() -> Option<PathBuf> {
    let root = std::env::var_os("ENCORE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = root.join("audio");
    dir.is_dir().then_some(dir)
}

fn shared_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ogg"))
        .collect();
    files.sort();
    files
}

#[test]
fn shared_clips_analyse_and_the_trumpet_loop_is_90_bpm() {
    let Some(dir) = shared_audio() else {
        println!(
            "SKIP shared_clips_analyse_and_the_trumpet_loop_is_90_bpm: ../shared/data not found"
        );
        return;
    };
    for path in shared_files(&dir) {
        let a = analyze_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(a.duration_s > 1.0, "{}", path.display());
        let lufs = a.loudness.integrated_lufs.unwrap();
        assert!(lufs > -50.0 && lufs < 0.0, "{}: {lufs}", path.display());
        let tp = a.loudness.true_peak_dbtp.unwrap();
        assert!(tp >= a.loudness.sample_peak_dbfs.unwrap() && tp < 6.0);
        assert!(a.beats_s.windows(2).all(|w| w[1] > w[0]));
        let name = path.file_name().unwrap().to_string_lossy();
        if name.contains("trumpet") {
            // The loop is 90 BPM played in quavers: 90 and the quaver level 180 are both
            // accepted (librosa reports 184.6 on it).
            let tempo = a.tempo_bpm.unwrap();
            let level_ok = [90.0, 180.0]
                .iter()
                .any(|t: &f64| (tempo - t).abs() < t * 0.04);
            assert!(level_ok, "trumpet loop: {tempo} BPM");
            let period =
                (a.beats_s[a.beats_s.len() - 1] - a.beats_s[0]) / (a.beats_s.len() - 1) as f64;
            let bpm = 60.0 / period;
            assert!(
                [90.0, 180.0]
                    .iter()
                    .any(|t: &f64| (bpm - t).abs() < t * 0.05),
                "trumpet beats at {bpm} BPM"
            );
        }
    }
}

#[test]
fn truncated_and_byte_flipped_real_files_never_panic() {
    let Some(dir) = shared_audio() else {
        println!(
            "SKIP truncated_and_byte_flipped_real_files_never_panic: ../shared/data not found"
        );
        return;
    };
    let mut state = 0x9e37_79b9u32;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    };
    for path in shared_files(&dir).into_iter().take(4) {
        let bytes = std::fs::read(&path).unwrap();
        let mut variants = Vec::new();
        for frac in [0.0, 0.01, 0.3, 0.77] {
            variants.push(bytes[..(bytes.len() as f64 * frac) as usize].to_vec());
        }
        for flips in [1, 10, 200] {
            let mut b = bytes.clone();
            for _ in 0..flips {
                let i = rand() % b.len();
                b[i] ^= 1 << (rand() % 8);
            }
            variants.push(b);
        }
        let mut head = bytes.clone();
        for b in head.iter_mut().take(200).skip(28) {
            *b = 0xFF;
        }
        variants.push(head);
        for v in variants {
            match analyze_bytes(v, Some("ogg")) {
                Ok(a) => assert!(a.duration_s >= 0.0 && a.beats_s.iter().all(|t| t.is_finite())),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}

/// Found by `crates/audio/fuzz` (decode_bytes, 2026-11-23): an MP3 whose Xing/Info header makes
/// symphonia-bundle-mp3 0.5.5 subtract with overflow (demuxer.rs:128). With overflow checks the
/// panic is caught and reported as corrupt; without, no audio decodes. Either way, an error.
#[test]
fn fuzz_regression_mp3_demuxer_underflow() {
    let bytes = include_bytes!("fixtures/fuzz-mp3-demuxer-underflow.mp3");
    let err = analyze_bytes(bytes.to_vec(), None).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Corrupt), "{err}");
}

/// Found by fuzzing `decode_bytes` (2026-11-23): an M4A whose stsc table declares billions of
/// entries; Symphonia would try to allocate 54 GB and the process would abort.
#[test]
fn fuzz_regression_mp4_table_count_is_checked() {
    let bytes = include_bytes!("fixtures/fuzz-mp4-stsc-huge-count.m4a");
    let err = analyze_bytes(bytes.to_vec(), None).unwrap_err();
    assert!(err.to_string().contains("entries"), "{err}");
}
