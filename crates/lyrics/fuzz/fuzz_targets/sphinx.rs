#![no_main]
//! The Sphinx model readers (`mdef`, `means`, `variances`, `sendump`) never panic on any bytes.
//! The input is split into the four files by three little-endian `u32` lengths at its start.

use encore_lyrics::SphinxModel;
use libfuzzer_sys::fuzz_target;

const PARAMS: &str = "-lowerf 130 -upperf 6800 -nfilt 25 -transform dct -lifter 22 \
                      -feat 1s_c_d_dd -svspec 0-12/13-25/26-38 -cmn batch -model ptm";

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let len = |i: usize| {
        u32::from_le_bytes([data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3]])
            as usize
    };
    let mut rest = &data[12..];
    let mut parts = Vec::new();
    for i in 0..3 {
        let n = len(i).min(rest.len());
        parts.push(&rest[..n]);
        rest = &rest[n..];
    }
    parts.push(rest);
    let _ = SphinxModel::from_files(PARAMS, parts[0], parts[1], parts[2], parts[3]);
});
