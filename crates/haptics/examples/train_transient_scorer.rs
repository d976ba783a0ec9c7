//! Trains the full preset's transient scorer (logistic regression over candidate features) on
//! the TUNE half of the designer pairs only (even indices of the sorted `.haptic` paths, the
//! same split as `encore haptics eval`), chooses the threshold by 6-fold cross-validation within
//! that half (folds by file), and prints the constants for `src/transients.rs`.
//!
//! ```sh
//! cargo run --release -p encore-haptics --example train_transient_scorer -- \
//!     ../shared/data/haptics/lofelt-pairs
//! ```
//!
//! Experiments (tune-half cross-validation only; the printed weights change only with
//! `SCORER_L2`, `SCORER_DROP` or `SCORER_FILE_WEIGHT`, the threshold also with the fold options): `SCORER_L2=X` (default 100),
//! `SCORER_DROP=I,J` leaves features out, `SCORER_FILE_WEIGHT=P` weighs each file's candidates
//! by n^-P (default 0), `SCORER_MLP=1 SCORER_MLP_DECAY=D` also cross-validates a small network,
//! `SCORER_GBT=1` (with `SCORER_GBT_ROUNDS`, `_DEPTH`, `_RATE`, `_LEAF`) gradient-boosted trees,
//! `SCORER_FOLD_SEED=S` (S > 0) shuffles the assignment of files to folds (the CV F moves by
//! about +-0.015 with it alone, so compare variants on the mean over several seeds),
//! `SCORER_FOLDS=category` makes each category folder of the tune half one fold,
//! `SCORER_PERFILE=1` prints out-of-fold counts per file, `SCORER_DUMP=PATH` writes the
//! designer points and candidate features of the tune half as text.
//!
//! Diagnostics added later the same day (print only; with any of them set, do not paste the
//! printed constants): `SCORER_LABEL=nearest` labels each designer point's nearest candidate
//! instead of the F-measure's sweep, `SCORER_SMOOTH_GRID=1` scores region smoothing of the
//! out-of-fold logits (`SCORER_SMOOTH=LAM,R` applies one), `SCORER_ORACLE_FILE=1` prints the
//! upper bound of a perfect per-file threshold, `SCORER_MIDPOINTS=1` also emits the midpoint of
//! close kept candidates (a stand-in for the trough breakpoint between two peaks), and
//! `SCORER_REF=breakpoints|maxima` replaces the designer's emphasis points by all of the
//! designer's amplitude breakpoints or by their local maxima (to compare candidate placement
//! with Lofelt Studio's breakpoints; the "all candidates" line is the figure to read).
//!
//! The frame-level model tried on 2026-11-24 (and not adopted) is in commit 559fdc3 of this
//! example and of `src/transients.rs`; the trough, simplified-envelope, flatness and regional
//! candidate features tried afterwards are in commit e75944a (environment knobs
//! `ENCORE_HAPTICS_TROUGHS`, `ENCORE_HAPTICS_SIMPLIFY=TOL`, `ENCORE_HAPTICS_SIMPLIFY_MODE`);
//! see docs/readme/haptics.md.

use std::path::Path;

use encore_haptics::{
    N_FEATURES, candidate_features, matched_estimates, parse_lofelt, transient_f_measure,
};

const WINDOW_S: f64 = 0.05;
const FOLDS: usize = 6;
const L2_DEFAULT: f64 = 100.0;

