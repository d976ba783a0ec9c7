//! Sign-up, login, logout, the current account, creator profiles and API keys.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::AppState;
use crate::auth::{
    API_KEY_PREFIX, CSRF_COOKIE, Credential, CurrentUser, Role, SESSION_COOKIE, check_password,
    hash_password, normalise_email, random_token, sha256_hex, verify_password,
};
use crate::db::{new_id, now_ms};
use crate::error::{ApiJson, AppError};

/// The client's address when the server runs on a socket (absent under `oneshot`).
pub(crate) struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignupBody {
    email: String,
    password: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    name: Option<String>,
}

/// Creates an account; `creator_name` also creates a creator profile.
pub(crate) async fn create_user(
    state: &AppState,
    email: &str,
    password: &str,
    role: Role,
    creator_name: Option<&str>,
) -> Result<String, AppError> {
    let email = normalise_email(email)?;
    check_password(password)?;
    let memory = state.config.argon2_memory_kib;
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, memory))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let exists = sqlx::query("SELECT 1 AS one FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(AppError::conflict(
            "email_taken",
            "email: an account with this address exists",
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&email)
    .bind(hash)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        // Lost a race with a concurrent sign-up for the same address.
        if e.as_database_error()
            .is_some_and(|d| d.is_unique_violation())
        {
            return Err(AppError::conflict(
                "email_taken",
                "email: an account with this address exists",
            ));
        }
        return Err(e.into());
    }
    if let Some(name) = creator_name {
        insert_profile(&mut tx, &id, name, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_profile(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    name: &str,
    now: i64,
) -> Result<String, AppError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO creators (id, user_id, name, bio, links, created_at, updated_at) VALUES ($1, $2, $3, '', '[]', $4, $4)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The creator profile id of a user, creating a bare one named `name` when missing.
pub(crate) async fn ensure_creator(
    state: &AppState,
    user_id: &str,
    name: &str,
) -> Result<String, AppError> {
    if let Some(id) = creator_of(state, user_id).await? {
        return Ok(id);
    }
    let mut conn = state.db.pool.acquire().await?;
    insert_profile(&mut conn, user_id, name, now_ms()).await
}

/// The creator profile id of a user, if any.
pub(crate) async fn creator_of(
    state: &AppState,
    user_id: &str,
) -> Result<Option<String>, AppError> {
    let row = sqlx::query("SELECT id FROM creators WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&state.db.pool)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

pub(crate) async fn signup(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Response, AppError> {
    let role = body.role.unwrap_or(Role::Listener);
    if !matches!(role, Role::Listener | Role::Creator) {
        return Err(AppError::Forbidden(
            "only listener and creator accounts can be created by sign-up",
        ));
    }
    let name = match (role, body.name.as_deref().map(str::trim)) {
        (Role::Creator, Some(n)) if !n.is_empty() && n.chars().count() <= 200 => {
            Some(n.to_string())
        }
        (Role::Creator, _) => {
            return Err(AppError::bad(
                "invalid_field",
                "name: creators need a name of 1 to 200 characters",
            ));
        }
        _ => None,
    };
    let id = create_user(&state, &body.email, &body.password, role, name.as_deref()).await?;
    let mut response = start_session(&state, &id).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, AppError> {
    let email = body.email.trim().to_lowercase();
    let now = Instant::now();
    let mut keys = vec![(format!("email:{email}"), 1)];
    if let Some(ip) = ip {
        // Addresses get more room than accounts: many people may share one address.
        keys.push((format!("ip:{ip}"), 4));
    }
    for (key, factor) in &keys {
        if let Err(retry_after_s) = state.limiter.check(key, now, *factor) {
            return Err(AppError::RateLimited { retry_after_s });
        }
    }
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.db.pool)
        .await?;
    let (id, phc) = match row {
        Some(r) => (
            Some(r.try_get::<String, _>("id")?),
            r.try_get::<String, _>("password_hash")?,
        ),
        // Verify against a fixed hash so unknown accounts take as long as known ones.
        None => (None, DUMMY_HASH.to_string()),
    };
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    match (ok, id) {
        (true, Some(id)) => {
            state.limiter.clear(&keys[0].0);
            start_session(&state, &id).await
        }
        _ => {
            for (k, _) in &keys {
                state.limiter.fail(k, now);
            }
            Err(AppError::bad_status(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong e-mail address or password",
            ))
        }
    }
}

/// An argon2id hash of a random password, for timing-safe failures on unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4mWJ7fqkLNuzBuWQ9uLQr3Ae1YAqXqP9yS1T5w3Jm1s";

async fn start_session(state: &AppState, user_id: &str) -> Result<Response, AppError> {
    let token = random_token(32)?;
    let csrf = random_token(16)?;
    let now = now_ms();
    let ttl = state.config.session_ttl;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(user_id)
    .bind(&csrf)
    .bind(now)
    .bind(now + ttl.as_millis() as i64)
    .execute(&state.db.pool)
    .await?;
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = ttl.as_secs();
    let session_cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}"
    );
    let csrf_cookie =
        format!("{CSRF_COOKIE}={csrf}; SameSite=Lax; Path=/; Max-Age={max_age}{secure}");
    let body = json!({"user_id": user_id, "csrf_token": csrf});
    let mut response = axum::Json(body).into_response();
    for c in [session_cookie, csrf_cookie] {
        let v = HeaderValue::from_str(&c).map_err(|e| AppError::Internal(e.into()))?;
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    if let Credential::Session { token_hash } = &user.credential {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&state.db.pool)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let v = HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0"))
            .map_err(|e| AppError::Internal(e.into()))?;
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub(crate) async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    let profile = sqlx::query(
        "SELECT id, name, bio, links, gender, birth_year, demographics_consent_at FROM creators WHERE user_id = $1",
    )
    .bind(&user.id)
    .fetch_optional(&state.db.pool)
    .await?;
    let creator = match profile {
        Some(r) => {
            let links: String = r.try_get("links")?;
            json!({
                "id": r.try_get::<String, _>("id")?,
                "name": r.try_get::<String, _>("name")?,
                "bio": r.try_get::<String, _>("bio")?,
                "links": serde_json::from_str::<Value>(&links).unwrap_or(Value::Null),
                "gender": r.try_get::<Option<String>, _>("gender")?,
                "birth_year": r.try_get::<Option<i64>, _>("birth_year")?,
                "demographics_consent_at": r.try_get::<Option<i64>, _>("demographics_consent_at")?,
            })
        }
        None => Value::Null,
    };
    let care_mode: i64 = sqlx::query("SELECT care_mode FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_one(&state.db.pool)
        .await?
        .try_get("care_mode")?;
    Ok(axum::Json(json!({
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "creator": creator,
        "care_mode": care_mode != 0,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferencesBody {
    /// The web app's ageing-friendly display, remembered for the account.
    #[serde(default)]
    care_mode: Option<bool>,
}

pub(crate) async fn patch_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<PreferencesBody>,
) -> Result<axum::Json<Value>, AppError> {
    if let Some(care) = body.care_mode {
        sqlx::query("UPDATE users SET care_mode = $1 WHERE id = $2")
            .bind(i64::from(care))
            .bind(&user.id)
            .execute(&state.db.pool)
            .await?;
    }
    me(State(state), user).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileBody {
    name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    links: Vec<String>,
    #[serde(default)]
    gender: Option<String>,
    #[serde(default)]
    birth_year: Option<i64>,
    /// Consent to use gender and birth year in aggregate statistics. Without it they are not
    /// stored (and any stored values are erased).
    #[serde(default)]
    demographics_consent: bool,
}

pub(crate) async fn put_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<axum::Json<Value>, AppError> {
    user.require(Role::Creator)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad("invalid_field", "name: 1 to 200 characters"));
    }
    if body.bio.chars().count() > 5000 {
        return Err(AppError::bad(
            "invalid_field",
            "bio: at most 5000 characters",
        ));
    }
    if body.links.len() > 20 {
        return Err(AppError::bad("invalid_field", "links: at most 20"));
    }
    for link in &body.links {
        let ok = url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            && link.len() <= 2000;
        if !ok {
            return Err(AppError::bad(
                "invalid_field",
                "links: each must be an http(s) URL",
            ));
        }
    }
    let (gender, birth_year, consent_at) = if body.demographics_consent {
        if let Some(g) = &body.gender
            && (g.trim().is_empty() || g.chars().count() > 50)
        {
            return Err(AppError::bad("invalid_field", "gender: 1 to 50 characters"));
        }
        if let Some(y) = body.birth_year
            && !(1900..=2030).contains(&y)
        {
            return Err(AppError::bad(
                "invalid_field",
                "birth_year: between 1900 and 2030",
            ));
        }
        (
            body.gender.map(|g| g.trim().to_string()),
            body.birth_year,
            Some(now_ms()),
        )
    } else {
        (None, None, None)
    };
    let now = now_ms();
    let links = serde_json::to_string(&body.links).map_err(|e| AppError::Internal(e.into()))?;
    let id = ensure_creator(&state, &user.id, name).await?;
    sqlx::query(
        "UPDATE creators SET name = $1, bio = $2, links = $3, gender = $4, birth_year = $5, \
             demographics_consent_at = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(name)
    .bind(&body.bio)
    .bind(links)
    .bind(gender)
    .bind(birth_year)
    .bind(consent_at)
    .bind(now)
    .bind(&id)
    .execute(&state.db.pool)
    .await?;
    me(State(state), user).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyBody {
    name: String,
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<(StatusCode, axum::Json<Value>), AppError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad("invalid_field", "name: 1 to 100 characters"));
    }
    let prefix = random_token(4)?;
    let key = format!("{API_KEY_PREFIX}{prefix}_{}", random_token(24)?);
    let id = new_id();
    sqlx::query(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&user.id)
    .bind(name)
    .bind(&prefix)
    .bind(sha256_hex(key.as_bytes()))
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "name": name, "prefix": prefix, "key": key})),
    ))
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Value>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(&user.id)
    .fetch_all(&state.db.pool)
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.try_get::<String, _>("id")?,
                "name": r.try_get::<String, _>("name")?,
                "prefix": r.try_get::<String, _>("prefix")?,
                "created_at": r.try_get::<i64, _>("created_at")?,
                "last_used_at": r.try_get::<Option<i64>, _>("last_used_at")?,
                "revoked_at": r.try_get::<Option<i64>, _>("revoked_at")?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(axum::Json(json!({"items": items})))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let r = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(&id)
    .bind(&user.id)
    .execute(&state.db.pool)
    .await?;
    if r.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
