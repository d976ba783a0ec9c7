//! The single-pass scanner: a byte-class table drives one walk over the input; digits, full-width
//! digits, `@` and `:` start small local parsers (digit-group tokens, IPv4, e-mail, IPv6) whose
//! candidates are validated, scored with their context and kept when above the threshold.

use std::net::Ipv6Addr;

use serde::Serialize;

use crate::context::Context;
use crate::{Error, Kind, validate};

/// How a scan decides what to report.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Findings scoring below this (0..=1) are not reported. Default 0.5.
    pub threshold: f32,
    /// Latest plausible birth year in a resident ID (the caller passes the current year; the
    /// library reads no clock). Default 2100.
    pub max_birth_year: u16,
    /// Largest buffer one `scan` call accepts ([`Error::LimitExceeded`] above it). Default 1 GiB.
    pub max_input: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            max_birth_year: 2100,
            max_input: 1 << 30,
        }
    }
}

/// One piece of personal information found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Finding {
    /// Byte offset of the first byte of the value in the scanned buffer.
    pub offset: usize,
    /// Length of the value in bytes (separators and full-width digits included).
    pub length: usize,
    /// What it is.
    pub kind: Kind,
    /// Confidence in 0..=1 after validation and context.
    pub score: f32,
}

impl Finding {
    /// The byte range of the value.
    #[must_use]
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.length
    }
}

/// Finds validated personal information in bytes. Build once, scan many buffers (it is `Sync`).
pub struct Scanner {
    config: ScanConfig,
    context: Context,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Bytes with no role in the main loop.
const SKIP: u8 = 0;
const DIGIT: u8 = 1;
const FULLWIDTH_LEAD: u8 = 2;
const AT: u8 = 3;
const COLON: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [SKIP; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = DIGIT;
        c += 1;
    }
    t[0xEF] = FULLWIDTH_LEAD;
    t[b'@' as usize] = AT;
    t[b':' as usize] = COLON;
    t
};

/// The first index at or after `i` whose byte has a role in the main loop (or `text.len()`).
/// Sixteen bytes at a time with branch-free byte tests the compiler turns into SIMD compares;
/// the same bytes as `CLASS[b] != SKIP`.
#[inline]
fn next_active(text: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = text.get(i..i + 16) {
        let mut mask = 0u32;
        for (k, &b) in chunk.iter().enumerate() {
            let active = (b.wrapping_sub(b'0') <= 10) | (b == b'@') | (b == 0xEF);
            mask |= u32::from(active) << k;
        }
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < text.len() && CLASS[text[i] as usize] == SKIP {
        i += 1;
    }
    i
}

/// Longest ASCII alphanumeric run that can still hold an identifier (18 + a few letters).
const MAX_RUN_BACK: usize = 24;
/// Units kept per token; longer tokens are walked over but not analysed past this.
const MAX_UNITS: usize = 96;
/// Longest identifier in units (bank cards).
const MAX_ID_UNITS: usize = 19;

const BASE_RESIDENT_ID: f32 = 0.9;
const BASE_USCC: f32 = 0.9;
const BASE_CARD: f32 = 0.7;
const BASE_MOBILE: f32 = 0.75;
const BASE_EMAIL: f32 = 0.95;
const BASE_PASSPORT: f32 = 0.6;
const BASE_IPV4: f32 = 0.75;
const BASE_IPV6: f32 = 0.8;

#[derive(Clone, Copy)]
struct Group {
    /// First unit index.
    u0: usize,
    /// One past the last unit index.
    u1: usize,
    /// Separator before this group: 0 none, 1 space, 2 dash.
    sep: u8,
}

/// Reusable buffers for one scan: the units of the current token (fixed arrays, so reading a
/// token costs no capacity checks or allocation).
struct Scratch {
    /// Units in use.
    n: usize,
    /// Normalised ASCII character of each unit.
    units: [u8; MAX_UNITS],
    /// Byte offset of each unit.
    starts: [usize; MAX_UNITS],
    /// Byte offset just past each unit.
    ends: [usize; MAX_UNITS],
    groups: Vec<Group>,
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            n: 0,
            units: [0; MAX_UNITS],
            starts: [0; MAX_UNITS],
            ends: [0; MAX_UNITS],
            groups: Vec::new(),
        }
    }
}

