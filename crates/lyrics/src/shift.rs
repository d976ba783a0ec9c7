//! Moving full mode's lines by another aligner's word starts. Full mode places most words of a
//! line well relative to each other but often places the whole line seconds off; an aligner
//! that looked for the line in a window around it (Whisper's attention in `encore lyrics align
//! --whisper`) says where the line's words are. Each line moves by the median offset of its
//! words from that aligner's, less that aligner's known lag (how early or late it places words,
//! a constant of the aligner), at most a given distance, and lines stay in order.
//!
//! The lag is given, not taken from the song as [`crate::median_with_starts`] does: there the
//! lines are true, here they are full mode's, which often places every line of a song seconds
//! off in the same direction, and the song's median offset would cancel exactly that.

use crate::doc::Lyrics;
use crate::ensemble::{check_outside_starts, median};
use crate::error::{Error, Result};

/// `lyrics` (an alignment: every line and word timed) with each line moved to where `starts`
/// (one outside start per word, in order; `None` for no opinion) place it, less `lag_s` (the
/// outside aligner's constant lag: its starts minus the true ones, negative when early), by at
/// most `max_shift_s`, and never past `duration_s` (the audio's length). A line's first word is
/// left out of its offset when the line has more than one word with an outside start: an
/// aligner that is given a window starts the first word where the window starts. Lines without
/// an outside start stay; every line still starts no earlier than the one before and ends no
/// later than the next one starts.
pub fn move_lines(
    lyrics: &Lyrics,
    starts: &[Option<f64>],
    lag_s: f64,
    max_shift_s: f64,
    duration_s: f64,
) -> Result<Lyrics> {
    check_outside_starts(lyrics, starts)?;
    if !lag_s.is_finite() {
        return Err(Error::Invalid(format!(
            "the outside aligner's lag must be a finite number of seconds, not {lag_s}"
        )));
    }
    if max_shift_s.is_nan() || max_shift_s < 0.0 {
        return Err(Error::Invalid(format!(
            "the largest shift must be 0 or more, not {max_shift_s}"
        )));
    }
    if !(duration_s.is_finite() && duration_s >= 0.0) {
        return Err(Error::Invalid(format!(
            "the audio's length must be a finite number of seconds, not {duration_s}"
        )));
    }
    let mut next = starts.iter();
    let offsets: Vec<Option<f64>> = lyrics
        .lines
        .iter()
        .map(|line| {
            let pairs: Vec<f64> = line
                .words
                .iter()
                .zip(&mut next)
                .filter_map(|(w, s)| Some((*s)? - w.start_s?))
                .collect();
            let skip = usize::from(pairs.len() > 1);
            median(pairs[skip..].to_vec())
        })
        .collect();
    if offsets.iter().all(Option::is_none) {
        return Ok(lyrics.clone());
    }
    let mut moved = lyrics.clone();
    let mut earliest = 0.0_f64;
    for (line, offset) in moved.lines.iter_mut().zip(&offsets) {
        let shift = offset.map_or(0.0, |o| (o - lag_s).clamp(-max_shift_s, max_shift_s));
        let start = line
            .start_s
            .map(|s| (s + shift).max(earliest).min(duration_s));
        if let Some(s) = start {
            earliest = s;
        }
        let lo = start.unwrap_or(earliest);
        let place = |t: f64| (t + shift).min(duration_s).max(lo);
        line.start_s = start;
        line.end_s = line.end_s.map(place);
        for w in &mut line.words {
            w.start_s = w.start_s.map(place);
            w.end_s = w.end_s.map(place);
        }
    }
    // A line ends (and so do its words) where the next one starts.
    for i in 1..moved.lines.len() {
        let Some(next_start) = moved.lines[i].start_s else {
            continue;
        };
        let line = &mut moved.lines[i - 1];
        let lo = line.start_s.unwrap_or(next_start);
        let cap = |t: f64| t.min(next_start).max(lo);
        line.end_s = line.end_s.map(cap);
        for w in &mut line.words {
            w.start_s = w.start_s.map(cap);
            w.end_s = w.end_s.map(cap);
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{Line, Word};

    fn line(start: f64, words: &[&str]) -> Line {
        let n = words.len() as f64;
        Line {
            start_s: Some(start),
            end_s: Some(start + n),
            text: words.join(" "),
            words: words
                .iter()
                .enumerate()
                .map(|(k, w)| Word {
                    text: (*w).to_string(),
                    start_s: Some(start + k as f64),
                    end_s: Some(start + k as f64 + 1.0),
                    confidence: None,
                })
                .collect(),
        }
    }

    fn song() -> Lyrics {
        Lyrics {
            lines: vec![
                line(0.0, &["a", "b", "c"]),
                line(10.0, &["d", "e", "f"]),
                line(20.0, &["g", "h", "i"]),
            ],
            ..Lyrics::default()
        }
    }

    fn starts(lyrics: &Lyrics, per_line: &[f64]) -> Vec<Option<f64>> {
        lyrics
            .lines
            .iter()
            .zip(per_line)
            .flat_map(|(l, d)| l.words.iter().map(move |w| Some(w.start_s.unwrap() + d)))
            .collect()
    }

    #[test]
    fn a_line_moves_by_its_offset_less_the_aligners_lag() {
        let lyrics = song();
        // The outside aligner is 0.5 s early everywhere, and hears the middle line 2 s later.
        let s = starts(&lyrics, &[-0.5, 1.5, -0.5]);
        let moved = move_lines(&lyrics, &s, -0.5, 4.0, 60.0).unwrap();
        let line_starts: Vec<f64> = moved.lines.iter().map(|l| l.start_s.unwrap()).collect();
        assert_eq!(line_starts, [0.0, 12.0, 20.0]);
        assert_eq!(moved.lines[1].words[2].start_s, Some(14.0));
        assert_eq!(moved.lines[1].end_s, Some(15.0));
    }

    #[test]
    fn a_song_placed_late_throughout_moves_back_as_a_whole() {
        // Full mode put every line 3 s late; the outside aligner (0.5 s early) hears them all
        // 3 s earlier. A lag taken from the song itself would keep them where they were.
        let lyrics = song();
        let moved = move_lines(&lyrics, &starts(&lyrics, &[-3.5; 3]), -0.5, 4.0, 60.0).unwrap();
        let line_starts: Vec<f64> = moved.lines.iter().map(|l| l.start_s.unwrap()).collect();
        assert_eq!(line_starts, [0.0, 7.0, 17.0]);
    }

    #[test]
    fn shifts_are_capped_and_lines_stay_in_order() {
        let lyrics = song();
        let moved = move_lines(
            &lyrics,
            &starts(&lyrics, &[0.0, 0.0, -30.0]),
            0.0,
            4.0,
            60.0,
        )
        .unwrap();
        assert_eq!(moved.lines[2].start_s, Some(16.0));
        let moved = move_lines(
            &lyrics,
            &starts(&lyrics, &[0.0, 12.0, 0.0]),
            0.0,
            20.0,
            60.0,
        )
        .unwrap();
        // The middle line would start at 22 s, after the last one: it ends where that starts.
        assert_eq!(moved.lines[1].start_s, Some(22.0));
        assert_eq!(moved.lines[2].start_s, Some(22.0));
        assert!(moved.lines.windows(2).all(|p| p[0].end_s <= p[1].start_s));
    }

    #[test]
    fn no_line_moves_past_the_end_of_the_audio() {
        let lyrics = song();
        // The last line (20-23 s) heard 4 s later in audio of 22 s.
        let moved =
            move_lines(&lyrics, &starts(&lyrics, &[0.0, 0.0, 4.0]), 0.0, 8.0, 22.0).unwrap();
        let last = &moved.lines[2];
        assert_eq!((last.start_s, last.end_s), (Some(22.0), Some(22.0)));
        assert!(last.words.iter().all(|w| w.end_s == Some(22.0)));
    }

    #[test]
    fn the_first_word_does_not_count_and_no_opinion_moves_nothing() {
        let lyrics = song();
        let mut s = starts(&lyrics, &[0.0, 3.0, 0.0]);
        s[3] = Some(0.0); // the middle line's first word, pinned to its window's start
        let moved = move_lines(&lyrics, &s, 0.0, 4.0, 60.0).unwrap();
        assert_eq!(moved.lines[1].start_s, Some(13.0));
        let none = vec![None; 9];
        assert_eq!(move_lines(&lyrics, &none, 0.0, 4.0, 60.0).unwrap(), lyrics);
    }

    proptest::proptest! {
        /// Whatever the outside starts, lines keep their order, no line ends after the next
        /// starts, every word stays inside its line and no line moves further than allowed.
        #[test]
        fn moved_lines_stay_ordered_and_within_reach(
            outside in proptest::collection::vec(proptest::option::of(-40.0f64..40.0), 9),
            max_shift in 0.0f64..20.0,
        ) {
            let lyrics = song();
            let starts: Vec<Option<f64>> = lyrics
                .lines
                .iter()
                .flat_map(|l| l.words.iter())
                .zip(&outside)
                .map(|(w, d)| d.map(|d| w.start_s.unwrap() + d))
                .collect();
            let moved = move_lines(&lyrics, &starts, 0.0, max_shift, 25.0).unwrap();
            for (before, after) in lyrics.lines.iter().zip(&moved.lines) {
                let (s, e) = (after.start_s.unwrap(), after.end_s.unwrap());
                proptest::prop_assert!(s <= e && e <= 25.0);
                proptest::prop_assert!((s - before.start_s.unwrap()).abs() <= max_shift + 1e-9 || s >= before.start_s.unwrap());
                for w in &after.words {
                    let (ws, we) = (w.start_s.unwrap(), w.end_s.unwrap());
                    proptest::prop_assert!(s <= ws && ws <= we && we <= e, "{ws} {we} in {s} {e}");
                }
            }
            for pair in moved.lines.windows(2) {
                proptest::prop_assert!(pair[0].start_s <= pair[1].start_s);
                proptest::prop_assert!(pair[0].end_s <= pair[1].start_s);
            }
        }
    }

    #[test]
    fn wrong_lengths_and_numbers_are_errors() {
        let lyrics = song();
        assert!(move_lines(&lyrics, &[Some(1.0)], 0.0, 4.0, 60.0).is_err());
        let mut s = starts(&lyrics, &[0.0, 0.0, 0.0]);
        s[0] = Some(f64::NAN);
        assert!(move_lines(&lyrics, &s, 0.0, 4.0, 60.0).is_err());
        let zero = starts(&lyrics, &[0.0; 3]);
        assert!(move_lines(&lyrics, &zero, 0.0, f64::NAN, 60.0).is_err());
        assert!(move_lines(&lyrics, &zero, 0.0, 4.0, f64::INFINITY).is_err());
        assert!(move_lines(&lyrics, &zero, f64::NAN, 4.0, 60.0).is_err());
    }
}
