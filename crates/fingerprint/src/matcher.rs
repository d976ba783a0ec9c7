//! Matching a query fingerprint against a store by voting on consistent time offsets.
//!
//! Pairs vote for `t_ref - t_query` (in frames) per work; the best offset, give or take one
//! frame, collects the pair score. Every triplet hit carries its own speed estimate
//! `span_ref / span_query`, so triplets vote in a two-dimensional Hough space of
//! `(log speed, offset at query start)`; the best cell's hits are refined by a least-squares
//! line `t_ref = offset + speed * t_query`, and the hits within two frames of that line form the
//! triplet score. Scores count distinct query landmarks, never repeated hits of one landmark.
//!
//! A work matches when either score reaches its threshold; the reported score is the larger of
//! the two ratios `votes / threshold`, so 1.0 is the decision boundary for both schemes.
//!
//! The evidence must also be spread over the query: its *support* counts at most
//! [`MatchParams::max_votes_per_second`] landmarks from any one second of the query (a quarter of
//! a query shorter than four seconds), and must reach the threshold too. One identical sound (the
//! same drum sample, a stock sound effect) shared by two unrelated recordings gives a burst of
//! consistent votes within a fraction of a second; a copy of a work gives votes all along the
//! copied stretch.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use crate::hashes::{Fingerprint, SPAN_BITS, frame_seconds, unpack_triplet_time};
use crate::store::{Hit, PostingStore, WorkId};
use crate::{Error, Result};

/// Which kind of landmark carried a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Landmark pairs (exact time, no speed change).
    Pairs,
    /// Peak triplets (speed, tempo and pitch changes).
    Triplets,
}

/// Tunables of [`identify`]. The defaults were calibrated on generated negatives (see
/// `docs/architecture/fingerprint.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchParams {
    /// Shorter queries give [`Error::NotEnoughAudio`].
    pub min_duration_s: f64,
    /// Queries with fewer hashes give [`Error::NotEnoughAudio`].
    pub min_hashes: usize,
    /// Consistent pair votes needed for a match.
    pub pair_threshold: u32,
    /// Consistent triplet votes needed for a match.
    pub triplet_threshold: u32,
    /// Most landmarks of one second of the query that count towards the support (see the
    /// module documentation); `u32::MAX` turns the spread test off.
    pub max_votes_per_second: u32,
    /// Largest relative speed change searched (0.12 = ±12 %).
    pub max_speed_change: f64,
    /// Most matches returned.
    pub max_results: usize,
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams {
            min_duration_s: 1.0,
            min_hashes: 12,
            pair_threshold: 15,
            triplet_threshold: 12,
            max_votes_per_second: 6,
            max_speed_change: 0.12,
            max_results: 5,
        }
    }
}

/// One identified work.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Match {
    /// The work's id in the store.
    pub work: WorkId,
    /// The work's name in the store.
    pub name: String,
    /// `votes / threshold` of the winning method: at least 1.0 for every returned match.
    pub score: f64,
    /// Consistent landmarks found.
    pub votes: u32,
    /// The votes counted with at most `max_votes_per_second` from any one second of the query:
    /// how far the evidence is spread (at least the threshold for every returned match).
    pub support: u32,
    /// Position in the reference (s) that corresponds to the start of the query.
    pub offset_s: f64,
    /// First matched landmark in the query (s).
    pub query_start_s: f64,
    /// Last matched landmark in the query (s).
    pub query_end_s: f64,
    /// Reference seconds per query second (1.03 when the query runs 3 % fast).
    pub speed: f64,
    /// Which landmarks carried the match.
    pub method: Method,
}