struct Candidate {
    start: usize,
    end: usize,
    kind: Kind,
    score: f32,
}

impl Default for Scanner {
    /// A scanner with [`ScanConfig::default`].
    fn default() -> Self {
        Self {
            config: ScanConfig::default(),
            context: Context::new(),
        }
    }
}

impl Scanner {
    /// Builds a scanner; fails when the threshold is outside 0..=1.
    pub fn new(config: ScanConfig) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&config.threshold) {
            return Err(Error::InvalidConfig(format!(
                "threshold {} is not in 0..=1",
                config.threshold
            )));
        }
        Ok(Self {
            config,
            context: Context::new(),
        })
    }

    /// The configuration this scanner was built with.
    #[must_use]
    pub fn config(&self) -> &ScanConfig {
        &self.config
    }

    /// Scans `text` in one pass and returns the findings at or above the threshold, ordered by
    /// offset and never overlapping.
    pub fn scan(&self, text: &[u8]) -> Result<Vec<Finding>, Error> {
        if text.len() > self.config.max_input {
            return Err(Error::LimitExceeded {
                len: text.len(),
                limit: self.config.max_input,
            });
        }
        let mut out: Vec<Candidate> = Vec::new();
        let mut scratch = Scratch::default();
        let n = text.len();
        let mut i = 0;
        while i < n {
            match CLASS[text[i] as usize] {
                SKIP => i = next_active(text, i + 1),
                DIGIT => i = self.on_digit(text, i, &mut scratch, &mut out),
                FULLWIDTH_LEAD => {
                    if unit_at(text, i).is_some_and(|(c, _)| c.is_ascii_digit()) {
                        i = self.on_digit(text, i, &mut scratch, &mut out);
                    } else {
                        i += 1;
                    }
                }
                AT => i = self.on_at(text, i, &mut out),
                _ => i = self.on_colon(text, i, &mut out),
            }
        }
        let threshold = self.config.threshold;
        Ok(out
            .into_iter()
            .filter(|c| c.score >= threshold)
            .map(|c| Finding {
                offset: c.start,
                length: c.end - c.start,
                kind: c.kind,
                score: (c.score.clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
            })
            .collect())
    }

    /// Adds the context adjustment to a candidate that has none yet, then keeps it.
    fn push_scored(&self, text: &[u8], out: &mut Vec<Candidate>, mut c: Candidate) {
        c.score += self.context.adjust(c.kind, text, c.start, c.end);
        Self::push(out, c);
    }

    /// Keeps a scored candidate; of two overlapping ones the higher score (or the e-mail) wins.
    fn push(out: &mut Vec<Candidate>, mut c: Candidate) {
        c.score = c.score.clamp(0.0, 1.0);
        while let Some(last) = out.last() {
            if last.end <= c.start {
                break;
            }
            if c.kind == Kind::Email || last.score < c.score {
                out.pop();
            } else {
                return;
            }
        }
        out.push(c);
    }

    /// A digit (ASCII or full-width) at `i`: IPv4, then digit-group tokens.
    fn on_digit(&self, text: &[u8], i: usize, s: &mut Scratch, out: &mut Vec<Candidate>) -> usize {
        let prev = if i > 0 { text[i - 1] } else { b' ' };
        if text[i].is_ascii_digit()
            && !prev.is_ascii_alphanumeric()
            && prev != b'.'
            && let Some(end) = parse_ipv4(text, i)
        {
            let mut score = BASE_IPV4;
            let first = leading_number(&text[i..]);
            if first == 0 || first >= 224 {
                score -= 0.3;
            }
            let c = Candidate {
                start: i,
                end,
                kind: Kind::IpAddress,
                score,
            };
            self.push_scored(text, out, c);
            return end;
        }
        // Back up to the start of the ASCII alphanumeric run this digit belongs to.
        let mut start = i;
        while start > 0 && text[start - 1].is_ascii_alphanumeric() {
            if i - start >= MAX_RUN_BACK {
                return skip_run(text, i);
            }
            start -= 1;
        }
        let end = tokenize(text, start, s);
        self.analyse(text, start, s, out);
        end
    }

    /// Looks for identifiers among consecutive groups of the token in `s`.
    fn analyse(&self, text: &[u8], start: usize, s: &Scratch, out: &mut Vec<Candidate>) {
        // A token glued to a code by `-` or `_` (`ORD-13812345678`) or continuing a decimal
        // (`0.13812345678`) is not an identifier of a person.
        let before = if start > 0 { text[start - 1] } else { b' ' };
        let before2 = if start > 1 { text[start - 2] } else { b' ' };
        let mut penalty = 0.0;
        if (before == b'-' || before == b'_') && before2.is_ascii_alphanumeric() {
            penalty += 0.5;
        }
        if before == b'.' && before2.is_ascii_digit() {
            penalty += 0.6;
        }
        if before == b'#' {
            penalty += 0.2;
        }
        let groups = &s.groups;
        let mut k = 0;
        while k < groups.len() {
            let mut best: Option<(Candidate, usize)> = None;
            let mut total = 0;
            for e in k..groups.len() {
                let g = groups[e];
                // Groups of a spaced or dashed number: at least 3 characters each (the last may be
                // shorter, as in `6222 0212 3456 7890 1`), one kind of separator throughout.
                if e > k
                    && (g.sep != groups[k + 1].sep
                        || groups[k].u1 - groups[k].u0 < 3
                        || (e > k + 1 && groups[e - 1].u1 - groups[e - 1].u0 < 3))
                {
                    break;
                }
                total += g.u1 - g.u0;
                if total > MAX_ID_UNITS || g.u1 > s.n {
                    break;
                }
                let (u0, u1) = (groups[k].u0, g.u1);
                if let Some(c) = self.evaluate(text, &s.units[u0..u1], u0, s, e > k)
                    && best.as_ref().is_none_or(|(b, _)| c.score >= b.score)
                {
                    best = Some((c, e));
                }
            }
            // A letter group right before (in the same token) makes the digits part of a code.
            let glued = k > 0
                && s.units[groups[k - 1].u0..groups[k - 1].u1]
                    .iter()
                    .any(u8::is_ascii_alphabetic);
            if let Some((mut c, e)) = best {
                c.score -= penalty + if glued { 0.5 } else { 0.0 };
                // Followed by a decimal part or a dotted continuation: a number, not an id.
                if text.get(c.end) == Some(&b'.')
                    && text.get(c.end + 1).is_some_and(u8::is_ascii_digit)
                {
                    c.score -= 0.6;
                }
                Self::push(out, c);
                k = e + 1;
            } else {
                k += 1;
            }
            penalty = 0.0;
        }
    }

    /// Validates the normalised characters `v` (units `u0..`) as every kind of that length and
    /// returns the best-scoring reading, context included.
    fn evaluate(
        &self,
        text: &[u8],
        v: &[u8],
        u0: usize,
        s: &Scratch,
        multi: bool,
    ) -> Option<Candidate> {
        let n = v.len();
        let all_digits = v.iter().all(u8::is_ascii_digit);
        let sep_penalty = if multi { 0.05 } else { 0.0 };
        // 17 digits with a 19xx/20xx "birth year" and a month where an ID has them: an ID number
        // typed wrong far more often than an 18-digit card or a social credit code.
        let id_shaped = n == 18
            && v[..17].iter().all(u8::is_ascii_digit)
            && matches!(&v[6..8], b"19" | b"20")
            && matches!(
                &v[10..12],
                b"01"
                    | b"02"
                    | b"03"
                    | b"04"
                    | b"05"
                    | b"06"
                    | b"07"
                    | b"08"
                    | b"09"
                    | b"10"
                    | b"11"
                    | b"12"
            );
        let mut best: Option<Candidate> = None;
        let mut consider = |kind: Kind, score: f32, a: usize, b: usize| {
            let (start, end) = (s.starts[u0 + a], s.ends[u0 + b - 1]);
            let score = score + self.context.adjust(kind, text, start, end);
            if best.as_ref().is_none_or(|c| score > c.score) {
                best = Some(Candidate {
                    start,
                    end,
                    kind,
                    score,
                });
            }
        };
        if n == 11 && all_digits && validate::cn_mobile(v) {
            consider(Kind::CnMobile, BASE_MOBILE - sep_penalty, 0, n);
        }
        if n == 13 && !multi && all_digits && v.starts_with(b"86") && validate::cn_mobile(&v[2..]) {
            consider(Kind::CnMobile, BASE_MOBILE - 0.05, 2, n);
        }
        if n == 18 && validate::resident_id(v, self.config.max_birth_year) {
            consider(Kind::CnResidentId, BASE_RESIDENT_ID - sep_penalty, 0, n);
        }
        if n == 18 && !multi && validate::uscc(v) {
            // A code whose first 17 characters are digits passes the check character by chance
            // once in 31: without a letter it needs a keyword, and ID-shaped ones more so.
            let digit_body = v[..17].iter().all(u8::is_ascii_digit);
            let penalty = match (digit_body, id_shaped || all_digits) {
                (true, true) => 0.5,
                (true, false) => 0.3,
                _ => 0.0,
            };
            consider(Kind::CnUscc, BASE_USCC - penalty, 0, n);
        }
        if (16..=19).contains(&n) && all_digits && validate::bank_card(v) {
            let shape = if id_shaped { 0.3 } else { 0.0 };
            consider(Kind::BankCard, BASE_CARD - sep_penalty - shape, 0, n);
        }
        if (n == 8 || n == 9) && !multi {
            let w = validate::passport(v);
            if w > 0.0 {
                consider(Kind::Passport, BASE_PASSPORT * w, 0, n);
            }
        }
        best
    }

    /// `@` at `i`: an e-mail address around it.
    fn on_at(&self, text: &[u8], i: usize, out: &mut Vec<Candidate>) -> usize {
        let Some((start, end)) = parse_email(text, i) else {
            return i + 1;
        };
        self.push_scored(
            text,
            out,
            Candidate {
                start,
                end,
                kind: Kind::Email,
                score: BASE_EMAIL,
            },
        );
        end
    }

    /// `:` at `i`: an IPv6 address through it.
    fn on_colon(&self, text: &[u8], i: usize, out: &mut Vec<Candidate>) -> usize {
        let is6 = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
        let prev_ok = i > 0 && (text[i - 1].is_ascii_hexdigit() || text[i - 1] == b':');
        let next_ok = text
            .get(i + 1)
            .is_some_and(|&c| c.is_ascii_hexdigit() || c == b':');
        if !prev_ok && !next_ok {
            return i + 1;
        }
        let mut s = i;
        while s > 0 && is6(text[s - 1]) && i - s < 45 {
            s -= 1;
        }
        let mut e = i + 1;
        while e < text.len() && is6(text[e]) && e - s < 64 {
            e += 1;
        }
        // Trailing dots end sentences, not addresses.
        while e > i + 1 && text[e - 1] == b'.' {
            e -= 1;
        }
        if text
            .get(e)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            return i + 1;
        }
        let mut starts = [s, usize::MAX];
        if s > 0 && (text[s - 1].is_ascii_alphanumeric() || text[s - 1] == b'_') || text[s] == b'.'
        {
            // `ipv6:fe80::1`: the address may begin after the first colon.
            starts[0] = usize::MAX;
            if let Some(p) = text[s..e].iter().position(|&c| c == b':')
                && text.get(s + p + 1) != Some(&b':')
            {
                starts[1] = s + p + 1;
            }
        }
        for st in starts.into_iter().filter(|&st| st < e) {
            if ipv6_plausible(&text[st..e]) {
                let c = Candidate {
                    start: st,
                    end: e,
                    kind: Kind::IpAddress,
                    score: BASE_IPV6,
                };
                self.push_scored(text, out, c);
                return e;
            }
        }
        // Not an address: the digits around this colon are still scanned as usual.
        i + 1
    }
}

