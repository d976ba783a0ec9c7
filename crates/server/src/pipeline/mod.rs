//! The processing pipeline: steps, their registry, and the context a step runs in.
//!
//! Every upload gets one job per registered step. A step declares the steps it needs
//! ([`Step::after`]); the registry turns that into stages, and a job is claimed only when every
//! job of an earlier stage of the same work is done. Engines add their step by implementing
//! [`Step`] and calling [`Registry::register`] in [`Registry::standard`]; nothing else changes.
//!
//! Steps must be idempotent: a job whose worker died is run again by another worker, and only
//! the run that still holds the lease may record its result (see `queue`).

mod analyse;
mod fingerprint;
mod haptics;
mod lyrics;
mod queue;
mod register;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::Row;

use crate::db::Db;
use crate::services::Services;
use crate::store::Blobs;

pub use analyse::{AnalyseStep, Analysis, Decoded, MONO_PCM, SIDE_PCM};
pub use fingerprint::FingerprintStep;
pub use haptics::{HAPTIC_FORMATS, HapticsStep, VISUALIZATION};
pub use lyrics::{LYRICS_ALIGNED, LyricsStep};
pub use queue::{ClaimedJob, JobQueue, JobView, backoff};
pub use register::RegisterStep;
pub use worker::{Worker, WorkerConfig};

/// How a step ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepOutput {
    /// The result, stored as JSON with the step's code version.
    pub result: serde_json::Value,
    /// When set, the work is held for human review (e.g. its fingerprint matches another
    /// creator's work) and cannot be published until a reviewer approves it.
    pub hold: Option<Hold>,
}

impl StepOutput {
    /// A plain result.
    pub fn done(result: serde_json::Value) -> Self {
        StepOutput { result, hold: None }
    }
}

/// Why a work is held for review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hold {
    /// Stable reason code, e.g. `fingerprint_match`.
    pub reason: String,
    /// Evidence for the reviewer (matched work ids, scores, offsets).
    pub details: serde_json::Value,
}

/// A step failure.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth retrying (storage hiccup, database busy): retried with exponential backoff.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Retrying will not help (the audio does not decode): the job fails at once.
    #[error("{0}")]
    Permanent(String),
}

impl From<anyhow::Error> for StepError {
    fn from(e: anyhow::Error) -> Self {
        StepError::Transient(e)
    }
}

/// What a running step may use.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// The work being processed.
    pub work_id: String,
    /// The uploading creator.
    pub creator_id: String,
    /// Metadata database (read only by convention: results are stored by the queue).
    pub db: Db,
    /// Blob store: the original is at `keys::original(work_id)`; steps write derived files
    /// under `keys::derived(work_id, ..)`.
    pub blobs: Blobs,
    /// Engine services (fingerprint index, rights registry).
    pub services: Services,
    /// Scratch directory for temporary files.
    pub scratch: PathBuf,
    /// Results of the steps this one runs after, by step name.
    pub inputs: HashMap<String, serde_json::Value>,
}

impl StepContext {
    /// Loads the results of every finished step of this work.
    pub(crate) async fn load(
        db: &Db,
        blobs: &Blobs,
        services: &Services,
        scratch: PathBuf,
        work_id: &str,
    ) -> anyhow::Result<StepContext> {
        let creator_id: String = sqlx::query("SELECT creator_id FROM works WHERE id = $1")
            .bind(work_id)
            .fetch_one(&db.pool)
            .await?
            .try_get("creator_id")?;
        let rows = sqlx::query("SELECT step, result FROM step_results WHERE work_id = $1")
            .bind(work_id)
            .fetch_all(&db.pool)
            .await?;
        let mut inputs = HashMap::new();
        for row in rows {
            let step: String = row.try_get("step")?;
            let result: String = row.try_get("result")?;
            inputs.insert(step, serde_json::from_str(&result)?);
        }
        Ok(StepContext {
            work_id: work_id.to_string(),
            creator_id,
            db: db.clone(),
            blobs: blobs.clone(),
            services: services.clone(),
            scratch,
            inputs,
        })
    }

    /// The mono 22.05 kHz PCM the analyse step decoded once, so later steps (fingerprint,
    /// haptics, lyrics alignment) never decode the original again.
    pub async fn mono_pcm(&self) -> anyhow::Result<Vec<f32>> {
        let bytes = self
            .blobs
            .get_bytes(&crate::store::keys::derived(&self.work_id, MONO_PCM))
            .await?;
        Ok(f32le_samples(&bytes))
    }

