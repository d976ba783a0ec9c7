//! SubRip (`.srt`) and WebVTT (`.vtt`) cues as lyric lines; WebVTT cue timestamps
//! (`<00:00:12.500>`) carry word times.

use std::fmt::Write as _;

use super::parse_clock;
use crate::doc::{Line, Lyrics, Word};
use crate::error::{Result, parse_err};

pub(super) fn looks_like_srt(head: &str) -> bool {
    let mut it = head.lines().map(str::trim).filter(|l| !l.is_empty());
    matches!((it.next(), it.next()), (Some(n), Some(t)) if n.bytes().all(|b| b.is_ascii_digit()) && t.contains("-->"))
}

fn cue_time(s: &str, comma: bool) -> Option<f64> {
    let s = s.trim();
    let s = if comma {
        s.replacen(',', ".", 1)
    } else {
        s.to_string()
    };
    parse_clock(&s)
}

fn timing_line(format: &'static str, lineno: usize, l: &str, comma: bool) -> Result<(f64, f64)> {
    let (a, b) = l
        .split_once("-->")
        .ok_or_else(|| parse_err(format, lineno, "expected a timing line `start --> end`"))?;
    // WebVTT cue settings follow the end time.
    let b = b.split_whitespace().next().unwrap_or("");
    let start = cue_time(a, comma).ok_or_else(|| {
        parse_err(
            format,
            lineno,
            format!("malformed start time {:?}", a.trim()),
        )
    })?;
    let end = cue_time(b, comma)
        .ok_or_else(|| parse_err(format, lineno, format!("malformed end time {b:?}")))?;
    if end < start {
        return Err(parse_err(format, lineno, "cue ends before it starts"));
    }
    Ok((start, end))
}

/// Removes markup tags (`<i>`, `<c.x>`, `{\an8}`) from cue text.
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Blocks of non-empty lines with the 1-based number of their first line.
fn blocks(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut out: Vec<(usize, Vec<&str>)> = Vec::new();
    let mut cur: Option<(usize, Vec<&str>)> = None;
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_end();
        if l.trim().is_empty() {
            if let Some(b) = cur.take() {
                out.push(b);
            }
        } else {
            cur.get_or_insert_with(|| (i + 1, Vec::new())).1.push(l);
        }
    }
    out.extend(cur);
    out
}

pub(super) fn parse_srt(text: &str) -> Result<Lyrics> {
    let mut lines = Vec::new();
    for (first, block) in blocks(text) {
        let mut k = 0;
        if block[0].trim().bytes().all(|b| b.is_ascii_digit()) && block.len() > 1 {
            k = 1;
        }
        let (start, end) = timing_line("SRT", first + k, block[k], true)?;
        let body = block[k + 1..].join(" ");
        let mut line = Line::new(strip_tags(&body));
        line.start_s = Some(start);
        line.end_s = Some(end);
        lines.push(line);
    }
    Ok(Lyrics {
        meta: Vec::new(),
        lines,
    })
}

pub(super) fn parse_vtt(text: &str) -> Result<Lyrics> {
    let mut lines = Vec::new();
    let all = blocks(text);
    let Some((first, header)) = all.first() else {
        return Err(parse_err("WebVTT", 1, "empty file"));
    };
    if !header[0].starts_with("WEBVTT") {
        return Err(parse_err("WebVTT", *first, "missing WEBVTT header"));
    }
    for (first, block) in all.into_iter().skip(1) {
        let head = block[0].trim_start();
        if head.starts_with("NOTE") || head.starts_with("STYLE") || head.starts_with("REGION") {
            continue;
        }
        let k = usize::from(!block[0].contains("-->"));
        let Some(timing) = block.get(k) else {
            return Err(parse_err("WebVTT", first, "cue without a timing line"));
        };
        let (start, end) = timing_line("WebVTT", first + k, timing, false)?;
        let body = block[k + 1..].join(" ");
        let mut line = Line::new(strip_tags(&body));
        line.start_s = Some(start);
        line.end_s = Some(end);
        line.words = vtt_words(&body, start, end, first + k + 1)?;
        lines.push(line);
    }
    Ok(Lyrics {
        meta: Vec::new(),
        lines,
    })
}

