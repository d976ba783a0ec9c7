//! Text normalisation (case, punctuation, numbers spelled out) and tokens (words for Latin
//! scripts, one sung syllable per Han character).

/// A language, by ISO 639-1 code where one exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language {
    /// English.
    En,
    /// French.
    Fr,
    /// Spanish.
    Es,
    /// German.
    De,
    /// Mandarin Chinese.
    Zh,
    /// Any other language, by the code the caller gave (lower case).
    Other(String),
}

impl Language {
    /// Parses `en`, `fr`, `es`, `de`, `zh`/`cmn` or an English language name (`French`);
    /// anything else becomes [`Language::Other`], with the ISO 639-1 code for a few more names
    /// (`Italian` is `it`, as eSpeak-NG and Whisper call it).
    pub fn from_code(code: &str) -> Self {
        let c = code.trim().to_ascii_lowercase();
        let primary = c.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" | "eng" | "english" => Self::En,
            "fr" | "fra" | "fre" | "french" => Self::Fr,
            "es" | "spa" | "spanish" => Self::Es,
            "de" | "deu" | "ger" | "german" => Self::De,
            "zh" | "cmn" | "zho" | "chi" | "chinese" | "mandarin" => Self::Zh,
            "italian" => Self::Other("it".into()),
            "portuguese" => Self::Other("pt".into()),
            "dutch" => Self::Other("nl".into()),
            "russian" => Self::Other("ru".into()),
            "polish" => Self::Other("pl".into()),
            "swedish" => Self::Other("sv".into()),
            "japanese" => Self::Other("ja".into()),
            "korean" => Self::Other("ko".into()),
            _ => Self::Other(primary.to_string()),
        }
    }

    /// The eSpeak-NG voice name for this language.
    pub fn espeak_voice(&self) -> &str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::Es => "es",
            Self::De => "de",
            Self::Zh => "cmn",
            Self::Other(c) => c,
        }
    }

    /// Guesses the language of lyrics from their letters and common words (used when the caller
    /// does not say). Chinese when Han characters dominate; otherwise the best of en/fr/es/de.
    pub fn guess(text: &str) -> Self {
        let han = text.chars().filter(|&c| is_han(c)).count();
        let letters = text.chars().filter(|c| c.is_alphabetic()).count();
        if han * 2 > letters.max(1) {
            return Self::Zh;
        }
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphabetic() && c != '\'')
            .collect();
        let score = |list: &[&str]| words.iter().filter(|w| list.contains(w)).count();
        let candidates = [
            (
                Self::En,
                score(&[
                    "the", "and", "you", "i", "is", "my", "me", "it", "to", "of", "in", "love",
                    "your",
                ]),
            ),
            (
                Self::Fr,
                score(&[
                    "le", "la", "les", "et", "je", "tu", "de", "est", "un", "une", "pas", "que",
                    "pour", "des", "c'est", "qui",
                ]),
            ),
            (
                Self::Es,
                score(&[
                    "el", "la", "los", "las", "y", "que", "de", "en", "un", "una", "mi", "yo",
                    "no", "es", "por", "con", "se",
                ]),
            ),
            (
                Self::De,
                score(&[
                    "der", "die", "das", "und", "ich", "du", "nicht", "ist", "ein", "eine", "mit",
                    "zu", "es", "wir", "sie", "auf",
                ]),
            ),
        ];
        let extra = |s: &str| lower.chars().filter(|c| s.contains(*c)).count();
        let bonus = [0, extra("çèêàù"), extra("ñ¿¡"), extra("äöüß")];
        candidates
            .into_iter()
            .zip(bonus)
            .max_by_key(|((_, s), b)| s * 2 + b)
            .map(|((l, _), _)| l)
            .unwrap_or(Self::En)
    }
}

/// True for CJK unified ideographs (the Han characters sung one syllable each).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// One token of the lyrics: a word as written (what is timed) and its normalised spoken form.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token as written, punctuation included.
    pub text: String,
    /// Lower case, punctuation removed, numbers spelled out; empty when nothing is sung
    /// (a lone dash, an ellipsis).
    pub spoken: String,
}

/// Splits one lyric line into tokens: whitespace-separated words, and each Han character as a
/// token of its own.
pub fn tokenize(line: &str, lang: &Language) -> Vec<Token> {
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        if word.chars().any(is_han) {
            // Each Han character is one syllable; other characters in the same chunk
            // (Latin letters, digits) stay together.
            let mut buf = String::new();
            for c in word.chars() {
                if is_han(c) {
                    if !buf.is_empty() {
                        out.push(token(&std::mem::take(&mut buf), lang));
                    }
                    out.push(Token {
                        text: c.to_string(),
                        spoken: c.to_string(),
                    });
                } else if c.is_alphanumeric() {
                    buf.push(c);
                } else if let Some(last) = out.last_mut().filter(|_| buf.is_empty()) {
                    // Punctuation sticks to the previous character.
                    last.text.push(c);
                } else {
                    buf.push(c);
                }
            }
            if !buf.is_empty() {
                out.push(token(&buf, lang));
            }
        } else {
            out.push(token(word, lang));
        }
    }
    out
}

