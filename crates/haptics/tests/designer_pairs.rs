//! Every designer-made `.haptic` file in `../shared/data` parses, validates and round-trips
//! through `.haptic` and AHAP; generation on its audio is a valid track.

use std::path::{Path, PathBuf};

use encore_haptics::{GenerateOptions, generate, parse_ahap, parse_lofelt, to_ahap, to_lofelt};

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("ENCORE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    dir.is_dir().then_some(dir)
}

fn haptic_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            haptic_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "haptic") {
            out.push(p);
        }
    }
}

#[test]
fn designer_files_parse_and_round_trip() {
    let Some(data) = shared_data() else {
        println!("SKIP designer_files_parse_and_round_trip: ../shared/data not found");
        return;
    };
    let mut files = Vec::new();
    haptic_files(&data.join("haptics/lofelt-pairs"), &mut files);
    assert!(files.len() >= 80, "{} files", files.len());
    for f in &files {
        let track = parse_lofelt(&std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(track.metadata.editor, "Lofelt Studio");
        assert_eq!(
            parse_lofelt(to_lofelt(&track).unwrap().as_bytes()).unwrap(),
            track,
            "{}",
            f.display()
        );
        let back = parse_ahap(to_ahap(&track).unwrap().as_bytes()).unwrap();
        assert_eq!(
            back.transients().count(),
            track.transients().count(),
            "{}",
            f.display()
        );
        for t in [0.0, 0.05, 0.1, 0.33, 1.0] {
            // Designer files repeat times (steps); compare just off the breakpoints.
            let t = t + 1e-4;
            assert!(
                (back.amplitude_at(t) - track.amplitude_at(t)).abs() < 1e-4,
                "{} at {t}",
                f.display()
            );
        }
    }
}

#[test]
fn generation_on_designer_audio_is_valid() {
    let Some(data) = shared_data() else {
        println!("SKIP generation_on_designer_audio_is_valid: ../shared/data not found");
        return;
    };
    let wav = data.join("haptics/lofelt-pairs/Music/Kick1.wav");
    let audio = encore_audio::load_mono(&wav, encore_audio::ANALYSIS_SAMPLE_RATE).unwrap();
    let track = generate(
        &audio.samples,
        audio.sample_rate,
        &GenerateOptions::default(),
    )
    .unwrap();
    track.validate().unwrap();
    // A single kick: one transient near the start, dull.
    let tr: Vec<_> = track.transients().collect();
    assert!(!tr.is_empty() && tr[0].time < 0.05, "{tr:?}");
    assert!(tr[0].sharpness < 0.5, "{tr:?}");
}
