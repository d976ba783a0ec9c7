//! Validators for each identifier kind, on normalised ASCII (full-width digits already folded,
//! separators already removed). Each returns `true` only for a value that passes every check.

use crate::regions::PREFECTURES;

/// GB 11643 weights for the 17 leading digits: 2^(17 - i) mod 11.
const RID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of an 18-character resident ID, from its first 17 digits.
/// Returns `None` when one of them is not a digit.
#[must_use]
pub fn resident_id_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (&c, &w) in first17.iter().zip(RID_WEIGHTS.iter()) {
        if !c.is_ascii_digit() {
            return None;
        }
        sum += u32::from(c - b'0') * w;
    }
    let check = (12 - sum % 11) % 11;
    Some(if check == 10 {
        b'X'
    } else {
        b'0' + check as u8
    })
}

/// True when `prefix` (the first four digits of an administrative division code) names a known
/// province and prefecture.
#[must_use]
pub fn known_region(code: &[u8]) -> bool {
    if code.len() < 4 || !code[..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let v = code[..4]
        .iter()
        .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'));
    PREFECTURES.binary_search(&v).is_ok()
}

/// True when the two digits name a known province (or special region).
#[must_use]
pub fn known_province(code: &[u8]) -> bool {
    if code.len() < 2 || !code[..2].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let p = u16::from(code[0] - b'0') * 10 + u16::from(code[1] - b'0');
    let lo = PREFECTURES.partition_point(|&c| c < p * 100);
    PREFECTURES.get(lo).is_some_and(|&c| c / 100 == p)
}

fn digits_value(d: &[u8]) -> u32 {
    d.iter()
        .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
}

/// True for a real calendar date `YYYYMMDD` with `1900 <= YYYY <= max_year`.
#[must_use]
pub fn valid_date(d: &[u8], max_year: u16) -> bool {
    if d.len() != 8 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (y, m, day) = (
        digits_value(&d[..4]),
        digits_value(&d[4..6]),
        digits_value(&d[6..]),
    );
    if y < 1900 || y > u32::from(max_year) || !(1..=12).contains(&m) || day == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// A PRC resident ID (GB 11643-1999, 18 characters, upper- or lower-case `X`): check character,
/// birth date between 1900 and `max_birth_year`, known region code.
#[must_use]
pub fn resident_id(v: &[u8], max_birth_year: u16) -> bool {
    if v.len() != 18 {
        return false;
    }
    let Some(check) = resident_id_check_char(&v[..17]) else {
        return false;
    };
    v[17].to_ascii_uppercase() == check
        && valid_date(&v[6..14], max_birth_year)
        && known_region(&v[..6])
}

/// The 31 characters of GB 32100 (digits and upper-case letters without I, O, S, V, Z).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100 weights: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 32100 check character of a unified social credit code, from its first 17 characters.
#[must_use]
pub fn uscc_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (&c, &w) in first17.iter().zip(USCC_WEIGHTS.iter()) {
        sum += uscc_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_ALPHABET[check as usize])
}

/// A unified social credit code (GB 32100-2015): registration authority (`1`-`9`, `A`, `N`, `Y`),
/// organisation category (`1`-`9`), six-digit region code in a known province (or `10` for
/// central bodies), nine-character organisation code and check character.
#[must_use]
pub fn uscc(v: &[u8]) -> bool {
    if v.len() != 18 {
        return false;
    }
    let authority_ok = matches!(v[0], b'1'..=b'9' | b'A' | b'N' | b'Y');
    let category_ok = matches!(v[1], b'1'..=b'9');
    let region_ok =
        v[2..8].iter().all(u8::is_ascii_digit) && (v[2..4] == *b"10" || known_province(&v[2..4]));
    authority_ok && category_ok && region_ok && uscc_check_char(&v[..17]) == Some(v[17])
}

/// The Luhn (mod 10) checksum over ASCII digits.
#[must_use]
pub fn luhn(v: &[u8]) -> bool {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in v.iter().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// True when the leading digits and length match a card issuer: UnionPay (62, 16-19 digits),
/// Chinese domestic debit ranges (60, 9xxx with 19 digits), Visa (4, 16 or 19), Mastercard
/// (51-55, 2221-2720, 16), JCB (3528-3589, 16-19), Discover (6011, 644-649, 65, 16-19).
#[must_use]
pub fn card_issuer(v: &[u8]) -> bool {
    let n = v.len();
    if !(16..=19).contains(&n) || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let p2 = digits_value(&v[..2]);
    let p3 = digits_value(&v[..3]);
    let p4 = digits_value(&v[..4]);
    match v[0] {
        b'6' => p2 == 62 || p2 == 60 || p2 == 65 || p4 == 6011 || (644..=649).contains(&p3),
        b'4' => n == 16 || n == 19,
        b'5' => (51..=55).contains(&p2) && n == 16,
        b'2' => (2221..=2720).contains(&p4) && n == 16,
        b'3' => (3528..=3589).contains(&p4),
        b'9' => n == 19 && matches!(p4, 9400 | 9555 | 9558 | 9559 | 9588),
        _ => false,
    }
}

/// A bank card number: 16-19 digits, a known issuer range and a valid Luhn digit.
#[must_use]
pub fn bank_card(v: &[u8]) -> bool {
    card_issuer(v) && luhn(v)
}

/// The three-digit PRC mobile segments that take 11-digit personal numbers (basic operators,
/// virtual operators, IoT voice), the same set as libphonenumber's metadata (data-only 146, 148,
/// 149 excluded; 161 and 174 are split by sub-range there and left out here).
const MOBILE_SEGMENTS: &[u16] = &[
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 145, 147, 150, 151, 152, 153, 155, 156, 157,
    158, 159, 162, 165, 166, 167, 170, 171, 172, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184,
    185, 186, 187, 188, 189, 190, 191, 192, 193, 195, 196, 197, 198, 199,
];

/// A PRC mobile number: 11 digits in an allocated segment.
#[must_use]
pub fn cn_mobile(v: &[u8]) -> bool {
    if v.len() != 11 || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let seg = digits_value(&v[..3]) as u16;
    MOBILE_SEGMENTS.binary_search(&seg).is_ok()
}

/// A PRC passport number: `E` + 8 digits, `E` + letter (not I or O) + 7 digits (e-passports),
/// `G` + 8 digits (older ordinary), `D`, `P` or `S` + 7 or 8 digits (diplomatic, public affairs,
/// service). Returns a plausibility weight, 0 when it does not match.
#[must_use]
pub fn passport(v: &[u8]) -> f32 {
    match v {
        [b'E', rest @ ..] if rest.len() == 8 && rest.iter().all(u8::is_ascii_digit) => 1.0,
        [b'E', l, rest @ ..]
            if l.is_ascii_uppercase()
                && *l != b'I'
                && *l != b'O'
                && rest.len() == 7
                && rest.iter().all(u8::is_ascii_digit) =>
        {
            1.0
        }
        [b'G', rest @ ..] if rest.len() == 8 && rest.iter().all(u8::is_ascii_digit) => 0.9,
        [b'D' | b'P' | b'S', rest @ ..]
            if (rest.len() == 7 || rest.len() == 8) && rest.iter().all(u8::is_ascii_digit) =>
        {
            0.6
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_known_answers() {
        // Public GB 11643 worked example and variations.
        assert!(resident_id(b"11010519491231002X", 2100));
        assert!(resident_id(b"11010519491231002x", 2100));
        assert!(!resident_id(b"110105194912310021", 2100));
        assert!(!resident_id(b"11010519491331002X", 2100)); // month 13
        assert!(!resident_id(b"11010519491231002X", 1940)); // born after max year
    }

    #[test]
    fn date_rules() {
        assert!(valid_date(b"20000229", 2100));
        assert!(!valid_date(b"19000229", 2100));
        assert!(!valid_date(b"20230431", 2100));
        assert!(!valid_date(b"18991231", 2100));
    }

    #[test]
    fn uscc_known_answers() {
        assert!(uscc(b"91110000802100433B"));
        assert!(!uscc(b"91110000802100433C"));
    }

    #[test]
    fn cards() {
        assert!(bank_card(b"6222021234567890128") == luhn(b"6222021234567890128"));
        assert!(bank_card(b"4111111111111111"));
        assert!(!bank_card(b"4111111111111112"));
        assert!(!bank_card(b"1111111111111117"));
    }

    #[test]
    fn mobiles() {
        assert!(cn_mobile(b"13812345678"));
        assert!(cn_mobile(b"19912345678"));
        assert!(!cn_mobile(b"12812345678"));
        assert!(!cn_mobile(b"15412345678"));
        assert!(!cn_mobile(b"1381234567"));
    }

    #[test]
    fn passports() {
        assert!(passport(b"E12345678") > 0.0);
        assert!(passport(b"EA1234567") > 0.0);
        assert!(passport(b"EI1234567") == 0.0);
        assert!(passport(b"E1234567") == 0.0);
    }
}
