//! `encore lyrics train`: trains a hybrid acoustic model on folders of songs. A folder in the
//! JamendoLyrics layout with `annotations/words` (for example `encore lyrics synth` output)
//! gives exact word labels; audio files with a line-timed LRC next to them (or in `lyrics/`)
//! give weak labels: words aligned inside their lines, only confident ones kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use encore_lyrics::{
    AcousticModel, Language, Line, Lyrics, Pronouncer, TrainConfig, TrainSong, Word, tokenize,
};

use super::{ExitCode, csv_column, find_songs, load_dictionary, load_model, read_lyrics};

/// Arguments of `encore lyrics train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training folders: JamendoLyrics layout with word annotations (exact labels), or audio
    /// files with line-timed LRC files of the same name (weak labels).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the model file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Folder for resumable checkpoints (a rerun with the same data and settings resumes).
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Model that aligns words inside lines for weak labels (`broad`, a file; default: shipped).
    #[arg(long)]
    pub init_model: Option<PathBuf>,
    /// Weak labels: least word confidence kept.
    #[arg(long, default_value_t = 0.6)]
    pub min_confidence: f64,
    /// Pronounce with eSpeak-NG instead of the built-in rules.
    #[arg(long)]
    pub espeak: bool,
    /// English pronunciation dictionary (CMUdict format) looked up before the rules, as
    /// `align` does; default: Debian's copy from `pocketsphinx-en-us` when installed; `none`
    /// for rules only.
    #[arg(long)]
    pub dict: Option<PathBuf>,
    /// MLP epochs per round.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// MLP rounds (train, realign).
    #[arg(long)]
    pub mlp_rounds: Option<usize>,
    /// GMM-HMM rounds.
    #[arg(long)]
    pub gmm_rounds: Option<usize>,
    /// Hidden layer widths, comma-separated.
    #[arg(long)]
    pub hidden: Option<String>,
    /// Most frames per epoch.
    #[arg(long)]
    pub frames_per_epoch: Option<usize>,
    /// Acoustic scale written into the model.
    #[arg(long)]
    pub scale: Option<f32>,
    /// Line-pass position weight written into the model as its hint to `align` and `eval`
    /// (default 0.2, as in the shipped model).
    #[arg(long)]
    pub coarse_weight: Option<f32>,
    /// Random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Model name written into the file.
    #[arg(long, default_value = "hybrid-mlp-v1")]
    pub name: String,
    /// Print the training report as JSON.
    #[arg(long)]
    pub json: bool,
}

const AUDIO_EXT: [&str; 6] = ["mp3", "ogg", "flac", "wav", "m4a", "opus"];

/// One song to load: audio, and either word-annotated text or a line-timed LRC.
enum Source {
    Words {
        audio: PathBuf,
        text: PathBuf,
        words_csv: PathBuf,
        lang: Option<Language>,
    },
    Lines {
        audio: PathBuf,
        lrc: PathBuf,
    },
}

