//! Engine services shared by pipeline steps and routes: the fingerprint index, the
//! server's rights-registry log and the lyrics step's Whisper process. All are opened lazily (a server that never processes a work
//! never touches them) and shared by every clone of the [`crate::AppState`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use encore_fingerprint::{PgStore, PostingStore, RedbStore};
use encore_registry::{
    CHECKPOINT_PATH, CreatorKey, IdentityCommitment, KeyKind, Log, NoteSigner, ObjectStorage,
    Storage,
};
use sqlx::Row;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::db::{Db, Dialect, new_id, now_ms};
use crate::store::Blobs;

mod whisper;
pub use whisper::{WhisperProcess, WhisperUnavailable};

/// Everything engines need beyond the database and the blob store.
#[derive(Debug, Clone)]
pub struct Services {
    /// The catalogue's fingerprint index.
    pub fingerprints: Arc<FingerprintIndex>,
    /// The server's rights-registry log.
    pub rights: Arc<RightsLog>,
    /// Whisper for the lyrics step.
    pub whisper: Arc<WhisperProcess>,
}

impl Services {
    /// Services for a configuration (nothing is opened yet).
    pub fn new(config: &Config, db: &Db, blobs: &Blobs) -> Services {
        let fp = match db.dialect {
            Dialect::Sqlite => FingerprintBackend::Redb(config.fingerprint_dir.clone()),
            Dialect::Postgres => FingerprintBackend::Postgres {
                url: config.database_url.clone(),
                schema: config.fingerprint_pg_schema.clone(),
            },
        };
        Services {
            fingerprints: Arc::new(FingerprintIndex {
                backend: fp,
                store: OnceCell::new(),
            }),
            rights: Arc::new(RightsLog {
                db: db.clone(),
                blobs: blobs.clone(),
                name: config.registry_name.clone(),
                holder: format!("{}-{}", std::process::id(), new_id()),
                signer: OnceCell::new(),
                cache: Arc::new(Mutex::new(None)),
            }),
            whisper: Arc::new(WhisperProcess::new(
                config.lyrics_whisper,
                config.whisper.clone(),
            )),
        }
    }
}

#[derive(Debug, Clone)]
enum FingerprintBackend {
    Redb(PathBuf),
    Postgres { url: String, schema: String },
}

/// The fingerprint posting store: redb under the data directory when the metadata database is
/// SQLite (one process holds it open), the PostgreSQL store (its own schema) otherwise.
pub struct FingerprintIndex {
    backend: FingerprintBackend,
    store: OnceCell<Arc<dyn PostingStore>>,
}

impl std::fmt::Debug for FingerprintIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintIndex")
            .field("backend", &self.backend)
            .finish()
    }
}

impl FingerprintIndex {
    /// The store, opened on first use.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn PostingStore>> {
        let backend = self.backend.clone();
        self.store
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<dyn PostingStore>> {
                    Ok(match &backend {
                        FingerprintBackend::Redb(dir) => {
                            std::fs::create_dir_all(dir)?;
                            Arc::new(RedbStore::open(dir).with_context(|| {
                                format!("opening the fingerprint index in {}", dir.display())
                            })?)
                        }
                        FingerprintBackend::Postgres { url, schema } => {
                            Arc::new(OffThreadDrop(Some(
                                PgStore::open(url, schema)
                                    .context("opening the PostgreSQL fingerprint index")?,
                            )))
                        }
                    })
                })
                .await?
            })
            .await
            .cloned()
    }

    /// Drops the PostgreSQL schema of the index (tests clean up with it).
    pub async fn destroy(&self) -> anyhow::Result<()> {
        if let FingerprintBackend::Postgres { url, schema } = self.backend.clone() {
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                PgStore::open(&url, &schema)?.destroy()?;
                Ok(())
            })
            .await??;
        }
        Ok(())
    }
}

/// A synchronous PostgreSQL store whose client must not be dropped on an async thread (its
/// `Drop` blocks on its own runtime): dropping this moves it to a plain thread.
struct OffThreadDrop(Option<PgStore>);

impl OffThreadDrop {
    fn get(&self) -> encore_fingerprint::Result<&PgStore> {
        self.0
            .as_ref()
            .ok_or_else(|| encore_fingerprint::Error::Store {
                backend: "postgres",
                message: "store already closed".into(),
            })
    }
}

impl Drop for OffThreadDrop {
    fn drop(&mut self) {
        if let Some(store) = self.0.take() {
            std::thread::spawn(move || drop(store));
        }
    }
}

