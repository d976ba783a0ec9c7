//! The durable job queue: one row per (work, step) in the metadata database.
//!
//! A worker claims a job by setting `status = 'running'` with its own id as `lease_owner` and a
//! lease expiry, in one statement (`UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)
//! RETURNING` on PostgreSQL; SQLite serialises writers, so the same statement without the lock
//! clause is atomic there). A job whose lease expired (its worker died) is claimable again.
//! Only the current lease owner may complete or fail a job, so a worker that lost its lease
//! cannot record a result: each job's result is recorded exactly once. The jobs of a work that
//! is held for review (or rejected) wait: nothing more is done for it until a reviewer
//! approves it.

use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Registry, StepOutput};
use crate::db::{Db, Dialect, new_id};

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Job id.
    pub id: String,
    /// Work id.
    pub work_id: String,
    /// Step name.
    pub step: String,
    /// Attempt number, starting at 1.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// Step name.
    pub step: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// Unix ms when the latest attempt started.
    pub started_at: Option<i64>,
    /// Unix ms when the job finished.
    pub finished_at: Option<i64>,
    /// Duration of the successful or final attempt.
    pub duration_ms: Option<i64>,
    /// Last error message, if any.
    pub error: Option<String>,
    /// Earliest time of the next attempt (queued jobs).
    pub run_after: i64,
    /// Code version of the stored result.
    pub code_version: Option<String>,
}

/// Delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`, at most one hour.
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1u32 << exp)
        .min(Duration::from_secs(3600))
}

/// Queue operations.
#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Db,
    lease: Duration,
    max_attempts: i64,
    backoff_base: Duration,
}

impl JobQueue {
    /// A queue over `db`.
    pub fn new(db: Db, lease: Duration, max_attempts: i64, backoff_base: Duration) -> Self {
        JobQueue {
            db,
            lease,
            max_attempts,
            backoff_base,
        }
    }

