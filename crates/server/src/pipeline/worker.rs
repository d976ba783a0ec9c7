//! Workers: claim a job, run its step under a tracing span while a heartbeat keeps the lease,
//! record the outcome, repeat. `encore serve` runs some in-process; `encore worker` runs only
//! these.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{JobQueue, Registry, StepContext, StepError};
use crate::db::{Db, now_ms};
use crate::services::Services;
use crate::store::Blobs;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Lease length; the heartbeat renews it every third of this.
    pub lease: Duration,
    /// Poll interval when the queue is empty.
    pub poll_interval: Duration,
    /// Scratch directory.
    pub scratch: PathBuf,
}

/// One worker loop. Cheap to clone; run several for concurrency.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Unique id, recorded as the lease owner.
    pub id: String,
    db: Db,
    blobs: Blobs,
    queue: JobQueue,
    registry: Registry,
    services: Services,
    config: WorkerConfig,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker with a fresh id.
    pub fn new(
        db: Db,
        blobs: Blobs,
        queue: JobQueue,
        registry: Registry,
        services: Services,
        config: WorkerConfig,
        wake: Arc<Notify>,
    ) -> Self {
        Worker {
            id: format!("{}-{}", std::process::id(), crate::db::new_id()),
            db,
            blobs,
            queue,
            registry,
            services,
            config,
            wake,
        }
    }

    /// Runs until `stop` is cancelled; a job in progress is finished first.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(worker = %self.id, "worker started");
        while !stop.is_cancelled() {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = format!("{e:#}"), "queue error")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Claims and runs at most one job. `Ok(false)` when the queue had nothing runnable.
    pub async fn run_one(&self) -> anyhow::Result<bool> {
        let Some(job) = self.queue.claim(&self.id, now_ms()).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", job = %job.id, work = %job.work_id, step = %job.step, attempt = job.attempts);
        self.execute(job).instrument(span).await?;
        Ok(true)
    }

    async fn execute(&self, job: super::ClaimedJob) -> anyhow::Result<()> {
        let started = now_ms();
        let Some(step) = self.registry.get(&job.step).cloned() else {
            // A newer binary enqueued a step this one does not know: give the job back.
            tracing::warn!("unknown step; releasing the job");
            self.queue
                .fail(
                    &job,
                    &self.id,
                    "no worker knows this step",
                    false,
                    started,
                    now_ms(),
                )
                .await?;
            return Ok(());
        };
        if job.attempts > job.max_attempts {
            self.queue
                .fail(
                    &job,
                    &self.id,
                    "lease expired on every attempt",
                    true,
                    started,
                    now_ms(),
                )
                .await?;
            return Ok(());
        }
        // Keep the lease while the step runs.
        let beat = {
            let queue = self.queue.clone();
            let job = job.clone();
            let worker = self.id.clone();
            let every = self.config.lease / 3;
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match queue.heartbeat(&job, &worker, now_ms()).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }))
        };
        let outcome = match StepContext::load(
            &self.db,
            &self.blobs,
            &self.services,
            self.config.scratch.clone(),
            &job.work_id,
        )
        .await
        {
            Ok(ctx) => step.run(&ctx).await,
            Err(e) => Err(StepError::Transient(e)),
        };
        drop(beat);
        let now = now_ms();
        let recorded = match &outcome {
            Ok(output) => {
                tracing::info!(
                    ms = now - started,
                    held = output.hold.is_some(),
                    "step done"
                );
                self.queue
                    .complete(&job, &self.id, step.version(), output, started, now)
                    .await?
            }
            Err(e) => {
                let permanent = matches!(e, StepError::Permanent(_));
                tracing::warn!(error = %e, permanent, "step failed");
                self.queue
                    .fail(&job, &self.id, &e.to_string(), permanent, started, now)
                    .await?
            }
        };
        if recorded {
            self.wake.notify_waiters();
        } else {
            tracing::warn!(
                "lease lost before the outcome was recorded; another worker owns the job"
            );
        }
        Ok(())
    }
}

/// Stops the heartbeat when the job ends or when the worker itself is cancelled mid-job (its
/// future dropped): the lease must then expire so that another worker takes the job over.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
