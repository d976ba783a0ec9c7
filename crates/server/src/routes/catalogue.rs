//! Reading the catalogue: works, creators, releases, lyrics and search, each filtered by what the
//! caller may see. Listeners and anonymous callers see published works only; creators also
//! see their own; reviewers and admins see everything. An invisible work is a 404, exactly like
//! a missing one, so its existence does not leak.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Page, paged};
use crate::AppState;
use crate::auth::{CurrentUser, MaybeUser};
use crate::db::{Dialect, search_query};
use crate::error::{ApiQuery, AppError};

/// Columns of a work as the API shows it.
pub(crate) const WORK_COLS: &str = "w.id, w.creator_id, c.user_id AS owner_user_id, c.name AS creator_name, \
    w.title, w.artists, w.album, w.isrc, w.language, w.genre, w.explicit, w.status, w.published_at, \
    w.audio_size, w.audio_sha256, w.audio_content_type, w.cover_key, w.lyrics_format, w.duration_s, \
    w.sample_rate, w.channels, w.created_at, w.updated_at";

/// A work row with what access checks need.
#[derive(Debug, Clone)]
pub(crate) struct WorkRow {
    pub id: String,
    pub owner_user_id: String,
    pub status: String,
    pub published: bool,
    pub audio_size: i64,
    pub audio_sha256: String,
    pub audio_content_type: String,
    pub cover_content_type: Option<String>,
    pub duration_s: Option<f64>,
    pub json: Value,
}

impl WorkRow {
    /// May `user` see this work?
    pub fn visible_to(&self, user: Option<&CurrentUser>) -> bool {
        self.published
            || user.is_some_and(|u| u.role.sees_everything() || u.id == self.owner_user_id)
    }

    /// May `user` change this work?
    pub fn owned_by(&self, user: &CurrentUser) -> bool {
        user.id == self.owner_user_id || user.role == crate::Role::Admin
    }
}

pub(crate) fn work_json(r: &AnyRow) -> Result<Value, sqlx::Error> {
    let artists: String = r.try_get("artists")?;
    let published_at: Option<i64> = r.try_get("published_at")?;
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "creator": {"id": r.try_get::<String, _>("creator_id")?, "name": r.try_get::<String, _>("creator_name")?},
        "title": r.try_get::<String, _>("title")?,
        "artists": serde_json::from_str::<Value>(&artists).unwrap_or(Value::Null),
        "album": r.try_get::<Option<String>, _>("album")?,
        "isrc": r.try_get::<Option<String>, _>("isrc")?,
        "language": r.try_get::<Option<String>, _>("language")?,
        "genre": r.try_get::<Option<String>, _>("genre")?,
        "explicit": r.try_get::<i64, _>("explicit")? != 0,
        "status": r.try_get::<String, _>("status")?,
        "published": published_at.is_some(),
        "published_at": published_at,
        "audio": {
            "size": r.try_get::<i64, _>("audio_size")?,
            "sha256": r.try_get::<String, _>("audio_sha256")?,
            "content_type": r.try_get::<String, _>("audio_content_type")?,
            "duration_s": r.try_get::<Option<f64>, _>("duration_s")?,
            "sample_rate": r.try_get::<Option<i64>, _>("sample_rate")?,
            "channels": r.try_get::<Option<i64>, _>("channels")?,
        },
        "has_cover": r.try_get::<Option<String>, _>("cover_key")?.is_some(),
        "lyrics_format": r.try_get::<Option<String>, _>("lyrics_format")?,
        "created_at": r.try_get::<i64, _>("created_at")?,
        "updated_at": r.try_get::<i64, _>("updated_at")?,
    }))
}

/// Loads a work and checks the caller may see it (404 otherwise).
pub(crate) async fn load_work(
    state: &AppState,
    id: &str,
    user: Option<&CurrentUser>,
) -> Result<WorkRow, AppError> {
    let sql = format!(
        "SELECT {WORK_COLS}, w.cover_content_type FROM works w JOIN creators c ON c.id = w.creator_id WHERE w.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let work = WorkRow {
        id: row.try_get("id")?,
        owner_user_id: row.try_get("owner_user_id")?,
        status: row.try_get("status")?,
        published: row.try_get::<Option<i64>, _>("published_at")?.is_some(),
        audio_size: row.try_get("audio_size")?,
        audio_sha256: row.try_get("audio_sha256")?,
        audio_content_type: row.try_get("audio_content_type")?,
        cover_content_type: row.try_get("cover_content_type")?,
        duration_s: row.try_get("duration_s")?,
        json: work_json(&row)?,
    };
    if work.visible_to(user) {
        Ok(work)
    } else {
        Err(AppError::NotFound)
    }
}

