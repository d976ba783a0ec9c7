//! Creators' side of works: upload, metadata changes, publishing, pipeline status, releases.

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use super::accounts::creator_of;
use super::catalogue::load_work;
use crate::AppState;
use crate::auth::{CurrentUser, Role};
use crate::db::{new_id, now_ms};
use crate::error::{ApiJson, AppError};
use crate::ingest::{NewWork, WorkMetadata, ingest, sniff_image};

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge {
            what: "request body",
            limit: 0,
        }
    } else {
        AppError::bad(
            "invalid_multipart",
            format!("the multipart body is malformed: {}", e.body_text()),
        )
    }
}

/// Streams a file field to disk, refusing it as soon as it passes `limit`. Returns its size and
/// its first bytes.
async fn save_field(
    field: &mut Field<'_>,
    file: &mut tokio::fs::File,
    limit: u64,
    what: &'static str,
) -> Result<(u64, Vec<u8>), AppError> {
    let mut total = 0u64;
    let mut head = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        total += chunk.len() as u64;
        if total > limit {
            return Err(AppError::TooLarge { what, limit });
        }
        if head.len() < 64 {
            head.extend_from_slice(&chunk[..chunk.len().min(64 - head.len())]);
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok((total, head))
}

async fn text_value(field: &mut Field<'_>, limit: u64, name: &str) -> Result<String, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(AppError::bad(
                "field_too_large",
                format!("{name}: at most {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf)
        .map_err(|_| AppError::bad("invalid_field", format!("{name}: not valid UTF-8")))
}

fn parse_bool(name: &str, v: &str) -> Result<bool, AppError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(AppError::bad(
            "invalid_field",
            format!("{name}: expected true or false"),
        )),
    }
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, axum::Json<Value>), AppError> {
    user.require(Role::Creator)?;
    let creator_id = creator_of(&state, &user.id).await?.ok_or_else(|| {
        AppError::conflict(
            "no_creator_profile",
            "create a creator profile first (PUT /api/me/creator)",
        )
    })?;
    let mut multipart = multipart.map_err(|e| {
        AppError::bad(
            "invalid_multipart",
            format!("expected a multipart/form-data body: {}", e.body_text()),
        )
    })?;
    let cfg = &state.config;
    tokio::fs::create_dir_all(&cfg.scratch_dir).await?;
    let mut meta = WorkMetadata::default();
    let mut audio: Option<tempfile::TempPath> = None;
    let mut cover: Option<(tempfile::TempPath, &'static str)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "audio" => {
                if audio.is_some() {
                    return Err(AppError::bad(
                        "duplicate_field",
                        "audio: send one audio file",
                    ));
                }
                let tmp = tempfile::Builder::new()
                    .prefix("upload-")
                    .tempfile_in(&cfg.scratch_dir)?;
                let (file, path) = tmp.into_parts();
                let mut file = tokio::fs::File::from_std(file);
                let (size, _) =
                    save_field(&mut field, &mut file, cfg.max_upload_bytes, "audio").await?;
                if size == 0 {
                    return Err(AppError::bad("empty_audio", "audio: the file is empty"));
                }
                audio = Some(path);
            }
            "cover" => {
                let tmp = tempfile::Builder::new()
                    .prefix("cover-")
                    .tempfile_in(&cfg.scratch_dir)?;
                let (file, path) = tmp.into_parts();
                let mut file = tokio::fs::File::from_std(file);
                let (_, head) =
                    save_field(&mut field, &mut file, cfg.max_cover_bytes, "cover").await?;
                let kind = sniff_image(&head).ok_or_else(|| {
                    AppError::bad_status(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_cover",
                        "cover: expected a PNG, JPEG or WebP image",
                    )
                })?;
                cover = Some((path, kind));
            }
            "lyrics" => {
                meta.lyrics = Some(text_value(&mut field, cfg.max_lyrics_bytes, "lyrics").await?)
            }
            "title" => meta.title = text_value(&mut field, 4096, "title").await?,
            "artists" | "artist" => {
                let v = text_value(&mut field, 16384, "artists").await?;
                if v.trim_start().starts_with('[') {
                    let list: Vec<String> = serde_json::from_str(&v).map_err(|_| {
                        AppError::bad("invalid_field", "artists: expected a JSON array of names")
                    })?;
                    meta.artists.extend(list);
                } else {
                    meta.artists.push(v);
                }
            }
            "album" => meta.album = Some(text_value(&mut field, 4096, "album").await?),
            "isrc" => meta.isrc = Some(text_value(&mut field, 64, "isrc").await?),
            "language" => meta.language = Some(text_value(&mut field, 64, "language").await?),
            "genre" => meta.genre = Some(text_value(&mut field, 1024, "genre").await?),
            "explicit" => {
                meta.explicit =
                    parse_bool("explicit", &text_value(&mut field, 16, "explicit").await?)?
            }
            other => {
                let shown: String = other.chars().filter(|c| !c.is_control()).take(64).collect();
                return Err(AppError::bad(
                    "unknown_field",
                    format!("unknown form field {shown:?}"),
                ));
            }
        }
    }
    let audio = audio.ok_or_else(|| {
        AppError::bad(
            "missing_audio",
            "audio: the form must include an audio file",
        )
    })?;
    let meta = meta.validate()?;
    let work_id = ingest(
        &state,
        NewWork {
            creator_id: &creator_id,
            audio: &audio,
            meta,
            cover: cover.as_ref().map(|(p, t)| (p.as_ref(), *t)),
        },
    )
    .await?;
    let mut work = load_work(&state, &work_id, Some(&user)).await?.json;
    work["jobs"] = serde_json::to_value(state.queue.for_work(&work_id).await?)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((StatusCode::CREATED, axum::Json(work)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkPatch {
    title: Option<String>,
    artists: Option<Vec<String>>,
    album: Option<String>,
    isrc: Option<String>,
    language: Option<String>,
    genre: Option<String>,
    explicit: Option<bool>,
    lyrics: Option<String>,
}

async fn load_owned(
    state: &AppState,
    id: &str,
    user: &CurrentUser,
) -> Result<super::catalogue::WorkRow, AppError> {
    let work = load_work(state, id, Some(user)).await?;
    if !work.owned_by(user) {
        return Err(AppError::Forbidden("only the work's creator may change it"));
    }
    Ok(work)
}

pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WorkPatch>,
) -> Result<axum::Json<Value>, AppError> {
    load_owned(&state, &id, &user).await?;
    let row = sqlx::query("SELECT title, artists, album, isrc, language, genre, explicit, lyrics FROM works WHERE id = $1")
        .bind(&id)
        .fetch_one(&state.db.pool)
        .await?;
    let artists: String = row.try_get("artists")?;
    let current = WorkMetadata {
        title: patch.title.unwrap_or(row.try_get("title")?),
        artists: match patch.artists {
            Some(a) => a,
            None => serde_json::from_str(&artists).map_err(|e| AppError::Internal(e.into()))?,
        },
        album: patch.album.or(row.try_get("album")?),
        isrc: patch.isrc.or(row.try_get("isrc")?),
        language: patch.language.or(row.try_get("language")?),
        genre: patch.genre.or(row.try_get("genre")?),
        explicit: patch
            .explicit
            .unwrap_or(row.try_get::<i64, _>("explicit")? != 0),
        lyrics: patch.lyrics.or(row.try_get("lyrics")?),
    };
    let meta = current.validate()?;
    let (lyrics, format, text) = match &meta.lyrics {
        Some((raw, f, t)) => (Some(raw.clone()), Some(*f), t.clone()),
        None => (None, None, String::new()),
    };
    sqlx::query(
        "UPDATE works SET title = $1, artists = $2, artists_text = $3, album = $4, isrc = $5, language = $6, \
             genre = $7, explicit = $8, lyrics = $9, lyrics_format = $10, lyrics_text = $11, updated_at = $12 \
         WHERE id = $13",
    )
    .bind(&meta.title)
    .bind(serde_json::to_string(&meta.artists).map_err(|e| AppError::Internal(e.into()))?)
    .bind(meta.artists.join(", "))
    .bind(&meta.album)
    .bind(&meta.isrc)
    .bind(&meta.language)
    .bind(&meta.genre)
    .bind(i64::from(meta.explicit))
    .bind(lyrics)
    .bind(format)
    .bind(text)
    .bind(now_ms())
    .bind(&id)
    .execute(&state.db.pool)
    .await?;
    Ok(axum::Json(load_work(&state, &id, Some(&user)).await?.json))
}

fn publishable(status: &str) -> Result<(), AppError> {
    match status {
        "ready" => Ok(()),
        "held" => Err(AppError::conflict(
            "held_for_review",
            "the work is held for review and cannot be published yet",
        )),
        "failed" => Err(AppError::conflict(
            "processing_failed",
            "processing failed; see /jobs for the error",
        )),
        "rejected" => Err(AppError::conflict(
            "rejected",
            "the work was rejected by a reviewer",
        )),
        _ => Err(AppError::conflict(
            "not_ready",
            "the work is still being processed",
        )),
    }
}

pub(crate) async fn publish(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    let work = load_owned(&state, &id, &user).await?;
    if !work.published {
        publishable(&work.status)?;
        sqlx::query("UPDATE works SET published_at = $1, updated_at = $1 WHERE id = $2 AND status = 'ready' AND published_at IS NULL")
            .bind(now_ms())
            .bind(&id)
            .execute(&state.db.pool)
            .await?;
    }
    Ok(axum::Json(load_work(&state, &id, Some(&user)).await?.json))
}

/// Checks that `user` may see a work's internals (processing, matches, certificate): its
/// creator, reviewers and admins. Others get 404 when they cannot see the work at all, else 403.
pub(super) async fn load_for_owner_or_staff(
    state: &AppState,
    id: &str,
    user: &CurrentUser,
) -> Result<(), AppError> {
    let work = load_work(state, id, Some(user)).await?;
    if work.owned_by(user) || user.role.sees_everything() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the work's creator, reviewers and admins may see this",
        ))
    }
}

