//! HTTP `Range` requests (RFC 9110 §14) on a representation of known length.

use std::ops::Range;

/// A satisfiable byte range: `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl ByteRange {
    /// As a `Range`.
    pub fn as_range(self) -> Range<u64> {
        self.start..self.end
    }
}

/// What to send for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything with 200. Covers an absent header, a unit other than
    /// bytes, a syntax error, and multiple ranges (which a server may ignore).
    Full,
    /// Send this part with 206.
    Partial(ByteRange),
    /// No byte of the requested range exists: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a representation of `len` bytes.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(value) = header else {
        return RangeRequest::Full;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    if first.is_empty() {
        // Suffix range: the last N bytes.
        let Some(n) = num(last) else {
            return RangeRequest::Full;
        };
        if n == 0 || len == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(ByteRange {
            start: len.saturating_sub(n),
            end: len,
        });
    }
    let Some(start) = num(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        len
    } else {
        match num(last) {
            Some(l) if l >= start => l.saturating_add(1).min(len),
            Some(_) => return RangeRequest::Full,
            None => {
                // A last-byte-pos too large for u64 still means "to the end".
                if last.bytes().all(|b| b.is_ascii_digit()) {
                    len
                } else {
                    return RangeRequest::Full;
                }
            }
        }
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, end })
    }

    #[test]
    fn cases() {
        use RangeRequest::{Full, Unsatisfiable};
        let check = |h: Option<&str>, len, expected| {
            assert_eq!(parse_range(h, len), expected, "{h:?} len {len}")
        };
        check(None, 100, Full);
        check(Some("bytes=0-0"), 100, p(0, 1));
        check(Some("bytes=0-99"), 100, p(0, 100));
        check(Some("bytes=0-1000"), 100, p(0, 100));
        check(Some("bytes=10-"), 100, p(10, 100));
        check(Some("bytes=99-"), 100, p(99, 100));
        check(Some("bytes=100-"), 100, Unsatisfiable);
        check(Some("bytes=100-200"), 100, Unsatisfiable);
        check(Some("bytes=-10"), 100, p(90, 100));
        check(Some("bytes=-1000"), 100, p(0, 100));
        check(Some("bytes=-0"), 100, Unsatisfiable);
        check(Some("bytes=0-"), 0, Unsatisfiable);
        check(Some("bytes=5-4"), 100, Full);
        check(Some("bytes=0-1,5-6"), 100, Full);
        check(Some("items=0-1"), 100, Full);
        check(Some("bytes=a-b"), 100, Full);
        check(Some("bytes=-"), 100, Full);
        check(Some("bytes=+1-2"), 100, Full);
        check(Some("bytes=0-99999999999999999999999"), 100, p(0, 100));
        check(Some("bytes=99999999999999999999999-"), 100, Full);
        check(Some(" bytes= 3 - 5 "), 100, p(3, 6));
    }

    proptest::proptest! {
        #[test]
        fn partial_ranges_are_inside(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", len in 0u64..5000) {
            if let RangeRequest::Partial(r) = parse_range(Some(&h), len) {
                proptest::prop_assert!(r.start < r.end && r.end <= len);
            }
        }
    }
}
