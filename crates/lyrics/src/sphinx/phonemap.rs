//! The nearest ARPAbet phone of a phone symbol from any of the crate's pronouncers: ARPAbet
//! from the English dictionary (lowercase), letters from the letter-to-sound rules, IPA from
//! eSpeak-NG, pinyin initials and finals. Symbols the map does not know return `None` (the
//! acoustic model then scores the phone by its broad class only).

/// The ARPAbet phones of the Sphinx en-us model (without fillers and silence).
const ARPABET: [&str; 39] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
];

/// Whole symbols first (ARPAbet, digraphs, diphthongs, pinyin), before single characters.
const WHOLE: [(&str, &str); 48] = [
    ("ax", "AH"),
    ("axr", "ER"),
    ("ix", "IH"),
    ("ux", "UW"),
    ("er", "ER"),
    ("ai", "AY"),
    ("aɪ", "AY"),
    ("ay", "AY"),
    ("ei", "EY"),
    ("eɪ", "EY"),
    ("ey", "EY"),
    ("au", "AW"),
    ("aʊ", "AW"),
    ("ao", "AW"),
    ("ou", "OW"),
    ("oʊ", "OW"),
    ("əʊ", "OW"),
    ("ow", "OW"),
    ("oi", "OY"),
    ("ɔɪ", "OY"),
    ("oy", "OY"),
    ("eu", "OY"),
    ("äu", "OY"),
    ("ie", "IY"),
    ("ee", "IY"),
    ("ea", "IY"),
    ("oo", "UW"),
    ("ui", "EY"),
    ("uo", "AO"),
    ("iu", "UW"),
    ("ue", "EH"),
    ("üe", "EH"),
    ("ia", "AA"),
    ("ua", "AA"),
    ("ch", "CH"),
    ("tʃ", "CH"),
    ("dʒ", "JH"),
    ("sh", "SH"),
    ("sch", "SH"),
    ("sc", "SH"),
    ("zh", "ZH"),
    ("th", "TH"),
    ("ph", "F"),
    ("ng", "NG"),
    ("gn", "N"),
    ("qu", "K"),
    ("ck", "K"),
    ("gu", "G"),
];

fn single(c: char) -> Option<&'static str> {
    Some(match c {
        'a' | 'ɑ' | 'ɒ' | 'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ɶ' => "AA",
        'æ' => "AE",
        'ɐ' | 'ə' | 'ʌ' | 'ɵ' | 'ɘ' => "AH",
        'ɜ' | 'ɝ' | 'ɚ' => "ER",
        'e' | 'é' | 'è' | 'ê' | 'ë' | 'ɛ' | 'œ' | 'ɞ' => "EH",
        'ɪ' | 'ʏ' | 'ᵻ' => "IH",
        'i' | 'í' | 'ì' | 'î' | 'ï' | 'y' | 'ý' | 'ÿ' | 'ɨ' => "IY",
        'o' | 'ó' | 'ò' | 'ô' | 'õ' | 'ø' => "OW",
        'ɔ' => "AO",
        'ʊ' => "UH",
        'u' | 'ú' | 'ù' | 'û' | 'ü' | 'ɯ' | 'ʉ' | 'ɤ' => "UW",
        'p' => "P",
        'b' | 'β' => "B",
        't' | 'ʈ' => "T",
        'd' | 'ɖ' => "D",
        'k' | 'c' | 'q' | 'x' => "K",
        'g' | 'ɡ' | 'ɣ' | 'ɟ' | 'ɢ' => "G",
        'm' => "M",
        'n' | 'ɲ' | 'ñ' | 'ɳ' => "N",
        'ŋ' | 'ɴ' => "NG",
        'l' | 'ɫ' | 'ʎ' | 'ɭ' | 'ɬ' => "L",
        'r' | 'ɹ' | 'ɾ' | 'ʁ' | 'ʀ' | 'ɻ' => "R",
        'w' | 'ɥ' | 'ɰ' => "W",
        'j' => "JH",
        'ʝ' => "Y",
        'f' | 'ɸ' => "F",
        'v' | 'ʋ' => "V",
        's' | 'ç' | 'ß' => "S",
        'z' => "Z",
        'ʃ' | 'ɕ' | 'ʂ' => "SH",
        'ʒ' | 'ʑ' | 'ʐ' => "ZH",
        'θ' => "TH",
        'ð' => "DH",
        'h' | 'χ' | 'ħ' | 'ʕ' => "HH",
        _ => return None,
    })
}

/// The ARPAbet phone of `symbol`: with `nearest`, the nearest one for symbols of any system
/// (letters, IPA, pinyin); without it, only ARPAbet symbols (the English dictionary's) map.
/// `None` when the symbol is unknown.
pub(crate) fn to_arpabet(symbol: &str, nearest: bool) -> Option<&'static str> {
    let s: String = symbol
        .chars()
        .filter(|c| !matches!(c, 'ː' | 'ˑ' | '\u{303}' | '\u{329}' | '\u{32f}' | '\u{361}'))
        .filter(|c| !c.is_ascii_digit())
        .collect::<String>()
        .to_lowercase();
    if s.is_empty() {
        return None;
    }
    let upper = s.to_uppercase();
    if let Some(a) = ARPABET.iter().find(|a| **a == upper) {
        // Lowercase ARPAbet from the dictionary (and the letters that spell the same phone).
        if s.chars().count() > 1 || matches!(s.as_str(), "b" | "d" | "f" | "g" | "k" | "l") {
            return Some(a);
        }
    }
    if !nearest {
        if let Some(a) = ARPABET.iter().find(|a| **a == upper) {
            return Some(a);
        }
        // The dictionary's reduced vowels.
        return WHOLE[..4].iter().find(|(w, _)| *w == s).map(|(_, a)| *a);
    }
    if let Some((_, a)) = WHOLE.iter().find(|(w, _)| *w == s) {
        return Some(a);
    }
    // Letter and IPA clusters: the first character that maps.
    s.chars().find_map(single)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_of_every_system_map() {
        for (sym, want) in [
            // ARPAbet from the dictionary.
            ("ah", Some("AH")),
            ("hh", Some("HH")),
            ("ng", Some("NG")),
            ("axr", Some("ER")),
            // Letters.
            ("ou", Some("OW")),
            ("ch", Some("CH")),
            ("ll", Some("L")),
            // IPA.
            ("ʃ", Some("SH")),
            ("aɪ", Some("AY")),
            ("iː", Some("IY")),
            ("ə", Some("AH")),
            // Pinyin.
            ("zh", Some("ZH")),
            ("ang", Some("AA")),
            ("ü", Some("UW")),
            // Unknown.
            ("ʔ", None),
            ("", None),
        ] {
            assert_eq!(to_arpabet(sym, true), want, "{sym}");
        }
    }

    #[test]
    fn without_nearest_only_arpabet_maps() {
        for (sym, want) in [
            ("ah", Some("AH")),
            ("ax", Some("AH")),
            ("m", Some("M")),
            ("ou", None),
            ("ʃ", None),
            ("a", None),
        ] {
            assert_eq!(to_arpabet(sym, false), want, "{sym}");
        }
    }

    #[test]
    fn every_mapped_phone_is_in_the_inventory() {
        for (_, a) in WHOLE {
            assert!(ARPABET.contains(&a), "{a}");
        }
        for c in "aæəɜeɪiɔʊupbtdkgmnŋlrwjfvszʃʒθðh".chars() {
            assert!(single(c).is_some_and(|a| ARPABET.contains(&a)), "{c}");
        }
    }
}
