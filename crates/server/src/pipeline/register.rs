//! The register step: sign a registry statement for the work with its creator's key and append
//! it to the server's rights-registry log.

use async_trait::async_trait;
use encore_registry::{Claim, Statement, content_digest, lyrics_digest};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Step, StepContext, StepError, StepOutput};

/// The register step (after fingerprint).
#[derive(Debug, Clone, Copy)]
pub struct RegisterStep;

fn transient(e: impl Into<anyhow::Error>) -> StepError {
    StepError::Transient(e.into())
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[async_trait]
impl Step for RegisterStep {
    fn name(&self) -> &'static str {
        "register"
    }

    fn version(&self) -> &'static str {
        concat!("register/1 encore-server ", env!("CARGO_PKG_VERSION"))
    }

    fn after(&self) -> &'static [&'static str] {
        &["fingerprint"]
    }

    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        let row = sqlx::query(
            "SELECT title, audio_sha256, lyrics, lyrics_text, created_at FROM works WHERE id = $1",
        )
        .bind(&ctx.work_id)
        .fetch_one(&ctx.db.pool)
        .await
        .map_err(transient)?;
        let title: String = row.try_get("title").map_err(transient)?;
        let audio_hex: String = row.try_get("audio_sha256").map_err(transient)?;
        let lyrics: Option<String> = row.try_get("lyrics").map_err(transient)?;
        let lyrics_text: String = row.try_get("lyrics_text").map_err(transient)?;
        let created_at: i64 = row.try_get("created_at").map_err(transient)?;
        let audio_sha256 = unhex(&audio_hex)
            .ok_or_else(|| StepError::Permanent("stored audio digest is not SHA-256 hex".into()))?;
        let pcm = ctx.mono_pcm().await?;
        let content = tokio::task::spawn_blocking(move || content_digest(&pcm))
            .await
            .map_err(transient)?;
        let identity = ctx
            .services
            .rights
            .creator_identity(&ctx.creator_id)
            .await?;
        // The claimed time is the upload time, so a re-run signs the identical statement and
        // the log answers with the same index.
        let claimed_time = (created_at / 1000).max(0) as u64;
        let claim = Claim {
            audio_sha256,
            content_digest: content,
            lyrics_sha256: lyrics.is_some().then(|| lyrics_digest(&lyrics_text)),
            title,
            identity: identity.commitment,
            claimed_time,
        };
        let statement = Statement::sign(claim, &identity.key)
            .map_err(|e| StepError::Permanent(format!("registry statement: {e}")))?;
        let entry = statement.encode();
        let entry_sha256 = crate::auth::hex(&Sha256::digest(&entry));
        let now_s = (crate::db::now_ms() / 1000).max(0) as u64;
        let index = ctx.services.rights.append(entry, now_s).await?;
        tracing::info!(index, "registered");
        Ok(StepOutput::done(json!({
            "index": index,
            "log": ctx.services.rights.name(),
            "creator_key": crate::auth::hex(&statement.creator),
            "identity_commitment": crate::auth::hex(&statement.claim.identity.0),
            "claimed_time": claimed_time,
            "entry_sha256": entry_sha256,
        })))
    }
}
