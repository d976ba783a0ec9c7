//! Anchors for full mode from a transcript: the words a speech recogniser heard, with times,
//! matched to the lyrics' words by a monotonic text alignment. A matched word gets the heard
//! word's span as a hint of where it is sung ([`Aligner::align_features_with_hints`]).
//!
//! The recogniser may mishear, skip a repeated chorus, or invent text over instrumental parts;
//! the alignment keeps the heaviest chain of similar words in order, and a match only counts
//! inside a run of matches close together in both texts and in time (two words, three Han
//! characters, and more for words the lyrics repeat), so lone coincidences (one common word
//! heard far from where it is sung) are dropped, and so are the recogniser's loops (one word
//! heard over and over).
//!
//! [`Aligner::align_features_with_hints`]: crate::Aligner::align_features_with_hints

use crate::doc::Lyrics;
use crate::text::{Language, is_han, normalize, tokenize};

/// One word a recogniser heard, in seconds from the start of the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct HeardWord {
    /// The word as transcribed (punctuation and case are ignored).
    pub text: String,
    /// Start in seconds.
    pub start_s: f64,
    /// End in seconds.
    pub end_s: f64,
}

/// Least similarity (1 - edit distance / longer length) for two words to match.
const MIN_SIMILARITY: f64 = 0.6;
/// Two matches support each other when both their lyric and heard positions are this close.
const NEIGHBOUR: usize = 3;
/// Matches in one run are heard at most this far apart.
const RUN_GAP_S: f64 = 5.0;
/// This many equal heard units in a row are a recogniser's loop, not singing.
const LOOP: usize = 4;
/// Most cells of the text alignment (lyric units x heard units); beyond it, no anchors.
const MAX_CELLS: usize = 16_000_000;

/// For every token of `lyrics` (the order of [`tokenize`] over all lines), the span of the heard
/// word it matched, or `None`. `heard` may come in any order and contain anything; words with
/// times that are not finite or run backwards are ignored.
pub fn anchor_words(
    lyrics: &Lyrics,
    lang: &Language,
    heard: &[HeardWord],
) -> Vec<Option<(f64, f64)>> {
    let sung: Vec<Vec<char>> = lyrics
        .lines
        .iter()
        .flat_map(|l| tokenize(&l.text, lang))
        .map(|t| t.spoken.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    let units = heard_units(heard, lang);
    let mut out = vec![None; sung.len()];
    if sung.is_empty() || units.is_empty() || sung.len().saturating_mul(units.len()) > MAX_CELLS {
        return out;
    }
    // A word sung k times in the lyrics says 1/k as much about where it is.
    let mut counts: std::collections::HashMap<&[char], usize> = std::collections::HashMap::new();
    for w in &sung {
        *counts.entry(w.as_slice()).or_default() += 1;
    }
    let weight: Vec<f64> = sung
        .iter()
        .map(|w| 1.0 / counts[w.as_slice()] as f64)
        .collect();
    let pairs = heaviest_chain(&sung, &weight, &units);
    // Runs of matches, each within NEIGHBOUR words and RUN_GAP_S of the one before; a run needs two matches (three
    // for Han characters, where one syllable matches by chance far more often than a word) and
    // a total weight of one (two different words, or three words of a chorus sung three times;
    // never a string of "ooh"s).
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start + 1;
        while end < pairs.len() && {
            let ((i0, j0), (i1, j1)) = (pairs[end - 1], pairs[end]);
            i1 - i0 <= NEIGHBOUR && j1 - j0 <= NEIGHBOUR && units[j1].1 - units[j0].1 <= RUN_GAP_S
        } {
            end += 1;
        }
        let run = &pairs[start..end];
        let han = run
            .iter()
            .any(|&(i, _)| sung[i].iter().copied().any(is_han));
        let total: f64 = run.iter().map(|&(i, _)| weight[i]).sum();
        if run.len() >= if han { 3 } else { 2 } && total >= 1.0 - 1e-9 {
            for &(i, j) in run {
                out[i] = Some((units[j].1, units[j].2));
            }
        }
        start = end;
    }
    out
}

