//! Server configuration: where metadata and blobs live, and the limits that protect the server.

use std::path::PathBuf;
use std::time::Duration;

/// Largest JSON body any endpoint accepts, in bytes.
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

/// Where blobs (audio originals, artwork, derived files) are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    /// A local directory (the embedded default: `DATA/blobs`).
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3 {
        /// Endpoint URL, e.g. `http://127.0.0.1:9000`.
        endpoint: String,
        /// Bucket name.
        bucket: String,
        /// Region (any string for most S3-compatible servers).
        region: String,
        /// Access key id.
        access_key_id: String,
        /// Secret access key.
        secret_access_key: String,
        /// Allow plain HTTP (loopback and test servers).
        allow_http: bool,
    },
}

/// When the lyrics step asks OpenAI Whisper (as `encore lyrics align --whisper=WHEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LyricsWhisper {
    /// Both modes when Whisper is installed: the default. The lyrics step is a background job,
    /// so full mode (plain lyrics) takes Whisper's accuracy at its price: about 6x real time
    /// on one core instead of about 47x (refine mode, LRC with line times: about 28x instead of
    /// 47x). A Whisper that does not start is left out.
    #[default]
    Auto,
    /// Refine mode only, when Whisper is installed (`encore lyrics align`'s default): for a
    /// server that cannot spare the CPU for full mode.
    Refine,
    /// Both modes. The server and workers refuse to start when Whisper is not installed.
    On,
    /// Never.
    Off,
}

/// Everything the server needs to start. [`Config::embedded`] gives the single-machine defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// A sqlx URL: `sqlite://PATH?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Most database connections in the pool.
    pub db_max_connections: u32,
    /// Blob storage.
    pub blobs: BlobConfig,
    /// Scratch directory for uploads being validated and transcodes being made.
    pub scratch_dir: PathBuf,
    /// Largest accepted audio upload, in bytes (default 500 MB).
    pub max_upload_bytes: u64,
    /// Largest accepted cover image, in bytes.
    pub max_cover_bytes: u64,
    /// Largest accepted lyrics file, in bytes.
    pub max_lyrics_bytes: u64,
    /// Mark session cookies `Secure` (set when the server is reached through TLS).
    pub secure_cookies: bool,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Timeout for ordinary requests (uploads and streams are exempt).
    pub request_timeout: Duration,
    /// Most requests handled at once.
    pub max_concurrent_requests: usize,
    /// Failed logins allowed per account (and per client address) within `login_window`.
    pub login_max_failures: u32,
    /// Window for counting failed logins.
    pub login_window: Duration,
    /// How long a worker holds a job before another worker may take it over.
    pub job_lease: Duration,
    /// Attempts before a job is marked failed.
    pub job_max_attempts: i64,
    /// First retry delay; doubles on every attempt.
    pub job_backoff_base: Duration,
    /// How often an idle worker polls the queue.
    pub job_poll_interval: Duration,
    /// Most transcodes running at once.
    pub max_concurrent_transcodes: usize,
    /// The ffmpeg binary.
    pub ffmpeg: PathBuf,
    /// Argon2id memory cost in KiB (OWASP minimum 19 MiB by default).
    pub argon2_memory_kib: u32,
    /// Where the embedded fingerprint index (redb) lives when the metadata database is SQLite.
    pub fingerprint_dir: PathBuf,
    /// PostgreSQL schema of the fingerprint index when the metadata database is PostgreSQL.
    pub fingerprint_pg_schema: String,
    /// Name (origin) of the server's rights-registry log, as it appears in its checkpoints and
    /// verifier key.
    pub registry_name: String,
    /// When the lyrics step asks Whisper.
    pub lyrics_whisper: LyricsWhisper,
    /// Where the lyrics step finds Whisper (by default where `scripts/install-deps.sh` puts it).
    pub whisper: encore_whisper::Installation,
}

impl Config {
    /// The embedded defaults: SQLite at `DATA/encore.db`, blobs under `DATA/blobs`.
    pub fn embedded(data_dir: &std::path::Path) -> Self {
        Config {
            database_url: format!("sqlite://{}?mode=rwc", data_dir.join("encore.db").display()),
            db_max_connections: 16,
            blobs: BlobConfig::Local(data_dir.join("blobs")),
            scratch_dir: data_dir.join("tmp"),
            max_upload_bytes: 500 * 1000 * 1000,
            max_cover_bytes: 10 * 1000 * 1000,
            max_lyrics_bytes: 1000 * 1000,
            secure_cookies: false,
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            job_lease: Duration::from_secs(120),
            job_max_attempts: 5,
            job_backoff_base: Duration::from_secs(2),
            job_poll_interval: Duration::from_millis(500),
            max_concurrent_transcodes: 2,
            ffmpeg: PathBuf::from("ffmpeg"),
            argon2_memory_kib: 19 * 1024,
            fingerprint_dir: data_dir.join("fingerprints"),
            fingerprint_pg_schema: "encore_fingerprint".into(),
            registry_name: "encore.localhost/registry".into(),
            lyrics_whisper: LyricsWhisper::Auto,
            whisper: encore_whisper::Installation::default_location(),
        }
    }
}
