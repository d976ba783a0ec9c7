//! An in-memory posting store: the reference implementation the conformance suite is written
//! against, and a fast store for tests and one-off tools.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use super::{Hit, NewWork, PostingStore, StoreStats, WorkId, WorkInfo, check_new_works};
use crate::Result;

#[derive(Debug, Default)]
struct Inner {
    next_id: WorkId,
    works: BTreeMap<WorkId, WorkInfo>,
    removed: Vec<WorkId>,
    postings: HashMap<u32, Vec<(WorkId, u32)>>,
}

/// Postings in a hash map behind a lock; nothing is persisted.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Inner>> {
        self.inner
            .read()
            .map_err(|_| crate::Error::store("memory", "lock poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Inner>> {
        self.inner
            .write()
            .map_err(|_| crate::Error::store("memory", "lock poisoned"))
    }
}

impl PostingStore for MemoryStore {
    fn add_works(&self, works: &[NewWork]) -> Result<Vec<WorkId>> {
        check_new_works(works)?;
        let mut inner = self.write()?;
        let mut ids = Vec::with_capacity(works.len());
        for w in works {
            let id = inner.next_id;
            inner.next_id = id
                .checked_add(1)
                .ok_or_else(|| crate::Error::store("memory", "work ids exhausted"))?;
            for p in &w.postings {
                inner.postings.entry(p.hash).or_default().push((id, p.t));
            }
            inner.works.insert(
                id,
                WorkInfo {
                    id,
                    name: w.name.clone(),
                    duration_s: w.duration_s,
                    postings: w.postings.len() as u64,
                },
            );
            ids.push(id);
        }
        Ok(ids)
    }

    fn remove_work(&self, id: WorkId) -> Result<bool> {
        let mut inner = self.write()?;
        if inner.works.remove(&id).is_none() {
            return Ok(false);
        }
        inner.removed.push(id);
        Ok(true)
    }

    fn work(&self, id: WorkId) -> Result<Option<WorkInfo>> {
        Ok(self.read()?.works.get(&id).cloned())
    }

    fn works(&self) -> Result<Vec<WorkInfo>> {
        Ok(self.read()?.works.values().cloned().collect())
    }

    fn lookup(&self, hashes: &[u32], out: &mut Vec<Hit>) -> Result<()> {
        let inner = self.read()?;
        for &hash in hashes {
            if let Some(list) = inner.postings.get(&hash) {
                out.extend(
                    list.iter()
                        .filter(|(w, _)| inner.works.contains_key(w))
                        .map(|&(work, t)| Hit { hash, work, t }),
                );
            }
        }
        Ok(())
    }

    fn compact(&self) -> Result<u64> {
        let mut inner = self.write()?;
        if inner.removed.is_empty() {
            return Ok(0);
        }
        let removed: std::collections::HashSet<WorkId> = inner.removed.drain(..).collect();
        let mut deleted = 0u64;
        inner.postings.retain(|_, list| {
            let before = list.len();
            list.retain(|(w, _)| !removed.contains(w));
            deleted += (before - list.len()) as u64;
            !list.is_empty()
        });
        Ok(deleted)
    }

    fn stats(&self) -> Result<StoreStats> {
        let inner = self.read()?;
        Ok(StoreStats {
            works: inner.works.len() as u64,
            postings: inner.works.values().map(|w| w.postings).sum(),
            pending_removals: inner.removed.len() as u64,
        })
    }
}
