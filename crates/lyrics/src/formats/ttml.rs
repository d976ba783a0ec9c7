//! TTML as Apple Music uses it: `<tt itunes:timing="Word">`, one `<p begin end>` per line and one
//! `<span begin end>` per word (syllable spans without spaces between them join into one word).

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_xml_entity};
use quick_xml::events::{BytesStart, Event};

use super::{MAX_TIME_S, parse_clock};
use crate::doc::{Line, Lyrics, Word};
use crate::error::{Error, Result, parse_err};

const FMT: &str = "TTML";
const MAX_DEPTH: usize = 64;

/// TTML time expression: clock time (`hh:mm:ss.fff`, Apple's `m:ss.fff`, `ss.fff`) or offset
/// time (`12.5s`, `1500ms`, `0.5m`, `1h`).
fn ttml_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return parse_clock(s);
    };
    if num.contains(':') {
        return None;
    }
    let t = parse_clock(num)? * scale;
    (t <= MAX_TIME_S).then_some(t)
}

fn line_of(text: &str, pos: u64) -> usize {
    let pos = (pos as usize).min(text.len());
    text.as_bytes()[..pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Open {
    begin: Option<f64>,
    end: Option<f64>,
}

fn times(e: &BytesStart<'_>, text: &str, pos: u64) -> Result<Open> {
    let mut open = Open {
        begin: None,
        end: None,
    };
    let mut dur = None;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| parse_err(FMT, line_of(text, pos), err.to_string()))?;
        let key = attr.key.local_name();
        let slot = match key.as_ref() {
            b"begin" => &mut open.begin,
            b"end" => &mut open.end,
            b"dur" => &mut dur,
            _ => continue,
        };
        let value = attr
            .unescape_value()
            .map_err(|err| parse_err(FMT, line_of(text, pos), err.to_string()))?;
        let t = ttml_time(&value).ok_or_else(|| {
            parse_err(FMT, line_of(text, pos), format!("malformed time {value:?}"))
        })?;
        *slot = Some(t);
    }
    if open.end.is_none()
        && let (Some(b), Some(d)) = (open.begin, dur)
    {
        open.end = Some(b + d);
    }
    Ok(open)
}