impl PostingStore for OffThreadDrop {
    fn add_works(
        &self,
        works: &[encore_fingerprint::NewWork],
    ) -> encore_fingerprint::Result<Vec<encore_fingerprint::WorkId>> {
        self.get()?.add_works(works)
    }
    fn remove_work(&self, id: encore_fingerprint::WorkId) -> encore_fingerprint::Result<bool> {
        self.get()?.remove_work(id)
    }
    fn work(
        &self,
        id: encore_fingerprint::WorkId,
    ) -> encore_fingerprint::Result<Option<encore_fingerprint::WorkInfo>> {
        self.get()?.work(id)
    }
    fn works(&self) -> encore_fingerprint::Result<Vec<encore_fingerprint::WorkInfo>> {
        self.get()?.works()
    }
    fn lookup(
        &self,
        hashes: &[u32],
        out: &mut Vec<encore_fingerprint::Hit>,
    ) -> encore_fingerprint::Result<()> {
        self.get()?.lookup(hashes, out)
    }
    fn compact(&self) -> encore_fingerprint::Result<u64> {
        self.get()?.compact()
    }
    fn stats(&self) -> encore_fingerprint::Result<encore_fingerprint::StoreStats> {
        self.get()?.stats()
    }
}

/// Blob prefix of the registry log (tlog-tiles layout below it).
pub const REGISTRY_PREFIX: &str = "registry";

/// How long one process may hold the sequencer lease.
const LEASE_MS: i64 = 60_000;

/// The server's rights-registry log, stored as tlog tiles in the blob store under
/// `registry/` (the data directory by default, the bucket on S3).
///
/// Only one sequencer may append at a time: whoever appends first takes the lease in the
/// `registry_log` row (`UPDATE ... WHERE lease_owner IS NULL OR lease_expires_at < now`, one
/// atomic statement on both databases), appends, and releases it; a process that died holding
/// it loses it after 60 s. Inside a process a mutex serialises the log. The log is cached and
/// reopened (with `Log::open`'s checks) whenever the stored checkpoint differs from the one it
/// holds, so appends by other processes are always seen. The log's signing key is created once
/// and kept in the `registry_log` row.
pub struct RightsLog {
    db: Db,
    blobs: Blobs,
    name: String,
    holder: String,
    signer: OnceCell<NoteSigner>,
    cache: Arc<Mutex<Option<Log<ObjectStorage>>>>,
}

impl std::fmt::Debug for RightsLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RightsLog")
            .field("name", &self.name)
            .finish()
    }
}

/// A creator's registry identity, custodied by the server.
#[derive(Debug)]
pub struct CreatorIdentity {
    /// The Ed25519 signing key.
    pub key: CreatorKey,
    /// The salted commitment to the creator's identity (the account e-mail).
    pub commitment: IdentityCommitment,
}

