//! The embedded default store: one redb file (`postings.redb`) in the index folder.
//!
//! Layout (format version [`FORMAT_VERSION`]):
//! - `blocks`: key `hash` (u32), value the **posting block** of that hash: every stored posting
//!   with this hash, by work then time, as LEB128 varints. Per work: `(work - previous work) << 1
//!   | several`, then `count - 2` when `several`, then the times (first absolute, then deltas).
//!   A posting costs about 4-5 bytes, one key per distinct hash (not per posting). Adding a
//!   batch merges its postings into the blocks of the hashes it touches (work ids only grow, so
//!   merging is appending), so the file stays compact without a separate compaction step, and
//!   one lookup is one point read per hash.
//! - `works`: id → `duration_s (f64 LE) | postings (u64 LE) | name (UTF-8)`.
//! - `removed`: ids removed but not yet compacted away (lookups filter them out).
//! - `meta`: `format_version`, `next_id`.
//!
//! Format 1 (key `hash << 32 | work`, one row per hash and work) is converted to format 2 in
//! one transaction the first time it is opened.
//!
//! redb is copy-on-write with MVCC: every write transaction is atomic and durable at commit, and
//! readers see a consistent snapshot while one writer works. Compaction rewrites the blocks that
//! hold removed works in one write transaction, then asks redb to release the freed pages (this
//! second step needs exclusive access, so it waits for running lookups).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    Hit, MAX_POSTINGS_PER_WORK, NewWork, PostingStore, StoreStats, WorkId, WorkInfo,
    check_new_works,
};
use crate::{Error, Result};

/// On-disk format version of the redb store; bumped on any incompatible change.
pub const FORMAT_VERSION: u64 = 2;
/// The previous format, converted on open.
const FORMAT_V1: u64 = 1;
/// The file inside the index folder.
pub const FILE_NAME: &str = "postings.redb";

/// Format 1 postings (read only to convert them).
const POSTINGS_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("postings");
const BLOCKS: TableDefinition<u32, &[u8]> = TableDefinition::new("blocks");
const WORKS: TableDefinition<u32, &[u8]> = TableDefinition::new("works");
const REMOVED: TableDefinition<u32, u8> = TableDefinition::new("removed");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn err(e: impl std::fmt::Display) -> Error {
    Error::store("redb", e)
}

/// A redb-backed posting store.
#[derive(Debug)]
pub struct RedbStore {
    db: RwLock<Database>,
    path: PathBuf,
}

impl RedbStore {
    /// Opens the index in folder `dir`, creating the folder and an empty index if missing. An
    /// index in the previous format (1) is converted to the current one in one transaction.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            let version = meta.get("format_version").map_err(err)?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("format_version", FORMAT_VERSION).map_err(err)?;
                    meta.insert("next_id", 0).map_err(err)?;
                }
                Some(FORMAT_V1) => {
                    convert_v1(&txn)?;
                    meta.insert("format_version", FORMAT_VERSION).map_err(err)?;
                }
                Some(v) if v != FORMAT_VERSION => {
                    return Err(Error::Version {
                        found: v,
                        supported: FORMAT_VERSION,
                    });
                }
                Some(_) => {}
            }
            txn.open_table(BLOCKS).map_err(err)?;
            txn.open_table(WORKS).map_err(err)?;
            txn.open_table(REMOVED).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(RedbStore {
            db: RwLock::new(db),
            path,
        })
    }

    /// Size of the index file in bytes.
    pub fn file_size(&self) -> Result<u64> {
        std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| err(format!("{}: {e}", self.path.display())))
    }

    fn db(&self) -> Result<std::sync::RwLockReadGuard<'_, Database>> {
        self.db.read().map_err(|_| err("lock poisoned"))
    }
}