fn l2() -> f64 {
    std::env::var("SCORER_L2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(L2_DEFAULT)
}

/// Features left out (comma-separated indices in SCORER_DROP), for ablations.
fn dropped() -> Vec<usize> {
    std::env::var("SCORER_DROP")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

struct File {
    name: String,
    reference: Vec<f64>,
    times: Vec<f64>,
    x: Vec<[f64; N_FEATURES]>,
    y: Vec<f64>,
}

/// One-to-one labels: 1 for a candidate the F-measure's sweep matches (inputs sorted).
fn labels(reference: &[f64], times: &[f64]) -> Vec<f64> {
    if std::env::var("SCORER_LABEL").is_ok_and(|v| v == "nearest") {
        // Each designer point labels its nearest candidate within the window (closest first).
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, &r) in reference.iter().enumerate() {
            let j = times.partition_point(|&t| t < r);
            for k in [j.wrapping_sub(1), j, j + 1, j.wrapping_sub(2)] {
                if let Some(&t) = times.get(k)
                    && (t - r).abs() <= WINDOW_S
                {
                    pairs.push(((t - r).abs(), i, k));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut used_r, mut y) = (vec![false; reference.len()], vec![0.0; times.len()]);
        for (_, i, k) in pairs {
            if !used_r[i] && y[k] == 0.0 {
                used_r[i] = true;
                y[k] = 1.0;
            }
        }
        return y;
    }
    matched_estimates(reference, times, WINDOW_S)
        .into_iter()
        .map(|m| if m { 1.0 } else { 0.0 })
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Solves `a x = b` (Gaussian elimination with partial pivoting); `a` is n x n row-major.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))
            .unwrap_or(c);
        for k in 0..n {
            a.swap(c * n + k, p * n + k);
        }
        b.swap(c, p);
        let d = a[c * n + c];
        if d.abs() < 1e-12 {
            continue;
        }
        for r in 0..n {
            if r != c {
                let f = a[r * n + c] / d;
                if f != 0.0 {
                    for k in c..n {
                        a[r * n + k] -= f * a[c * n + k];
                    }
                    b[r] -= f * b[c];
                }
            }
        }
    }
    (0..n)
        .map(|i| {
            let d = a[i * n + i];
            if d.abs() < 1e-12 { 0.0 } else { b[i] / d }
        })
        .collect()
}

/// L2-regularised logistic regression by Newton's method on standardised rows `z`
/// (bias last, unregularised). Returns weights of length `N_FEATURES + 1`.
fn fit<const N: usize>(z: &[[f64; N]], y: &[f64], wt: &[f64], l2: f64) -> Vec<f64> {
    let d = N + 1;
    let mut w = vec![0.0; d];
    for _ in 0..25 {
        let mut g = vec![0.0; d];
        let mut h = vec![0.0; d * d];
        for ((row, &t), &c) in z.iter().zip(y).zip(wt) {
            let mut x = row.to_vec();
            x.push(1.0);
            let p = sigmoid(x.iter().zip(&w).map(|(a, b)| a * b).sum());
            let s = c * (p * (1.0 - p)).max(1e-9);
            for i in 0..d {
                g[i] += c * (p - t) * x[i];
                let sx = s * x[i];
                for k in i..d {
                    h[i * d + k] += sx * x[k];
                }
            }
        }
        for i in 0..d {
            for k in 0..i {
                h[i * d + k] = h[k * d + i];
            }
        }
        for i in 0..N {
            g[i] += l2 * w[i];
            h[i * d + i] += l2;
        }
        let step = solve(h, g);
        let mut change = 0.0f64;
        for i in 0..d {
            w[i] -= step[i];
            change = change.max(step[i].abs());
        }
        if change < 1e-8 {
            break;
        }
    }
    w
}

fn score(w: &[f64], z: &[f64; N_FEATURES]) -> f64 {
    z.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + w[N_FEATURES]
}

fn standardise(files: &[&File]) -> ([f64; N_FEATURES], [f64; N_FEATURES]) {
    let (mut mean, mut sd) = ([0.0; N_FEATURES], [0.0; N_FEATURES]);
    let n = files.iter().map(|f| f.x.len()).sum::<usize>().max(1) as f64;
    for f in files {
        for r in &f.x {
            for k in 0..N_FEATURES {
                mean[k] += r[k] / n;
            }
        }
    }
    for f in files {
        for r in &f.x {
            for k in 0..N_FEATURES {
                sd[k] += (r[k] - mean[k]).powi(2) / n;
            }
        }
    }
    for s in &mut sd {
        *s = s.sqrt().max(1e-6);
    }
    (mean, sd)
}

