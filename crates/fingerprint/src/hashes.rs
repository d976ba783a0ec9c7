//! Turning peaks into hashes: Wang-style landmark pairs and speed-invariant peak triplets.
//!
//! A **pair** hashes `(band of the anchor, band difference, frame difference)`: very robust to
//! noise and codecs, exact in time, but a change of speed or pitch changes it.
//!
//! A **triplet** hashes only quantities a time-stretch or a pitch shift leaves alone: the ratio
//! of the two time gaps `(t2 - t1) / (t3 - t1)`, the band differences `f2 - f1` and `f3 - f2`
//! (bands are logarithmic, so a frequency ratio is a band difference) and a coarse band of the
//! anchor. The posting keeps the anchor frame and the span `t3 - t1`, so that each matching
//! triplet yields its own estimate of the speed factor.
//!
//! The top bit of a hash tells the two kinds apart ([`TRIPLET_BIT`]).

use crate::peaks::{FRAME_RATE, Peak, SAMPLE_RATE, find_peaks};

/// Set on triplet hashes, clear on pair hashes.
pub const TRIPLET_BIT: u32 = 1 << 31;
/// Triplet posting times pack `frame << SPAN_BITS | span in quarter frames`.
pub(crate) const SPAN_BITS: u32 = 9;
/// Longest audio a fingerprint may cover (frames must fit in 23 bits); longer input is refused.
pub const MAX_DURATION_S: f64 = 6.0 * 3600.0;

/// How many landmarks to take: references are sparse (a small index), queries dense (so that
/// the reference's landmarks are found even when louder sounds take most of the peaks).
#[derive(Debug, Clone, Copy)]
struct Density {
    peaks_per_second: usize,
    pair_fanout: usize,
    triplet_candidates: usize,
    all_combos: bool,
}

const REFERENCE: Density = Density {
    peaks_per_second: crate::peaks::PEAKS_PER_SECOND,
    pair_fanout: 3,
    triplet_candidates: 3,
    all_combos: false,
};

const QUERY: Density = Density {
    peaks_per_second: 24,
    pair_fanout: 6,
    triplet_candidates: 5,
    all_combos: true,
};

const PAIR_MAX_DT: u32 = 63;
const PAIR_MAX_DB: i32 = 31;
const TRIPLET_MIN_DT: f32 = 2.0;
const TRIPLET_MAX_DT: f32 = 95.0;
const TRIPLET_MAX_DF: f32 = 36.0;
/// Candidate pairs `(a, b)` among the first candidates that form triplets with an anchor.
const TRIPLET_COMBOS: [(usize, usize); 3] = [(0, 1), (0, 2), (1, 2)];
/// Every pair among up to 6 candidates (queries).
const ALL_COMBOS: [(usize, usize); 15] = [
    (0, 1),
    (0, 2),
    (1, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (0, 4),
    (1, 4),
    (2, 4),
    (3, 4),
    (0, 5),
    (1, 5),
    (2, 5),
    (3, 5),
    (4, 5),
];

/// One hash at one time in a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Posting {
    /// The hash (top bit set for triplets).
    pub hash: u32,
    /// Anchor frame for pairs; `frame << 9 | span` for triplets.
    pub t: u32,
}

/// A query-side triplet keeps precise times for the speed estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct QueryTriplet {
    pub hash: u32,
    pub t1: f32,
    pub span: f32,
}

/// The landmarks of one piece of audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// Duration of the audio in seconds.
    pub duration_s: f64,
    /// Number of spectral peaks found.
    pub peaks: usize,
    pub(crate) pairs: Vec<Posting>,
    pub(crate) triplets: Vec<QueryTriplet>,
}

impl Fingerprint {
    /// Fingerprints reference audio (a work to index): mono samples at [`SAMPLE_RATE`]
    /// (8 kHz). Refuses input longer than [`MAX_DURATION_S`] with
    /// [`crate::Error::LimitExceeded`].
    pub fn from_samples(samples: &[f32]) -> crate::Result<Self> {
        Self::with_density(samples, REFERENCE)
    }

    /// Fingerprints a query: like [`Fingerprint::from_samples`] but with about twice the peaks
    /// and every landmark combination a reference could have used, so that a work is found
    /// under noise or louder music. Only use it for queries (it would bloat an index).
    pub fn for_query(samples: &[f32]) -> crate::Result<Self> {
        Self::with_density(samples, QUERY)
    }

    fn with_density(samples: &[f32], d: Density) -> crate::Result<Self> {
        let duration_s = check_len(samples.len())?;
        let peaks = find_peaks(samples, d.peaks_per_second);
        Ok(Fingerprint {
            duration_s,
            peaks: peaks.len(),
            pairs: pairs(&peaks, d.pair_fanout),
            triplets: triplets(&peaks, d),
        })
    }

    /// All postings to store for this audio as a reference work (pairs, then triplets).
    pub fn postings(&self) -> Vec<Posting> {
        let mut out = self.pairs.clone();
        out.extend(self.triplets.iter().map(|q| Posting {
            hash: q.hash,
            t: pack_triplet_time(q.t1, q.span),
        }));
        out
    }

