//! Benchmark support: grows a redb index to a target size with *filler* works.
//!
//! `cargo run --release -p encore-fingerprint --example fill_index -- DIR HOURS SOURCE...`
//! fingerprints the SOURCE audio files once, then adds copies of their postings until the index
//! holds HOURS of audio. Each copy rotates every field of every hash (bands, band differences,
//! time gaps, ratios) by its own random amount within the field's range, so the filler has the
//! density, time structure and field ranges of real music but no copy matches its source. Queries then run against an index of realistic size and load
//! without rendering 100 hours of audio. Filler works are named `filler:N`.

use std::path::{Path, PathBuf};

use encore_fingerprint::{Fingerprint, NewWork, PostingStore, RedbStore, SAMPLE_RATE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: fill_index DIR HOURS SOURCE...".into());
    }
    let store = RedbStore::open(Path::new(&args[0]))?;
    let target_s: f64 = args[1].parse::<f64>()? * 3600.0;
    let mut sources = Vec::new();
    for f in &args[2..] {
        let x = encore_audio::load_mono(&PathBuf::from(f), SAMPLE_RATE)?.samples;
        let fp = Fingerprint::from_samples(&x)?;
        sources.push((fp.duration_s, fp.postings()));
    }
    let mut have: f64 = store.works()?.iter().map(|w| w.duration_s).sum();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut copy = 0u64;
    let mut batch = Vec::new();
    while have < target_s {
        for (dur, postings) in &sources {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let k = state;
            batch.push(NewWork {
                name: format!("filler:{copy}"),
                duration_s: *dur,
                postings: postings
                    .iter()
                    .map(|p| encore_fingerprint::Posting {
                        hash: rotate(p.hash, k),
                        t: p.t,
                    })
                    .collect(),
            });
            copy += 1;
            have += dur;
            if batch.len() == 200 || have >= target_s {
                store.add_works(&batch)?;
                batch.clear();
                eprintln!("{:.1} h", have / 3600.0);
            }
            if have >= target_s {
                break;
            }
        }
    }
    if !batch.is_empty() {
        store.add_works(&batch)?;
    }
    Ok(())
}

/// Rotates each bit field of a hash by an amount taken from `k`, within the field's range.
fn rotate(hash: u32, k: u64) -> u32 {
    let field = |shift: u32, bits: u32, range: u32, kshift: u32| {
        let v = (hash >> shift) & ((1 << bits) - 1);
        let r = ((k >> kshift) as u32) % range;
        ((v % range + r) % range) << shift
    };
    if hash & encore_fingerprint::TRIPLET_BIT != 0 {
        // coarse band (3 bits, 6 values) | d23 (7 bits, 73) | d12 (6 bits, 37) | ratio (4 bits, 16)
        encore_fingerprint::TRIPLET_BIT
            | field(17, 3, 6, 0)
            | field(10, 7, 73, 8)
            | field(4, 6, 37, 16)
            | field(0, 4, 16, 24)
    } else {
        // band (7 bits, 119) | band difference (6 bits, 63) | frame gap (6 bits, 64)
        field(12, 7, 119, 32) | field(6, 6, 63, 40) | field(0, 6, 64, 48)
    }
}
