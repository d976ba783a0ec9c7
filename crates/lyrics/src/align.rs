//! Forced alignment: an HMM built from the lyrics, decoded with Viterbi over the emission
//! scores of an [`AcousticModel`].
//!
//! Full mode aligns lines first on a coarse grid (syllable states, frames averaged by
//! [`AlignOptions::coarse_factor`]), then words inside each line on the fine grid; refine mode
//! only runs the second step inside the given line times. Memory is one byte per
//! (frame, state) of the pass being decoded and is capped by [`AlignOptions::max_cells`].

use encore_audio::AudioBuffer;

use crate::acoustic::{AcousticModel, Emissions};
use crate::adapt::{SongAdaptation, group_of};
use crate::doc::{Line, Lyrics, Word};
use crate::error::{Error, Result};
use crate::frontend::{self, Features};
use crate::phones::{Phone, PhoneClass, Pronouncer};
use crate::text::{Language, Token, tokenize};

/// Alignment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Line times are given (line-timed LRC); find word times inside each line.
    Refine,
    /// Only the text is given; find line and word times.
    Full,
}

/// Settings of the aligner. The defaults were set on synthetic songs, never per song.
#[derive(Debug, Clone)]
pub struct AlignOptions {
    /// Refine or full.
    pub mode: Mode,
    /// Language of the lyrics; guessed from the text when `None`.
    pub language: Option<Language>,
    /// Use eSpeak-NG for pronunciation (rules otherwise).
    pub espeak: bool,
    /// English pronunciation dictionary, looked up before the rules (see
    /// [`crate::PronunciationDict`]); `None`: rules only.
    pub dictionary: Option<std::sync::Arc<crate::PronunciationDict>>,
    /// Repeated states per vowel: the shortest vowel, in fine frames (long notes stay in the last).
    pub vowel_states: usize,
    /// Fine frames per coarse frame for the line pass of full mode.
    pub coarse_factor: usize,
    /// Repeated states per syllable in the line pass (shortest syllable, in coarse frames).
    pub coarse_syllable_states: usize,
    /// Whether the line pass also has one state per consonant (useful with a model that knows
    /// phone identity); otherwise it has vowel states only.
    pub coarse_consonants: bool,
    /// Log-probability cost of entering an optional pause between words.
    pub pause_cost: f32,
    /// Log-probability cost of entering optional filler between lines.
    pub filler_cost: f32,
    /// Seconds around a line's coarse span searched by the word pass.
    pub line_margin_s: f64,
    /// In refine mode, the first word starts at the given line time.
    pub anchor_line_start: bool,
    /// Cost per frame and per second of distance between a word and its expected place, in the
    /// word pass (expected places: the line's span shared out by syllable count).
    pub position_weight_fine: f32,
    /// The same in the line pass of full mode (expected places: the song's vocal activity
    /// shared out by syllable count).
    pub position_weight_coarse: f32,
    /// Word-pass bonus for entering a word's first vowel, per unit of the voiced-onset cue
    /// ([`onset_cue`]: rise of the vocal-band energy of the vocal-enhanced signal, robust z
    /// clipped to 0..3). 0 turns the cue off.
    pub onset_weight: f32,
    /// Weight of the per-song adaptation scores in a second word pass (see the `adapt` module:
    /// mixtures per broad group fitted on the song's frames as the first pass labelled them).
    /// 0 turns adaptation off (one word pass). Needs the front end's Sphinx filter energies.
    pub adapt_weight: f32,
    /// Line pass of full mode with hints ([`Aligner::align_features_with_hints`]): cost per
    /// frame and per second of distance between a hinted word and its hint.
    pub hint_weight: f32,
    /// Seconds a hint is widened by on each side before distance counts.
    pub hint_margin_s: f64,
    /// [`AlignOptions::position_weight_coarse`] when any word has a hint: the hints carry the
    /// position, so the prior is weaker (the hint weights were chosen with this one).
    pub position_weight_coarse_hinted: f32,
    /// Most Viterbi cells (frames x states) one pass may use (one byte each).
    pub max_cells: u64,
}

impl AlignOptions {
    /// The language the aligner uses for `lyrics`: [`AlignOptions::language`], else the
    /// lyrics' `lang` tag, else a guess from their text.
    pub fn language_for(&self, lyrics: &Lyrics) -> Language {
        self.language.clone().unwrap_or_else(|| {
            lyrics
                .meta("lang")
                .map(Language::from_code)
                .unwrap_or_else(|| {
                    let text: Vec<&str> = lyrics.lines.iter().map(|l| l.text.as_str()).collect();
                    Language::guess(&text.join("\n"))
                })
        })
    }
}