fn train(files: &[&File]) -> Vec<f64> {
    let (mean, sd) = standardise(files);
    let mut z = Vec::new();
    let mut y = Vec::new();
    let mut wt = Vec::new();
    let power: f64 = std::env::var("SCORER_FILE_WEIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    for f in files {
        wt.extend(std::iter::repeat_n(
            (f.x.len().max(1) as f64).powf(-power),
            f.x.len(),
        ));
        for (r, &t) in f.x.iter().zip(&f.y) {
            let mut row = [0.0; N_FEATURES];
            let drop = dropped();
            for k in 0..N_FEATURES {
                if !drop.contains(&k) {
                    row[k] = (r[k] - mean[k]) / sd[k];
                }
            }
            z.push(row);
            y.push(t);
        }
    }
    // Weights of mean 1 (SCORER_FILE_WEIGHT=p: each file's candidates weigh n^-p).
    let mean_wt = wt.iter().sum::<f64>() / wt.len().max(1) as f64;
    for v in &mut wt {
        *v /= mean_wt.max(1e-12);
    }
    let ws = fit(&z, &y, &wt, l2());
    // Fold the standardisation into raw-feature weights.
    let mut w = vec![0.0; N_FEATURES + 1];
    w[N_FEATURES] = ws[N_FEATURES];
    for k in 0..N_FEATURES {
        w[k] = ws[k] / sd[k];
        w[N_FEATURES] -= ws[k] * mean[k] / sd[k];
    }
    w
}

/// The logit threshold in -4..=4 (steps of 0.1) with the best pooled F of the out-of-fold
/// logits `oof[file][candidate]`: (F, threshold, (F, precision, recall)).
fn best_threshold(files: &[File], oof: &[Vec<f64>]) -> (f64, f64, (f64, f64, f64)) {
    let mut best = (f64::MIN, 0.0, (0.0, 0.0, 0.0));
    for k in -40..=40 {
        let th = f64::from(k) * 0.1;
        let r = pooled_f(files, |fi, j| oof[fi][j] >= th);
        if r.0 > best.0 {
            best = (r.0, th, r);
        }
    }
    best
}

