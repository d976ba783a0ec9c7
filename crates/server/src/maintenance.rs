//! Maintenance: backfilling jobs when steps are added (or their code changed), and sweeping
//! blobs that no work references.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use crate::AppState;
use crate::db::{new_id, now_ms};

/// What [`AppState::backfill`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackfillReport {
    /// Jobs created, by step, for works that had none for that step.
    pub created: Vec<(String, u64)>,
    /// Done jobs queued again because their stored result was made by another code version.
    pub requeued: Vec<(String, u64)>,
}

/// One orphaned blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanBlob {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What [`AppState::sweep`] found (and deleted, unless it was a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Blobs examined.
    pub examined: u64,
    /// Orphans found (older than the minimum age).
    pub orphans: Vec<OrphanBlob>,
    /// Bytes they hold.
    pub orphan_bytes: u64,
    /// Whether they were deleted.
    pub deleted: bool,
}

impl AppState {
    /// Gives every work a job for every registered step it has none for (a step added since
    /// the work was uploaded), as `queued` in the step's stage. With `outdated`, also queues
    /// again the done jobs whose stored result carries another code version than the step's
    /// current `version()`. Rejected works get nothing. Safe to run concurrently from several
    /// processes (`UNIQUE (work_id, step)` keeps one job per step). A work's status is not
    /// changed: a ready work stays ready while its new outputs are made.
    pub async fn backfill(&self, outdated: bool) -> anyhow::Result<BackfillReport> {
        let mut report = BackfillReport::default();
        let now = now_ms();
        for (step, stage) in self.registry.stages() {
            let rows = sqlx::query(
                "SELECT w.id FROM works w WHERE w.status <> 'rejected' \
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.work_id = w.id AND j.step = $1)",
            )
            .bind(step)
            .fetch_all(&self.db.pool)
            .await?;
            let mut created = 0u64;
            for r in rows {
                let work_id: String = r.try_get("id")?;
                let res = sqlx::query(
                    "INSERT INTO jobs (id, work_id, step, stage, status, attempts, max_attempts, run_after, completions, created_at) \
                     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, 0, $6) ON CONFLICT (work_id, step) DO NOTHING",
                )
                .bind(new_id())
                .bind(&work_id)
                .bind(step)
                .bind(stage)
                .bind(self.config.job_max_attempts)
                .bind(now)
                .execute(&self.db.pool)
                .await?;
                created += res.rows_affected();
            }
            if created > 0 {
                tracing::info!(step, created, "backfilled jobs");
                report.created.push((step.to_string(), created));
            }
            if outdated && let Some(s) = self.registry.get(step) {
                let res = sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_after = $1, attempts = 0, last_error = NULL \
                     WHERE step = $2 AND status = 'done' AND EXISTS (SELECT 1 FROM step_results r \
                         WHERE r.work_id = jobs.work_id AND r.step = $2 AND r.code_version <> $3) \
                       AND EXISTS (SELECT 1 FROM works w WHERE w.id = jobs.work_id AND w.status <> 'rejected')",
                )
                .bind(now)
                .bind(step)
                .bind(s.version())
                .execute(&self.db.pool)
                .await?;
                if res.rows_affected() > 0 {
                    tracing::info!(
                        step,
                        requeued = res.rows_affected(),
                        "requeued outdated results"
                    );
                    report
                        .requeued
                        .push((step.to_string(), res.rows_affected()));
                }
            }
        }
        if !report.created.is_empty() || !report.requeued.is_empty() {
            self.wake.notify_waiters();
        }
        Ok(report)
    }

    /// Finds blobs under `originals/`, `covers/` and `derived/` whose work no longer exists
    /// (a crash between writing an upload's blobs and its row leaves such blobs), older than
    /// `min_age` so that uploads in progress are never touched; deletes them when `delete`.
    /// The registry log (`registry/`) is never swept.
    pub async fn sweep(&self, delete: bool, min_age: Duration) -> anyhow::Result<SweepReport> {
        let works: HashSet<String> = sqlx::query("SELECT id FROM works")
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let cutoff = now_ms() - min_age.as_millis() as i64;
        let mut report = SweepReport {
            deleted: delete,
            ..SweepReport::default()
        };
        for prefix in ["originals", "covers", "derived"] {
            for blob in self.blobs.list_meta(prefix).await? {
                report.examined += 1;
                let Some(work) = blob.key.split('/').nth(1) else {
                    continue;
                };
                if works.contains(work) || blob.modified_ms > cutoff {
                    continue;
                }
                report.orphan_bytes += blob.size;
                report.orphans.push(OrphanBlob {
                    key: blob.key,
                    size: blob.size,
                });
            }
        }
        if delete {
            for o in &report.orphans {
                self.blobs.delete(&o.key).await?;
            }
            tracing::info!(
                deleted = report.orphans.len(),
                bytes = report.orphan_bytes,
                "swept orphaned blobs"
            );
        }
        Ok(report)
    }
}
