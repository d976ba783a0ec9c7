//! Property tests: a valid identifier embedded anywhere in random text is found exactly; the same
//! identifier with one character changed is not; the scanner never panics and its findings are
//! in bounds, sorted and disjoint.

use encore_compliance::validate::{resident_id_check_char, uscc_check_char};
use encore_compliance::{Kind, ScanConfig, Scanner, mask};
use proptest::prelude::*;

fn scanner() -> Scanner {
    Scanner::new(ScanConfig::default()).unwrap()
}

fn luhn_complete(body: &str) -> String {
    (b'0'..=b'9')
        .map(|d| format!("{body}{}", char::from(d)))
        .find(|s| encore_compliance::validate::luhn(s.as_bytes()))
        .unwrap()
}

/// Valid values of each kind, built from random parts.
fn valid_value() -> impl Strategy<Value = (Kind, String)> {
    prop_oneof![
        (1950u32..2010, 1u32..13, 1u32..29, 0u32..1000).prop_map(|(y, m, d, s)| {
            let body = format!("110105{y:04}{m:02}{d:02}{s:03}");
            let c = resident_id_check_char(body.as_bytes()).unwrap();
            (Kind::CnResidentId, format!("{body}{}", char::from(c)))
        }),
        (
            prop::sample::select(vec!["138", "139", "150", "186", "199", "177"]),
            0u32..100_000_000
        )
            .prop_map(|(seg, n)| (Kind::CnMobile, format!("{seg}{n:08}"))),
        (0u64..10_000_000_000_000)
            .prop_map(|n| (Kind::BankCard, luhn_complete(&format!("62{n:013}")))),
        ("[a-z]{1,8}", "[a-z]{2,8}").prop_map(|(u, d)| (Kind::Email, format!("{u}@{d}.com"))),
        ("[0-9A-HJ-NP-RTUW-Y]{9}", 1100u32..1200).prop_map(|(org, r)| {
            let body = format!("91{r}01{org}");
            let c = uscc_check_char(body.as_bytes()).unwrap();
            (Kind::CnUscc, format!("{body}{}", char::from(c)))
        }),
        (0u32..100_000_000).prop_map(|n| (Kind::Passport, format!("E{n:08}"))),
        (1u8..224, 0u8..=255, 0u8..=255, 1u8..255)
            .prop_map(|(a, b, c, d)| (Kind::IpAddress, format!("{a}.{b}.{c}.{d}"))),
    ]
}

/// Filler that never glues to a value: spaces, punctuation, Chinese, words with spaces around.
fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(" ".to_string()),
            Just("，".to_string()),
            Just("的".to_string()),
            Just("用户".to_string()),
            Just(" hello ".to_string()),
            Just("\n".to_string()),
            Just("; ".to_string()),
        ],
        0..8,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn embedded_valid_value_is_found((kind, value) in valid_value(), pre in filler(), post in filler()) {
        let text = format!("{pre}{value}{post}");
        let found = scanner().scan(text.as_bytes()).unwrap();
        let hit = found.iter().any(|f| f.kind == kind && f.offset == pre.len() && f.length == value.len());
        prop_assert!(hit, "{kind} {value:?} not found in {text:?}: {found:?}");
    }

    #[test]
    fn mutated_checked_value_is_not_found((kind, value) in valid_value(), at in 0usize..64, pre in filler()) {
        // Only kinds protected by a check character: one changed digit must break them.
        prop_assume!(matches!(kind, Kind::CnResidentId | Kind::BankCard | Kind::CnUscc));
        let mut bytes = value.clone().into_bytes();
        let i = at % bytes.len();
        prop_assume!(bytes[i].is_ascii_digit());
        bytes[i] = b'0' + (bytes[i] - b'0' + 1) % 10;
        let mutated = String::from_utf8(bytes).unwrap();
        let text = format!("{pre}{mutated} ");
        let found = scanner().scan(text.as_bytes()).unwrap();
        prop_assert!(!found.iter().any(|f| f.kind == kind), "{mutated:?} still found as {kind}: {found:?}");
    }

    #[test]
    fn findings_are_in_bounds_sorted_disjoint(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let found = scanner().scan(&bytes).unwrap();
        let mut end = 0;
        for f in &found {
            prop_assert!(f.offset >= end && f.offset + f.length <= bytes.len());
            prop_assert!((0.0..=1.0).contains(&f.score));
            end = f.offset + f.length;
        }
        let _ = mask(&bytes, &found);
    }

    #[test]
    fn masked_text_has_no_findings_left((_, value) in valid_value(), pre in filler()) {
        let text = format!("{pre}{value} ");
        let s = scanner();
        let masked = mask(text.as_bytes(), &s.scan(text.as_bytes()).unwrap());
        prop_assert!(s.scan(&masked).unwrap().is_empty(), "{:?}", String::from_utf8_lossy(&masked));
    }
}
