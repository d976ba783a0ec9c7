//! Development aid: how well the front-end features separate sung from unsung frames, given an
//! audio file and a word-annotation CSV (`word_start,word_end,...`). Prints the area under the
//! ROC curve of each feature and of the model's vocal activity.

use encore_lyrics::{BroadClassModel, extract_features};

fn auc(score: &[f32], truth: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let (mut rank_sum, mut pos) = (0.0f64, 0usize);
    for (r, &i) in idx.iter().enumerate() {
        if truth[i] {
            rank_sum += r as f64 + 1.0;
            pos += 1;
        }
    }
    let neg = truth.len() - pos;
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64).max(1.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let audio = encore_audio::decode_file(std::path::Path::new(&args[1]))?;
    let f = extract_features(&audio)?;
    let csv = std::fs::read_to_string(&args[2])?;
    let mut truth = vec![false; f.len()];
    for l in csv.lines().skip(1) {
        let c: Vec<f64> = l
            .split(',')
            .take(2)
            .filter_map(|x| x.parse().ok())
            .collect();
        if c.len() == 2 {
            let a = (c[0] * f.frame_rate) as usize;
            let b = ((c[1] * f.frame_rate) as usize).min(f.len());
            for t in truth.iter_mut().take(b).skip(a) {
                *t = true;
            }
        }
    }
    let ratio: Vec<f32> = f
        .vocal_db
        .iter()
        .zip(&f.mix_db)
        .map(|(v, m)| v - m)
        .collect();
    let model = BroadClassModel::default();
    let act = model.vocal_activity(&f);
    let share = truth.iter().filter(|&&t| t).count() as f64 / truth.len() as f64;
    println!("frames {} sung {:.2}", f.len(), share);
    println!("auc vocal_db {:.3}", auc(&f.vocal_db, &truth));
    println!("auc mix_db   {:.3}", auc(&f.mix_db, &truth));
    println!("auc ratio    {:.3}", auc(&ratio, &truth));
    println!("auc flux     {:.3}", auc(&f.flux, &truth));
    println!("auc hiss     {:.3}", auc(&f.hiss_db, &truth));
    println!("auc activity {:.3}", auc(&act, &truth));
    let z = |x: &[f32]| {
        let mut v = x.to_vec();
        v.sort_by(f32::total_cmp);
        let med = v[v.len() / 2];
        let iqr = (v[v.len() * 3 / 4] - v[v.len() / 4]).max(1e-3);
        x.iter().map(|a| (a - med) / iqr).collect::<Vec<f32>>()
    };
    let (zm, zv, zh, zf) = (z(&f.mix_db), z(&f.vocal_db), z(&f.hiss_db), z(&f.flux));
    let smooth = |x: &[f32], w: usize| -> Vec<f32> {
        (0..x.len())
            .map(|t| {
                let lo = t.saturating_sub(w / 2);
                let hi = (t + w / 2 + 1).min(x.len());
                x[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
            })
            .collect()
    };
    for (name, ws) in [
        ("m+v+h", [1.0, 1.0, 1.0, 0.0]),
        ("m+h", [1.0, 0.0, 1.0, 0.0]),
        ("m+v", [1.0, 1.0, 0.0, 0.0]),
        ("m+v+h+f", [1.0, 1.0, 1.0, 0.5]),
    ] {
        let c: Vec<f32> = (0..f.len())
            .map(|t| ws[0] * zm[t] + ws[1] * zv[t] + ws[2] * zh[t] + ws[3] * zf[t])
            .collect();
        for w in [1, 9, 25, 51] {
            println!("auc {name} smooth {w}: {:.3}", auc(&smooth(&c, w), &truth));
        }
    }
    if args.len() > 3 {
        let step = (f.frame_rate / 2.0) as usize;
        for (k, c) in act.chunks(step).enumerate().take(80) {
            let tr = truth[k * step..(k * step + c.len())]
                .iter()
                .filter(|&&x| x)
                .count() as f32
                / c.len() as f32;
            let m = c.iter().sum::<f32>() / c.len() as f32;
            let mix = f.mix_db[k * step..k * step + c.len()].iter().sum::<f32>() / c.len() as f32;
            let hiss = f.hiss_db[k * step..k * step + c.len()].iter().sum::<f32>() / c.len() as f32;
            println!(
                "{:5.1}s truth {tr:.2} act {m:.2} mix {mix:6.1} hiss {hiss:6.1}",
                k as f64 * 0.5
            );
        }
    }
    let acc = act
        .iter()
        .zip(&truth)
        .filter(|(a, t)| (**a > 0.5) == **t)
        .count() as f64
        / truth.len() as f64;
    println!(
        "accuracy@0.5 {acc:.3}  mean activity {:.3}",
        act.iter().sum::<f32>() / act.len() as f32
    );
    Ok(())
}
