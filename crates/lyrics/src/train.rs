//! Training the hybrid model: flat-start GMM-HMM (Viterbi training) on broad phone classes
//! with silence and instrumental targets, forced alignment to frame labels, then an MLP on
//! those labels, realignment with the MLP's scaled likelihoods and retraining.
//!
//! Training songs carry word spans: exact ones (synthetic data) or confident words found by
//! aligning line-timed lyrics inside their lines (weak labels from an operator's catalogue).
//! Phones are placed inside each word span by Viterbi alignment; frames outside every word are
//! silence or instrumental (by level); frames of unconfident words train nothing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::acoustic::AcousticModel;
use crate::align::{AlignOptions, Aligner, Mode, State, viterbi};
use crate::doc::Lyrics;
use crate::error::{Error, Result};
use crate::frontend::Features;
use crate::gmm::DiagGmm;
use crate::hybrid::{
    FRAME_DIMS, HybridModel, ModelHeader, N_TARGETS, T_IGNORE, T_INSTRUMENTAL, T_SILENCE,
    frame_matrix, stack_into, target_of,
};
use crate::mlp::{Adam, Mlp, Rng};
use crate::phones::{Phone, PhoneClass, Pronouncer};
use crate::text::tokenize;

/// One word of a training song: its span in seconds and its phones.
#[derive(Debug, Clone)]
pub struct TrainWord {
    /// Start (s).
    pub start_s: f64,
    /// End (s).
    pub end_s: f64,
    /// Phones, in order.
    pub phones: Vec<Phone>,
}

/// A training song: features, labelled word spans, and spans whose content is unknown.
#[derive(Debug, Clone)]
pub struct TrainSong {
    /// Name for reports.
    pub name: String,
    /// Front-end features.
    pub features: Features,
    /// Words with trusted spans.
    pub words: Vec<TrainWord>,
    /// Spans (s) that train nothing (lines with unconfident words).
    pub ignore: Vec<(f64, f64)>,
}

fn words_of(lyrics: &Lyrics, pron: &Pronouncer) -> Result<Vec<Vec<Vec<Phone>>>> {
    lyrics
        .lines
        .iter()
        .map(|l| pron.line(&tokenize(&l.text, pron.language())))
        .collect()
}

impl TrainSong {
    /// A song whose words all have times (`lyrics` words with `start_s` and `end_s`). The words
    /// must be the tokens of each line's text; `pron` gives their phones (its language, its
    /// dictionary for English, eSpeak-NG when it has it on), as the aligner would.
    pub fn from_timed(
        name: impl Into<String>,
        features: Features,
        lyrics: &Lyrics,
        pron: &Pronouncer,
    ) -> Result<Self> {
        let name = name.into();
        let phones = words_of(lyrics, pron)?;
        let mut words = Vec::new();
        for (li, (line, ph)) in lyrics.lines.iter().zip(phones).enumerate() {
            if line.words.len() != ph.len() {
                return Err(Error::Invalid(format!(
                    "{name}: line {} has {} timed words but {} tokens",
                    li + 1,
                    line.words.len(),
                    ph.len()
                )));
            }
            for (w, p) in line.words.iter().zip(ph) {
                let (Some(s), Some(e)) = (w.start_s, w.end_s) else {
                    return Err(Error::Invalid(format!(
                        "{name}: word {:?} has no time",
                        w.text
                    )));
                };
                if !p.is_empty() && e > s {
                    words.push(TrainWord {
                        start_s: s,
                        end_s: e,
                        phones: p,
                    });
                }
            }
        }
        Ok(Self {
            name,
            features,
            words,
            ignore: Vec::new(),
        })
    }

