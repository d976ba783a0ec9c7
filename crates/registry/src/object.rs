//! The `object_store` backend (S3, GCS, Azure, local files, memory): tiles are created with
//! `PutMode::Create`, the checkpoint is replaced with `PutMode::Update` on its ETag/version.

use std::future::Future;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::error::{Error, Result};
use crate::storage::Storage;

/// A log in any `object_store` store, under an optional prefix. Calls are driven with a
/// blocking executor (or the tokio runtime given with [`ObjectStorage::with_runtime`], which
/// network stores such as S3 need), so this works without (and must not be called from
/// inside) an async task: from async code, call the log in `spawn_blocking`. Stores without
/// conditional updates (`LocalFileSystem`) fall back to compare-then-overwrite, which is safe
/// with the log's single writer.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: Option<tokio::runtime::Handle>,
    _own_runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl ObjectStorage {
    /// Wraps a store; object paths are `prefix/…` (no prefix when empty).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            runtime: None,
            _own_runtime: None,
        }
    }

    /// Wraps a store whose I/O needs a tokio runtime (S3, GCS, Azure, HTTP); calls block on
    /// `runtime` (a multi-threaded runtime, whose workers drive the I/O) and must come from
    /// outside its tasks (e.g. `spawn_blocking`).
    pub fn with_runtime(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        ObjectStorage {
            runtime: Some(runtime),
            ..ObjectStorage::new(store, prefix)
        }
    }

    /// Opens a store from a URL: `s3://bucket[/prefix]` (credentials, region and endpoint from
    /// the usual `AWS_*` variables; `AWS_ENDPOINT_URL` for S3-compatible servers, plain `http://`
    /// endpoints allowed), `file:///abs/dir` or `memory://`. Network stores get their own
    /// single-threaded tokio runtime.
    pub fn from_url(url: &str) -> Result<Self> {
        let bad = |d: &str| Error::Storage {
            path: url.into(),
            detail: d.into(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name"));
            }
            // Few, quick retries: a log writer should report an unreachable store, not hang.
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(30),
                ..Default::default()
            };
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("AWS_ENDPOINT"))
                .ok();
            if let Some(e) = endpoint {
                b = b.with_allow_http(e.starts_with("http://")).with_endpoint(e);
            }
            let store = b.build().map_err(|e| bad(&e.to_string()))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Io {
                    path: "tokio runtime".into(),
                    source: e,
                })?;
            let handle = rt.handle().clone();
            Ok(ObjectStorage {
                _own_runtime: Some(Arc::new(rt)),
                ..ObjectStorage::with_runtime(Arc::new(store), prefix, handle)
            })
        } else if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: dir.into(),
                source: e,
            })?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| bad(&e.to_string()))?;
            Ok(ObjectStorage::new(Arc::new(store), ""))
        } else if url == "memory://" {
            Ok(ObjectStorage::new(
                Arc::new(object_store::memory::InMemory::new()),
                "",
            ))
        } else {
            Err(bad(
                "unsupported store URL (use s3://bucket/prefix, file:///dir or memory://)",
            ))
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        match (&self._own_runtime, &self.runtime) {
            // A current-thread runtime only drives its I/O from `Runtime::block_on`.
            (Some(rt), _) => rt.block_on(f),
            (None, Some(h)) => h.block_on(f),
            (None, None) => futures::executor::block_on(f),
        }
    }

    fn path(&self, p: &str) -> Result<Path> {
        let full = if self.prefix.is_empty() {
            p.to_owned()
        } else {
            format!("{}/{p}", self.prefix)
        };
        Path::parse(&full).map_err(|e| Error::Storage {
            path: p.into(),
            detail: e.to_string(),
        })
    }

    fn get_versioned(&self, p: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        let path = self.path(p)?;
        match self.block_on(self.store.get(&path)) {
            Ok(r) => {
                let v = UpdateVersion {
                    e_tag: r.meta.e_tag.clone(),
                    version: r.meta.version.clone(),
                };
                let bytes = self.block_on(r.bytes()).map_err(|e| err(p, e))?;
                Ok(Some((bytes.to_vec(), v)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(p, e)),
        }
    }

    fn put(
        &self,
        p: &str,
        data: &[u8],
        mode: PutMode,
    ) -> std::result::Result<(), object_store::Error> {
        let path = self.path(p).map_err(|e| object_store::Error::Generic {
            store: "path",
            source: e.to_string().into(),
        })?;
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        self.block_on(
            self.store
                .put_opts(&path, PutPayload::from(data.to_vec()), opts),
        )
        .map(|_| ())
    }
}

impl ObjectStorage {
    async fn put_tile_async(&self, p: &str, data: &[u8]) -> Result<()> {
        let path = self.path(p)?;
        let put = |mode| {
            let opts = PutOptions {
                mode,
                ..PutOptions::default()
            };
            self.store
                .put_opts(&path, PutPayload::from(data.to_vec()), opts)
        };
        match put(PutMode::Create).await {
            Ok(_) => Ok(()),
            // A backend without create-only writes (NotImplemented) gets compare-then-write;
            // the log's single writer makes that safe.
            Err(
                object_store::Error::AlreadyExists { .. } | object_store::Error::NotImplemented,
            ) => {
                // Same bytes: an earlier attempt already wrote it. Different bytes: a leftover
                // of a batch that never published (the log only writes uncovered paths).
                let current = match self.store.get(&path).await {
                    Ok(r) => Some(r.bytes().await.map_err(|e| err(p, e))?),
                    Err(object_store::Error::NotFound { .. }) => None,
                    Err(e) => return Err(err(p, e)),
                };
                if current.as_deref() == Some(data) {
                    Ok(())
                } else {
                    put(PutMode::Overwrite)
                        .await
                        .map(|_| ())
                        .map_err(|e| err(p, e))
                }
            }
            Err(e) => Err(err(p, e)),
        }
    }
}

fn err(path: &str, e: object_store::Error) -> Error {
    Error::Storage {
        path: path.into(),
        detail: e.to_string(),
    }
}

impl Storage for ObjectStorage {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(path)?.map(|(b, _)| b))
    }

    fn put_tile(&self, path: &str, data: &[u8]) -> Result<()> {
        self.block_on(self.put_tile_async(path, data))
    }

    /// All of a batch's tiles are uploaded concurrently (one round trip of latency per batch
    /// instead of one per tile); each keeps `put_tile`'s create-only semantics.
    fn put_tiles(&self, tiles: &[(String, Vec<u8>)]) -> Result<()> {
        let results = self.block_on(futures::future::join_all(
            tiles.iter().map(|(p, d)| self.put_tile_async(p, d)),
        ));
        results.into_iter().collect()
    }

    fn put_checkpoint(&self, path: &str, expected: Option<&[u8]>, data: &[u8]) -> Result<()> {
        let current = self.get_versioned(path)?;
        let mode = match (&current, expected) {
            (None, None) => PutMode::Create,
            (Some((cur, v)), Some(exp)) if cur.as_slice() == exp => PutMode::Update(v.clone()),
            _ => return Err(Error::Conflict),
        };
        match self.put(path, data, mode.clone()) {
            Ok(()) => Ok(()),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(Error::Conflict),
            // No conditional writes on this backend: the comparison above was the check.
            Err(object_store::Error::NotImplemented) => self
                .put(path, data, PutMode::Overwrite)
                .map_err(|e| err(path, e)),
            Err(e) => Err(err(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyKind, Log, NoteSigner};

    fn exercise(store: Arc<dyn ObjectStore>) {
        let s = ObjectStorage::new(store.clone(), "logs/one");
        let key = NoteSigner::from_seed("example.org/obj", KeyKind::Ed25519, [4; 32]).unwrap();
        let mut log = Log::create(s.clone(), key.clone()).unwrap();
        assert!(
            Log::create(s.clone(), key.clone()).is_err(),
            "create-only checkpoint"
        );
        let e: Vec<Vec<u8>> = (0..700u32).map(|i| i.to_be_bytes().to_vec()).collect();
        log.append(&e[..300], 0).unwrap();
        log.append(&e[300..], 0).unwrap();
        // A stale expected checkpoint is a conflict.
        assert!(matches!(
            s.put_checkpoint("checkpoint", Some(b"stale"), b"x"),
            Err(Error::Conflict)
        ));
        // Tiles: same bytes again is fine.
        let t = s.get("tile/0/000").unwrap().unwrap();
        s.put_tile("tile/0/000", &t).unwrap();
        // A batch: identical bytes accepted, a leftover at an uncovered path replaced.
        s.put_tile("tile/0/x999/999.p/1", b"leftover").unwrap();
        s.put_tiles(&[
            ("tile/0/000".into(), t.clone()),
            ("tile/0/x999/999.p/1".into(), b"new".to_vec()),
        ])
        .unwrap();
        assert_eq!(s.get("tile/0/x999/999.p/1").unwrap().unwrap(), b"new");
        drop(log);
        let log = Log::open(ObjectStorage::new(store, "logs/one"), key).unwrap();
        log.verify_storage().unwrap();
        assert_eq!(log.size(), 700);
        assert_eq!(log.entry(650).unwrap(), 650u32.to_be_bytes());
    }

    #[test]
    fn in_memory_store() {
        exercise(Arc::new(object_store::memory::InMemory::new()));
    }

    #[test]
    fn local_file_system_store() {
        let dir = tempfile::tempdir().unwrap();
        exercise(Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
        ));
        assert!(dir.path().join("logs/one/tile/0/002.p/188").is_file());
    }
}
