//! Fuzzes the RFC 3161 code: timestamp responses and tokens, PEM/DER trust lists, tokens on
//! checkpoint notes, and full token verification. The input is split into a certificate
//! (2-byte big-endian length, then that many bytes) and a token, so the fuzzer can reach the
//! signer lookup, signature and chain checks with a certificate it controls.
#![no_main]

use encore_registry::{TsaTrust, timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = timestamp::parse_timestamp_token(data);
    let _ = timestamp::token_from_response(data);
    let _ = timestamp::TimestampRequest::with_nonce(b"text\n", 7, true).token_from_response(data);
    let _ = timestamp::checkpoint_timestamps(data);
    let _ = TsaTrust::from_pem(data);
    if data.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        let (cert, token) = data[2..].split_at(n);
        if let Ok(trust) = TsaTrust::from_der(&[cert.to_vec()]) {
            let _ = timestamp::verify_timestamp_token(token, b"text\n", &trust);
            let _ = timestamp::verify_checkpoint_timestamps(token, &trust);
        }
    }
});