    /// Weak labels from line-timed lyrics: words are aligned inside their lines with `model`
    /// (refine mode) and kept when their confidence is at least `min_confidence`; the rest of
    /// each line trains nothing. Returns the song and the share of words kept.
    pub fn from_line_timed<M: AcousticModel>(
        name: impl Into<String>,
        features: Features,
        lyrics: &Lyrics,
        model: M,
        pron: &Pronouncer,
        min_confidence: f64,
    ) -> Result<(Self, f64)> {
        let name = name.into();
        let options = AlignOptions {
            mode: Mode::Refine,
            language: Some(pron.language().clone()),
            espeak: pron.uses_espeak(),
            dictionary: pron.dictionary(),
            ..AlignOptions::default()
        };
        let aligned = Aligner::new(model, options).align_features(&features, lyrics)?;
        let phones = words_of(lyrics, pron)?;
        let (mut words, mut ignore) = (Vec::new(), Vec::new());
        let (mut kept, mut total) = (0usize, 0usize);
        for (line, ph) in aligned.lines.iter().zip(phones) {
            let mut unsure = false;
            for (w, p) in line.words.iter().zip(ph) {
                if p.is_empty() {
                    continue;
                }
                total += 1;
                match (w.start_s, w.end_s, w.confidence) {
                    (Some(s), Some(e), Some(c)) if c >= min_confidence && e > s => {
                        kept += 1;
                        words.push(TrainWord {
                            start_s: s,
                            end_s: e,
                            phones: p,
                        });
                    }
                    _ => unsure = true,
                }
            }
            if unsure && let (Some(s), Some(e)) = (line.start_s, line.end_s) {
                ignore.push((s, e));
            }
        }
        // A word kept inside an ignored line keeps its own labels (`labels` writes words last).
        let share = kept as f64 / total.max(1) as f64;
        Ok((
            Self {
                name,
                features,
                words,
                ignore,
            },
            share,
        ))
    }
}

/// Settings of a training run. The defaults build the shipped model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// Gaussians per target at the end of GMM training (doubled per round up to this).
    pub gmm_components: usize,
    /// GMM-HMM rounds (fit, then realign).
    pub gmm_rounds: usize,
    /// EM iterations per GMM fit.
    pub em_iters: usize,
    /// Hidden layer widths of the MLP.
    pub hidden: Vec<usize>,
    /// Frame offsets stacked into the MLP input.
    pub context: Vec<i32>,
    /// MLP rounds (train, then realign).
    pub mlp_rounds: usize,
    /// Epochs per MLP round.
    pub epochs: usize,
    /// Most frames per epoch (a random subset when there are more).
    pub frames_per_epoch: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Acoustic scale written into the model.
    pub scale: f32,
    /// Line-pass position weight written into the model as its hint to the aligner
    /// (`None`: the aligner's default). 0.2 suits models of this recipe: chosen for
    /// `hybrid-mlp-v1` on the synthetic sung validation set (docs/readme/lyrics.md).
    pub coarse_weight: Option<f32>,
    /// Random seed (initialisation and frame order).
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            gmm_components: 8,
            gmm_rounds: 4,
            em_iters: 3,
            hidden: vec![128, 64],
            context: vec![-12, -8, -5, -3, -2, -1, 0, 1, 2, 3, 5, 8, 12],
            mlp_rounds: 2,
            epochs: 4,
            frames_per_epoch: 200_000,
            batch: 128,
            learning_rate: 1e-3,
            scale: 0.5,
            coarse_weight: Some(0.2),
            seed: 1,
        }
    }
}

/// What a training run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainReport {
    /// Songs and labelled frames.
    pub songs: usize,
    /// Frames with a label (not ignored).
    pub frames: usize,
    /// Frames per target in the final labels.
    pub target_frames: Vec<usize>,
    /// Mean GMM log-likelihood of the labelled frames per GMM round.
    pub gmm_log_likelihood: Vec<f64>,
    /// Mean training cross-entropy per MLP epoch (all rounds).
    pub mlp_loss: Vec<f32>,
    /// Share of frames whose most probable target equals the final label.
    pub frame_accuracy: f64,
    /// Share of labels that changed in the last realignment.
    pub last_label_change: f64,
}

/// Progress of a training run: stage name, step, total steps of the stage.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&str, usize, usize);

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    fingerprint: u64,
    stage: String,
    round: usize,
    epoch: usize,
    report: TrainReport,
}

/// A word's span in frames (start, end) and its phones' targets (target, is a vowel).
type WordSpan = (usize, usize, Vec<(u8, bool)>);

/// Per-song data prepared once.
struct Prepared {
    matrix: Vec<f32>,
    n: usize,
    /// Labels of frames outside words (silence / instrumental / ignore).
    base: Vec<u8>,
    /// Word spans in frames with their phones' targets.
    words: Vec<WordSpan>,
}

