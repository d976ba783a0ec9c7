//! `encore haptics` (a haptic track for an audio file, in one of the export formats),
//! `encore haptics eval` (comparison with designer-made `.haptic` files) and
//! `encore visualize` (the web player's visualisation data).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use encore_haptics::{
    FMeasure, GenerateOptions, HapticTrack, Preset, VisualizeOptions, WAV_SAMPLE_RATE,
    envelope_correlation, generate, onset_beats, parse_lofelt, to_ahap, to_android, to_lofelt,
    to_wav, to_web, transient_f_measure, visualize,
};
use serde_json::json;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Apple Core Haptics pattern (.ahap).
    Ahap,
    /// Android `VibrationEffect` waveform and composition (JSON).
    Android,
    /// Lofelt `.haptic` v1.
    Lofelt,
    /// Web Vibration API patterns (JSON).
    Web,
    /// Low-frequency haptic audio (16-bit WAV).
    Wav,
}

/// Presets, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PresetArg {
    /// Transients only, on beats and strong onsets.
    Rhythm,
    /// Transients and a continuous envelope.
    Full,
    /// Softer and sparser.
    Gentle,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Rhythm => Preset::Rhythm,
            PresetArg::Full => Preset::Full,
            PresetArg::Gentle => Preset::Gentle,
        }
    }
}

/// Arguments of `encore haptics`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// The audio file.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, required = true)]
    pub format: Option<Format>,
    /// Output file (`-` for stdout, JSON formats only).
    #[arg(short, long, required = true)]
    pub output: Option<PathBuf>,
    /// What the track emphasises.
    #[arg(long, value_enum, default_value = "full")]
    pub preset: PresetArg,
    /// Overall intensity, 0 to 1.
    #[arg(long, default_value_t = 1.0, value_parser = parse_unit)]
    pub intensity: f32,
    /// Also place transients on the beat grid of encore-audio's beat tracker.
    #[arg(long)]
    pub beats: bool,
}

/// Subcommands of `encore haptics`.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Compare generated tracks with designer-made `.haptic` files (WAV beside each).
    Eval(EvalArgs),
}

/// Arguments of `encore haptics eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Folder of `NAME.wav` + `NAME.haptic` pairs (searched recursively).
    pub dir: PathBuf,
    /// Folder of music for the beat-alignment and speed figures.
    #[arg(long)]
    pub music: Option<PathBuf>,
    /// Transient matching window, seconds.
    #[arg(long, default_value_t = 0.05)]
    pub window: f64,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Override onset sensitivity as THRESHOLD,DELTA,MIN_GAP_S (for tuning on the tune half);
    /// selects the spectral-flux onset picker instead of the full preset's envelope-peak detector.
    #[arg(long, value_parser = parse_sensitivity)]
    pub sensitivity: Option<(f32, f32, f64)>,
}

fn parse_sensitivity(s: &str) -> Result<(f32, f32, f64), String> {
    let parts: Vec<&str> = s.split(',').collect();
    let [a, b, c] = parts.as_slice() else {
        return Err("expected THRESHOLD,DELTA,MIN_GAP_S".into());
    };
    let num = |x: &str| {
        x.trim()
            .parse::<f64>()
            .map_err(|_| format!("{x:?} is not a number"))
    };
    let (a, b, c) = (num(a)?, num(b)?, num(c)?);
    if !(0.0..=1.0).contains(&a) || !(0.0..=1.0).contains(&b) || !(0.0..=10.0).contains(&c) {
        return Err("threshold and delta must be in 0..=1, the gap in 0..=10 s".into());
    }
    Ok((a as f32, b as f32, c))
}

/// Arguments of `encore visualize`.
#[derive(Debug, clap::Args)]
pub struct VisualizeArgs {
    /// The audio file.
    pub file: PathBuf,
    /// Print the JSON (default: a short summary).
    #[arg(long)]
    pub json: bool,
    /// Write the JSON to a file instead.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

fn parse_unit(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1"))
    }
}

