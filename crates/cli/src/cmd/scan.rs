//! `encore scan`: find personal information in files, folders and SQLite databases, optionally
//! writing masked copies; `encore scan-bench`: generate the labelled corpus and evaluate.

mod bench;
mod source;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use encore_compliance::{Finding, ScanConfig, Scanner, mask, mask_value};
use serde::Serialize;

pub use bench::{BenchArgs, run_bench};
use source::{FileKind, Input};

/// Text files are scanned in pieces of about this size, cut after a newline.
const CHUNK: usize = 8 << 20;

/// Arguments of `encore scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or folders (walked recursively): text, CSV, JSON, logs, SQLite databases.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// One JSON line per finding, then a summary line.
    #[arg(long)]
    pub json: bool,
    /// Report findings scoring at least this (0..=1).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Write masked copies of every scanned file under this folder (inputs are never changed).
    #[arg(long, value_name = "DIR")]
    pub mask: Option<PathBuf>,
}

/// One finding as printed by `--json` (fields are a stable contract; `locator` only for cells).
#[derive(Debug, Serialize)]
struct FindingLine<'a> {
    path: &'a str,
    offset: usize,
    length: usize,
    kind: &'static str,
    score: f32,
    masked: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    locator: Option<&'a str>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    bytes: u64,
    findings: u64,
    elapsed_ms: u64,
    files: u64,
    skipped: u64,
}

/// The current calendar year from the system clock (the library reads no clock).
pub(crate) fn current_year() -> u16 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (1970 + secs / 31_556_952).min(u64::from(u16::MAX)) as u16
}

pub(crate) fn scanner(threshold: f32) -> anyhow::Result<Scanner> {
    let config = ScanConfig {
        threshold,
        max_birth_year: current_year(),
        ..ScanConfig::default()
    };
    Scanner::new(config).context("bad --threshold")
}

struct Reporter {
    json: bool,
    /// Findings are buffered (a scan can print hundreds of thousands of lines) and flushed at
    /// the end of each file.
    out: std::io::BufWriter<std::io::Stdout>,
    summary: Summary,
    by_kind: BTreeMap<&'static str, u64>,
}

impl Reporter {
    fn finding(
        &mut self,
        path: &str,
        locator: Option<&str>,
        base: usize,
        text: &[u8],
        f: &Finding,
    ) -> anyhow::Result<()> {
        let masked = String::from_utf8_lossy(&mask_value(f.kind, &text[f.range()])).into_owned();
        self.summary.findings += 1;
        *self.by_kind.entry(f.kind.as_str()).or_default() += 1;
        let line = FindingLine {
            path,
            offset: base + f.offset,
            length: f.length,
            kind: f.kind.as_str(),
            score: f.score,
            masked,
            locator,
        };
        if self.json {
            crate::output::print_json_line(&line)?;
        } else {
            let mut out = std::io::stdout().lock();
            let place = locator.map_or_else(String::new, |l| format!("#{l}"));
            writeln!(
                out,
                "{path}{place}:{}  {:<15} {:.2}  {}",
                line.offset, line.kind, line.score, line.masked
            )?;
        }
        Ok(())
    }
}

