//! Alignment on synthetic stereo audio with known word times, and invariants on random input.

use encore_audio::AudioBuffer;
use encore_lyrics::{AlignOptions, Aligner, BroadClassModel, Format, Lyrics, Mode, parse};
use proptest::prelude::*;

const SR: u32 = 22_050;

/// A sung "vowel": a harmonic tone with vibrato, centred. `words` are (start, end) seconds.
/// The accompaniment is noise and a sustained chord, hard-panned left and right.
fn song(words: &[(f64, f64)], duration: f64) -> AudioBuffer {
    let n = (duration * f64::from(SR)) as usize;
    let mut state = 12345u32;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as f32 / u32::MAX as f32) - 0.5
    };
    let mut inter = Vec::with_capacity(2 * n);
    for i in 0..n {
        let t = i as f64 / f64::from(SR);
        let mut v = 0.0f64;
        if words.iter().any(|&(a, b)| t >= a && t < b) {
            let f0 = 220.0 * (1.0 + 0.01 * (std::f64::consts::TAU * 5.5 * t).sin());
            for h in 1..12 {
                v += (std::f64::consts::TAU * f0 * h as f64 * t).sin() / h as f64;
            }
            v *= 0.15;
        }
        let chord = 0.05
            * ((std::f64::consts::TAU * 130.8 * t).sin()
                + (std::f64::consts::TAU * 164.8 * t).sin());
        let l = v as f32 + 0.05 * noise() + chord as f32;
        let r = v as f32 + 0.05 * noise() - chord as f32;
        inter.push(l);
        inter.push(r);
    }
    AudioBuffer::new(SR, 2, inter)
}

fn onsets(l: &Lyrics) -> Vec<f64> {
    l.lines
        .iter()
        .flat_map(|x| x.words.iter().map(|w| w.start_s.unwrap()))
        .collect()
}

#[test]
fn full_mode_finds_sung_words_among_accompaniment() {
    let words = [
        (3.0, 3.8),
        (4.0, 4.6),
        (4.8, 5.9),
        (10.0, 10.7),
        (10.9, 11.8),
        (12.0, 13.0),
    ];
    let audio = song(&words, 16.0);
    let lyrics = Lyrics::from_plain_text("la lo le\nna no ne\n");
    let options = AlignOptions {
        mode: Mode::Full,
        ..AlignOptions::default()
    };
    let out = Aligner::new(BroadClassModel::default(), options)
        .align_audio(&audio, &lyrics)
        .unwrap();
    let got = onsets(&out);
    for (g, (want, _)) in got.iter().zip(words) {
        assert!((g - want).abs() < 0.3, "{got:?}");
    }
    assert!(
        (out.lines[1].start_s.unwrap() - 10.0).abs() < 0.3,
        "{out:?}"
    );
    for w in out.lines.iter().flat_map(|l| &l.words) {
        let c = w.confidence.unwrap();
        assert!(c > 0.5 && c <= 1.0, "{w:?}");
    }
}

#[test]
fn hints_place_a_line_the_audio_alone_cannot() {
    // Three sung phrases of the same length but only two lyric lines of the same shape: the
    // audio cannot tell which phrase the second line is. A transcript heard it in the third.
    let words = [
        (2.0, 2.8),
        (3.0, 3.8),
        (8.0, 8.8),
        (9.0, 9.8),
        (14.0, 14.8),
        (15.0, 15.8),
    ];
    let audio = song(&words, 18.0);
    let lyrics = Lyrics::from_plain_text("la lo\nna no\n");
    let options = AlignOptions {
        mode: Mode::Full,
        ..AlignOptions::default()
    };
    let aligner = Aligner::new(BroadClassModel::default(), options);
    let features = encore_lyrics::extract_features(&audio).unwrap();
    let hinted = |hints: &[Option<(f64, f64)>]| {
        let out = aligner
            .align_features_with_hints(&features, &lyrics, hints)
            .unwrap();
        out.lines[1].start_s.unwrap()
    };
    let third = hinted(&[None, None, Some((14.1, 14.7)), Some((15.0, 15.9))]);
    assert!((third - 14.0).abs() < 0.3, "line 2 at {third}");
    let second = hinted(&[None, None, Some((8.2, 8.6)), None]);
    assert!((second - 8.0).abs() < 0.3, "line 2 at {second}");
    // Hints must cover every word, or be empty.
    let err = aligner.align_features_with_hints(&features, &lyrics, &[None]);
    assert!(
        matches!(err, Err(encore_lyrics::Error::Invalid(_))),
        "{err:?}"
    );
}

#[test]
fn refine_mode_keeps_line_times_and_finds_words() {
    let words = [(2.0, 2.5), (3.5, 4.2), (4.4, 5.0), (8.0, 8.6), (9.5, 10.5)];
    let audio = song(&words, 12.0);
    let lyrics = parse(
        "[00:02.00]ma mi mo\n[00:06.00]\n[00:08.00]ta ti\n[00:11.00]\n",
        Format::Lrc,
    )
    .unwrap();
    let options = AlignOptions {
        mode: Mode::Refine,
        ..AlignOptions::default()
    };
    let out = Aligner::new(BroadClassModel::default(), options)
        .align_audio(&audio, &lyrics)
        .unwrap();
    assert_eq!(out.lines[0].start_s, Some(2.0));
    let got = onsets(&out);
    for (g, (want, _)) in got.iter().zip(words) {
        assert!((g - want).abs() < 0.3, "{got:?}");
    }
}

#[test]
fn refine_needs_line_times() {
    let audio = song(&[(1.0, 2.0)], 3.0);
    let options = AlignOptions {
        mode: Mode::Refine,
        ..AlignOptions::default()
    };
    let err = Aligner::new(BroadClassModel::default(), options)
        .align_audio(&audio, &Lyrics::from_plain_text("la"));
    assert!(
        matches!(err, Err(encore_lyrics::Error::Invalid(_))),
        "{err:?}"
    );
}

#[test]
fn empty_lyrics_are_an_error_not_a_panic() {
    let audio = song(&[], 1.0);
    let err = Aligner::new(BroadClassModel::default(), AlignOptions::default())
        .align_audio(&audio, &Lyrics::from_plain_text("... -- !!"));
    assert!(err.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Whatever the audio and text, every word gets a time inside the audio, in order, with a
    /// confidence in [0, 1].
    #[test]
    fn word_times_are_ordered_and_inside_the_audio(
        seed in 0u64..1000,
        lines in prop::collection::vec(prop::collection::vec("[a-zé]{1,8}", 1..6), 1..6),
        secs in 1.0f64..8.0,
    ) {
        let n = (secs * f64::from(SR)) as usize;
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let samples: Vec<f32> = (0..n).map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        }).collect();
        let audio = AudioBuffer::mono(SR, samples);
        let text: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
        let lyrics = Lyrics::from_plain_text(&text.join("\n"));
        let out = Aligner::new(BroadClassModel::default(), AlignOptions::default()).align_audio(&audio, &lyrics).unwrap();
        let mut prev = 0.0;
        for w in out.lines.iter().flat_map(|l| &l.words) {
            let (a, b) = (w.start_s.unwrap(), w.end_s.unwrap());
            prop_assert!(a >= prev - 1e-9 && b >= a && b <= secs + 0.1, "{w:?} after {prev}");
            let c = w.confidence.unwrap();
            prop_assert!((0.0..=1.0).contains(&c));
            prev = a;
        }
    }
}
