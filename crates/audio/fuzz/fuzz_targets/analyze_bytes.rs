//! Fuzz target: the whole analysis (decode, resample, onsets, beats, loudness) on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = encore_audio::analyze_bytes(data.to_vec(), None);
});