/// A multiplicative hasher for small integer keys (the default SipHash costs more than the
/// voting itself); keys come from stored postings, never from a party that could choose them
/// to collide, and a collision only costs time.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    fn write_i32(&mut self, x: i32) {
        self.write_u64(u64::from(x as u32));
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// `ln(span)` for every stored span value (quarter frames); NaN for a zero span.
fn stored_log_spans() -> &'static [f32] {
    static LUT: OnceLock<Vec<f32>> = OnceLock::new();
    LUT.get_or_init(|| {
        (0..1u32 << SPAN_BITS)
            .map(|q| {
                if q == 0 {
                    f32::NAN
                } else {
                    (q as f32 / 4.0).ln()
                }
            })
            .collect()
    })
}

/// One piece of evidence: a query landmark `q` at `tq` meeting a reference landmark at `tr`.
#[derive(Debug, Clone, Copy)]
struct Vote {
    work: WorkId,
    q: u32,
    tq: f32,
    tr: f32,
    /// Log speed implied by the spans (triplets only).
    ls: f32,
}

/// Identifies `fp` in `store`: matches best first, empty when nothing reaches a threshold.
pub fn identify(
    store: &dyn PostingStore,
    fp: &Fingerprint,
    params: &MatchParams,
) -> Result<Vec<Match>> {
    let _span = tracing::debug_span!("identify", hashes = fp.len()).entered();
    if fp.duration_s < params.min_duration_s || fp.len() < params.min_hashes {
        return Err(Error::NotEnoughAudio {
            duration_s: fp.duration_s,
            peaks: fp.peaks,
            min_duration_s: params.min_duration_s,
        });
    }
    // Query landmarks sorted by hash: `keyed[starts[k]..starts[k + 1]]` are the landmarks of
    // `hashes[k]` (pairs first, numbered `0..n_pairs`, then triplets).
    let n_pairs = fp.pairs.len();
    let mut keyed: Vec<(u32, u32)> = Vec::with_capacity(fp.len());
    keyed.extend(fp.pairs.iter().enumerate().map(|(i, p)| (p.hash, i as u32)));
    keyed.extend(
        fp.triplets
            .iter()
            .enumerate()
            .map(|(i, q)| (q.hash, (n_pairs + i) as u32)),
    );
    keyed.sort_unstable();
    let mut hashes: Vec<u32> = Vec::with_capacity(keyed.len());
    let mut starts: Vec<usize> = Vec::with_capacity(keyed.len() + 1);
    for (i, &(h, _)) in keyed.iter().enumerate() {
        if hashes.last() != Some(&h) {
            hashes.push(h);
            starts.push(i);
        }
    }
    starts.push(keyed.len());
    let mut hits: Vec<Hit> = Vec::new();
    store.lookup(&hashes, &mut hits)?;

    // Log spans: of the query's triplets, and of every possible stored span (quarter frames).
    let q_ls: Vec<f32> = fp
        .triplets
        .iter()
        .map(|q| if q.span > 0.0 { q.span.ln() } else { f32::NAN })
        .collect();
    let ref_ls = stored_log_spans();
    let max_ls = (1.0 + params.max_speed_change).ln() as f32;
    let mut pair_votes = Vec::new();
    let mut trip_votes = Vec::new();
    // Hits usually arrive grouped by hash: remember the last hash's landmarks.
    let (mut cur_hash, mut cur) = (None, 0..0);
    for hit in &hits {
        if cur_hash != Some(hit.hash) {
            cur = match hashes.binary_search(&hit.hash) {
                Ok(k) => starts[k]..starts[k + 1],
                Err(_) => 0..0,
            };
            cur_hash = Some(hit.hash);
        }
        for &(_, qi) in &keyed[cur.clone()] {
            let qi_us = qi as usize;
            if qi_us < n_pairs {
                let p = fp.pairs[qi_us];
                pair_votes.push(Vote {
                    work: hit.work,
                    q: qi,
                    tq: p.t as f32,
                    tr: hit.t as f32,
                    ls: 0.0,
                });
            } else {
                let q = fp.triplets[qi_us - n_pairs];
                let (t1, _) = unpack_triplet_time(hit.t);
                let span_q = (hit.t & ((1 << SPAN_BITS) - 1)) as usize;
                // NaN marks a zero span on either side.
                let ls = ref_ls[span_q] - q_ls[qi_us - n_pairs];
                if ls.is_nan() || ls.abs() > max_ls {
                    continue;
                }
                trip_votes.push(Vote {
                    work: hit.work,
                    q: qi,
                    tq: q.t1,
                    tr: t1,
                    ls,
                });
            }
        }
    }

    // Support bins: one second of the query, or a quarter of a shorter query (frames).
    let fs = frame_seconds();
    let bin = (fp.duration_s.min(4.0) / 4.0 / fs) as f32;
    let spread = Spread {
        bin: bin.max(1.0),
        cap: params.max_votes_per_second,
    };
    let mut best: FastMap<WorkId, Candidate> = FastMap::default();
    for c in score_pairs(&mut pair_votes, params.pair_threshold, spread) {
        best.insert(c.work, c);
    }
    for c in score_triplets(
        &mut trip_votes,
        params.triplet_threshold,
        params.max_speed_change,
        spread,
    ) {
        match best.get(&c.work) {
            Some(p) if p.score >= c.score => {}
            _ => {
                best.insert(c.work, c);
            }
        }
    }
    let mut cands: Vec<Candidate> = best.into_values().filter(|c| c.score >= 1.0).collect();
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.work.cmp(&b.work)));
    cands.truncate(params.max_results);
    let mut out = Vec::with_capacity(cands.len());
    for c in cands {
        // A work removed between the lookup and now is simply skipped.
        let Some(info) = store.work(c.work)? else {
            continue;
        };
        out.push(Match {
            work: c.work,
            name: info.name,
            score: c.score,
            votes: c.votes,
            support: c.support,
            offset_s: c.offset * fs,
            query_start_s: f64::from(c.q_start) * fs,
            query_end_s: f64::from(c.q_end) * fs,
            speed: c.speed,
            method: c.method,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct Candidate {
    work: WorkId,
    score: f64,
    votes: u32,
    support: u32,
    offset: f64,
    speed: f64,
    q_start: f32,
    q_end: f32,
    method: Method,
}

/// How the support of a candidate is counted: at most `cap` landmarks per `bin` query frames.
#[derive(Debug, Clone, Copy)]
struct Spread {
    bin: f32,
    cap: u32,
}

/// Distinct query landmarks among `votes`: (count, support, first and last query time).
fn distinct_landmarks(votes: &[&Vote], spread: Spread) -> (u32, u32, f32, f32) {
    let mut qs: Vec<(u32, u32)> = votes
        .iter()
        .map(|v| ((v.tq.max(0.0) / spread.bin) as u32, v.q))
        .collect();
    qs.sort_unstable();
    qs.dedup();
    let mut support = 0u32;
    for bin in qs.chunk_by(|a, b| a.0 == b.0) {
        support += (bin.len() as u32).min(spread.cap);
    }
    let lo = votes.iter().map(|v| v.tq).fold(f32::MAX, f32::min);
    let hi = votes.iter().map(|v| v.tq).fold(f32::MIN, f32::max);
    (qs.len() as u32, support, lo, hi)
}

/// Makes each work's votes contiguous (works in ascending order) and drops the votes of works
/// with fewer than `min` votes, which cannot reach the threshold. A counting sort over the
/// work ids when they are dense enough (the usual case: a few thousand works), else a sort.
fn group_by_work(votes: &mut Vec<Vote>, min: u32) {
    let Some(max) = votes.iter().map(|v| v.work).max() else {
        return;
    };
    let n_ids = max as usize + 1;
    if n_ids > 4 * votes.len() + 65_536 {
        votes.sort_unstable_by_key(|v| v.work);
        return;
    }
    let mut counts = vec![0u32; n_ids];
    for v in votes.iter() {
        counts[v.work as usize] += 1;
    }
    let mut starts = vec![0usize; n_ids];
    let mut total = 0usize;
    for (c, s) in counts.iter().zip(starts.iter_mut()) {
        *s = total;
        if *c >= min {
            total += *c as usize;
        }
    }
    let mut out = vec![
        Vote {
            work: 0,
            q: 0,
            tq: 0.0,
            tr: 0.0,
            ls: 0.0,
        };
        total
    ];
    for v in votes.iter() {
        let w = v.work as usize;
        if counts[w] >= min {
            out[starts[w]] = *v;
            starts[w] += 1;
        }
    }
    *votes = out;
}

/// Per work: the offset (±1 frame) with most distinct query landmarks.
fn score_pairs(votes: &mut Vec<Vote>, threshold: u32, spread: Spread) -> Vec<Candidate> {
    group_by_work(votes, threshold);
    let mut out = Vec::new();
    for group in votes.chunk_by_mut(|a, b| a.work == b.work) {
        if group.len() < threshold as usize {
            continue;
        }
        group.sort_unstable_by(|a, b| (a.tr - a.tq).total_cmp(&(b.tr - b.tq)));
        let group = &*group;
        // Sliding window over sorted offsets: widest run within 2 frames.
        let (mut best_lo, mut best_len, mut lo) = (0usize, 0usize, 0usize);
        for hi in 0..group.len() {
            let off = |v: &Vote| v.tr - v.tq;
            while off(&group[hi]) - off(&group[lo]) > 2.0 {
                lo += 1;
            }
            if hi + 1 - lo > best_len {
                best_len = hi + 1 - lo;
                best_lo = lo;
            }
        }
        let inliers: Vec<&Vote> = group[best_lo..best_lo + best_len].iter().collect();
        let (n, support, q_start, q_end) = distinct_landmarks(&inliers, spread);
        if support < threshold {
            continue;
        }
        let mut offs: Vec<f32> = inliers.iter().map(|v| v.tr - v.tq).collect();
        offs.sort_unstable_by(f32::total_cmp);
        out.push(Candidate {
            work: group[0].work,
            score: f64::from(n) / f64::from(threshold.max(1)),
            votes: n,
            support,
            offset: f64::from(offs[offs.len() / 2]),
            speed: 1.0,
            q_start,
            q_end,
            method: Method::Pairs,
        });
    }
    out
}

/// Least-squares line `tr = a + s * tq` through `votes`.
fn fit_line(votes: &[&Vote]) -> Option<(f64, f64)> {
    let n = votes.len() as f64;
    if votes.len() < 2 {
        return None;
    }
    let mx = votes.iter().map(|v| f64::from(v.tq)).sum::<f64>() / n;
    let my = votes.iter().map(|v| f64::from(v.tr)).sum::<f64>() / n;
    let sxx: f64 = votes.iter().map(|v| (f64::from(v.tq) - mx).powi(2)).sum();
    let sxy: f64 = votes
        .iter()
        .map(|v| (f64::from(v.tq) - mx) * (f64::from(v.tr) - my))
        .sum();
    if sxx < 1.0 {
        return None;
    }
    let s = sxy / sxx;
    Some((my - s * mx, s))
}

const LS_BIN: f32 = 0.02;
const OFF_BIN: f32 = 16.0;
/// How far (in log speed) a triplet may vote from the speed its own spans imply.
const LS_SLACK: f32 = 0.04;

/// Per work: a Hough vote on (log speed, offset), then a line fit through the best cell.
fn score_triplets(
    votes: &mut Vec<Vote>,
    threshold: u32,
    max_change: f64,
    spread: Spread,
) -> Vec<Candidate> {
    group_by_work(votes, threshold);
    let mut out = Vec::new();
    let mut cells: FastMap<(i32, i32), u32> = FastMap::default();
    for group in votes.chunk_by(|a, b| a.work == b.work) {
        if group.len() < threshold as usize {
            continue;
        }
        cells.clear();
        let steps = ((1.0 + max_change).ln() as f32 / LS_BIN).ceil() as i32;
        let slack = (LS_SLACK / LS_BIN).ceil() as i32;
        for v in group {
            // Each vote's own span ratio bounds the speeds it may vote for (spans are noisy).
            let own = (v.ls / LS_BIN).round() as i32;
            for k in (own - slack).max(-steps)..=(own + slack).min(steps) {
                let s = (k as f32 * LS_BIN).exp();
                let o = ((v.tr - s * v.tq) / OFF_BIN).floor() as i32;
                *cells.entry((k, o)).or_insert(0) += 1;
            }
        }
        let Some((&(kb, ob), _)) = cells.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        else {
            continue;
        };
        let s0 = (kb as f32 * LS_BIN).exp();
        let inliers: Vec<&Vote> = group
            .iter()
            .filter(|v| {
                let o = ((v.tr - s0 * v.tq) / OFF_BIN).floor() as i32;
                (o - ob).abs() <= 1
            })
            .collect();
        let (mut a, mut s) =
            fit_line(&inliers).unwrap_or((f64::from(ob) * f64::from(OFF_BIN), f64::from(s0)));
        let mut tight: Vec<&Vote> = Vec::new();
        for tol in [6.0, 2.0, 2.0] {
            tight = group
                .iter()
                .filter(|v| (f64::from(v.tr) - (a + s * f64::from(v.tq))).abs() <= tol)
                .collect();
            if let Some((a2, s2)) = fit_line(&tight)
                && (s2 - 1.0).abs() <= max_change
            {
                a = a2;
                s = s2;
            }
        }
        if tight.is_empty() {
            continue;
        }
        let (n, support, q_start, q_end) = distinct_landmarks(&tight, spread);
        if support < threshold {
            continue;
        }
        out.push(Candidate {
            work: group[0].work,
            score: f64::from(n) / f64::from(threshold.max(1)),
            votes: n,
            support,
            offset: a,
            speed: s,
            q_start,
            q_end,
            method: Method::Triplets,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` pair votes for work 7 at a consistent offset, query landmarks `step` frames apart.
    fn burst(n: u32, step: f32) -> Vec<Vote> {
        (0..n)
            .map(|i| Vote {
                work: 7,
                q: i,
                tq: 10.0 + i as f32 * step,
                tr: 500.0 + i as f32 * step,
                ls: 0.0,
            })
            .collect()
    }

    const ONE_SECOND: f32 = 62.5;

    #[test]
    fn a_burst_within_one_second_has_no_support() {
        // 20 consistent votes inside 0.3 s: enough votes, but from one second only.
        let spread = Spread {
            bin: ONE_SECOND,
            cap: 6,
        };
        assert!(score_pairs(&mut burst(20, 1.0), 15, spread).is_empty());
        let off = Spread {
            bin: ONE_SECOND,
            cap: u32::MAX,
        };
        let c = score_pairs(&mut burst(20, 1.0), 15, off);
        assert_eq!((c.len(), c[0].votes, c[0].support), (1, 20, 20));
    }

    #[test]
    fn votes_spread_over_the_query_keep_their_support() {
        // 20 votes over 8 s: at most 3 per second, all count.
        let spread = Spread {
            bin: ONE_SECOND,
            cap: 6,
        };
        let c = score_pairs(&mut burst(20, 25.0), 15, spread);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].votes, c[0].support), (20, 20));
        assert_eq!(c[0].offset, 490.0);
    }

    #[test]
    fn support_caps_each_second() {
        let votes = burst(20, 10.0); // about 6.25 votes per second over 3.2 s
        let refs: Vec<&Vote> = votes.iter().collect();
        let (n, support, lo, hi) = distinct_landmarks(
            &refs,
            Spread {
                bin: ONE_SECOND,
                cap: 2,
            },
        );
        assert_eq!(n, 20);
        assert_eq!(support, 8, "four seconds touched, two each");
        assert_eq!((lo, hi), (10.0, 200.0));
    }
}
