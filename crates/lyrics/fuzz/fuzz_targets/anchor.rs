//! Fuzz target: matching a transcript to lyrics never panics, gives one hint per lyric token,
//! and hints follow the lyrics' order. The input's first half is the lyrics, the second the
//! transcript (one word per whitespace-separated token, times from the bytes).
#![no_main]

use encore_lyrics::{HeardWord, Language, Lyrics, anchor_words, tokenize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let (sung, heard) = text.split_at(cut);
    let lyrics = Lyrics::from_plain_text(sung);
    let heard: Vec<HeardWord> = heard
        .split_whitespace()
        .enumerate()
        .map(|(k, w)| HeardWord {
            text: w.to_string(),
            start_s: k as f64 * 0.5 - (w.len() % 3) as f64,
            end_s: k as f64 * 0.5 + 0.3,
        })
        .collect();
    for lang in [Language::En, Language::Zh] {
        let hints = anchor_words(&lyrics, &lang, &heard);
        let tokens: usize = lyrics.lines.iter().map(|l| tokenize(&l.text, &lang).len()).sum();
        assert_eq!(hints.len(), tokens);
        let starts: Vec<f64> = hints.iter().flatten().map(|h| h.0).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }
});