    /// Number of hashes (pairs and triplets).
    pub fn len(&self) -> usize {
        self.pairs.len() + self.triplets.len()
    }

    /// True when no hash was found (silence, or too short).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hashes per second of audio.
    pub fn density(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.len() as f64 / self.duration_s
        } else {
            0.0
        }
    }
}

pub(crate) fn pack_triplet_time(t1: f32, span: f32) -> u32 {
    let frame = (t1.max(0.0).round() as u32).min((1 << (32 - SPAN_BITS)) - 1);
    let span_q = ((span * 4.0).round() as u32).min((1 << SPAN_BITS) - 1);
    frame << SPAN_BITS | span_q
}

/// `(anchor frame, span in frames)` of a stored triplet time.
pub(crate) fn unpack_triplet_time(t: u32) -> (f32, f32) {
    (
        (t >> SPAN_BITS) as f32,
        (t & ((1 << SPAN_BITS) - 1)) as f32 / 4.0,
    )
}

/// Seconds per frame.
pub(crate) fn frame_seconds() -> f64 {
    1.0 / FRAME_RATE
}

fn pairs(peaks: &[Peak], fanout: usize) -> Vec<Posting> {
    let mut out = Vec::with_capacity(peaks.len() * fanout);
    for (i, p) in peaks.iter().enumerate() {
        let mut n = 0;
        for q in &peaks[i + 1..] {
            let dt = q.t - p.t;
            if dt > PAIR_MAX_DT {
                break;
            }
            let db = i32::from(q.b) - i32::from(p.b);
            if dt == 0 || db.abs() > PAIR_MAX_DB {
                continue;
            }
            let hash = u32::from(p.b) << 12 | ((db + 32) as u32) << 6 | dt;
            out.push(Posting { hash, t: p.t });
            n += 1;
            if n == fanout {
                break;
            }
        }
    }
    out
}

fn triplets(peaks: &[Peak], d: Density) -> Vec<QueryTriplet> {
    let combos: &[(usize, usize)] = if d.all_combos {
        &ALL_COMBOS
    } else {
        &TRIPLET_COMBOS
    };
    let n_cands = d.triplet_candidates.min(6);
    let mut out = Vec::with_capacity(peaks.len() * combos.len());
    let mut cands: Vec<&Peak> = Vec::with_capacity(n_cands);
    for (i, p) in peaks.iter().enumerate() {
        cands.clear();
        for q in &peaks[i + 1..] {
            let dt = q.tf - p.tf;
            if dt > TRIPLET_MAX_DT {
                break;
            }
            if dt < TRIPLET_MIN_DT || (q.f - p.f).abs() > TRIPLET_MAX_DF {
                continue;
            }
            cands.push(q);
            if cands.len() == n_cands {
                break;
            }
        }
        for &(a, b) in combos {
            let (Some(p2), Some(p3)) = (cands.get(a), cands.get(b)) else {
                continue;
            };
            let span = p3.tf - p.tf;
            if p3.tf - p2.tf < 1.0 {
                continue;
            }
            let ratio = (p2.tf - p.tf) / span;
            let qr = ((ratio * 16.0).floor() as i32).clamp(0, 15) as u32;
            let d12 = (((p2.f - p.f) / 2.0).floor() as i32 + 18).clamp(0, 63) as u32;
            let d23 = (((p3.f - p2.f) / 2.0).floor() as i32 + 36).clamp(0, 127) as u32;
            let coarse = ((p.f / 20.0).floor() as i32).clamp(0, 7) as u32;
            let hash = TRIPLET_BIT | coarse << 17 | d23 << 10 | d12 << 4 | qr;
            out.push(QueryTriplet {
                hash,
                t1: p.tf,
                span,
            });
        }
    }
    out
}

/// Duration in seconds of `n` samples at the fingerprint rate, refused above [`MAX_DURATION_S`].
fn check_len(n: usize) -> crate::Result<f64> {
    let duration_s = n as f64 / f64::from(SAMPLE_RATE);
    if duration_s > MAX_DURATION_S {
        return Err(crate::Error::LimitExceeded {
            what: "audio duration (s)",
            actual: duration_s as u64,
            max: MAX_DURATION_S as u64,
        });
    }
    Ok(duration_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn triplet_time_round_trips(frame in 0u32..(1 << 22), span in 2.0f32..95.0) {
            let (f, s) = unpack_triplet_time(pack_triplet_time(frame as f32, span));
            prop_assert_eq!(f as u32, frame);
            prop_assert!((s - span).abs() <= 0.125 + 1e-4);
        }
    }

    #[test]
    fn too_long_audio_is_refused() {
        let n = (MAX_DURATION_S as usize + 1) * SAMPLE_RATE as usize;
        assert!(matches!(
            check_len(n),
            Err(crate::Error::LimitExceeded { .. })
        ));
        assert!(check_len(SAMPLE_RATE as usize).is_ok());
    }
}