fn sources(dir: &Path) -> anyhow::Result<Vec<(String, Source)>> {
    let mut out = Vec::new();
    if dir.join("mp3").is_dir() || dir.join("audio").is_dir() {
        for s in find_songs(dir, None)? {
            if s.words_csv.is_file() {
                out.push((
                    s.name.clone(),
                    Source::Words {
                        audio: s.audio,
                        text: s.text,
                        words_csv: s.words_csv,
                        lang: s.language,
                    },
                ));
            } else {
                let lrc = dir.join("lyrics").join(format!("{}.lrc", s.name));
                if lrc.is_file() {
                    out.push((
                        s.name.clone(),
                        Source::Lines {
                            audio: s.audio,
                            lrc,
                        },
                    ));
                }
            }
        }
        return Ok(out);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for audio in entries {
        let ext = audio
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !ext.is_some_and(|e| AUDIO_EXT.contains(&e.as_str())) {
            continue;
        }
        let lrc = audio.with_extension("lrc");
        if lrc.is_file() {
            let name = audio
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            out.push((name, Source::Lines { audio, lrc }));
        }
    }
    Ok(out)
}

/// Lyrics text with the annotation's word times given to the tokens in order.
fn timed_lyrics(text: &Path, csv: &Path, lang: &Language) -> anyhow::Result<Lyrics> {
    let starts = csv_column(csv, 0)?;
    let ends = csv_column(csv, 1)?;
    let plain =
        std::fs::read_to_string(text).with_context(|| format!("reading {}", text.display()))?;
    let mut lyrics = Lyrics::from_plain_text(&plain);
    let mut k = 0;
    for line in &mut lyrics.lines {
        let tokens = tokenize(&line.text, lang);
        line.words = tokens
            .iter()
            .map(|t| {
                let mut w = Word::new(t.text.clone());
                w.start_s = starts.get(k).copied();
                w.end_s = ends.get(k).copied();
                k += 1;
                w
            })
            .collect();
    }
    if k != starts.len() {
        bail!(
            "{}: {k} tokens but {} annotated words",
            text.display(),
            starts.len()
        );
    }
    Ok(lyrics)
}

/// Runs `encore lyrics train`.
pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = TrainConfig::default();
    if let Some(v) = args.epochs {
        cfg.epochs = v;
    }
    if let Some(v) = args.mlp_rounds {
        cfg.mlp_rounds = v;
    }
    if let Some(v) = args.gmm_rounds {
        cfg.gmm_rounds = v;
    }
    if let Some(v) = args.frames_per_epoch {
        cfg.frames_per_epoch = v;
    }
    if let Some(v) = args.scale {
        cfg.scale = v;
    }
    if let Some(v) = args.seed {
        cfg.seed = v;
    }
    if let Some(w) = args.coarse_weight {
        anyhow::ensure!(
            w.is_finite() && (0.0..=10.0).contains(&w),
            "--coarse-weight: {w} is not between 0 and 10"
        );
        cfg.coarse_weight = Some(w);
    }
    if let Some(h) = &args.hidden {
        cfg.hidden = h
            .split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .context("--hidden: comma-separated widths")?;
    }
    let mut all = Vec::new();
    for dir in &args.dirs {
        all.extend(sources(dir)?);
    }
    if all.is_empty() {
        bail!("no training songs (audio with word annotations or line-timed LRC) found");
    }
    let weak_model: Option<Box<dyn AcousticModel>> =
        if all.iter().any(|(_, s)| matches!(s, Source::Lines { .. })) {
            Some(load_model(args.init_model.as_deref())?)
        } else {
            None
        };
    let dictionary = load_dictionary(args.dict.as_deref())?;
    let pronouncer = |lang: &Language| {
        Pronouncer::new(lang.clone())
            .with_espeak(args.espeak)
            .with_dictionary(dictionary.clone())
    };
    let bar = crate::output::progress_bar(all.len() as u64, "reading songs");
    let mut songs = Vec::new();
    let (mut exact, mut weak, mut audio_s) = (0usize, 0usize, 0.0f64);
    for (name, src) in all {
        let _span = tracing::info_span!("lyrics_train_song", song = %name).entered();
        let audio_path = match &src {
            Source::Words { audio, .. } | Source::Lines { audio, .. } => audio.clone(),
        };
        let audio = encore_audio::decode_file(&audio_path)
            .with_context(|| format!("{}", audio_path.display()))?;
        audio_s += audio.duration_s();
        let features = encore_lyrics::extract_features(&audio)
            .with_context(|| format!("{}", audio_path.display()))?;
        match src {
            Source::Words {
                text,
                words_csv,
                lang,
                ..
            } => {
                let plain = std::fs::read_to_string(&text).unwrap_or_default();
                let lang = lang.unwrap_or_else(|| Language::guess(&plain));
                match timed_lyrics(&text, &words_csv, &lang).and_then(|l| {
                    Ok(TrainSong::from_timed(
                        name.clone(),
                        features,
                        &l,
                        &pronouncer(&lang),
                    )?)
                }) {
                    Ok(s) => {
                        songs.push(s);
                        exact += 1;
                    }
                    Err(e) => tracing::warn!(song = %name, "skipped: {e:#}"),
                }
            }
            Source::Lines { lrc, .. } => {
                let mut lyrics = read_lyrics(&lrc)?;
                if !lyrics.is_line_timed() {
                    tracing::warn!(song = %name, "skipped: the LRC has untimed lines");
                    continue;
                }
                lyrics.close_line_ends(Some(audio.duration_s()));
                lyrics.lines.retain(|l: &Line| !l.text.trim().is_empty());
                let text: String = lyrics
                    .lines
                    .iter()
                    .map(|l| l.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                let lang = lyrics
                    .meta("lang")
                    .map(Language::from_code)
                    .unwrap_or_else(|| Language::guess(&text));
                let Some(model) = weak_model.as_ref() else {
                    continue;
                };
                let (song, share) = TrainSong::from_line_timed(
                    name.clone(),
                    features,
                    &lyrics,
                    &**model,
                    &pronouncer(&lang),
                    args.min_confidence,
                )
                .with_context(|| format!("weak labels for {name}"))?;
                tracing::info!(song = %name, kept = share, "weak labels");
                songs.push(song);
                weak += 1;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if songs.is_empty() {
        bail!("no usable training songs");
    }
    eprintln!(
        "{} songs ({exact} with word times, {weak} with line times), {:.1} min of audio",
        songs.len(),
        audio_s / 60.0
    );
    let bar = crate::output::progress_bar(1, "training");
    let mut last_stage = String::new();
    let mut progress = |stage: &str, step: usize, total: usize| {
        if stage != last_stage {
            bar.set_message(stage.to_string());
            bar.set_length(total.max(1) as u64);
            last_stage = stage.to_string();
        }
        bar.set_position(step as u64);
    };
    let (mut model, report) =
        encore_lyrics::train(&songs, &cfg, args.checkpoints.as_deref(), &mut progress)?;
    bar.finish_and_clear();
    let dirs: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
    model.header.name = args.name.clone();
    model.header.info = serde_json::json!({
        "data": { "folders": dirs, "songs": songs.len(), "songs_word_times": exact,
                  "songs_line_times": weak, "audio_min": audio_s / 60.0 },
        "units": "targets silence, instrumental, vowel, sonorant, fricative, stop (broad phone classes)",
        "config": cfg,
        "report": report,
    });
    std::fs::write(&args.output, model.to_bytes())
        .with_context(|| format!("writing {}", args.output.display()))?;
    if args.json {
        crate::output::print_json_line(&serde_json::json!({
            "model": args.output.display().to_string(),
            "bytes": model.to_bytes().len(),
            "params": model.mlp.n_params(),
            "report": report,
        }))?;
    } else {
        println!(
            "wrote {} ({} parameters): frame accuracy {:.1}%, last label change {:.1}%, losses {:?}",
            args.output.display(),
            model.mlp.n_params(),
            100.0 * report.frame_accuracy,
            100.0 * report.last_label_change,
            report.mlp_loss
        );
    }
    Ok(ExitCode::SUCCESS)
}
