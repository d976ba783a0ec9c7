//! Lyric file formats: LRC, enhanced LRC, TTML (Apple Music style), SRT, WebVTT, JSON and plain text.

mod lrc;
mod subtitles;
mod ttml;

use crate::doc::Lyrics;
use crate::error::{Error, Result};

/// Largest lyrics file accepted, in bytes (protection against hostile input).
pub const MAX_INPUT_BYTES: usize = 4 << 20;
/// Most lines accepted in one file.
pub const MAX_LINES: usize = 20_000;
/// Most words accepted on one line.
pub const MAX_WORDS_PER_LINE: usize = 2_000;
/// Latest time accepted, in seconds (24 hours).
pub const MAX_TIME_S: f64 = 86_400.0;

/// A lyrics format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// LRC with line times (`[mm:ss.xx]text`), metadata tags, several times per line, `[offset:]`.
    Lrc,
    /// Enhanced LRC: LRC plus word times (`<mm:ss.xx>word`).
    Elrc,
    /// TTML as Apple Music uses it: `<p>` per line, `<span>` per word, `itunes:timing`.
    Ttml,
    /// SubRip subtitles (line times only).
    Srt,
    /// WebVTT; word times as cue timestamps (`<00:00:12.500>`).
    Vtt,
    /// This crate's JSON shape: `{"lines": [{"text", "start_s", "end_s", "words": [...]}]}`.
    Json,
    /// Plain text, one lyric line per line, no times.
    Text,
}

impl Format {
    /// The format named by a file extension (`lrc`, `ttml`, `xml`, `srt`, `vtt`, `json`, `txt`).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "lrc" => Some(Self::Lrc),
            "elrc" => Some(Self::Elrc),
            "ttml" | "xml" | "dfxp" => Some(Self::Ttml),
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::Vtt),
            "json" => Some(Self::Json),
            "txt" | "text" => Some(Self::Text),
            _ => None,
        }
    }

    /// The format named on a command line (`lrc`, `elrc`, `ttml`, `srt`, `vtt`, `json`, `text`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::from_extension(name)
    }

    /// Guesses the format from the content (used when the extension says nothing).
    pub fn sniff(text: &str) -> Self {
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if head.starts_with("WEBVTT") {
            Self::Vtt
        } else if head.starts_with('<') {
            Self::Ttml
        } else if head.starts_with('{') {
            Self::Json
        } else if head.starts_with('[') {
            if text.contains('<') && lrc::has_word_times(text) {
                Self::Elrc
            } else {
                Self::Lrc
            }
        } else if subtitles::looks_like_srt(head) {
            Self::Srt
        } else {
            Self::Text
        }
    }
}

/// Parses lyrics in `format`. LRC and enhanced LRC are read by the same parser.
///
/// Parsing is tolerant (blank lines, a byte-order mark, CRLF, unknown tags are accepted) but a
/// malformed time is an error naming the line.
pub fn parse(text: &str, format: Format) -> Result<Lyrics> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::Limit {
            what: "lyrics file size (bytes)",
            got: text.len() as u64,
            limit: MAX_INPUT_BYTES as u64,
        });
    }
    let text = text.trim_start_matches('\u{feff}');
    let lyrics = match format {
        Format::Lrc | Format::Elrc => lrc::parse(text)?,
        Format::Ttml => ttml::parse(text)?,
        Format::Srt => subtitles::parse_srt(text)?,
        Format::Vtt => subtitles::parse_vtt(text)?,
        Format::Json => parse_json(text)?,
        Format::Text => Lyrics::from_plain_text(text),
    };
    check_limits(&lyrics)?;
    Ok(lyrics)
}

/// Parses lyrics, guessing the format from the content.
pub fn parse_any(text: &str) -> Result<Lyrics> {
    parse(text, Format::sniff(text))
}

/// Writes lyrics in `format`. Missing times are written as zero where the format needs a time.
pub fn write(lyrics: &Lyrics, format: Format) -> String {
    match format {
        Format::Lrc => lrc::write(lyrics, false),
        Format::Elrc => lrc::write(lyrics, true),
        Format::Ttml => ttml::write(lyrics),
        Format::Srt => subtitles::write_srt(lyrics),
        Format::Vtt => subtitles::write_vtt(lyrics),
        Format::Json => to_json(lyrics),
        Format::Text => {
            let mut out = String::new();
            for line in &lyrics.lines {
                out.push_str(&line.text);
                out.push('\n');
            }
            out
        }
    }
}

fn to_json(lyrics: &Lyrics) -> String {
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(lyrics).unwrap_or_default() + "\n"
}

fn parse_json(text: &str) -> Result<Lyrics> {
    let lyrics: Lyrics = serde_json::from_str(text).map_err(|e| Error::Parse {
        format: "JSON",
        line: e.line(),
        message: e.to_string(),
    })?;
    for (i, line) in lyrics.lines.iter().enumerate() {
        let times = [line.start_s, line.end_s]
            .into_iter()
            .chain(line.words.iter().flat_map(|w| [w.start_s, w.end_s]));
        for t in times.flatten() {
            if !(0.0..=MAX_TIME_S).contains(&t) {
                return Err(Error::Invalid(format!(
                    "JSON lyric line {}: time {t} out of range",
                    i + 1
                )));
            }
        }
    }
    Ok(lyrics)
}

