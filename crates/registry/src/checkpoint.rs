//! C2SP tlog-checkpoint: the note text of a tree head (origin, size, root hash, extensions).

use crate::error::{Error, Result};
use crate::hash::Hash;

/// A tree head: origin, size and root (the text of a checkpoint note, without signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extension lines (not used by Encore's logs, preserved when parsing).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses checkpoint note text.
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let bad = |d: &str| Error::malformed("checkpoint", d.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("empty origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("missing size line"))?;
        let size =
            parse_decimal(size_line).ok_or_else(|| bad(&format!("bad tree size {size_line:?}")))?;
        let root_line = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let root = Hash::from_base64(root_line)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// ASCII decimal with no leading zeroes (except "0").
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_parses_and_round_trips() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(text).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20_852_163);
        assert_eq!(c.to_text(), text);
    }

    #[test]
    fn bad_checkpoints_are_refused() {
        for bad in [
            "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n1\nCsUY\n",
            "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("00"), None);
    }
}
