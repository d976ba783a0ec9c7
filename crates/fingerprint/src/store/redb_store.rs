//! The embedded default store: one redb file (`postings.redb`) in the index folder.
//!
//! Layout (format version [`FORMAT_VERSION`]):
//! - `postings`: key `hash << 32 | work` (u64), value the work's times for that hash, sorted and
//!   delta-coded as LEB128 varints. Keys sort by hash first, so one lookup is one range scan,
//!   and a work's postings for a hash cost 8 bytes of key plus about 2 bytes per time.
//! - `works`: id → `duration_s (f64 LE) | postings (u64 LE) | name (UTF-8)`.
//! - `removed`: ids removed but not yet compacted away (lookups filter them out).
//! - `meta`: `format_version`, `next_id`.
//!
//! redb is copy-on-write with MVCC: every write transaction is atomic and durable at commit, and
//! readers see a consistent snapshot while one writer works. Compaction deletes removed works'
//! postings in one write transaction, then asks redb to release the freed pages (this second
//! step needs exclusive access, so it waits for running lookups).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Hit, NewWork, PostingStore, StoreStats, WorkId, WorkInfo, check_new_works};
use crate::{Error, Result};

/// On-disk format version of the redb store; bumped on any incompatible change.
pub const FORMAT_VERSION: u64 = 1;
/// The file inside the index folder.
pub const FILE_NAME: &str = "postings.redb";

const POSTINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("postings");
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
    /// Opens the index in folder `dir`, creating the folder and an empty index if missing.
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
                Some(v) if v != FORMAT_VERSION => {
                    return Err(Error::Version {
                        found: v,
                        supported: FORMAT_VERSION,
                    });
                }
                Some(_) => {}
            }
            txn.open_table(POSTINGS).map_err(err)?;
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

pub(crate) fn put_varint(out: &mut Vec<u8>, mut x: u32) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Decodes delta-coded varints; stops at the first malformed byte sequence.
pub(crate) fn for_each_time(mut v: &[u8], mut f: impl FnMut(u32)) {
    let mut prev = 0u32;
    while !v.is_empty() {
        let mut x = 0u32;
        let mut shift = 0;
        loop {
            let Some((&b, rest)) = v.split_first() else {
                return;
            };
            v = rest;
            if shift > 28 {
                return;
            }
            x |= u32::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        prev = prev.wrapping_add(x);
        f(prev);
    }
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
            let mut entries: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut wt = txn.open_table(WORKS).map_err(err)?;
            for w in works {
                let id = WorkId::try_from(next).map_err(|_| err("work ids exhausted"))?;
                next += 1;
                let mut ps: Vec<(u32, u32)> = w.postings.iter().map(|p| (p.hash, p.t)).collect();
                ps.sort_unstable();
                let mut i = 0;
                while i < ps.len() {
                    let hash = ps[i].0;
                    let mut value = Vec::new();
                    let mut prev = 0u32;
                    while i < ps.len() && ps[i].0 == hash {
                        put_varint(&mut value, ps[i].1 - prev);
                        prev = ps[i].1;
                        i += 1;
                    }
                    entries.push((u64::from(hash) << 32 | u64::from(id), value));
                }
                wt.insert(id, encode_work(w, ps.len() as u64).as_slice())
                    .map_err(err)?;
                ids.push(id);
            }
            entries.sort_unstable_by_key(|e| e.0);
            let mut pt = txn.open_table(POSTINGS).map_err(err)?;
            for (k, v) in &entries {
                pt.insert(k, v.as_slice()).map_err(err)?;
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
        let pt = txn.open_table(POSTINGS).map_err(err)?;
        for &hash in hashes {
            let lo = u64::from(hash) << 32;
            let hi = lo | u64::from(u32::MAX);
            for item in pt.range(lo..=hi).map_err(err)? {
                let (k, v) = item.map_err(err)?;
                let work = k.value() as u32;
                if removed.contains(&work) {
                    continue;
                }
                for_each_time(v.value(), |t| out.push(Hit { hash, work, t }));
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
                    let mut pt = txn.open_table(POSTINGS).map_err(err)?;
                    pt.retain(|k, v| {
                        if removed.contains(&(k as u32)) {
                            for_each_time(v, |_| deleted += 1);
                            false
                        } else {
                            true
                        }
                    })
                    .map_err(err)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        fn malformed_varints_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for_each_time(&bytes, |_| {});
        }
    }

    #[test]
    fn truncated_work_record_is_an_error() {
        assert!(decode_work(3, &[1, 2, 3]).is_err());
    }
}