pub(super) fn parse(text: &str) -> Result<Lyrics> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut meta = Vec::new();
    let mut lines = Vec::new();
    let mut depth = 0usize;
    // The `<p>` being read, its collected text, and the open spans inside it.
    let mut para: Option<(Open, String, Vec<Word>)> = None;
    let mut spans: Vec<Option<usize>> = Vec::new();
    // True after whitespace (or at the start of a line): the next span text starts a word.
    let mut at_boundary = true;
    let mut in_br = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| parse_err(FMT, line_of(text, reader.error_position()), e.to_string()))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Error::Limit {
                        what: "TTML nesting depth",
                        got: depth as u64,
                        limit: MAX_DEPTH as u64,
                    });
                }
                match e.local_name().as_ref() {
                    b"tt" => {
                        for attr in e.attributes().flatten() {
                            if attr.key.local_name().as_ref() == b"lang"
                                && let Ok(v) = attr.unescape_value()
                            {
                                meta.push(("lang".to_string(), v.into_owned()));
                            }
                        }
                    }
                    b"p" => {
                        if para.is_some() {
                            return Err(parse_err(FMT, line_of(text, pos), "<p> inside <p>"));
                        }
                        para = Some((times(&e, text, pos)?, String::new(), Vec::new()));
                        at_boundary = true;
                    }
                    b"span" => {
                        let open = times(&e, text, pos)?;
                        if let Some((_, _, words)) = para.as_mut() {
                            if open.begin.is_some() {
                                words.push(Word {
                                    text: String::new(),
                                    start_s: open.begin,
                                    end_s: open.end,
                                    confidence: None,
                                });
                                spans.push(Some(words.len() - 1));
                            } else {
                                spans.push(None);
                            }
                        } else {
                            spans.push(None);
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(e) if e.local_name().as_ref() == b"br" && para.is_some() => {
                in_br = true;
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"p" => {
                        if let Some((open, mut line_text, words)) = para.take() {
                            line_text = line_text.split_whitespace().collect::<Vec<_>>().join(" ");
                            let words = merge_syllables(words);
                            let mut line = Line::new(line_text);
                            line.start_s =
                                open.begin.or_else(|| words.first().and_then(|w| w.start_s));
                            line.end_s = open.end.or_else(|| words.last().and_then(|w| w.end_s));
                            line.words = words;
                            if !line.text.is_empty() {
                                lines.push(line);
                            }
                        }
                        spans.clear();
                    }
                    b"span" => {
                        spans.pop();
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                let s = t
                    .xml_content()
                    .map_err(|e| parse_err(FMT, line_of(text, pos), e.to_string()))?;
                push_text(&mut para, &spans, &s, &mut at_boundary, &mut in_br);
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| parse_err(FMT, line_of(text, pos), e.to_string()))?;
                push_text(&mut para, &spans, &s, &mut at_boundary, &mut in_br);
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = r
                            .decode()
                            .map_err(|e| parse_err(FMT, line_of(text, pos), e.to_string()))?;
                        resolve_xml_entity(&name)
                            .ok_or_else(|| {
                                parse_err(
                                    FMT,
                                    line_of(text, pos),
                                    format!("unknown entity &{name};"),
                                )
                            })?
                            .to_string()
                    }
                };
                push_text(&mut para, &spans, &s, &mut at_boundary, &mut in_br);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(parse_err(
            FMT,
            line_of(text, text.len() as u64),
            "document ends inside an element",
        ));
    }
    Ok(Lyrics { meta, lines })
}

fn push_text(
    para: &mut Option<(Open, String, Vec<Word>)>,
    spans: &[Option<usize>],
    s: &str,
    at_boundary: &mut bool,
    in_br: &mut bool,
) {
    let Some((_, line_text, words)) = para.as_mut() else {
        return;
    };
    if std::mem::take(in_br) {
        line_text.push(' ');
    }
    line_text.push_str(s);
    let target = spans.iter().rev().find_map(|x| *x);
    match target {
        Some(i) => {
            if let Some(w) = words.get_mut(i) {
                w.text.push_str(s);
                // Remember whether this span began a new word (mark with a leading space).
                if w.text.len() == s.len() && !*at_boundary {
                    w.text.insert(0, '\u{1}');
                }
            }
            *at_boundary = s.ends_with(char::is_whitespace);
        }
        None => {
            if s.chars().any(char::is_whitespace) || !s.is_empty() && spans.is_empty() {
                *at_boundary = true;
            }
        }
    }
}

/// Joins syllable spans written without whitespace between them into words.
fn merge_syllables(spans: Vec<Word>) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    for mut w in spans {
        let glued = w.text.starts_with('\u{1}');
        w.text = w.text.trim_start_matches('\u{1}').trim().to_string();
        if w.text.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(prev) if glued => {
                prev.text.push_str(&w.text);
                prev.end_s = w.end_s.or(prev.end_s);
            }
            _ => out.push(w),
        }
    }
    out
}