impl Default for AlignOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Full,
            language: None,
            espeak: false,
            dictionary: None,
            vowel_states: 3,
            coarse_factor: 8,
            coarse_syllable_states: 2,
            coarse_consonants: false,
            pause_cost: 0.5,
            filler_cost: 4.0,
            line_margin_s: 1.5,
            anchor_line_start: true,
            position_weight_fine: 1.0,
            position_weight_coarse: 0.05,
            onset_weight: 2.0,
            adapt_weight: 0.0,
            hint_weight: 3.0,
            hint_margin_s: 0.5,
            position_weight_coarse_hinted: 0.2,
            max_cells: 200_000_000,
        }
    }
}

/// Aligns lyrics to audio with an acoustic model.
#[derive(Debug, Clone)]
pub struct Aligner<M> {
    model: M,
    options: AlignOptions,
}

impl Aligner<Box<dyn AcousticModel>> {
    /// Encore's default aligner for `hybrid`, as `encore lyrics align` and the platform's lyrics
    /// step use it: with `phones`, `hybrid` plus the Sphinx phone scores
    /// ([`crate::SphinxHybridModel`], weight [`crate::DEFAULT_PHONE_WEIGHT`]) and consonant
    /// states in the line pass (the setting the phones were chosen with); without, `hybrid`
    /// alone. The line-pass weight the model file recommends replaces `options`' own. (Callers
    /// decide whether to pass the phones: the CLI and the platform do in refine mode only.)
    pub fn recommended(
        hybrid: crate::HybridModel,
        phones: Option<std::sync::Arc<crate::SphinxModel>>,
        mut options: AlignOptions,
    ) -> Self {
        if let Some(w) = hybrid.header.coarse_weight {
            options.position_weight_coarse = w;
        }
        match phones {
            Some(phones) => {
                options.coarse_consonants = true;
                let model =
                    crate::SphinxHybridModel::new(hybrid, phones, crate::DEFAULT_PHONE_WEIGHT);
                Self::new(Box::new(model), options)
            }
            None => Self::new(Box::new(hybrid), options),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct State {
    pub(crate) class: usize,
    /// Index of the word in the flat word list, or `None` for pause/filler.
    pub(crate) word: Option<usize>,
    pub(crate) skippable: bool,
    /// Cost of entering this state (pauses and fillers).
    pub(crate) enter: f32,
    /// Broad group for per-song adaptation ([`group_of`]: 0 for pause and filler).
    pub(crate) group: u8,
}

/// What every line's word pass reads: the emissions, the voiced-onset cue and, in the second
/// pass of adaptation, the song's adapted scores.
struct WordPassInput<'a> {
    em: &'a Emissions,
    onset: &'a [f32],
    adapt: Option<&'a SongAdaptation>,
}

/// A word to align: its place in the lyrics and its phones.
struct Item {
    line: usize,
    index: usize,
    phones: Vec<Phone>,
    /// Where the word is sung, by another recogniser (seconds), in full mode.
    hint: Option<(f64, f64)>,
}

impl<M: AcousticModel> Aligner<M> {
    /// An aligner with `model` and `options`.
    pub fn new(model: M, options: AlignOptions) -> Self {
        Self { model, options }
    }

    /// The options.
    pub fn options(&self) -> &AlignOptions {
        &self.options
    }

    /// The acoustic model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Runs the front end on `audio`, then aligns.
    pub fn align_audio(&self, audio: &AudioBuffer, lyrics: &Lyrics) -> Result<Lyrics> {
        let features = frontend::extract(audio)?;
        self.align_features(&features, lyrics)
    }

    /// Aligns lyrics to front-end features. The result has one line per input line with text,
    /// times and word times; every word gets a confidence.
    pub fn align_features(&self, features: &Features, lyrics: &Lyrics) -> Result<Lyrics> {
        self.align_features_with_hints(features, lyrics, &[])
    }

    /// [`Aligner::align_features`] with hints for full mode: per token of the lyrics (the order
    /// of [`tokenize`] over all lines), a span in seconds where another recogniser heard the
    /// word, or `None` (see [`crate::anchor_words`]). The line pass pays
    /// [`AlignOptions::hint_weight`] per frame and second for placing a hinted word outside its
    /// span (widened by [`AlignOptions::hint_margin_s`]), so wrong hints bend the path without
    /// forcing it; with any hint, the line pass's position prior weighs
    /// [`AlignOptions::position_weight_coarse_hinted`] instead of
    /// [`AlignOptions::position_weight_coarse`]. Empty `hints`: none; refine mode ignores them.
    pub fn align_features_with_hints(
        &self,
        features: &Features,
        lyrics: &Lyrics,
        hints: &[Option<(f64, f64)>],
    ) -> Result<Lyrics> {
        let _span = tracing::info_span!(
            "lyrics_align",
            model = self.model.name(),
            lines = lyrics.lines.len()
        )
        .entered();
        let emissions = self.model.score(features);
        let duration = features.len() as f64 / features.frame_rate;
        let lang = self.options.language_for(lyrics);
        let pron = Pronouncer::new(lang.clone())
            .with_espeak(self.options.espeak)
            .with_dictionary(self.options.dictionary.clone());
        let mut out = Lyrics {
            meta: lyrics.meta.clone(),
            lines: Vec::with_capacity(lyrics.lines.len()),
        };
        let mut items: Vec<Item> = Vec::new();
        let mut token = 0usize;
        for (li, line) in lyrics.lines.iter().enumerate() {
            let tokens: Vec<Token> = tokenize(&line.text, &lang);
            let phones = pron.line(&tokens)?;
            let mut l = Line::new(line.text.clone());
            l.start_s = line.start_s;
            l.end_s = line.end_s;
            for (wi, (tok, ph)) in tokens.iter().zip(phones).enumerate() {
                l.words.push(Word::new(tok.text.clone()));
                if !ph.is_empty() {
                    items.push(Item {
                        line: li,
                        index: wi,
                        phones: ph,
                        hint: hints
                            .get(token)
                            .copied()
                            .flatten()
                            .filter(|(a, b)| a.is_finite() && b.is_finite()),
                    });
                }
                token += 1;
            }
            out.lines.push(l);
        }
        if items.is_empty() {
            return Err(Error::Invalid(
                "the lyrics contain no words to align".into(),
            ));
        }
        if !hints.is_empty() && hints.len() != token {
            return Err(Error::Invalid(format!(
                "{} hints for {token} words",
                hints.len()
            )));
        }
        // Line windows in fine frames.
        let n = emissions.n_frames();
        let fr = emissions.frame_rate;
        let to_frame = |s: f64| ((s * fr).round().max(0.0) as usize).min(n);
        let windows: Vec<Option<(usize, usize, bool)>> = match self.options.mode {
            Mode::Refine => {
                if !lyrics.is_line_timed() {
                    return Err(Error::Invalid(
                        "refine mode needs a start time on every line (line-timed LRC)".into(),
                    ));
                }
                (0..out.lines.len())
                    .map(|i| {
                        let start = out.lines[i].start_s.unwrap_or(0.0);
                        let next = out.lines.get(i + 1).and_then(|l| l.start_s);
                        let end = out.lines[i]
                            .end_s
                            .or(next)
                            .unwrap_or_else(|| (start + 10.0).min(duration))
                            .max(start);
                        let end = next.map_or(end, |ns| end.min(ns.max(start)));
                        Some((
                            to_frame(start),
                            to_frame(end),
                            self.options.anchor_line_start,
                        ))
                    })
                    .collect()
            }
            Mode::Full => self.coarse_lines(&emissions, &items, out.lines.len())?,
        };
        // Words inside each line; with adaptation, twice: the first pass labels the frames.
        let onset = if self.options.onset_weight != 0.0 {
            onset_cue(features)
        } else {
            Vec::new()
        };
        let adapt = if self.options.adapt_weight > 0.0 {
            // Frames outside every line window are filler (refine: by the given line times;
            // full: by the line pass).
            let mut labels = vec![Some(0u8); n];
            let first = WordPassInput {
                em: &emissions,
                onset: &onset,
                adapt: None,
            };
            self.word_pass(&first, &items, &windows, Some(&mut labels[..]), &mut out)?;
            let _span = tracing::debug_span!("lyrics_adapt").entered();
            SongAdaptation::fit(features, &labels)
        } else {
            None
        };
        let input = WordPassInput {
            em: &emissions,
            onset: &onset,
            adapt: adapt.as_ref(),
        };
        self.word_pass(&input, &items, &windows, None, &mut out)?;
        finish_times(&mut out, duration, self.options.mode);
        Ok(out)
    }

    /// The word pass: words inside each line window, written into `out`. With `labels`, each
    /// frame a line's path covers gets its state's adaptation group.
    fn word_pass(
        &self,
        input: &WordPassInput,
        items: &[Item],
        windows: &[Option<(usize, usize, bool)>],
        mut labels: Option<&mut [Option<u8>]>,
        out: &mut Lyrics,
    ) -> Result<()> {
        let n = input.em.n_frames();
        let fr = input.em.frame_rate;
        let mut floor = 0usize;
        for (li, win) in windows.iter().enumerate() {
            let line_items: Vec<&Item> = items.iter().filter(|it| it.line == li).collect();
            let Some((lo, hi, anchored)) = *win else {
                continue;
            };
            let core = (lo, hi.min(n));
            let (lo, hi) = if self.options.mode == Mode::Full {
                let margin = (self.options.line_margin_s * fr) as usize;
                (lo.saturating_sub(margin).max(floor), (hi + margin).min(n))
            } else {
                (lo, hi.min(n))
            };
            if line_items.is_empty() {
                continue;
            }
            let times = self.fine_line(
                input,
                &line_items,
                (lo, hi.max(lo)),
                core,
                anchored,
                labels.as_deref_mut(),
            )?;
            for (it, (s, e, c)) in line_items.iter().zip(times) {
                let w = &mut out.lines[li].words[it.index];
                w.start_s = Some(s as f64 / fr);
                w.end_s = Some(e as f64 / fr);
                w.confidence = Some(f64::from(c));
                floor = floor.max(e);
            }
        }
        Ok(())
    }

    fn unit_states(
        &self,
        phones: &[Phone],
        word: usize,
        coarse: bool,
        vowel_states: usize,
        out: &mut Vec<State>,
    ) {
        let before = out.len();
        for p in phones {
            let class = self.model.class_of(p);
            // The line pass has vowels only unless `coarse_consonants`; the word pass has all.
            let reps = match p.class {
                PhoneClass::Vowel => vowel_states,
                _ if !coarse || self.options.coarse_consonants => 1,
                _ => 0,
            };
            for _ in 0..reps {
                out.push(State {
                    class,
                    word: Some(word),
                    skippable: false,
                    enter: 0.0,
                    group: group_of(Some(p.class)),
                });
            }
        }
        if out.len() == before
            && let Some(p) = phones.first()
        {
            out.push(State {
                class: self.model.class_of(p),
                word: Some(word),
                skippable: false,
                enter: 0.0,
                group: group_of(Some(p.class)),
            });
        }
    }

    /// Coarse pass of full mode: one state per syllable, optional filler between lines. Returns
    /// each line's span in fine frames.
    fn coarse_lines(
        &self,
        em: &Emissions,
        items: &[Item],
        n_lines: usize,
    ) -> Result<Vec<Option<(usize, usize, bool)>>> {
        let filler = self.model.filler_class();
        let mut states = vec![State {
            class: filler,
            word: None,
            skippable: true,
            enter: 0.0,
            group: 0,
        }];
        for (k, it) in items.iter().enumerate() {
            if k > 0 && items[k - 1].line != it.line {
                states.push(State {
                    class: filler,
                    word: None,
                    skippable: true,
                    enter: self.options.filler_cost,
                    group: 0,
                });
            }
            self.unit_states(
                &it.phones,
                k,
                true,
                self.options.coarse_syllable_states.max(1),
                &mut states,
            );
        }
        states.push(State {
            class: filler,
            word: None,
            skippable: true,
            enter: 0.0,
            group: 0,
        });
        let factor = line_pass_factor(
            em.n_frames(),
            states.len(),
            self.options.coarse_factor,
            self.options.max_cells,
        );
        let coarse = em.decimate(factor);
        let t = coarse.n_frames();
        // Expected place of each syllable: the song's vocal activity shared out by syllables.
        let filler_c = filler;
        let act: Vec<f64> = (0..t)
            .map(|f| {
                let best = (0..coarse.n_classes)
                    .filter(|&c| c != filler_c)
                    .map(|c| coarse.at(f, c))
                    .fold(f32::MIN, f32::max);
                let a = 1.0 / (1.0 + f64::from(coarse.at(f, filler_c) - best).exp());
                a * a
            })
            .collect();
        let expected = expected_spans(&states, &act);
        let w = if items.iter().any(|it| it.hint.is_some()) {
            self.options.position_weight_coarse_hinted
        } else {
            self.options.position_weight_coarse
        } / coarse.frame_rate as f32;
        // Hinted words: their hint's span in coarse frames, widened by the margin.
        let cfr = coarse.frame_rate;
        let margin = self.options.hint_margin_s;
        let hinted: Vec<Option<(f32, f32)>> = states
            .iter()
            .map(|st| {
                let (a, b) = st.word.and_then(|k| items[k].hint)?;
                Some((((a - margin) * cfr) as f32, ((b + margin) * cfr) as f32))
            })
            .collect();
        let wh = self.options.hint_weight / cfr as f32;
        let path = viterbi(
            &states,
            t,
            |f, s| {
                coarse.at(f, states[s].class)
                    - w * distance(f, expected[s])
                    - hinted[s].map_or(0.0, |h| wh * distance(f, h))
            },
            self.options.max_cells,
        )
        .or_else(|_| Ok::<_, Error>(even_path(&states, t)))?;
        let mut spans: Vec<Option<(usize, usize, bool)>> = vec![None; n_lines];
        for (f, &s) in path.iter().enumerate() {
            if let Some(k) = states[s].word {
                let line = items[k].line;
                let (a, b) = (f * factor, ((f + 1) * factor).min(em.n_frames()));
                spans[line] = Some(match spans[line] {
                    Some((lo, hi, x)) => (lo.min(a), hi.max(b), x),
                    None => (a, b, false),
                });
            }
        }
        Ok(spans)
    }

    /// Fine pass over one line: returns (start frame, end frame, confidence) per item.
    /// Words are expected inside `core` (the line's span from the line pass, or its given times);
    /// the window `lo..hi` may be wider. `input.onset` is the song's [`onset_cue`] (empty: no
    /// cue). With `labels`, each frame of the window gets its state's adaptation group.
    fn fine_line(
        &self,
        input: &WordPassInput,
        items: &[&Item],
        (lo, hi): (usize, usize),
        core: (usize, usize),
        anchored: bool,
        labels: Option<&mut [Option<u8>]>,
    ) -> Result<Vec<(usize, usize, f32)>> {
        let WordPassInput { em, onset, adapt } = *input;
        let filler = self.model.filler_class();
        let build = |vowel_states: usize| {
            let mut states = Vec::new();
            if !anchored {
                states.push(State {
                    class: filler,
                    word: None,
                    skippable: true,
                    enter: 0.0,
                    group: 0,
                });
            }
            for (k, it) in items.iter().enumerate() {
                if k > 0 {
                    states.push(State {
                        class: filler,
                        word: None,
                        skippable: true,
                        enter: self.options.pause_cost,
                        group: 0,
                    });
                }
                self.unit_states(&it.phones, k, false, vowel_states, &mut states);
            }
            states.push(State {
                class: filler,
                word: None,
                skippable: true,
                enter: 0.0,
                group: 0,
            });
            states
        };
        let t = hi.saturating_sub(lo);
        let mut states = build(self.options.vowel_states.max(1));
        let needed = states.iter().filter(|s| !s.skippable).count();
        if needed > t {
            states = build(1);
        }
        let needed = states.iter().filter(|s| !s.skippable).count();
        let path = if needed > t || t == 0 {
            None
        } else {
            let weight: Vec<f64> = (lo..hi)
                .map(|f| {
                    if (core.0..core.1).contains(&f) {
                        1.0
                    } else {
                        1e-3
                    }
                })
                .collect();
            let expected = expected_spans(&states, &weight);
            let w = self.options.position_weight_fine / em.frame_rate as f32;
            let starts = word_onset_states(&states, |c| self.model.is_vowel_class(c));
            let ow = self.options.onset_weight;
            let aw = self.options.adapt_weight;
            viterbi_with_entry(
                &states,
                t,
                |f, s| {
                    let adapted = adapt.map_or(0.0, |a| aw * a.at(lo + f, states[s].group));
                    em.at(lo + f, states[s].class) + adapted - w * distance(f, expected[s])
                },
                |f, s| {
                    if starts[s] {
                        ow * onset.get(lo + f).copied().unwrap_or(0.0)
                    } else {
                        0.0
                    }
                },
                self.options.max_cells,
            )
            .ok()
        };
        let Some(path) = path else {
            // Not enough frames for one per state: spread words evenly over the window.
            let n = items.len();
            return Ok((0..n)
                .map(|k| {
                    let a = lo + (t * k) / n;
                    let b = lo + (t * (k + 1)) / n;
                    (a, b.max(a), 0.0)
                })
                .collect());
        };
        if let Some(labels) = labels {
            for (f, &s) in path.iter().enumerate() {
                if let Some(l) = labels.get_mut(lo + f) {
                    *l = Some(states[s].group);
                }
            }
        }
        let mut spans: Vec<Option<(usize, usize, f64, usize)>> = vec![None; items.len()];
        for (f, &s) in path.iter().enumerate() {
            let st = states[s];
            if let Some(k) = st.word {
                let a = em.at(lo + f, st.class);
                let b = em.at(lo + f, filler);
                let p = 1.0 / (1.0 + f64::from(b - a).exp());
                let frame = lo + f;
                spans[k] = Some(match spans[k] {
                    Some((s0, _, sum, cnt)) => (s0, frame + 1, sum + p, cnt + 1),
                    None => (frame, frame + 1, p, 1),
                });
            }
        }
        Ok(spans
            .into_iter()
            .map(|s| {
                s.map_or((lo, lo, 0.0), |(a, b, sum, cnt)| {
                    (a, b, (sum / cnt as f64) as f32)
                })
            })
            .collect())
    }
}

/// Viterbi over a left-to-right chain: each state can stay, advance by one, or jump over one
/// skippable state. Starts in the first state (or after it when skippable) and ends in the
/// last (or before it when skippable). Returns the state per frame.
pub(crate) fn viterbi(
    states: &[State],
    t: usize,
    emit: impl Fn(usize, usize) -> f32,
    max_cells: u64,
) -> Result<Vec<usize>> {
    viterbi_with_entry(states, t, emit, |_, _| 0.0, max_cells)
}

/// [`viterbi`] with a bonus `entry(f, s)` added when the path enters state `s` from an earlier
/// state at frame `f` (not when it stays in `s`, nor at the first frame).
pub(crate) fn viterbi_with_entry(
    states: &[State],
    t: usize,
    emit: impl Fn(usize, usize) -> f32,
    entry: impl Fn(usize, usize) -> f32,
    max_cells: u64,
) -> Result<Vec<usize>> {
    let s_n = states.len();
    let cells = (s_n as u64).saturating_mul(t as u64);
    if cells > max_cells {
        return Err(Error::Limit {
            what: "alignment cells (frames x states)",
            got: cells,
            limit: max_cells,
        });
    }
    if t == 0 || s_n == 0 {
        return Err(Error::Invalid("nothing to align".into()));
    }
    const NEG: f32 = f32::NEG_INFINITY;
    let mut back = vec![0u8; s_n * t];
    let mut prev = vec![NEG; s_n];
    let mut cur = vec![NEG; s_n];
    for (s, st) in states.iter().enumerate() {
        if s == 0 || (s == 1 && states[0].skippable) {
            prev[s] = emit(0, s) - st.enter;
        }
    }
    for f in 1..t {
        for s in 0..s_n {
            let st = &states[s];
            let mut best = prev[s];
            let mut arg = 0u8;
            let bonus = if s >= 1 { entry(f, s) } else { 0.0 };
            if s >= 1 {
                let v = prev[s - 1] - st.enter + bonus;
                if v > best {
                    best = v;
                    arg = 1;
                }
            }
            if s >= 2 && states[s - 1].skippable {
                let v = prev[s - 2] - st.enter + bonus;
                if v > best {
                    best = v;
                    arg = 2;
                }
            }
            cur[s] = if best == NEG { NEG } else { best + emit(f, s) };
            back[f * s_n + s] = arg;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let last = s_n - 1;
    let mut s = last;
    if states[last].skippable && s_n >= 2 && prev[last - 1] > prev[last] {
        s = last - 1;
    }
    if prev[s] == NEG {
        return Err(Error::Invalid("no alignment path fits the audio".into()));
    }
    let mut path = vec![0usize; t];
    for f in (0..t).rev() {
        path[f] = s;
        if f > 0 {
            s -= back[f * s_n + s] as usize;
        }
    }
    Ok(path)
}

/// Frames on each side compared by [`onset_cue`] (about 46 ms at the front end's frame rate).
const ONSET_LAG: usize = 4;

/// Per-frame voiced-onset cue: how much the vocal-band energy of the vocal-enhanced signal
/// ([`Features::vocal_db`]) rises from the `ONSET_LAG` frames before `t` to the `ONSET_LAG`
/// frames from `t` on, as a robust z-score over the song clipped to `[0, 3]` (only rises count).
/// Sung syllables usually start with such a rise, while held notes and steady accompaniment
/// do not rise.
pub(crate) fn onset_cue(f: &Features) -> Vec<f32> {
    let x = &f.vocal_db;
    let n = x.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for v in x {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(*v));
    }
    let mean = |a: usize, b: usize| (prefix[b] - prefix[a]) / (b - a).max(1) as f64;
    let raw: Vec<f32> = (0..n)
        .map(|t| {
            if t == 0 {
                return 0.0;
            }
            let before = mean(t.saturating_sub(ONSET_LAG), t);
            let after = mean(t, (t + ONSET_LAG).min(n));
            (after - before).max(0.0) as f32
        })
        .collect();
    crate::acoustic::robust_z(&raw)
        .into_iter()
        .map(|z| z.clamp(0.0, 3.0))
        .collect()
}

/// For each state, whether it is the first vowel state of its word (or, for a word without a
/// vowel, its first state).
fn word_onset_states(states: &[State], is_vowel: impl Fn(usize) -> bool) -> Vec<bool> {
    let mut out = vec![false; states.len()];
    let mut i = 0;
    while i < states.len() {
        let Some(w) = states[i].word else {
            i += 1;
            continue;
        };
        let end = (i..states.len())
            .find(|&j| states[j].word != Some(w))
            .unwrap_or(states.len());
        let at = (i..end).find(|&j| is_vowel(states[j].class)).unwrap_or(i);
        out[at] = true;
        i = end;
    }
    out
}

/// Distance in frames from `f` to the span `[a, b)`.
fn distance(f: usize, (a, b): (f32, f32)) -> f32 {
    let f = f as f32;
    if f < a {
        a - f
    } else if f >= b {
        f - b
    } else {
        0.0
    }
}

/// The expected span (in frames) of each state's word: the frames' `weight` (1 everywhere, or
/// vocal activity) shared out among words by their number of states. Skippable states get an
/// unbounded span.
fn expected_spans(states: &[State], weight: &[f64]) -> Vec<(f32, f32)> {
    let total_w: f64 = weight.iter().sum();
    let mut cum = Vec::with_capacity(weight.len() + 1);
    cum.push(0.0f64);
    for w in weight {
        cum.push(cum.last().copied().unwrap_or(0.0) + w);
    }
    // Frame at which the cumulative weight reaches `x` (0..=1 of the total).
    let at = |x: f64| -> f32 {
        let target = x * total_w;
        let i = cum.partition_point(|&c| c < target);
        i.saturating_sub(1) as f32
    };
    let real: Vec<usize> = (0..states.len())
        .filter(|&s| !states[s].skippable)
        .collect();
    let n = real.len().max(1) as f64;
    let mut first: std::collections::HashMap<usize, (usize, usize)> =
        std::collections::HashMap::new();
    for (k, &s) in real.iter().enumerate() {
        if let Some(w) = states[s].word {
            let e = first.entry(w).or_insert((k, k));
            e.1 = k;
        }
    }
    states
        .iter()
        .map(|st| match st.word.and_then(|w| first.get(&w)) {
            Some(&(a, b)) => (at(a as f64 / n), at((b + 1) as f64 / n)),
            None => (f32::MIN, f32::MAX),
        })
        .collect()
}

/// Fine frames per frame of the line pass: `configured`, doubled until `frames x states` fits in
/// `max_cells`, so a song too long for the configured grid gets a coarser line pass rather than
/// none (the even spread of [`even_path`]).
fn line_pass_factor(frames: usize, states: usize, configured: usize, max_cells: u64) -> usize {
    let fits =
        |factor: usize| (frames.div_ceil(factor) as u64).saturating_mul(states as u64) <= max_cells;
    let mut factor = configured.max(1);
    while !fits(factor) && factor < frames.max(1) {
        factor = factor.saturating_mul(2);
    }
    factor
}

/// A path that spreads the non-skippable states evenly (used when Viterbi cannot run).
fn even_path(states: &[State], t: usize) -> Vec<usize> {
    let real: Vec<usize> = (0..states.len())
        .filter(|&s| !states[s].skippable)
        .collect();
    if real.is_empty() {
        return vec![0; t];
    }
    (0..t).map(|f| real[(f * real.len()) / t.max(1)]).collect()
}

/// Fills untimed words (punctuation) from their neighbours and sets line times from words.
fn finish_times(out: &mut Lyrics, duration: f64, mode: Mode) {
    let mut last_end = 0.0f64;
    for line in &mut out.lines {
        let n = line.words.len();
        for i in 0..n {
            if line.words[i].start_s.is_none() {
                let next = line.words[i + 1..].iter().find_map(|w| w.start_s);
                let t = next.unwrap_or(last_end);
                line.words[i].start_s = Some(t);
                line.words[i].end_s = Some(t);
                line.words[i].confidence = Some(0.0);
            }
            last_end = line.words[i].end_s.unwrap_or(last_end);
        }
        let first = line.words.first().and_then(|w| w.start_s);
        let last = line.words.last().and_then(|w| w.end_s);
        match mode {
            Mode::Full => {
                line.start_s = first.or(Some(last_end));
                line.end_s = last.or(line.start_s);
            }
            Mode::Refine => {
                line.start_s = line.start_s.or(first);
                line.end_s = line.end_s.or(last).map(|e| e.min(duration.max(e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(class: usize, word: Option<usize>, skippable: bool) -> State {
        State {
            class,
            word,
            skippable,
            enter: 0.0,
            group: 0,
        }
    }

    #[test]
    fn a_long_song_gets_a_coarser_line_pass_within_the_cell_budget() {
        // 30 minutes at 86 frames/s with 20 000 states: 8 frames per step would need 388 M
        // cells.
        let frames = 155_040;
        assert_eq!(line_pass_factor(frames, 20_000, 8, 200_000_000), 16);
        assert!(frames.div_ceil(16) as u64 * 20_000 <= 200_000_000);
        // What fits keeps the configured grid (10 minutes, 6 000 states).
        assert_eq!(line_pass_factor(51_680, 6_000, 8, 200_000_000), 8);
        assert_eq!(line_pass_factor(51_680, 6_000, 1, 200_000_000), 2);
        assert_eq!(line_pass_factor(51_680, 2_000, 0, 200_000_000), 1);
        // Never coarser than one step for the whole song.
        assert_eq!(line_pass_factor(100, 1_000, 8, 10), 128);
        assert_eq!(line_pass_factor(0, 10, 8, 0), 8);
    }

    #[test]
    fn viterbi_follows_the_evidence() {
        // Classes: 0 filler, 1 vowel. Frames: 3 filler, 4 vowel, 2 filler, 3 vowel, 2 filler.
        let pattern = [0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0];
        let states = [
            st(0, None, true),
            st(1, Some(0), false),
            st(0, None, true),
            st(1, Some(1), false),
            st(0, None, true),
        ];
        let path = viterbi(
            &states,
            pattern.len(),
            |f, s| {
                if pattern[f] == states[s].class {
                    0.0
                } else {
                    -3.0
                }
            },
            1000,
        )
        .unwrap();
        assert_eq!(path, vec![0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4]);
    }

    #[test]
    fn viterbi_skips_optional_states_and_respects_limits() {
        let states = [st(0, None, true), st(1, Some(0), false), st(0, None, true)];
        let path = viterbi(
            &states,
            3,
            |_, s| if states[s].class == 1 { 0.0 } else { -5.0 },
            100,
        )
        .unwrap();
        assert_eq!(path, vec![1, 1, 1]);
        assert!(matches!(
            viterbi(&states, 100, |_, _| 0.0, 10),
            Err(Error::Limit { .. })
        ));
    }

    #[test]
    fn entry_bonus_moves_an_ambiguous_boundary() {
        // Two words of the same class: the evidence cannot place the boundary; the bonus can.
        let states = [st(1, Some(0), false), st(1, Some(1), false)];
        let path = viterbi_with_entry(
            &states,
            10,
            |_, _| 0.0,
            |f, s| if s == 1 && f == 7 { 1.0 } else { 0.0 },
            1000,
        )
        .unwrap();
        assert_eq!(path.iter().position(|&s| s == 1), Some(7));
        let path = viterbi_with_entry(
            &states,
            10,
            |_, _| 0.0,
            |f, s| if s == 1 && f == 3 { 1.0 } else { 0.0 },
            1000,
        )
        .unwrap();
        assert_eq!(path.iter().position(|&s| s == 1), Some(3));
        // No bonus: the same path as plain Viterbi.
        let plain = viterbi(&states, 10, |_, _| 0.0, 1000).unwrap();
        let zero = viterbi_with_entry(&states, 10, |_, _| 0.0, |_, _| 0.0, 1000).unwrap();
        assert_eq!(plain, zero);
    }

    #[test]
    fn onset_states_are_first_vowels() {
        // Word 0: stop, vowel, vowel; pause; word 1: sonorant only; word 2: vowel, stop.
        let states = [
            st(4, Some(0), false),
            st(2, Some(0), false),
            st(2, Some(0), false),
            st(0, None, true),
            st(3, Some(1), false),
            st(2, Some(2), false),
            st(4, Some(2), false),
        ];
        assert_eq!(
            word_onset_states(&states, |c| c == 2),
            vec![false, true, false, false, true, true, false]
        );
    }

    #[test]
    fn onset_cue_marks_rises_of_vocal_energy() {
        // Quiet, a loud note from frame 40, held, then a fall at frame 80; a small wobble on top.
        let n = 120;
        let vocal_db: Vec<f32> = (0..n)
            .map(|t| {
                let level = if (40..80).contains(&t) { -10.0 } else { -40.0 };
                level + 0.5 * (t as f32 * 0.9).sin()
            })
            .collect();
        let features = Features {
            frame_rate: 86.0,
            log_mel: vec![0.0; n * crate::frontend::N_MELS],
            vocal_db,
            mix_db: vec![-10.0; n],
            flux: vec![0.0; n],
            hiss_db: vec![-60.0; n],
            sphinx_mel: vec![0.0; n * crate::sphinx::SPHINX_NFILT],
        };
        let cue = onset_cue(&features);
        assert_eq!(cue.len(), n);
        assert!(cue.iter().all(|c| (0.0..=3.0).contains(c)));
        assert!(cue[40] > 2.9, "{}", cue[40]);
        // The held note, the fall and the quiet part after it give little or no cue.
        let held = cue[50..76].iter().sum::<f32>() / 26.0;
        assert!(held < 1.5, "{held}");
        assert!(cue[77..90].iter().all(|&c| c < 2.0), "{:?}", &cue[77..90]);
        assert!(cue[77..84].iter().all(|&c| c == 0.0), "{:?}", &cue[77..84]);
    }
}
