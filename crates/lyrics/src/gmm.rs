//! Diagonal-covariance Gaussian mixtures, the emission densities of the flat-start GMM-HMM
//! that produces the first frame labels for the hybrid model.

use serde::{Deserialize, Serialize};

/// Smallest variance per dimension (features are normalised per song, so unit scale).
pub const VAR_FLOOR: f64 = 1e-3;
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A mixture of diagonal Gaussians.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagGmm {
    /// Mixture weights (sum to 1).
    pub weights: Vec<f64>,
    /// Component means.
    pub means: Vec<Vec<f64>>,
    /// Component variances (diagonal).
    pub vars: Vec<Vec<f64>>,
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl DiagGmm {
    /// One Gaussian fitted to `data` (rows of equal length). `None` when `data` is empty.
    pub fn single(data: &[&[f32]]) -> Option<Self> {
        let d = data.first()?.len();
        let n = data.len() as f64;
        let mut mean = vec![0.0; d];
        for x in data {
            for (m, v) in mean.iter_mut().zip(x.iter()) {
                *m += f64::from(*v) / n;
            }
        }
        let mut var = vec![0.0; d];
        for x in data {
            for ((s, v), m) in var.iter_mut().zip(x.iter()).zip(&mean) {
                *s += (f64::from(*v) - m).powi(2) / n;
            }
        }
        var.iter_mut().for_each(|v| *v = v.max(VAR_FLOOR));
        Some(Self {
            weights: vec![1.0],
            means: vec![mean],
            vars: vec![var],
        })
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// True when there are no components.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Per-component `ln w + ln N(x)`.
    fn component_logs(&self, x: &[f32], out: &mut Vec<f64>) {
        out.clear();
        for k in 0..self.len() {
            let mut s = self.weights[k].max(1e-300).ln();
            for ((v, m), var) in x.iter().zip(&self.means[k]).zip(&self.vars[k]) {
                let d = f64::from(*v) - m;
                s -= 0.5 * (LN_2PI + var.ln() + d * d / var);
            }
            out.push(s);
        }
    }

    /// Log-likelihood of one frame.
    pub fn log_likelihood(&self, x: &[f32]) -> f64 {
        let mut buf = Vec::with_capacity(self.len());
        self.component_logs(x, &mut buf);
        log_sum_exp(&buf)
    }

    /// Mean log-likelihood of `data`.
    pub fn mean_log_likelihood(&self, data: &[&[f32]]) -> f64 {
        if data.is_empty() {
            return 0.0;
        }
        data.iter().map(|x| self.log_likelihood(x)).sum::<f64>() / data.len() as f64
    }

    /// Doubles the components by moving each mean by +-0.2 standard deviations along every
    /// dimension (the classic split), up to `max` components.
    pub fn split(&mut self, max: usize) {
        let k0 = self.len();
        for k in 0..k0 {
            if self.len() >= max {
                break;
            }
            let sd: Vec<f64> = self.vars[k].iter().map(|v| v.sqrt()).collect();
            let plus: Vec<f64> = self.means[k]
                .iter()
                .zip(&sd)
                .map(|(m, s)| m + 0.2 * s)
                .collect();
            let minus: Vec<f64> = self.means[k]
                .iter()
                .zip(&sd)
                .map(|(m, s)| m - 0.2 * s)
                .collect();
            self.weights[k] *= 0.5;
            self.means[k] = minus;
            self.weights.push(self.weights[k]);
            self.means.push(plus);
            self.vars.push(self.vars[k].clone());
        }
    }

    /// One EM iteration on `data`; returns the mean log-likelihood of the data under the model
    /// *before* the update (so successive returns never decrease, up to variance flooring).
    pub fn em_step(&mut self, data: &[&[f32]]) -> f64 {
        let k_n = self.len();
        if data.is_empty() || k_n == 0 {
            return 0.0;
        }
        let d = self.means[0].len();
        let mut nk = vec![0.0f64; k_n];
        let mut sx = vec![vec![0.0f64; d]; k_n];
        let mut sxx = vec![vec![0.0f64; d]; k_n];
        let mut total = 0.0;
        let mut buf = Vec::with_capacity(k_n);
        for x in data {
            self.component_logs(x, &mut buf);
            let lse = log_sum_exp(&buf);
            total += lse;
            for k in 0..k_n {
                let g = (buf[k] - lse).exp();
                if g < 1e-8 {
                    continue;
                }
                nk[k] += g;
                for ((a, b), v) in sx[k].iter_mut().zip(sxx[k].iter_mut()).zip(x.iter()) {
                    let v = f64::from(*v);
                    *a += g * v;
                    *b += g * v * v;
                }
            }
        }
        let n = data.len() as f64;
        for k in 0..k_n {
            if nk[k] < 1e-6 {
                continue; // an empty component keeps its parameters
            }
            self.weights[k] = nk[k] / n;
            for j in 0..d {
                let m = sx[k][j] / nk[k];
                self.means[k][j] = m;
                self.vars[k][j] = (sxx[k][j] / nk[k] - m * m).max(VAR_FLOOR);
            }
        }
        let s: f64 = self.weights.iter().sum();
        self.weights.iter_mut().for_each(|w| *w /= s);
        total / n
    }

    /// Fits a mixture of up to `components` Gaussians: one Gaussian, then split and `iters`
    /// EM iterations per split.
    pub fn fit(data: &[&[f32]], components: usize, iters: usize) -> Option<Self> {
        let mut g = Self::single(data)?;
        while g.len() < components.max(1) {
            g.split(components);
            for _ in 0..iters {
                g.em_step(data);
            }
        }
        Some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_clusters() -> Vec<Vec<f32>> {
        let mut s = 7u64;
        let mut r = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 10_000) as f32 / 10_000.0 - 0.5
        };
        (0..400)
            .map(|i| {
                let c = if i % 3 == 0 { 3.0 } else { -1.0 };
                vec![c + r(), 0.5 * c + 2.0 * r()]
            })
            .collect()
    }

    #[test]
    fn em_log_likelihood_never_decreases() {
        let data = two_clusters();
        let rows: Vec<&[f32]> = data.iter().map(|v| v.as_slice()).collect();
        let mut g = DiagGmm::single(&rows).unwrap();
        g.split(4);
        let mut last = f64::NEG_INFINITY;
        for _ in 0..15 {
            let ll = g.em_step(&rows);
            assert!(ll >= last - 1e-9, "{ll} < {last}");
            last = ll;
        }
        // Two clusters explain the data better than one Gaussian.
        let one = DiagGmm::single(&rows).unwrap();
        assert!(g.mean_log_likelihood(&rows) > one.mean_log_likelihood(&rows) + 0.3);
        assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn single_gaussian_matches_closed_form() {
        let rows: Vec<Vec<f32>> = vec![vec![0.0], vec![2.0]];
        let r: Vec<&[f32]> = rows.iter().map(|v| v.as_slice()).collect();
        let g = DiagGmm::single(&r).unwrap();
        assert!((g.means[0][0] - 1.0).abs() < 1e-12);
        assert!((g.vars[0][0] - 1.0).abs() < 1e-12);
        // ln N(1; 1, 1) = -0.5 ln(2 pi)
        assert!((g.log_likelihood(&[1.0]) + 0.5 * LN_2PI).abs() < 1e-9);
        assert!(DiagGmm::single(&[]).is_none());
    }
}