fn stamp(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

pub(super) fn write(lyrics: &Lyrics) -> String {
    let word_timed = lyrics.lines.iter().any(|l| !l.words.is_empty());
    let lang = lyrics.meta("lang").unwrap_or("und");
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<tt xmlns=\"http://www.w3.org/ns/ttml\" xmlns:itunes=\"http://music.apple.com/lyric-ttml-internal\" itunes:timing=\"{}\" xml:lang=\"{}\">",
        if word_timed { "Word" } else { "Line" },
        escape(lang)
    );
    let end = lyrics
        .lines
        .iter()
        .filter_map(|l| l.end_s.or(l.start_s))
        .reduce(f64::max)
        .unwrap_or(0.0);
    let _ = writeln!(out, "  <body dur=\"{}\">\n    <div>", stamp(end));
    for (i, line) in lyrics.lines.iter().enumerate() {
        let b = line.start_s.unwrap_or(0.0);
        let e = line.end_s.unwrap_or(b);
        let _ = write!(
            out,
            "      <p begin=\"{}\" end=\"{}\" itunes:key=\"L{}\">",
            stamp(b),
            stamp(e),
            i + 1
        );
        if line.words.is_empty() {
            out.push_str(&escape(line.text.as_str()));
        } else {
            for (k, w) in line.words.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                let wb = w.start_s.unwrap_or(b);
                let we = w.end_s.unwrap_or(wb);
                let _ = write!(
                    out,
                    "<span begin=\"{}\" end=\"{}\">{}</span>",
                    stamp(wb),
                    stamp(we),
                    escape(w.text.as_str())
                );
            }
        }
        out.push_str("</p>\n");
    }
    out.push_str("    </div>\n  </body>\n</tt>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLE: &str = r#"<tt xmlns="http://www.w3.org/ns/ttml" xmlns:itunes="http://music.apple.com/lyric-ttml-internal" itunes:timing="Word" xml:lang="en"><head><metadata/></head><body dur="1:10.5"><div begin="9.1" end="20.2">
<p begin="9.100" end="12.5" itunes:key="L1"><span begin="9.100" end="9.6">Hel</span><span begin="9.6" end="10.0">lo</span> <span begin="10.2" end="12.5">there &amp; you</span></p>
<p begin="1:01.25" end="1:05" itunes:key="L2">Line &#233;only</p>
</div></body></tt>"#;

    #[test]
    fn reads_apple_music_ttml() {
        let l = parse(APPLE).unwrap();
        assert_eq!(l.meta("lang"), Some("en"));
        assert_eq!(l.lines.len(), 2);
        let w = &l.lines[0].words;
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].text, "Hello");
        assert_eq!((w[0].start_s, w[0].end_s), (Some(9.1), Some(10.0)));
        assert_eq!(w[1].text, "there & you");
        assert_eq!(l.lines[0].text, "Hello there & you");
        assert_eq!(l.lines[1].start_s, Some(61.25));
        assert_eq!(l.lines[1].text, "Line éonly");
    }

    #[test]
    fn offset_times() {
        assert_eq!(ttml_time("12.5s"), Some(12.5));
        assert_eq!(ttml_time("1500ms"), Some(1.5));
        assert_eq!(ttml_time("00:01:02.250"), Some(62.25));
        assert_eq!(ttml_time("1:2:3s"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "<tt>\n<body>\n<p begin=\"x1\">a</p></body></tt>";
        assert!(
            matches!(parse(bad), Err(Error::Parse { line: 3, .. })),
            "{:?}",
            parse(bad)
        );
        let unclosed = "<tt>\n<body><p begin=\"1\">a</body></tt>";
        assert!(matches!(parse(unclosed), Err(Error::Parse { .. })));
        let deep = "<a>".repeat(100);
        assert!(matches!(parse(&deep), Err(Error::Limit { .. })));
    }

    #[test]
    fn escapes_on_write() {
        let mut line = Line::new("<a> & b");
        line.start_s = Some(1.0);
        line.end_s = Some(2.0);
        line.words = vec![
            Word::timed("<a>", 1.0, 1.5),
            Word::timed("&", 1.5, 1.7),
            Word::timed("b", 1.7, 2.0),
        ];
        let text = write(&Lyrics {
            meta: vec![],
            lines: vec![line.clone()],
        });
        let back = parse(&text).unwrap();
        assert_eq!(back.lines[0].text, "<a> & b");
        assert_eq!(back.lines[0].words.len(), 3);
    }
}
