//! Several aligners over the same front-end features; each word's times are the median of
//! theirs. Acoustic models with different evidence (phone identity, broad classes learned from
//! synthetic songs, hand-set vocal activity) rarely misplace the same word the same way, and the
//! median keeps the two that agree.

use std::sync::Arc;

use encore_audio::AudioBuffer;

use crate::acoustic::{AcousticModel, BroadClassModel};
use crate::align::{AlignOptions, Aligner};
use crate::doc::Lyrics;
use crate::error::{Error, Result};
use crate::frontend::{self, Features};
use crate::hybrid::HybridModel;
use crate::sphinx::SphinxModel;

/// Weight of the per-song adaptation in [`MedianAligner::of_three`], chosen with it on synthetic
/// songs (0.5 and 1 were equal; 0.5 better on more sets).
pub const MEDIAN_ADAPT_WEIGHT: f32 = 0.5;

/// Aligns with every member and takes each word's median start, end and confidence.
pub struct MedianAligner {
    members: Vec<Aligner<Box<dyn AcousticModel>>>,
    name: String,
}

impl std::fmt::Debug for MedianAligner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MedianAligner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MedianAligner {
    /// A median over `members` (one member: its alignment as it is).
    pub fn new(members: Vec<Aligner<Box<dyn AcousticModel>>>) -> Self {
        let names: Vec<&str> = members.iter().map(|a| a.model().name()).collect();
        let name = match names.as_slice() {
            [one] => (*one).to_string(),
            _ => format!("median({})", names.join(", ")),
        };
        Self { members, name }
    }

    /// The median of three models, each with `options` and per-song adaptation
    /// ([`AlignOptions::adapt_weight`] [`MEDIAN_ADAPT_WEIGHT`]): `hybrid` with the Sphinx phones
    /// of `phones`, `hybrid` alone and the broad-class model (`encore lyrics align --median`).
    /// Better than the first alone on synthetic songs in refine mode, equal on jamendo-dev, and
    /// about 1.3 times the work (docs/readme/lyrics.md), so it is not the default.
    pub fn of_three(
        hybrid: HybridModel,
        phones: Arc<SphinxModel>,
        mut options: AlignOptions,
    ) -> Self {
        options.adapt_weight = MEDIAN_ADAPT_WEIGHT;
        let mut members = Self::of_two(hybrid, phones, options).members;
        let options = members[0].options().clone();
        members.push(Aligner::new(Box::new(BroadClassModel::default()), options));
        Self::new(members)
    }

    /// The hybrid model with the Sphinx phones of `phones` and the hybrid model alone, each with
    /// `options`: the two members for a median with a third aligner's word starts
    /// ([`median_with_starts`], `encore lyrics align --whisper`).
    pub fn of_two(hybrid: HybridModel, phones: Arc<SphinxModel>, options: AlignOptions) -> Self {
        let with_phones = Aligner::recommended(hybrid.clone(), Some(phones), options);
        let options = with_phones.options().clone();
        Self::new(vec![with_phones, Aligner::new(Box::new(hybrid), options)])
    }

    /// The members' names: `median(a, b, c)`, or the one member's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the front end on `audio`, then aligns.
    pub fn align_audio(&self, audio: &AudioBuffer, lyrics: &Lyrics) -> Result<Lyrics> {
        let features = frontend::extract(audio)?;
        self.align_features(&features, lyrics)
    }

    /// Aligns with every member, then takes the median per word (and per line in full mode).
    pub fn align_features(&self, features: &Features, lyrics: &Lyrics) -> Result<Lyrics> {
        self.align_features_with_hints(features, lyrics, &[])
    }

    /// [`MedianAligner::align_features`] with full-mode hints for every member (see
    /// [`Aligner::align_features_with_hints`]).
    pub fn align_features_with_hints(
        &self,
        features: &Features,
        lyrics: &Lyrics,
        hints: &[Option<(f64, f64)>],
    ) -> Result<Lyrics> {
        median_alignment(self.align_runs(features, lyrics, hints)?)
    }

    /// Every member's alignment (with `hints`, empty for none), in the order of the members.
    pub fn align_runs(
        &self,
        features: &Features,
        lyrics: &Lyrics,
        hints: &[Option<(f64, f64)>],
    ) -> Result<Vec<Lyrics>> {
        let _span =
            tracing::info_span!("lyrics_median_align", members = self.members.len()).entered();
        self.members
            .iter()
            .map(|a| a.align_features_with_hints(features, lyrics, hints))
            .collect()
    }
}

