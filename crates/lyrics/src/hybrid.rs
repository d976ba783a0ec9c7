//! The hybrid HMM/NN acoustic model: an MLP over stacked, per-song normalised frames gives
//! posteriors of the training targets; divided by the targets' priors they are scaled
//! likelihoods for the lyrics HMM. Also the versioned model file.
//!
//! # Model file (version 1)
//!
//! All integers and floats little-endian.
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `ENCLYRAM` |
//! | 4 | version, `u32` = 1 |
//! | 4 | header length `h`, `u32` (at most 65 536) |
//! | h | header, UTF-8 JSON: `name`, `context` (frame offsets), `layers` (widths, input first), `scale`, optional `coarse_weight` (line-pass position weight), `info` (free-form: data, units, scores) |
//! | ... | per layer: weights `f32 x (out x in)` row-major, then biases `f32 x out` |
//! | 4 x 6 | priors of the six targets (`f32`, positive) |
//! | 8 | FNV-1a 64 of every byte before it |
//!
//! The input width must be `context.len() x FRAME_DIMS`, the output width `N_TARGETS`.

use serde::{Deserialize, Serialize};

use crate::acoustic::{AcousticModel, Emissions};
use crate::frontend::{Features, N_MELS};
use crate::mlp::{Layer, Mlp};
use crate::phones::{Phone, PhoneClass};

/// Values per frame before stacking: the log-mel bands plus vocal, mix and hiss energy and flux.
pub const FRAME_DIMS: usize = N_MELS + 4;
/// Training targets: silence, instrumental, vowel, sonorant, fricative, stop.
pub const N_TARGETS: usize = 6;
/// Names of the training targets, in order.
pub const TARGET_NAMES: [&str; N_TARGETS] = [
    "silence",
    "instrumental",
    "vowel",
    "sonorant",
    "fricative",
    "stop",
];
/// Target index of silence.
pub const T_SILENCE: u8 = 0;
/// Target index of instrumental music without singing.
pub const T_INSTRUMENTAL: u8 = 1;
/// Label of frames that train nothing (unknown content in weakly labelled data).
pub const T_IGNORE: u8 = 255;

const MAGIC: &[u8; 8] = b"ENCLYRAM";
/// Current model file version.
pub const MODEL_VERSION: u32 = 1;
const MAX_HEADER: usize = 65_536;
const MAX_LAYERS: usize = 8;
const MAX_WIDTH: usize = 8192;
const MAX_CONTEXT: usize = 64;
const MAX_OFFSET: i32 = 200;

/// The training target of a phone.
pub fn target_of(class: PhoneClass) -> u8 {
    match class {
        PhoneClass::Vowel => 2,
        PhoneClass::Sonorant => 3,
        PhoneClass::Fricative => 4,
        PhoneClass::Stop => 5,
    }
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The file does not start with `ENCLYRAM`.
    #[error("not an Encore lyrics acoustic model (bad magic)")]
    BadMagic,
    /// A version this build cannot read.
    #[error("model file version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u32),
    /// The file ends early.
    #[error("model file truncated: {0}")]
    Truncated(&'static str),
    /// The checksum does not match (corruption).
    #[error("model file checksum mismatch (corrupt file)")]
    Checksum,
    /// The header or the numbers are inconsistent.
    #[error("invalid model file: {0}")]
    Invalid(String),
}

/// The JSON header of a model file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelHeader {
    /// Model name for reports, e.g. `hybrid-mlp-v1`.
    pub name: String,
    /// Frame offsets stacked into one input, e.g. `[-8, -4, -2, -1, 0, 1, 2, 4, 8]`.
    pub context: Vec<i32>,
    /// Layer widths, input first.
    pub layers: Vec<usize>,
    /// Multiplier of the log scaled likelihoods (acoustic scale).
    pub scale: f32,
    /// Free-form description: training data, units, scores.
    #[serde(default)]
    pub info: serde_json::Value,
    /// Suggested position-prior weight of the line pass for this model
    /// ([`crate::AlignOptions::position_weight_coarse`]); chosen on synthetic validation songs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coarse_weight: Option<f32>,
}

/// A trained hybrid model.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridModel {
    /// Header (name, context, scale, description).
    pub header: ModelHeader,
    /// The network.
    pub mlp: Mlp,
    /// Prior of every target in the training labels.
    pub priors: [f32; N_TARGETS],
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ModelFileError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(ModelFileError::Truncated(what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ModelFileError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32s(&mut self, n: usize, what: &'static str) -> Result<Vec<f32>, ModelFileError> {
        let b = self.take(
            n.checked_mul(4).ok_or(ModelFileError::Truncated(what))?,
            what,
        )?;
        let v: Vec<f32> = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(ModelFileError::Invalid(format!(
                "non-finite value in {what}"
            )));
        }
        Ok(v)
    }
}

