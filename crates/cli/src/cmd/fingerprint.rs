//! `encore fingerprint`: index reference audio, identify queries, compute whole-file codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use encore_fingerprint::{
    AudioCode, Fingerprint, MatchParams, NewWork, PgStore, PostingStore, RedbStore, SAMPLE_RATE,
};
use serde_json::json;

/// Arguments of `encore fingerprint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// Where the index lives.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Index folder (created if missing) for the embedded store.
    #[arg(long)]
    pub db: PathBuf,
    /// Use PostgreSQL at this URL instead of the embedded store (`--db` is then ignored).
    #[arg(long)]
    pub pg_url: Option<String>,
    /// PostgreSQL schema holding the index.
    #[arg(long, default_value = "encore_fingerprint")]
    pub pg_schema: String,
}

impl StoreArgs {
    fn open(&self) -> anyhow::Result<Box<dyn PostingStore>> {
        Ok(match &self.pg_url {
            Some(url) => Box::new(
                PgStore::open(url, &self.pg_schema)
                    .with_context(|| format!("opening PostgreSQL schema {}", self.pg_schema))?,
            ),
            None => Box::new(
                RedbStore::open(&self.db)
                    .with_context(|| format!("opening index {}", self.db.display()))?,
            ),
        })
    }
}

/// The `encore fingerprint` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Add audio files (or folders of them) to an index.
    Index {
        #[command(flatten)]
        store: StoreArgs,
        /// Audio files or folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Commit after this many files (bigger batches index faster).
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Print one JSON line per file.
        #[arg(long)]
        json: bool,
    },
    /// Identify audio files against an index: one JSON line per file with `--json`.
    Query {
        #[command(flatten)]
        store: StoreArgs,
        /// Audio files or folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Most matches per query.
        #[arg(long, default_value_t = 5)]
        max_results: usize,
        /// Consistent pair votes needed for a match (default: the calibrated value).
        #[arg(long)]
        pair_threshold: Option<u32>,
        /// Consistent triplet votes needed for a match (default: the calibrated value).
        #[arg(long)]
        triplet_threshold: Option<u32>,
        /// Most landmarks from one second of the query that count towards a match's support
        /// (default: the calibrated value; 0 turns the spread test off).
        #[arg(long)]
        max_votes_per_second: Option<u32>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove works by id (space is reclaimed by `compact`).
    Remove {
        #[command(flatten)]
        store: StoreArgs,
        /// Work ids as printed by `index --json` or `list`.
        #[arg(required = true)]
        ids: Vec<u32>,
    },
    /// Delete removed works' postings and shrink the index.
    Compact {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the works of an index as JSON lines.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the 64-bit whole-file audio code of each file (near-duplicates differ in few bits).
    Code {
        /// Audio files or folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `encore fingerprint`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Index {
            store,
            files,
            batch,
            json,
        } => index(&store, &expand(&files)?, batch.max(1), json),
        Sub::Query {
            store,
            files,
            max_results,
            pair_threshold,
            triplet_threshold,
            max_votes_per_second,
            json,
        } => {
            let defaults = MatchParams::default();
            let params = MatchParams {
                max_results,
                pair_threshold: pair_threshold.unwrap_or(defaults.pair_threshold),
                triplet_threshold: triplet_threshold.unwrap_or(defaults.triplet_threshold),
                max_votes_per_second: match max_votes_per_second {
                    Some(0) => u32::MAX,
                    Some(n) => n,
                    None => defaults.max_votes_per_second,
                },
                ..defaults
            };
            query(&store, &expand(&files)?, &params, json)
        }
        Sub::Remove { store, ids } => {
            let store = store.open()?;
            let mut code = ExitCode::SUCCESS;
            for id in ids {
                if !store.remove_work(id)? {
                    eprintln!("error: no work with id {id}");
                    code = ExitCode::FAILURE;
                }
            }
            Ok(code)
        }
        Sub::Compact { store } => {
            let deleted = store.open()?.compact()?;
            crate::output::print_json_line(&json!({ "deleted_postings": deleted }))?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::List { store } => {
            for w in store.open()?.works()? {
                crate::output::print_json_line(&json!({
                    "id": w.id, "path": w.name, "duration_s": w.duration_s, "postings": w.postings
                }))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Code { files, json } => code(&expand(&files)?, json),
    }
}

/// Files as given, folders walked (sorted, regular files only).
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| {
                    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                    matches!(
                        ext.to_ascii_lowercase().as_str(),
                        "wav" | "flac" | "mp3" | "ogg" | "oga" | "opus" | "m4a" | "aac" | "mp4"
                    )
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn load(path: &Path) -> anyhow::Result<Vec<f32>> {
    Ok(encore_audio::load_mono(path, SAMPLE_RATE)
        .with_context(|| format!("{}", path.display()))?
        .samples)
}

fn index(
    args: &StoreArgs,
    files: &[PathBuf],
    batch: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let _span = tracing::info_span!("fingerprint_index", files = files.len()).entered();
    let store = args.open()?;
    let bar = crate::output::progress_bar(files.len() as u64, "indexing");
    let mut pending: Vec<NewWork> = Vec::new();
    let mut pending_postings = 0usize;
    let mut failed = 0usize;
    let flush = |pending: &mut Vec<NewWork>| -> anyhow::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let ids = store.add_works(pending).context("writing to the index")?;
        if json {
            for (w, id) in pending.iter().zip(ids) {
                crate::output::print_json_line(&json!({
                    "path": w.name, "work_id": id, "duration_s": w.duration_s,
                    "postings": w.postings.len()
                }))?;
            }
        }
        pending.clear();
        Ok(())
    };
    for path in files {
        bar.set_message(path.display().to_string());
        let result = load(path).and_then(|samples| {
            Fingerprint::from_samples(&samples).with_context(|| format!("{}", path.display()))
        });
        match result {
            Ok(fp) if fp.is_empty() => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {}: no landmarks (silent?)", path.display()));
            }
            Ok(fp) => {
                let postings = fp.postings();
                pending_postings += postings.len();
                pending.push(NewWork {
                    name: path.display().to_string(),
                    duration_s: fp.duration_s,
                    postings,
                });
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {e:#}"));
            }
        }
        if pending.len() >= batch || pending_postings > 4_000_000 {
            flush(&mut pending)?;
            pending_postings = 0;
        }
        bar.inc(1);
    }
    flush(&mut pending)?;
    bar.finish_and_clear();
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn query(
    args: &StoreArgs,
    files: &[PathBuf],
    params: &MatchParams,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let store = args.open()?;
    let mut failed = false;
    for path in files {
        let start = Instant::now();
        let outcome = load(path).and_then(|samples| {
            let fp = Fingerprint::for_query(&samples)?;
            Ok(encore_fingerprint::identify(store.as_ref(), &fp, params)?)
        });
        let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        let (status, matches, error) = match outcome {
            Ok(m) => ("ok", m, None),
            Err(e) => match e.downcast_ref::<encore_fingerprint::Error>() {
                Some(encore_fingerprint::Error::NotEnoughAudio { .. }) => {
                    ("not_enough_audio", Vec::new(), Some(e.to_string()))
                }
                _ => {
                    failed = true;
                    ("error", Vec::new(), Some(format!("{e:#}")))
                }
            },
        };
        if json_out {
            let matches: Vec<_> = matches
                .iter()
                .map(|m| {
                    json!({
                        "path": m.name, "score": m.score, "offset_s": m.offset_s,
                        "work_id": m.work, "votes": m.votes, "support": m.support, "speed": m.speed,
                        "query_start_s": m.query_start_s, "query_end_s": m.query_end_s,
                        "method": m.method,
                    })
                })
                .collect();
            let mut line = json!({
                "query": path.display().to_string(), "matches": matches,
                "elapsed_ms": elapsed_ms, "status": status,
            });
            if let Some(e) = &error {
                line["error"] = json!(e);
            }
            crate::output::print_json_line(&line)?;
        } else {
            match (&error, matches.first()) {
                (Some(e), _) => println!("{}: {status}: {e}", path.display()),
                (None, None) => println!("{}: no match", path.display()),
                (None, Some(m)) => println!(
                    "{}: {} at {:.2} s (score {:.2}, speed {:.3})",
                    path.display(),
                    m.name,
                    m.offset_s,
                    m.score,
                    m.speed
                ),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn code(files: &[PathBuf], json_out: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in files {
        let result = load(path).and_then(|s| {
            AudioCode::from_samples(&s).with_context(|| format!("{}", path.display()))
        });
        match result {
            Ok(c) if json_out => crate::output::print_json_line(
                &json!({ "path": path.display().to_string(), "code": c.to_string() }),
            )?,
            Ok(c) => println!("{c}\t{}", path.display()),
            Err(e) => {
                failed = true;
                eprintln!("error: {e:#}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