impl RightsLog {
    /// The log's signing key, created on first use and stored in the database.
    pub async fn signer(&self) -> anyhow::Result<NoteSigner> {
        self.signer
            .get_or_try_init(|| async {
                let read = || async {
                    let row = sqlx::query("SELECT signer FROM registry_log WHERE name = $1")
                        .bind(&self.name)
                        .fetch_optional(&self.db.pool)
                        .await?;
                    anyhow::Ok(row.map(|r| r.try_get::<String, _>("signer")).transpose()?)
                };
                if let Some(text) = read().await? {
                    return Ok(NoteSigner::parse(&text)?);
                }
                let fresh = NoteSigner::generate(&self.name, KeyKind::Ed25519)?;
                sqlx::query(
                    "INSERT INTO registry_log (name, signer, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(&self.name)
                .bind(fresh.to_private_text())
                .bind(now_ms())
                .execute(&self.db.pool)
                .await?;
                let text = read().await?.context("registry key row vanished")?;
                Ok(NoteSigner::parse(&text)?)
            })
            .await
            .cloned()
    }

    /// The log's verifier key (`name+id+base64`), for `encore verify --key`.
    pub async fn verifier_key(&self) -> anyhow::Result<String> {
        Ok(self.signer().await?.verifier().to_vkey())
    }

    /// The log's name (origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The creator's key and identity commitment, created on first use. The key is kept by
    /// the server (see the architecture page); the commitment opens with the account e-mail
    /// and the stored salt, so the log holds no personal data.
    pub async fn creator_identity(&self, creator_id: &str) -> anyhow::Result<CreatorIdentity> {
        let read = || async {
            let row = sqlx::query(
                "SELECT k.signing_key, k.identity_salt, u.email FROM creator_keys k \
                 JOIN creators c ON c.id = k.creator_id JOIN users u ON u.id = c.user_id \
                 WHERE k.creator_id = $1",
            )
            .bind(creator_id)
            .fetch_optional(&self.db.pool)
            .await?;
            anyhow::Ok(match row {
                Some(r) => Some((
                    r.try_get::<String, _>("signing_key")?,
                    r.try_get::<String, _>("identity_salt")?,
                    r.try_get::<String, _>("email")?,
                )),
                None => None,
            })
        };
        let (key, salt, email) = match read().await? {
            Some(v) => v,
            None => {
                let key = CreatorKey::generate()?;
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random: {e}"))?;
                sqlx::query(
                    "INSERT INTO creator_keys (creator_id, signing_key, public_key, identity_salt, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (creator_id) DO NOTHING",
                )
                .bind(creator_id)
                .bind(key.to_text())
                .bind(crate::auth::hex(&key.public()))
                .bind(crate::auth::hex(&salt))
                .bind(now_ms())
                .execute(&self.db.pool)
                .await?;
                read().await?.context("creator key row vanished")?
            }
        };
        let key = CreatorKey::parse(&key)?;
        let salt = unhex32(&salt).context("stored identity salt is not 32 hex bytes")?;
        Ok(CreatorIdentity {
            key,
            commitment: IdentityCommitment::new(&email, &salt),
        })
    }

    async fn try_lease(&self) -> anyhow::Result<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE registry_log SET lease_owner = $1, lease_expires_at = $2 \
             WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $4)",
        )
        .bind(&self.holder)
        .bind(now + LEASE_MS)
        .bind(&self.name)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release(&self) {
        let r = sqlx::query(
            "UPDATE registry_log SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE name = $1 AND lease_owner = $2",
        )
        .bind(&self.name)
        .bind(&self.holder)
        .execute(&self.db.pool)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "releasing the registry lease failed; it expires by itself");
        }
    }

    /// Appends one statement (idempotent: an identical statement keeps its index) and returns
    /// its index once a published checkpoint covers it.
    pub async fn append(&self, entry: Vec<u8>, now_s: u64) -> anyhow::Result<u64> {
        let signer = self.signer().await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.try_lease().await? {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the registry sequencer lease is held by another process"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let storage = log_storage(&self.blobs);
        let cache = self.cache.clone();
        let result = tokio::task::spawn_blocking(move || {
            with_log(&cache, storage, &signer, |log| {
                let idx = log.append(&[entry], now_s)?;
                idx.first()
                    .copied()
                    .ok_or_else(|| encore_registry::Error::Inconsistent("no index".into()))
            })
        })
        .await;
        self.release().await;
        result?
    }

    /// The C2SP tlog-proof of entry `index` against the latest published checkpoint.
    pub async fn proof(&self, index: u64) -> anyhow::Result<Vec<u8>> {
        let signer = self.signer().await?;
        let storage = log_storage(&self.blobs);
        let cache = self.cache.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            with_log(&cache, storage, &signer, |log| {
                Ok(log.proof(index)?.to_text())
            })
        })
        .await??;
        Ok(bytes)
    }
}

/// Runs `f` on the cached log, (re)opening it when the stored checkpoint moved.
fn with_log<R>(
    cache: &Mutex<Option<Log<ObjectStorage>>>,
    storage: ObjectStorage,
    signer: &NoteSigner,
    f: impl FnOnce(&mut Log<ObjectStorage>) -> encore_registry::Result<R>,
) -> anyhow::Result<R> {
    let mut guard = cache
        .lock()
        .map_err(|_| anyhow::anyhow!("registry cache poisoned"))?;
    let current = storage.get(CHECKPOINT_PATH)?;
    let stale = match (guard.as_ref(), current.as_deref()) {
        (Some(log), Some(cp)) => log.checkpoint_note() != cp,
        _ => true,
    };
    if stale {
        *guard = None;
        let log = match current {
            Some(_) => Log::open(storage, signer.clone())?,
            None => match Log::create(storage.clone(), signer.clone()) {
                Ok(log) => log,
                // Another process created it first.
                Err(encore_registry::Error::Inconsistent(_)) => Log::open(storage, signer.clone())?,
                Err(e) => return Err(e.into()),
            },
        };
        *guard = Some(log);
    }
    let log = guard.as_mut().context("registry log missing")?;
    match f(log) {
        Ok(r) => Ok(r),
        Err(e) => {
            // Start from storage next time: the in-memory state may be ahead of it.
            *guard = None;
            Err(e.into())
        }
    }
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The registry's [`Storage`] over the server's blob store (`registry/...`), driven from
/// blocking threads through the runtime's handle: tiles create-only, the checkpoint replaced
/// only over the version it read (backends without conditional updates fall back to
/// compare-then-write, which the sequencer lease makes safe).
fn log_storage(blobs: &Blobs) -> ObjectStorage {
    ObjectStorage::with_runtime(
        blobs.object_store(),
        REGISTRY_PREFIX,
        tokio::runtime::Handle::current(),
    )
}
