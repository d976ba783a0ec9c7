//! Engine throughput on one core: `cargo run --release -p encore-compliance --example throughput
//! -- FILE...` scans the files in memory five times and prints the best MB/s.

use std::time::{Duration, Instant};

use encore_compliance::{ScanConfig, Scanner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<Vec<u8>> = std::env::args()
        .skip(1)
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    let scanner = Scanner::new(ScanConfig::default())?;
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut best = Duration::MAX;
    let mut found = 0;
    for _ in 0..5 {
        let t = Instant::now();
        found = 0;
        for f in &files {
            found += scanner.scan(f)?.len();
        }
        best = best.min(t.elapsed());
    }
    let mb = bytes as f64 / 1e6;
    let s = best.as_secs_f64();
    println!(
        "{found} findings, {mb:.1} MB in {s:.4} s = {:.1} MB/s",
        mb / s
    );
    Ok(())
}
