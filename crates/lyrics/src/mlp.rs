//! A small multi-layer perceptron (ReLU hidden layers, softmax output) trained with Adam on the
//! CPU. Plain Rust, single-threaded, deterministic for a seed.

/// One fully connected layer: `y = W x + b`, `W` row-major `n_out x n_in`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// Weights, row-major `n_out x n_in`.
    pub w: Vec<f32>,
    /// Biases.
    pub b: Vec<f32>,
}

/// The network: ReLU after every layer but the last, log-softmax at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Layers, input first.
    pub layers: Vec<Layer>,
}

/// xorshift64*: deterministic, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight accumulators so the compiler vectorises the loop.
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for k in 0..8 {
            acc[k] += a[c * 8 + k] * b[c * 8 + k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Turns logits into log-probabilities in place.
pub fn log_softmax(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
    z.iter_mut().for_each(|v| *v -= lse);
}

impl Mlp {
    /// A network with layer widths `sizes` (input first), He-initialised from `seed`.
    pub fn new(sizes: &[usize], seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let layers = sizes
            .windows(2)
            .map(|w| {
                let (n_in, n_out) = (w[0], w[1]);
                let sd = (2.0 / n_in as f64).sqrt();
                Layer {
                    n_in,
                    n_out,
                    w: (0..n_in * n_out)
                        .map(|_| (rng.normal() * sd) as f32)
                        .collect(),
                    b: vec![0.0; n_out],
                }
            })
            .collect();
        Self { layers }
    }

    /// Input width.
    pub fn n_in(&self) -> usize {
        self.layers.first().map_or(0, |l| l.n_in)
    }

    /// Output width.
    pub fn n_out(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Log-probabilities of the classes for one input.
    pub fn log_probs(&self, x: &[f32]) -> Vec<f32> {
        let mut a = x.to_vec();
        let last = self.layers.len().saturating_sub(1);
        for (li, l) in self.layers.iter().enumerate() {
            let mut z: Vec<f32> = (0..l.n_out)
                .map(|o| l.b[o] + dot(&l.w[o * l.n_in..(o + 1) * l.n_in], &a))
                .collect();
            if li < last {
                z.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            a = z;
        }
        log_softmax(&mut a);
        a
    }

    /// Mean cross-entropy of a batch (`x` is `n x n_in` row-major, `y` the classes) and its
    /// gradient, as layers of the same shape. Samples with class `>= n_out` are ignored.
    pub fn loss_and_grad(&self, x: &[f32], y: &[usize]) -> (f32, Vec<Layer>) {
        let n = y.len();
        let mut acts: Vec<Vec<f32>> = vec![x.to_vec()];
        let last = self.layers.len() - 1;
        for (li, l) in self.layers.iter().enumerate() {
            let a = &acts[li];
            let mut z = vec![0.0f32; n * l.n_out];
            for i in 0..n {
                let ai = &a[i * l.n_in..(i + 1) * l.n_in];
                for o in 0..l.n_out {
                    let v = l.b[o] + dot(&l.w[o * l.n_in..(o + 1) * l.n_in], ai);
                    z[i * l.n_out + o] = if li < last { v.max(0.0) } else { v };
                }
            }
            acts.push(z);
        }
        let k = self.n_out();
        let used = y.iter().filter(|&&c| c < k).count().max(1) as f32;
        let mut delta = acts[last + 1].clone();
        let mut loss = 0.0f32;
        for i in 0..n {
            let row = &mut delta[i * k..(i + 1) * k];
            if y[i] >= k {
                row.iter_mut().for_each(|v| *v = 0.0);
                continue;
            }
            log_softmax(row);
            loss -= row[y[i]];
            for (c, v) in row.iter_mut().enumerate() {
                *v = (v.exp() - if c == y[i] { 1.0 } else { 0.0 }) / used;
            }
        }
        let mut grads: Vec<Layer> = self
            .layers
            .iter()
            .map(|l| Layer {
                n_in: l.n_in,
                n_out: l.n_out,
                w: vec![0.0; l.w.len()],
                b: vec![0.0; l.b.len()],
            })
            .collect();
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            let a = &acts[li];
            let g = &mut grads[li];
            let mut prev = vec![0.0f32; n * l.n_in];
            for i in 0..n {
                let ai = &a[i * l.n_in..(i + 1) * l.n_in];
                let pi = &mut prev[i * l.n_in..(i + 1) * l.n_in];
                for o in 0..l.n_out {
                    let d = delta[i * l.n_out + o];
                    if d == 0.0 {
                        continue;
                    }
                    g.b[o] += d;
                    axpy(d, ai, &mut g.w[o * l.n_in..(o + 1) * l.n_in]);
                    axpy(d, &l.w[o * l.n_in..(o + 1) * l.n_in], pi);
                }
            }
            if li > 0 {
                // Through the ReLU of the layer below: zero where its output was zero.
                for (p, v) in prev.iter_mut().zip(a.iter()) {
                    if *v <= 0.0 {
                        *p = 0.0;
                    }
                }
            }
            delta = prev;
        }
        (loss / used, grads)
    }
}

/// Adam optimiser state for one network.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    m: Vec<Layer>,
    v: Vec<Layer>,
    t: i32,
}

impl Adam {
    /// Zero moments for `net`.
    pub fn new(net: &Mlp, lr: f32) -> Self {
        let zero = |l: &Layer| Layer {
            n_in: l.n_in,
            n_out: l.n_out,
            w: vec![0.0; l.w.len()],
            b: vec![0.0; l.b.len()],
        };
        Self {
            lr,
            m: net.layers.iter().map(zero).collect(),
            v: net.layers.iter().map(zero).collect(),
            t: 0,
        }
    }

    /// One update of `net` with gradient `g`.
    pub fn step(&mut self, net: &mut Mlp, g: &[Layer]) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-8;
        self.t += 1;
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        let lr = self.lr;
        let upd = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for i in 0..p.len() {
                m[i] = B1 * m[i] + (1.0 - B1) * g[i];
                v[i] = B2 * v[i] + (1.0 - B2) * g[i] * g[i];
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + EPS);
            }
        };
        for (li, l) in net.layers.iter_mut().enumerate() {
            upd(&mut l.w, &g[li].w, &mut self.m[li].w, &mut self.v[li].w);
            upd(&mut l.b, &g[li].b, &mut self.m[li].b, &mut self.v[li].b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        let mut net = Mlp::new(&[5, 7, 6, 3], 3);
        // Non-zero biases so no ReLU sits exactly at its kink.
        for l in &mut net.layers {
            l.b.iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = 0.05 * i as f32);
        }
        let mut rng = Rng::new(9);
        let x: Vec<f32> = (0..4 * 5).map(|_| rng.normal() as f32).collect();
        let y = vec![0usize, 2, 1, 99]; // the last sample is ignored
        let (_, g) = net.loss_and_grad(&x, &y);
        let eps = 1e-2f32;
        let mut checked = 0;
        #[allow(clippy::needless_range_loop)] // `li` indexes the network copies too
        for li in 0..net.layers.len() {
            for (which, len) in [(0, net.layers[li].w.len()), (1, net.layers[li].b.len())] {
                for i in (0..len).step_by(3) {
                    fn get(n: &mut Mlp, li: usize, which: usize, i: usize) -> &mut f32 {
                        if which == 0 {
                            &mut n.layers[li].w[i]
                        } else {
                            &mut n.layers[li].b[i]
                        }
                    }
                    let mut plus = net.clone();
                    *get(&mut plus, li, which, i) += eps;
                    let mut minus = net.clone();
                    *get(&mut minus, li, which, i) -= eps;
                    let num = (plus.loss_and_grad(&x, &y).0 - minus.loss_and_grad(&x, &y).0)
                        / (2.0 * eps);
                    let ana = if which == 0 { g[li].w[i] } else { g[li].b[i] };
                    assert!(
                        (num - ana).abs() <= 2e-3 + 0.05 * ana.abs().max(num.abs()),
                        "layer {li} param {which}/{i}: numeric {num} analytic {ana}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 20);
    }

    #[test]
    fn adam_learns_a_separable_problem_and_forward_agrees() {
        let mut net = Mlp::new(&[2, 16, 3], 1);
        let mut rng = Rng::new(4);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..300 {
            let c = i % 3;
            let (cx, cy) = [(0.0, 2.0), (2.0, -1.0), (-2.0, -1.0)][c];
            x.push(cx + 0.4 * rng.normal() as f32);
            x.push(cy + 0.4 * rng.normal() as f32);
            y.push(c);
        }
        let mut opt = Adam::new(&net, 0.02);
        let first = net.loss_and_grad(&x, &y).0;
        for _ in 0..150 {
            let (_, g) = net.loss_and_grad(&x, &y);
            opt.step(&mut net, &g);
        }
        let (last, _) = net.loss_and_grad(&x, &y);
        assert!(last < 0.1 && last < first / 5.0, "{first} -> {last}");
        let correct = (0..300)
            .filter(|&i| {
                let lp = net.log_probs(&x[2 * i..2 * i + 2]);
                let best = (0..3).max_by(|&a, &b| lp[a].total_cmp(&lp[b])).unwrap();
                best == y[i]
            })
            .count();
        assert!(correct > 290, "{correct}");
    }
}
