//! LRC and enhanced LRC: `[mm:ss.xx]line`, `<mm:ss.xx>word`, metadata tags and `[offset:]`.

use std::fmt::Write as _;

use super::{MAX_TIME_S, parse_clock};
use crate::doc::{Line, Lyrics, Word};
use crate::error::{Result, parse_err};

const FMT: &str = "LRC";

/// True when some line carries a `<mm:ss.xx>` word time.
pub(super) fn has_word_times(text: &str) -> bool {
    text.lines().any(|l| {
        l.split('<').skip(1).any(|rest| {
            rest.split_once('>')
                .is_some_and(|(t, _)| lrc_time(t).is_some())
        })
    })
}

/// LRC time: `mm:ss`, `mm:ss.x{1,3}` or `mm:ss:xx` (centiseconds after a colon).
fn lrc_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let parts: Vec<&str> = s.split(':').collect();
    if let [m, sec, cs] = parts.as_slice() {
        if cs.len() <= 3 && !sec.contains('.') && cs.bytes().all(|b| b.is_ascii_digit()) {
            let base = parse_clock(&format!("{m}:{sec}"))?;
            let frac: f64 = format!("0.{cs}").parse().ok()?;
            return Some(base + frac);
        }
        return None;
    }
    if parts.len() != 2 {
        return None;
    }
    parse_clock(s)
}

fn is_time_like(tag: &str) -> bool {
    tag.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

pub(super) fn parse(text: &str) -> Result<Lyrics> {
    let mut meta = Vec::new();
    let mut offset_s = 0.0;
    // (start, original line number, rest-of-line text) for each timed occurrence.
    let mut timed: Vec<(f64, usize, Line)> = Vec::new();
    let mut untimed: Vec<Line> = Vec::new();
    // Empty timed lines end the previous line: (time, order index).
    let mut end_marks: Vec<f64> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let mut rest = raw.trim();
        if rest.is_empty() {
            continue;
        }
        let mut starts = Vec::new();
        let mut was_tag = false;
        while let Some(after) = rest.strip_prefix('[') {
            let Some((tag, tail)) = after.split_once(']') else {
                return Err(parse_err(FMT, lineno, "unclosed '[' tag"));
            };
            if is_time_like(tag) {
                let t = lrc_time(tag).ok_or_else(|| {
                    parse_err(
                        FMT,
                        lineno,
                        format!("malformed time tag [{tag}] (expected [mm:ss.xx])"),
                    )
                })?;
                starts.push(t);
            } else if let Some((key, value)) = tag.split_once(':') {
                let key = key.trim();
                let value = value.trim();
                if key.eq_ignore_ascii_case("offset") {
                    let ms: f64 = value.trim_start_matches('+').parse().map_err(|_| {
                        parse_err(
                            FMT,
                            lineno,
                            format!("offset must be milliseconds, got {value:?}"),
                        )
                    })?;
                    if !ms.is_finite() || ms.abs() > MAX_TIME_S * 1000.0 {
                        return Err(parse_err(FMT, lineno, "offset out of range"));
                    }
                    offset_s = ms / 1000.0;
                } else {
                    meta.push((key.to_string(), value.to_string()));
                }
                was_tag = true;
            } else {
                // `[Chorus]` and the like: keep as text.
                break;
            }
            rest = tail.trim_start();
        }
        if starts.is_empty() {
            if was_tag && rest.is_empty() {
                continue;
            }
            untimed.push(parse_words(rest, lineno)?.0);
            continue;
        }
        let (line, _) = parse_words(rest, lineno)?;
        if line.text.is_empty() && line.words.is_empty() {
            end_marks.extend(starts);
            continue;
        }
        for s in starts {
            timed.push((s, lineno, line.clone()));
        }
    }
    if timed.is_empty() {
        return Ok(Lyrics {
            meta,
            lines: untimed,
        });
    }
    // Several times on one line repeat it; order by time, then by position in the file.
    timed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    end_marks.sort_by(f64::total_cmp);
    let shift = |t: f64| (t - offset_s).max(0.0);
    let n = timed.len();
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let (start, _, mut line) = timed[i].clone();
        // A repeated line (several tags) keeps word times only for its first occurrence,
        // moved by the difference of line starts.
        let first_word = line.words.first().and_then(|w| w.start_s);
        if let Some(fw) = first_word {
            let delta = start - fw;
            if delta.abs() > 1e-6 && timed.iter().filter(|t| t.1 == timed[i].1).count() > 1 {
                for w in &mut line.words {
                    w.start_s = w.start_s.map(|t| t + delta);
                    w.end_s = w.end_s.map(|t| t + delta);
                }
            }
        }
        let next_start = timed.get(i + 1).map(|t| t.0);
        let mark = end_marks
            .iter()
            .copied()
            .find(|&m| m >= start && next_start.is_none_or(|ns| m <= ns));
        line.start_s = Some(shift(start));
        line.end_s = line.end_s.or(mark).map(shift);
        for w in &mut line.words {
            w.start_s = w.start_s.map(shift);
            w.end_s = w.end_s.map(shift);
        }
        lines.push(line);
    }
    Ok(Lyrics { meta, lines })
}

