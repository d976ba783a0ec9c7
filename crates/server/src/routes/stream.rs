//! Streaming: originals and transcodes with HTTP Range, cover images, and play events.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalogue::load_work;
use crate::AppState;
use crate::auth::MaybeUser;
use crate::db::{new_id, now_ms};
use crate::error::{ApiJson, ApiQuery, AppError};
use crate::range::{RangeRequest, parse_range};
use crate::store::keys;
use crate::transcode::{self, Format};

/// Sends a blob, honouring `Range` (206 / 416) and `If-Range`.
async fn serve_blob(
    state: &AppState,
    key: &str,
    len: u64,
    content_type: &str,
    etag: &str,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let etag = format!("\"{etag}\"");
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == etag);
    let range_header = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_ok);
    let (status, range) = match parse_range(range_header, len) {
        RangeRequest::Full => (StatusCode::OK, None),
        RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        RangeRequest::Unsatisfiable => return Err(AppError::RangeNotSatisfiable { len }),
    };
    let body = if len == 0 {
        Body::empty()
    } else {
        let stream = state
            .blobs
            .get_stream(key, Some(range.map_or(0..len, |r| r.as_range())))
            .await?;
        Body::from_stream(stream.map_err(std::io::Error::other))
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).map_err(|e| AppError::Internal(e.into()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, value(content_type)?);
    h.insert(header::ETAG, value(&etag)?);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    match range {
        Some(r) => {
            h.insert(
                header::CONTENT_LENGTH,
                value(&(r.end - r.start).to_string())?,
            );
            h.insert(
                header::CONTENT_RANGE,
                value(&format!("bytes {}-{}/{len}", r.start, r.end - 1))?,
            );
        }
        None => {
            h.insert(header::CONTENT_LENGTH, value(&len.to_string())?);
        }
    }
    Ok(response)
}

pub(crate) async fn original(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let work = load_work(&state, &id, user.as_ref()).await?;
    serve_blob(
        &state,
        &keys::original(&work.id),
        work.audio_size as u64,
        &work.audio_content_type,
        &work.audio_sha256,
        &headers,
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TranscodeQuery {
    bitrate: Option<u32>,
}

pub(crate) async fn transcoded(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path((id, format)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<TranscodeQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)
        .ok_or_else(|| AppError::bad("invalid_format", "format: opus, aac or mp3"))?;
    let kbps = q.bitrate.unwrap_or(format.default_bitrate());
    if !format.bitrates().contains(&kbps) {
        return Err(AppError::bad(
            "invalid_bitrate",
            format!(
                "bitrate: {} offers {:?} kbit/s",
                format.name(),
                format.bitrates()
            ),
        ));
    }
    let work = load_work(&state, &id, user.as_ref()).await?;
    let key = transcode::ensure(&state, &work.id, format, kbps).await?;
    let size = state.blobs.head(&key).await?.size;
    let etag = format!(
        "{}-{}-{kbps}",
        &work.audio_sha256[..16.min(work.audio_sha256.len())],
        format.name()
    );
    serve_blob(&state, &key, size, format.content_type(), &etag, &headers).await
}

pub(crate) async fn cover(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let work = load_work(&state, &id, user.as_ref()).await?;
    let content_type = work.cover_content_type.ok_or(AppError::NotFound)?;
    let bytes = state.blobs.get_bytes(&keys::cover(&work.id)).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlayBody {
    work_id: String,
    listened_ms: i64,
    #[serde(default = "original_format")]
    format: String,
}

fn original_format() -> String {
    "original".into()
}

pub(crate) async fn record_play(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiJson(body): ApiJson<PlayBody>,
) -> Result<(StatusCode, axum::Json<Value>), AppError> {
    if !matches!(body.format.as_str(), "original" | "opus" | "aac" | "mp3") {
        return Err(AppError::bad(
            "invalid_format",
            "format: original, opus, aac or mp3",
        ));
    }
    let work = load_work(&state, &body.work_id, user.as_ref()).await?;
    let max_ms = work
        .duration_s
        .map_or(24 * 3600 * 1000, |d| (d * 1000.0 * 1.1) as i64 + 5000);
    if body.listened_ms < 0 || body.listened_ms > max_ms {
        return Err(AppError::bad(
            "invalid_field",
            format!("listened_ms: between 0 and {max_ms} for this work"),
        ));
    }
    let id = new_id();
    sqlx::query("INSERT INTO plays (id, work_id, user_id, format, listened_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&work.id)
        .bind(user.map(|u| u.id))
        .bind(&body.format)
        .bind(body.listened_ms)
        .bind(now_ms())
        .execute(&state.db.pool)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": id}))))
}