/// Per-song normalised frame values (`FRAME_DIMS` per frame): every dimension minus its mean
/// over the song, divided by its standard deviation over the song.
pub fn frame_matrix(f: &Features) -> Vec<f32> {
    let n = f.len();
    let mut m = Vec::with_capacity(n * FRAME_DIMS);
    for t in 0..n {
        m.extend_from_slice(&f.log_mel[t * N_MELS..(t + 1) * N_MELS]);
        m.extend([f.vocal_db[t], f.mix_db[t], f.hiss_db[t], f.flux[t]]);
    }
    if n == 0 {
        return m;
    }
    for d in 0..FRAME_DIMS {
        let mean = (0..n)
            .map(|t| f64::from(m[t * FRAME_DIMS + d]))
            .sum::<f64>()
            / n as f64;
        let var = (0..n)
            .map(|t| (f64::from(m[t * FRAME_DIMS + d]) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        let sd = var.sqrt().max(1e-3);
        for t in 0..n {
            let v = &mut m[t * FRAME_DIMS + d];
            *v = ((f64::from(*v) - mean) / sd) as f32;
        }
    }
    m
}

/// Writes the stacked input of frame `t` (frames clamped at the edges) into `out`.
pub fn stack_into(matrix: &[f32], n: usize, t: usize, context: &[i32], out: &mut Vec<f32>) {
    out.clear();
    for &o in context {
        let u = (t as i64 + i64::from(o)).clamp(0, n as i64 - 1) as usize;
        out.extend_from_slice(&matrix[u * FRAME_DIMS..(u + 1) * FRAME_DIMS]);
    }
}

impl HybridModel {
    /// The default model shipped with the library (`crates/lyrics/models/default.encam`).
    pub fn default_model() -> Result<Self, ModelFileError> {
        Self::from_bytes(include_bytes!("../models/default.encam"))
    }

    /// Serialises to the model file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(MODEL_VERSION.to_le_bytes());
        let header = serde_json::to_vec(&self.header).unwrap_or_default();
        out.extend((header.len() as u32).to_le_bytes());
        out.extend(header);
        for l in &self.mlp.layers {
            l.w.iter().for_each(|v| out.extend(v.to_le_bytes()));
            l.b.iter().for_each(|v| out.extend(v.to_le_bytes()));
        }
        self.priors.iter().for_each(|v| out.extend(v.to_le_bytes()));
        let h = fnv1a(&out);
        out.extend(h.to_le_bytes());
        out
    }

    /// Parses and validates a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelFileError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        if r.take(8, "magic")? != MAGIC {
            return Err(ModelFileError::BadMagic);
        }
        let version = r.u32("version")?;
        if version != MODEL_VERSION {
            return Err(ModelFileError::UnsupportedVersion(version));
        }
        if bytes.len() < 8 {
            return Err(ModelFileError::Truncated("checksum"));
        }
        let body = &bytes[..bytes.len() - 8];
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[bytes.len() - 8..]);
        let h_len = r.u32("header length")? as usize;
        if h_len > MAX_HEADER {
            return Err(ModelFileError::Invalid(format!(
                "header of {h_len} bytes (limit {MAX_HEADER})"
            )));
        }
        let header_bytes = r.take(h_len, "header")?;
        if fnv1a(body) != u64::from_le_bytes(sum) {
            return Err(ModelFileError::Checksum);
        }
        let header: ModelHeader = serde_json::from_slice(header_bytes)
            .map_err(|e| ModelFileError::Invalid(format!("header: {e}")))?;
        let invalid = |m: String| Err(ModelFileError::Invalid(m));
        if header.context.is_empty()
            || header.context.len() > MAX_CONTEXT
            || header.context.iter().any(|o| o.abs() > MAX_OFFSET)
        {
            return invalid(format!("context {:?}", header.context));
        }
        if header.layers.len() < 2 || header.layers.len() > MAX_LAYERS + 1 {
            return invalid(format!("{} layer widths", header.layers.len()));
        }
        if header.layers.iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            return invalid(format!("layer widths {:?}", header.layers));
        }
        if header.layers[0] != header.context.len() * FRAME_DIMS {
            return invalid(format!(
                "input width {} is not {} frames x {FRAME_DIMS}",
                header.layers[0],
                header.context.len()
            ));
        }
        if header.layers[header.layers.len() - 1] != N_TARGETS {
            return invalid(format!("output width is not {N_TARGETS}"));
        }
        if !header.scale.is_finite() || header.scale <= 0.0 || header.scale > 100.0 {
            return invalid(format!("scale {}", header.scale));
        }
        if let Some(w) = header.coarse_weight
            && (!w.is_finite() || !(0.0..=100.0).contains(&w))
        {
            return invalid(format!("coarse weight {w}"));
        }
        let mut layers = Vec::new();
        for w in header.layers.windows(2) {
            let (n_in, n_out) = (w[0], w[1]);
            let weights = r.f32s(n_in * n_out, "weights")?;
            let b = r.f32s(n_out, "biases")?;
            layers.push(Layer {
                n_in,
                n_out,
                w: weights,
                b,
            });
        }
        let p = r.f32s(N_TARGETS, "priors")?;
        if p.iter().any(|&x| x <= 0.0 || x > 1.0) {
            return invalid(format!("priors {p:?}"));
        }
        if r.pos != bytes.len() - 8 {
            return invalid(format!(
                "{} bytes after the priors",
                (bytes.len() - 8).saturating_sub(r.pos)
            ));
        }
        let mut priors = [0.0f32; N_TARGETS];
        priors.copy_from_slice(&p);
        Ok(Self {
            header,
            mlp: Mlp { layers },
            priors,
        })
    }

    /// Reads a model file.
    pub fn load(path: &std::path::Path) -> crate::Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| crate::Error::Invalid(format!("reading model {}: {e}", path.display())))?;
        Ok(Self::from_bytes(&bytes)?)
    }

    /// Log-posteriors of the targets, per frame (`N_TARGETS` per frame).
    pub fn log_posteriors(&self, f: &Features) -> Vec<f32> {
        let n = f.len();
        let m = frame_matrix(f);
        let mut out = Vec::with_capacity(n * N_TARGETS);
        let mut x = Vec::with_capacity(self.mlp.n_in());
        for t in 0..n {
            stack_into(&m, n, t, &self.header.context, &mut x);
            out.extend(self.mlp.log_probs(&x));
        }
        out
    }
}