/// The median per word of `runs` (from [`MedianAligner::align_runs`]) and one more run made
/// from `starts`, one start per word of the first run in order, found by another aligner
/// (Whisper's attention in `encore lyrics align --whisper`). The outside starts are first
/// shifted by their median offset from the first run's, so that a constant lag of the other
/// aligner (Whisper's starts are early on sung words) does not count, and kept inside their
/// line and in order; each outside word ends where the next one starts. A word the other
/// aligner has no start for (`None`) takes the first run's, so the first run decides it.
pub fn median_with_starts(mut runs: Vec<Lyrics>, starts: &[Option<f64>]) -> Result<Lyrics> {
    let first = runs
        .first()
        .ok_or_else(|| Error::Invalid("no alignments to combine".into()))?;
    let outside = outside_run(first, starts)?;
    runs.push(outside);
    median_alignment(runs)
}

/// A copy of `first` with the word starts `starts`, shifted by their median offset from
/// `first`'s and kept inside each line (`first`'s own start where there is none).
fn outside_run(first: &Lyrics, starts: &[Option<f64>]) -> Result<Lyrics> {
    check_outside_starts(first, starts)?;
    let offsets = first
        .lines
        .iter()
        .flat_map(|l| l.words.iter())
        .zip(starts)
        .filter_map(|(w, t)| Some(w.start_s? - (*t)?))
        .collect();
    let shift = median(offsets).unwrap_or(0.0);
    let mut run = first.clone();
    let mut next = starts.iter();
    for line in &mut run.lines {
        let lo = line.start_s.unwrap_or(f64::NEG_INFINITY);
        let hi = line.end_s.unwrap_or(f64::INFINITY).max(lo);
        let mut t: Vec<f64> = line
            .words
            .iter()
            .zip(&mut next)
            .map(|(w, s)| match s {
                Some(s) => (s + shift).clamp(lo, hi),
                None => w.start_s.unwrap_or(lo).clamp(lo, hi),
            })
            .collect();
        // Starts in order, whatever the other aligner gave.
        for k in 1..t.len() {
            t[k] = t[k].max(t[k - 1]);
        }
        for (k, word) in line.words.iter_mut().enumerate() {
            word.start_s = Some(t[k]);
            // The last word ends with its line (or where the first run ended it, untimed).
            let line_end = if hi.is_finite() {
                hi
            } else {
                word.end_s.unwrap_or(t[k]).max(t[k])
            };
            word.end_s = Some(t.get(k + 1).copied().unwrap_or(line_end));
        }
    }
    Ok(run)
}

/// Checks that `starts` has one start (or `None`) per word of `lyrics`, each finite.
pub(crate) fn check_outside_starts(lyrics: &Lyrics, starts: &[Option<f64>]) -> Result<()> {
    let words = lyrics.lines.iter().map(|l| l.words.len()).sum::<usize>();
    if starts.len() != words {
        return Err(Error::Invalid(format!(
            "{} outside word starts for {words} words",
            starts.len()
        )));
    }
    if starts.iter().flatten().any(|t| !t.is_finite()) {
        return Err(Error::Invalid("an outside word start is not finite".into()));
    }
    Ok(())
}

