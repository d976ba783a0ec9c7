//! Phone identity from the CMU Sphinx en-us acoustic model (Debian's `pocketsphinx-en-us`):
//! readers for the model directory, Sphinx-style cepstral features, a scorer of the
//! context-independent (CI) senones, and [`SphinxHybridModel`], which adds the score of a
//! phone's nearest ARPAbet CI phone to the shipped hybrid model's broad-class score.

mod mfcc;
mod model;
mod phonemap;

use std::path::Path;
use std::sync::Arc;

use crate::acoustic::{AcousticModel, Emissions};
use crate::frontend::Features;
use crate::hybrid::HybridModel;
use crate::phones::{Phone, PhoneClass};

pub(crate) use mfcc::{SPHINX_NFILT, SphinxFilterbank};
pub use model::SphinxFileError;
pub(crate) use phonemap::to_arpabet;

/// Densities per codebook and stream that score a frame (pocketsphinx's `-topn` default).
const TOP_N: usize = 4;
/// Floor of the filter energies below the song's loudest filter energy, in dB; chosen on
/// clean synthetic speech (docs/readme/lyrics.md).
const FLOOR_DB: f32 = 50.0;
/// Variance floor of the Gaussians (pocketsphinx's `-varfloor` default).
const VAR_FLOOR: f32 = 1e-4;

/// One codebook and stream: Gaussians stored dimension-major for the scoring loop.
#[derive(Debug, Clone)]
struct Codebook {
    /// `veclen x densities` means.
    mean: Vec<f32>,
    /// `veclen x densities` values of `1 / (2 var)`.
    prec: Vec<f32>,
    /// Per density: `-0.5 x sum(ln(2 pi var))`.
    log_norm: Vec<f32>,
}

/// The CI part of a Sphinx PTM model: one codebook per CI phone and stream, the CI senones'
/// mixture weights.
#[derive(Debug, Clone)]
pub struct SphinxModel {
    ci_phones: Vec<String>,
    filler: Vec<bool>,
    n_densities: usize,
    veclen: Vec<usize>,
    /// `phone x stream`.
    codebooks: Vec<Codebook>,
    /// Per CI phone, per emitting state, per stream: linear mixture weights (`densities`).
    weights: Vec<Vec<Vec<Vec<f32>>>>,
}

impl SphinxModel {
    /// Where Debian's `pocketsphinx-en-us` installs the model.
    pub const DEBIAN_DIR: &'static str = "/usr/share/pocketsphinx/model/en-us/en-us";

    /// Debian's model ([`Self::DEBIAN_DIR`]) when it is installed; a model that is there but
    /// does not load is logged as a warning and skipped.
    pub fn installed() -> Option<Self> {
        let dir = Path::new(Self::DEBIAN_DIR);
        if !dir.exists() {
            return None;
        }
        Self::load(dir)
            .inspect_err(|e| tracing::warn!("skipping the Sphinx model in {}: {e}", dir.display()))
            .ok()
    }

    /// Reads a model directory (`feat.params`, `mdef`, `means`, `variances`, `sendump`).
    pub fn load(dir: &Path) -> Result<Self, SphinxFileError> {
        let params = model::read(dir, "feat.params")?;
        Self::from_files(
            &String::from_utf8_lossy(&params),
            &model::read(dir, "mdef")?,
            &model::read(dir, "means")?,
            &model::read(dir, "variances")?,
            &model::read(dir, "sendump")?,
        )
    }