/// Writes `bytes` to `path` through a temporary file, so a failure never leaves a truncated
/// file where a good one was.
fn write_output(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<encore_audio::AudioBuffer> {
    encore_audio::load_mono(path, encore_audio::ANALYSIS_SAMPLE_RATE)
        .with_context(|| format!("cannot decode {}", path.display()))
}

/// Runs `encore haptics`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Eval(e)) = args.command {
        return eval(e);
    }
    let (Some(file), Some(format), Some(output)) = (args.file, args.format, args.output) else {
        bail!("usage: encore haptics FILE --format FORMAT -o OUT");
    };
    if format == Format::Wav && output == Path::new("-") {
        bail!("--format wav needs an output file, not stdout");
    }
    let audio = load(&file)?;
    let beats_s = if args.beats {
        Some(track_beats(&audio, &file)?)
    } else {
        None
    };
    let options = GenerateOptions {
        preset: args.preset.into(),
        intensity: args.intensity,
        beats_s,
        ..GenerateOptions::default()
    };
    let mut track = generate(&audio.samples, audio.sample_rate, &options)
        .with_context(|| format!("generating haptics for {}", file.display()))?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    track.metadata.source = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    track.metadata.project = stem;
    let bytes = match format {
        Format::Ahap => to_ahap(&track)?.into_bytes(),
        Format::Lofelt => to_lofelt(&track)?.into_bytes(),
        Format::Android => serde_json::to_vec(&to_android(&track)?)?,
        Format::Web => serde_json::to_vec(&to_web(&track)?)?,
        Format::Wav => to_wav(&track, WAV_SAMPLE_RATE)?,
    };
    write_output(&output, &bytes)?;
    if output != Path::new("-") {
        eprintln!(
            "{}: {} breakpoints, {} transients -> {} ({} bytes)",
            file.display(),
            track.amplitude.len(),
            track.transients().count(),
            output.display(),
            bytes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Beat times from encore-audio's tracker (the one `encore analyze` reports).
fn track_beats(audio: &encore_audio::AudioBuffer, file: &Path) -> anyhow::Result<Vec<f64>> {
    let rhythm = encore_audio::analyze_mono(
        &audio.samples,
        audio.sample_rate,
        &encore_audio::AnalyzeOptions::default(),
    )
    .with_context(|| format!("tracking beats in {}", file.display()))?;
    Ok(rhythm.beats_s)
}

/// Runs `encore visualize`.
pub fn run_visualize(args: VisualizeArgs) -> anyhow::Result<ExitCode> {
    let audio = load(&args.file)?;
    let options = VisualizeOptions {
        beats_s: Some(track_beats(&audio, &args.file)?),
        ..VisualizeOptions::default()
    };
    let v = visualize(&audio.samples, audio.sample_rate, &options)
        .with_context(|| format!("visualising {}", args.file.display()))?;
    let json = serde_json::to_vec(&v)?;
    if let Some(out) = &args.output {
        write_output(out, &json)?;
    }
    if args.json {
        write_output(Path::new("-"), &json)?;
        println!();
    } else if args.output.is_none() {
        println!(
            "{}: {:.2} s, {} bands x {} frames, {} beats, {} zoom levels ({} bytes of JSON; --json prints it)",
            args.file.display(),
            v.duration_s,
            v.bands.len(),
            v.bands.first().map_or(0, |b| b.values.len()),
            v.beats_s.len(),
            v.peaks.len(),
            json.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Figures for one half of the pairs.
#[derive(Default)]
struct Half {
    files: usize,
    pooled: FMeasure,
    f_sum: f64,
    corr_sum: f64,
    corr_n: usize,
}

impl Half {
    fn add(&mut self, m: FMeasure, corr: Option<f64>) {
        self.files += 1;
        self.pooled.add(m);
        self.f_sum += m.f();
        if let Some(c) = corr {
            self.corr_sum += c;
            self.corr_n += 1;
        }
    }
    fn json(&self, name: &str) -> serde_json::Value {
        json!({
            "set": name,
            "files": self.files,
            "pooled_f": self.pooled.f(),
            "pooled_precision": self.pooled.precision(),
            "pooled_recall": self.pooled.recall(),
            "mean_file_f": self.f_sum / self.files.max(1) as f64,
            "mean_correlation": self.corr_sum / self.corr_n.max(1) as f64,
            "reference_transients": self.pooled.reference,
            "generated_transients": self.pooled.estimated,
        })
    }
}

fn find_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && keep(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// CPU seconds used by this process so far (Linux `/proc/self/stat`, clock ticks of 10 ms), so
/// speed figures stay meaningful on a loaded machine. `None` elsewhere.
fn process_cpu_s() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let _span = tracing::info_span!("haptics_eval", dir = %args.dir.display()).entered();
    if !args.dir.is_dir() {
        bail!("{} is not a folder", args.dir.display());
    }
    let pairs = encore_haptics::designer_pairs(&args.dir);
    if pairs.is_empty() {
        bail!(
            "no NAME.haptic + NAME.wav pairs under {}",
            args.dir.display()
        );
    }
    let options = GenerateOptions {
        onset_sensitivity: args.sensitivity,
        ..GenerateOptions::default()
    };
    let (mut halves, mut all) = ([Half::default(), Half::default()], Half::default());
    let (mut audio_s, mut gen_s, mut total_s, mut gen_cpu_s) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut rows = Vec::new();
    let bar = crate::output::progress_bar(pairs.len() as u64, "pairs");
    for (i, (haptic, wav)) in pairs.iter().enumerate() {
        let t0 = Instant::now();
        let designer: HapticTrack = parse_lofelt(
            &fs::read(haptic).with_context(|| format!("reading {}", haptic.display()))?,
        )
        .with_context(|| format!("{}", haptic.display()))?;
        let audio = load(wav)?;
        let t1 = Instant::now();
        let c1 = process_cpu_s();
        let ours = generate(&audio.samples, audio.sample_rate, &options)?;
        gen_s += t1.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (c1, process_cpu_s()) {
            gen_cpu_s += b - a;
        }
        total_s += t0.elapsed().as_secs_f64();
        audio_s += audio.duration_s();
        let reference: Vec<f64> = designer.transients().map(|t| t.time).collect();
        let estimated: Vec<f64> = ours.transients().map(|t| t.time).collect();
        let m = transient_f_measure(&reference, &estimated, args.window);
        let corr = envelope_correlation(&designer, &ours, 100.0);
        halves[i % 2].add(m, corr);
        all.add(m, corr);
        let name = haptic
            .strip_prefix(&args.dir)
            .unwrap_or(haptic)
            .display()
            .to_string();
        rows.push(json!({
            "file": name, "half": if i % 2 == 0 { "tune" } else { "held_out" },
            "f": m.f(), "reference": m.reference, "generated": m.estimated, "hits": m.hits,
            "correlation": corr,
        }));
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut music_rows = Vec::new();
    let (mut on_beat, mut transients, mut music_s, mut music_gen_s, mut music_cpu_s) =
        (0usize, 0usize, 0.0f64, 0.0f64, 0.0f64);
    if let Some(dir) = &args.music {
        let exts = ["ogg", "mp3", "flac", "wav", "m4a", "opus"];
        for file in find_files(dir, |p| {
            p.extension()
                .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
        }) {
            let audio = load(&file)?;
            let t = Instant::now();
            let c = process_cpu_s();
            let track = generate(&audio.samples, audio.sample_rate, &options)?;
            music_gen_s += t.elapsed().as_secs_f64();
            if let (Some(a), Some(b)) = (c, process_cpu_s()) {
                music_cpu_s += b - a;
            }
            music_s += audio.duration_s();
            let beats = onset_beats(&audio.samples, audio.sample_rate)?;
            let times: Vec<f64> = track.transients().map(|t| t.time).collect();
            let hits = times
                .iter()
                .filter(|&&t| {
                    let i = beats.partition_point(|&b| b < t);
                    [i.checked_sub(1), Some(i)]
                        .into_iter()
                        .flatten()
                        .filter_map(|j| beats.get(j))
                        .any(|b| (b - t).abs() <= 0.07)
                })
                .count();
            on_beat += hits;
            transients += times.len();
            music_rows.push(json!({
                "file": file.file_name().map(|s| s.to_string_lossy().into_owned()),
                "duration_s": audio.duration_s(),
                "transients": times.len(), "beats": beats.len(),
                "on_beat_share": if times.is_empty() { 0.0 } else { hits as f64 / times.len() as f64 },
                "breakpoints": track.amplitude.len(),
            }));
        }
    }
    let summary = json!({
        "window_s": args.window,
        "sets": [halves[0].json("tune (even)"), halves[1].json("held_out (odd)"), all.json("all")],
        "speed_x_realtime": { "generation": audio_s / gen_s.max(1e-9), "with_decoding": audio_s / total_s.max(1e-9),
                              "music_generation": if music_gen_s > 0.0 { music_s / music_gen_s } else { 0.0 },
                              "generation_cpu": if gen_cpu_s > 0.0 { audio_s / gen_cpu_s } else { 0.0 },
                              "music_generation_cpu": if music_cpu_s > 0.0 { music_s / music_cpu_s } else { 0.0 } },
        "music": { "files": music_rows.len(), "transients": transients,
                   "on_beat_share": if transients == 0 { 0.0 } else { on_beat as f64 / transients as f64 },
                   "per_file": music_rows },
        "pairs": rows,
    });
    if args.json {
        crate::output::print_json_line(&summary)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "| set | files | transient F (pooled) | P | R | mean per-file F | mean envelope correlation |"
    );
    println!("|---|---|---|---|---|---|---|");
    for s in summary["sets"].as_array().into_iter().flatten() {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s["set"].as_str().unwrap_or(""),
            s["files"],
            s["pooled_f"].as_f64().unwrap_or(0.0),
            s["pooled_precision"].as_f64().unwrap_or(0.0),
            s["pooled_recall"].as_f64().unwrap_or(0.0),
            s["mean_file_f"].as_f64().unwrap_or(0.0),
            s["mean_correlation"].as_f64().unwrap_or(0.0),
        );
    }
    let sp = &summary["speed_x_realtime"];
    println!(
        "\nspeed on the pairs: generation {:.0}x real time (wall), {:.0}x (CPU time), with decoding {:.0}x (wall) ({:.1} s of audio)",
        sp["generation"].as_f64().unwrap_or(0.0),
        sp["generation_cpu"].as_f64().unwrap_or(0.0),
        sp["with_decoding"].as_f64().unwrap_or(0.0),
        audio_s
    );
    if args.music.is_some() {
        println!(
            "music: {} files ({:.0} s), {} transients, {:.1}% on onset-derived beats (+-70 ms), generation {:.0}x real time (wall), {:.0}x (CPU time)",
            music_rows.len(),
            music_s,
            transients,
            100.0 * summary["music"]["on_beat_share"].as_f64().unwrap_or(0.0),
            sp["music_generation"].as_f64().unwrap_or(0.0),
            sp["music_generation_cpu"].as_f64().unwrap_or(0.0)
        );
        for r in summary["music"]["per_file"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!(
                "  {}: {} transients, {} beats, {:.1}% on beats",
                r["file"].as_str().unwrap_or(""),
                r["transients"],
                r["beats"],
                100.0 * r["on_beat_share"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
