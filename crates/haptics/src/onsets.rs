//! Onset peak picking on the onset-strength curve, and a simple onset-derived beat grid
//! (autocorrelation tempo plus dynamic-programming beat placement, after Ellis 2007).

/// Peak-picking parameters, in seconds and in units of the curve's maximum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PickParams {
    /// A peak must be the maximum within this many seconds on either side.
    pub max_window_s: f64,
    /// Seconds of past curve averaged for the adaptive threshold.
    pub avg_before_s: f64,
    /// Seconds of future curve averaged for the adaptive threshold.
    pub avg_after_s: f64,
    /// A peak must exceed the local average by this share of the global maximum.
    pub delta: f32,
    /// A peak must reach this share of the global maximum.
    pub threshold: f32,
    /// Minimum gap between picked onsets, in seconds.
    pub min_gap_s: f64,
}

/// Indices of the picked onset frames, in order.
pub(crate) fn pick_peaks(curve: &[f32], frame_rate: f64, p: &PickParams) -> Vec<usize> {
    let max = curve.iter().copied().fold(0.0f32, f32::max);
    if max <= 1e-6 {
        return Vec::new();
    }
    let w = (p.max_window_s * frame_rate).round().max(1.0) as usize;
    let before = (p.avg_before_s * frame_rate).round().max(1.0) as usize;
    let after = (p.avg_after_s * frame_rate).round() as usize;
    let gap = (p.min_gap_s * frame_rate).round() as usize;
    // Prefix sums for the moving average.
    let mut prefix = Vec::with_capacity(curve.len() + 1);
    prefix.push(0.0f64);
    for &v in curve {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(v));
    }
    let mut out: Vec<usize> = Vec::new();
    for t in 0..curve.len() {
        let v = curve[t];
        if v < p.threshold * max {
            continue;
        }
        let lo = t.saturating_sub(w);
        let hi = (t + w + 1).min(curve.len());
        if curve[lo..hi].iter().any(|&u| u > v) {
            continue;
        }
        let (alo, ahi) = (t.saturating_sub(before), (t + after + 1).min(curve.len()));
        let mean = ((prefix[ahi] - prefix[alo]) / (ahi - alo) as f64) as f32;
        if v < mean + p.delta * max {
            continue;
        }
        match out.last() {
            Some(&last) if t < last + gap.max(1) => {}
            _ => out.push(t),
        }
    }
    out
}

/// Beat times (seconds) from an onset-strength curve: a global tempo from the autocorrelation
/// (weighted towards 120 BPM), then the beat sequence that best balances onset strength
/// against tempo regularity. Empty when the curve has no rhythm to speak of.
pub(crate) fn beats_from_onsets(curve: &[f32], frame_rate: f64) -> Vec<f64> {
    let n = curve.len();
    if n < 8 || frame_rate <= 0.0 {
        return Vec::new();
    }
    let mean = curve.iter().sum::<f32>() / n as f32;
    let var = curve.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n as f32;
    let sd = var.sqrt();
    if sd <= 1e-6 {
        return Vec::new();
    }
    let o: Vec<f32> = curve.iter().map(|v| (v - mean) / sd).collect();
    // Tempo: lags for 40..=240 BPM.
    let lag_lo = (frame_rate * 60.0 / 240.0).floor().max(1.0) as usize;
    let lag_hi = ((frame_rate * 60.0 / 40.0).ceil() as usize).min(n - 1);
    if lag_hi <= lag_lo {
        return Vec::new();
    }
    let mut best = (f32::MIN, 0usize);
    for lag in lag_lo..=lag_hi {
        let ac: f32 = o[lag..]
            .iter()
            .zip(&o[..n - lag])
            .map(|(a, b)| a * b)
            .sum::<f32>()
            / (n - lag) as f32;
        let bpm = 60.0 * frame_rate / lag as f64;
        let prior = (-0.5 * ((bpm / 120.0).log2()).powi(2)).exp() as f32;
        let score = ac * prior;
        if score > best.0 {
            best = (score, lag);
        }
    }
    let period = best.1 as f64;
    if period < 1.0 {
        return Vec::new();
    }
    // Dynamic programming: score[t] = o[t] + max over predecessors of score - tightness * log-gap^2.
    let tightness = 100.0f64;
    let mut score = vec![0.0f64; n];
    let mut back = vec![usize::MAX; n];
    let lo_off = (period / 2.0).round().max(1.0) as usize;
    let hi_off = (period * 2.0).round() as usize;
    for t in 0..n {
        let mut best_prev = (0.0f64, usize::MAX);
        if t >= lo_off {
            let from = t.saturating_sub(hi_off);
            for (tau, &prev) in score.iter().enumerate().take(t - lo_off + 1).skip(from) {
                let gap = (t - tau) as f64;
                let s = prev - tightness * (gap / period).ln().powi(2);
                if best_prev.1 == usize::MAX || s > best_prev.0 {
                    best_prev = (s, tau);
                }
            }
        }
        let local = f64::from(o[t]);
        if best_prev.1 != usize::MAX {
            score[t] = local + best_prev.0;
            back[t] = best_prev.1;
        } else {
            score[t] = local;
        }
    }
    // End on the best-scoring frame within the last period.
    let tail = n.saturating_sub(period.round() as usize);
    let mut t = (tail..n)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(n - 1);
    let mut beats = vec![t];
    while back[t] != usize::MAX {
        t = back[t];
        beats.push(t);
    }
    beats.reverse();
    beats.into_iter().map(|t| t as f64 / frame_rate).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clicks(n: usize, every: usize, phase: usize) -> Vec<f32> {
        (0..n)
            .map(|t| if t % every == phase { 1.0 } else { 0.02 })
            .collect()
    }

    #[test]
    fn peaks_are_found_and_spaced() {
        let p = PickParams {
            max_window_s: 0.03,
            avg_before_s: 0.1,
            avg_after_s: 0.03,
            delta: 0.1,
            threshold: 0.1,
            min_gap_s: 0.05,
        };
        let curve = clicks(1000, 43, 5);
        let peaks = pick_peaks(&curve, 86.0, &p);
        assert_eq!(peaks.len(), 24);
        assert!(peaks.iter().all(|t| t % 43 == 5));
        assert!(pick_peaks(&[0.0; 100], 86.0, &p).is_empty());
        assert!(pick_peaks(&[], 86.0, &p).is_empty());
    }

    #[test]
    fn beats_follow_a_regular_pulse() {
        // 120 BPM at 86 frames/s: a beat every 43 frames, 20 seconds.
        let curve = clicks(1720, 43, 10);
        let beats = beats_from_onsets(&curve, 86.0);
        assert!(beats.len() >= 38, "{} beats", beats.len());
        for b in &beats {
            let frame = b * 86.0;
            let off = (frame - 10.0).rem_euclid(43.0);
            assert!(!(1.5..=41.5).contains(&off), "beat at frame {frame}");
        }
        assert!(beats_from_onsets(&[0.0; 500], 86.0).is_empty());
    }
}
