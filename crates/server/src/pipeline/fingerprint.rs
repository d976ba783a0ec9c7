//! The fingerprint step: add the work to the catalogue's fingerprint index, then look it up.
//! A match with another creator's work that was indexed before this one holds the upload for
//! review. Indexing before looking up closes the race between two uploads of the same audio:
//! whichever is indexed second sees the first and is held, whatever the interleaving (a
//! look-up first would let two simultaneous uploads both pass).

use async_trait::async_trait;
use encore_fingerprint::{Fingerprint, MatchParams, NewWork, identify};
use serde_json::json;
use sqlx::Row;

use super::{Hold, Step, StepContext, StepError, StepOutput};
use crate::db::now_ms;

/// The fingerprint step (after analyse).
#[derive(Debug, Clone, Copy)]
pub struct FingerprintStep;

/// One match as stored in the step result.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredMatch {
    /// The matched work.
    pub work_id: String,
    /// Its creator.
    pub creator_id: String,
    /// `votes / threshold` (at least 1).
    pub score: f64,
    /// Where in the matched work this upload starts, seconds.
    pub offset_s: f64,
}

fn transient(e: impl Into<anyhow::Error>) -> StepError {
    StepError::Transient(e.into())
}

#[async_trait]
impl Step for FingerprintStep {
    fn name(&self) -> &'static str {
        "fingerprint"
    }

    fn version(&self) -> &'static str {
        concat!("fingerprint/1 encore-server ", env!("CARGO_PKG_VERSION"))
    }

    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }

    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        let pcm = ctx.mono_pcm().await?;
        let store = ctx.services.fingerprints.store().await?;
        let already: Option<i64> =
            sqlx::query("SELECT store_id FROM fingerprint_entries WHERE work_id = $1")
                .bind(&ctx.work_id)
                .fetch_optional(&ctx.db.pool)
                .await
                .map_err(transient)?
                .map(|r| r.try_get("store_id"))
                .transpose()
                .map_err(transient)?;
        let work_id = ctx.work_id.clone();
        let store2 = store.clone();
        // Index first (unless already indexed), then query; the work's own entry is skipped below.
        let (raw, added, duration_s) = tokio::task::spawn_blocking(move || {
            let pcm8k = encore_audio::resample(
                &pcm,
                encore_audio::ANALYSIS_SAMPLE_RATE,
                encore_fingerprint::SAMPLE_RATE,
            )
            .map_err(|e| StepError::Permanent(format!("resampling for fingerprints: {e}")))?;
            let reference = Fingerprint::from_samples(&pcm8k)
                .map_err(|e| StepError::Permanent(format!("fingerprinting: {e}")))?;
            let added = if already.is_none() && !reference.is_empty() {
                Some(
                    store2
                        .add_work(&NewWork {
                            name: work_id,
                            duration_s: reference.duration_s,
                            postings: reference.postings(),
                        })
                        .map_err(transient)?,
                )
            } else {
                None
            };
            let query = Fingerprint::for_query(&pcm8k)
                .map_err(|e| StepError::Permanent(format!("fingerprinting: {e}")))?;
            let params = MatchParams {
                max_results: 20,
                ..MatchParams::default()
            };
            let raw = match identify(store2.as_ref(), &query, &params) {
                Ok(m) => m,
                Err(encore_fingerprint::Error::NotEnoughAudio { .. }) => Vec::new(),
                Err(e) => return Err(transient(e)),
            };
            Ok((raw, added, reference.duration_s))
        })
        .await
        .map_err(transient)??;
        let mut store_id = already;
        if let Some(id) = added {
            let r = sqlx::query(
                "INSERT INTO fingerprint_entries (work_id, store_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (work_id) DO NOTHING",
            )
            .bind(&ctx.work_id)
            .bind(i64::from(id))
            .bind(now_ms())
            .execute(&ctx.db.pool)
            .await
            .map_err(transient)?;
            if r.rows_affected() == 1 {
                store_id = Some(i64::from(id));
            } else {
                // A concurrent run of this job indexed it first: drop our copy.
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.remove_work(id))
                    .await
                    .map_err(transient)?
                    .map_err(transient)?;
            }
        }
        // When each work was indexed, (time, work id): the earlier of two matching works keeps
        // its place, the later one is held. A work without an entry yet is being indexed right
        // now, so after this one.
        let own_order = indexed_at(ctx, &ctx.work_id).await?;
        // Resolve matched names (work ids) to live works; best score per work.
        let mut matches: Vec<StoredMatch> = Vec::new();
        let mut others = Vec::new();
        for m in raw {
            if m.name == ctx.work_id || matches.iter().any(|x| x.work_id == m.name) {
                continue;
            }
            let Some(row) = sqlx::query("SELECT creator_id, status FROM works WHERE id = $1")
                .bind(&m.name)
                .fetch_optional(&ctx.db.pool)
                .await
                .map_err(transient)?
            else {
                continue;
            };
            let status: String = row.try_get("status").map_err(transient)?;
            if status == "rejected" {
                continue;
            }
            let creator_id: String = row.try_get("creator_id").map_err(transient)?;
            let stored = StoredMatch {
                work_id: m.name.clone(),
                creator_id: creator_id.clone(),
                score: m.score,
                offset_s: m.offset_s,
            };
            let indexed_before = match (indexed_at(ctx, &m.name).await?, &own_order) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(theirs), Some(ours)) => theirs < *ours,
            };
            if creator_id != ctx.creator_id && indexed_before {
                others.push(json!({
                    "work_id": m.name, "score": m.score, "offset_s": m.offset_s,
                    "votes": m.votes, "speed": m.speed,
                }));
            }
            matches.push(stored);
        }
        tracing::info!(
            matches = matches.len(),
            other_creators = others.len(),
            "fingerprint lookup"
        );
        let result = json!({
            "indexed": store_id.is_some(),
            "store_id": store_id,
            "duration_s": duration_s,
            "matches": matches,
        });
        let hold = (!others.is_empty()).then(|| Hold {
            reason: "fingerprint_match".into(),
            details: json!({ "matches": others }),
        });
        Ok(StepOutput { result, hold })
    }
}

/// When `work_id` entered the fingerprint index, as `(milliseconds, work id)` so that two
/// entries of the same millisecond still have one order; `None` when it has no entry.
async fn indexed_at(ctx: &StepContext, work_id: &str) -> Result<Option<(i64, String)>, StepError> {
    let row = sqlx::query("SELECT created_at FROM fingerprint_entries WHERE work_id = $1")
        .bind(work_id)
        .fetch_optional(&ctx.db.pool)
        .await
        .map_err(transient)?;
    row.map(|r| {
        r.try_get::<i64, _>("created_at")
            .map(|t| (t, work_id.to_owned()))
    })
    .transpose()
    .map_err(transient)
}
