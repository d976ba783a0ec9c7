//! The posting store: where hashes of reference works live, behind one trait.
//!
//! Backends: [`MemoryStore`] (tests, small tools), [`RedbStore`] (the embedded default, one
//! file in the index folder) and [`PgStore`] (PostgreSQL, for scale). All three pass the same
//! conformance suite (`tests/conformance.rs`).

mod memory;
mod pg;
mod redb_store;

pub use memory::MemoryStore;
pub use pg::PgStore;
pub use redb_store::RedbStore;

use crate::Result;
use crate::hashes::Posting;

/// Identifier of a stored work, allocated by the store, never reused.
pub type WorkId = u32;

/// Longest work name accepted (bytes).
pub const MAX_NAME_LEN: usize = 4096;
/// Most postings one work may carry (about 40 hours of audio at the default density).
pub const MAX_POSTINGS_PER_WORK: usize = 16_000_000;

/// A work to add: its name (a path or an external id), duration and postings.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWork {
    /// Name reported back by queries (the CLI stores the file path).
    pub name: String,
    /// Duration of the audio in seconds.
    pub duration_s: f64,
    /// The postings; order does not matter, duplicates are kept.
    pub postings: Vec<Posting>,
}

/// A stored work.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkInfo {
    /// Its id.
    pub id: WorkId,
    /// Its name.
    pub name: String,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Number of postings stored for it.
    pub postings: u64,
}

/// One stored posting found by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    /// The hash that was looked up.
    pub hash: u32,
    /// The work it belongs to.
    pub work: WorkId,
    /// Its time value (see [`Posting::t`]).
    pub t: u32,
}

/// Counters of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Live works.
    pub works: u64,
    /// Postings of live works (removed works' postings are not counted).
    pub postings: u64,
    /// Works removed but whose postings are still present until [`PostingStore::compact`].
    pub pending_removals: u64,
}

/// Where postings live. Every backend gives these guarantees:
///
/// - **Atomic, durable batches.** [`add_works`](Self::add_works) stores every work of the batch
///   or none of them; once it returns `Ok`, the works survive a crash and are visible to every
///   lookup that starts afterwards (read-after-write).
/// - **Snapshot reads.** One [`lookup`](Self::lookup) sees the store as of one moment: a work
///   being added concurrently is seen with all its postings or not at all.
/// - **Removal is immediate, reclaiming is deferred.** After [`remove_work`](Self::remove_work)
///   returns, lookups never return that work; its space is reclaimed by
///   [`compact`](Self::compact), which leaves lookups' results unchanged.
/// - **Concurrency.** Any number of threads may look up while one adds; writers are serialised.
pub trait PostingStore: Send + Sync {
    /// Adds works atomically and returns their new ids, in order.
    fn add_works(&self, works: &[NewWork]) -> Result<Vec<WorkId>>;

    /// Adds one work.
    fn add_work(&self, work: &NewWork) -> Result<WorkId> {
        let ids = self.add_works(std::slice::from_ref(work))?;
        ids.first().copied().ok_or_else(|| crate::Error::Store {
            backend: "store",
            message: "add_works returned no id".into(),
        })
    }

    /// Removes a work; returns false when no live work has that id.
    fn remove_work(&self, id: WorkId) -> Result<bool>;

    /// The live work with this id.
    fn work(&self, id: WorkId) -> Result<Option<WorkInfo>>;

    /// All live works, by id.
    fn works(&self) -> Result<Vec<WorkInfo>>;

    /// Appends to `out` every posting of a live work whose hash is in `hashes` (any order;
    /// duplicate hashes in the input may produce duplicate hits).
    fn lookup(&self, hashes: &[u32], out: &mut Vec<Hit>) -> Result<()>;

    /// Physically deletes the postings of removed works and returns how many were deleted.
    fn compact(&self) -> Result<u64>;

    /// Counters.
    fn stats(&self) -> Result<StoreStats>;
}

/// Checks the limits every backend enforces before writing anything.
pub(crate) fn check_new_works(works: &[NewWork]) -> Result<()> {
    for w in works {
        if w.name.len() > MAX_NAME_LEN {
            return Err(crate::Error::LimitExceeded {
                what: "work name length (bytes)",
                actual: w.name.len() as u64,
                max: MAX_NAME_LEN as u64,
            });
        }
        if w.postings.len() > MAX_POSTINGS_PER_WORK {
            return Err(crate::Error::LimitExceeded {
                what: "postings per work",
                actual: w.postings.len() as u64,
                max: MAX_POSTINGS_PER_WORK as u64,
            });
        }
        if !w.duration_s.is_finite() || w.duration_s < 0.0 {
            return Err(crate::Error::Invalid(format!(
                "work {:?}: duration {} is not a finite non-negative number",
                w.name, w.duration_s
            )));
        }
    }
    Ok(())
}