fn pooled_f(files: &[File], keep: impl Fn(usize, usize) -> bool) -> (f64, f64, f64) {
    let mut total = encore_haptics::FMeasure::default();
    for (fi, f) in files.iter().enumerate() {
        let est: Vec<f64> = (0..f.times.len())
            .filter(|&j| keep(fi, j))
            .map(|j| f.times[j])
            .collect();
        total.add(transient_f_measure(&f.reference, &est, WINDOW_S));
    }
    (total.f(), total.precision(), total.recall())
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/haptics/lofelt-pairs".into());
    let pairs = encore_haptics::designer_pairs(Path::new(&dir));
    // Tune half only: even indices.
    let mut files = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    for (h, wav) in pairs.iter().step_by(2) {
        let Ok(bytes) = std::fs::read(h) else {
            continue;
        };
        let Ok(designer) = parse_lofelt(&bytes) else {
            eprintln!("skipping {}", h.display());
            continue;
        };
        let Ok(audio) = encore_audio::load_mono(wav, encore_audio::ANALYSIS_SAMPLE_RATE) else {
            eprintln!("skipping {}", wav.display());
            continue;
        };
        let mut reference: Vec<f64> = designer.transients().map(|t| t.time).collect();
        // Experiment: the designer's breakpoints (or their local maxima) as the reference.
        let a = &designer.amplitude;
        match std::env::var("SCORER_REF").as_deref() {
            Ok("breakpoints") => reference = a.iter().map(|p| p.time).collect(),
            Ok("maxima") => {
                reference = (0..a.len())
                    .filter(|&i| {
                        let v = a[i].amplitude;
                        (i == 0 || v >= a[i - 1].amplitude)
                            && a.get(i + 1).is_none_or(|q| v >= q.amplitude)
                    })
                    .map(|i| a[i].time)
                    .collect()
            }
            _ => {}
        }
        reference.sort_by(f64::total_cmp);
        let cands = candidate_features(&audio.samples, audio.sample_rate);
        let times: Vec<f64> = cands.iter().map(|c| c.0).collect();
        let x = cands.iter().map(|c| c.1.map(f64::from)).collect::<Vec<_>>();
        let y = labels(&reference, &times);
        categories.push(
            h.parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        files.push(File {
            name: h
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            reference,
            times,
            x,
            y,
        });
    }
    if let Ok(dump) = std::env::var("SCORER_DUMP") {
        let mut out = String::new();
        for (i, f) in files.iter().enumerate() {
            for r in &f.reference {
                out.push_str(&format!("R {i} {r:.5}\n"));
            }
            for ((t, x), y) in f.times.iter().zip(&f.x).zip(&f.y) {
                let xs: Vec<String> = x.iter().map(|v| format!("{v:.4}")).collect();
                out.push_str(&format!("C {i} {t:.5} {y} {}\n", xs.join(" ")));
            }
        }
        let _ = std::fs::write(dump, out);
    }
    if std::env::var("SCORER_FOLDS").is_ok_and(|v| v == "category") {
        let mut names: Vec<String> = Vec::new();
        let groups = categories
            .iter()
            .map(|c| {
                names.iter().position(|n| n == c).unwrap_or_else(|| {
                    names.push(c.clone());
                    names.len() - 1
                })
            })
            .collect();
        eprintln!("folds by category: {names:?}");
        let _ = CATEGORY_FOLDS.set(groups);
    }
    let n_cand: usize = files.iter().map(|f| f.x.len()).sum();
    let n_pos: f64 = files.iter().flat_map(|f| &f.y).sum();
    eprintln!(
        "tune files {}, candidates {n_cand}, positives {n_pos}, designer points {}",
        files.len(),
        files.iter().map(|f| f.reference.len()).sum::<usize>()
    );
    // The current detector as a filter of the candidates (rise >= 2 dB, within 30 dB of the
    // loudest frame, at most 5 dB under the peak hold).
    let base = pooled_f(&files, |fi, j| {
        let r = &files[fi].x[j];
        r[12] > 0.5
    });
    let oracle = pooled_f(&files, |fi, j| files[fi].y[j] > 0.5);
    let everything = pooled_f(&files, |_, _| true);
    eprintln!(
        "all candidates on tune: F {:.3} P {:.3} R {:.3}",
        everything.0, everything.1, everything.2
    );
    eprintln!(
        "current detector on tune: F {:.3} P {:.3} R {:.3}",
        base.0, base.1, base.2
    );
    eprintln!(
        "candidate oracle on tune: F {:.3} P {:.3} R {:.3}",
        oracle.0, oracle.1, oracle.2
    );

    // Out-of-fold scores (folds by file).
    let mut oof: Vec<Vec<f64>> = files.iter().map(|f| vec![0.0; f.x.len()]).collect();
    for fold in 0..FOLDS {
        let train_set = outside_fold(&files, fold);
        let w = train(&train_set);
        for (i, f) in files.iter().enumerate() {
            if fold_of(i) == fold {
                for (j, r) in f.x.iter().enumerate() {
                    oof[i][j] = score(&w, r);
                }
            }
        }
    }
    if let Ok(grid) = std::env::var("SCORER_SMOOTH_GRID") {
        // Region smoothing of the out-of-fold logits: (1 - lam) * own + lam * mean within +-r s.
        let _ = grid;
        for r in [0.1, 0.25, 0.5, 1.0, 2.0, 100.0] {
            for lam in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let sm = smooth(&files, &oof, lam, r);
                let b = best_threshold(&files, &sm);
                eprintln!("smooth r {r} lam {lam}: F {:.4} th {:.1}", b.0, b.1);
            }
        }
    }
    if let Ok(v) = std::env::var("SCORER_SMOOTH") {
        let p: Vec<f64> = v.split(',').filter_map(|x| x.parse().ok()).collect();
        oof = smooth(&files, &oof, p[0], p[1]);
    }
    if std::env::var_os("SCORER_ORACLE_FILE").is_some() {
        // Upper bound: each file picks its own threshold (a perfect file-level decision).
        let mut total = encore_haptics::FMeasure::default();
        for (fi, f) in files.iter().enumerate() {
            let mut best: Option<encore_haptics::FMeasure> = None;
            for k in -40..=41 {
                let th = if k == 41 {
                    f64::MAX
                } else {
                    f64::from(k) * 0.1
                };
                let est: Vec<f64> = (0..f.times.len())
                    .filter(|&j| oof[fi][j] >= th)
                    .map(|j| f.times[j])
                    .collect();
                let m = transient_f_measure(&f.reference, &est, WINDOW_S);
                // Pooled F gains from hits and loses from misses and false alarms equally.
                let gain = |m: &encore_haptics::FMeasure| {
                    2.0 * m.hits as f64 - 0.7 * (m.reference + m.estimated) as f64
                };
                if best.as_ref().is_none_or(|b| gain(&m) > gain(b)) {
                    best = Some(m);
                }
            }
            if let Some(b) = best {
                total.add(b);
            }
        }
        eprintln!(
            "file-level oracle threshold: F {:.3} P {:.3} R {:.3}",
            total.f(),
            total.precision(),
            total.recall()
        );
    }
    if std::env::var_os("SCORER_MIDPOINTS").is_some() {
        // Experiment: also emit the midpoint between consecutive kept candidates closer than
        // `g` seconds (a stand-in for the trough breakpoint between two peaks).
        let th = best_threshold(&files, &oof).1;
        for g in [0.0, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15] {
            let mut total = encore_haptics::FMeasure::default();
            for (fi, f) in files.iter().enumerate() {
                let kept: Vec<f64> = (0..f.times.len())
                    .filter(|&j| oof[fi][j] >= th)
                    .map(|j| f.times[j])
                    .collect();
                let mut est = kept.clone();
                est.extend(
                    kept.windows(2)
                        .filter(|w| w[1] - w[0] < g)
                        .map(|w| 0.5 * (w[0] + w[1])),
                );
                total.add(transient_f_measure(&f.reference, &est, WINDOW_S));
            }
            eprintln!(
                "midpoints below {g} s: F {:.4} P {:.3} R {:.3}",
                total.f(),
                total.precision(),
                total.recall()
            );
        }
    }
    let best = best_threshold(&files, &oof);
    eprintln!(
        "cross-validated on tune: best threshold (logit) {:.1}: F {:.3} P {:.3} R {:.3}",
        best.1, best.2.0, best.2.1, best.2.2
    );
    if std::env::var_os("SCORER_PERFILE").is_some() {
        for (fi, f) in files.iter().enumerate() {
            let est: Vec<f64> = (0..f.times.len())
                .filter(|&j| oof[fi][j] >= best.1)
                .map(|j| f.times[j])
                .collect();
            let m = transient_f_measure(&f.reference, &est, WINDOW_S);
            eprintln!(
                "file {fi} {}: ref {} cand {} est {} hits {}",
                f.name,
                m.reference,
                f.times.len(),
                m.estimated,
                m.hits
            );
        }
    }
    if std::env::var_os("SCORER_MLP").is_some() {
        mlp_cv(&files);
    }
    if std::env::var_os("SCORER_GBT").is_some() {
        gbt_cv(&files);
    }
    let all: Vec<&File> = files.iter().collect();
    let w = train(&all);
    let fit_f = pooled_f(&files, |fi, j| score(&w, &files[fi].x[j]) >= best.1);
    eprintln!(
        "in-sample on tune at that threshold: F {:.3} P {:.3} R {:.3}",
        fit_f.0, fit_f.1, fit_f.2
    );
    println!("const SCORER_WEIGHTS: [f32; N_FEATURES] = [");
    for v in &w[..N_FEATURES] {
        println!("    {v:.6},");
    }
    println!("];");
    println!("const SCORER_BIAS: f32 = {:.6};", w[N_FEATURES]);
    println!("const SCORER_THRESHOLD: f32 = {:.1};", best.1);
}

