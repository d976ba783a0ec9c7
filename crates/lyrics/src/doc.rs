//! The in-memory lyrics document every format reads into and writes from.

use serde::{Deserialize, Serialize};

/// One word (or, for Chinese, one character) with its timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word as written in the lyrics.
    pub text: String,
    /// Onset in seconds from the start of the audio.
    pub start_s: Option<f64>,
    /// End in seconds.
    pub end_s: Option<f64>,
    /// Confidence in [0, 1] when the times come from alignment.
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// One lyric line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The line as written.
    pub text: String,
    /// Onset in seconds.
    pub start_s: Option<f64>,
    /// End in seconds.
    pub end_s: Option<f64>,
    /// Word timings; empty when the source only had line times.
    #[serde(default)]
    pub words: Vec<Word>,
}

/// Lyrics: metadata tags and lines, in time order when timed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lyrics {
    /// Metadata tags (`ti`, `ar`, `al`, `lang`, ...), in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meta: Vec<(String, String)>,
    /// The lines.
    pub lines: Vec<Line>,
}

impl Word {
    /// An untimed word.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            start_s: None,
            end_s: None,
            confidence: None,
        }
    }
    /// A timed word.
    pub fn timed(text: impl Into<String>, start_s: f64, end_s: f64) -> Self {
        Self {
            text: text.into(),
            start_s: Some(start_s),
            end_s: Some(end_s),
            confidence: None,
        }
    }
}

impl Line {
    /// An untimed line.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            start_s: None,
            end_s: None,
            words: Vec::new(),
        }
    }
}

impl Lyrics {
    /// Lyrics from plain text: one lyric line per non-empty line, no times.
    pub fn from_plain_text(text: &str) -> Self {
        let lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(Line::new)
            .collect();
        Self {
            meta: Vec::new(),
            lines,
        }
    }

    /// The value of a metadata tag.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// True when every line has a start time.
    pub fn is_line_timed(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(|l| l.start_s.is_some())
    }

    /// The lines with text whose start is at or after `duration_s`: lines an LRC places after
    /// the audio ends (the LRC of another recording, or a wrong offset). Alignment keeps them,
    /// their words at the end.
    pub fn lines_starting_after(&self, duration_s: f64) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(move |l| {
            !l.text.trim().is_empty() && l.start_s.is_some_and(|t| t >= duration_s)
        })
    }

    /// Fills missing line ends from the next line's start (or `duration_s` for the last line).
    pub fn close_line_ends(&mut self, duration_s: Option<f64>) {
        let n = self.lines.len();
        for i in 0..n {
            if self.lines[i].end_s.is_some() {
                continue;
            }
            let from_words = self.lines[i]
                .words
                .iter()
                .filter_map(|w| w.end_s)
                .reduce(f64::max);
            let next = self.lines.get(i + 1).and_then(|l| l.start_s);
            self.lines[i].end_s = from_words.or(next).or(duration_s);
        }
    }
}
