//! Where a log keeps its tiles, bundles and checkpoint: a small trait, a local-directory
//! backend, an in-memory backend, and a fault-injecting wrapper for tests.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// Storage for one log. Paths are relative, `/`-separated (`checkpoint`, `tile/0/000`, ...).
///
/// Guarantees every backend gives:
/// - **durable once a write returns**: after `put_tile` or `put_checkpoint` returns `Ok`, the
///   data survives a crash or power loss;
/// - **read-after-write consistent**: `get` sees every completed write;
/// - **atomic checkpoint replacement**: a reader sees the old or the new checkpoint, never a
///   mix, and `put_checkpoint` fails with [`Error::Conflict`] if the current checkpoint is not
///   `expected`.
///
/// The log only calls `put_tile` for paths that no published checkpoint covers, so a tile may
/// replace a leftover of a batch that crashed before its checkpoint; covered tiles never change.
pub trait Storage: Send + Sync {
    /// Reads an object; `None` when absent.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// Durably writes a tile or entry bundle.
    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()>;
    /// Durably writes several tiles or bundles (one batch of the log; all are at paths no
    /// published checkpoint covers). When it returns `Ok`, every one is durable; on error any
    /// subset may have been written. Backends override it to write concurrently (the default
    /// writes them one by one, in order).
    fn put_tiles(&self, tiles: &[(String, Vec<u8>)]) -> Result<()> {
        for (path, data) in tiles {
            self.put_tile(path, data)?;
        }
        Ok(())
    }
    /// Durably and atomically replaces the object at `path` (`checkpoint` or the log's private
    /// `staged` checkpoint) when it currently equals `expected` (`None`: absent).
    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()>;
}

impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        (**self).get(path)
    }
    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()> {
        (**self).put_tile(path, data)
    }
    fn put_tiles(&self, tiles: &[(String, Vec<u8>)]) -> Result<()> {
        (**self).put_tiles(tiles)
    }
    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()> {
        (**self).put_checkpoint(path, expected, data)
    }
}

/// A log in a local directory, laid out exactly as the tlog-tiles URLs. Writes go to a
/// temporary file, which is fsynced, renamed over the target, and the directory fsynced. One
/// writer at a time: the directory's `lock` file is locked while this value lives.
#[derive(Debug)]
pub struct DirStorage {
    root: PathBuf,
    _lock: File,
    tmp_counter: AtomicUsize,
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl DirStorage {
    /// Opens (creating the directory if needed) and takes the writer lock; fails if another
    /// process holds it.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        let lock_path = root.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        lock.try_lock().map_err(|_| Error::Storage {
            path: lock_path.display().to_string(),
            detail: "another process is writing this log".into(),
        })?;
        Ok(DirStorage {
            root: root.to_owned(),
            _lock: lock,
            tmp_counter: AtomicUsize::new(0),
        })
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        if path.is_empty()
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::Storage {
                path: path.into(),
                detail: "invalid object path".into(),
            });
        }
        Ok(self.root.join(path))
    }

    /// Creates `dir` (and syncs its new ancestors) when missing.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            // New directories must reach the disk too: sync each parent up to the root.
            let mut d = dir;
            while let Some(parent) = d.parent() {
                sync_dir(parent)?;
                if parent == self.root {
                    break;
                }
                d = parent;
            }
        }
        Ok(())
    }

    /// Writes `data` to a fresh temporary file next to `target` and fsyncs it.
    fn write_tmp(&self, dir: &Path, data: &[u8]) -> Result<PathBuf> {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(data).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        Ok(tmp)
    }

    fn write_atomic(&self, path: &str, data: &[u8]) -> Result<()> {
        let target = self.full(path)?;
        let dir = target.parent().unwrap_or(&self.root).to_owned();
        self.ensure_dir(&dir)?;
        let tmp = self.write_tmp(&dir, data)?;
        fs::rename(&tmp, &target).map_err(|e| io_err(&target, e))?;
        // At this point the new content is visible; syncing the directory makes it durable.
        sync_dir(&dir)
    }
}