fn prepare(song: &TrainSong) -> Prepared {
    let f = &song.features;
    let n = f.len();
    let fr = f.frame_rate;
    let to_frame = |s: f64| ((s * fr).round().max(0.0) as usize).min(n);
    let peak = f.mix_db.iter().copied().fold(f32::MIN, f32::max);
    let mut base: Vec<u8> = (0..n)
        .map(|t| {
            if f.mix_db[t] < peak - 40.0 {
                T_SILENCE
            } else {
                T_INSTRUMENTAL
            }
        })
        .collect();
    for &(s, e) in &song.ignore {
        for l in &mut base[to_frame(s)..to_frame(e)] {
            *l = T_IGNORE;
        }
    }
    let words = song
        .words
        .iter()
        .filter_map(|w| {
            let (a, b) = (to_frame(w.start_s), to_frame(w.end_s));
            let targets: Vec<(u8, bool)> = w
                .phones
                .iter()
                .map(|p| (target_of(p.class), p.class == PhoneClass::Vowel))
                .collect();
            (b > a && !targets.is_empty()).then_some((a, b, targets))
        })
        .collect();
    Prepared {
        matrix: frame_matrix(f),
        n,
        base,
        words,
    }
}

/// Flat start: each word's span shared out among its phones (vowels weigh three times more).
fn flat_labels(p: &Prepared) -> Vec<u8> {
    let mut labels = p.base.clone();
    for (a, b, targets) in &p.words {
        let weights: Vec<f64> = targets
            .iter()
            .map(|&(_, v)| if v { 3.0 } else { 1.0 })
            .collect();
        let total: f64 = weights.iter().sum();
        let len = (b - a) as f64;
        let mut acc = 0.0;
        for ((t, _), w) in targets.iter().zip(&weights) {
            let s = a + (acc / total * len).round() as usize;
            acc += w;
            let e = a + (acc / total * len).round() as usize;
            for l in &mut labels[s..e.min(*b)] {
                *l = *t;
            }
        }
    }
    labels
}

/// Forced alignment of every word's phones inside its span, with optional filler at both ends,
/// given per-frame target scores (`N_TARGETS` per frame).
fn realign(p: &Prepared, scores: &[f32]) -> Vec<u8> {
    let mut labels = p.base.clone();
    // States' `group` is for the aligner's per-song adaptation; training does not use it.
    for (a, b, targets) in &p.words {
        let filler_at = |t: usize| {
            if p.base[t] == T_IGNORE {
                T_INSTRUMENTAL
            } else {
                p.base[t]
            }
        };
        let mut states = vec![State {
            class: usize::MAX,
            word: None,
            skippable: true,
            enter: 0.0,
            group: 0,
        }];
        for (k, (t, _)) in targets.iter().enumerate() {
            states.push(State {
                class: usize::from(*t),
                word: Some(k),
                skippable: false,
                enter: 0.0,
                group: 0,
            });
        }
        states.push(State {
            class: usize::MAX,
            word: None,
            skippable: true,
            enter: 0.0,
            group: 0,
        });
        let t_n = b - a;
        if t_n < targets.len() {
            // Shorter than one frame per phone: keep the flat start for this word.
            continue;
        }
        let emit = |f: usize, s: usize| {
            let t = a + f;
            let c = if states[s].class == usize::MAX {
                usize::from(filler_at(t))
            } else {
                states[s].class
            };
            scores[t * N_TARGETS + c]
        };
        let Ok(path) = viterbi(&states, t_n, emit, u64::MAX) else {
            continue;
        };
        for (f, s) in path.into_iter().enumerate() {
            labels[a + f] = if states[s].class == usize::MAX {
                filler_at(a + f)
            } else {
                states[s].class as u8
            };
        }
    }
    labels
}

fn gmm_scores(p: &Prepared, gmms: &[DiagGmm]) -> Vec<f32> {
    let mut out = Vec::with_capacity(p.n * N_TARGETS);
    for t in 0..p.n {
        let x = &p.matrix[t * FRAME_DIMS..(t + 1) * FRAME_DIMS];
        for g in gmms {
            out.push(g.log_likelihood(x) as f32);
        }
    }
    out
}

