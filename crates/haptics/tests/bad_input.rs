//! Hostile and broken input: parsers return errors, never panic, and name the limit they hit.

use encore_haptics::{
    Error, GenerateOptions, HapticTrack, MAX_INPUT_BYTES, generate, parse_ahap, parse_android,
    parse_lofelt, parse_web, to_ahap, to_lofelt,
};
use proptest::prelude::*;

fn sample_track() -> HapticTrack {
    let sr = 22_050;
    let audio: Vec<f32> = (0..sr)
        .map(|i| {
            let t = (i % 5_000) as f32 / sr as f32;
            (-t * 20.0).exp() * (std::f32::consts::TAU * 80.0 * t).sin()
        })
        .collect();
    generate(&audio, sr as u32, &GenerateOptions::default()).unwrap()
}

#[test]
fn oversized_inputs_hit_the_limit() {
    let big = vec![b' '; MAX_INPUT_BYTES + 1];
    for r in [
        parse_lofelt(&big).map(|_| ()),
        parse_ahap(&big).map(|_| ()),
        parse_android(&big).map(|_| ()),
        parse_web(&big).map(|_| ()),
    ] {
        assert!(matches!(r, Err(Error::LimitExceeded(_))), "{r:?}");
    }
}

#[test]
fn deep_nesting_and_absurd_numbers_are_errors() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_lofelt(deep.as_bytes()).is_err());
    assert!(parse_ahap(deep.as_bytes()).is_err());
    let absurd = br#"{"version":{"major":1},"signals":{"continuous":{"envelopes":{"amplitude":[{"time":1e400,"amplitude":0.5}]}}}}"#;
    assert!(parse_lofelt(absurd).is_err());
    let huge_major = br#"{"version":{"major":99999999999},"signals":{}}"#;
    assert!(parse_lofelt(huge_major).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_lofelt(&bytes);
        let _ = parse_ahap(&bytes);
        let _ = parse_android(&bytes);
        let _ = parse_web(&bytes);
    }

    #[test]
    fn mutated_exports_parse_or_fail_cleanly(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let track = sample_track();
        for json in [to_lofelt(&track).unwrap(), to_ahap(&track).unwrap()] {
            let mut bytes = json.into_bytes();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            if let Ok(t) = parse_lofelt(&bytes) {
                t.validate().unwrap();
            }
            if let Ok(t) = parse_ahap(&bytes) {
                t.validate().unwrap();
            }
        }
    }
}