/// Rewrites format-1 rows (`hash << 32 | work` → delta-coded times) as format-2 blocks and
/// deletes the old table, inside the caller's transaction.
fn convert_v1(txn: &redb::WriteTransaction) -> Result<()> {
    {
        let old = txn.open_table(POSTINGS_V1).map_err(err)?;
        let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
        let mut current: Option<(u32, Vec<u8>, u32)> = None;
        let mut times = Vec::new();
        for item in old.iter().map_err(err)? {
            let (k, v) = item.map_err(err)?;
            let (hash, work) = ((k.value() >> 32) as u32, k.value() as u32);
            if current.as_ref().is_some_and(|c| c.0 != hash)
                && let Some((h, block, _)) = current.take()
            {
                blocks.insert(h, block.as_slice()).map_err(err)?;
            }
            let (_, block, last) = current.get_or_insert_with(|| (hash, Vec::new(), 0));
            times.clear();
            for_each_time(v.value(), |t| times.push(t));
            times.sort_unstable();
            if !times.is_empty() {
                *last = append_work(block, *last, work, &times);
            }
        }
        if let Some((h, block, _)) = current {
            blocks.insert(h, block.as_slice()).map_err(err)?;
        }
    }
    txn.delete_table(POSTINGS_V1).map_err(err)?;
    Ok(())
}

fn encode_work(w: &NewWork, n: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + w.name.len());
    v.extend_from_slice(&w.duration_s.to_le_bytes());
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(w.name.as_bytes());
    v
}

fn decode_work(id: WorkId, v: &[u8]) -> Result<WorkInfo> {
    if v.len() < 16 {
        return Err(err(format!(
            "work {id}: record of {} bytes is truncated",
            v.len()
        )));
    }
    let mut d = [0u8; 8];
    d.copy_from_slice(&v[..8]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&v[8..16]);
    let name = String::from_utf8(v[16..].to_vec())
        .map_err(|_| err(format!("work {id}: name is not UTF-8")))?;
    Ok(WorkInfo {
        id,
        name,
        duration_s: f64::from_le_bytes(d),
        postings: u64::from_le_bytes(n),
    })
}

fn put_varint64(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Format-1 encoding of one work's times (kept for the conversion test).
#[cfg(test)]
pub(crate) fn put_varint(out: &mut Vec<u8>, x: u32) {
    put_varint64(out, u64::from(x));
}

/// Reads one varint of at most `max_bits` bits at `*pos`; `None` when truncated or too long.
#[inline]
fn get_varint(v: &[u8], pos: &mut usize, max_bits: u32) -> Option<u64> {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = *v.get(*pos)?;
        *pos += 1;
        if shift >= max_bits {
            return None;
        }
        x |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return if x >> max_bits == 0 { Some(x) } else { None };
        }
        shift += 7;
    }
}

/// Decodes format-1 delta-coded varints; stops at the first malformed byte sequence.
pub(crate) fn for_each_time(v: &[u8], mut f: impl FnMut(u32)) {
    let mut prev = 0u32;
    let mut pos = 0;
    while pos < v.len() {
        let Some(x) = get_varint(v, &mut pos, 32) else {
            return;
        };
        prev = prev.wrapping_add(x as u32);
        f(prev);
    }
}

/// Appends one work's sorted times to a block whose last work is `prev` (0 when empty) and
/// returns the new last work.
fn append_work(block: &mut Vec<u8>, prev: WorkId, work: WorkId, times: &[u32]) -> WorkId {
    let several = times.len() > 1;
    put_varint64(
        block,
        (u64::from(work.wrapping_sub(prev)) << 1) | u64::from(several),
    );
    if several {
        put_varint64(block, (times.len() - 2) as u64);
    }
    let mut last = 0u32;
    for (i, &t) in times.iter().enumerate() {
        // Wrapping, like the decoder: times rewritten from a malformed block may decrease.
        put_varint64(
            block,
            u64::from(if i == 0 { t } else { t.wrapping_sub(last) }),
        );
        last = t;
    }
    work
}

/// Calls `f(work, t)` for every posting of a block, in order. Returns the last work and whether
/// the block was well formed (decoding stops at the first malformed entry).
#[inline]
fn for_each_posting(block: &[u8], mut f: impl FnMut(WorkId, u32)) -> (WorkId, bool) {
    let mut pos = 0;
    let mut work = 0u32;
    while pos < block.len() {
        let Some(head) = get_varint(block, &mut pos, 33) else {
            return (work, false);
        };
        work = work.wrapping_add((head >> 1) as u32);
        let count = if head & 1 == 1 {
            match get_varint(block, &mut pos, 32) {
                Some(c) if c <= MAX_POSTINGS_PER_WORK as u64 => c as usize + 2,
                _ => return (work, false),
            }
        } else {
            1
        };
        let mut t = 0u32;
        for i in 0..count {
            let Some(d) = get_varint(block, &mut pos, 32) else {
                return (work, false);
            };
            t = if i == 0 {
                d as u32
            } else {
                t.wrapping_add(d as u32)
            };
            f(work, t);
        }
    }
    (work, true)
}