/// Experiment (SCORER_MLP=1): a one-hidden-layer tanh network (8 units), full-batch Adam on
/// the log loss with weight decay, scored by the same 6-fold cross-validation. Prints only.
fn mlp_cv(files: &[File]) {
    const H: usize = 8;
    let decay: f64 = std::env::var("SCORER_MLP_DECAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1e-3);
    let mut oof: Vec<Vec<f64>> = files.iter().map(|f| vec![0.0; f.x.len()]).collect();
    for fold in 0..FOLDS {
        let tr = outside_fold(files, fold);
        let (mean, sd) = standardise(&tr);
        let z = |r: &[f64; N_FEATURES]| -> Vec<f64> {
            (0..N_FEATURES).map(|k| (r[k] - mean[k]) / sd[k]).collect()
        };
        let data: Vec<(Vec<f64>, f64)> = tr
            .iter()
            .flat_map(|f| f.x.iter().zip(&f.y).map(|(r, &y)| (z(r), y)))
            .collect();
        // Parameters: w1 (H x N), b1 (H), w2 (H), b2.
        let np = H * N_FEATURES + H + H + 1;
        let mut p = vec![0.0f64; np];
        let mut seed = 12345u64;
        for v in p.iter_mut().take(H * N_FEATURES) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.6;
        }
        let (mut m, mut v2) = (vec![0.0; np], vec![0.0; np]);
        let forward = |p: &[f64], x: &[f64], h: &mut [f64]| -> f64 {
            let mut o = p[np - 1];
            for j in 0..H {
                let a: f64 = (0..N_FEATURES)
                    .map(|k| p[j * N_FEATURES + k] * x[k])
                    .sum::<f64>()
                    + p[H * N_FEATURES + j];
                h[j] = a.tanh();
                o += p[H * N_FEATURES + H + j] * h[j];
            }
            o
        };
        let mut h = [0.0; H];
        for step in 1..=1500 {
            let mut g = vec![0.0; np];
            for (x, y) in &data {
                let o = forward(&p, x, &mut h);
                let d = sigmoid(o) - y;
                g[np - 1] += d;
                for j in 0..H {
                    g[H * N_FEATURES + H + j] += d * h[j];
                    let dh = d * p[H * N_FEATURES + H + j] * (1.0 - h[j] * h[j]);
                    g[H * N_FEATURES + j] += dh;
                    for k in 0..N_FEATURES {
                        g[j * N_FEATURES + k] += dh * x[k];
                    }
                }
            }
            let n = data.len().max(1) as f64;
            for i in 0..np {
                let gi = g[i] / n + decay * p[i];
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v2[i] = 0.999 * v2[i] + 0.001 * gi * gi;
                let mh = m[i] / (1.0 - 0.9f64.powi(step));
                let vh = v2[i] / (1.0 - 0.999f64.powi(step));
                p[i] -= 0.01 * mh / (vh.sqrt() + 1e-8);
            }
        }
        for (i, f) in files.iter().enumerate() {
            if fold_of(i) == fold {
                for (j, r) in f.x.iter().enumerate() {
                    oof[i][j] = forward(&p, &z(r), &mut h);
                }
            }
        }
    }
    let best = best_threshold(files, &oof);
    eprintln!(
        "MLP ({H} tanh units, decay {decay}) cross-validated on tune: threshold {:.1}: F {:.3} P {:.3} R {:.3}",
        best.1, best.2.0, best.2.1, best.2.2
    );
}

