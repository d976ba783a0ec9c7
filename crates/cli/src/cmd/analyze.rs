//! `encore analyze`: decode a file and report what the audio core measures.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `encore analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An audio file, or a folder to walk.
    pub path: PathBuf,
    /// Print JSON instead of a readable summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `encore analyze`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let buf = encore_audio::load_mono(&args.path, encore_audio::ANALYSIS_SAMPLE_RATE)
        .with_context(|| format!("{}", args.path.display()))?;
    let value = serde_json::json!({ "duration_s": buf.duration_s() });
    if args.json {
        crate::output::print_json_line(&value)?;
    } else {
        println!("{}: {:.2} s", args.path.display(), buf.duration_s());
    }
    Ok(ExitCode::SUCCESS)
}