/// Reads one unit (an identifier character) at `i`: ASCII alphanumeric, full-width digit or
/// full-width `Ｘ`/`ｘ`. Returns the normalised ASCII byte and the width in bytes.
#[inline]
pub(crate) fn unit_at(text: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *text.get(i)?;
    if b.is_ascii_alphanumeric() {
        return Some((b, 1));
    }
    if b == 0xEF && i + 2 < text.len() {
        let (b1, b2) = (text[i + 1], text[i + 2]);
        if b1 == 0xBC && (0x90..=0x99).contains(&b2) {
            return Some((b'0' + (b2 - 0x90), 3));
        }
        if b1 == 0xBC && b2 == 0xB8 {
            return Some((b'X', 3));
        }
        if b1 == 0xBD && b2 == 0x98 {
            return Some((b'x', 3));
        }
    }
    None
}

/// A separator allowed inside a number: space, ASCII dash or full-width dash. Returns
/// (kind, width): 1 space, 2 dash.
#[inline]
fn sep_at(text: &[u8], i: usize) -> Option<(u8, usize)> {
    match text.get(i)? {
        b' ' => Some((1, 1)),
        b'-' => Some((2, 1)),
        0xEF if text.get(i + 1) == Some(&0xBC) && text.get(i + 2) == Some(&0x8D) => Some((2, 3)),
        _ => None,
    }
}