/// With `SCORER_FOLDS=category`: the fold of each tune file is its category folder (the tune
/// half has six: ApplicationUX, Impacts, Music, Nature, SoundFX, Weapons), so every fold is
/// scored by a model that saw no sound of its kind.
static CATEGORY_FOLDS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();

/// The files not in `fold` (the training set of that fold).
fn outside_fold(files: &[File], fold: usize) -> Vec<&File> {
    files
        .iter()
        .enumerate()
        .filter(|(i, _)| fold_of(*i) != fold)
        .map(|(_, f)| f)
        .collect()
}

/// Fold of tune file `i`: its category with `SCORER_FOLDS=category`, else `i % FOLDS`, or a
/// seeded shuffle with `SCORER_FOLD_SEED=S` (S > 0)
/// to see how much the cross-validated F moves with the fold assignment alone.
fn fold_of(i: usize) -> usize {
    if let Some(groups) = CATEGORY_FOLDS.get() {
        return groups.get(i).copied().unwrap_or(0) % FOLDS;
    }
    let seed: u64 = std::env::var("SCORER_FOLD_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if seed == 0 {
        return i % FOLDS;
    }
    // Rank of i's hash among 0..64 hashes gives a balanced shuffled assignment.
    let h = |k: u64| {
        (k ^ seed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
    };
    let rank = (0..64u64).filter(|&k| h(k) < h(i as u64)).count();
    rank % FOLDS
}

/// A regression tree node over raw features: a split or a leaf value.
#[derive(Clone, Copy)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

fn tree_eval(tree: &[Node], x: &[f64; N_FEATURES]) -> f64 {
    let mut k = 0;
    loop {
        match tree[k] {
            Node::Leaf(v) => return v,
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => k = if x[feature] < threshold { left } else { right },
        }
    }
}

/// Grows one tree on gradients `g` and hessians `h` (Newton leaf values, L2 `lambda`).
fn grow(
    rows: &[&[f64; N_FEATURES]],
    idx: Vec<usize>,
    g: &[f64],
    h: &[f64],
    depth: usize,
    min_leaf: usize,
    tree: &mut Vec<Node>,
) -> usize {
    let lambda = 1.0;
    let (sg, sh) = idx
        .iter()
        .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
    let me = tree.len();
    tree.push(Node::Leaf(-sg / (sh + lambda)));
    if depth == 0 || idx.len() < 2 * min_leaf {
        return me;
    }
    let parent = sg * sg / (sh + lambda);
    let mut best: Option<(f64, usize, f64)> = None;
    // `f` indexes the features of each row, not `rows`.
    #[allow(clippy::needless_range_loop)]
    for f in 0..N_FEATURES {
        let mut order = idx.clone();
        order.sort_by(|&a, &b| rows[a][f].total_cmp(&rows[b][f]));
        let (mut lg, mut lh) = (0.0, 0.0);
        for k in 0..order.len() - 1 {
            lg += g[order[k]];
            lh += h[order[k]];
            let (a, b) = (rows[order[k]][f], rows[order[k + 1]][f]);
            if k + 1 < min_leaf || order.len() - k - 1 < min_leaf || a == b {
                continue;
            }
            let (rg, rh) = (sg - lg, sh - lh);
            let gain = lg * lg / (lh + lambda) + rg * rg / (rh + lambda) - parent;
            if best.is_none_or(|(bg, _, _)| gain > bg) {
                best = Some((gain, f, 0.5 * (a + b)));
            }
        }
    }
    let Some((gain, feature, threshold)) = best else {
        return me;
    };
    if gain <= 1e-9 {
        return me;
    }
    let (li, ri): (Vec<usize>, Vec<usize>) =
        idx.into_iter().partition(|&i| rows[i][feature] < threshold);
    let left = grow(rows, li, g, h, depth - 1, min_leaf, tree);
    let right = grow(rows, ri, g, h, depth - 1, min_leaf, tree);
    tree[me] = Node::Split {
        feature,
        threshold,
        left,
        right,
    };
    me
}

/// Experiment (SCORER_GBT=1): gradient-boosted trees on the log loss (SCORER_GBT_ROUNDS,
/// _DEPTH, _RATE, _LEAF), scored by the same cross-validation. Prints only.
fn gbt_cv(files: &[File]) {
    let env = |k: &str, d: f64| -> f64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env("SCORER_GBT_ROUNDS", 100.0) as usize;
    let depth = env("SCORER_GBT_DEPTH", 2.0) as usize;
    let rate = env("SCORER_GBT_RATE", 0.1);
    let min_leaf = env("SCORER_GBT_LEAF", 20.0) as usize;
    let mut oof: Vec<Vec<f64>> = files.iter().map(|f| vec![0.0; f.x.len()]).collect();
    for fold in 0..FOLDS {
        let tr = outside_fold(files, fold);
        let rows: Vec<&[f64; N_FEATURES]> = tr.iter().flat_map(|f| f.x.iter()).collect();
        let y: Vec<f64> = tr.iter().flat_map(|f| f.y.iter().copied()).collect();
        let prior = (y.iter().sum::<f64>() / y.len().max(1) as f64).clamp(1e-3, 1.0 - 1e-3);
        let base = (prior / (1.0 - prior)).ln();
        let mut f_cur = vec![base; y.len()];
        let mut trees: Vec<Vec<Node>> = Vec::new();
        for _ in 0..rounds {
            let p: Vec<f64> = f_cur.iter().map(|&z| sigmoid(z)).collect();
            let g: Vec<f64> = p.iter().zip(&y).map(|(p, y)| p - y).collect();
            let h: Vec<f64> = p.iter().map(|p| (p * (1.0 - p)).max(1e-6)).collect();
            let mut tree = Vec::new();
            grow(
                &rows,
                (0..y.len()).collect(),
                &g,
                &h,
                depth,
                min_leaf,
                &mut tree,
            );
            for (k, r) in rows.iter().enumerate() {
                f_cur[k] += rate * tree_eval(&tree, r);
            }
            trees.push(tree);
        }
        for (i, f) in files.iter().enumerate() {
            if fold_of(i) == fold {
                for (j, r) in f.x.iter().enumerate() {
                    oof[i][j] = base + rate * trees.iter().map(|t| tree_eval(t, r)).sum::<f64>();
                }
            }
        }
    }
    let best = best_threshold(files, &oof);
    eprintln!(
        "GBT ({rounds} rounds, depth {depth}, rate {rate}, leaf {min_leaf}) cross-validated on tune: threshold {:.1}: F {:.3} P {:.3} R {:.3}",
        best.1, best.2.0, best.2.1, best.2.2
    );
}

/// Mixes each candidate's logit with the mean logit of its file's candidates within +-`r` s.
fn smooth(files: &[File], logits: &[Vec<f64>], lam: f64, r: f64) -> Vec<Vec<f64>> {
    files
        .iter()
        .zip(logits)
        .map(|(f, l)| {
            let mut prefix = vec![0.0];
            for v in l {
                prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
            }
            (0..l.len())
                .map(|j| {
                    let lo = f.times.partition_point(|&t| t < f.times[j] - r);
                    let hi = f.times.partition_point(|&t| t <= f.times[j] + r);
                    let mean = (prefix[hi] - prefix[lo]) / (hi - lo).max(1) as f64;
                    (1.0 - lam) * l[j] + lam * mean
                })
                .collect()
        })
        .collect()
}
