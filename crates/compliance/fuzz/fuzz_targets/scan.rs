//! Fuzz target: the scanner and the masker on arbitrary bytes. Findings must be in bounds,
//! sorted, disjoint and scored in 0..=1; masking must not panic.
#![no_main]

use std::sync::LazyLock;

use encore_compliance::{ScanConfig, Scanner, mask};
use libfuzzer_sys::fuzz_target;

/// Built once: the keyword automaton is a DFA and costs far more than one scan.
static ALL: LazyLock<Scanner> =
    LazyLock::new(|| Scanner::new(ScanConfig { threshold: 0.0, ..ScanConfig::default() }).unwrap());
static STRICT: LazyLock<Scanner> = LazyLock::new(|| Scanner::new(ScanConfig::default()).unwrap());

fuzz_target!(|data: &[u8]| {
    let found = ALL.scan(data).unwrap();
    let mut end = 0;
    for f in &found {
        assert!(f.offset >= end && f.offset + f.length <= data.len());
        assert!((0.0..=1.0).contains(&f.score));
        end = f.offset + f.length;
    }
    let masked = mask(data, &found);
    let _ = STRICT.scan(&masked).unwrap();
});
