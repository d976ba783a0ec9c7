//! Fuzzes the HTTP Range parser and the ISRC validator with arbitrary header text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
    let text = String::from_utf8_lossy(&data[8..]);
    if let encore_server::RangeRequest::Partial(r) = encore_server::parse_range(Some(&text), len) {
        assert!(r.start < r.end && r.end <= len);
    }
    let _ = encore_server::validate_isrc(&text);
});
