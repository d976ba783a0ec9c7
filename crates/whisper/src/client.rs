//! The Whisper process and its three questions: where each word of each line starts
//! ([`Whisper::word_starts`]), what is sung in the whole song ([`Whisper::heard_words`]), and
//! where each line is when looked for in a wider window ([`Whisper::starts_around_lines`]).

use std::io::Write;
use std::path::PathBuf;

use encore_lyrics::{HeardWord, Language, Line, Lyrics, Word};

use crate::error::{Error, Result};
use crate::python::PythonServer;

/// Whisper's sample rate.
const RATE: u32 = 16_000;
/// The longest window Whisper's encoder takes (its position embeddings stop there).
const WINDOW_S: f64 = 30.0;
/// Audio kept after a line's end in its window.
const TAIL_S: f64 = 0.5;
/// Words of the neighbouring lines given with a line looked for in a wider window.
const CONTEXT_WORDS: usize = 3;

/// Where an interpreter with `faster-whisper` and a CTranslate2 Whisper model are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// Python with `faster-whisper` and `ctranslate2`.
    pub python: PathBuf,
    /// The model folder (`model.bin`, `config.json`, `tokenizer.json`, `vocabulary.txt`).
    pub model: PathBuf,
}

impl Installation {
    /// Where `scripts/install-deps.sh` puts them: `venv-whisper/bin/python` and `whisper-base`
    /// under `$ENCORE_CACHE`, by default `~/.cache/encore`.
    pub fn default_location() -> Self {
        let cache = std::env::var_os("ENCORE_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/encore")))
            .unwrap_or_else(|| PathBuf::from(".cache/encore"));
        Installation {
            python: cache.join("venv-whisper/bin/python"),
            model: cache.join("whisper-base"),
        }
    }

    /// Whether the interpreter and the model file exist (not whether they load).
    pub fn is_present(&self) -> bool {
        self.python.is_file() && self.model.join("model.bin").is_file()
    }
}

/// The server loop run by Python: `argv[1]` is the model folder.
const SCRIPT: &str = r#"
import json, sys
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer, _LANGUAGE_CODES
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1)
print("READY", flush=True)
for line in sys.stdin:
    try:
        r = json.loads(line)
        if r["lang"] not in _LANGUAGE_CODES:
            raise ValueError("Whisper has no language " + r["lang"])
        audio = np.fromfile(r["audio"], dtype="<f4")
        if r.get("op") == "transcribe":
            segments, _ = model.transcribe(
                audio, language=r["lang"], beam_size=1, temperature=0.0,
                word_timestamps=True, condition_on_previous_text=False, vad_filter=False)
            words = [[w.word, w.start, w.end] for s in segments for w in (s.words or [])]
            print(json.dumps({"words": words}), flush=True)
            continue
        tok = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=r["lang"])
        answer = []
        for w in r["windows"]:
            a = audio[int(w["start"] * 16000):int(w["end"] * 16000)]
            # Under 0.1 s of audio (a line at or past the end of the song): no opinion.
            if len(a) < 1600:
                answer.append(None)
                continue
            feats = model.feature_extractor(a)
            frames = min(feats.shape[-1], 3000)
            tokens, firsts = [], []
            for word in w.get("before", []):
                tokens += tok.encode(word)
            for word in w["words"]:
                firsts.append(len(tokens))
                tokens += tok.encode(word)
            for word in w.get("after", []):
                tokens += tok.encode(word)
            if not tokens:
                answer.append([0.0] * len(firsts))
                continue
            # Whisper's decoder has 448 positions: a longer line gets no opinion.
            if len(tok.sot_sequence) + len(tokens) + 1 > 448:
                answer.append(None)
                continue
            # Not padded to 30 s: the encoder's attention grows with the square of its input.
            enc = model.encode(np.ascontiguousarray(feats[:, :frames]))
            res = model.model.align(enc, tok.sot_sequence, [tokens], frames, median_filter_width=7)[0]
            reached = {}
            for ti, fi in res.alignments:
                reached.setdefault(ti, fi)
            last = max(reached.values()) if reached else 0
            answer.append([reached.get(i, last) / 50.0 for i in firsts])
        print(json.dumps({"starts": answer}), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e).replace("\n", " ")}), flush=True)