impl PostingStore for RedbStore {
    fn add_works(&self, works: &[NewWork]) -> Result<Vec<WorkId>> {
        check_new_works(works)?;
        let db = self.db()?;
        let txn = db.begin_write().map_err(err)?;
        let mut ids = Vec::with_capacity(works.len());
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            let mut next = meta.get("next_id").map_err(err)?.map_or(0, |v| v.value());
            // Every posting of the batch as (hash, work, t), merged into the blocks by hash.
            let total: usize = works.iter().map(|w| w.postings.len()).sum();
            let mut all: Vec<(u32, WorkId, u32)> = Vec::with_capacity(total);
            let mut wt = txn.open_table(WORKS).map_err(err)?;
            for w in works {
                let id = WorkId::try_from(next).map_err(|_| err("work ids exhausted"))?;
                next += 1;
                all.extend(w.postings.iter().map(|p| (p.hash, id, p.t)));
                wt.insert(id, encode_work(w, w.postings.len() as u64).as_slice())
                    .map_err(err)?;
                ids.push(id);
            }
            all.sort_unstable();
            let mut bt = txn.open_table(BLOCKS).map_err(err)?;
            let mut block = Vec::new();
            let mut times = Vec::new();
            for group in all.chunk_by(|a, b| a.0 == b.0) {
                let hash = group[0].0;
                block.clear();
                let mut last = 0;
                if let Some(old) = bt.get(hash).map_err(err)? {
                    let old = old.value();
                    let (l, ok) = for_each_posting(old, |_, _| {});
                    if !ok {
                        return Err(err(format!("block of hash {hash:#010x} is corrupt")));
                    }
                    block.extend_from_slice(old);
                    last = l;
                }
                for per_work in group.chunk_by(|a, b| a.1 == b.1) {
                    times.clear();
                    times.extend(per_work.iter().map(|p| p.2));
                    last = append_work(&mut block, last, per_work[0].1, &times);
                }
                bt.insert(hash, block.as_slice()).map_err(err)?;
            }
            meta.insert("next_id", next).map_err(err)?;
        }
        // At this point nothing is visible; commit makes the whole batch durable at once.
        txn.commit().map_err(err)?;
        Ok(ids)
    }

    fn remove_work(&self, id: WorkId) -> Result<bool> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(err)?;
        let existed;
        {
            let mut wt = txn.open_table(WORKS).map_err(err)?;
            existed = wt.remove(id).map_err(err)?.is_some();
            if existed {
                txn.open_table(REMOVED)
                    .map_err(err)?
                    .insert(id, 1)
                    .map_err(err)?;
            }
        }
        txn.commit().map_err(err)?;
        Ok(existed)
    }

    fn work(&self, id: WorkId) -> Result<Option<WorkInfo>> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(err)?;
        let wt = txn.open_table(WORKS).map_err(err)?;
        match wt.get(id).map_err(err)? {
            Some(v) => Ok(Some(decode_work(id, v.value())?)),
            None => Ok(None),
        }
    }

    fn works(&self) -> Result<Vec<WorkInfo>> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(err)?;
        let wt = txn.open_table(WORKS).map_err(err)?;
        let mut out = Vec::new();
        for item in wt.iter().map_err(err)? {
            let (k, v) = item.map_err(err)?;
            out.push(decode_work(k.value(), v.value())?);
        }
        Ok(out)
    }

    fn lookup(&self, hashes: &[u32], out: &mut Vec<Hit>) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(err)?;
        let removed: HashSet<WorkId> = {
            let rt = txn.open_table(REMOVED).map_err(err)?;
            let mut set = HashSet::new();
            for item in rt.iter().map_err(err)? {
                set.insert(item.map_err(err)?.0.value());
            }
            set
        };
        let bt = txn.open_table(BLOCKS).map_err(err)?;
        for &hash in hashes {
            let Some(block) = bt.get(hash).map_err(err)? else {
                continue;
            };
            if removed.is_empty() {
                for_each_posting(block.value(), |work, t| out.push(Hit { hash, work, t }));
            } else {
                for_each_posting(block.value(), |work, t| {
                    if !removed.contains(&work) {
                        out.push(Hit { hash, work, t });
                    }
                });
            }
        }
        Ok(())
    }

    fn compact(&self) -> Result<u64> {
        let mut deleted = 0u64;
        {
            let db = self.db()?;
            let txn = db.begin_write().map_err(err)?;
            {
                let mut rt = txn.open_table(REMOVED).map_err(err)?;
                let mut removed = HashSet::new();
                for item in rt.iter().map_err(err)? {
                    removed.insert(item.map_err(err)?.0.value());
                }
                if !removed.is_empty() {
                    let mut bt = txn.open_table(BLOCKS).map_err(err)?;
                    // Rewrite the blocks holding removed works, a slice of the key space at a
                    // time so memory stays bounded.
                    let mut from = 0u32;
                    loop {
                        let mut changed: Vec<(u32, Option<Vec<u8>>)> = Vec::new();
                        let mut next_from = None;
                        for item in bt.range(from..).map_err(err)? {
                            let (k, v) = item.map_err(err)?;
                            if changed.len() >= 65_536 {
                                next_from = Some(k.value());
                                break;
                            }
                            let (_, _, hit) = rewrite_without(v.value(), &removed);
                            if let Some((block, n)) = hit {
                                deleted += n;
                                changed.push((k.value(), (!block.is_empty()).then_some(block)));
                            }
                        }
                        for (k, v) in changed {
                            match v {
                                Some(block) => bt.insert(k, block.as_slice()).map_err(err)?,
                                None => bt.remove(k).map_err(err)?,
                            };
                        }
                        match next_from {
                            Some(f) => from = f,
                            None => break,
                        }
                    }
                    rt.retain(|_, _| false).map_err(err)?;
                }
            }
            // At this point the postings are gone in one atomic commit; what follows only
            // returns free pages (also those left by copy-on-write) to the file system.
            txn.commit().map_err(err)?;
        }
        let mut db = self.db.write().map_err(|_| err("lock poisoned"))?;
        db.compact().map_err(err)?;
        Ok(deleted)
    }

    fn stats(&self) -> Result<StoreStats> {
        let works = self.works()?;
        let db = self.db()?;
        let txn = db.begin_read().map_err(err)?;
        let rt = txn.open_table(REMOVED).map_err(err)?;
        let pending = rt.iter().map_err(err)?.count() as u64;
        Ok(StoreStats {
            works: works.len() as u64,
            postings: works.iter().map(|w| w.postings).sum(),
            pending_removals: pending,
        })
    }
}

