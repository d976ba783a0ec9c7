//! Masking: each kind keeps a little of its value so people can still tell records apart
//! (`110***********1234`, `138****5678`, `a***@example.com`, `192.168.*.*`), and separators and
//! full-width characters keep their place.

use crate::scanner::unit_at;
use crate::{Finding, Kind};

/// Units (identifier characters) kept at the start and the end of a value of `kind`.
fn kept(kind: Kind) -> (usize, usize) {
    match kind {
        Kind::CnResidentId | Kind::CnMobile => (3, 4),
        Kind::BankCard => (4, 4),
        Kind::CnUscc => (2, 4),
        Kind::Passport => (1, 3),
        Kind::Email | Kind::IpAddress => (0, 0),
    }
}

/// The masked form of one value of `kind` (`value` is the exact bytes that were found).
#[must_use]
pub fn mask_value(kind: Kind, value: &[u8]) -> Vec<u8> {
    match kind {
        Kind::Email => mask_email(value),
        Kind::IpAddress => mask_ip(value),
        _ => mask_units(value, kept(kind)),
    }
}

fn mask_units(value: &[u8], (head, tail): (usize, usize)) -> Vec<u8> {
    let mut count = 0;
    let mut i = 0;
    while i < value.len() {
        match unit_at(value, i) {
            Some((_, w)) => {
                count += 1;
                i += w;
            }
            None => i += 1,
        }
    }
    let mut out = Vec::with_capacity(value.len());
    let mut idx = 0;
    let mut i = 0;
    while i < value.len() {
        match unit_at(value, i) {
            Some((_, w)) => {
                let keep = idx < head || idx + tail >= count;
                if keep {
                    out.extend_from_slice(&value[i..i + w]);
                } else if w == 1 {
                    out.push(b'*');
                } else {
                    out.extend_from_slice("＊".as_bytes());
                }
                idx += 1;
                i += w;
            }
            None => {
                out.push(value[i]);
                i += 1;
            }
        }
    }
    out
}

fn mask_email(value: &[u8]) -> Vec<u8> {
    match value.iter().position(|&c| c == b'@') {
        Some(at) if at > 0 => {
            let mut out = vec![value[0]];
            out.extend_from_slice(b"***");
            out.extend_from_slice(&value[at..]);
            out
        }
        _ => b"***".to_vec(),
    }
}

fn mask_ip(value: &[u8]) -> Vec<u8> {
    if value.contains(&b':') {
        // IPv6: keep the first group, hide every other hex digit.
        let first = value.iter().position(|&c| c == b':').unwrap_or(value.len());
        let mut out = value[..first].to_vec();
        out.extend(
            value[first..]
                .iter()
                .map(|&c| if c.is_ascii_hexdigit() { b'*' } else { c }),
        );
        out
    } else {
        // IPv4: keep the network's first two octets.
        let mut parts = value.split(|&c| c == b'.');
        let mut out = Vec::new();
        for (k, part) in parts.by_ref().enumerate() {
            if k > 0 {
                out.push(b'.');
            }
            if k < 2 {
                out.extend_from_slice(part);
            } else {
                out.push(b'*');
            }
        }
        out
    }
}

/// A copy of `text` with every finding replaced by its masked form. `findings` must be sorted
/// by offset and not overlap, as [`crate::Scanner::scan`] returns them.
#[must_use]
pub fn mask(text: &[u8], findings: &[Finding]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        if f.offset < at || f.offset + f.length > text.len() {
            continue;
        }
        out.extend_from_slice(&text[at..f.offset]);
        out.extend_from_slice(&mask_value(f.kind, &text[f.range()]));
        at = f.offset + f.length;
    }
    out.extend_from_slice(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Kind, value: &str, want: &str) {
        assert_eq!(
            String::from_utf8(mask_value(kind, value.as_bytes())).unwrap(),
            want
        );
    }

    #[test]
    fn masks_keep_format() {
        check(
            Kind::CnResidentId,
            "110105194912311234",
            "110***********1234",
        );
        check(Kind::CnMobile, "138-1234-5678", "138-****-5678");
        check(
            Kind::CnMobile,
            "１３８１２３４５６７８",
            "１３８＊＊＊＊５６７８",
        );
        check(Kind::BankCard, "6222 0212 3456 7890", "6222 **** **** 7890");
        check(Kind::Email, "alice@example.com", "a***@example.com");
        check(Kind::IpAddress, "192.168.1.20", "192.168.*.*");
        check(Kind::IpAddress, "2001:db8::1", "2001:***::*");
        check(Kind::Passport, "E12345678", "E*****678");
        check(Kind::CnUscc, "91110000802100433B", "91************433B");
    }
}
