//! Per-song adaptation: the singer, the mix and the recording differ from anything a shipped
//! model has heard, but a first alignment already labels most of the song's frames well. A
//! Gaussian mixture per broad group (filler, vowel, sonorant, fricative, stop) fitted on the
//! song's own cepstra, with the first alignment's labels, scores every frame again; the word
//! pass then runs a second time with these scores added (unsupervised adaptation, as speech
//! recognisers adapt to a speaker between two decoding passes).

use crate::frontend::Features;
use crate::gmm::DiagGmm;
use crate::phones::PhoneClass;
use crate::sphinx::{SPHINX_FEATURE_DIMS, cepstral_features};

/// Broad groups: filler, then one per [`PhoneClass`].
pub(crate) const N_GROUPS: usize = 5;
/// Components per group's mixture.
const COMPONENTS: usize = 4;
/// EM iterations after each split of the mixtures.
const EM_ITERS: usize = 5;
/// Fewest labelled frames a group needs for its own mixture (about 0.6 s at 86 frames/s);
/// groups with fewer get no adapted score.
const MIN_FRAMES: usize = 50;
/// Most frames per group used for fitting (evenly strided), which bounds the cost on long songs.
const MAX_FIT_FRAMES: usize = 8000;
/// Lowest adapted score, so one outlying frame cannot veto a state.
const SCORE_FLOOR: f32 = -10.0;

/// The group of a state: `None` (pause, filler) is group 0.
pub(crate) fn group_of(class: Option<PhoneClass>) -> u8 {
    match class {
        None => 0,
        Some(PhoneClass::Vowel) => 1,
        Some(PhoneClass::Sonorant) => 2,
        Some(PhoneClass::Fricative) => 3,
        Some(PhoneClass::Stop) => 4,
    }
}

/// Per frame and group, the adapted score `ln p(x | group) - ln p(x)` (a scaled likelihood,
/// as the hybrid model's), 0 for groups without a mixture.
#[derive(Debug, Clone)]
pub(crate) struct SongAdaptation {
    scores: Vec<f32>,
}