/// The heard words as comparable units (normalised letters, start, end) in time order; a heard
/// word with Han characters becomes one unit per character, its span shared out evenly.
fn heard_units(heard: &[HeardWord], lang: &Language) -> Vec<(Vec<char>, f64, f64)> {
    let mut words: Vec<&HeardWord> = heard
        .iter()
        .filter(|w| w.start_s.is_finite() && w.end_s.is_finite() && w.end_s >= w.start_s)
        .collect();
    words.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let mut units = Vec::new();
    for w in words {
        let spoken = normalize(&w.text, lang);
        if spoken.chars().any(is_han) {
            let chars: Vec<char> = spoken.chars().filter(|&c| is_han(c)).collect();
            let step = (w.end_s - w.start_s) / chars.len() as f64;
            for (k, c) in chars.into_iter().enumerate() {
                let a = w.start_s + step * k as f64;
                units.push((vec![c], a, a + step));
            }
        } else {
            // "l'amour" is one heard word but two lyric tokens' worth of letters: keep it whole,
            // as lyric tokens keep theirs.
            let letters: Vec<char> = spoken.chars().filter(|c| !c.is_whitespace()).collect();
            if !letters.is_empty() {
                units.push((letters, w.start_s, w.end_s));
            }
        }
    }
    drop_loops(units)
}

/// A recogniser stuck in a loop repeats one word (Whisper: "oh, oh, oh, ..." over a whole
/// instrumental part); runs of [`LOOP`] or more equal units in a row are dropped.
fn drop_loops(units: Vec<(Vec<char>, f64, f64)>) -> Vec<(Vec<char>, f64, f64)> {
    let mut out = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let end = (i..units.len())
            .find(|&j| units[j].0 != units[i].0)
            .unwrap_or(units.len());
        if end - i < LOOP {
            out.extend_from_slice(&units[i..end]);
        }
        i = end;
    }
    out
}

/// Similarity of two words in [0, 1]: 1 - Levenshtein distance / the longer length. Words of
/// one or two letters must be equal.
fn similarity(a: &[char], b: &[char]) -> f64 {
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 0.0;
    }
    if longer <= 2 {
        return if a == b { 1.0 } else { 0.0 };
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    1.0 - row[b.len()] as f64 / longer as f64
}