fn hybrid_scores(p: &Prepared, model: &HybridModel) -> Vec<f32> {
    let mut out = Vec::with_capacity(p.n * N_TARGETS);
    let mut x = Vec::new();
    let lpr: Vec<f32> = model.priors.iter().map(|v| v.ln()).collect();
    for t in 0..p.n {
        stack_into(&p.matrix, p.n, t, &model.header.context, &mut x);
        let lp = model.mlp.log_probs(&x);
        out.extend(lp.iter().zip(&lpr).map(|(a, b)| a.max(-11.5) - b));
    }
    out
}

fn fingerprint(songs: &[TrainSong], cfg: &TrainConfig) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for s in songs {
        eat(s.name.as_bytes());
        eat(&(s.features.len() as u64).to_le_bytes());
        eat(&(s.words.len() as u64).to_le_bytes());
    }
    eat(serde_json::to_string(cfg).unwrap_or_default().as_bytes());
    h
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Invalid(format!("{what} {}: {e}", path.display()))
}

fn priors_of(labels: &[Vec<u8>]) -> ([f32; N_TARGETS], Vec<usize>) {
    let mut counts = vec![0usize; N_TARGETS];
    for l in labels.iter().flatten() {
        if usize::from(*l) < N_TARGETS {
            counts[usize::from(*l)] += 1;
        }
    }
    let total: usize = counts.iter().sum();
    let mut p = [0.0f32; N_TARGETS];
    for (pi, c) in p.iter_mut().zip(&counts) {
        *pi = ((*c as f64 + 1.0) / (total as f64 + N_TARGETS as f64)) as f32;
    }
    (p, counts)
}

fn save_labels(dir: &Path, labels: &[Vec<u8>]) -> Result<()> {
    let path = dir.join("labels.bin");
    std::fs::write(&path, labels.concat()).map_err(|e| io_err("writing", &path, e))
}