    /// The side signal of a stereo original at the rate of [`StepContext::mono_pcm`] (whose
    /// samples are then the mid signal), or `None` for a one-channel original or one analysed
    /// before the analyse step kept it (`analyse/1`).
    pub async fn side_pcm(&self) -> anyhow::Result<Option<Vec<f32>>> {
        let key = crate::store::keys::derived(&self.work_id, SIDE_PCM);
        match self.blobs.get_bytes(&key).await {
            Ok(bytes) => Ok(Some(f32le_samples(&bytes))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn f32le_samples(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One idempotent processing step.
#[async_trait]
pub trait Step: Send + Sync + 'static {
    /// Stable name (`analyse`, `fingerprint`, `register`, `haptics`, `lyrics`).
    fn name(&self) -> &'static str;
    /// Version of the code that makes the result; stored beside it so results made by old
    /// code can be found and redone.
    fn version(&self) -> &'static str;
    /// Steps whose results this one needs.
    fn after(&self) -> &'static [&'static str] {
        &[]
    }
    /// Does the work. Must be safe to run twice for the same work.
    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError>;
}

/// The registered steps, in stage order.
#[derive(Clone, Default)]
pub struct Registry {
    steps: Vec<Arc<dyn Step>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| s.name()))
            .finish()
    }
}

/// Registry errors (programming errors, found at start-up).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Two steps share a name.
    #[error("step {0:?} is registered twice")]
    Duplicate(&'static str),
    /// A step runs after a step that is not registered before it.
    #[error("step {step:?} runs after {missing:?}, which is not registered before it")]
    MissingDependency {
        /// The step.
        step: &'static str,
        /// The missing dependency.
        missing: &'static str,
    },
}

impl Registry {
    /// The standard steps: analyse; fingerprint (after analyse; returns a [`Hold`] on a match
    /// with another creator's work); register (after fingerprint); haptics and lyrics (after
    /// analyse). Engines that land later add theirs here.
    pub fn standard() -> Registry {
        let mut r = Registry::default();
        // Cannot fail: the standard steps are distinct and ordered.
        let _ = r.register(Arc::new(AnalyseStep));
        let _ = r.register(Arc::new(FingerprintStep));
        let _ = r.register(Arc::new(RegisterStep));
        let _ = r.register(Arc::new(HapticsStep));
        let _ = r.register(Arc::new(LyricsStep));
        r
    }

    /// Adds a step; its dependencies must already be registered.
    pub fn register(&mut self, step: Arc<dyn Step>) -> Result<&mut Self, RegistryError> {
        if self.get(step.name()).is_some() {
            return Err(RegistryError::Duplicate(step.name()));
        }
        for dep in step.after() {
            if self.get(dep).is_none() {
                return Err(RegistryError::MissingDependency {
                    step: step.name(),
                    missing: dep,
                });
            }
        }
        self.steps.push(step);
        Ok(self)
    }

    /// A step by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Step>> {
        self.steps.iter().find(|s| s.name() == name)
    }

    /// Every step with its stage: 0 for steps without dependencies, else one more than the
    /// latest stage among its dependencies.
    pub fn stages(&self) -> Vec<(&'static str, i64)> {
        let mut stages: HashMap<&'static str, i64> = HashMap::new();
        let mut out = Vec::new();
        for s in &self.steps {
            let stage = s
                .after()
                .iter()
                .filter_map(|d| stages.get(d))
                .max()
                .map_or(0, |m| m + 1);
            stages.insert(s.name(), stage);
            out.push((s.name(), stage));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(&'static str, &'static [&'static str]);

    #[async_trait]
    impl Step for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        fn version(&self) -> &'static str {
            "1"
        }
        fn after(&self) -> &'static [&'static str] {
            self.1
        }
        async fn run(&self, _: &StepContext) -> Result<StepOutput, StepError> {
            Ok(StepOutput::done(serde_json::Value::Null))
        }
    }

    #[test]
    fn standard_stages() {
        assert_eq!(
            Registry::standard().stages(),
            vec![
                ("analyse", 0),
                ("fingerprint", 1),
                ("register", 2),
                ("haptics", 1),
                ("lyrics", 1)
            ]
        );
    }

    #[test]
    fn stages_follow_dependencies() {
        let mut r = Registry::default();
        r.register(Arc::new(Fake("analyse", &[]))).unwrap();
        r.register(Arc::new(Fake("fingerprint", &["analyse"])))
            .unwrap();
        r.register(Arc::new(Fake("haptics", &["analyse"]))).unwrap();
        r.register(Arc::new(Fake("register", &["fingerprint"])))
            .unwrap();
        assert_eq!(
            r.stages(),
            vec![
                ("analyse", 0),
                ("fingerprint", 1),
                ("haptics", 1),
                ("register", 2)
            ]
        );
        assert!(matches!(
            r.register(Arc::new(Fake("haptics", &[]))),
            Err(RegistryError::Duplicate("haptics"))
        ));
        assert!(matches!(
            r.register(Arc::new(Fake("x", &["nope"]))),
            Err(RegistryError::MissingDependency { .. })
        ));
    }
}
