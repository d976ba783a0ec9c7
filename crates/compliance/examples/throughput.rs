//! Engine throughput on one core.
//!
//! `cargo run --release -p encore-compliance --example throughput -- FILE...` scans the files in
//! memory five times and prints the best MB/s.
//!
//! `... --example throughput -- --corpus SEED SIZE_MB [REPEAT]` generates the labelled corpus
//! (the text documents, not the SQLite table) in memory, scans it REPEAT times (default 5;
//! 1 for `valgrind --tool=callgrind`), prints the best MB/s, per-kind F1 on the documents and a
//! digest of every finding (equal digests: identical findings, offsets and scores). On Linux it
//! also prints the best CPU time of the scanning thread, which a busy machine does not inflate.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use encore_compliance::corpus::{self, CorpusConfig, Label};
use encore_compliance::{Kind, ScanConfig, Scanner, eval};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scanner = Scanner::new(ScanConfig::default())?;
    let (files, truth, repeat) = if args.first().map(String::as_str) == Some("--corpus") {
        let seed: u64 = args.get(1).ok_or("--corpus SEED SIZE_MB")?.parse()?;
        let mb: usize = args.get(2).ok_or("--corpus SEED SIZE_MB")?.parse()?;
        let repeat: u32 = args.get(3).map_or(Ok(5), |r| r.parse())?;
        let c = corpus::generate(&CorpusConfig {
            seed,
            target_bytes: mb << 20,
            table_rows: 0,
        });
        let truth: Vec<Label> = c
            .labels
            .into_iter()
            .filter(|l| l.locator.is_none())
            .collect();
        let files = c.documents.into_iter().map(|d| (d.path, d.body)).collect();
        (files, Some(truth), repeat)
    } else {
        let files: Vec<(String, Vec<u8>)> = args
            .iter()
            .map(|p| std::fs::read(p).map(|b| (p.clone(), b)))
            .collect::<Result<_, _>>()?;
        (files, None, 5)
    };
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut predicted = Vec::new();
    for _ in 0..repeat.max(1) {
        let (t, c) = (Instant::now(), thread_cpu());
        predicted.clear();
        for (path, body) in &files {
            for f in scanner.scan(body)? {
                predicted.push((path, f));
            }
        }
        best = best.min(t.elapsed());
        if let (Some(c0), Some(c1)) = (c, thread_cpu()) {
            best_cpu = best_cpu.min(c1.saturating_sub(c0));
        }
    }
    let mb = bytes as f64 / 1e6;
    let s = best.as_secs_f64();
    let mut digest = DefaultHasher::new();
    for (path, f) in &predicted {
        (path, f.offset, f.length, f.kind.as_str(), f.score.to_bits()).hash(&mut digest);
    }
    println!(
        "{} findings (digest {:016x}), {mb:.1} MB in {s:.4} s = {:.1} MB/s",
        predicted.len(),
        digest.finish(),
        mb / s
    );
    if best_cpu != Duration::MAX {
        let c = best_cpu.as_secs_f64();
        println!(
            "CPU time of this thread: {c:.4} s = {:.1} MB/s per CPU second",
            mb / c
        );
    }
    if let Some(truth) = truth {
        let labels: Vec<Label> = predicted
            .iter()
            .map(|(path, f)| Label {
                path: (*path).clone(),
                locator: None,
                offset: f.offset,
                length: f.length,
                kind: f.kind,
            })
            .collect();
        let scores = eval::score(&truth, &labels);
        for k in Kind::ALL {
            let sc = &scores[&k];
            println!(
                "{:<15} P {:.4} R {:.4} F1 {:.4}",
                k.as_str(),
                sc.precision,
                sc.recall,
                sc.f1
            );
        }
    }
    Ok(())
}

/// CPU time this thread has run (Linux: `/proc/thread-self/schedstat`, nanoseconds), so the
/// figure is not inflated by other processes sharing the core.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}
