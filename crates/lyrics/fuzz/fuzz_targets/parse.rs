//! Fuzz target: every lyrics parser must return `Ok` or a typed error, never panic, and what it
//! reads must write and read back.
#![no_main]

use encore_lyrics::{Format, parse, write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [Format::Lrc, Format::Elrc, Format::Ttml, Format::Srt, Format::Vtt, Format::Json, Format::Text] {
        if let Ok(lyrics) = parse(text, format) {
            let out = write(&lyrics, format);
            let _ = parse(&out, format);
        }
    }
    let _ = encore_lyrics::parse_any(text);
});
