//! Property tests: what the writers produce, the parsers read back.

use encore_lyrics::{Format, Line, Lyrics, Word, parse, write};
use proptest::prelude::*;

fn lyrics_strategy() -> impl Strategy<Value = Lyrics> {
    let word = "[A-Za-zéü'!?,]{1,10}";
    let line = (
        prop::collection::vec(word, 1..7),
        0u32..100_000,
        prop::collection::vec(1u32..300, 7),
    );
    prop::collection::vec(line, 1..8).prop_map(|lines| {
        let mut t = 0.0;
        let mut out = Vec::new();
        for (words, gap, durs) in lines {
            t += f64::from(gap % 5000) / 100.0;
            let start = t;
            let mut ws = Vec::new();
            for (w, d) in words.iter().zip(durs) {
                let s = t;
                t += f64::from(d) / 100.0;
                ws.push(Word::timed(w.clone(), s, t));
            }
            let mut l = Line::new(words.join(" "));
            l.start_s = Some(start);
            l.end_s = Some(t);
            l.words = ws;
            out.push(l);
            t += 0.5;
        }
        Lyrics {
            meta: Vec::new(),
            lines: out,
        }
    })
}

proptest! {
    #[test]
    fn word_formats_round_trip(lyrics in lyrics_strategy()) {
        for (format, tol) in [(Format::Elrc, 0.006), (Format::Ttml, 0.0006), (Format::Vtt, 0.0006), (Format::Json, 1e-9)] {
            let text = write(&lyrics, format);
            let back = parse(&text, format).unwrap();
            prop_assert_eq!(back.lines.len(), lyrics.lines.len());
            for (a, b) in lyrics.lines.iter().zip(&back.lines) {
                prop_assert_eq!(&a.text, &b.text);
                prop_assert_eq!(a.words.len(), b.words.len(), "{:?}\n{}", format, text);
                for (v, w) in a.words.iter().zip(&b.words) {
                    prop_assert_eq!(&v.text, &w.text);
                    prop_assert!((v.start_s.unwrap() - w.start_s.unwrap()).abs() <= tol, "{:?} {:?} {:?}\n{}", format, v, w, text);
                }
            }
        }
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,300}") {
        for format in [Format::Lrc, Format::Ttml, Format::Srt, Format::Vtt, Format::Json, Format::Text] {
            let _ = parse(&text, format);
        }
    }

    #[test]
    fn lrc_line_times_round_trip(lyrics in lyrics_strategy()) {
        let text = write(&lyrics, Format::Lrc);
        let back = parse(&text, Format::Lrc).unwrap();
        for (a, b) in lyrics.lines.iter().zip(&back.lines) {
            prop_assert!((a.start_s.unwrap() - b.start_s.unwrap()).abs() <= 0.006);
        }
    }
}