/// Splits the text after the line tags into words, reading `<mm:ss.xx>` word times.
fn parse_words(rest: &str, lineno: usize) -> Result<(Line, bool)> {
    if !rest.contains('<') || !has_word_times(rest) {
        return Ok((
            Line::new(rest.split_whitespace().collect::<Vec<_>>().join(" ")),
            false,
        ));
    }
    let mut words: Vec<Word> = Vec::new();
    let mut pending: Option<f64> = None;
    let mut s = rest;
    let mut text_parts: Vec<String> = Vec::new();
    loop {
        let (before, after) = match s.find('<') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        for (k, piece) in before.split_whitespace().enumerate() {
            let start = if k == 0 { pending.take() } else { None };
            words.push(Word {
                text: piece.to_string(),
                start_s: start,
                end_s: None,
                confidence: None,
            });
            text_parts.push(piece.to_string());
        }
        let Some(after) = after else { break };
        let Some((tag, tail)) = after.split_once('>') else {
            return Err(parse_err(FMT, lineno, "unclosed '<' word time"));
        };
        let t = lrc_time(tag).ok_or_else(|| {
            parse_err(
                FMT,
                lineno,
                format!("malformed word time <{tag}> (expected <mm:ss.xx>)"),
            )
        })?;
        // A time ends the previous word when it has no end yet.
        if let Some(prev) = words.last_mut()
            && prev.end_s.is_none()
            && prev.start_s.is_some_and(|ps| ps <= t)
        {
            prev.end_s = Some(t);
        }
        pending = Some(t);
        s = tail;
    }
    // Untimed pieces glued after a timed word stay separate words without times.
    let mut line = Line::new(text_parts.join(" "));
    line.words = words;
    if let Some(end) = line.words.iter().rev().find_map(|w| w.end_s)
        && line.words.last().is_some_and(|w| w.end_s.is_some())
    {
        line.end_s = Some(end);
    }
    Ok((line, true))
}

/// Formats seconds as LRC `mm:ss.xx`.
fn lrc_stamp(t: f64) -> String {
    let cs = (t.max(0.0) * 100.0).round() as u64;
    format!("{:02}:{:02}.{:02}", cs / 6000, (cs / 100) % 60, cs % 100)
}

pub(super) fn write(lyrics: &Lyrics, words: bool) -> String {
    let mut out = String::new();
    for (k, v) in &lyrics.meta {
        let _ = writeln!(out, "[{k}:{v}]");
    }
    for (i, line) in lyrics.lines.iter().enumerate() {
        let start = line.start_s.unwrap_or(0.0);
        let _ = write!(out, "[{}]", lrc_stamp(start));
        let timed_words =
            words && !line.words.is_empty() && line.words.iter().all(|w| w.start_s.is_some());
        if timed_words {
            for (k, w) in line.words.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "<{}>{}", lrc_stamp(w.start_s.unwrap_or(start)), w.text);
            }
            if let Some(end) = line.words.last().and_then(|w| w.end_s) {
                let _ = write!(out, " <{}>", lrc_stamp(end));
            }
        } else {
            out.push_str(&line.text);
        }
        out.push('\n');
        // An end that leaves a gap before the next line is written as an empty timed line.
        if let Some(end) = line.end_s {
            let next = lyrics.lines.get(i + 1).and_then(|l| l.start_s);
            let word_end = if timed_words {
                line.words.last().and_then(|w| w.end_s)
            } else {
                None
            };
            let needs_mark = next.is_none_or(|n| n > end + 0.005)
                && word_end.is_none_or(|we| (we - end).abs() > 0.005);
            if needs_mark {
                let _ = writeln!(out, "[{}]", lrc_stamp(end));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn reads_tags_repeats_and_offset() {
        let src = "[ti:Song]\n[ar:Someone]\n[offset:+500]\n\n[00:10.00][01:00.50]Chorus line\n[00:20.00]Verse\n[00:25.00]\n";
        let l = parse(src).unwrap();
        assert_eq!(l.meta("ti"), Some("Song"));
        assert_eq!(l.meta("offset"), None);
        let starts: Vec<_> = l.lines.iter().map(|x| x.start_s.unwrap()).collect();
        assert_eq!(starts, vec![9.5, 19.5, 60.0]);
        assert_eq!(l.lines[1].end_s, Some(24.5));
        assert_eq!(l.lines[2].text, "Chorus line");
    }

    #[test]
    fn reads_word_times() {
        let l =
            parse("[00:01.00]<00:01.00>one <00:01.50>two <00:02.25>three <00:03.00>\n").unwrap();
        let w = &l.lines[0].words;
        assert_eq!(w.len(), 3);
        assert_eq!((w[1].start_s, w[1].end_s), (Some(1.5), Some(2.25)));
        assert_eq!(w[2].end_s, Some(3.0));
        assert_eq!(l.lines[0].text, "one two three");
        assert_eq!(l.lines[0].end_s, Some(3.0));
    }

    #[test]
    fn colon_centiseconds_and_long_minutes() {
        assert_eq!(lrc_time("01:02:50"), Some(62.5));
        assert_eq!(lrc_time("125:00.00"), Some(7500.0));
        assert_eq!(lrc_stamp(7500.0), "125:00.00");
    }

    #[test]
    fn errors_name_the_line() {
        for (src, line) in [
            ("[00:01.00]ok\n[00:0x.00]bad\n", 2),
            ("[ti:x]\n\n[00:01.00\n", 3),
            ("[00:01.00]<00:01.00>a <0z:00>b\n", 1),
            ("[offset:soon]\n", 1),
        ] {
            match parse(src) {
                Err(Error::Parse { line: l, .. }) => assert_eq!(l, line, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn bracketed_section_names_are_text() {
        let l = parse("[Chorus]\nla la\n").unwrap();
        assert_eq!(l.lines.len(), 2);
        assert_eq!(l.lines[0].text, "[Chorus]");
    }
}