/// Splits the token starting at `start` into groups of units separated by single separators;
/// returns the byte offset just past the token.
fn tokenize(text: &[u8], start: usize, s: &mut Scratch) -> usize {
    s.n = 0;
    s.groups.clear();
    let mut j = start;
    let mut sep = 0;
    loop {
        let u0 = s.n;
        while let Some((c, w)) = unit_at(text, j) {
            if s.n < MAX_UNITS {
                s.units[s.n] = c;
                s.starts[s.n] = j;
                s.ends[s.n] = j + w;
                s.n += 1;
            }
            j += w;
        }
        s.groups.push(Group { u0, u1: s.n, sep });
        if s.n >= MAX_UNITS {
            // The last group was cut short: drop it rather than read a prefix as a value. The
            // main loop starts a new token at that group; a single over-long group is skipped.
            let cut = s.groups.pop();
            return match cut {
                Some(g) if !s.groups.is_empty() => s.starts[g.u0],
                _ => skip_run(text, j),
            };
        }
        match sep_at(text, j) {
            Some((kind, w)) if unit_at(text, j + w).is_some_and(|(c, _)| c.is_ascii_digit()) => {
                sep = kind;
                j += w;
            }
            _ => return j,
        }
    }
}

/// Skips the rest of an over-long alphanumeric run without analysing it.
fn skip_run(text: &[u8], mut j: usize) -> usize {
    while let Some((_, w)) = unit_at(text, j) {
        j += w;
    }
    j
}

