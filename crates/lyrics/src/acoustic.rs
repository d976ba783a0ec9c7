//! Acoustic models: per-frame emission scores for the classes of the lyrics HMM.
//!
//! A model sees the front end's [`Features`] and returns, per frame, a log-likelihood for each
//! of its classes (for a hybrid HMM/NN model: log posteriors minus log priors). The lyrics HMM
//! asks the model which class scores each phone ([`AcousticModel::class_of`]) and which class
//! scores silence and instrumental filler ([`AcousticModel::filler_class`]), so a model with a
//! full phone inventory plugs in without changing the aligner.

use crate::frontend::Features;
use crate::phones::{Phone, PhoneClass};

/// Frame-by-class log-likelihoods.
#[derive(Debug, Clone)]
pub struct Emissions {
    /// Frames per second.
    pub frame_rate: f64,
    /// Number of classes per frame.
    pub n_classes: usize,
    /// Row-major `frames x n_classes` log-likelihoods.
    pub scores: Vec<f32>,
}

impl Emissions {
    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.scores.len().checked_div(self.n_classes).unwrap_or(0)
    }
    /// Score of class `c` at frame `t`.
    pub fn at(&self, t: usize, c: usize) -> f32 {
        self.scores[t * self.n_classes + c]
    }
    /// Averages groups of `factor` frames (a coarse view for aligning lines first).
    pub fn decimate(&self, factor: usize) -> Emissions {
        let factor = factor.max(1);
        let n = self.n_frames();
        let mut scores = Vec::with_capacity(n.div_ceil(factor) * self.n_classes);
        for start in (0..n).step_by(factor) {
            let end = (start + factor).min(n);
            for c in 0..self.n_classes {
                let sum: f32 = (start..end).map(|t| self.at(t, c)).sum();
                scores.push(sum / (end - start) as f32);
            }
        }
        Emissions {
            frame_rate: self.frame_rate / factor as f64,
            n_classes: self.n_classes,
            scores,
        }
    }
}

/// What an acoustic model must provide to the aligner.
pub trait AcousticModel {
    /// A short name for reports (`broad-class-v1`).
    fn name(&self) -> &str;
    /// Number of classes the model scores.
    fn n_classes(&self) -> usize;
    /// The class that scores `phone`.
    fn class_of(&self, phone: &Phone) -> usize;
    /// The class that scores silence and instrumental music.
    fn filler_class(&self) -> usize;
    /// Scores every frame.
    fn score(&self, features: &Features) -> Emissions;
    /// Whether `class` scores vowels (the word pass puts its onset cue on a word's first vowel
    /// state). Default: the class of the vowel `a`, for models with one vowel class.
    fn is_vowel_class(&self, class: usize) -> bool {
        class
            == self.class_of(&Phone {
                symbol: "a".into(),
                class: PhoneClass::Vowel,
            })
    }
}

/// A language-independent broad-class model: filler, vowel, sonorant, fricative, stop, scored
/// from vocal activity (harmonic centre energy against the mix), syllable onsets (spectral
/// flux) and hiss (high-frequency percussive energy). It needs no training data, so it
/// generalises across languages; its weights are set by hand and checked on synthetic songs.
#[derive(Debug, Clone)]
pub struct BroadClassModel {
    /// Weight of the mix-energy z-score (vocal band) in the activity score.
    pub w_mix: f32,
    /// Weight of the high-frequency percussive centre energy (sibilants, breath) z-score.
    pub w_hiss: f32,
    /// Weight of the harmonic centre (vocal-enhanced) energy z-score.
    pub w_vocal: f32,
    /// Weight of the harmonic-centre-to-mix ratio z-score.
    pub w_ratio: f32,
    /// Slope of the logistic that maps the activity score to a probability.
    pub slope: f32,
    /// Activity threshold in robust standard deviations above the song's median.
    pub threshold: f32,
    /// Frames of moving-average smoothing of the activity score.
    pub smooth_frames: usize,
}

impl Default for BroadClassModel {
    fn default() -> Self {
        // Chosen on synthetic songs and on one named tuning song (see docs/readme/lyrics.md):
        // mix energy plus hiss, smoothed over about 0.3 s, separated sung from unsung frames
        // best (area under the ROC curve 0.87-0.93) of the combinations tried.
        Self {
            w_mix: 1.0,
            w_hiss: 1.0,
            w_vocal: 0.0,
            w_ratio: 0.0,
            slope: 3.0,
            threshold: 0.5,
            smooth_frames: 25,
        }
    }
}

const FILLER: usize = 0;
const VOWEL: usize = 1;
const SONORANT: usize = 2;
const FRICATIVE: usize = 3;
const STOP: usize = 4;