/// Reads karaoke-style cue timestamps: each `<hh:mm:ss.mmm>` starts the following word.
fn vtt_words(body: &str, start: f64, end: f64, lineno: usize) -> Result<Vec<Word>> {
    let has_stamps = body
        .split('<')
        .skip(1)
        .any(|p| p.starts_with(|c: char| c.is_ascii_digit()));
    if !has_stamps {
        return Ok(Vec::new());
    }
    let mut words: Vec<Word> = Vec::new();
    let mut t = start;
    let mut rest = body;
    loop {
        let (before, after) = match rest.find('<') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        for (k, piece) in before.split_whitespace().enumerate() {
            let s = if k == 0 { Some(t) } else { None };
            words.push(Word {
                text: piece.to_string(),
                start_s: s,
                end_s: None,
                confidence: None,
            });
        }
        let Some(after) = after else { break };
        let Some((tag, tail)) = after.split_once('>') else {
            return Err(parse_err("WebVTT", lineno, "unclosed '<' in cue text"));
        };
        if tag.starts_with(|c: char| c.is_ascii_digit()) {
            t = cue_time(tag, false).ok_or_else(|| {
                parse_err("WebVTT", lineno, format!("malformed cue timestamp <{tag}>"))
            })?;
        }
        rest = tail;
    }
    let n = words.len();
    for i in 0..n {
        let next = words[i + 1..].iter().find_map(|w| w.start_s).unwrap_or(end);
        if words[i].start_s.is_some() {
            words[i].end_s = Some(next);
        }
    }
    Ok(words)
}

fn stamp(t: f64, sep: char) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

fn times(line: &Line) -> (f64, f64) {
    let s = line.start_s.unwrap_or(0.0);
    (s, line.end_s.unwrap_or(s).max(s))
}

pub(super) fn write_srt(lyrics: &Lyrics) -> String {
    let mut out = String::new();
    for (i, line) in lyrics.lines.iter().enumerate() {
        let (s, e) = times(line);
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            stamp(s, ','),
            stamp(e, ','),
            line.text
        );
    }
    out
}

pub(super) fn write_vtt(lyrics: &Lyrics) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for line in &lyrics.lines {
        let (s, e) = times(line);
        let _ = writeln!(out, "{} --> {}", stamp(s, '.'), stamp(e, '.'));
        let timed = !line.words.is_empty() && line.words.iter().all(|w| w.start_s.is_some());
        if timed {
            // A timestamp before every word, the first included, so one-word cues keep their word.
            for (k, w) in line.words.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                let _ = write!(
                    out,
                    "<{}>{}",
                    stamp(w.start_s.unwrap_or(s), '.'),
                    w.text.replace('<', "&lt;")
                );
            }
        } else {
            out.push_str(&line.text);
        }
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn srt_reads_cues_and_strips_markup() {
        let l = parse_srt("1\n00:00:01,500 --> 00:00:03,000\n<i>Hello</i>\nworld\n\n2\n00:01:00,000 --> 00:01:02,250\nnext\n").unwrap();
        assert_eq!(l.lines.len(), 2);
        assert_eq!(l.lines[0].text, "Hello world");
        assert_eq!(l.lines[1].end_s, Some(62.25));
    }

    #[test]
    fn vtt_reads_karaoke_timestamps() {
        let l = parse_vtt("WEBVTT\n\nNOTE hi\n\ncue1\n00:01.000 --> 00:04.000 align:start\nOne <00:00:02.000>two <00:00:03.000><c>three</c>\n").unwrap();
        let w = &l.lines[0].words;
        assert_eq!(w.len(), 3);
        assert_eq!((w[1].start_s, w[1].end_s), (Some(2.0), Some(3.0)));
        assert_eq!(w[2].end_s, Some(4.0));
        assert_eq!(l.lines[0].text, "One two three");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_srt(
            "1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:0x,000 --> 00:00:03,000\nb\n",
        );
        assert!(matches!(e, Err(Error::Parse { line: 6, .. })), "{e:?}");
        assert!(matches!(
            parse_vtt("not vtt\n"),
            Err(Error::Parse { line: 1, .. })
        ));
        let back = parse_srt("1\n00:00:05,000 --> 00:00:02,000\nx\n");
        assert!(matches!(back, Err(Error::Parse { line: 2, .. })));
    }
}