"#;

/// A running Whisper process (one Python process holding the model; about 0.75 s of CPU to
/// start, about 300 MB resident). Requests are answered one at a time.
#[derive(Debug)]
pub struct Whisper {
    server: PythonServer,
    /// Asked for explicitly: its failures are errors, not a reason to align without it (see
    /// [`crate::refine_with_whisper`]).
    pub required: bool,
}

/// A song as Whisper reads it: mono, 16 kHz, little-endian `f32` in a temporary file (deleted
/// when dropped). Made once per song and shared by every question about it.
#[derive(Debug)]
pub struct WhisperAudio {
    file: tempfile::NamedTempFile,
    duration_s: f64,
}

impl WhisperAudio {
    /// From mono samples at `rate` Hz.
    pub fn from_mono(samples: &[f32], rate: u32) -> Result<Self> {
        let mono = encore_audio::resample(samples, rate, RATE)?;
        let mut file = tempfile::Builder::new()
            .prefix("encore-whisper-")
            .suffix(".f32")
            .tempfile()
            .map_err(Error::TempFile)?;
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        mono.iter()
            .try_for_each(|s| out.write_all(&s.to_le_bytes()))
            .and_then(|()| out.flush())
            .map_err(Error::TempFile)?;
        drop(out);
        Ok(WhisperAudio {
            file,
            duration_s: samples.len() as f64 / f64::from(rate.max(1)),
        })
    }

    /// From decoded audio (downmixed to mono).
    pub fn from_buffer(audio: &encore_audio::AudioBuffer) -> Result<Self> {
        Self::from_mono(&audio.to_mono(), audio.sample_rate)
    }

    /// The song's length in seconds (as given, before resampling).
    pub fn duration_s(&self) -> f64 {
        self.duration_s
    }

    fn path(&self) -> Result<&str> {
        self.file
            .path()
            .to_str()
            .ok_or(Error::Answer("the temporary path is not UTF-8"))
    }
}

/// The audio Whisper aligns one line in, `[start_s, end_s)`, and the text: the line's words,
/// with words of the lines around it that may be heard in the window too.
#[derive(Debug, Clone, PartialEq, Default)]
struct Window {
    start_s: f64,
    end_s: f64,
    before: Vec<String>,
    words: Vec<String>,
    after: Vec<String>,
}

/// One window per timed line (in the lines' order), from its start to [`TAIL_S`] after its end, cut at [`WINDOW_S`].
/// Each is encoded as it is, not padded to Whisper's 30 s: the encoder's self-attention costs
/// the square of its input's length, so a 5 s line costs about 0.03 s of CPU instead of the
/// 0.9 s of a 30 s window, and on synthetic songs the word starts were as good as with lines
/// packed into padded 30 s windows (docs/readme/lyrics.md).
fn windows(spans: &[(f64, f64)]) -> Vec<Window> {
    spans
        .iter()
        .map(|&(start, end)| Window {
            start_s: start,
            end_s: (end + TAIL_S).min(start + WINDOW_S),
            ..Window::default()
        })
        .collect()
}

/// Runs of neighbouring lines (`spans`: each line's start and end) that are looked for in one
/// window: a run grows while its first start to its last end, plus `margin_s` on both sides,
/// fits in Whisper's [`WINDOW_S`]. Every line is in exactly one run, in order; a line longer
/// than the window is a run of its own.
fn line_groups(spans: &[(f64, f64)], margin_s: f64) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let mut first = 0;
    while first < spans.len() {
        let mut end = first + 1;
        while end < spans.len() && spans[end].1 - spans[first].0 + 2.0 * margin_s <= WINDOW_S {
            end += 1;
        }
        groups.push(first..end);
        first = end;
    }
    groups
}