fn check_limits(lyrics: &Lyrics) -> Result<()> {
    if lyrics.lines.len() > MAX_LINES {
        return Err(Error::Limit {
            what: "lyric lines",
            got: lyrics.lines.len() as u64,
            limit: MAX_LINES as u64,
        });
    }
    if let Some(line) = lyrics
        .lines
        .iter()
        .find(|l| l.words.len() > MAX_WORDS_PER_LINE)
    {
        return Err(Error::Limit {
            what: "words on one line",
            got: line.words.len() as u64,
            limit: MAX_WORDS_PER_LINE as u64,
        });
    }
    Ok(())
}

/// Parses `[[hh:]mm:]ss[.frac]` or `mm:ss:cc` style clock text into seconds.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str| -> Option<f64> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        p.parse::<f64>().ok()
    };
    let t = match parts.as_slice() {
        [sec] => num(sec)?,
        [min, sec] => num(min)? * 60.0 + num(sec)?,
        [h, m, sec] => num(h)? * 3600.0 + num(m)? * 60.0 + num(sec)?,
        _ => return None,
    };
    (t.is_finite() && t <= MAX_TIME_S).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{Line, Word};

    fn sample() -> Lyrics {
        let mut l1 = Line::new("Hello bright world");
        l1.start_s = Some(1.5);
        l1.end_s = Some(3.2);
        l1.words = vec![
            Word::timed("Hello", 1.5, 2.0),
            Word::timed("bright", 2.0, 2.6),
            Word::timed("world", 2.6, 3.2),
        ];
        let mut l2 = Line::new("Ça & va \"bien\"");
        l2.start_s = Some(65.25);
        l2.end_s = Some(70.0);
        l2.words = vec![
            Word::timed("Ça", 65.25, 66.0),
            Word::timed("&", 66.0, 67.0),
            Word::timed("va", 67.0, 68.0),
            Word::timed("\"bien\"", 68.0, 70.0),
        ];
        Lyrics {
            meta: vec![("ti".into(), "Song".into()), ("ar".into(), "Me".into())],
            lines: vec![l1, l2],
        }
    }

    fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= tol,
            (None, None) => true,
            _ => false,
        }
    }

    fn assert_same(a: &Lyrics, b: &Lyrics, words: bool, tol: f64) {
        assert_eq!(a.lines.len(), b.lines.len(), "{a:?}\n{b:?}");
        for (x, y) in a.lines.iter().zip(&b.lines) {
            assert_eq!(x.text, y.text);
            assert!(close(x.start_s, y.start_s, tol), "{x:?} {y:?}");
            assert!(close(x.end_s, y.end_s, tol), "{x:?} {y:?}");
            if words {
                assert_eq!(x.words.len(), y.words.len(), "{x:?} {y:?}");
                for (v, w) in x.words.iter().zip(&y.words) {
                    assert_eq!(v.text, w.text);
                    assert!(close(v.start_s, w.start_s, tol), "{v:?} {w:?}");
                    assert!(close(v.end_s, w.end_s, tol), "{v:?} {w:?}");
                }
            }
        }
    }

    #[test]
    fn round_trips_every_format() {
        let src = sample();
        for (format, words, tol) in [
            (Format::Elrc, true, 0.006),
            (Format::Lrc, false, 0.006),
            (Format::Ttml, true, 0.0006),
            (Format::Vtt, true, 0.0006),
            (Format::Srt, false, 0.0006),
            (Format::Json, true, 1e-9),
        ] {
            let text = write(&src, format);
            let back = parse(&text, format).unwrap_or_else(|e| panic!("{format:?}: {e}\n{text}"));
            assert_same(&src, &back, words, tol);
            assert_eq!(Format::sniff(&text), format, "{text}");
            // Writing what was read gives the same text again.
            assert_eq!(write(&back, format), text, "{format:?}");
        }
    }

    #[test]
    fn clock_times() {
        for (s, want) in [
            ("12", Some(12.0)),
            ("01:02.5", Some(62.5)),
            ("1:00:00.25", Some(3600.25)),
            ("00:01:02,5", None),
            ("x", None),
            ("", None),
            ("-1", None),
        ] {
            assert_eq!(parse_clock(s), want, "{s}");
        }
    }

    #[test]
    fn oversized_input_is_a_limit_error() {
        let big = "a\n".repeat(MAX_INPUT_BYTES);
        assert!(matches!(
            parse(&big, Format::Text),
            Err(Error::Limit { .. })
        ));
        let many = "a\n".repeat(MAX_LINES + 1);
        assert!(matches!(
            parse(&many, Format::Text),
            Err(Error::Limit { .. })
        ));
    }

    #[test]
    fn sniffing() {
        assert_eq!(Format::sniff("[ti:x]\n[00:01.00]a"), Format::Lrc);
        assert_eq!(
            Format::sniff("[00:01.00]<00:01.00>a <00:02.00>b"),
            Format::Elrc
        );
        assert_eq!(
            Format::sniff("1\n00:00:01,000 --> 00:00:02,000\na\n"),
            Format::Srt
        );
        assert_eq!(Format::sniff("just words\nmore words"), Format::Text);
    }
}
