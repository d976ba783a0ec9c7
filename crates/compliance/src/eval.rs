//! Scoring predictions against ground-truth labels: per-kind precision, recall and F1.
//!
//! A prediction matches a label when both name the same place (`path` and `locator`), the same
//! kind, and their byte ranges overlap; each label matches at most one prediction. Exact span
//! agreement is counted separately.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::corpus::Label;
use crate::{Error, Kind};

/// Counts and rates for one kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KindScore {
    /// Predictions that matched a label.
    pub true_positives: usize,
    /// Predictions that matched none.
    pub false_positives: usize,
    /// Labels no prediction matched.
    pub false_negatives: usize,
    /// Matches whose spans were identical.
    pub exact_spans: usize,
    /// tp / (tp + fp), 1 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn), 1 when there was nothing to find.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Scores `predicted` against `truth`, per kind (every kind appears, in `Kind::ALL` order).
#[must_use]
pub fn score(truth: &[Label], predicted: &[Label]) -> BTreeMap<Kind, KindScore> {
    type Key<'a> = (&'a str, Option<&'a str>, Kind);
    let mut by_place: BTreeMap<Key<'_>, (Vec<&Label>, Vec<&Label>)> = BTreeMap::new();
    for l in truth {
        by_place
            .entry((&l.path, l.locator.as_deref(), l.kind))
            .or_default()
            .0
            .push(l);
    }
    for p in predicted {
        by_place
            .entry((&p.path, p.locator.as_deref(), p.kind))
            .or_default()
            .1
            .push(p);
    }
    let mut out: BTreeMap<Kind, KindScore> = Kind::ALL
        .into_iter()
        .map(|k| (k, KindScore::default()))
        .collect();
    for ((_, _, kind), (mut t, mut p)) in by_place {
        t.sort_by_key(|l| l.offset);
        p.sort_by_key(|l| l.offset);
        let s = out.entry(kind).or_default();
        let mut used = vec![false; t.len()];
        for pred in p {
            let hit = t.iter().enumerate().position(|(k, l)| {
                !used[k]
                    && l.offset < pred.offset + pred.length
                    && pred.offset < l.offset + l.length
            });
            match hit {
                Some(k) => {
                    used[k] = true;
                    s.true_positives += 1;
                    if t[k].offset == pred.offset && t[k].length == pred.length {
                        s.exact_spans += 1;
                    }
                }
                None => s.false_positives += 1,
            }
        }
        s.false_negatives += used.iter().filter(|u| !**u).count();
    }
    for s in out.values_mut() {
        let (tp, fp, fnn) = (
            s.true_positives as f64,
            s.false_positives as f64,
            s.false_negatives as f64,
        );
        s.precision = if tp + fp == 0.0 { 1.0 } else { tp / (tp + fp) };
        s.recall = if tp + fnn == 0.0 {
            1.0
        } else {
            tp / (tp + fnn)
        };
        s.f1 = if s.precision + s.recall == 0.0 {
            0.0
        } else {
            2.0 * s.precision * s.recall / (s.precision + s.recall)
        };
    }
    out
}

/// Parses JSON lines of labels (or predictions in the same shape; extra fields are ignored,
/// a `summary` line is skipped).
pub fn parse_jsonl(text: &str) -> Result<Vec<Label>, Error> {
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("{\"summary\"") {
            continue;
        }
        let label: Label = serde_json::from_str(line).map_err(|e| Error::BadRecord {
            line: k + 1,
            message: e.to_string(),
        })?;
        out.push(label);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(path: &str, offset: usize, length: usize, kind: Kind) -> Label {
        Label {
            path: path.into(),
            locator: None,
            offset,
            length,
            kind,
        }
    }

    #[test]
    fn overlap_matching_one_to_one() {
        let truth = [
            l("a", 0, 11, Kind::CnMobile),
            l("a", 20, 11, Kind::CnMobile),
            l("b", 0, 5, Kind::Email),
        ];
        let pred = [
            l("a", 0, 11, Kind::CnMobile),
            l("a", 1, 5, Kind::CnMobile),
            l("a", 40, 11, Kind::CnMobile),
            l("b", 0, 5, Kind::BankCard),
        ];
        let s = score(&truth, &pred);
        let m = &s[&Kind::CnMobile];
        assert_eq!(
            (
                m.true_positives,
                m.false_positives,
                m.false_negatives,
                m.exact_spans
            ),
            (1, 2, 1, 1)
        );
        assert_eq!(s[&Kind::Email].recall, 0.0);
        assert_eq!(s[&Kind::BankCard].precision, 0.0);
        assert_eq!(s[&Kind::Passport].f1, 1.0);
    }

    #[test]
    fn bad_line_names_its_number() {
        let err =
            parse_jsonl("{\"path\":\"a\",\"offset\":0,\"length\":1,\"kind\":\"email\"}\nnope")
                .unwrap_err();
        assert!(err.to_string().starts_with("line 2"), "{err}");
    }
}