/// Words as Whisper's tokenizer expects them: with a leading space, except in Chinese.
fn whisper_words<'a>(words: impl IntoIterator<Item = &'a Word>, lang: &Language) -> Vec<String> {
    let spaced = !matches!(lang, Language::Zh);
    words
        .into_iter()
        .map(|w| {
            if spaced {
                format!(" {}", w.text)
            } else {
                w.text.clone()
            }
        })
        .collect()
}

/// The lines that have words (Whisper gets one window per such line).
fn lines_with_words(lyrics: &Lyrics) -> Vec<&Line> {
    lyrics
        .lines
        .iter()
        .filter(|l| !l.words.is_empty())
        .collect()
}

/// Whisper's code for a lyric language.
fn whisper_language(lang: &Language) -> String {
    match lang {
        Language::Zh => "zh".to_string(),
        other => other.espeak_voice().to_string(),
    }
}

fn untimed(i: usize, line: &Line) -> Error {
    Error::UntimedLine {
        line: i + 1,
        text: line.text.clone(),
    }
}

impl Whisper {
    /// Starts the interpreter of `installation` on its model; `required` when the user asked
    /// for Whisper.
    pub fn start(installation: &Installation, required: bool) -> Result<Self> {
        let model = &installation.model;
        if !model.join("model.bin").is_file() {
            return Err(Error::NoModel(model.clone()));
        }
        let server = PythonServer::start(
            "whisper",
            &installation.python,
            SCRIPT,
            [model],
            &format!(
                "faster-whisper or the model in {} did not load (scripts/install-deps.sh \
                 installs both)",
                model.display()
            ),
        )?;
        Ok(Self { server, required })
    }