/// The median of `v` (the mean of the middle two for an even count), `None` when empty.
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// Each word's and line's times and confidence as the median over `runs`, which must have the
/// same lines and words. The median keeps every order the runs share: if every run has
/// `end(k) <= start(k + 1)`, so does the median.
pub(crate) fn median_alignment(mut runs: Vec<Lyrics>) -> Result<Lyrics> {
    if runs.len() <= 1 {
        return runs
            .pop()
            .ok_or_else(|| Error::Invalid("no alignments to combine".into()));
    }
    let shape = |l: &Lyrics| l.lines.iter().map(|x| x.words.len()).collect::<Vec<_>>();
    let first = shape(&runs[0]);
    if runs.iter().any(|r| shape(r) != first) {
        return Err(Error::Invalid(
            "alignments to combine differ in lines or words".into(),
        ));
    }
    let mut out = runs[0].clone();
    for (li, line) in out.lines.iter_mut().enumerate() {
        let pick = |f: &dyn Fn(&Lyrics) -> Option<f64>| median(runs.iter().filter_map(f).collect());
        line.start_s = pick(&|r| r.lines[li].start_s);
        line.end_s = pick(&|r| r.lines[li].end_s);
        for (wi, word) in line.words.iter_mut().enumerate() {
            word.start_s = pick(&|r| r.lines[li].words[wi].start_s);
            word.end_s = pick(&|r| r.lines[li].words[wi].end_s);
            word.confidence = pick(&|r| r.lines[li].words[wi].confidence);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{Line, Word};
    use proptest::prelude::*;

    fn run(times: &[(f64, f64)]) -> Lyrics {
        let mut line = Line::new("a b c");
        line.start_s = Some(times[0].0);
        line.end_s = Some(times[times.len() - 1].1);
        for (i, &(s, e)) in times.iter().enumerate() {
            let mut w = Word::new(format!("w{i}"));
            w.start_s = Some(s);
            w.end_s = Some(e);
            w.confidence = Some(0.5);
            line.words.push(w);
        }
        Lyrics {
            meta: Vec::new(),
            lines: vec![line],
        }
    }

    #[test]
    fn the_two_runs_that_agree_win() {
        let good = run(&[(1.0, 1.5), (2.0, 2.5)]);
        let near = run(&[(1.1, 1.6), (2.1, 2.4)]);
        let lost = run(&[(1.0, 2.0), (2.0, 4.0)]);
        let m = median_alignment(vec![good, lost, near]).unwrap();
        let w = &m.lines[0].words;
        assert_eq!((w[0].start_s, w[0].end_s), (Some(1.0), Some(1.6)));
        assert_eq!((w[1].start_s, w[1].end_s), (Some(2.0), Some(2.5)));
    }

    #[test]
    fn outside_starts_are_shifted_by_their_median_lag_and_kept_in_the_line() {
        let a = run(&[(1.0, 1.5), (2.0, 2.5), (3.0, 3.5)]);
        let mut timed = a.clone();
        timed.lines[0].start_s = Some(1.0);
        timed.lines[0].end_s = Some(4.0);
        // Early by 0.3 s everywhere, the last word once more by 2 s.
        let out = outside_run(&timed, &[Some(0.7), Some(1.7), Some(0.5)]).unwrap();
        let w = &out.lines[0].words;
        assert_eq!(w[0].start_s, Some(1.0));
        assert_eq!(w[1].start_s, Some(2.0));
        // 0.5 + 0.3 = 0.8, before the line and the word before it: kept in order.
        assert_eq!(w[2].start_s, Some(2.0));
        assert_eq!(w[0].end_s, w[1].start_s);
        assert_eq!(w[2].end_s, Some(4.0));
        // Without a start the first run's stands, and it does not count in the lag.
        let out = outside_run(&timed, &[Some(0.7), None, Some(2.7)]).unwrap();
        let w = &out.lines[0].words;
        assert_eq!(w[1].start_s, Some(2.0));
        assert!((w[2].start_s.unwrap() - 3.0).abs() < 1e-9);
        assert!(outside_run(&timed, &[Some(1.0)]).is_err());
        assert!(outside_run(&timed, &[Some(1.0), Some(f64::NAN), Some(2.0)]).is_err());
    }

    #[test]
    fn runs_of_different_shapes_are_refused() {
        let a = run(&[(1.0, 1.5), (2.0, 2.5)]);
        let b = run(&[(1.0, 1.5)]);
        assert!(median_alignment(vec![a, b]).is_err());
        assert!(median_alignment(Vec::new()).is_err());
    }

    proptest! {
        /// Ordered runs give an ordered median: starts and ends never go back, no word ends
        /// after the next one starts.
        #[test]
        fn ordered_runs_give_an_ordered_median(
            steps in prop::collection::vec(prop::collection::vec(0.0f64..2.0, 8), 1..6)
        ) {
            let runs: Vec<Lyrics> = steps
                .iter()
                .map(|s| {
                    let mut t = 0.0;
                    let bounds: Vec<f64> = s.iter().map(|d| { t += d; t }).collect();
                    let pairs: Vec<(f64, f64)> = bounds.chunks(2).map(|c| (c[0], c[1])).collect();
                    run(&pairs)
                })
                .collect();
            let m = median_alignment(runs).unwrap();
            let w = &m.lines[0].words;
            for k in 0..w.len() {
                prop_assert!(w[k].start_s <= w[k].end_s);
                if k + 1 < w.len() {
                    prop_assert!(w[k].end_s <= w[k + 1].start_s);
                }
            }
        }
    }
}