    /// Creates one queued job per registered step for a new work, inside the caller's
    /// transaction (so a work never exists without its jobs).
    pub async fn enqueue_all(
        &self,
        conn: &mut AnyConnection,
        registry: &Registry,
        work_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for (step, stage) in registry.stages() {
            sqlx::query(
                "INSERT INTO jobs (id, work_id, step, stage, status, attempts, max_attempts, run_after, completions, created_at) \
                 VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, 0, $6)",
            )
            .bind(new_id())
            .bind(work_id)
            .bind(step)
            .bind(stage)
            .bind(self.max_attempts)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Claims the next runnable job for `worker`, or `None`.
    pub async fn claim(&self, worker: &str, now: i64) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let lock = match self.db.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
                 attempts = attempts + 1, started_at = $3, last_error = NULL \
             WHERE id = (\
                 SELECT j.id FROM jobs j \
                 WHERE ((j.status = 'queued' AND j.run_after <= $3) \
                        OR (j.status = 'running' AND j.lease_expires_at < $3)) \
                   AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.work_id = j.work_id \
                                   AND p.stage < j.stage AND p.status <> 'done') \
                   AND NOT EXISTS (SELECT 1 FROM works w WHERE w.id = j.work_id \
                                   AND w.status IN ('held', 'rejected')) \
                 ORDER BY j.run_after, j.created_at LIMIT 1 {lock}) \
             RETURNING id, work_id, step, attempts, max_attempts"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(worker)
            .bind(now + self.lease.as_millis() as i64)
            .bind(now)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| {
            Ok(ClaimedJob {
                id: r.try_get("id")?,
                work_id: r.try_get("work_id")?,
                step: r.try_get("step")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
            })
        })
        .transpose()
    }

    /// Extends the lease; `false` when the job is no longer ours.
    pub async fn heartbeat(
        &self,
        job: &ClaimedJob,
        worker: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(now + self.lease.as_millis() as i64)
        .bind(&job.id)
        .bind(worker)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a success. Returns `false` (and records nothing) when the lease was lost.
    pub async fn complete(
        &self,
        job: &ClaimedJob,
        worker: &str,
        code_version: &str,
        output: &StepOutput,
        started: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $1, duration_ms = $2, lease_owner = NULL, \
                 lease_expires_at = NULL, last_error = NULL, completions = completions + 1 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now)
        .bind(now - started)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO step_results (work_id, step, code_version, result, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (work_id, step) DO UPDATE SET code_version = excluded.code_version, \
                 result = excluded.result, created_at = excluded.created_at",
        )
        .bind(&job.work_id)
        .bind(&job.step)
        .bind(code_version)
        .bind(output.result.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(hold) = &output.hold {
            sqlx::query(
                "INSERT INTO reviews (id, work_id, step, reason, details, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'open', $6)",
            )
            .bind(new_id())
            .bind(&job.work_id)
            .bind(&job.step)
            .bind(&hold.reason)
            .bind(hold.details.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE works SET status = 'held', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&job.work_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE works SET status = 'ready', updated_at = $1 WHERE id = $2 AND status = 'processing' \
             AND NOT EXISTS (SELECT 1 FROM jobs WHERE work_id = $2 AND status <> 'done')",
        )
        .bind(now)
        .bind(&job.work_id)
        .execute(&mut *tx)
        .await?;
        // At this point the result, the job's completion and the work's status become durable
        // together.
        tx.commit().await?;
        Ok(true)
    }

    /// Records a failure: requeued with backoff while attempts remain, else failed (and the
    /// work marked failed). Returns `false` when the lease was lost.
    pub async fn fail(
        &self,
        job: &ClaimedJob,
        worker: &str,
        error: &str,
        permanent: bool,
        started: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let error: String = error.chars().take(2000).collect();
        let mut tx = self.db.pool.begin().await?;
        let give_up = permanent || job.attempts >= job.max_attempts;
        let r = if give_up {
            sqlx::query(
                "UPDATE jobs SET status = 'failed', finished_at = $1, duration_ms = $2, last_error = $3, \
                     lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
            )
            .bind(now)
            .bind(now - started)
            .bind(&error)
            .bind(&job.id)
            .bind(worker)
            .execute(&mut *tx)
            .await?
        } else {
            let retry_at = now + backoff(self.backoff_base, job.attempts).as_millis() as i64;
            sqlx::query(
                "UPDATE jobs SET status = 'queued', run_after = $1, last_error = $2, lease_owner = NULL, \
                     lease_expires_at = NULL \
                 WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
            )
            .bind(retry_at)
            .bind(&error)
            .bind(&job.id)
            .bind(worker)
            .execute(&mut *tx)
            .await?
        };
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if give_up {
            sqlx::query("UPDATE works SET status = 'failed', updated_at = $1 WHERE id = $2 AND status = 'processing'")
                .bind(now)
                .bind(&job.work_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The jobs of one work, in stage order.
    pub async fn for_work(&self, work_id: &str) -> Result<Vec<JobView>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT j.step, j.status, j.attempts, j.started_at, j.finished_at, j.duration_ms, j.last_error, \
                    j.run_after, r.code_version \
             FROM jobs j LEFT JOIN step_results r ON r.work_id = j.work_id AND r.step = j.step \
             WHERE j.work_id = $1 ORDER BY j.stage, j.step",
        )
        .bind(work_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobView {
                    step: r.try_get("step")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    error: r.try_get("last_error")?,
                    run_after: r.try_get("run_after")?,
                    code_version: r.try_get("code_version")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_secs(2);
        assert_eq!(backoff(b, 1), Duration::from_secs(2));
        assert_eq!(backoff(b, 2), Duration::from_secs(4));
        assert_eq!(backoff(b, 5), Duration::from_secs(32));
        assert_eq!(backoff(b, 40), Duration::from_secs(3600));
        assert_eq!(backoff(b, 0), Duration::from_secs(2));
    }
}
