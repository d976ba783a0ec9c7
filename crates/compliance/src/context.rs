//! Context keywords around a validated candidate: one Aho-Corasick automaton over a short window,
//! the nearest keyword decides whether confidence goes up (it names the same kind) or down (it
//! names an order id, timestamp, version, ISRC, ...).

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

use crate::Kind;

/// Bytes of context looked at before a candidate (about 16 CJK characters).
pub(crate) const WINDOW_BEFORE: usize = 48;
/// Bytes of context looked at after a candidate.
pub(crate) const WINDOW_AFTER: usize = 16;

#[derive(Clone, Copy)]
enum Effect {
    /// Names these kinds (bit set of `Kind::bit`).
    Positive(u8),
    /// Names something that is not personal information.
    Negative,
}

const R: u8 = 1 << (Kind::CnResidentId as u8);
const M: u8 = 1 << (Kind::CnMobile as u8);
const B: u8 = 1 << (Kind::BankCard as u8);
const E: u8 = 1 << (Kind::Email as u8);
const U: u8 = 1 << (Kind::CnUscc as u8);
const P: u8 = 1 << (Kind::Passport as u8);
const I: u8 = 1 << (Kind::IpAddress as u8);

const KEYWORDS: &[(&str, Effect)] = &[
    ("身份证", Effect::Positive(R)),
    ("身份证号", Effect::Positive(R)),
    ("公民身份", Effect::Positive(R)),
    ("证件号", Effect::Positive(R | P)),
    ("证件", Effect::Positive(R | P)),
    ("idcard", Effect::Positive(R)),
    ("id card", Effect::Positive(R)),
    ("id_card", Effect::Positive(R)),
    ("id no", Effect::Positive(R)),
    ("id number", Effect::Positive(R)),
    ("national id", Effect::Positive(R)),
    ("id", Effect::Positive(R)),
    ("sfz", Effect::Positive(R)),
    ("手机", Effect::Positive(M)),
    ("电话", Effect::Positive(M)),
    ("联系方式", Effect::Positive(M)),
    ("联系", Effect::Positive(M)),
    ("mobile", Effect::Positive(M)),
    ("phone", Effect::Positive(M)),
    ("tel", Effect::Positive(M)),
    ("cell", Effect::Positive(M)),
    ("contact", Effect::Positive(M | E)),
    ("+86", Effect::Positive(M)),
    ("微信", Effect::Positive(M)),
    ("银行卡", Effect::Positive(B)),
    ("卡号", Effect::Positive(B)),
    ("信用卡", Effect::Positive(B)),
    ("借记卡", Effect::Positive(B)),
    ("银联", Effect::Positive(B)),
    ("账号", Effect::Positive(B)),
    ("card", Effect::Positive(B)),
    ("account", Effect::Positive(B)),
    ("pan", Effect::Positive(B)),
    ("unionpay", Effect::Positive(B)),
    ("信用代码", Effect::Positive(U)),
    ("统一社会信用代码", Effect::Positive(U)),
    ("纳税人识别号", Effect::Positive(U)),
    ("税号", Effect::Positive(U)),
    ("营业执照", Effect::Positive(U)),
    ("uscc", Effect::Positive(U)),
    ("credit code", Effect::Positive(U)),
    ("护照", Effect::Positive(P)),
    ("passport", Effect::Positive(P)),
    ("ip", Effect::Positive(I)),
    ("client", Effect::Positive(I)),
    ("remote", Effect::Positive(I)),
    ("addr", Effect::Positive(I)),
    ("邮箱", Effect::Positive(E)),
    ("email", Effect::Positive(E)),
    ("e-mail", Effect::Positive(E)),
    ("mail", Effect::Positive(E)),
    ("订单", Effect::Negative),
    ("order", Effect::Negative),
    ("order_id", Effect::Negative),
    ("orderid", Effect::Negative),
    ("单号", Effect::Negative),
    ("流水", Effect::Negative),
    ("交易号", Effect::Negative),
    ("txn", Effect::Negative),
    ("trace", Effect::Negative),
    ("tracking", Effect::Negative),
    ("快递", Effect::Negative),
    ("运单", Effect::Negative),
    ("isrc", Effect::Negative),
    ("upc", Effect::Negative),
    ("ean", Effect::Negative),
    ("version", Effect::Negative),
    ("ver", Effect::Negative),
    ("build", Effect::Negative),
    ("release", Effect::Negative),
    ("版本", Effect::Negative),
    ("timestamp", Effect::Negative),
    ("时间戳", Effect::Negative),
    ("epoch", Effect::Negative),
    ("duration", Effect::Negative),
    ("elapsed", Effect::Negative),
    ("took", Effect::Negative),
    ("耗时", Effect::Negative),
    ("sku", Effect::Negative),
    ("invoice", Effect::Negative),
    ("发票", Effect::Negative),
    ("serial", Effect::Negative),
    ("序列号", Effect::Negative),
    ("request_id", Effect::Negative),
    ("uuid", Effect::Negative),
    ("hash", Effect::Negative),
];

/// What the surrounding text says about a candidate.
pub(crate) struct Context {
    dfa: Option<DFA>,
    /// Bytes on which the DFA's start state loops back to itself (no keyword begins with
    /// them): the walk skips them without a transition.
    idle: [bool; 256],
}