    /// Every word's start in `lyrics` (an alignment: lines with start times, ends from the line
    /// or its last word), in order of the words; each start stays inside its line. `None` for
    /// the words of a line too long for Whisper's decoder (448 tokens) or at the audio's end.
    pub fn word_starts(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
    ) -> Result<Vec<Option<f64>>> {
        let lines = lines_with_words(lyrics);
        let spans = lines
            .iter()
            .enumerate()
            .map(
                |(i, l)| match (l.start_s, l.end_s.or(l.words.last().and_then(|w| w.end_s))) {
                    // A line past the audio's end ends before it starts: its window is empty.
                    (Some(s), Some(e)) => Ok((s, e.max(s))),
                    _ => Err(untimed(i, l)),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let mut windows = windows(&spans);
        for (w, line) in windows.iter_mut().zip(&lines) {
            w.words = whisper_words(&line.words, lang);
        }
        let per_window = self.ask_windows(audio, lang, &windows)?;
        let mut starts = Vec::new();
        for (got, (line, &(s, e))) in per_window.iter().zip(lines.iter().zip(&spans)) {
            match got {
                Some(got) => starts.extend(got.iter().map(|t| Some(t.clamp(s, e)))),
                None => starts.extend(line.words.iter().map(|_| None)),
            }
        }
        Ok(starts)
    }

    /// Every word's start in `lyrics` (an alignment: every line timed), in order of the words,
    /// from Whisper looking for each line in a window `margin_s` wider on both sides. Lines
    /// close enough share one window ([`line_groups`]: Whisper then also keeps them in order,
    /// and fewer windows cost less), with the last [`CONTEXT_WORDS`] words of the line before
    /// and the first of the line after as text around them (without them, the first words are
    /// drawn to whatever is sung at the window's start). Starts may lie outside the lines; see
    /// [`encore_lyrics::move_lines`].
    pub fn starts_around_lines(
        &mut self,
        audio: &WhisperAudio,
        lyrics: &Lyrics,
        lang: &Language,
        margin_s: f64,
    ) -> Result<Vec<Option<f64>>> {
        let lines = lines_with_words(lyrics);
        let duration = audio.duration_s();
        let mut spans = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match (line.start_s, line.end_s) {
                (Some(s), Some(e)) => spans.push((s, e.max(s))),
                _ => return Err(untimed(i, line)),
            }
        }
        let window = |group: &std::ops::Range<usize>| {
            let (s, e) = (spans[group.start].0, spans[group.end - 1].1);
            let start_s = (s - margin_s).clamp(0.0, duration);
            let end_s = (e + margin_s)
                .clamp(start_s, duration)
                .min(start_s + WINDOW_S);
            let before = group.start.checked_sub(1).map_or(&[][..], |p| {
                let w = &lines[p].words;
                &w[w.len().saturating_sub(CONTEXT_WORDS)..]
            });
            let after = lines
                .get(group.end)
                .map_or(&[][..], |n| &n.words[..n.words.len().min(CONTEXT_WORDS)]);
            Window {
                start_s,
                end_s,
                before: whisper_words(before, lang),
                words: whisper_words(lines[group.clone()].iter().flat_map(|l| &l.words), lang),
                after: whisper_words(after, lang),
            }
        };
        let groups = line_groups(&spans, margin_s);
        let windows: Vec<Window> = groups.iter().map(window).collect();
        let per_window = self.ask_windows(audio, lang, &windows)?;
        // A run of lines with no answer (too many tokens for Whisper's decoder) is asked again
        // line by line.
        let singles: Vec<std::ops::Range<usize>> = groups
            .iter()
            .zip(&per_window)
            .filter(|(g, got)| got.is_none() && g.len() > 1)
            .flat_map(|(g, _)| g.clone().map(|i| i..i + 1))
            .collect();
        let per_line = if singles.is_empty() {
            Vec::new()
        } else {
            let windows: Vec<Window> = singles.iter().map(window).collect();
            self.ask_windows(audio, lang, &windows)?
        };
        let mut per_line = per_line.into_iter();
        let mut starts = Vec::new();
        for (got, group) in per_window.into_iter().zip(&groups) {
            match got {
                Some(got) => starts.extend(got.into_iter().map(Some)),
                None if group.len() == 1 => {
                    starts.extend(lines[group.start].words.iter().map(|_| None));
                }
                None => {
                    for line in &lines[group.clone()] {
                        match per_line.next().flatten() {
                            Some(got) => starts.extend(got.into_iter().map(Some)),
                            None => starts.extend(line.words.iter().map(|_| None)),
                        }
                    }
                }
            }
        }
        Ok(starts)
    }

    /// Whisper's start, in seconds from the start of the audio, of every word of every window
    /// (`None` for a window with under 0.1 s of audio or too many words for its decoder).
    fn ask_windows(
        &mut self,
        audio: &WhisperAudio,
        lang: &Language,
        windows: &[Window],
    ) -> Result<Vec<Option<Vec<f64>>>> {
        let _span = tracing::info_span!("lyrics_whisper", windows = windows.len()).entered();
        let request = serde_json::json!({
            "audio": audio.path()?,
            "lang": whisper_language(lang),
            "windows": windows.iter().map(|w| serde_json::json!({
                "start": w.start_s,
                "end": w.end_s,
                "before": w.before,
                "words": w.words,
                "after": w.after,
            })).collect::<Vec<_>>(),
        });
        let answer = self.ask(&request)?;
        let per_window = answer
            .get("starts")
            .and_then(|s| s.as_array())
            .filter(|s| s.len() == windows.len())
            .ok_or(Error::Answer("no starts for every window"))?;
        windows
            .iter()
            .zip(per_window)
            .map(|(w, got)| {
                if got.is_null() {
                    return Ok(None);
                }
                let got = got
                    .as_array()
                    .ok_or(Error::Answer("starts are not a list"))?;
                (0..w.words.len())
                    .map(|k| {
                        got.get(k)
                            .and_then(|v| v.as_f64())
                            .filter(|t| t.is_finite())
                            .map(|t| w.start_s + t)
                            .ok_or(Error::Answer("fewer starts than words"))
                    })
                    .collect::<Result<Vec<f64>>>()
                    .map(Some)
            })
            .collect()
    }

    /// What Whisper hears in the whole song: a transcript in `lang` (greedy decoding, no
    /// fallback to sampling, each 30 s window decoded without the previous one's text, no
    /// lyrics given as earlier text: that made it repeat them over music), each word with its
    /// start and end from the cross-attention.
    pub fn heard_words(&mut self, audio: &WhisperAudio, lang: &Language) -> Result<Vec<HeardWord>> {
        let _span = tracing::info_span!("lyrics_whisper_transcribe").entered();
        let request = serde_json::json!({
            "op": "transcribe",
            "audio": audio.path()?,
            "lang": whisper_language(lang),
        });
        let answer = self.ask(&request)?;
        let words = answer
            .get("words")
            .and_then(|w| w.as_array())
            .ok_or(Error::Answer("no words"))?;
        words
            .iter()
            .map(|w| match w.as_array().map(Vec::as_slice) {
                Some([text, start, end]) => Ok(HeardWord {
                    text: text.as_str().unwrap_or_default().to_string(),
                    start_s: start.as_f64().unwrap_or(f64::NAN),
                    end_s: end.as_f64().unwrap_or(f64::NAN),
                }),
                _ => Err(Error::Answer("a heard word is not [text, start, end]")),
            })
            .collect()
    }

    /// Sends one request and returns the answer, or the error Python reported.
    fn ask(&mut self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let answer: serde_json::Value =
            serde_json::from_str(&self.server.ask(&request.to_string())?)
                .map_err(|_| Error::Answer("not JSON"))?;
        if let Some(e) = answer.get("error").and_then(|e| e.as_str()) {
            return Err(Error::Reported(e.to_string()));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_a_window_of_at_most_30_s() {
        let w = windows(&[(1.0, 4.0), (5.0, 9.0), (40.0, 80.0)]);
        let spans: Vec<(f64, f64)> = w.iter().map(|w| (w.start_s, w.end_s)).collect();
        assert_eq!(spans, [(1.0, 4.5), (5.0, 9.5), (40.0, 70.0)]);
        assert!(windows(&[]).is_empty());
    }

    #[test]
    fn neighbouring_lines_share_a_window_that_fits_in_30_s() {
        // With 8 s on both sides a run may span 14 s of lines (0 to 14 s: three lines).
        let spans = [
            (0.0, 3.0),
            (4.0, 8.0),
            (9.0, 14.0),
            (15.0, 20.0),
            (40.0, 70.0),
            (71.0, 72.0),
        ];
        assert_eq!(line_groups(&spans, 8.0), [0..3, 3..4, 4..5, 5..6]);
        assert_eq!(line_groups(&spans, 0.0), [0..4, 4..5, 5..6]);
        assert!(line_groups(&[], 8.0).is_empty());
        let one_each = line_groups(&spans, 20.0);
        assert_eq!(one_each, (0..6).map(|i| i..i + 1).collect::<Vec<_>>());
    }

    #[test]
    fn languages_get_whisper_codes() {
        assert_eq!(whisper_language(&Language::Zh), "zh");
        assert_eq!(whisper_language(&Language::Fr), "fr");
        assert_eq!(whisper_language(&Language::from_code("it")), "it");
    }

    #[test]
    fn audio_is_resampled_once_to_16_khz() {
        let audio = WhisperAudio::from_mono(&vec![0.1; 44_100 * 2], 44_100).unwrap();
        assert!(
            (audio.duration_s() - 2.0).abs() < 0.01,
            "{}",
            audio.duration_s()
        );
        let bytes = std::fs::metadata(audio.file.path()).unwrap().len();
        assert!((bytes as i64 - 4 * 32_000).abs() <= 8, "{bytes}");
    }

    #[test]
    fn a_missing_model_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Whisper::start(
            &Installation {
                python: PathBuf::from("/usr/bin/python3"),
                model: dir.path().to_path_buf(),
            },
            true,
        )
        .unwrap_err();
        assert!(matches!(err, Error::NoModel(_)));
        assert!(err.to_string().contains("model.bin"), "{err}");
        assert!(
            !Installation {
                python: PathBuf::from("/nonexistent"),
                model: dir.path().to_path_buf()
            }
            .is_present()
        );
    }
}