/// The block without the postings of `removed` works: `(kept postings, well formed, Some((new
/// block, deleted postings)))` when anything was removed.
fn rewrite_without(block: &[u8], removed: &HashSet<WorkId>) -> (u64, bool, Option<(Vec<u8>, u64)>) {
    let mut postings: Vec<(WorkId, u32)> = Vec::new();
    let (_, ok) = for_each_posting(block, |w, t| postings.push((w, t)));
    let before = postings.len() as u64;
    postings.retain(|(w, _)| !removed.contains(w));
    let kept = postings.len() as u64;
    if kept == before {
        return (kept, ok, None);
    }
    let mut out = Vec::with_capacity(block.len());
    let mut last = 0;
    let mut times = Vec::new();
    for per_work in postings.chunk_by(|a, b| a.0 == b.0) {
        times.clear();
        times.extend(per_work.iter().map(|p| p.1));
        last = append_work(&mut out, last, per_work[0].0, &times);
    }
    (kept, ok, Some((out, before - kept)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode_block(entries: &[(WorkId, Vec<u32>)]) -> Vec<u8> {
        let mut block = Vec::new();
        let mut last = 0;
        for (w, ts) in entries {
            last = append_work(&mut block, last, *w, ts);
        }
        block
    }

    proptest! {
        #[test]
        fn varint_times_round_trip(mut ts in proptest::collection::vec(any::<u32>(), 0..50)) {
            ts.sort_unstable();
            let mut v = Vec::new();
            let mut prev = 0;
            for &t in &ts {
                put_varint(&mut v, t - prev);
                prev = t;
            }
            let mut back = Vec::new();
            for_each_time(&v, |t| back.push(t));
            prop_assert_eq!(back, ts);
        }

        #[test]
        fn blocks_round_trip(
            raw in proptest::collection::btree_map(
                any::<u32>(), proptest::collection::vec(any::<u32>(), 1..6), 0..20)
        ) {
            let entries: Vec<(WorkId, Vec<u32>)> = raw
                .into_iter()
                .map(|(w, mut ts)| { ts.sort_unstable(); (w, ts) })
                .collect();
            let block = encode_block(&entries);
            let mut back: Vec<(WorkId, u32)> = Vec::new();
            let (last, ok) = for_each_posting(&block, |w, t| back.push((w, t)));
            prop_assert!(ok);
            let want: Vec<(WorkId, u32)> = entries
                .iter()
                .flat_map(|(w, ts)| ts.iter().map(move |&t| (*w, t)))
                .collect();
            prop_assert_eq!(back, want);
            prop_assert_eq!(last, entries.last().map_or(0, |e| e.0));
        }

        #[test]
        fn malformed_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for_each_time(&bytes, |_| {});
            for_each_posting(&bytes, |_, _| {});
            let removed: HashSet<WorkId> = [0, 1, 2].into();
            rewrite_without(&bytes, &removed);
        }
    }

    /// Found by `malformed_blocks_never_panic`: decoded times that wrap around made the
    /// re-encoder subtract past zero.
    #[test]
    fn rewriting_a_block_whose_times_wrap_does_not_panic() {
        let bytes = [0, 0, 74, 0, 84, 0, 44, 0, 180, 0, 128, 1, 0, 0, 0];
        let removed: HashSet<WorkId> = [0, 1, 2].into();
        rewrite_without(&bytes, &removed);
    }

    #[test]
    fn truncated_work_record_is_an_error() {
        assert!(decode_work(3, &[1, 2, 3]).is_err());
    }

    #[test]
    fn truncated_block_is_reported() {
        let block = encode_block(&[(5, vec![1, 300, 70_000])]);
        assert!(for_each_posting(&block, |_, _| {}).1);
        assert!(!for_each_posting(&block[..block.len() - 1], |_, _| {}).1);
    }

    /// A format-1 file (one row per hash and work) is converted on open and answers the same.
    #[test]
    fn format_1_index_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut meta = txn.open_table(META).unwrap();
                meta.insert("format_version", FORMAT_V1).unwrap();
                meta.insert("next_id", 2).unwrap();
                let mut pt = txn.open_table(POSTINGS_V1).unwrap();
                let row = |ts: &[u32]| {
                    let mut v = Vec::new();
                    let mut prev = 0;
                    for &t in ts {
                        put_varint(&mut v, t - prev);
                        prev = t;
                    }
                    v
                };
                pt.insert(7u64 << 32, row(&[3, 9]).as_slice()).unwrap();
                pt.insert(7u64 << 32 | 1, row(&[4]).as_slice()).unwrap();
                pt.insert(u64::from(u32::MAX) << 32 | 1, row(&[u32::MAX]).as_slice())
                    .unwrap();
                let mut wt = txn.open_table(WORKS).unwrap();
                for (id, name) in [(0u32, "a"), (1, "b")] {
                    let w = NewWork {
                        name: name.into(),
                        duration_s: 1.0,
                        postings: Vec::new(),
                    };
                    wt.insert(id, encode_work(&w, 2).as_slice()).unwrap();
                }
                txn.open_table(REMOVED).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = RedbStore::open(dir.path()).unwrap();
        let mut hits = Vec::new();
        store.lookup(&[7, u32::MAX], &mut hits).unwrap();
        hits.sort_unstable();
        let h = |hash, work, t| Hit { hash, work, t };
        assert_eq!(
            hits,
            [h(7, 0, 3), h(7, 0, 9), h(7, 1, 4), h(u32::MAX, 1, u32::MAX)]
        );
        // New works get the next id and land in the converted blocks.
        let id = store
            .add_work(&NewWork {
                name: "c".into(),
                duration_s: 1.0,
                postings: vec![crate::Posting { hash: 7, t: 1 }],
            })
            .unwrap();
        assert_eq!(id, 2);
        hits.clear();
        store.lookup(&[7], &mut hits).unwrap();
        assert_eq!(hits.len(), 4);
        drop(store);
        let store = RedbStore::open(dir.path()).unwrap();
        assert_eq!(store.works().unwrap().len(), 3);
    }
}