impl Context {
    pub(crate) fn new() -> Self {
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            // Windows are a few dozen bytes: a prefilter would cost more than it skips.
            .prefilter(false)
            .build(KEYWORDS.iter().map(|(k, _)| k))
            .ok();
        let mut idle = [false; 256];
        if let Some(dfa) = &dfa
            && let Ok(start) = dfa.start_state(Anchored::No)
        {
            for (b, slot) in idle.iter_mut().enumerate() {
                *slot = dfa.next_state(Anchored::No, start, b as u8) == start;
            }
        }
        Self { dfa, idle }
    }

    pub(crate) fn adjust(&self, kind: Kind, text: &[u8], start: usize, end: usize) -> f32 {
        let Some(dfa) = &self.dfa else {
            return suffix_penalty(&text[end..]);
        };
        let lo = floor_char(text, start.saturating_sub(WINDOW_BEFORE));
        let lo = text[lo..start]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(lo, |p| lo + p + 1);
        let before = &text[lo..start];
        let mut nearest: Option<Effect> = None;
        for_each_keyword(dfa, &self.idle, before, |at, pattern| {
            if ascii_left_boundary(before, at) {
                nearest = Some(KEYWORDS[pattern].1);
            }
            true
        });
        let mut delta = match nearest {
            Some(Effect::Positive(bits)) if bits & kind.bit() != 0 => positive_boost(kind),
            Some(Effect::Negative) => -0.35,
            _ => 0.0,
        };
        if nearest.is_none() {
            let hi = (end + WINDOW_AFTER).min(text.len());
            let hi = text[end..hi]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(hi, |p| end + p);
            let after = &text[end..hi];
            let mut first = None;
            for_each_keyword(dfa, &self.idle, after, |at, pattern| {
                if ascii_left_boundary(after, at) {
                    first = Some(KEYWORDS[pattern].1);
                    return false;
                }
                true
            });
            if let Some(effect) = first {
                delta = match effect {
                    Effect::Positive(bits) if bits & kind.bit() != 0 => positive_boost(kind) / 2.0,
                    Effect::Negative => -0.2,
                    Effect::Positive(_) => 0.0,
                };
            }
        }
        delta + suffix_penalty(&text[end..])
    }
}

/// Calls `f(start, pattern)` for each leftmost-longest, non-overlapping keyword in `hay`, left
/// to right, until `f` returns false. The same matches as `AhoCorasick::find_iter`, walking the
/// DFA directly: a window is a few dozen bytes, and the iterator's per-search setup cost more
/// than the walk itself.
fn for_each_keyword(
    dfa: &DFA,
    idle: &[bool; 256],
    hay: &[u8],
    mut f: impl FnMut(usize, usize) -> bool,
) {
    let Ok(start) = dfa.start_state(Anchored::No) else {
        return;
    };
    let mut at = 0;
    while at < hay.len() {
        let mut sid = start;
        let mut found: Option<(usize, usize)> = None;
        let mut i = at;
        while i < hay.len() {
            if sid == start && idle[hay[i] as usize] {
                i += 1;
                continue;
            }
            sid = dfa.next_state(Anchored::No, sid, hay[i]);
            if dfa.is_special(sid) {
                if dfa.is_dead(sid) {
                    break;
                }
                if dfa.is_match(sid) {
                    let pid = dfa.match_pattern(sid, 0);
                    found = Some((i + 1 - dfa.pattern_len(pid), pid.as_usize()));
                    at = i + 1;
                }
            }
            i += 1;
        }
        let Some((s, pattern)) = found else {
            return;
        };
        if !f(s, pattern) {
            return;
        }
    }
}

fn positive_boost(kind: Kind) -> f32 {
    match kind {
        Kind::Passport | Kind::BankCard => 0.3,
        _ => 0.15,
    }
}

/// ASCII keywords must not continue a word on their left (`tel` in `hotel`, `id` in `paid`).
fn ascii_left_boundary(hay: &[u8], at: usize) -> bool {
    if !hay[at].is_ascii_alphabetic() {
        return true;
    }
    at == 0 || !hay[at - 1].is_ascii_alphabetic()
}

/// Units right after a number that make it a duration or a size, not an identifier.
fn suffix_penalty(after: &[u8]) -> f32 {
    let after = after.strip_prefix(b" ").unwrap_or(after);
    let unit_word = |w: &[u8]| {
        after.len() >= w.len()
            && after[..w.len()].eq_ignore_ascii_case(w)
            && after.get(w.len()).is_none_or(|c| !c.is_ascii_alphabetic())
    };
    if unit_word(b"ms")
        || unit_word(b"s")
        || unit_word(b"sec")
        || unit_word(b"bytes")
        || unit_word(b"ns")
        || unit_word(b"us")
        || after.starts_with("毫秒".as_bytes())
        || after.starts_with("秒".as_bytes())
        || after.starts_with("字节".as_bytes())
    {
        -0.4
    } else {
        0.0
    }
}

/// Moves `i` back to the start of a UTF-8 character so windows never start mid-character.
fn floor_char(text: &[u8], mut i: usize) -> usize {
    while i > 0 && i < text.len() && (text[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}