/// Robust z-scores: (x - median) / (IQR / 1.35).
pub(crate) fn robust_z(x: &[f32]) -> Vec<f32> {
    if x.is_empty() {
        return Vec::new();
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f32::total_cmp);
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let med = q(0.5);
    let scale = ((q(0.75) - q(0.25)) / 1.35).max(1e-3);
    x.iter().map(|v| (v - med) / scale).collect()
}

fn moving_average(x: &[f32], width: usize) -> Vec<f32> {
    let half = width / 2;
    let mut prefix = Vec::with_capacity(x.len() + 1);
    prefix.push(0.0f64);
    for v in x {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(*v));
    }
    (0..x.len())
        .map(|t| {
            let lo = t.saturating_sub(half);
            let hi = (t + half + 1).min(x.len());
            ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32
        })
        .collect()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl BroadClassModel {
    /// The per-frame probability that a voice is singing.
    pub fn vocal_activity(&self, f: &Features) -> Vec<f32> {
        let ratio: Vec<f32> = f
            .vocal_db
            .iter()
            .zip(&f.mix_db)
            .map(|(v, m)| v - m)
            .collect();
        let (zm, zh, zv, zr) = (
            robust_z(&f.mix_db),
            robust_z(&f.hiss_db),
            robust_z(&f.vocal_db),
            robust_z(&ratio),
        );
        let peak = f.mix_db.iter().copied().fold(f32::MIN, f32::max);
        let raw: Vec<f32> = (0..f.len())
            .map(|t| {
                // Near-digital silence is never singing.
                let quiet = if f.mix_db[t] < peak - 45.0 { -4.0 } else { 0.0 };
                self.w_mix * zm[t]
                    + self.w_hiss * zh[t]
                    + self.w_vocal * zv[t]
                    + self.w_ratio * zr[t]
                    + quiet
            })
            .collect();
        moving_average(&raw, self.smooth_frames)
            .into_iter()
            .map(|s| sigmoid(self.slope * (s - self.threshold)).clamp(0.02, 0.98))
            .collect()
    }
}

impl AcousticModel for BroadClassModel {
    fn name(&self) -> &str {
        "broad-class-v1"
    }
    fn n_classes(&self) -> usize {
        5
    }
    fn class_of(&self, phone: &Phone) -> usize {
        match phone.class {
            PhoneClass::Vowel => VOWEL,
            PhoneClass::Sonorant => SONORANT,
            PhoneClass::Fricative => FRICATIVE,
            PhoneClass::Stop => STOP,
        }
    }
    fn filler_class(&self) -> usize {
        FILLER
    }
    fn score(&self, f: &Features) -> Emissions {
        let act = self.vocal_activity(f);
        let onset: Vec<f32> = robust_z(&f.flux)
            .into_iter()
            .map(|z| sigmoid(z - 1.0))
            .collect();
        let hiss: Vec<f32> = robust_z(&f.hiss_db)
            .into_iter()
            .map(|z| sigmoid(z - 0.5))
            .collect();
        let mut scores = Vec::with_capacity(act.len() * 5);
        for t in 0..act.len() {
            let a = act[t];
            scores.push((1.0 - a).ln());
            scores.push(a.ln());
            scores.push((0.15 + 0.85 * a).ln());
            scores.push((0.3 + 0.35 * hiss[t] + 0.35 * onset[t]).ln());
            scores.push((0.3 + 0.7 * onset[t]).ln());
        }
        Emissions {
            frame_rate: f.frame_rate,
            n_classes: 5,
            scores,
        }
    }
}

impl<M: AcousticModel + ?Sized> AcousticModel for Box<M> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn n_classes(&self) -> usize {
        (**self).n_classes()
    }
    fn class_of(&self, phone: &Phone) -> usize {
        (**self).class_of(phone)
    }
    fn filler_class(&self) -> usize {
        (**self).filler_class()
    }
    fn score(&self, features: &Features) -> Emissions {
        (**self).score(features)
    }
    fn is_vowel_class(&self, class: usize) -> bool {
        (**self).is_vowel_class(class)
    }
}

impl<M: AcousticModel + ?Sized> AcousticModel for &M {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn n_classes(&self) -> usize {
        (**self).n_classes()
    }
    fn class_of(&self, phone: &Phone) -> usize {
        (**self).class_of(phone)
    }
    fn filler_class(&self) -> usize {
        (**self).filler_class()
    }
    fn score(&self, features: &Features) -> Emissions {
        (**self).score(features)
    }
    fn is_vowel_class(&self, class: usize) -> bool {
        (**self).is_vowel_class(class)
    }
}
