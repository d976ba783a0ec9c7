//! Training the hybrid model end to end on a tiny synthetic set, resuming from checkpoints,
//! and the shipped default model against the untrained broad-class model.

mod common;

use std::sync::Arc;

use encore_audio::AudioBuffer;
use encore_lyrics::{
    AcousticModel, AlignOptions, Aligner, BroadClassModel, HybridModel, Language, Lyrics, Mode,
    Pronouncer, PronunciationDict, TrainConfig, TrainSong, Word, evaluate, extract_features,
};

const SR: u32 = 22_050;

struct Noise(u32);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) - 0.5
    }
}

/// Words "sa" / "la": a fricative (centred noise burst) or a sonorant (low hum) followed by a
/// vowel (centred harmonic tone), over a hard-panned chord. Returns audio and word spans.
fn tiny_song(seed: u32, n_words: usize) -> (AudioBuffer, Vec<(&'static str, f64, f64)>) {
    let mut noise = Noise(seed.wrapping_mul(2_654_435_761) | 1);
    let mut words = Vec::new();
    let mut t = 1.0;
    for k in 0..n_words {
        let w = if (k + seed as usize).is_multiple_of(2) {
            "sa"
        } else {
            "la"
        };
        let len = 0.35 + 0.1 * f64::from(noise.next() + 0.5) * 3.0;
        words.push((w, t, t + len));
        t += len + 0.2 + 0.4 * f64::from(noise.next() + 0.5);
    }
    let duration = t + 1.0;
    let n = (duration * f64::from(SR)) as usize;
    let mut inter = Vec::with_capacity(2 * n);
    for i in 0..n {
        let ts = i as f64 / f64::from(SR);
        let mut v = 0.0f64;
        if let Some(&(w, a, _b)) = words.iter().find(|&&(_, a, b)| ts >= a && ts < b) {
            let cons_end = a + 0.09;
            if ts < cons_end {
                v = if w == "sa" {
                    0.3 * f64::from(noise.next())
                } else {
                    0.08 * (std::f64::consts::TAU * 150.0 * ts).sin()
                };
            } else {
                for h in 1..10 {
                    v += (std::f64::consts::TAU * 220.0 * h as f64 * ts).sin() / h as f64;
                }
                v *= 0.12;
            }
        }
        let chord = 0.04
            * ((std::f64::consts::TAU * 130.8 * ts).sin()
                + (std::f64::consts::TAU * 196.0 * ts).sin());
        let l = v as f32 + 0.01 * noise.next() + chord as f32;
        let r = v as f32 + 0.01 * noise.next() - chord as f32;
        inter.push(l);
        inter.push(r);
    }
    (AudioBuffer::new(SR, 2, inter), words)
}

fn timed(words: &[(&str, f64, f64)], per_line: usize) -> Lyrics {
    let mut text = String::new();
    for (i, (w, _, _)) in words.iter().enumerate() {
        text.push_str(w);
        text.push(if (i + 1) % per_line == 0 { '\n' } else { ' ' });
    }
    let mut lyrics = Lyrics::from_plain_text(&text);
    let mut k = 0;
    for line in &mut lyrics.lines {
        for tok in line.text.split_whitespace() {
            let mut w = Word::new(tok);
            w.start_s = Some(words[k].1);
            w.end_s = Some(words[k].2);
            line.words.push(w);
            k += 1;
        }
    }
    lyrics
}

fn small_config() -> TrainConfig {
    TrainConfig {
        gmm_components: 2,
        gmm_rounds: 2,
        em_iters: 2,
        hidden: vec![16],
        context: vec![-4, -1, 0, 1, 4],
        mlp_rounds: 2,
        epochs: 3,
        frames_per_epoch: 4000,
        batch: 32,
        learning_rate: 3e-3,
        scale: 0.5,
        coarse_weight: Some(0.3),
        seed: 3,
    }
}

fn onsets(l: &Lyrics) -> Vec<f64> {
    l.lines
        .iter()
        .flat_map(|x| x.words.iter().map(|w| w.start_s.unwrap_or(0.0)))
        .collect()
}

#[test]
fn timed_english_words_are_pronounced_from_the_dictionary() {
    let (audio, _) = tiny_song(1, 2);
    let f = extract_features(&audio).unwrap();
    let lyrics = timed(&[("colonel", 0.5, 1.0), ("tough", 1.2, 1.6)], 2);
    let dict = PronunciationDict::parse("colonel K ER1 N AH0 L\ntough T AH1 F\n").unwrap();
    let en = Language::from_code("en");
    let phones = |pron: &Pronouncer| -> Vec<Vec<String>> {
        let song = TrainSong::from_timed("en", f.clone(), &lyrics, pron).unwrap();
        song.words
            .iter()
            .map(|w| w.phones.iter().map(|p| p.symbol.clone()).collect())
            .collect()
    };
    let with_dict = phones(&Pronouncer::new(en.clone()).with_dictionary(Some(Arc::new(dict))));
    assert_eq!(
        with_dict,
        vec![vec!["k", "er", "n", "ah", "l"], vec!["t", "ah", "f"]],
        "training labels follow the dictionary, as alignment does"
    );
    let rules = phones(&Pronouncer::new(en));
    assert_ne!(rules, with_dict, "letter rules cannot know these spellings");
}

#[test]
fn tiny_training_run_learns_resumes_and_aligns() {
    let lang = Language::from_code("es");
    let mut songs = Vec::new();
    for seed in 1..=3 {
        let (audio, words) = tiny_song(seed, 10);
        let f = extract_features(&audio).unwrap();
        songs.push(
            TrainSong::from_timed(
                format!("s{seed}"),
                f,
                &timed(&words, 5),
                &Pronouncer::new(lang.clone()),
            )
            .unwrap(),
        );
    }
    let dir = std::env::temp_dir().join(format!("encore-train-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = small_config();
    let mut steps = 0;
    let (model, report) =
        encore_lyrics::train(&songs, &cfg, Some(&dir), &mut |_, _, _| steps += 1).unwrap();
    assert!(steps > 0);
    assert!(report.frame_accuracy > 0.75, "{report:?}");
    assert!(
        report.mlp_loss.last().unwrap() < report.mlp_loss.first().unwrap(),
        "{report:?}"
    );
    assert!(dir.join("state.json").is_file() && dir.join("mlp.encam").is_file());
    // Resuming a finished run returns the same model without training again.
    let (again, _) = encore_lyrics::train(&songs, &cfg, Some(&dir), &mut |_, _, _| {}).unwrap();
    assert_eq!(again.mlp, model.mlp);
    let _ = std::fs::remove_dir_all(&dir);
    // The file round-trips and the model aligns an unseen song in refine and full mode.
    let model = HybridModel::from_bytes(&model.to_bytes()).unwrap();
    assert_eq!(model.name(), "hybrid-mlp-v1");
    assert_eq!(
        model.header.coarse_weight, cfg.coarse_weight,
        "the line-pass hint is written into the file"
    );
    let (audio, words) = tiny_song(9, 8);
    let truth: Vec<f64> = words.iter().map(|w| w.1).collect();
    let plain = timed(&words, 4)
        .lines
        .iter()
        .map(|l| l.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    let opts = AlignOptions {
        mode: Mode::Full,
        language: Some(lang),
        ..AlignOptions::default()
    };
    let got = Aligner::new(model, opts)
        .align_audio(&audio, &Lyrics::from_plain_text(&plain))
        .unwrap();
    let m = evaluate(&onsets(&got), &truth).unwrap();
    assert!(m.aae_s < 0.15, "{m:?}");
}

/// Words spoken by eSpeak-NG at known times over a hard-panned chord and a centred bass.
fn espeak_clip() -> Option<(AudioBuffer, String, Vec<f64>)> {
    let dir = std::env::temp_dir().join(format!("encore-train-espeak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let lines = [
        "morning light on the river",
        "we dance until the night",
        "hold me closer baby",
        "sweet dreams tonight",
    ];
    let mut voice: Vec<f32> = Vec::new();
    let mut starts = Vec::new();
    let mut t = 2.0f64;
    for (li, line) in lines.iter().enumerate() {
        for w in line.split_whitespace() {
            let pitch = (40 + 5 * li).to_string();
            let args = ["-v", "en", "-s", "120", "-p", pitch.as_str()];
            let clip = common::espeak_word(&dir, w, &args, SR, 0.02)?;
            let at = (t * f64::from(SR)) as usize;
            voice.resize(at + clip.len(), 0.0);
            voice[at..].copy_from_slice(&clip);
            starts.push(t);
            t += (clip.len() - 1) as f64 / f64::from(SR) + 0.15;
        }
        t += 2.5;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let n = voice.len() + 2 * SR as usize;
    let mut inter = Vec::with_capacity(2 * n);
    for i in 0..n {
        let ts = i as f64 / f64::from(SR);
        let chord = 0.05
            * ((std::f64::consts::TAU * 261.6 * ts).sin()
                + (std::f64::consts::TAU * 329.6 * ts).sin());
        let v = voice.get(i).copied().unwrap_or(0.0) * 0.6;
        inter.push(v + chord as f32);
        inter.push(v - chord as f32);
    }
    Some((AudioBuffer::new(SR, 2, inter), lines.join("\n"), starts))
}

#[test]
fn default_model_beats_the_untrained_model_on_a_synthetic_clip() {
    let Some((audio, text, truth)) = espeak_clip() else {
        println!("SKIP default_model_beats_the_untrained_model: espeak-ng not installed");
        return;
    };
    let features = extract_features(&audio).unwrap();
    let lyrics = Lyrics::from_plain_text(&text);
    let opts = AlignOptions {
        mode: Mode::Full,
        language: Some(Language::from_code("en")),
        ..AlignOptions::default()
    };
    let aae = |m: Box<dyn AcousticModel>| {
        let got = Aligner::new(m, opts.clone())
            .align_features(&features, &lyrics)
            .unwrap();
        evaluate(&onsets(&got), &truth).unwrap().aae_s
    };
    let broad = aae(Box::<BroadClassModel>::default());
    let trained = aae(Box::new(HybridModel::default_model().unwrap()));
    println!("full-mode AAE: broad-class {broad:.3} s, default hybrid {trained:.3} s");
    assert!(trained < broad, "default {trained} vs broad {broad}");
}

#[test]
fn line_timed_lyrics_become_weak_labels() {
    let lang = Language::from_code("es");
    let (audio, words) = tiny_song(5, 8);
    let f = extract_features(&audio).unwrap();
    // Line-timed lyrics: times on the lines only (as in an operator's LRC).
    let mut lyrics = timed(&words, 4);
    for (li, line) in lyrics.lines.iter_mut().enumerate() {
        line.start_s = Some(words[4 * li].1 - 0.1);
        line.end_s = Some(words[4 * li + 3].2 + 0.1);
        line.words.clear();
    }
    let (song, share) = TrainSong::from_line_timed(
        "weak",
        f,
        &lyrics,
        HybridModel::default_model().unwrap(),
        &Pronouncer::new(lang.clone()),
        0.5,
    )
    .unwrap();
    assert!(share > 0.5, "kept {share}");
    assert!(
        song.words.len() >= 5 && song.ignore.len() <= 2,
        "{:?}",
        song.ignore
    );
    // Kept words lie near their true spans.
    for w in &song.words {
        let near = words
            .iter()
            .any(|&(_, a, b)| (w.start_s - a).abs() < 0.25 && (w.end_s - b).abs() < 0.4);
        assert!(near, "{w:?}");
    }
}
