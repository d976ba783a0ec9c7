//! Fuzz target: `decode_bytes` must return `Ok` or a typed error for any input, never panic,
//! hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hint = match data.first().map(|b| b % 6) {
        Some(0) => Some("wav"),
        Some(1) => Some("mp3"),
        Some(2) => Some("ogg"),
        Some(3) => Some("flac"),
        Some(4) => Some("m4a"),
        _ => None,
    };
    let limits = encore_audio::Limits {
        max_duration_s: 600.0,
        ..encore_audio::Limits::default()
    };
    if let Ok(decoder) = encore_audio::Decoder::from_bytes_with_limits(data.to_vec(), hint, limits) {
        let _ = decoder.decode_all();
    }
    let _ = encore_audio::decode_bytes(data.to_vec(), None);
});