fn load_labels(dir: &Path, prepared: &[Prepared]) -> Option<Vec<Vec<u8>>> {
    let all = std::fs::read(dir.join("labels.bin")).ok()?;
    if all.len() != prepared.iter().map(|p| p.n).sum::<usize>() {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 0;
    for p in prepared {
        out.push(all[at..at + p.n].to_vec());
        at += p.n;
    }
    Some(out)
}

fn write_checkpoint(dir: &Path, ck: &Checkpoint) -> Result<()> {
    let path = dir.join("state.json");
    let tmp = dir.join("state.json.tmp");
    let text = serde_json::to_vec_pretty(ck).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|e| io_err("writing", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_err("writing", &path, e))
}

/// Trains a hybrid model on `songs`. With `checkpoints`, the state is saved in that folder
/// after every GMM round and every MLP epoch, and a run over the same songs and settings
/// resumes from it (the optimiser's moments restart from zero on resume).
pub fn train(
    songs: &[TrainSong],
    cfg: &TrainConfig,
    checkpoints: Option<&Path>,
    progress: ProgressFn<'_>,
) -> Result<(HybridModel, TrainReport)> {
    if songs.iter().all(|s| s.words.is_empty()) {
        return Err(Error::Invalid(
            "no labelled words in the training data".into(),
        ));
    }
    if cfg.context.is_empty() || cfg.batch == 0 || cfg.hidden.contains(&0) {
        return Err(Error::Invalid("training settings out of range".into()));
    }
    let _span = tracing::info_span!("lyrics_train", songs = songs.len()).entered();
    let prepared: Vec<Prepared> = songs.iter().map(prepare).collect();
    let fp = fingerprint(songs, cfg);
    let mut report = TrainReport {
        songs: songs.len(),
        ..TrainReport::default()
    };
    if let Some(dir) = checkpoints {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
    }
    let resume: Option<Checkpoint> = checkpoints
        .and_then(|d| std::fs::read(d.join("state.json")).ok())
        .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).ok())
        .filter(|c| c.fingerprint == fp);
    let resume_labels = match (&resume, checkpoints) {
        (Some(_), Some(d)) => load_labels(d, &prepared),
        _ => None,
    };
    let resume = resume.filter(|_| resume_labels.is_some());
    if let Some(c) = &resume {
        tracing::info!(stage = %c.stage, round = c.round, epoch = c.epoch, "resuming");
        report = c.report.clone();
    }

    // Stage 1: flat-start GMM-HMM, Viterbi training.
    let mut labels: Vec<Vec<u8>> = prepared.iter().map(flat_labels).collect();
    let gmm_done = match &resume {
        Some(c) if c.stage == "gmm" => c.round + 1,
        Some(_) => cfg.gmm_rounds,
        None => 0,
    };
    if let Some(l) = &resume_labels {
        labels = l.clone();
    }
    for round in gmm_done..cfg.gmm_rounds {
        progress("GMM-HMM", round, cfg.gmm_rounds);
        let components = (1usize << round).min(cfg.gmm_components.max(1));
        let mut gmms = Vec::with_capacity(N_TARGETS);
        let mut ll_sum = 0.0;
        let mut ll_n = 0usize;
        for target in 0..N_TARGETS as u8 {
            let mut rows: Vec<&[f32]> = Vec::new();
            for (p, l) in prepared.iter().zip(&labels) {
                for (t, &lab) in l.iter().enumerate().take(p.n) {
                    if lab == target {
                        rows.push(&p.matrix[t * FRAME_DIMS..(t + 1) * FRAME_DIMS]);
                    }
                }
            }
            // At most 30 000 frames per target, evenly strided (deterministic).
            let stride = rows.len().div_ceil(30_000).max(1);
            let rows: Vec<&[f32]> = rows.into_iter().step_by(stride).collect();
            let g = DiagGmm::fit(&rows, components, cfg.em_iters).or_else(|| {
                // A target with no frames: a broad Gaussian that never wins.
                Some(DiagGmm {
                    weights: vec![1.0],
                    means: vec![vec![0.0; FRAME_DIMS]],
                    vars: vec![vec![100.0; FRAME_DIMS]],
                })
            });
            let g = g.ok_or_else(|| Error::Invalid("GMM fit failed".into()))?;
            ll_sum += g.mean_log_likelihood(&rows) * rows.len() as f64;
            ll_n += rows.len();
            gmms.push(g);
        }
        report.gmm_log_likelihood.push(ll_sum / ll_n.max(1) as f64);
        let new: Vec<Vec<u8>> = prepared
            .iter()
            .map(|p| realign(p, &gmm_scores(p, &gmms)))
            .collect();
        report.last_label_change = change(&labels, &new);
        labels = new;
        if let Some(dir) = checkpoints {
            save_labels(dir, &labels)?;
            let path = dir.join("gmm.json");
            let text = serde_json::to_vec(&gmms).map_err(|e| Error::Invalid(e.to_string()))?;
            std::fs::write(&path, text).map_err(|e| io_err("writing", &path, e))?;
            write_checkpoint(
                dir,
                &Checkpoint {
                    fingerprint: fp,
                    stage: "gmm".into(),
                    round,
                    epoch: 0,
                    report: report.clone(),
                },
            )?;
        }
    }

    // Stage 2: the MLP on the labels, then realign and retrain.
    let mut sizes = vec![cfg.context.len() * FRAME_DIMS];
    sizes.extend(&cfg.hidden);
    sizes.push(N_TARGETS);
    let mut model = HybridModel {
        header: ModelHeader {
            name: "hybrid-mlp-v1".into(),
            context: cfg.context.clone(),
            layers: sizes.clone(),
            scale: cfg.scale,
            info: serde_json::Value::Null,
            coarse_weight: None,
        },
        mlp: Mlp::new(&sizes, cfg.seed),
        priors: priors_of(&labels).0,
    };
    let (mut start_round, mut start_epoch) = (0, 0);
    if let (Some(c), Some(dir)) = (&resume, checkpoints)
        && c.stage == "mlp"
        && let Ok(m) = HybridModel::load(&dir.join("mlp.encam"))
        && m.header.layers == sizes
    {
        model = m;
        (start_round, start_epoch) = if c.epoch + 1 >= cfg.epochs {
            (c.round + 1, 0)
        } else {
            (c.round, c.epoch + 1)
        };
        if start_round > c.round {
            // The round finished: realign with its model before the next one.
            let new: Vec<Vec<u8>> = prepared
                .iter()
                .map(|p| realign(p, &hybrid_scores(p, &model)))
                .collect();
            labels = new;
        }
    }
    let mut rng = Rng::new(cfg.seed ^ 0x5eed);
    let mut x = Vec::with_capacity(cfg.batch * model.mlp.n_in());
    let mut row = Vec::new();
    for round in start_round..cfg.mlp_rounds {
        let (priors, counts) = priors_of(&labels);
        model.priors = priors;
        report.target_frames = counts;
        let mut index: Vec<(u32, u32)> = Vec::new();
        for (si, l) in labels.iter().enumerate() {
            for (t, &lab) in l.iter().enumerate() {
                if usize::from(lab) < N_TARGETS {
                    index.push((si as u32, t as u32));
                }
            }
        }
        report.frames = index.len();
        let mut opt = Adam::new(&model.mlp, cfg.learning_rate);
        let first_epoch = if round == start_round { start_epoch } else { 0 };
        for epoch in first_epoch..cfg.epochs {
            rng.shuffle(&mut index);
            let take = index.len().min(cfg.frames_per_epoch.max(1));
            let batches = take.div_ceil(cfg.batch);
            let mut loss_sum = 0.0f64;
            for (bi, chunk) in index[..take].chunks(cfg.batch).enumerate() {
                if bi % 50 == 0 {
                    progress(
                        &format!(
                            "MLP round {}/{} epoch {}/{}",
                            round + 1,
                            cfg.mlp_rounds,
                            epoch + 1,
                            cfg.epochs
                        ),
                        bi,
                        batches,
                    );
                }
                x.clear();
                let mut y = Vec::with_capacity(chunk.len());
                for &(si, t) in chunk {
                    let p = &prepared[si as usize];
                    stack_into(&p.matrix, p.n, t as usize, &cfg.context, &mut row);
                    x.extend_from_slice(&row);
                    y.push(usize::from(labels[si as usize][t as usize]));
                }
                let (loss, grads) = model.mlp.loss_and_grad(&x, &y);
                loss_sum += f64::from(loss) * chunk.len() as f64;
                opt.step(&mut model.mlp, &grads);
            }
            report.mlp_loss.push((loss_sum / take.max(1) as f64) as f32);
            if let Some(dir) = checkpoints {
                save_labels(dir, &labels)?;
                let path = dir.join("mlp.encam");
                std::fs::write(&path, model.to_bytes()).map_err(|e| io_err("writing", &path, e))?;
                write_checkpoint(
                    dir,
                    &Checkpoint {
                        fingerprint: fp,
                        stage: "mlp".into(),
                        round,
                        epoch,
                        report: report.clone(),
                    },
                )?;
            }
        }
        if round + 1 < cfg.mlp_rounds {
            progress("realigning", round, cfg.mlp_rounds);
            let new: Vec<Vec<u8>> = prepared
                .iter()
                .map(|p| realign(p, &hybrid_scores(p, &model)))
                .collect();
            report.last_label_change = change(&labels, &new);
            labels = new;
        }
    }
    // Frame accuracy against the final labels.
    let (mut right, mut all) = (0usize, 0usize);
    for (p, l) in prepared.iter().zip(&labels) {
        for t in (0..p.n).step_by(4) {
            if usize::from(l[t]) >= N_TARGETS {
                continue;
            }
            stack_into(&p.matrix, p.n, t, &cfg.context, &mut row);
            let lp = model.mlp.log_probs(&row);
            let best = (0..N_TARGETS)
                .max_by(|&a, &b| lp[a].total_cmp(&lp[b]))
                .unwrap_or(0);
            right += usize::from(best == usize::from(l[t]));
            all += 1;
        }
    }
    report.frame_accuracy = right as f64 / all.max(1) as f64;
    model.header.coarse_weight = cfg.coarse_weight;
    progress("done", 1, 1);
    Ok((model, report))
}

fn change(a: &[Vec<u8>], b: &[Vec<u8>]) -> f64 {
    let total: usize = a.iter().map(Vec::len).sum();
    let diff: usize = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count())
        .sum();
    diff as f64 / total.max(1) as f64
}
