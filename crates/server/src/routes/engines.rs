//! What the engine steps produced: haptic tracks, visualisation data, fingerprint matches, the
//! registry certificate and the registry's verifier key. Public reads follow the catalogue's
//! visibility rules (an invisible work is a 404 like a missing one); matches and certificates
//! are for the work's owner, reviewers and admins.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx::Row;

use super::catalogue::load_work;
use super::works::load_for_owner_or_staff;
use crate::AppState;
use crate::auth::{CurrentUser, MaybeUser};
use crate::error::AppError;
use crate::pipeline::{HAPTIC_FORMATS, LYRICS_ALIGNED, VISUALIZATION};
use crate::store::keys;

fn not_ready(what: &str) -> AppError {
    AppError::bad_status(
        StatusCode::NOT_FOUND,
        "not_ready",
        format!("the {what} step has not run for this work yet"),
    )
}

/// A derived blob, or `None` when it does not exist (yet).
async fn derived(
    state: &AppState,
    work_id: &str,
    name: &str,
) -> Result<Option<bytes::Bytes>, AppError> {
    match state.blobs.get_bytes(&keys::derived(work_id, name)).await {
        Ok(b) => Ok(Some(b)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The stored result of a step, or `None` when it has not run.
async fn step_result(
    state: &AppState,
    work_id: &str,
    step: &str,
) -> Result<Option<Value>, AppError> {
    let row = sqlx::query("SELECT result FROM step_results WHERE work_id = $1 AND step = $2")
        .bind(work_id)
        .bind(step)
        .fetch_optional(&state.db.pool)
        .await?;
    match row {
        Some(r) => {
            let text: String = r.try_get("result")?;
            Ok(Some(
                serde_json::from_str(&text).map_err(|e| AppError::Internal(e.into()))?,
            ))
        }
        None => Ok(None),
    }
}

/// The aligned lyrics (`encore lyrics align --json` shape), or `null` before alignment.
pub(crate) async fn aligned_lyrics(state: &AppState, work_id: &str) -> Result<Value, AppError> {
    match derived(state, work_id, LYRICS_ALIGNED).await? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| AppError::Internal(e.into())),
        None => Ok(Value::Null),
    }
}

pub(crate) async fn haptics(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Some(&(name, blob, content_type, ext)) = HAPTIC_FORMATS.iter().find(|f| f.0 == format)
    else {
        return Err(AppError::bad(
            "invalid_format",
            "format: ahap, android, lofelt or web",
        ));
    };
    let work = load_work(&state, &id, user.as_ref()).await?;
    let bytes = derived(&state, &work.id, blob)
        .await?
        .ok_or_else(|| not_ready("haptics"))?;
    let disposition = format!("attachment; filename=\"{}-{name}.{ext}\"", work.id);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

pub(crate) async fn visualization(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let work = load_work(&state, &id, user.as_ref()).await?;
    let bytes = derived(&state, &work.id, VISUALIZATION)
        .await?
        .ok_or_else(|| not_ready("haptics"))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

pub(crate) async fn matches(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    load_for_owner_or_staff(&state, &id, &user).await?;
    let result = step_result(&state, &id, "fingerprint")
        .await?
        .ok_or_else(|| not_ready("fingerprint"))?;
    let mut out = Vec::new();
    for m in result["matches"].as_array().into_iter().flatten() {
        let Some(work_id) = m["work_id"].as_str() else {
            continue;
        };
        let (score, offset_s) = (m["score"].clone(), m["offset_s"].clone());
        // A matched work the caller may not see (another creator's unpublished work) is
        // reported without naming it.
        match load_work(&state, work_id, Some(&user)).await {
            Ok(w) => out.push(json!({
                "work_id": work_id,
                "title": w.json["title"],
                "creator": w.json["creator"],
                "score": score,
                "offset_s": offset_s,
            })),
            Err(AppError::NotFound) => out.push(json!({
                "work_id": null, "title": null, "creator": null, "score": score, "offset_s": offset_s,
            })),
            Err(e) => return Err(e),
        }
    }
    Ok(axum::Json(json!({ "matches": out })))
}

pub(crate) async fn certificate(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    load_for_owner_or_staff(&state, &id, &user).await?;
    let result = step_result(&state, &id, "register")
        .await?
        .ok_or_else(|| not_ready("register"))?;
    let index = result["index"]
        .as_u64()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("register result has no index")))?;
    let proof = state
        .services
        .rights
        .proof(index)
        .await
        .map_err(AppError::Internal)?;
    let disposition = format!("attachment; filename=\"{id}.tlog-proof\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        proof,
    )
        .into_response())
}

pub(crate) async fn registry_key(
    State(state): State<AppState>,
) -> Result<axum::Json<Value>, AppError> {
    let vkey = state
        .services
        .rights
        .verifier_key()
        .await
        .map_err(AppError::Internal)?;
    Ok(axum::Json(json!({
        "origin": state.services.rights.name(),
        "vkey": vkey,
    })))
}
