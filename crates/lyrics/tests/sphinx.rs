//! The Sphinx phone scorer on clean speech: eSpeak-NG words run together without pauses, so
//! only phone identity can find where one word ends and the next begins.

mod common;

use std::path::Path;
use std::sync::Arc;

use encore_audio::AudioBuffer;
use encore_lyrics::{
    AlignOptions, Aligner, HybridModel, Language, Line, Lyrics, MedianAligner, Mode,
    SphinxHybridModel, SphinxModel, evaluate, extract_features,
};

const SR: u32 = 22_050;

fn sphinx() -> Option<Arc<SphinxModel>> {
    let dir = Path::new(SphinxModel::DEBIAN_DIR);
    if !dir.exists() {
        println!(
            "SKIP: {} missing (apt install pocketsphinx-en-us)",
            dir.display()
        );
        return None;
    }
    Some(Arc::new(SphinxModel::load(dir).unwrap()))
}

/// One line of words spoken back to back (no pause between them), with their true onsets.
fn run_together(words: &[&str]) -> Option<(AudioBuffer, Vec<f64>)> {
    // One folder per call: tests run in parallel and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("encore-sphinx-test-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let mut voice = vec![0.0f32; SR as usize];
    let mut starts = Vec::new();
    for w in words {
        let clip = common::espeak_word(&dir, w, &["-v", "en-us", "-s", "150"], SR, 0.01)?;
        starts.push(voice.len() as f64 / f64::from(SR));
        voice.extend_from_slice(&clip);
    }
    let _ = std::fs::remove_dir_all(&dir);
    voice.extend(std::iter::repeat_n(0.0, SR as usize));
    Some((AudioBuffer::mono(SR, voice), starts))
}

/// Refine-mode AAE of `model_weight x hybrid + phone_weight x sphinx` on the clip.
fn aae(sphinx: &Arc<SphinxModel>, words: &[&str], hybrid_scale: f32, phone_weight: f32) -> f64 {
    let (audio, truth) = run_together(words).expect("espeak-ng runs");
    let features = extract_features(&audio).unwrap();
    let end = audio.duration_s() - 1.0;
    let lyrics = Lyrics {
        meta: Vec::new(),
        lines: vec![Line {
            text: words.join(" "),
            start_s: Some(truth[0]),
            end_s: Some(end),
            words: Vec::new(),
        }],
    };
    let mut hybrid = HybridModel::default_model().unwrap();
    hybrid.header.scale = hybrid_scale;
    let model = SphinxHybridModel::new(hybrid, sphinx.clone(), phone_weight);
    let opts = AlignOptions {
        mode: Mode::Refine,
        language: Some(Language::from_code("en")),
        dictionary: encore_lyrics::PronunciationDict::installed().map(Arc::new),
        // Words have no pauses, so the position prior only hurts; the scores must do it.
        position_weight_fine: 0.0,
        onset_weight: 0.0,
        ..AlignOptions::default()
    };
    let got = Aligner::new(model, opts)
        .align_features(&features, &lyrics)
        .unwrap();
    let onsets: Vec<f64> = got.lines[0]
        .words
        .iter()
        .map(|w| w.start_s.unwrap())
        .collect();
    evaluate(&onsets, &truth).unwrap().aae_s
}

#[test]
fn sphinx_scores_alone_find_words_in_continuous_speech() {
    let Some(sphinx) = sphinx() else { return };
    if std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP: espeak-ng not installed");
        return;
    }
    // Very different word lengths: an even split is far off.
    let words = [
        "extraordinary",
        "cat",
        "unbelievable",
        "sky",
        "a",
        "wonderful",
        "fish",
        "remembering",
        "yes",
    ];
    let with_phones = aae(&sphinx, &words, 0.0, 1.0);
    let without = aae(&sphinx, &words, 0.0, 0.0);
    println!(
        "continuous speech, refine AAE: sphinx alone {with_phones:.3} s, no scores {without:.3} s"
    );
    assert!(with_phones < 0.06, "sphinx alone: {with_phones}");
    assert!(without > 2.0 * with_phones, "no scores: {without}");
}

#[test]
fn the_median_of_three_finds_the_words_and_one_aligner_is_itself() {
    let Some(sphinx) = sphinx() else { return };
    let words = ["morning", "light", "across", "the", "silver", "water"];
    let Some((audio, truth)) = run_together(&words) else {
        println!("SKIP: espeak-ng not installed");
        return;
    };
    let lyrics = Lyrics {
        meta: Vec::new(),
        lines: vec![Line {
            text: words.join(" "),
            start_s: Some(truth[0]),
            end_s: Some(audio.duration_s() - 1.0),
            words: Vec::new(),
        }],
    };
    let options = AlignOptions {
        mode: Mode::Refine,
        language: Some(Language::from_code("en")),
        ..AlignOptions::default()
    };
    let hybrid = HybridModel::default_model().unwrap();
    let median = MedianAligner::of_three(hybrid.clone(), sphinx.clone(), options.clone());
    assert!(median.name().starts_with("median("), "{}", median.name());
    let features = extract_features(&audio).unwrap();
    let onsets = |l: &Lyrics| -> Vec<f64> {
        l.lines[0]
            .words
            .iter()
            .map(|w| w.start_s.unwrap())
            .collect()
    };
    let got = median.align_features(&features, &lyrics).unwrap();
    let aae = evaluate(&onsets(&got), &truth).unwrap().aae_s;
    println!("median of three on continuous speech: AAE {aae:.3} s");
    assert!(aae < 0.15, "AAE {aae}");
    // A median over one aligner is that aligner's alignment.
    let single = Aligner::recommended(hybrid, Some(sphinx), options);
    let alone = single.align_features(&features, &lyrics).unwrap();
    let wrapped = MedianAligner::new(vec![single])
        .align_features(&features, &lyrics)
        .unwrap();
    assert_eq!(onsets(&alone), onsets(&wrapped));
}
