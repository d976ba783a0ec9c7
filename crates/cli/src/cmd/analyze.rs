//! `encore analyze`: tempo, beats, downbeats, onsets and loudness of a file or a folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use encore_audio::Analysis;

/// File extensions `encore analyze DIR` picks up (case-insensitive).
const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac", "aif", "aiff", "caf",
    "mka", "webm",
];

/// Arguments of `encore analyze`.
///
/// With a file: prints a readable summary, or with `--json` one JSON object
/// `{"duration_s", "sample_rate", "channels", "tempo_bpm", "beats_s", "downbeats_s",
/// "onsets_s", "loudness": {"integrated_lufs", "range_lu", "true_peak_dbtp", ...}, ...}`.
/// Figures that are undefined (silence: no tempo, -inf LUFS) are `null`.
///
/// With a folder: walks it (audio extensions only) and prints one JSON line per file with its
/// "path"; a file that fails gives `{"path", "error"}` and the command exits with status 1 at
/// the end.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An audio file, or a folder to walk.
    pub path: PathBuf,
    /// Print JSON instead of a readable summary (folders always print JSON lines).
    #[arg(long)]
    pub json: bool,
}

/// Runs `encore analyze`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.path.is_dir() {
        return run_dir(&args.path);
    }
    let analysis = encore_audio::analyze_file(&args.path)
        .with_context(|| format!("cannot analyse {}", args.path.display()))?;
    if args.json {
        crate::output::print_json_line(&analysis)?;
    } else {
        print_summary(&args.path, &analysis);
    }
    Ok(ExitCode::SUCCESS)
}

fn run_dir(dir: &Path) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        if entry.file_type().is_file() && has_audio_extension(entry.path()) {
            files.push(entry.into_path());
        }
    }
    let bar = crate::output::progress_bar(files.len() as u64, "analysing");
    let mut failures = 0usize;
    for path in &files {
        let _span = tracing::info_span!("file", path = %path.display()).entered();
        let line = match encore_audio::analyze_file(path) {
            Ok(analysis) => {
                let mut value = serde_json::to_value(&analysis)?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("path".into(), path.display().to_string().into());
                }
                value
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(path = %path.display(), error = %err, "analysis failed");
                serde_json::json!({
                    "path": path.display().to_string(),
                    "error": err.to_string(),
                    "error_kind": err.kind().to_string(),
                })
            }
        };
        bar.suspend(|| crate::output::print_json_line(&line))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failures > 0 {
        eprintln!(
            "error: {failures} of {} files in {} could not be analysed",
            files.len(),
            dir.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

fn print_summary(path: &Path, a: &Analysis) {
    let opt = |v: Option<f64>, unit: &str| match v {
        Some(v) => format!("{v:.1} {unit}"),
        None => "n/a".to_string(),
    };
    println!("{}", path.display());
    println!(
        "  format      {} ({}), {} Hz, {} ch, {:.2} s",
        a.container, a.codec, a.sample_rate, a.channels, a.duration_s
    );
    println!("  tempo       {}", opt(a.tempo_bpm, "BPM"));
    println!(
        "  beats       {} (downbeats: {}{})",
        a.beats_s.len(),
        a.downbeats_s.len(),
        a.meter
            .map(|m| format!(", {m} beats per bar"))
            .unwrap_or_default()
    );
    println!("  onsets      {}", a.onsets_s.len());
    println!(
        "  loudness    {} integrated, range {}, true peak {}",
        opt(a.loudness.integrated_lufs, "LUFS"),
        opt(a.loudness.range_lu, "LU"),
        opt(a.loudness.true_peak_dbtp, "dBTP")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_extensions_are_case_insensitive() {
        assert!(has_audio_extension(Path::new("a/b.FLAC")));
        assert!(has_audio_extension(Path::new("x.ogg")));
        assert!(!has_audio_extension(Path::new("x.txt")));
        assert!(!has_audio_extension(Path::new("noext")));
    }
}
