//! Comparing tracks: transient timing F-measure and amplitude-envelope correlation, and the
//! designer pairs they are measured on.

use std::path::{Path, PathBuf};

use crate::model::HapticTrack;

/// The designer pairs under `dir`, at any depth: each `NAME.haptic` with the `NAME.wav` (or
/// `NAME.WAV`) beside it, sorted by the `.haptic` path; a `.haptic` without audio is left out,
/// and unreadable folders and symbolic links are skipped. Evaluation and training split this
/// list by index: even indices are the tune half, odd ones the held-out half.
pub fn designer_pairs(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                walk(&path, out);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "haptic") {
                out.push(path);
            }
        }
    }
    let mut haptics = Vec::new();
    walk(dir, &mut haptics);
    haptics.sort();
    haptics
        .into_iter()
        .filter_map(|h| {
            let wav = ["wav", "WAV"]
                .iter()
                .map(|e| h.with_extension(e))
                .find(|w| w.is_file())?;
            Some((h, wav))
        })
        .collect()
}

/// Precision, recall and F-measure of estimated event times against reference times.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FMeasure {
    /// Matched pairs.
    pub hits: usize,
    /// Reference events.
    pub reference: usize,
    /// Estimated events.
    pub estimated: usize,
}

impl FMeasure {
    /// Share of estimated events that match (1 when nothing was estimated and nothing expected).
    pub fn precision(&self) -> f64 {
        match (self.estimated, self.reference) {
            (0, 0) => 1.0,
            (0, _) => 0.0,
            (e, _) => self.hits as f64 / e as f64,
        }
    }

    /// Share of reference events that were found (1 when nothing was expected).
    pub fn recall(&self) -> f64 {
        if self.reference == 0 {
            if self.estimated == 0 { 1.0 } else { 0.0 }
        } else {
            self.hits as f64 / self.reference as f64
        }
    }

    /// Harmonic mean of precision and recall.
    pub fn f(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Sums counts (for an F-measure pooled over many files).
    pub fn add(&mut self, other: FMeasure) {
        self.hits += other.hits;
        self.reference += other.reference;
        self.estimated += other.estimated;
    }
}

/// Matches estimated to reference times one-to-one within `window_s` (optimal for events on
/// a line: a greedy sweep over both sorted lists).
pub fn transient_f_measure(reference: &[f64], estimated: &[f64], window_s: f64) -> FMeasure {
    let mut r: Vec<f64> = reference
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    let mut e: Vec<f64> = estimated
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    r.sort_by(f64::total_cmp);
    e.sort_by(f64::total_cmp);
    FMeasure {
        hits: matched_estimates(&r, &e, window_s)
            .into_iter()
            .filter(|&m| m)
            .count(),
        reference: r.len(),
        estimated: e.len(),
    }
}

/// For each of `estimated`, whether the one-to-one sweep of [`transient_f_measure`] matches it
/// to a `reference` time within `window_s`. Both lists must be sorted and finite.
pub fn matched_estimates(reference: &[f64], estimated: &[f64], window_s: f64) -> Vec<bool> {
    let mut matched = vec![false; estimated.len()];
    let (mut i, mut j) = (0, 0);
    while i < reference.len() && j < estimated.len() {
        if (reference[i] - estimated[j]).abs() <= window_s {
            matched[j] = true;
            i += 1;
            j += 1;
        } else if reference[i] < estimated[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    matched
}

/// Pearson correlation of two tracks' amplitude envelopes sampled at `rate` Hz over the
/// longer of the two; `None` when either is constant.
pub fn envelope_correlation(a: &HapticTrack, b: &HapticTrack, rate: f64) -> Option<f64> {
    let d = a.duration_s().max(b.duration_s());
    let x = a.sample_amplitude(rate, d);
    let y = b.sample_amplitude(rate, d);
    pearson(&x, &y)
}

pub(crate) fn pearson(x: &[f32], y: &[f32]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let my = y[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let (dx, dy) = (f64::from(x[k]) - mx, f64::from(y[k]) - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 1e-12 && syy > 1e-12).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designer_pairs_finds_haptic_files_with_audio_at_any_depth() {
        let dir = std::env::temp_dir().join(format!("encore-pairs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("b/deeper")).unwrap();
        for f in [
            "z.haptic",
            "z.wav",
            "b/deeper/a.haptic",
            "b/deeper/a.WAV",
            "lonely.haptic",
            "x.wav",
        ] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let pairs = designer_pairs(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let rel: Vec<(PathBuf, PathBuf)> = pairs
            .iter()
            .map(|(h, w)| {
                (
                    h.strip_prefix(&dir).unwrap().into(),
                    w.strip_prefix(&dir).unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            rel,
            [
                ("b/deeper/a.haptic".into(), "b/deeper/a.WAV".into()),
                ("z.haptic".into(), "z.wav".into()),
            ]
        );
    }
    use crate::model::AmplitudeBreakpoint;

    #[test]
    fn f_measure_cases() {
        let check = |r: &[f64], e: &[f64], hits: usize, f: f64| {
            let m = transient_f_measure(r, e, 0.05);
            assert_eq!(m.hits, hits, "{r:?} {e:?}");
            assert!((m.f() - f).abs() < 1e-9, "{r:?} {e:?}: {}", m.f());
        };
        check(&[], &[], 0, 1.0);
        check(&[1.0], &[], 0, 0.0);
        check(&[], &[1.0], 0, 0.0);
        check(&[1.0, 2.0], &[1.04, 2.2], 1, 0.5);
        check(&[1.0, 1.03], &[1.01], 1, 2.0 / 3.0);
        check(&[0.0, 0.5, 1.0], &[0.02, 0.52, 0.98], 3, 1.0);
    }

    #[test]
    fn correlation_of_scaled_envelopes_is_one() {
        let mk = |s: f32| HapticTrack {
            amplitude: (0..50)
                .map(|i| AmplitudeBreakpoint {
                    time: f64::from(i) * 0.1,
                    amplitude: s * ((i % 7) as f32 / 7.0),
                    emphasis: None,
                })
                .collect(),
            ..HapticTrack::default()
        };
        let c = envelope_correlation(&mk(1.0), &mk(0.5), 100.0).unwrap();
        assert!((c - 1.0).abs() < 1e-9);
        assert!(envelope_correlation(&mk(0.0), &mk(1.0), 100.0).is_none());
    }
}
