//! An English pronunciation dictionary in the CMU Pronouncing Dictionary's format, as Debian's
//! `pocketsphinx-en-us` installs it ([`PronunciationDict::DEBIAN_PATH`]): one word per line, its
//! ARPAbet phones after it (`read R EH D`), alternatives as `read(2) R IY D`, stress digits on
//! vowels allowed (`R EH1 D`), comments after `#` and lines starting with `;;;` ignored.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::phones::{Phone, PhoneClass};

/// Largest dictionary file read (Debian's is 3.3 MB).
const MAX_BYTES: u64 = 64 << 20;

/// Words and their first pronunciation (as indices into [`ARPABET`], so that loading the
/// 135 000 words of CMUdict does not allocate a string per phone).
#[derive(Clone, Default)]
pub struct PronunciationDict {
    words: HashMap<String, Box<[u8]>>,
}

impl std::fmt::Debug for PronunciationDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PronunciationDict")
            .field("words", &self.words.len())
            .finish()
    }
}

impl PronunciationDict {
    /// Where Debian's `pocketsphinx-en-us` package puts CMUdict.
    pub const DEBIAN_PATH: &'static str = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict";

    /// Parses dictionary text. Errors name the 1-based line.
    pub fn parse(text: &str) -> Result<Self> {
        let mut words: HashMap<String, Box<[u8]>> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with(";;;") {
                continue;
            }
            let bad = |message: String| Error::Parse {
                format: "CMUdict",
                line: i + 1,
                message,
            };
            let mut items = line.split_whitespace();
            let entry = items.next().unwrap_or("");
            // `word(2)`: an alternative pronunciation; the first one is kept.
            let word = match entry.find('(') {
                Some(p) if entry.ends_with(')') => &entry[..p],
                _ => entry,
            };
            let phones = items
                .map(|sym| {
                    let base = sym.trim_end_matches(|c: char| c.is_ascii_digit());
                    ARPABET
                        .iter()
                        .position(|(s, _)| *s == base)
                        .map(|i| i as u8)
                        .ok_or_else(|| bad(format!("unknown ARPAbet phone {sym:?}")))
                })
                .collect::<Result<Box<[u8]>>>()?;
            if phones.is_empty() {
                return Err(bad(format!("{word:?} has no phones")));
            }
            words.entry(word.to_lowercase()).or_insert(phones);
        }
        Ok(Self { words })
    }

    /// Reads and parses a dictionary file.
    pub fn load(path: &Path) -> Result<Self> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_BYTES {
            return Err(Error::Limit {
                what: "dictionary bytes",
                got: size,
                limit: MAX_BYTES,
            });
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Debian's copy ([`Self::DEBIAN_PATH`]) when it is installed; a copy that is there but
    /// does not load is logged as a warning and skipped (the rules take over).
    pub fn installed() -> Option<Self> {
        let path = Path::new(Self::DEBIAN_PATH);
        if !path.exists() {
            return None;
        }
        Self::load(path)
            .inspect_err(|e| {
                tracing::warn!(
                    "skipping the pronunciation dictionary {}: {e}",
                    path.display()
                )
            })
            .ok()
    }

    /// The phones of a lowercase word, if the dictionary has it.
    pub fn get(&self, word: &str) -> Option<Vec<Phone>> {
        let ids = self.words.get(word)?;
        Some(
            ids.iter()
                .map(|&i| {
                    let (symbol, class) = ARPABET[usize::from(i)];
                    Phone::new(symbol.to_ascii_lowercase(), class)
                })
                .collect(),
        )
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the dictionary has no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// ARPAbet phones (without stress digits) and their broad classes.
#[rustfmt::skip]
const ARPABET: [(&str, PhoneClass); 48] = {
    use PhoneClass::{Fricative as F, Sonorant as N, Stop as S, Vowel as V};
    [
        ("AA", V), ("AE", V), ("AH", V), ("AO", V), ("AW", V), ("AX", V), ("AXR", V), ("AY", V),
        ("EH", V), ("ER", V), ("EY", V), ("IH", V), ("IX", V), ("IY", V), ("OW", V), ("OY", V),
        ("UH", V), ("UW", V), ("UX", V),
        ("L", N), ("R", N), ("W", N), ("Y", N), ("M", N), ("N", N), ("NG", N), ("EL", N),
        ("EM", N), ("EN", N),
        ("F", F), ("V", F), ("TH", F), ("DH", F), ("S", F), ("Z", F), ("SH", F), ("ZH", F),
        ("HH", F), ("CH", F), ("JH", F),
        ("P", S), ("B", S), ("T", S), ("D", S), ("K", S), ("G", S), ("DX", S), ("Q", S),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_alternatives_stress_and_comments() {
        let text = ";;; a comment\nread R EH1 D\nread(2) R IY1 D\n\nhello HH AH0 L OW1 # greeting\nDon't D OW N T\n";
        let d = PronunciationDict::parse(text).unwrap();
        assert_eq!(d.len(), 3);
        let read: Vec<String> = d
            .get("read")
            .unwrap()
            .into_iter()
            .map(|p| p.symbol)
            .collect();
        assert_eq!(read, ["r", "eh", "d"]);
        let hello: Vec<PhoneClass> = d.get("hello").unwrap().iter().map(|p| p.class).collect();
        use PhoneClass::*;
        assert_eq!(hello, [Fricative, Vowel, Sonorant, Vowel]);
        assert!(d.get("don't").is_some());
        assert!(d.get("goodbye").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let err = PronunciationDict::parse("ok OW K EY\nbad B XX D\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = PronunciationDict::parse("ok OW K EY\nlonely\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn debian_dictionary_when_installed() {
        let Some(d) = PronunciationDict::installed() else {
            eprintln!(
                "SKIP debian_dictionary_when_installed: {} missing (Debian package pocketsphinx-en-us)",
                PronunciationDict::DEBIAN_PATH
            );
            return;
        };
        assert!(d.len() > 100_000, "{}", d.len());
        let vowels = |w: &str| {
            d.get(w)
                .unwrap()
                .iter()
                .filter(|p| p.class == PhoneClass::Vowel)
                .count()
        };
        // Words whose spelling misleads letter rules about the number of sung nuclei.
        assert_eq!(vowels("through"), 1);
        assert_eq!(vowels("beautiful"), 3);
        assert_eq!(vowels("fire"), 2);
    }
}
