//! Fuzzes the public entry points that take untrusted input: audio-code strings, samples
//! (fingerprint, audio code) and matching against a small store.
#![no_main]

use encore_fingerprint::{AudioCode, Fingerprint, MatchParams, MemoryStore, NewWork, PostingStore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = s.parse::<AudioCode>();
    }
    let samples: Vec<f32> = data
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect();
    let _ = AudioCode::from_samples(&samples);
    if let (Ok(reference), Ok(query)) =
        (Fingerprint::from_samples(&samples), Fingerprint::for_query(&samples))
    {
        let store = MemoryStore::new();
        let work = NewWork { name: "w".into(), duration_s: reference.duration_s, postings: reference.postings() };
        if store.add_work(&work).is_ok() {
            let _ = encore_fingerprint::identify(&store, &query, &MatchParams::default());
        }
    }
});