/// SQL condition for the rows `user` may see: published rows of table alias `t` (`w` for works,
/// `r` for releases), or any row whose creator `c` is the user; the user id, when needed, is
/// bound as parameter `$n`.
fn visibility(user: Option<&CurrentUser>, t: &str, n: usize) -> (String, Option<String>) {
    match user {
        Some(u) if u.role.sees_everything() => ("1 = 1".into(), None),
        Some(u) => (
            format!("({t}.published_at IS NOT NULL OR c.user_id = ${n})"),
            Some(u.id.clone()),
        ),
        None => (format!("{t}.published_at IS NOT NULL"), None),
    }
}

/// Query parameters of list endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default = "super::one")]
    page: i64,
    #[serde(default = "super::twenty")]
    per_page: i64,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    creator_id: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Page {
        Page {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

pub(crate) async fn list_works(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Value>, AppError> {
    let page = q.page();
    let (limit, offset) = page.check()?;
    let (vis, uid) = visibility(user.as_ref(), "w", 1);
    let mut cond = vis;
    let creator_param = if uid.is_some() { 2 } else { 1 };
    if q.creator_id.is_some() {
        cond.push_str(&format!(" AND w.creator_id = ${creator_param}"));
    }
    let from = format!("FROM works w JOIN creators c ON c.id = w.creator_id WHERE {cond}");
    let count_sql = format!("SELECT COUNT(*) AS n {from}");
    let sql = format!(
        "SELECT {WORK_COLS} {from} ORDER BY w.created_at DESC, w.id LIMIT {limit} OFFSET {offset}"
    );
    let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql.as_str()));
    let mut list = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
    for v in uid.iter().chain(q.creator_id.iter()) {
        count = count.bind(v.clone());
        list = list.bind(v.clone());
    }
    let total: i64 = count.fetch_one(&state.db.pool).await?.try_get("n")?;
    let rows = list.fetch_all(&state.db.pool).await?;
    let items = rows.iter().map(work_json).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(paged(items, page, total)))
}

pub(crate) async fn get_work(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    Ok(axum::Json(
        load_work(&state, &id, user.as_ref()).await?.json,
    ))
}

pub(crate) async fn lyrics(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    load_work(&state, &id, user.as_ref()).await?;
    let row = sqlx::query("SELECT lyrics, lyrics_format, lyrics_text FROM works WHERE id = $1")
        .bind(&id)
        .fetch_one(&state.db.pool)
        .await?;
    let lyrics: Option<String> = row.try_get("lyrics")?;
    if lyrics.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(axum::Json(json!({
        "format": row.try_get::<Option<String>, _>("lyrics_format")?,
        "lyrics": lyrics,
        "text": row.try_get::<String, _>("lyrics_text")?,
        "aligned": super::engines::aligned_lyrics(&state, &id).await?,
    })))
}

pub(crate) async fn search(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Value>, AppError> {
    let page = q.page();
    let (limit, offset) = page.check()?;
    let text = q.q.as_deref().unwrap_or("");
    if text.len() > 500 {
        return Err(AppError::bad("invalid_query", "q: at most 500 bytes"));
    }
    let Some(fts) = search_query(state.db.dialect, text) else {
        return Ok(axum::Json(paged(Vec::new(), page, 0)));
    };
    let (vis, uid) = visibility(user.as_ref(), "w", 2);
    let (from, order) = match state.db.dialect {
        Dialect::Sqlite => (
            format!(
                "FROM works_fts JOIN works w ON w.rowid = works_fts.rowid JOIN creators c ON c.id = w.creator_id \
                 WHERE works_fts MATCH $1 AND {vis}"
            ),
            "works_fts.rank, w.id",
        ),
        Dialect::Postgres => (
            format!(
                "FROM works w JOIN creators c ON c.id = w.creator_id \
                 WHERE to_tsvector('simple', w.title || ' ' || w.artists_text || ' ' || coalesce(w.album, '') || ' ' || w.lyrics_text) \
                       @@ to_tsquery('simple', $1) AND {vis}"
            ),
            "ts_rank(to_tsvector('simple', w.title || ' ' || w.artists_text || ' ' || coalesce(w.album, '') || ' ' || w.lyrics_text), \
             to_tsquery('simple', $1)) DESC, w.id",
        ),
    };
    let count_sql = format!("SELECT COUNT(*) AS n {from}");
    let sql = format!("SELECT {WORK_COLS} {from} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql.as_str())).bind(fts.clone());
    let mut list = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(fts);
    if let Some(uid) = uid {
        count = count.bind(uid.clone());
        list = list.bind(uid);
    }
    let total: i64 = count.fetch_one(&state.db.pool).await?.try_get("n")?;
    let rows = list.fetch_all(&state.db.pool).await?;
    let items = rows.iter().map(work_json).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(paged(items, page, total)))
}

fn creator_json(r: &AnyRow) -> Result<Value, sqlx::Error> {
    let links: String = r.try_get("links")?;
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "name": r.try_get::<String, _>("name")?,
        "bio": r.try_get::<String, _>("bio")?,
        "links": serde_json::from_str::<Value>(&links).unwrap_or(Value::Null),
        "created_at": r.try_get::<i64, _>("created_at")?,
    }))
}