impl AcousticModel for HybridModel {
    fn name(&self) -> &str {
        &self.header.name
    }
    fn n_classes(&self) -> usize {
        5
    }
    fn class_of(&self, phone: &Phone) -> usize {
        usize::from(target_of(phone.class)) - 1
    }
    fn filler_class(&self) -> usize {
        0
    }
    /// Scaled likelihoods: `scale x (ln p(class | frames) - ln prior(class))`, with silence and
    /// instrumental merged into the filler class (posteriors and priors summed).
    fn score(&self, f: &Features) -> Emissions {
        let lp = self.log_posteriors(f);
        let n = f.len();
        let floor = 1e-5f32;
        let lpr: Vec<f32> = self.priors.iter().map(|p| p.ln()).collect();
        let filler_prior = (self.priors[0] + self.priors[1]).ln();
        let s = self.header.scale;
        let mut scores = Vec::with_capacity(n * 5);
        for t in 0..n {
            let p = &lp[t * N_TARGETS..(t + 1) * N_TARGETS];
            let filler = (p[0].exp() + p[1].exp()).max(floor).ln();
            scores.push(s * (filler - filler_prior));
            for c in 2..N_TARGETS {
                scores.push(s * (p[c].max(floor.ln()) - lpr[c]));
            }
        }
        Emissions {
            frame_rate: f.frame_rate,
            n_classes: 5,
            scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> HybridModel {
        let context = vec![-1, 0, 1];
        let sizes = [3 * FRAME_DIMS, 8, N_TARGETS];
        HybridModel {
            header: ModelHeader {
                name: "tiny".into(),
                context,
                layers: sizes.to_vec(),
                scale: 0.5,
                info: serde_json::json!({"units": "broad classes"}),
                coarse_weight: Some(0.2),
            },
            mlp: Mlp::new(&sizes, 5),
            priors: [0.3, 0.2, 0.2, 0.1, 0.1, 0.1],
        }
    }

    #[test]
    fn model_file_round_trips() {
        let m = tiny();
        let bytes = m.to_bytes();
        assert_eq!(&bytes[..8], MAGIC);
        let back = HybridModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn corrupt_files_are_typed_errors() {
        let bytes = tiny().to_bytes();
        assert!(matches!(
            HybridModel::from_bytes(b"NOTAMODELFILE..."),
            Err(ModelFileError::BadMagic)
        ));
        assert!(matches!(
            HybridModel::from_bytes(&bytes[..5]),
            Err(ModelFileError::Truncated(_))
        ));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(matches!(
            HybridModel::from_bytes(&v2),
            Err(ModelFileError::UnsupportedVersion(2))
        ));
        let mut flipped = bytes.clone();
        let mid = bytes.len() / 2;
        flipped[mid] ^= 0x40;
        assert!(matches!(
            HybridModel::from_bytes(&flipped),
            Err(ModelFileError::Checksum)
        ));
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(HybridModel::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        // A consistent checksum over an inconsistent header is still refused.
        let mut bad = tiny();
        bad.header.layers[0] = 7;
        assert!(matches!(
            HybridModel::from_bytes(&bad.to_bytes()),
            Err(ModelFileError::Invalid(_))
        ));
    }

    #[test]
    fn the_default_model_loads() {
        let m = HybridModel::default_model().unwrap();
        assert_eq!(m.mlp.n_out(), N_TARGETS);
        assert!(m.to_bytes().len() < 2_000_000);
    }
}