impl SongAdaptation {
    /// Fits the groups' mixtures on the frames `labels` names (`None`: unlabelled) and scores
    /// every frame. `None` when the features have no Sphinx filter energies, or when fewer
    /// than two groups have enough frames.
    pub(crate) fn fit(features: &Features, labels: &[Option<u8>]) -> Option<Self> {
        let n = features.len().min(labels.len());
        let raw = cepstral_features(features);
        if n == 0 || raw.len() < n * SPHINX_FEATURE_DIMS {
            return None;
        }
        let x = standardise(&raw[..n * SPHINX_FEATURE_DIMS], SPHINX_FEATURE_DIMS);
        let rows: Vec<&[f32]> = x.chunks_exact(SPHINX_FEATURE_DIMS).collect();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); N_GROUPS];
        for (t, l) in labels[..n].iter().enumerate() {
            if let Some(g) = l.filter(|&g| usize::from(g) < N_GROUPS) {
                members[usize::from(g)].push(t);
            }
        }
        let labelled: usize = members.iter().map(Vec::len).sum();
        let gmms: Vec<Option<(DiagGmm, f64)>> = members
            .iter()
            .map(|m| {
                if m.len() < MIN_FRAMES {
                    return None;
                }
                let stride = m.len().div_ceil(MAX_FIT_FRAMES);
                let data: Vec<&[f32]> = m.iter().step_by(stride).map(|&t| rows[t]).collect();
                let prior = m.len() as f64 / labelled as f64;
                DiagGmm::fit(&data, COMPONENTS, EM_ITERS).map(|g| (g, prior.ln()))
            })
            .collect();
        if gmms.iter().flatten().count() < 2 {
            return None;
        }
        let mut scores = vec![0.0f32; n * N_GROUPS];
        let mut ll = [0.0f64; N_GROUPS];
        for (t, row) in rows.iter().enumerate() {
            let mut terms = [f64::NEG_INFINITY; N_GROUPS];
            for (g, m) in gmms.iter().enumerate() {
                if let Some((gmm, log_prior)) = m {
                    ll[g] = gmm.log_likelihood(row);
                    terms[g] = ll[g] + log_prior;
                }
            }
            let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let evidence = top + terms.iter().map(|v| (v - top).exp()).sum::<f64>().ln();
            for (g, m) in gmms.iter().enumerate() {
                if m.is_some() {
                    scores[t * N_GROUPS + g] = ((ll[g] - evidence) as f32).max(SCORE_FLOOR);
                }
            }
        }
        Some(Self { scores })
    }

    /// The adapted score of `group` at frame `t` (0 past the end).
    pub(crate) fn at(&self, t: usize, group: u8) -> f32 {
        self.scores
            .get(t * N_GROUPS + usize::from(group))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Each dimension scaled to zero mean and unit variance over the song (the mixtures' variance
/// floor assumes unit scale).
fn standardise(x: &[f32], dims: usize) -> Vec<f32> {
    let n = (x.len() / dims).max(1) as f64;
    let mut mean = vec![0.0f64; dims];
    let mut sq = vec![0.0f64; dims];
    for row in x.chunks_exact(dims) {
        for (d, &v) in row.iter().enumerate() {
            mean[d] += f64::from(v);
            sq[d] += f64::from(v) * f64::from(v);
        }
    }
    let scale: Vec<(f64, f64)> = mean
        .iter()
        .zip(&sq)
        .map(|(&s, &q)| {
            let m = s / n;
            let var = (q / n - m * m).max(1e-9);
            (m, 1.0 / var.sqrt())
        })
        .collect();
    x.chunks_exact(dims)
        .flat_map(|row| {
            row.iter()
                .zip(&scale)
                .map(|(&v, &(m, k))| ((f64::from(v) - m) * k) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Features whose Sphinx filter energies alternate between two spectra every 40 frames.
    fn two_sounds(frames: usize) -> (Features, Vec<u8>) {
        let nf = crate::sphinx::SPHINX_NFILT;
        let mut sphinx_mel = Vec::with_capacity(frames * nf);
        let mut truth = Vec::with_capacity(frames);
        let mut s = 11u64;
        for t in 0..frames {
            let g = if (t / 40) % 2 == 0 { 0 } else { 1 };
            truth.push(g);
            for k in 0..nf {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let noise = (s % 1000) as f32 / 1000.0 - 0.5;
                // Group 0: energy in the low filters; group 1: in the high filters.
                let tilt = if g == 0 { -(k as f32) } else { k as f32 };
                sphinx_mel.push(0.3 * tilt + noise);
            }
        }
        let features = Features {
            frame_rate: 86.0,
            log_mel: vec![0.0; frames * crate::frontend::N_MELS],
            vocal_db: vec![0.0; frames],
            mix_db: vec![0.0; frames],
            flux: vec![0.0; frames],
            hiss_db: vec![0.0; frames],
            sphinx_mel,
        };
        (features, truth)
    }

    #[test]
    fn noisy_labels_still_score_the_true_group_higher() {
        let (features, truth) = two_sounds(800);
        // A first pass that got a fifth of the frames wrong.
        let labels: Vec<Option<u8>> = truth
            .iter()
            .enumerate()
            .map(|(t, &g)| Some(if t % 5 == 0 { 1 - g } else { g }))
            .collect();
        let a = SongAdaptation::fit(&features, &labels).expect("two groups with frames");
        let right = truth
            .iter()
            .enumerate()
            .filter(|&(t, &g)| a.at(t, g) > a.at(t, 1 - g))
            .count();
        // Frames within a few of a change are mixed (the deltas span 3 frames each side).
        assert!(right > 740, "{right} of 800 frames prefer their true group");
        // Groups without frames get no score.
        assert_eq!(a.at(3, 4), 0.0);
        assert_eq!(a.at(10_000, 0), 0.0);
    }

    #[test]
    fn too_few_labels_or_no_sphinx_energies_give_no_adaptation() {
        let (features, _) = two_sounds(200);
        let mut labels = vec![None; 200];
        labels[..100].iter_mut().for_each(|l| *l = Some(0));
        assert!(SongAdaptation::fit(&features, &labels).is_none());
        let mut bare = features.clone();
        bare.sphinx_mel.clear();
        let both: Vec<Option<u8>> = (0..200).map(|t| Some((t % 2) as u8)).collect();
        assert!(SongAdaptation::fit(&bare, &both).is_none());
    }
}