pub(crate) async fn list_creators(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Value>, AppError> {
    let page = q.page();
    let (limit, offset) = page.check()?;
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM creators")
        .fetch_one(&state.db.pool)
        .await?
        .try_get("n")?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, bio, links, created_at FROM creators ORDER BY name, id LIMIT {limit} OFFSET {offset}"
    )))
    .fetch_all(&state.db.pool)
    .await?;
    let items = rows
        .iter()
        .map(creator_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(paged(items, page, total)))
}

pub(crate) async fn get_creator(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    let row = sqlx::query("SELECT id, name, bio, links, created_at FROM creators WHERE id = $1")
        .bind(&id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut v = creator_json(&row)?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM works WHERE creator_id = $1 AND published_at IS NOT NULL",
    )
    .bind(&id)
    .fetch_one(&state.db.pool)
    .await?
    .try_get("n")?;
    v["published_works"] = json!(n);
    Ok(axum::Json(v))
}

pub(crate) async fn list_releases(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Value>, AppError> {
    let page = q.page();
    let (limit, offset) = page.check()?;
    let (vis, uid) = visibility(user.as_ref(), "r", 1);
    let from = format!("FROM releases r JOIN creators c ON c.id = r.creator_id WHERE {vis}");
    let count_sql = format!("SELECT COUNT(*) {from}");
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str()));
    let list_sql = format!(
        "SELECT r.id, r.title, r.kind, r.published_at, r.created_at, c.id AS creator_id, c.name AS creator_name {from} \
         ORDER BY r.created_at DESC, r.id LIMIT {limit} OFFSET {offset}"
    );
    let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()));
    if let Some(uid) = uid {
        count = count.bind(uid.clone());
        list = list.bind(uid);
    }
    let total = count.fetch_one(&state.db.pool).await?;
    let rows = list.fetch_all(&state.db.pool).await?;
    let items = rows
        .iter()
        .map(release_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(paged(items, page, total)))
}

fn release_json(r: &AnyRow) -> Result<Value, sqlx::Error> {
    let published_at: Option<i64> = r.try_get("published_at")?;
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "title": r.try_get::<String, _>("title")?,
        "kind": r.try_get::<String, _>("kind")?,
        "creator": {"id": r.try_get::<String, _>("creator_id")?, "name": r.try_get::<String, _>("creator_name")?},
        "published": published_at.is_some(),
        "published_at": published_at,
        "created_at": r.try_get::<i64, _>("created_at")?,
    }))
}

/// Loads a release the caller may see, with its owner's user id.
pub(crate) async fn load_release(
    state: &AppState,
    id: &str,
    user: Option<&CurrentUser>,
) -> Result<(Value, String), AppError> {
    let row = sqlx::query(
        "SELECT r.id, r.title, r.kind, r.published_at, r.created_at, c.id AS creator_id, c.name AS creator_name, \
                c.user_id FROM releases r JOIN creators c ON c.id = r.creator_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let owner: String = row.try_get("user_id")?;
    let published = row.try_get::<Option<i64>, _>("published_at")?.is_some();
    let visible = published || user.is_some_and(|u| u.role.sees_everything() || u.id == owner);
    if !visible {
        return Err(AppError::NotFound);
    }
    Ok((release_json(&row)?, owner))
}

pub(crate) async fn get_release(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    let (mut release, _) = load_release(&state, &id, user.as_ref()).await?;
    let (vis, uid) = visibility(user.as_ref(), "w", 2);
    let sql = format!(
        "SELECT {WORK_COLS} FROM release_works rw JOIN works w ON w.id = rw.work_id JOIN creators c ON c.id = w.creator_id \
         WHERE rw.release_id = $1 AND {vis} ORDER BY rw.position"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&id);
    if let Some(uid) = uid {
        query = query.bind(uid);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    release["works"] = Value::Array(rows.iter().map(work_json).collect::<Result<Vec<_>, _>>()?);
    Ok(axum::Json(release))
}