/// Runs `f` on every item with up to `threads` threads; returns the first error.
fn parallel<T: Sync>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if let Err(e) = f(item) {
                        let mut slot = first_err
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        slot.get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    match first_err
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Concurrent fsyncs in one batch: the file system commits them together (one journal commit
/// for many files) instead of one after the other.
const SYNC_THREADS: usize = 16;

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

impl Storage for DirStorage {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let p = self.full(path)?;
        match fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p, e)),
        }
    }

    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()> {
        self.write_atomic(path, data)
    }

    /// Every file is written to a temporary and fsynced concurrently, then renamed into place,
    /// then each directory involved is fsynced once: the same durability as `put_tile` per
    /// file, with a few fsync rounds per batch instead of two fsyncs per file in sequence.
    fn put_tiles(&self, tiles: &[(String, Vec<u8>)]) -> Result<()> {
        let mut targets = Vec::with_capacity(tiles.len());
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (path, _) in tiles {
            let target = self.full(path)?;
            let dir = target.parent().unwrap_or(&self.root).to_owned();
            if !dirs.contains(&dir) {
                self.ensure_dir(&dir)?;
                dirs.push(dir.clone());
            }
            targets.push((target, dir));
        }
        let tmps: Mutex<Vec<Option<PathBuf>>> = Mutex::new(vec![None; tiles.len()]);
        let idx: Vec<usize> = (0..tiles.len()).collect();
        parallel(&idx, SYNC_THREADS, |&i| {
            let tmp = self.write_tmp(&targets[i].1, &tiles[i].1)?;
            tmps.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(tmp);
            Ok(())
        })?;
        let tmps = tmps
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (tmp, (target, _)) in tmps.into_iter().zip(&targets) {
            let tmp = tmp.ok_or_else(|| Error::Storage {
                path: target.display().to_string(),
                detail: "temporary file missing".into(),
            })?;
            fs::rename(&tmp, target).map_err(|e| io_err(target, e))?;
        }
        // At this point every tile is visible; syncing the directories makes them durable.
        parallel(&dirs, SYNC_THREADS, |d| sync_dir(d))
    }

    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()> {
        // The writer lock makes this read-compare-rename atomic with respect to other writers.
        if self.get(path)?.as_deref() != expected {
            return Err(Error::Conflict);
        }
        self.write_atomic(path, data)
    }
}

/// An in-memory backend (tests, benchmarks).
#[derive(Debug, Default)]
pub struct MemStorage {
    objects: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        MemStorage::default()
    }

    /// All paths stored (for tests).
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Overwrites an object behind the log's back (for corruption tests).
    pub fn tamper(&self, path: &str, data: Vec<u8>) {
        self.lock().insert(path.to_owned(), data);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Storage for MemStorage {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().get(path).cloned())
    }
    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()> {
        self.lock().insert(path.to_owned(), data.to_vec());
        Ok(())
    }
    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()> {
        let mut m = self.lock();
        if m.get(path).map(Vec::as_slice) != expected {
            return Err(Error::Conflict);
        }
        m.insert(path.to_owned(), data.to_vec());
        Ok(())
    }
}

/// When an injected fault strikes relative to the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The write fails and nothing is written.
    Before,
    /// The write happens, then an error is reported (e.g. a lost acknowledgement).
    After,
}

/// Wraps a backend and fails the n-th write (counting from 0) in the chosen way. For tests.
#[derive(Debug)]
pub struct FaultyStorage<S> {
    inner: S,
    writes: AtomicUsize,
    fail_at: Mutex<Option<(usize, Fault)>>,
}

impl<S: Storage> FaultyStorage<S> {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: S) -> Self {
        FaultyStorage {
            inner,
            writes: AtomicUsize::new(0),
            fail_at: Mutex::new(None),
        }
    }

    /// Arms a fault at the `n`-th write from now (0 = the next write).
    pub fn arm(&self, n: usize, fault: Fault) {
        let now = self.writes.load(Ordering::SeqCst);
        *self
            .fail_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now + n, fault));
    }

    /// Disarms and returns the number of writes seen so far.
    pub fn disarm(&self) -> usize {
        *self
            .fail_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.writes.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn write(&self, path: &str, op: impl FnOnce() -> Result<()>) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        let armed = *self
            .fail_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let injected = || Error::Storage {
            path: path.into(),
            detail: format!("injected fault at write {n}"),
        };
        match armed {
            Some((at, Fault::Before)) if at == n => Err(injected()),
            Some((at, Fault::After)) if at == n => {
                op()?;
                Err(injected())
            }
            _ => op(),
        }
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(path)
    }
    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()> {
        self.write(path, || self.inner.put_tile(path, data))
    }
    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()> {
        self.write(path, || self.inner.put_checkpoint(path, expected, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_storage_round_trip_and_conditional_update() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStorage::open(dir.path()).unwrap();
        assert!(
            DirStorage::open(dir.path()).is_err(),
            "second writer must be refused"
        );
        s.put_tile("tile/0/x001/002", b"abc").unwrap();
        assert_eq!(s.get("tile/0/x001/002").unwrap().unwrap(), b"abc");
        assert_eq!(s.get("tile/0/000").unwrap(), None);
        s.put_checkpoint("checkpoint", None, b"one").unwrap();
        assert!(matches!(
            s.put_checkpoint("checkpoint", None, b"two"),
            Err(Error::Conflict)
        ));
        s.put_checkpoint("checkpoint", Some(b"one"), b"two")
            .unwrap();
        assert_eq!(s.get("checkpoint").unwrap().unwrap(), b"two");
        assert!(s.get("../etc/passwd").is_err());
        // A batch: new directories, many files, all readable afterwards, no temporaries left.
        let batch: Vec<(String, Vec<u8>)> = (0..40u8)
            .map(|i| (format!("tile/{}/x00{}/{i:03}", i % 3, i % 2), vec![i; 64]))
            .collect();
        s.put_tiles(&batch).unwrap();
        for (p, d) in &batch {
            assert_eq!(&s.get(p).unwrap().unwrap(), d);
        }
        let leftovers = walk(dir.path())
            .into_iter()
            .filter(|p| p.contains(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
        assert!(s.put_tiles(&[("../x".into(), vec![1])]).is_err());
    }

    fn walk(d: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
        out
    }
}
