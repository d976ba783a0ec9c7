//! Pronunciation: phones with a broad class, from letter-to-sound rules, pinyin, or eSpeak-NG.

use std::process::Command;
use std::sync::Arc;

use crate::dict::PronunciationDict;
use crate::error::{Error, Result};
use crate::text::{Language, Token, is_han};

/// The broad class of a phone; the first acoustic model scores these classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneClass {
    /// Vowels and diphthongs: the nuclei that carry sung notes.
    Vowel,
    /// Nasals, liquids and glides.
    Sonorant,
    /// Fricatives and affricates.
    Fricative,
    /// Plosives.
    Stop,
}

/// One phone: a symbol (IPA from eSpeak-NG, pinyin parts, or letters) and its broad class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    /// The symbol, e.g. `a`, `ʃ`, `zh`, `ang`.
    pub symbol: String,
    /// Its broad class.
    pub class: PhoneClass,
}

impl Phone {
    pub(crate) fn new(symbol: impl Into<String>, class: PhoneClass) -> Self {
        Self {
            symbol: symbol.into(),
            class,
        }
    }
}

/// Turns tokens into phones. Rules by default; for English, a pronunciation dictionary first
/// when one is given; eSpeak-NG when enabled and installed.
#[derive(Debug, Clone)]
pub struct Pronouncer {
    lang: Language,
    espeak: bool,
    dict: Option<Arc<PronunciationDict>>,
}

impl Pronouncer {
    /// A rule-based pronouncer for `lang` (pinyin for Chinese).
    pub fn new(lang: Language) -> Self {
        Self {
            lang,
            espeak: false,
            dict: None,
        }
    }

    /// Looks English words up in `dict` before falling back to the rules (other languages
    /// ignore it). eSpeak-NG, when enabled, still comes first.
    pub fn with_dictionary(mut self, dict: Option<Arc<PronunciationDict>>) -> Self {
        self.dict = dict;
        self
    }

    /// Uses eSpeak-NG (`espeak-ng -q --ipa -v LANG`) for whole lines, falling back to rules when a
    /// line's word count does not match.
    pub fn with_espeak(mut self, on: bool) -> Self {
        self.espeak = on;
        self
    }

    /// The language.
    pub fn language(&self) -> &Language {
        &self.lang
    }

    /// Whether eSpeak-NG pronounces whole lines.
    pub(crate) fn uses_espeak(&self) -> bool {
        self.espeak
    }

    /// The English dictionary, when one is given.
    pub(crate) fn dictionary(&self) -> Option<Arc<PronunciationDict>> {
        self.dict.clone()
    }

    /// Phones for each token of one line (an empty list for tokens with nothing sung).
    pub fn line(&self, tokens: &[Token]) -> Result<Vec<Vec<Phone>>> {
        if self.espeak && self.lang != Language::Zh {
            let spoken: Vec<&str> = tokens
                .iter()
                .map(|t| t.spoken.as_str())
                .filter(|s| !s.is_empty())
                .collect();
            if !spoken.is_empty() {
                let ipa = espeak_ipa(&spoken.join(" "), self.lang.espeak_voice())?;
                let words: Vec<&str> = ipa.split_whitespace().collect();
                if words.len() == spoken.len() {
                    let mut it = words.into_iter();
                    return Ok(tokens
                        .iter()
                        .map(|t| {
                            if t.spoken.is_empty() {
                                Vec::new()
                            } else {
                                it.next().map(ipa_phones).unwrap_or_default()
                            }
                        })
                        .collect());
                }
            }
        }
        Ok(tokens.iter().map(|t| self.word(&t.spoken)).collect())
    }

    /// Phones of one normalised word: pinyin for Han characters, the dictionary for English words
    /// it has (when one is given), rules otherwise.
    pub fn word(&self, spoken: &str) -> Vec<Phone> {
        let mut out = Vec::new();
        for part in spoken.split_whitespace() {
            if part.chars().any(is_han) {
                for c in part.chars() {
                    out.extend(han_phones(c));
                }
            } else if let Some(phones) = self.lookup(part) {
                out.extend(phones);
            } else {
                out.extend(letter_phones(part, &self.lang));
            }
        }
        out
    }

    /// The dictionary's phones for an English word: as it is, then without its apostrophes and
    /// other marks (`rock'n'roll`, `it's` -> `its`).
    fn lookup(&self, word: &str) -> Option<Vec<Phone>> {
        let dict = self.dict.as_deref().filter(|_| self.lang == Language::En)?;
        let lower = word.to_lowercase();
        dict.get(&lower).or_else(|| {
            let letters: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
            dict.get(&letters)
        })
    }
}

