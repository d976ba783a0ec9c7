//! `encore-server`: the Encore platform as a library.
//!
//! [`app`] builds the whole HTTP API as an axum [`Router`] over an [`AppState`]; the `encore`
//! binary serves it ([`serve`]) and runs pipeline [`Worker`]s beside it or alone. Storage is
//! sqlx over SQLite (default) or PostgreSQL ([`Db`]) and `object_store` over a local directory
//! (default) or S3 ([`Blobs`]). Every upload runs through the [`pipeline`]: one durable job per
//! registered [`Step`]; engines join by registering a step.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tower::ServiceExt;
//! let dir = tempfile::tempdir().unwrap();
//! let state = encore_server::AppState::open(encore_server::Config::embedded(dir.path())).await.unwrap();
//! let response = encore_server::app(state)
//!     .oneshot(axum::http::Request::get("/api/health").body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

mod auth;
mod config;
mod db;
mod error;
mod ingest;
mod maintenance;
pub mod pipeline;
mod range;
mod routes;
pub mod services;
mod store;
mod transcode;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

pub use auth::{LoginLimiter, Role, hash_password, normalise_email, verify_password};
pub use config::{BlobConfig, Config, JSON_BODY_LIMIT, LyricsWhisper};
pub use db::{Db, Dialect, MigrateError, SCHEMA_VERSION, now_ms};
pub use error::{ApiJson, AppError};
pub use ingest::{NewWork, WorkMetadata, ingest, sniff_image, validate_isrc, validate_language};
pub use maintenance::{BackfillReport, OrphanBlob, SweepReport};
pub use pipeline::{
    JobQueue, Registry, Step, StepContext, StepError, StepOutput, Worker, WorkerConfig,
};
pub use range::{ByteRange, RangeRequest, parse_range};
pub use routes::openapi_document;
pub use services::Services;
pub use store::Blobs;
pub use web::CSP;

/// Everything a request handler or a worker needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Metadata database.
    pub db: Db,
    /// Blob store.
    pub blobs: Blobs,
    /// Job queue.
    pub queue: JobQueue,
    /// Pipeline steps.
    pub registry: Registry,
    /// Failed-login counter.
    pub limiter: Arc<LoginLimiter>,
    /// Wakes idle in-process workers when jobs arrive.
    pub wake: Arc<Notify>,
    /// Bounds concurrent transcodes.
    pub transcodes: Arc<Semaphore>,
    /// Engine services (fingerprint index, rights registry).
    pub services: Services,
}

impl AppState {
    /// Connects to the database (migrating it) and the blob store, with the standard steps.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        Self::open_with(config, Registry::standard()).await
    }

    /// Like [`AppState::open`] with a chosen step registry.
    pub async fn open_with(config: Config, registry: Registry) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&config.scratch_dir)?;
        if let BlobConfig::Local(_) = config.blobs
            && let Some(path) = config.database_url.strip_prefix("sqlite://")
            && let Some(parent) =
                std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
        {
            std::fs::create_dir_all(parent)?;
        }
        let db = Db::connect(&config.database_url, config.db_max_connections).await?;
        let blobs = Blobs::open(&config.blobs)?;
        let queue = JobQueue::new(
            db.clone(),
            config.job_lease,
            config.job_max_attempts,
            config.job_backoff_base,
        );
        let services = Services::new(&config, &db, &blobs);
        Ok(AppState {
            services,
            limiter: Arc::new(LoginLimiter::new(
                config.login_max_failures,
                config.login_window,
            )),
            transcodes: Arc::new(Semaphore::new(config.max_concurrent_transcodes.max(1))),
            wake: Arc::new(Notify::new()),
            config: Arc::new(config),
            db,
            blobs,
            queue,
            registry,
        })
    }

    /// A pipeline worker sharing this state.
    pub fn worker(&self) -> Worker {
        Worker::new(
            self.db.clone(),
            self.blobs.clone(),
            self.queue.clone(),
            self.registry.clone(),
            self.services.clone(),
            WorkerConfig {
                lease: self.config.job_lease,
                poll_interval: self.config.job_poll_interval,
                scratch: self.config.scratch_dir.clone(),
            },
            self.wake.clone(),
        )
    }

    /// Creates an account directly (used by `encore admin create` and `encore import`).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<String, AppError> {
        routes::create_user(self, email, password, role, None).await
    }

    /// The creator profile id of a user, created with `name` when missing.
    pub async fn creator_profile(&self, user_id: &str, name: &str) -> Result<String, AppError> {
        routes::ensure_creator(self, user_id, name).await
    }

    /// A user's id by e-mail.
    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<String>, AppError> {
        use sqlx::Row;
        let row = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(normalise_email(email)?)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }
}

/// The whole HTTP API with its layers (timeouts, body limits, concurrency limit, tracing).
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Queues the jobs of steps added since works were uploaded (see [`AppState::backfill`]); a
/// failure is logged, not fatal (`encore admin backfill` can run it again).
async fn startup_backfill(state: &AppState) {
    match state.backfill(false).await {
        Ok(r) if !r.created.is_empty() => {
            tracing::info!(created = ?r.created, "backfill at start-up")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = format!("{e:#}"), "backfill at start-up failed"),
    }
}

/// Serves the API on `listener` and runs `workers` in-process workers until `shutdown`
/// resolves; then stops accepting, finishes in-flight requests and jobs, and returns.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    startup_backfill(&state).await;
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        tasks.push(tokio::spawn(state.worker().run(stop.clone())));
    }
    let router = app(state);
    let stop_server = stop.clone();
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        stop_server.cancel();
    })
    .await;
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    result.map_err(Into::into)
}

/// Runs `n` workers only (no HTTP) until `shutdown` resolves.
pub async fn run_workers(state: AppState, n: usize, shutdown: impl Future<Output = ()>) {
    startup_backfill(&state).await;
    let stop = CancellationToken::new();
    let tasks: Vec<_> = (0..n.max(1))
        .map(|_| tokio::spawn(state.worker().run(stop.clone())))
        .collect();
    shutdown.await;
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
}
