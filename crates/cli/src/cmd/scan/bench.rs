//! `encore scan-bench corpus` writes the generated, labelled corpus; `encore scan-bench eval`
//! scores the scanner (or another tool's predictions) against its labels and measures MB/s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use encore_compliance::corpus::{self, CorpusConfig, Label};
use encore_compliance::{Kind, eval};

use super::source::{self, FileKind};

/// Arguments of `encore scan-bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Generate a labelled corpus: DIR/corpus/ (files and users.db) and DIR/labels.jsonl.
    Corpus {
        /// Output folder (created; an existing corpus there is replaced).
        dir: PathBuf,
        /// Seed: the same seed gives the same corpus. Develop on one, report on another.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Approximate size of the text files in MB.
        #[arg(long, default_value_t = 8.0)]
        size_mb: f64,
        /// Rows in the users table.
        #[arg(long, default_value_t = 2000)]
        rows: usize,
    },
    /// Per-kind precision, recall, F1 and single-core MB/s on a generated corpus.
    Eval {
        /// The folder `scan-bench corpus` wrote.
        dir: PathBuf,
        /// Score these predictions (JSON lines like the labels) instead of running the scanner.
        #[arg(long)]
        predictions: Option<PathBuf>,
        /// Name shown in the report.
        #[arg(long, default_value = "encore")]
        name: String,
        /// Scan the corpus this many times and keep the fastest (timing only).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Report threshold.
        #[arg(long, default_value_t = 0.5)]
        threshold: f32,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `encore scan-bench`.
pub fn run_bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Corpus {
            dir,
            seed,
            size_mb,
            rows,
        } => write_corpus(&dir, seed, size_mb, rows),
        BenchCommand::Eval {
            dir,
            predictions,
            name,
            repeat,
            threshold,
            json,
        } => evaluate(
            &dir,
            predictions.as_deref(),
            &name,
            repeat.max(1),
            threshold,
            json,
        ),
    }
}

fn write_corpus(dir: &Path, seed: u64, size_mb: f64, rows: usize) -> anyhow::Result<ExitCode> {
    if !(size_mb > 0.0 && size_mb <= 4096.0) {
        bail!("--size-mb must be in (0, 4096]");
    }
    let config = CorpusConfig {
        seed,
        target_bytes: (size_mb * 1e6) as usize,
        table_rows: rows,
    };
    let corpus = {
        let _span = tracing::info_span!("generate_corpus", seed).entered();
        corpus::generate(&config)
    };
    let root = dir.join("corpus");
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot replace {}", root.display()))?;
    }
    let bar = crate::output::progress_bar(corpus.documents.len() as u64 + 1, "writing corpus");
    for doc in &corpus.documents {
        let path = root.join(&doc.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &doc.body)
            .with_context(|| format!("cannot write {}", path.display()))?;
        bar.inc(1);
    }
    let db_path = root.join(&corpus.table.path);
    let mut conn = rusqlite::Connection::open(&db_path)
        .with_context(|| format!("cannot create {}", db_path.display()))?;
    let cols: Vec<String> = corpus
        .table
        .columns
        .iter()
        .map(|c| format!("\"{c}\" TEXT"))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE \"{}\" (id INTEGER PRIMARY KEY, {});",
        corpus.table.name,
        cols.join(", ")
    ))?;
    let tx = conn.transaction()?;
    {
        let placeholders: Vec<String> = (0..=corpus.table.columns.len())
            .map(|k| format!("?{}", k + 1))
            .collect();
        let mut stmt = tx.prepare(&format!(
            "INSERT INTO \"{}\" VALUES ({})",
            corpus.table.name,
            placeholders.join(", ")
        ))?;
        for (rowid, cells) in &corpus.table.rows {
            let mut values: Vec<rusqlite::types::Value> =
                vec![rusqlite::types::Value::Integer(*rowid)];
            values.extend(
                cells
                    .iter()
                    .map(|c| rusqlite::types::Value::Text(c.clone())),
            );
            stmt.execute(rusqlite::params_from_iter(values))?;
        }
    }
    tx.commit()?;
    drop(conn);
    bar.finish_and_clear();
    let mut labels = String::new();
    for l in &corpus.labels {
        labels.push_str(&serde_json::to_string(l)?);
        labels.push('\n');
    }
    let labels_path = dir.join("labels.jsonl");
    std::fs::write(&labels_path, labels)
        .with_context(|| format!("cannot write {}", labels_path.display()))?;
    let bytes: usize = corpus.documents.iter().map(|d| d.body.len()).sum();
    eprintln!(
        "wrote {} files ({:.1} MB) and {} ({} rows) to {}, {} labels to {}",
        corpus.documents.len(),
        bytes as f64 / 1e6,
        corpus.table.path,
        corpus.table.rows.len(),
        root.display(),
        corpus.labels.len(),
        labels_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A buffer of the corpus: a file, or a database cell.
struct Piece {
    path: String,
    locator: Option<String>,
    bytes: Vec<u8>,
}

fn load_pieces(root: &Path) -> anyhow::Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    for input in source::collect(&[root.to_path_buf()])? {
        let rel = input
            .path
            .strip_prefix(root)
            .unwrap_or(&input.path)
            .to_string_lossy()
            .replace('\\', "/");
        match source::classify(&input.path)? {
            FileKind::Binary => {}
            FileKind::Text => {
                let bytes = std::fs::read(&input.path)
                    .with_context(|| format!("cannot read {}", input.path.display()))?;
                pieces.push(Piece {
                    path: rel,
                    locator: None,
                    bytes,
                });
            }
            FileKind::Sqlite => source::sqlite_cells(&input.path, |cell| {
                pieces.push(Piece {
                    path: rel.clone(),
                    locator: Some(cell.locator),
                    bytes: cell.text,
                });
                Ok(())
            })?,
        }
    }
    Ok(pieces)
}