/// Runs eSpeak-NG and returns IPA, one word per whitespace-separated item.
pub fn espeak_ipa(text: &str, voice: &str) -> Result<String> {
    if !voice
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'+')
    {
        return Err(Error::Espeak(format!("bad voice name {voice:?}")));
    }
    let out = Command::new("espeak-ng")
        .args(["-q", "--ipa", "-v", voice, "--"])
        .arg(text)
        .output()
        .map_err(|e| Error::Espeak(format!("cannot run espeak-ng: {e}")))?;
    if !out.status.success() {
        return Err(Error::Espeak(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .replace(['ˈ', 'ˌ', '_', '-'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

fn ipa_class(c: char) -> Option<PhoneClass> {
    const VOWELS: &str = "aeiouyɑɐɒæɛɜəɪʊʌɔøœɯɤɨʉɘɵɞɶʏᵻɚɝ";
    const SONORANTS: &str = "mnɲŋɴlrɾʁʀɹjwɥʎɫɭɳɻʋɰ";
    const FRICATIVES: &str = "fvszʃʒθðxçhχɣβɸɕʑʂʐɬħʕʝ";
    const STOPS: &str = "pbtdkgʔcɟqɢʈɖ";
    if VOWELS.contains(c) {
        Some(PhoneClass::Vowel)
    } else if SONORANTS.contains(c) {
        Some(PhoneClass::Sonorant)
    } else if FRICATIVES.contains(c) {
        Some(PhoneClass::Fricative)
    } else if STOPS.contains(c) {
        Some(PhoneClass::Stop)
    } else {
        None
    }
}

/// Splits an IPA word into phones; adjacent vowel symbols and length marks join one nucleus,
/// tie bars join affricates.
pub fn ipa_phones(word: &str) -> Vec<Phone> {
    let mut out: Vec<Phone> = Vec::new();
    let mut tie = false;
    for c in word.chars() {
        if c == '\u{361}' || c == '\u{35c}' {
            tie = true;
            continue;
        }
        if matches!(c, 'ː' | 'ˑ' | '\u{303}' | '\u{329}' | '\u{32f}') {
            if let Some(last) = out.last_mut() {
                last.symbol.push(c);
            }
            continue;
        }
        let Some(class) = ipa_class(c) else { continue };
        match out.last_mut() {
            Some(last)
                if tie || (class == PhoneClass::Vowel && last.class == PhoneClass::Vowel) =>
            {
                last.symbol.push(c);
                if tie {
                    last.class = PhoneClass::Fricative;
                }
            }
            _ => out.push(Phone::new(c.to_string(), class)),
        }
        tie = false;
    }
    out
}

fn is_vowel_letter(c: char) -> bool {
    "aeiouyàâäáéèêëíìîïóòôöúùûüýÿæœå".contains(c)
}

/// Letter-to-sound rules: a grapheme fallback for any Latin-script language, with the few rules
/// per language that change the number of sung nuclei (silent letters, digraphs).
fn letter_phones(word: &str, lang: &Language) -> Vec<Phone> {
    let mut w: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    // Silent endings.
    match lang {
        Language::Fr => {
            let s: String = w.iter().collect();
            for end in ["ent", "es", "e", "s", "t", "x", "d", "z"] {
                if s.len() > end.len() + 1 && s.ends_with(end) {
                    let keep = if end == "ent" {
                        w.len() - 3
                    } else {
                        w.len() - end.chars().count()
                    };
                    // "-ent" is silent on verbs; keep it after a vowel-less stem (e.g. "dent").
                    if end != "ent" || w[..keep].iter().any(|&c| is_vowel_letter(c)) {
                        w.truncate(keep);
                        break;
                    }
                }
            }
        }
        Language::En => {
            let n = w.len();
            if n > 3
                && w[n - 1] == 'e'
                && !is_vowel_letter(w[n - 2])
                && w[n - 2] != 'l'
                && w[..n - 2].iter().any(|&c| is_vowel_letter(c))
            {
                w.truncate(n - 1);
            }
        }
        _ => {}
    }
    let silent_h = matches!(lang, Language::Fr | Language::Es | Language::Other(_));
    let mut out: Vec<Phone> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let c = w[i];
        let next = w.get(i + 1).copied();
        if is_vowel_letter(c) && !(c == 'y' && next.is_some_and(is_vowel_letter) && i == 0) {
            let mut sym = c.to_string();
            i += 1;
            while i < w.len() && is_vowel_letter(w[i]) {
                sym.push(w[i]);
                i += 1;
            }
            out.push(Phone::new(sym, PhoneClass::Vowel));
            continue;
        }
        let pair: String = [Some(c), next].into_iter().flatten().collect();
        let (sym, class, len) = match pair.as_str() {
            "ch" | "sh" | "ph" | "th" | "sc" | "zh" => (pair.clone(), PhoneClass::Fricative, 2),
            "ll" | "nn" | "mm" | "rr" | "gn" | "ng" | "ñ" => {
                (pair.clone(), PhoneClass::Sonorant, 2)
            }
            "qu" | "ck" | "gu" => (pair.clone(), PhoneClass::Stop, 2),
            _ => {
                let class = match c {
                    'm' | 'n' | 'l' | 'r' | 'w' | 'j' | 'ñ' | 'y' => PhoneClass::Sonorant,
                    'f' | 'v' | 's' | 'z' | 'x' | 'ß' | 'ç' | 'h' => PhoneClass::Fricative,
                    _ => PhoneClass::Stop,
                };
                (c.to_string(), class, 1)
            }
        };
        i += len;
        if sym == "h" && silent_h {
            continue;
        }
        if let Some(last) = out.last()
            && last.symbol == sym
        {
            continue;
        }
        out.push(Phone::new(sym, class));
    }
    out
}

const PINYIN_INITIALS: [&str; 23] = [
    "zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r",
    "z", "c", "s", "y", "w",
];

/// Splits a toneless pinyin syllable into its initial and final.
pub fn pinyin_parts(syllable: &str) -> (&str, &str) {
    for ini in PINYIN_INITIALS {
        if let Some(fin) = syllable.strip_prefix(ini)
            && !fin.is_empty()
        {
            return (ini, fin);
        }
    }
    ("", syllable)
}

fn han_phones(c: char) -> Vec<Phone> {
    use pinyin::ToPinyin;
    let Some(py) = c.to_pinyin() else {
        return vec![Phone::new("a", PhoneClass::Vowel)];
    };
    let (ini, fin) = pinyin_parts(py.plain());
    let mut out = Vec::new();
    if !ini.is_empty() {
        let class = match ini {
            "m" | "n" | "l" | "r" | "y" | "w" => PhoneClass::Sonorant,
            "f" | "h" | "x" | "s" | "sh" | "zh" | "ch" | "j" | "q" | "z" | "c" => {
                PhoneClass::Fricative
            }
            _ => PhoneClass::Stop,
        };
        out.push(Phone::new(ini, class));
    }
    // The final is the sung nucleus; a nasal coda is a sonorant of its own.
    let (nucleus, coda) = if let Some(n) = fin.strip_suffix("ng") {
        (n, Some("ng"))
    } else if let Some(n) = fin.strip_suffix('n') {
        (n, Some("n"))
    } else {
        (fin, None)
    };
    out.push(Phone::new(
        if nucleus.is_empty() { fin } else { nucleus },
        PhoneClass::Vowel,
    ));
    if let (Some(coda), false) = (coda, nucleus.is_empty()) {
        out.push(Phone::new(coda, PhoneClass::Sonorant));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vowels(p: &[Phone]) -> usize {
        p.iter().filter(|x| x.class == PhoneClass::Vowel).count()
    }

    #[test]
    fn nuclei_counts_by_rules() {
        for (word, lang, n) in [
            ("fantasma", Language::Es, 3),
            ("hueco", Language::Es, 2),
            ("meilleur", Language::Fr, 2),
            ("chantent", Language::Fr, 1),
            ("veränderung", Language::De, 4),
            ("time", Language::En, 1),
            ("table", Language::En, 2),
            ("rhythm", Language::Other("xx".into()), 1),
        ] {
            let p = Pronouncer::new(lang.clone()).word(word);
            assert_eq!(vowels(&p), n, "{word} {p:?}");
        }
    }

    #[test]
    fn pinyin_initials_and_finals() {
        assert_eq!(pinyin_parts("zhang"), ("zh", "ang"));
        assert_eq!(pinyin_parts("ai"), ("", "ai"));
        assert_eq!(pinyin_parts("xiong"), ("x", "iong"));
        let p = Pronouncer::new(Language::Zh).word("中");
        let syms: Vec<_> = p.iter().map(|x| x.symbol.as_str()).collect();
        assert_eq!(syms, vec!["zh", "o", "ng"]);
    }

    #[test]
    fn ipa_splitting() {
        let p = ipa_phones("fɑ̃tˈasma");
        assert_eq!(vowels(&p), 3, "{p:?}");
        let p = ipa_phones("t͡ʃaʊ");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].class, PhoneClass::Fricative);
    }

    #[test]
    fn espeak_when_installed() {
        if Command::new("espeak-ng").arg("--version").output().is_err() {
            eprintln!("SKIP espeak_when_installed: espeak-ng not installed");
            return;
        }
        let tokens = crate::text::tokenize("soy un fantasma", &Language::Es);
        let p = Pronouncer::new(Language::Es)
            .with_espeak(true)
            .line(&tokens)
            .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(vowels(&p[2]), 3, "{p:?}");
    }
}