    /// Builds the model from the contents of its files.
    pub fn from_files(
        feat_params: &str,
        mdef: &[u8],
        means: &[u8],
        variances: &[u8],
        sendump: &[u8],
    ) -> Result<Self, SphinxFileError> {
        model::check_feat_params(feat_params)?;
        let mdef = model::Mdef::from_bytes(mdef)?;
        let means = model::Gaussians::from_bytes("means", means)?;
        let vars = model::Gaussians::from_bytes("variances", variances)?;
        let invalid = |file, message: &str| SphinxFileError::Invalid {
            file,
            message: message.to_string(),
        };
        if means.n_codebooks != vars.n_codebooks
            || means.n_densities != vars.n_densities
            || means.veclen != vars.veclen
        {
            return Err(invalid("variances", "shape differs from the means"));
        }
        if means.n_codebooks != mdef.ci_phones.len() {
            return Err(invalid(
                "means",
                "not a PTM model (one codebook per CI phone)",
            ));
        }
        if means.veclen != [mfcc::SPHINX_NCEP; 3] {
            return Err(invalid("means", "streams are not 13/13/13"));
        }
        let weights =
            model::MixtureWeights::from_bytes(sendump, mdef.n_senones, mdef.n_ci_senones)?;
        if weights.n_streams != 3 || weights.n_densities != means.n_densities {
            return Err(invalid("sendump", "shape differs from the means"));
        }
        let nd = means.n_densities;
        let dims: usize = means.veclen.iter().sum();
        let mut codebooks = Vec::with_capacity(means.n_codebooks * 3);
        for cb in 0..means.n_codebooks {
            let mut off = cb * nd * dims;
            for &len in &means.veclen {
                let mut cbk = Codebook {
                    mean: vec![0.0; len * nd],
                    prec: vec![0.0; len * nd],
                    log_norm: vec![0.0; nd],
                };
                for d in 0..nd {
                    let mut ln = 0.0f64;
                    for j in 0..len {
                        let m = means.data[off + d * len + j];
                        let v = vars.data[off + d * len + j].max(VAR_FLOOR);
                        cbk.mean[j * nd + d] = m;
                        cbk.prec[j * nd + d] = 0.5 / v;
                        ln += (std::f64::consts::TAU * f64::from(v)).ln();
                    }
                    cbk.log_norm[d] = (-0.5 * ln) as f32;
                }
                off += len * nd;
                codebooks.push(cbk);
            }
        }
        let weights = mdef
            .ci_senones
            .iter()
            .map(|states| {
                states
                    .iter()
                    .map(|&s| {
                        (0..3)
                            .map(|f| {
                                let at = (f * weights.n_senones + s) * nd;
                                weights.log_weights[at..at + nd]
                                    .iter()
                                    .map(|l| l.exp())
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            ci_phones: mdef.ci_phones,
            filler: mdef.filler,
            n_densities: nd,
            veclen: means.veclen,
            codebooks,
            weights,
        })
    }

    /// The CI phones (ARPAbet, `SIL`, noise fillers), in score order.
    pub fn phones(&self) -> &[String] {
        &self.ci_phones
    }

    /// Index of a CI phone by name.
    pub fn phone_index(&self, name: &str) -> Option<usize> {
        self.ci_phones.iter().position(|p| p == name)
    }

    /// Whether CI phone `i` is a filler (silence or noise).
    pub fn is_filler(&self, i: usize) -> bool {
        self.filler.get(i).copied().unwrap_or(false)
    }

    /// Per frame and CI phone, the log-likelihood of the phone's best emitting state
    /// (`phones().len()` values per frame), from the front end's Sphinx filter energies.
    pub fn log_likelihoods(&self, features: &Features) -> Vec<f32> {
        let feats = cepstral_features(features);
        let nd = self.n_densities;
        let n_ci = self.ci_phones.len();
        let dims: usize = self.veclen.iter().sum();
        let mut out = Vec::with_capacity(feats.len() / dims * n_ci);
        let mut acc = vec![0.0f32; nd];
        let mut states = [0.0f32; 8];
        for x in feats.chunks_exact(dims) {
            for p in 0..n_ci {
                let n_states = self.weights[p].len().min(states.len());
                states[..n_states].iter_mut().for_each(|s| *s = 0.0);
                let mut start = 0;
                for (f, &len) in self.veclen.iter().enumerate() {
                    let cb = &self.codebooks[p * self.veclen.len() + f];
                    acc.copy_from_slice(&cb.log_norm);
                    for j in 0..len {
                        let xj = x[start + j];
                        let mean = &cb.mean[j * nd..(j + 1) * nd];
                        let prec = &cb.prec[j * nd..(j + 1) * nd];
                        for ((a, m), q) in acc.iter_mut().zip(mean).zip(prec) {
                            let d = xj - m;
                            *a -= d * d * q;
                        }
                    }
                    start += len;
                    // Top-N densities, as pocketsphinx scores PTM models (`-topn 4`).
                    let mut best = [(f32::MIN, 0usize); TOP_N];
                    for (d, &a) in acc.iter().enumerate() {
                        if a > best[TOP_N - 1].0 {
                            let mut i = TOP_N - 1;
                            while i > 0 && best[i - 1].0 < a {
                                best[i] = best[i - 1];
                                i -= 1;
                            }
                            best[i] = (a, d);
                        }
                    }
                    let top = best[0].0;
                    let e: [f32; TOP_N] = std::array::from_fn(|i| (best[i].0 - top).exp());
                    for (s, st) in states[..n_states].iter_mut().enumerate() {
                        let w = &self.weights[p][s][f];
                        let sum: f32 = (0..TOP_N).map(|i| w[best[i].1] * e[i]).sum();
                        *st += top + (sum + 1e-30).ln();
                    }
                }
                out.push(states[..n_states].iter().copied().fold(f32::MIN, f32::max));
            }
        }
        out
    }
}

/// The Sphinx front end's `1s_c_d_dd` vectors ([`SPHINX_FEATURE_DIMS`] per frame) from the
/// front end's Sphinx filter energies. Filter energies are floored 50 dB below the song's
/// loudest, as a noise floor: digital silence would otherwise give cepstra far outside anything
/// the model was trained on.
pub(crate) fn cepstral_features(features: &Features) -> Vec<f32> {
    let mut mel = features.sphinx_mel.clone();
    let peak = mel.iter().copied().fold(f32::MIN, f32::max);
    let floor = peak - FLOOR_DB * std::f32::consts::LN_10 / 10.0;
    mel.iter_mut().for_each(|v| *v = v.max(floor));
    let mut cep = mfcc::cepstra(&mel);
    mfcc::cmn(&mut cep);
    mfcc::c_d_dd(&cep)
}

/// Values per frame of [`cepstral_features`].
pub(crate) const SPHINX_FEATURE_DIMS: usize = 3 * mfcc::SPHINX_NCEP;

/// `ln(sum(exp(x)))`; `f32::MIN` for no values.
fn log_sum_exp(x: impl Iterator<Item = f32> + Clone) -> f32 {
    let m = x.clone().fold(f32::MIN, f32::max);
    if m == f32::MIN {
        return m;
    }
    m + x.map(|v| (v - m).exp()).sum::<f32>().ln()
}

/// Broad classes the hybrid model scores (after its filler class).
const N_BROAD: usize = 4;

/// The shipped hybrid model's broad classes with phone identity from a Sphinx model: a phone
/// is scored by `hybrid(broad class) + weight x sphinx(its ARPAbet CI phone)`, where the
/// Sphinx score is the log-likelihood against the average over all CI phones; phones that are
/// not ARPAbet (letter rules, IPA, pinyin; see [`Self::with_nearest_phones`]) get their broad
/// class's Sphinx score (log-sum-exp of its phones). Filler adds the Sphinx score of silence
/// and noise. Use it with [`crate::AlignOptions::coarse_consonants`] on (chosen with it).
#[derive(Debug, Clone)]
pub struct SphinxHybridModel {
    hybrid: HybridModel,
    sphinx: Arc<SphinxModel>,
    weight: f32,
    nearest: bool,
    name: String,
    /// Per CI phone: its broad class (`None` for fillers).
    broad_of: Vec<Option<usize>>,
}

/// Weight of the Sphinx phone score, chosen on synthetic sung songs (docs/readme/lyrics.md).
pub const DEFAULT_PHONE_WEIGHT: f32 = 0.8;

fn broad_index(class: PhoneClass) -> usize {
    match class {
        PhoneClass::Vowel => 0,
        PhoneClass::Sonorant => 1,
        PhoneClass::Fricative => 2,
        PhoneClass::Stop => 3,
    }
}

fn arpabet_class(p: &str) -> PhoneClass {
    match p {
        "AA" | "AE" | "AH" | "AO" | "AW" | "AY" | "EH" | "ER" | "EY" | "IH" | "IY" | "OW"
        | "OY" | "UH" | "UW" => PhoneClass::Vowel,
        "L" | "M" | "N" | "NG" | "R" | "W" | "Y" => PhoneClass::Sonorant,
        "CH" | "DH" | "F" | "HH" | "JH" | "S" | "SH" | "TH" | "V" | "Z" | "ZH" => {
            PhoneClass::Fricative
        }
        _ => PhoneClass::Stop,
    }
}

impl SphinxHybridModel {
    /// Combines `hybrid` with `sphinx`, the Sphinx score weighted by `weight`.
    pub fn new(hybrid: HybridModel, sphinx: Arc<SphinxModel>, weight: f32) -> Self {
        let name = format!("{}+sphinx-ci@{weight}", hybrid.header.name);
        let broad_of = (0..sphinx.phones().len())
            .map(|i| {
                (!sphinx.is_filler(i) && sphinx.phones()[i] != "SIL")
                    .then(|| broad_index(arpabet_class(&sphinx.phones()[i])))
            })
            .collect();
        Self {
            hybrid,
            sphinx,
            weight,
            nearest: false,
            name,
            broad_of,
        }
    }

    /// Whether phones from letter rules, IPA and pinyin are scored as their nearest ARPAbet
    /// phone (`true`) or by their broad class's Sphinx score (`false`, the default: on the
    /// synthetic 5-language set the nearest-phone map made refine mode worse).
    pub fn with_nearest_phones(mut self, nearest: bool) -> Self {
        self.nearest = nearest;
        self
    }

    fn n_phone_slots(&self) -> usize {
        self.sphinx.phones().len() + 1
    }
}

impl AcousticModel for SphinxHybridModel {
    fn name(&self) -> &str {
        &self.name
    }
    fn n_classes(&self) -> usize {
        1 + N_BROAD * self.n_phone_slots()
    }
    fn class_of(&self, phone: &Phone) -> usize {
        let slot = to_arpabet(&phone.symbol, self.nearest)
            .and_then(|a| self.sphinx.phone_index(a))
            .unwrap_or(self.sphinx.phones().len());
        1 + broad_index(phone.class) * self.n_phone_slots() + slot
    }
    fn filler_class(&self) -> usize {
        0
    }
    fn is_vowel_class(&self, class: usize) -> bool {
        class >= 1 && (class - 1) / self.n_phone_slots() == 0
    }
    fn score(&self, f: &Features) -> Emissions {
        let h = self.hybrid.score(f);
        let ll = self.sphinx.log_likelihoods(f);
        let n_ci = self.sphinx.phones().len();
        let slots = self.n_phone_slots();
        // Frames without Sphinx features (hand-built `Features`) get the hybrid scores only.
        let n = h.n_frames();
        let n_ll = ll.len() / n_ci.max(1);
        let n_classes = self.n_classes();
        let mut scores = Vec::with_capacity(n * n_classes);
        let w = self.weight;
        let mut class_scores = [0.0f32; N_BROAD];
        for t in 0..n {
            let (filler, row) = if t < n_ll {
                let row = &ll[t * n_ci..(t + 1) * n_ci];
                // Log-likelihoods against the average over all CI phones.
                let norm = log_sum_exp(row.iter().copied()) - (n_ci as f32).ln();
                for (b, c) in class_scores.iter_mut().enumerate() {
                    *c = log_sum_exp(
                        row.iter()
                            .zip(&self.broad_of)
                            .filter(|(_, k)| **k == Some(b))
                            .map(|(v, _)| *v),
                    ) - norm;
                }
                let filler = log_sum_exp(
                    row.iter()
                        .zip(&self.broad_of)
                        .filter(|(_, k)| k.is_none())
                        .map(|(v, _)| *v),
                ) - norm;
                (filler, Some((row, norm)))
            } else {
                class_scores = [0.0; N_BROAD];
                (0.0, None)
            };
            scores.push(h.at(t, 0) + w * filler);
            for (b, class_score) in class_scores.iter().enumerate() {
                let hb = h.at(t, 1 + b);
                for s in 0..slots {
                    let sph = match row {
                        Some((row, norm)) if s < n_ci => row[s] - norm,
                        _ => *class_score,
                    };
                    scores.push(hb + w * sph);
                }
            }
        }
        Emissions {
            frame_rate: h.frame_rate,
            n_classes,
            scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn debian() -> Option<SphinxModel> {
        let dir = Path::new(SphinxModel::DEBIAN_DIR);
        if !dir.exists() {
            eprintln!(
                "skipping: {} is missing (apt install pocketsphinx-en-us)",
                dir.display()
            );
            return None;
        }
        Some(SphinxModel::load(dir).expect("the Debian model loads"))
    }

    #[test]
    fn the_debian_model_loads() {
        let Some(m) = debian() else { return };
        assert_eq!(m.phones().len(), 42);
        assert_eq!(m.phones()[0], "+NSN+");
        assert!(m.phone_index("SIL").is_some_and(|i| m.is_filler(i)));
        assert!(m.phone_index("AA").is_some_and(|i| !m.is_filler(i)));
        assert_eq!(m.n_densities, 128);
        // Every ARPAbet phone the map produces is in the model.
        for p in ["AA", "ZH", "NG", "HH", "CH", "ER"] {
            assert!(m.phone_index(p).is_some(), "{p}");
        }
        // The mixture weights of every CI senone and stream sum to about 1.
        for states in &m.weights {
            assert_eq!(states.len(), 3);
            for streams in states {
                for w in streams {
                    let s: f32 = w.iter().sum();
                    assert!((0.9..1.1).contains(&s), "{s}");
                }
            }
        }
    }
}

#[cfg(test)]
mod model_tests {
    use super::model::tests::{gauden_bytes, mdef_bytes, sendump_bytes};
    use super::*;

    const PARAMS: &str = "-lowerf 130 -upperf 6800 -nfilt 25 -transform dct -lifter 22 \
                          -feat 1s_c_d_dd -svspec 0-12/13-25/26-38 -cmn batch -model ptm";

    #[test]
    fn a_tiny_model_scores_and_inconsistent_files_are_refused() {
        let mdef = mdef_bytes(&["AA", "SIL"]);
        let means = gauden_bytes(2, 2, |i| (i % 5) as f32);
        let vars = gauden_bytes(2, 2, |_| 1.0);
        let sendump = sendump_bytes(2, 6, 7);
        let m = SphinxModel::from_files(PARAMS, &mdef, &means, &vars, &sendump).unwrap();
        assert_eq!(m.phones(), ["AA", "SIL"]);
        // Variances of another shape.
        let bad = gauden_bytes(2, 3, |_| 1.0);
        assert!(SphinxModel::from_files(PARAMS, &mdef, &means, &bad, &sendump).is_err());
        // Not one codebook per CI phone.
        let three = gauden_bytes(3, 2, |_| 1.0);
        assert!(SphinxModel::from_files(PARAMS, &mdef, &three, &three, &sendump).is_err());
        // Other front-end settings.
        assert!(SphinxModel::from_files("-nfilt 40", &mdef, &means, &vars, &sendump).is_err());
    }
}