pub(crate) async fn jobs(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    load_for_owner_or_staff(&state, &id, &user).await?;
    let status: String = sqlx::query("SELECT status FROM works WHERE id = $1")
        .bind(&id)
        .fetch_one(&state.db.pool)
        .await?
        .try_get("status")?;
    let jobs = state.queue.for_work(&id).await?;
    Ok(axum::Json(
        json!({"work_id": id, "status": status, "jobs": jobs}),
    ))
}

pub(crate) async fn analysis(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    load_for_owner_or_staff(&state, &id, &user).await?;
    let rows = sqlx::query("SELECT step, code_version, result, created_at FROM step_results WHERE work_id = $1 ORDER BY step")
        .bind(&id)
        .fetch_all(&state.db.pool)
        .await?;
    let mut out = serde_json::Map::new();
    for r in rows {
        let result: String = r.try_get("result")?;
        out.insert(
            r.try_get("step")?,
            json!({
                "code_version": r.try_get::<String, _>("code_version")?,
                "created_at": r.try_get::<i64, _>("created_at")?,
                "result": serde_json::from_str::<Value>(&result).map_err(|e| AppError::Internal(e.into()))?,
            }),
        );
    }
    Ok(axum::Json(Value::Object(out)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseBody {
    title: String,
    kind: String,
    work_ids: Vec<String>,
}

pub(crate) async fn create_release(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<(StatusCode, axum::Json<Value>), AppError> {
    user.require(Role::Creator)?;
    let creator_id = creator_of(&state, &user.id).await?.ok_or_else(|| {
        AppError::conflict(
            "no_creator_profile",
            "create a creator profile first (PUT /api/me/creator)",
        )
    })?;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(AppError::bad("invalid_field", "title: 1 to 300 characters"));
    }
    if !matches!(body.kind.as_str(), "single" | "ep" | "album") {
        return Err(AppError::bad("invalid_field", "kind: single, ep or album"));
    }
    if body.work_ids.is_empty() || body.work_ids.len() > 200 {
        return Err(AppError::bad("invalid_field", "work_ids: 1 to 200 works"));
    }
    for (i, w) in body.work_ids.iter().enumerate() {
        if body.work_ids[..i].contains(w) {
            return Err(AppError::bad(
                "invalid_field",
                "work_ids: a work appears twice",
            ));
        }
        let work = load_work(&state, w, Some(&user)).await?;
        if work.owner_user_id != user.id {
            return Err(AppError::Forbidden(
                "a release may only contain your own works",
            ));
        }
    }
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("INSERT INTO releases (id, creator_id, title, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(&creator_id)
        .bind(title)
        .bind(&body.kind)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    for (pos, w) in body.work_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO release_works (release_id, work_id, position) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(w)
        .bind(pos as i64 + 1)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let (release, _) = super::catalogue::load_release(&state, &id, Some(&user)).await?;
    Ok((StatusCode::CREATED, axum::Json(release)))
}

pub(crate) async fn publish_release(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    let (_, owner) = super::catalogue::load_release(&state, &id, Some(&user)).await?;
    if owner != user.id && user.role != Role::Admin {
        return Err(AppError::Forbidden(
            "only the release's creator may publish it",
        ));
    }
    let rows = sqlx::query(
        "SELECT w.id, w.status, w.published_at FROM release_works rw JOIN works w ON w.id = rw.work_id WHERE rw.release_id = $1",
    )
    .bind(&id)
    .fetch_all(&state.db.pool)
    .await?;
    for r in &rows {
        if r.try_get::<Option<i64>, _>("published_at")?.is_none() {
            publishable(&r.try_get::<String, _>("status")?)?;
        }
    }
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    for r in &rows {
        sqlx::query("UPDATE works SET published_at = $1, updated_at = $1 WHERE id = $2 AND published_at IS NULL AND status = 'ready'")
            .bind(now)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE releases SET published_at = $1 WHERE id = $2 AND published_at IS NULL")
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let (release, _) = super::catalogue::load_release(&state, &id, Some(&user)).await?;
    Ok(axum::Json(release))
}