fn leading_number(t: &[u8]) -> u32 {
    t.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0u32, |a, &c| {
            a.saturating_mul(10).saturating_add(u32::from(c - b'0'))
        })
}

/// A dotted quad at `i` (no leading zeros, octets <= 255) not continued by more dotted numbers.
fn parse_ipv4(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for part in 0..4 {
        let s = j;
        while j < text.len() && text[j].is_ascii_digit() && j - s < 4 {
            j += 1;
        }
        let len = j - s;
        if len == 0 || len > 3 || (len > 1 && text[s] == b'0') || leading_number(&text[s..j]) > 255
        {
            return None;
        }
        if part < 3 {
            if text.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
    }
    let next = text.get(j).copied().unwrap_or(b' ');
    if next.is_ascii_alphanumeric() || next == b'_' {
        return None;
    }
    if (next == b'.' || next == b'-') && text.get(j + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(j)
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The e-mail address around the `@` at `at`, as a byte range.
fn parse_email(text: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut s = at;
    while s > 0 && is_local(text[s - 1]) {
        if at - s >= 64 {
            return None;
        }
        s -= 1;
    }
    while s < at && !text[s].is_ascii_alphanumeric() {
        s += 1;
    }
    if s == at || text[at - 1] == b'.' || text[s..at].windows(2).any(|w| w == b"..") {
        return None;
    }
    let mut e = at + 1;
    let mut labels = 0;
    let mut last_label;
    loop {
        let ls = e;
        while e < text.len() && (text[e].is_ascii_alphanumeric() || text[e] == b'-') && e - ls < 64
        {
            e += 1;
        }
        if e == ls || text[ls] == b'-' || text[e - 1] == b'-' {
            return None;
        }
        labels += 1;
        last_label = (ls, e);
        if text.get(e) == Some(&b'.') && text.get(e + 1).is_some_and(u8::is_ascii_alphanumeric) {
            e += 1;
        } else {
            break;
        }
        if e - at > 253 {
            return None;
        }
    }
    let tld = &text[last_label.0..last_label.1];
    if labels < 2 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    if text.get(e).is_some_and(|&c| c == b'@' || c == b'_') {
        return None;
    }
    Some((s, e))
}

/// A syntactically valid IPv6 address with enough hex groups to be an address rather than
/// `a::b` in code.
fn ipv6_plausible(run: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(run) else {
        return false;
    };
    if s.parse::<Ipv6Addr>().is_err() {
        return false;
    }
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    let hex = s.bytes().filter(u8::is_ascii_hexdigit).count();
    groups >= 3 || (s.contains("::") && groups >= 2 && hex >= 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_active_agrees_with_the_class_table() {
        for b in 0..=255u8 {
            let mut text = vec![b'a'; 40];
            text[21] = b;
            let want = if CLASS[b as usize] == SKIP { 40 } else { 21 };
            assert_eq!(next_active(&text, 0), want, "byte {b:#04x}");
            assert_eq!(next_active(&text, 3), want, "byte {b:#04x}");
        }
        assert_eq!(next_active(b"", 0), 0);
        assert_eq!(next_active(b"abc", 3), 3);
    }

    fn kinds(text: &str) -> Vec<(String, Kind)> {
        let s = Scanner::new(ScanConfig::default()).unwrap();
        s.scan(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|f| (text[f.range()].to_string(), f.kind))
            .collect()
    }

    fn check(text: &str, expect: &[(&str, Kind)]) {
        let got = kinds(text);
        let want: Vec<(String, Kind)> = expect.iter().map(|(s, k)| (s.to_string(), *k)).collect();
        assert_eq!(got, want, "in {text:?}");
    }

    #[test]
    fn finds_each_kind() {
        check(
            "身份证11010519491231002X。",
            &[("11010519491231002X", Kind::CnResidentId)],
        );
        check("手机号13812345678联系", &[("13812345678", Kind::CnMobile)]);
        check(
            "call 138-1234-5678 now",
            &[("138-1234-5678", Kind::CnMobile)],
        );
        check(
            "card 4111 1111 1111 1111.",
            &[("4111 1111 1111 1111", Kind::BankCard)],
        );
        check(
            "mail zhang.san@example.com.",
            &[("zhang.san@example.com", Kind::Email)],
        );
        check("QQ 12345678@qq.com", &[("12345678@qq.com", Kind::Email)]);
        check(
            "代码91110000802100433B有限公司",
            &[("91110000802100433B", Kind::CnUscc)],
        );
        check("护照E12345678", &[("E12345678", Kind::Passport)]);
        check(
            "from 192.168.1.20:443",
            &[("192.168.1.20", Kind::IpAddress)],
        );
        check(
            "ip=2001:db8::8a2e:370:7334 ok",
            &[("2001:db8::8a2e:370:7334", Kind::IpAddress)],
        );
        check(
            "ipv6:fe80::1ff:fe23:4567:890a",
            &[("fe80::1ff:fe23:4567:890a", Kind::IpAddress)],
        );
    }

    #[test]
    fn full_width_and_separators() {
        check(
            "电话：１３８１２３４５６７８",
            &[("１３８１２３４５６７８", Kind::CnMobile)],
        );
        check(
            "ID 110105 19491231 002X",
            &[("110105 19491231 002X", Kind::CnResidentId)],
        );
    }

    #[test]
    fn rejects_hard_negatives() {
        check("110105194912310021", &[]);
        check("order 13812345678 shipped", &[]);
        check("ORD-13812345678", &[]);
        check("took 13812345678 ms", &[]);
        check("pi 0.13812345678", &[]);
        check("version 1.2.3.4.5", &[]);
        check("12:30:45 std::vec a::b", &[]);
        check("v1.2.3.4", &[]);
        check("4111111111111112", &[]);
        check("user@localhost", &[]);
        // A very long spaced number is read in windows; nothing is made of a cut group.
        let long = "1234 ".repeat(40) + "4111 1111 1111 1111";
        check(&long, &[("4111 1111 1111 1111", Kind::BankCard)]);
        check(&"9".repeat(500), &[]);
    }
}