fn token(word: &str, lang: &Language) -> Token {
    Token {
        text: word.to_string(),
        spoken: normalize(word, lang),
    }
}

/// Normalises text for pronunciation: lower case, apostrophes and hyphens become word breaks,
/// other punctuation goes, digits are spelled out in `lang` (English for unsupported languages).
pub fn normalize(text: &str, lang: &Language) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            let spelled = digits
                .parse::<u64>()
                .ok()
                .filter(|&n| n < 1_000_000)
                .map(|n| spell_number(n, lang));
            match spelled {
                Some(s) => {
                    out.push(' ');
                    out.push_str(&s);
                    out.push(' ');
                }
                // Long digit strings are read digit by digit.
                None => {
                    for d in digits.chars() {
                        out.push(' ');
                        out.push_str(&spell_number(u64::from(d.to_digit(10).unwrap_or(0)), lang));
                    }
                    out.push(' ');
                }
            }
            digits.clear();
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut out);
        if c.is_alphabetic() || is_han(c) {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    flush(&mut digits, &mut out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Spells out a whole number below a million.
pub fn spell_number(n: u64, lang: &Language) -> String {
    match lang {
        Language::Fr => french(n),
        Language::Es => spanish(n),
        Language::De => german(n),
        Language::Zh => chinese(n),
        _ => english(n),
    }
}

fn english(n: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    match n {
        0..=19 => ONES[n as usize].to_string(),
        20..=99 => {
            let t = TENS[(n / 10) as usize];
            if n.is_multiple_of(10) {
                t.to_string()
            } else {
                format!("{t} {}", ONES[(n % 10) as usize])
            }
        }
        100..=999 => {
            let rest = n % 100;
            let h = format!("{} hundred", ONES[(n / 100) as usize]);
            if rest == 0 {
                h
            } else {
                format!("{h} {}", english(rest))
            }
        }
        _ => {
            let rest = n % 1000;
            let th = format!("{} thousand", english(n / 1000));
            if rest == 0 {
                th
            } else {
                format!("{th} {}", english(rest))
            }
        }
    }
}

fn french(n: u64) -> String {
    const ONES: [&str; 17] = [
        "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
        "onze", "douze", "treize", "quatorze", "quinze", "seize",
    ];
    const TENS: [&str; 7] = [
        "",
        "dix",
        "vingt",
        "trente",
        "quarante",
        "cinquante",
        "soixante",
    ];
    match n {
        0..=16 => ONES[n as usize].to_string(),
        17..=19 => format!("dix {}", ONES[(n - 10) as usize]),
        20..=69 => {
            let (t, u) = (n / 10, n % 10);
            match u {
                0 => TENS[t as usize].to_string(),
                1 => format!("{} et un", TENS[t as usize]),
                _ => format!("{} {}", TENS[t as usize], ONES[u as usize]),
            }
        }
        70..=79 => {
            if n == 71 {
                "soixante et onze".into()
            } else {
                format!("soixante {}", french(n - 60))
            }
        }
        80 => "quatre vingts".into(),
        81..=99 => format!("quatre vingt {}", french(n - 80)),
        100..=999 => {
            let (h, rest) = (n / 100, n % 100);
            let head = if h == 1 {
                "cent".to_string()
            } else {
                format!("{} cent", ONES[h as usize])
            };
            if rest == 0 {
                head
            } else {
                format!("{head} {}", french(rest))
            }
        }
        _ => {
            let (th, rest) = (n / 1000, n % 1000);
            let head = if th == 1 {
                "mille".to_string()
            } else {
                format!("{} mille", french(th))
            };
            if rest == 0 {
                head
            } else {
                format!("{head} {}", french(rest))
            }
        }
    }
}

fn spanish(n: u64) -> String {
    const ONES: [&str; 30] = [
        "cero",
        "uno",
        "dos",
        "tres",
        "cuatro",
        "cinco",
        "seis",
        "siete",
        "ocho",
        "nueve",
        "diez",
        "once",
        "doce",
        "trece",
        "catorce",
        "quince",
        "dieciséis",
        "diecisiete",
        "dieciocho",
        "diecinueve",
        "veinte",
        "veintiuno",
        "veintidós",
        "veintitrés",
        "veinticuatro",
        "veinticinco",
        "veintiséis",
        "veintisiete",
        "veintiocho",
        "veintinueve",
    ];
    const TENS: [&str; 10] = [
        "",
        "",
        "",
        "treinta",
        "cuarenta",
        "cincuenta",
        "sesenta",
        "setenta",
        "ochenta",
        "noventa",
    ];
    const HUNDREDS: [&str; 10] = [
        "",
        "ciento",
        "doscientos",
        "trescientos",
        "cuatrocientos",
        "quinientos",
        "seiscientos",
        "setecientos",
        "ochocientos",
        "novecientos",
    ];
    match n {
        0..=29 => ONES[n as usize].to_string(),
        30..=99 => {
            let t = TENS[(n / 10) as usize];
            if n.is_multiple_of(10) {
                t.to_string()
            } else {
                format!("{t} y {}", ONES[(n % 10) as usize])
            }
        }
        100 => "cien".into(),
        101..=999 => {
            let rest = n % 100;
            let h = HUNDREDS[(n / 100) as usize];
            if rest == 0 {
                h.to_string()
            } else {
                format!("{h} {}", spanish(rest))
            }
        }
        _ => {
            let (th, rest) = (n / 1000, n % 1000);
            let head = if th == 1 {
                "mil".to_string()
            } else {
                format!("{} mil", spanish(th))
            };
            if rest == 0 {
                head
            } else {
                format!("{head} {}", spanish(rest))
            }
        }
    }
}

fn german(n: u64) -> String {
    const ONES: [&str; 20] = [
        "null",
        "eins",
        "zwei",
        "drei",
        "vier",
        "fünf",
        "sechs",
        "sieben",
        "acht",
        "neun",
        "zehn",
        "elf",
        "zwölf",
        "dreizehn",
        "vierzehn",
        "fünfzehn",
        "sechzehn",
        "siebzehn",
        "achtzehn",
        "neunzehn",
    ];
    const TENS: [&str; 10] = [
        "", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig",
        "neunzig",
    ];
    let unit = |u: u64| {
        if u == 1 {
            "ein".to_string()
        } else {
            ONES[u as usize].to_string()
        }
    };
    match n {
        0..=19 => ONES[n as usize].to_string(),
        20..=99 => {
            let (t, u) = (n / 10, n % 10);
            if u == 0 {
                TENS[t as usize].to_string()
            } else {
                format!("{}und{}", unit(u), TENS[t as usize])
            }
        }
        100..=999 => {
            let rest = n % 100;
            let h = format!("{}hundert", unit(n / 100));
            if rest == 0 {
                h
            } else {
                format!("{h}{}", german(rest))
            }
        }
        _ => {
            let (th, rest) = (n / 1000, n % 1000);
            let head = if th == 1 {
                "eintausend".to_string()
            } else {
                format!("{}tausend", german(th))
            };
            if rest == 0 {
                head
            } else {
                format!("{head}{}", german(rest))
            }
        }
    }
}

fn chinese(n: u64) -> String {
    const D: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    if n < 10 {
        return D[n as usize].to_string();
    }
    if n < 100 {
        let (t, u) = (n / 10, n % 10);
        let mut s = String::new();
        if t > 1 {
            s.push(D[t as usize]);
        }
        s.push('十');
        if u > 0 {
            s.push(D[u as usize]);
        }
        return s;
    }
    // Larger numbers digit by digit, as is common in lyrics (years, addresses).
    n.to_string()
        .chars()
        .map(|c| D[c.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_per_language() {
        for (n, lang, want) in [
            (21, Language::En, "twenty one"),
            (342, Language::En, "three hundred forty two"),
            (71, Language::Fr, "soixante et onze"),
            (97, Language::Fr, "quatre vingt dix sept"),
            (21, Language::Fr, "vingt et un"),
            (45, Language::Es, "cuarenta y cinco"),
            (100, Language::Es, "cien"),
            (2024, Language::Es, "dos mil veinticuatro"),
            (21, Language::De, "einundzwanzig"),
            (101, Language::De, "einhunderteins"),
            (23, Language::Zh, "二十三"),
        ] {
            assert_eq!(spell_number(n, &lang), want, "{n} {lang:?}");
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize("Hello, World! 2", &Language::En),
            "hello world two"
        );
        assert_eq!(normalize("C'est l'été", &Language::Fr), "c est l été");
        assert_eq!(normalize("¿Qué?", &Language::Es), "qué");
        assert_eq!(normalize("...", &Language::En), "");
    }

    #[test]
    fn han_characters_are_syllables() {
        let t = tokenize("我爱你， 2 times", &Language::Zh);
        let texts: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["我", "爱", "你，", "2", "times"]);
        assert_eq!(t[3].spoken, "二");
    }

    #[test]
    fn latin_words_keep_their_punctuation() {
        let t = tokenize("j'sais plus - trop!", &Language::Fr);
        let texts: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["j'sais", "plus", "-", "trop!"]);
        assert_eq!(t[2].spoken, "");
    }

    #[test]
    fn language_guess() {
        assert_eq!(
            Language::guess("soy un fantasma que se asusta de si mismo"),
            Language::Es
        );
        assert_eq!(
            Language::guess("c'est pour le meilleur et pour le pire"),
            Language::Fr
        );
        assert_eq!(
            Language::guess("ich weiß nicht was du und die anderen"),
            Language::De
        );
        assert_eq!(Language::guess("我爱你"), Language::Zh);
    }

    #[test]
    fn language_names_become_codes() {
        assert_eq!(Language::from_code("French"), Language::Fr);
        assert_eq!(Language::from_code("Italian"), Language::Other("it".into()));
        assert_eq!(Language::from_code("pt-BR"), Language::Other("pt".into()));
        assert_eq!(
            Language::from_code("Klingon"),
            Language::Other("klingon".into())
        );
    }
}
