//! Word-onset error metrics (the JamendoLyrics convention: word i of the output against word i
//! of the reference).

use serde::Serialize;

use crate::error::{Error, Result};

/// Onset errors of one song.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OnsetMetrics {
    /// Words compared.
    pub words: usize,
    /// Mean absolute onset error in seconds (AAE).
    pub aae_s: f64,
    /// Median absolute onset error in seconds.
    pub median_s: f64,
    /// Share of onsets within 0.3 s.
    pub within_0_3: f64,
    /// Share of onsets within 1 s.
    pub within_1_0: f64,
}

/// Compares predicted word onsets with reference onsets, word by word.
pub fn evaluate(predicted: &[f64], reference: &[f64]) -> Result<OnsetMetrics> {
    if predicted.len() != reference.len() {
        return Err(Error::Invalid(format!(
            "{} predicted words against {} reference words",
            predicted.len(),
            reference.len()
        )));
    }
    if reference.is_empty() {
        return Err(Error::Invalid("no reference words".into()));
    }
    let mut err: Vec<f64> = predicted
        .iter()
        .zip(reference)
        .map(|(p, r)| (p - r).abs())
        .collect();
    if err.iter().any(|e| !e.is_finite()) {
        return Err(Error::Invalid("non-finite time".into()));
    }
    err.sort_by(f64::total_cmp);
    let n = err.len();
    let median = if n % 2 == 1 {
        err[n / 2]
    } else {
        0.5 * (err[n / 2 - 1] + err[n / 2])
    };
    Ok(OnsetMetrics {
        words: n,
        aae_s: err.iter().sum::<f64>() / n as f64,
        median_s: median,
        within_0_3: err.iter().filter(|&&e| e <= 0.3).count() as f64 / n as f64,
        within_1_0: err.iter().filter(|&&e| e <= 1.0).count() as f64 / n as f64,
    })
}

/// The mean of per-song metrics (each song counts once, as in the benchmark's AAE).
pub fn average(songs: &[OnsetMetrics]) -> Option<OnsetMetrics> {
    if songs.is_empty() {
        return None;
    }
    let k = songs.len() as f64;
    let mean = |f: fn(&OnsetMetrics) -> f64| songs.iter().map(f).sum::<f64>() / k;
    Some(OnsetMetrics {
        words: songs.iter().map(|s| s.words).sum(),
        aae_s: mean(|s| s.aae_s),
        median_s: mean(|s| s.median_s),
        within_0_3: mean(|s| s.within_0_3),
        within_1_0: mean(|s| s.within_1_0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics() {
        let m = evaluate(&[1.0, 2.5, 3.0, 10.0], &[1.1, 2.0, 3.0, 4.0]).unwrap();
        assert!((m.aae_s - (0.1 + 0.5 + 0.0 + 6.0) / 4.0).abs() < 1e-9);
        assert!((m.median_s - 0.3).abs() < 1e-9);
        assert_eq!(m.within_0_3, 0.5);
        assert_eq!(m.within_1_0, 0.75);
        assert!(evaluate(&[1.0], &[]).is_err());
        let avg = average(&[m, m]).unwrap();
        assert_eq!(avg.words, 8);
        assert!((avg.aae_s - m.aae_s).abs() < 1e-12);
    }
}
