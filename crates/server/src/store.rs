//! Blob storage over `object_store`: a local directory by default, any S3-compatible bucket for
//! scale. Keys are built by the server only (`originals/<work>/audio`, `covers/<work>`,
//! `derived/<work>/<name>`), never from client text, so no client path reaches the store.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::config::BlobConfig;

/// Size of each part when a file is uploaded in parts.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// The blob store. Guarantees (from `object_store`): a `put_*` that returns `Ok` is durable and
/// visible to every later `get`, on the local backend and on S3 alike; a failed put leaves no
/// object under the key (local writes go to a staging file renamed into place; S3 multipart
/// uploads are aborted).
#[derive(Debug, Clone)]
pub struct Blobs {
    inner: Arc<dyn ObjectStore>,
}

/// A blob's size and entity tag.
#[derive(Debug, Clone)]
pub struct BlobMeta {
    /// Size in bytes.
    pub size: u64,
}

impl Blobs {
    /// Opens the configured backend (creating the local directory when needed).
    pub fn open(config: &BlobConfig) -> anyhow::Result<Blobs> {
        let inner: Arc<dyn ObjectStore> = match config {
            BlobConfig::Local(dir) => {
                std::fs::create_dir_all(dir)?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?)
            }
            BlobConfig::S3 {
                endpoint,
                bucket,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
            } => Arc::new(
                AmazonS3Builder::new()
                    .with_endpoint(endpoint)
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key)
                    .with_allow_http(*allow_http)
                    .with_virtual_hosted_style_request(false)
                    .build()?,
            ),
        };
        Ok(Blobs { inner })
    }

    /// Wraps any store (tests use `InMemory`).
    pub fn from_store(inner: Arc<dyn ObjectStore>) -> Blobs {
        Blobs { inner }
    }

    /// Stores a small blob in one request.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> object_store::Result<()> {
        self.inner
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// Streams a local file into the store in parts, never holding more than a few parts in
    /// memory.
    pub async fn put_file(&self, key: &str, file: &Path) -> anyhow::Result<u64> {
        let mut f = tokio::fs::File::open(file).await?;
        let upload = self.inner.put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match f.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    writer.abort().await.ok();
                    return Err(e.into());
                }
            };
            if n == 0 {
                break;
            }
            total += n as u64;
            if let Err(e) = writer.wait_for_capacity(4).await {
                return Err(e.into());
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(total)
    }

    /// The underlying object store, for engines that keep their own layout in it (the
    /// registry log under `registry/`).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.clone()
    }

    /// Size of a blob, or `NotFound`.
    pub async fn head(&self, key: &str) -> object_store::Result<BlobMeta> {
        let meta = self.inner.head(&ObjectPath::from(key)).await?;
        Ok(BlobMeta { size: meta.size })
    }

    /// Streams a byte range (or everything) of a blob.
    pub async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self.inner.get_opts(&ObjectPath::from(key), opts).await?;
        Ok(result.into_stream().boxed())
    }

    /// Reads a whole blob into memory (small blobs only: covers, derived JSON).
    pub async fn get_bytes(&self, key: &str) -> object_store::Result<Bytes> {
        self.inner.get(&ObjectPath::from(key)).await?.bytes().await
    }

    /// Copies a blob to a local file, streaming.
    pub async fn download_to(&self, key: &str, dest: &Path) -> anyhow::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.get_stream(key, None).await?;
        let mut out = tokio::fs::File::create(dest).await?;
        let mut total = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            total += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(total)
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lists blobs under a prefix with their size and last modification (Unix ms).
    pub async fn list_meta(&self, prefix: &str) -> object_store::Result<Vec<BlobListing>> {
        let prefix = ObjectPath::from(prefix);
        self.inner
            .list(Some(&prefix))
            .map_ok(|m| BlobListing {
                key: m.location.to_string(),
                size: m.size,
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .try_collect()
            .await
    }

    /// Lists keys under a prefix.
    pub async fn list(&self, prefix: &str) -> object_store::Result<Vec<String>> {
        let prefix = ObjectPath::from(prefix);
        self.inner
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
    }
}

/// A listed blob.
#[derive(Debug, Clone)]
pub struct BlobListing {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, Unix milliseconds.
    pub modified_ms: i64,
}

/// Blob keys. Every key is derived from server-generated ids.
pub mod keys {
    /// The uploaded original of a work.
    pub fn original(work_id: &str) -> String {
        format!("originals/{work_id}/audio")
    }
    /// The cover image of a work.
    pub fn cover(work_id: &str) -> String {
        format!("covers/{work_id}/cover")
    }
    /// A derived file of a work (analysis PCM, transcodes, ...).
    pub fn derived(work_id: &str, name: &str) -> String {
        format!("derived/{work_id}/{name}")
    }
}