/// Runs `encore scan`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let scanner = scanner(args.threshold)?;
    let inputs = source::collect(&args.paths)?;
    let total: u64 = inputs.iter().map(|i| i.len).sum();
    let bar = crate::output::progress_bar(total, "scanning");
    let mut rep = Reporter {
        json: args.json,
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
        summary: Summary::default(),
        by_kind: BTreeMap::new(),
    };
    let mut failures = 0;
    for input in &inputs {
        let _span = tracing::info_span!("scan_file", path = %input.path.display()).entered();
        let result = match source::classify(&input.path) {
            Ok(FileKind::Binary) => {
                eprintln!("note: skipped binary file {}", input.path.display());
                rep.summary.skipped += 1;
                Ok(())
            }
            Ok(FileKind::Sqlite) => scan_sqlite(&scanner, input, args.mask.as_deref(), &mut rep),
            Ok(FileKind::Text) => scan_text(&scanner, input, args.mask.as_deref(), &mut rep),
            Err(e) => Err(e),
        };
        let result = result.and_then(|()| rep.out.flush().map_err(anyhow::Error::from));
        if let Err(e) = result {
            if crate::output::is_broken_pipe(&e) {
                return Err(e);
            }
            eprintln!("error: {e:#}");
            failures += 1;
        } else {
            rep.summary.files += 1;
        }
        bar.inc(input.len);
    }
    bar.finish_and_clear();
    rep.out.flush()?;
    rep.summary.bytes = total;
    rep.summary.elapsed_ms = started.elapsed().as_millis() as u64;
    if args.json {
        crate::output::print_json_line(&serde_json::json!({ "summary": rep.summary }))?;
    } else {
        let kinds: Vec<String> = rep
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!(
            "scanned {} files ({:.1} MB) in {} ms: {} findings{}{}",
            rep.summary.files,
            total as f64 / 1e6,
            rep.summary.elapsed_ms,
            rep.summary.findings,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            },
            if rep.summary.skipped > 0 {
                format!(", {} binary files skipped", rep.summary.skipped)
            } else {
                String::new()
            },
        );
    }
    Ok(if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Where the masked copy of `input` goes; refuses to point at the input itself.
fn mask_target(dir: &Path, input: &Input) -> anyhow::Result<PathBuf> {
    let out = dir.join(&input.relative);
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let src = std::fs::canonicalize(&input.path)?;
    if std::fs::canonicalize(&out).is_ok_and(|o| o == src) {
        bail!(
            "refusing to write the masked copy over the input {}",
            input.path.display()
        );
    }
    Ok(out)
}

fn scan_text(
    scanner: &Scanner,
    input: &Input,
    mask_dir: Option<&Path>,
    rep: &mut Reporter,
) -> anyhow::Result<()> {
    let shown = input.path.display().to_string();
    let mut file = File::open(&input.path).with_context(|| format!("cannot open {shown}"))?;
    let mut out = match mask_dir {
        Some(dir) => {
            let target = mask_target(dir, input)?;
            Some(BufWriter::new(File::create(&target).with_context(
                || format!("cannot create {}", target.display()),
            )?))
        }
        None => None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let mut base = 0usize;
    let mut eof = false;
    while !eof || !buf.is_empty() {
        if !eof {
            let want = CHUNK.saturating_sub(buf.len()).max(4096);
            let got = (&mut file)
                .take(want as u64)
                .read_to_end(&mut buf)
                .with_context(|| format!("cannot read {shown}"))?;
            eof = got == 0;
            if !eof && buf.len() < CHUNK {
                continue;
            }
        }
        // Cut after the last newline so no value is split (unless a line is longer than CHUNK).
        let cut = if eof {
            buf.len()
        } else {
            buf.iter()
                .rposition(|&c| c == b'\n')
                .map_or(buf.len(), |p| p + 1)
        };
        let piece = &buf[..cut];
        let findings = scanner
            .scan(piece)
            .with_context(|| format!("cannot scan {shown}"))?;
        for f in &findings {
            rep.finding(&shown, None, base, piece, f)?;
        }
        if let Some(out) = out.as_mut() {
            out.write_all(&mask(piece, &findings))?;
        }
        base += cut;
        buf.drain(..cut);
    }
    if let Some(mut out) = out {
        out.flush()?;
    }
    Ok(())
}

fn scan_sqlite(
    scanner: &Scanner,
    input: &Input,
    mask_dir: Option<&Path>,
    rep: &mut Reporter,
) -> anyhow::Result<()> {
    let shown = input.path.display().to_string();
    let mut updates: Vec<(String, String, i64, String)> = Vec::new();
    source::sqlite_cells(&input.path, |cell| {
        let findings = scanner.scan(&cell.text)?;
        for f in &findings {
            rep.finding(&shown, Some(&cell.locator), 0, &cell.text, f)?;
        }
        if mask_dir.is_some() && !findings.is_empty() && !cell.has_rowid {
            bail!(
                "{shown}: cannot write a masked copy of {} (WITHOUT ROWID table)",
                cell.locator
            );
        } else if mask_dir.is_some() && !findings.is_empty() {
            let masked = String::from_utf8_lossy(&mask(&cell.text, &findings)).into_owned();
            updates.push((cell.table, cell.column, cell.rowid, masked));
        }
        Ok(())
    })?;
    if let Some(dir) = mask_dir {
        let target = mask_target(dir, input)?;
        if target.exists() {
            std::fs::remove_file(&target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
        }
        let conn = source::open_read_only(&input.path)?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy().as_ref()])
            .with_context(|| format!("cannot copy {shown} to {}", target.display()))?;
        drop(conn);
        let mut copy = rusqlite::Connection::open(&target)?;
        let tx = copy.transaction()?;
        for (table, column, rowid, masked) in &updates {
            let sql = format!(
                "UPDATE \"{}\" SET \"{}\" = ?1 WHERE rowid = ?2",
                table.replace('"', "\"\""),
                column.replace('"', "\"\"")
            );
            tx.execute(&sql, rusqlite::params![masked, rowid])
                .with_context(|| {
                    format!(
                        "cannot mask {table}/{rowid}/{column} in {}",
                        target.display()
                    )
                })?;
        }
        tx.commit()?;
    }
    Ok(())
}
