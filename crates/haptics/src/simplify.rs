//! Envelope simplification: Ramer-Douglas-Peucker with a vertical (amplitude) tolerance.

/// Indices of the points to keep so that linear interpolation through the kept points stays
/// within `tolerance` (in value units) of every dropped point. `force(i)` marks points that
/// must stay (e.g. breakpoints carrying a transient). The first and last points always stay.
///
/// Runs iteratively (no recursion), so any length is safe.
pub(crate) fn simplify(
    times: &[f64],
    values: &[f32],
    tolerance: f32,
    force: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let n = times.len().min(values.len());
    if n <= 2 {
        return (0..n).collect();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    // Forced points split the envelope into independent spans.
    let mut anchors: Vec<usize> = (0..n)
        .filter(|&i| i == 0 || i == n - 1 || force(i))
        .collect();
    anchors.dedup();
    let mut stack: Vec<(usize, usize)> = anchors.windows(2).map(|w| (w[0], w[1])).collect();
    for &a in &anchors {
        keep[a] = true;
    }
    while let Some((lo, hi)) = stack.pop() {
        if hi <= lo + 1 {
            continue;
        }
        let (t0, v0) = (times[lo], values[lo]);
        let (t1, v1) = (times[hi], values[hi]);
        let span = t1 - t0;
        let mut worst = (0.0f32, 0usize);
        for i in lo + 1..hi {
            let x = if span > 0.0 {
                ((times[i] - t0) / span) as f32
            } else {
                0.5
            };
            let line = v0 + (v1 - v0) * x;
            let d = (values[i] - line).abs();
            if d > worst.0 {
                worst = (d, i);
            }
        }
        if worst.0 > tolerance {
            keep[worst.1] = true;
            stack.push((lo, worst.1));
            stack.push((worst.1, hi));
        }
    }
    (0..n).filter(|&i| keep[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lerp(times: &[f64], values: &[f32], kept: &[usize], t: f64) -> f32 {
        let j = kept.partition_point(|&k| times[k] <= t).saturating_sub(1);
        let (a, b) = (kept[j], kept[(j + 1).min(kept.len() - 1)]);
        if times[b] <= times[a] {
            return values[a];
        }
        let x = ((t - times[a]) / (times[b] - times[a])) as f32;
        values[a] + (values[b] - values[a]) * x
    }

    #[test]
    fn a_straight_line_keeps_its_ends() {
        let times: Vec<f64> = (0..100).map(f64::from).collect();
        let values: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        assert_eq!(simplify(&times, &values, 0.01, |_| false), vec![0, 99]);
        assert_eq!(
            simplify(&times, &values, 0.01, |i| i == 50),
            vec![0, 50, 99]
        );
    }

    proptest! {
        #[test]
        fn dropped_points_stay_within_tolerance(values in proptest::collection::vec(0.0f32..1.0, 1..300), tol in 0.001f32..0.3) {
            let times: Vec<f64> = (0..values.len()).map(|i| i as f64 * 0.01).collect();
            let kept = simplify(&times, &values, tol, |_| false);
            prop_assert_eq!(kept[0], 0);
            prop_assert_eq!(*kept.last().unwrap(), values.len() - 1);
            for (i, &v) in values.iter().enumerate() {
                let approx = lerp(&times, &values, &kept, times[i]);
                prop_assert!((approx - v).abs() <= tol + 1e-5, "point {} off by {}", i, (approx - v).abs());
            }
        }
    }
}
