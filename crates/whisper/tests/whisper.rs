//! Whisper itself (SKIPs when `scripts/install-deps.sh` has not installed it).

use encore_lyrics::{Language, Line, Lyrics, Word};
use encore_whisper::{Installation, Whisper, WhisperAudio};

fn whisper() -> Option<Whisper> {
    let installation = Installation::default_location();
    if !installation.is_present() {
        eprintln!("SKIP whisper tests: no Whisper in ~/.cache/encore (scripts/install-deps.sh)");
        return None;
    }
    Some(Whisper::start(&installation, true).unwrap())
}

fn line(start_s: f64, end_s: f64, words: usize) -> Line {
    Line {
        start_s: Some(start_s),
        end_s: Some(end_s),
        text: vec!["la"; words].join(" "),
        words: (0..words)
            .map(|_| Word {
                text: "la".into(),
                start_s: None,
                end_s: None,
                confidence: None,
            })
            .collect(),
    }
}

#[test]
fn lines_too_long_to_share_a_window_are_looked_for_one_by_one() {
    let Some(mut whisper) = whisper() else {
        return;
    };
    let audio = WhisperAudio::from_mono(&vec![0.0; 16_000 * 20], 16_000).unwrap();
    // Three close lines share one window, but their 480 words are more tokens than Whisper's
    // decoder takes (448): each is asked alone, and every word gets a start.
    let lyrics = Lyrics {
        lines: vec![
            line(1.0, 3.0, 160),
            line(4.0, 6.0, 160),
            line(7.0, 9.0, 160),
        ],
        ..Lyrics::default()
    };
    let starts = whisper
        .starts_around_lines(&audio, &lyrics, &Language::En, 8.0)
        .unwrap();
    assert_eq!(starts.len(), 480);
    assert!(starts.iter().all(Option::is_some), "{starts:?}");
    // A line too long on its own has no opinion; its neighbours still do.
    let lyrics = Lyrics {
        lines: vec![line(1.0, 3.0, 5), line(4.0, 6.0, 500), line(7.0, 9.0, 5)],
        ..Lyrics::default()
    };
    let starts = whisper
        .starts_around_lines(&audio, &lyrics, &Language::En, 8.0)
        .unwrap();
    assert_eq!(starts.len(), 510);
    assert!(starts[..5].iter().all(Option::is_some));
    assert!(starts[5..505].iter().all(Option::is_none));
    assert!(starts[505..].iter().all(Option::is_some));
}
