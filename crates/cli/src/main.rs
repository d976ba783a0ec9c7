//! `encore`: the command-line entry point.
//!
//! Parsing happens in one place (the [`Command`] enum, built by clap from the `Args` structs in
//! each `cmd` module); each module then builds and runs what the user asked for. Every command
//! returns an [`ExitCode`]; errors print their whole context chain to stderr, and a closed stdout
//! (`encore analyze dir | head`) is treated as success, not as an error.

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Encore: an open, self-hostable music platform. Every engine also works on plain files.
#[derive(Debug, Parser)]
#[command(name = "encore", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,

    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes (also built alone by the fast `analyze` parser in [`parse`]).
#[derive(Debug, clap::Args)]
struct Global {
    /// Log more: -v for debug, -vv for trace (or set RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// One variant per subcommand; each lives in its own module under `cmd/`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode audio and report tempo, beats, downbeats, onsets and loudness.
    Analyze(cmd::analyze::Args),
    /// The rights registry: create a log, register works, write certificates.
    Registry(cmd::registry::RegistryArgs),
    /// Check a registry certificate (C2SP tlog-proof) offline.
    Verify(cmd::registry::VerifyArgs),
    /// A C2SP tlog-witness: create a key, serve add-checkpoint.
    Witness(cmd::registry::WitnessArgs),
    /// Find personal information (IDs, phones, cards, e-mails, ...) in files, folders and SQLite.
    Scan(cmd::scan::Args),
    /// Generate the labelled personal-information corpus and evaluate scanners on it.
    ScanBench(cmd::scan::BenchArgs),
    /// Content identification: index reference audio, identify queries, audio codes.
    Fingerprint(cmd::fingerprint::Args),
    /// Generate a haptic track (AHAP, Android, .haptic, web, WAV), or evaluate the generator.
    Haptics(cmd::haptics::Args),
    /// Compute visualisation data (bands, beats, loudness, waveform peaks) for the web player.
    Visualize(cmd::haptics::VisualizeArgs),
    /// Lyric timestamps: align lyrics to audio, evaluate, generate a synthetic benchmark.
    Lyrics(cmd::lyrics::Args),
    /// Start the platform: HTTP API and in-process workers (SQLite + files under --data).
    Serve(cmd::serve::ServeArgs),
    /// Run pipeline workers only, against the same database and blob store as the servers.
    Worker(cmd::serve::WorkerArgs),
    /// Platform administration (`encore admin create --email ...` makes an admin).
    Admin(cmd::serve::AdminArgs),
    /// Bulk-import a music folder, reading tags with lofty.
    Import(cmd::serve::ImportArgs),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Registry(args) => cmd::registry::run_registry(args),
        Command::Verify(args) => cmd::registry::run_verify(args),
        Command::Witness(args) => cmd::registry::run_witness(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::ScanBench(args) => cmd::scan::run_bench(args),
        Command::Fingerprint(args) => cmd::fingerprint::run(args),
        Command::Haptics(args) => cmd::haptics::run(args),
        Command::Visualize(args) => cmd::haptics::run_visualize(args),
        Command::Lyrics(args) => cmd::lyrics::run(args),
        Command::Serve(args) => cmd::serve::serve(args),
        Command::Worker(args) => cmd::serve::worker(args),
        Command::Admin(args) => cmd::serve::admin(args),
        Command::Import(args) => cmd::serve::import(args),
    }
}

/// Parses the command line. `encore analyze` runs once per file in scripts, so it is parsed
/// with a command that holds only that subcommand (clap otherwise builds every subcommand's
/// parser first, about 0.2 ms and 50 page faults per process); anything that parser does not
/// accept as it is (help, version, an error, another command) goes through the full parser,
/// which prints what it always printed.
fn parse() -> Cli {
    use clap::{Args, FromArgMatches};
    if std::env::args_os().nth(1).is_some_and(|a| a == "analyze") {
        let analyze = cmd::analyze::Args::augment_args(clap::Command::new("analyze"));
        let fast = Global::augment_args(clap::Command::new("encore"))
            .subcommand(analyze)
            .try_get_matches()
            .ok()
            .and_then(|m| Cli::from_arg_matches(&m).ok());
        if let Some(cli) = fast {
            return cli;
        }
    }
    Cli::parse()
}

fn main() -> ExitCode {
    let cli = parse();
    output::init_tracing(cli.global.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
