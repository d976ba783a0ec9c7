//! Deterministic synthetic music at 8 kHz for the integration tests.
#![allow(dead_code)]

/// A small linear congruential generator (tests must not depend on a crate's sequence).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 31) as f32
    }
}

pub const SR: usize = 8000;

/// `secs` seconds of "music": three voices of harmonic notes with decaying envelopes and
/// noise-burst percussion, all chosen by `seed`.
pub fn music(seed: u64, secs: f32) -> Vec<f32> {
    let mut rng = Lcg(seed.wrapping_mul(0x9E37_79B9) + 1);
    let n = (secs * SR as f32) as usize;
    let mut out = vec![0.0f32; n];
    for voice in 0..3 {
        let mut t = 0usize;
        while t < n {
            let dur = ((0.12 + 0.4 * rng.unit()) * SR as f32) as usize;
            let midi = 45.0 + (voice as f32) * 7.0 + (rng.next() % 24) as f32;
            let f0 = 440.0 * 2f32.powf((midi - 69.0) / 12.0);
            let amp = 0.08 + 0.1 * rng.unit();
            let n_harm = 1 + rng.next() % 5;
            for i in 0..dur.min(n - t) {
                let x = i as f32 / SR as f32;
                let env = (-x * 4.0).exp() * (1.0 - (-x * 200.0).exp());
                let mut v = 0.0;
                for h in 1..=n_harm {
                    let f = f0 * h as f32;
                    if f < 3900.0 {
                        v += (std::f32::consts::TAU * f * x).sin() / h as f32;
                    }
                }
                out[t + i] += amp * env * v;
            }
            t += dur;
        }
    }
    let beat = ((0.25 + 0.25 * rng.unit()) * SR as f32) as usize;
    let mut t = 0;
    while t < n {
        for i in 0..(SR / 20).min(n - t) {
            let env = (-(i as f32) / (SR as f32 * 0.01)).exp();
            out[t + i] += 0.2 * env * (rng.unit() - 0.5);
        }
        t += beat;
    }
    out
}

/// White noise scaled to `snr_db` below the power of `x`, added to it.
pub fn add_noise(x: &[f32], snr_db: f32, seed: u64) -> Vec<f32> {
    let p = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let sd = (p / 10f32.powf(snr_db / 10.0) * 12.0).sqrt();
    let mut rng = Lcg(seed);
    x.iter().map(|v| v + sd * (rng.unit() - 0.5)).collect()
}

/// Plays `x` faster by `factor` (pitch and tempo change together), as a turntable would.
pub fn speed(x: &[f32], factor: f64) -> Vec<f32> {
    let from = (SR as f64 * factor).round() as u32;
    encore_audio::resample(x, from, SR as u32).expect("resample")
}

pub fn excerpt(x: &[f32], start_s: f32, secs: f32) -> Vec<f32> {
    let a = (start_s * SR as f32) as usize;
    let b = ((start_s + secs) * SR as f32) as usize;
    x[a..b.min(x.len())].to_vec()
}