/// The in-order pairs (lyric unit, heard unit) of greatest total similarity times the lyric
/// unit's `weight`, counting only pairs at least [`MIN_SIMILARITY`] alike (a weighted longest
/// common subsequence).
fn heaviest_chain(
    sung: &[Vec<char>],
    weight: &[f64],
    heard: &[(Vec<char>, f64, f64)],
) -> Vec<(usize, usize)> {
    let (n, m) = (sung.len(), heard.len());
    // score[i][j]: best total over sung[..i] and heard[..j]; move: 0 skip sung, 1 skip heard,
    // 2 match.
    let mut score = vec![0.0f32; (n + 1) * (m + 1)];
    let mut moves = vec![0u8; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in 1..=n {
        for j in 1..=m {
            let mut best = score[at(i - 1, j)];
            let mut mv = 0u8;
            if score[at(i, j - 1)] > best {
                best = score[at(i, j - 1)];
                mv = 1;
            }
            let s = similarity(&sung[i - 1], &heard[j - 1].0);
            if s >= MIN_SIMILARITY {
                let v = score[at(i - 1, j - 1)] + (s * weight[i - 1]) as f32;
                if v > best {
                    best = v;
                    mv = 2;
                }
            }
            score[at(i, j)] = best;
            moves[at(i, j)] = mv;
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        match moves[at(i, j)] {
            2 => {
                pairs.push((i - 1, j - 1));
                i -= 1;
                j -= 1;
            }
            1 => j -= 1,
            _ => i -= 1,
        }
    }
    pairs.reverse();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn heard(words: &[(&str, f64)]) -> Vec<HeardWord> {
        words
            .iter()
            .map(|&(t, s)| HeardWord {
                text: t.to_string(),
                start_s: s,
                end_s: s + 0.4,
            })
            .collect()
    }

    #[test]
    fn similar_words_in_order_become_anchors() {
        let lyrics = Lyrics::from_plain_text("Hello darling, my sweet love\nGoodbye tonight");
        let got = anchor_words(
            &lyrics,
            &Language::En,
            &heard(&[
                ("Hello", 1.0),
                ("darlin'", 1.5),
                ("my", 2.0),
                ("sweat", 2.5),
                ("love.", 3.0),
                ("goodbye", 6.0),
                ("to-night", 6.5),
            ]),
        );
        let starts: Vec<Option<f64>> = got.iter().map(|h| h.map(|(s, _)| s)).collect();
        assert_eq!(
            starts,
            vec![
                Some(1.0),
                Some(1.5),
                Some(2.0),
                Some(2.5),
                Some(3.0),
                Some(6.0),
                Some(6.5)
            ]
        );
    }

    #[test]
    fn a_lone_match_far_from_the_others_is_dropped() {
        // "love" is heard once, at 90 s, between unrelated words: no neighbour supports it.
        let lyrics = Lyrics::from_plain_text("one two three\nlove is here\nfour five six");
        let got = anchor_words(
            &lyrics,
            &Language::En,
            &heard(&[
                ("one", 1.0),
                ("two", 1.5),
                ("three", 2.0),
                ("xylophone", 50.0),
                ("banana", 70.0),
                ("kitchen", 80.0),
                ("love", 90.0),
                ("zebra", 95.0),
                ("carpet", 97.0),
                ("window", 99.0),
            ]),
        );
        assert_eq!(got[0], Some((1.0, 1.4)));
        assert_eq!(got[3], None, "lone match kept: {got:?}");
        assert!(got[4..].iter().all(Option::is_none));
    }

    #[test]
    fn loops_and_vocables_give_no_anchors() {
        let lyrics = Lyrics::from_plain_text(
            "soy un fantasma\nooh ooh ooh ooh\nla tristeza es\nooh ooh yeah ooh ooh",
        );
        let mut h = heard(&[("Soy", 1.0), ("un", 1.5), ("fantasma,", 2.0)]);
        // Stuck in a loop over the instrumental part.
        h.extend((0..30).map(|k| HeardWord {
            text: "oh,".into(),
            start_s: 5.0 + 0.1 * f64::from(k),
            end_s: 5.1 + 0.1 * f64::from(k),
        }));
        h.extend(heard(&[("la", 20.0), ("tristeza", 20.5), ("oh", 30.0)]));
        let got = anchor_words(&lyrics, &Language::Es, &h);
        let anchored: Vec<usize> = (0..got.len()).filter(|&i| got[i].is_some()).collect();
        assert_eq!(anchored, vec![0, 1, 2, 7, 8], "{got:?}");
        // The loop is gone; the "ooh" heard once stays but anchors nothing on its own.
        assert_eq!(heard_units(&h, &Language::Es).len(), 6);
    }

    #[test]
    fn han_characters_match_one_by_one() {
        let lyrics = Lyrics::from_plain_text("我爱你\n再见");
        let h = vec![
            HeardWord {
                text: "我爱你".into(),
                start_s: 3.0,
                end_s: 4.5,
            },
            HeardWord {
                text: "再见。".into(),
                start_s: 6.0,
                end_s: 7.0,
            },
        ];
        let got = anchor_words(&lyrics, &Language::Zh, &h);
        assert_eq!(
            got,
            vec![
                Some((3.0, 3.5)),
                Some((3.5, 4.0)),
                Some((4.0, 4.5)),
                Some((6.0, 6.5)),
                Some((6.5, 7.0))
            ]
        );
    }

    #[test]
    fn nothing_heard_or_nonsense_times_give_no_anchors() {
        let lyrics = Lyrics::from_plain_text("one two three");
        assert_eq!(anchor_words(&lyrics, &Language::En, &[]), vec![None; 3]);
        let bad = vec![
            HeardWord {
                text: "one".into(),
                start_s: f64::NAN,
                end_s: 1.0,
            },
            HeardWord {
                text: "two".into(),
                start_s: 5.0,
                end_s: 4.0,
            },
        ];
        assert_eq!(anchor_words(&lyrics, &Language::En, &bad), vec![None; 3]);
    }

    #[test]
    fn similarity_is_edit_distance_based() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(similarity(&c("love"), &c("love")), 1.0);
        assert_eq!(similarity(&c("love"), &c("live")), 0.75);
        assert_eq!(similarity(&c("a"), &c("i")), 0.0);
        assert_eq!(similarity(&c(""), &c("")), 0.0);
    }

    proptest! {
        /// Anchors follow the lyrics' order: a later word never gets an earlier heard span.
        #[test]
        fn anchors_are_in_order(
            sung in proptest::collection::vec("[a-c]{1,4}", 1..30),
            heard_text in proptest::collection::vec(("[a-c]{1,4}", 0.0f64..100.0), 0..40),
        ) {
            let lyrics = Lyrics::from_plain_text(&sung.join(" "));
            let h: Vec<HeardWord> = heard_text
                .iter()
                .map(|(t, s)| HeardWord { text: t.clone(), start_s: *s, end_s: s + 0.1 })
                .collect();
            let got = anchor_words(&lyrics, &Language::En, &h);
            prop_assert_eq!(got.len(), sung.len());
            let starts: Vec<f64> = got.iter().flatten().map(|(s, _)| *s).collect();
            prop_assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{:?}", starts);
        }
    }
}