fn evaluate(
    dir: &Path,
    predictions: Option<&Path>,
    name: &str,
    repeat: u32,
    threshold: f32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let labels_path = dir.join("labels.jsonl");
    let truth_text = std::fs::read_to_string(&labels_path)
        .with_context(|| format!("cannot read {}", labels_path.display()))?;
    let truth =
        eval::parse_jsonl(&truth_text).with_context(|| format!("{}", labels_path.display()))?;
    let (predicted, bytes, elapsed) = match predictions {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let predicted = eval::parse_jsonl(&text).with_context(|| format!("{}", p.display()))?;
            let (bytes, elapsed) = external_summary(&text);
            (predicted, bytes, elapsed)
        }
        None => run_scanner(&dir.join("corpus"), repeat, threshold)?,
    };
    let scores = eval::score(&truth, &predicted);
    let mb_per_s = match (bytes, elapsed) {
        (Some(b), Some(t)) if t.as_secs_f64() > 0.0 => Some(b as f64 / 1e6 / t.as_secs_f64()),
        _ => None,
    };
    if json {
        let value = serde_json::json!({
            "name": name,
            "kinds": scores.iter().map(|(k, s)| (k.as_str().to_string(), serde_json::to_value(s).unwrap_or_default())).collect::<serde_json::Map<_, _>>(),
            "bytes": bytes,
            "seconds": elapsed.map(|d| d.as_secs_f64()),
            "mb_per_s": mb_per_s,
        });
        crate::output::print_json_line(&value)?;
    } else {
        println!(
            "{name}: {} labels, {} predictions",
            truth.len(),
            predicted.len()
        );
        println!(
            "{:<15} {:>6} {:>6} {:>6} {:>9} {:>7} {:>7}",
            "kind", "tp", "fp", "fn", "precision", "recall", "f1"
        );
        for k in Kind::ALL {
            let s = &scores[&k];
            println!(
                "{:<15} {:>6} {:>6} {:>6} {:>9.4} {:>7.4} {:>7.4}",
                k.as_str(),
                s.true_positives,
                s.false_positives,
                s.false_negatives,
                s.precision,
                s.recall,
                s.f1
            );
        }
        if let (Some(b), Some(t), Some(r)) = (bytes, elapsed, mb_per_s) {
            println!(
                "throughput: {:.1} MB in {:.3} s on one core = {r:.3} MB/s",
                b as f64 / 1e6,
                t.as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `{"summary": {"bytes": N, "elapsed_ms": M}}` in another tool's predictions, if present.
fn external_summary(text: &str) -> (Option<u64>, Option<Duration>) {
    for line in text.lines().filter(|l| l.starts_with("{\"summary\"")) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let s = &v["summary"];
            let bytes = s["bytes"].as_u64();
            let ms = s["elapsed_ms"]
                .as_f64()
                .map(|m| Duration::from_secs_f64(m / 1000.0));
            return (bytes, ms);
        }
    }
    (None, None)
}

/// Scans every piece `repeat` times on this thread; returns the findings of the first pass and
/// the fastest pass's time.
fn run_scanner(
    root: &Path,
    repeat: u32,
    threshold: f32,
) -> anyhow::Result<(Vec<Label>, Option<u64>, Option<Duration>)> {
    let scanner = super::scanner(threshold)?;
    let pieces = load_pieces(root)?;
    let bytes: u64 = pieces.iter().map(|p| p.bytes.len() as u64).sum();
    let mut predicted = Vec::new();
    let mut best = Duration::MAX;
    for pass in 0..repeat {
        let _span = tracing::info_span!("eval_pass", pass).entered();
        let started = Instant::now();
        let mut found = 0usize;
        for p in &pieces {
            let findings = scanner.scan(&p.bytes)?;
            found += findings.len();
            if pass == 0 {
                predicted.extend(findings.iter().map(|f| Label {
                    path: p.path.clone(),
                    locator: p.locator.clone(),
                    offset: f.offset,
                    length: f.length,
                    kind: f.kind,
                }));
            }
        }
        best = best.min(started.elapsed());
        std::hint::black_box(found);
    }
    Ok((predicted, Some(bytes), Some(best)))
}
