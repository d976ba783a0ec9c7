//! Staff routes: reviews of held uploads (reviewers, admins) and administration (admins only).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::AppState;
use crate::auth::{CurrentUser, Role};
use crate::db::now_ms;
use crate::error::{ApiJson, AppError};

/// Aggregates smaller than this are reported as suppressed, so no individual can be singled out.
const MIN_CELL: i64 = 5;

fn require_staff(user: &CurrentUser) -> Result<(), AppError> {
    if user.role.sees_everything() {
        Ok(())
    } else {
        Err(AppError::Forbidden("reviewers and admins only"))
    }
}

fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden("admins only"))
    }
}

pub(crate) async fn list_reviews(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    require_staff(&user)?;
    let rows = sqlx::query(
        "SELECT r.id, r.work_id, r.step, r.reason, r.details, r.status, r.created_at, w.title \
         FROM reviews r JOIN works w ON w.id = r.work_id WHERE r.status = 'open' ORDER BY r.created_at, r.id LIMIT 500",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let details: String = r.try_get("details")?;
            Ok(json!({
                "id": r.try_get::<String, _>("id")?,
                "work_id": r.try_get::<String, _>("work_id")?,
                "title": r.try_get::<String, _>("title")?,
                "step": r.try_get::<String, _>("step")?,
                "reason": r.try_get::<String, _>("reason")?,
                "details": serde_json::from_str::<Value>(&details).unwrap_or(Value::Null),
                "status": r.try_get::<String, _>("status")?,
                "created_at": r.try_get::<i64, _>("created_at")?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    approve: bool,
    #[serde(default)]
    note: Option<String>,
}

pub(crate) async fn decide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Decision>,
) -> Result<axum::Json<Value>, AppError> {
    require_staff(&user)?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(AppError::bad(
            "invalid_field",
            "note: at most 2000 characters",
        ));
    }
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let row = sqlx::query("SELECT work_id FROM reviews WHERE id = $1 AND status = 'open'")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let work_id: String = row.try_get("work_id")?;
    let status = if body.approve { "approved" } else { "rejected" };
    sqlx::query(
        "UPDATE reviews SET status = $1, decided_by = $2, decided_at = $3, note = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(&user.id)
    .bind(now)
    .bind(&body.note)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    if body.approve {
        // Released from hold: ready when every job is done and no other review is open.
        sqlx::query(
            "UPDATE works SET status = CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE work_id = $1 AND status <> 'done') \
                 THEN 'processing' ELSE 'ready' END, updated_at = $2 \
             WHERE id = $1 AND status = 'held' \
               AND NOT EXISTS (SELECT 1 FROM reviews WHERE work_id = $1 AND status = 'open')",
        )
        .bind(&work_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query("UPDATE works SET status = 'rejected', published_at = NULL, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&work_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let work_status: String = sqlx::query("SELECT status FROM works WHERE id = $1")
        .bind(&work_id)
        .fetch_one(&state.db.pool)
        .await?
        .try_get("status")?;
    Ok(axum::Json(
        json!({"id": id, "status": status, "work_id": work_id, "work_status": work_status}),
    ))
}

pub(crate) async fn list_users(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    require_admin(&user)?;
    let rows = sqlx::query(
        "SELECT id, email, role, created_at FROM users ORDER BY created_at, id LIMIT 1000",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.try_get::<String, _>("id")?,
                "email": r.try_get::<String, _>("email")?,
                "role": r.try_get::<String, _>("role")?,
                "created_at": r.try_get::<i64, _>("created_at")?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    role: Role,
}

pub(crate) async fn set_role(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<axum::Json<Value>, AppError> {
    require_admin(&user)?;
    if id == user.id && body.role != Role::Admin {
        return Err(AppError::conflict(
            "last_admin",
            "admins cannot demote themselves",
        ));
    }
    let r = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(body.role.as_str())
        .bind(&id)
        .execute(&state.db.pool)
        .await?;
    if r.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(axum::Json(json!({"id": id, "role": body.role})))
}

fn suppress(counts: BTreeMap<String, i64>) -> Value {
    Value::Object(
        counts
            .into_iter()
            .map(|(k, n)| {
                (
                    k,
                    if n < MIN_CELL {
                        json!(format!("<{MIN_CELL}"))
                    } else {
                        json!(n)
                    },
                )
            })
            .collect(),
    )
}

pub(crate) async fn demographics(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    require_admin(&user)?;
    let rows = sqlx::query(
        "SELECT gender, birth_year FROM creators WHERE demographics_consent_at IS NOT NULL",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut by_gender = BTreeMap::new();
    let mut by_decade = BTreeMap::new();
    for r in &rows {
        let g: Option<String> = r.try_get("gender")?;
        *by_gender
            .entry(g.unwrap_or_else(|| "undeclared".into()).to_lowercase())
            .or_insert(0) += 1;
        let y: Option<i64> = r.try_get("birth_year")?;
        let decade = y.map_or("undeclared".to_string(), |y| {
            format!("{}s", y - y.rem_euclid(10))
        });
        *by_decade.entry(decade).or_insert(0) += 1;
    }
    Ok(axum::Json(json!({
        "consenting_creators": rows.len(),
        "by_gender": suppress(by_gender),
        "by_birth_decade": suppress(by_decade),
        "cells_below_are_suppressed": MIN_CELL,
    })))
}

pub(crate) async fn job_stats(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    require_admin(&user)?;
    let rows = sqlx::query(
        "SELECT step, status, COUNT(*) AS n FROM jobs GROUP BY step, status ORDER BY step, status",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in &rows {
        out.entry(r.try_get("step")?)
            .or_default()
            .insert(r.try_get("status")?, r.try_get("n")?);
    }
    Ok(axum::Json(json!(out)))
}
