//! Accounts: argon2id password hashes, cookie sessions with CSRF protection, API keys hashed at
//! rest, roles, and the login rate limiter.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::AppState;
use crate::db::now_ms;
use crate::error::AppError;

/// Name of the session cookie (HttpOnly).
pub const SESSION_COOKIE: &str = "encore_session";
/// Name of the CSRF cookie (readable by scripts, echoed in `X-CSRF-Token`).
pub const CSRF_COOKIE: &str = "encore_csrf";
/// Header that must echo the CSRF token on cookie-authenticated unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of every API key, so leaked keys are easy to recognise and scan for.
pub const API_KEY_PREFIX: &str = "enc_";

/// What an account may do. Admins may do everything; reviewers also review held uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Streams published works.
    Listener,
    /// Uploads and publishes own works.
    Creator,
    /// Reviews uploads held by the pipeline.
    Reviewer,
    /// Runs the platform.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Listener => "listener",
            Role::Creator => "creator",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "listener" => Role::Listener,
            "creator" => Role::Creator,
            "reviewer" => Role::Reviewer,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    /// May see every work, published or not (to review it).
    pub fn sees_everything(self) -> bool {
        matches!(self, Role::Reviewer | Role::Admin)
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session cookie, with its CSRF token.
    Session {
        /// Hash of the session token (to log out).
        token_hash: String,
    },
    /// An API key (`Authorization: Bearer enc_...`).
    ApiKey,
}

/// The authenticated caller. As an extractor it answers 401 when nobody is logged in and 403
/// when a cookie-authenticated unsafe request lacks a valid CSRF token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// User id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// How the caller authenticated.
    pub credential: Credential,
}

impl CurrentUser {
    /// Refuses callers below `role` (admins pass every check).
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role == Role::Admin || role == Role::Listener || self.role == role {
            Ok(())
        } else {
            Err(AppError::Forbidden("your role does not allow this"))
        }
    }
}

/// An optional caller: anonymous requests get `None`.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match authenticate(parts, state).await? {
            Some(user) => Ok(user),
            None => Err(AppError::Unauthenticated),
        }
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(MaybeUser(authenticate(parts, state).await?))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>, AppError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| {
            AppError::bad("invalid_authorization", "Authorization header is not text")
        })?;
        let key = value.strip_prefix("Bearer ").ok_or_else(|| {
            AppError::bad(
                "invalid_authorization",
                "expected `Authorization: Bearer <api key>`",
            )
        })?;
        let row = sqlx::query(
            "SELECT u.id, u.email, u.role, k.id AS key_id FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(sha256_hex(key.trim().as_bytes()))
        .fetch_optional(&state.db.pool)
        .await?;
        let Some(row) = row else {
            return Err(AppError::Unauthenticated);
        };
        let key_id: String = row.try_get("key_id")?;
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&key_id)
            .execute(&state.db.pool)
            .await?;
        return Ok(Some(user_from_row(&row, Credential::ApiKey)?));
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = sha256_hex(token.as_bytes());
    let row = sqlx::query(
        "SELECT u.id, u.email, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(&token_hash)
    .bind(now_ms())
    .fetch_optional(&state.db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let csrf: String = row.try_get("csrf_token")?;
    if !is_safe_method(&parts.method) && !csrf_ok(&parts.headers, &csrf) {
        return Err(AppError::Forbidden(
            "missing or wrong CSRF token: send the encore_csrf cookie's value in X-CSRF-Token",
        ));
    }
    Ok(Some(user_from_row(
        &row,
        Credential::Session { token_hash },
    )?))
}

fn user_from_row(row: &sqlx::any::AnyRow, credential: Credential) -> Result<CurrentUser, AppError> {
    let role: String = row.try_get("role")?;
    Ok(CurrentUser {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown role {role:?}")))?,
        credential,
    })
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Double-submit check: the header must equal the session's token. Plain HTML form posts, which
/// cannot set headers, pass only when their `Origin` is this very host.
fn csrf_ok(headers: &HeaderMap, expected: &str) -> bool {
    if let Some(sent) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return constant_time_eq(sent.as_bytes(), expected.as_bytes());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            origin_host == Some(host)
        }
        _ => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Hex SHA-256, used for session tokens and API keys at rest (they are random, so a fast hash
/// is enough; passwords use argon2id).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `n` random bytes from the OS, hex encoded.
pub fn random_token(n: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(anyhow::anyhow!("getrandom: {e}")))?;
    Ok(hex(&buf))
}

fn argon2(memory_kib: u32) -> Result<Argon2<'static>, AppError> {
    let params = Params::new(memory_kib, 2, 1, None)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str, memory_kib: u32) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("getrandom: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("salt: {e}")))?;
    Ok(argon2(memory_kib)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))?
        .to_string())
}

/// Checks a password against a stored PHC string (parameters are read from the string).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Password rules: 10 to 1024 characters.
pub fn check_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(AppError::bad(
            "weak_password",
            "password: use at least 10 characters",
        ));
    }
    if password.len() > 1024 {
        return Err(AppError::bad(
            "invalid_password",
            "password: at most 1024 bytes",
        ));
    }
    Ok(())
}

/// Normalises and checks an e-mail address (one `@`, a dot in the domain, no spaces).
pub fn normalise_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split('@').count() == 2
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AppError::bad(
            "invalid_email",
            "email: not a valid e-mail address",
        ))
    }
}

/// Counts failed logins per key in a sliding window (per process; behind a load balancer each
/// server counts on its own, so the effective limit is multiplied by the number of servers).
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// A limiter allowing `max_failures` per `window` per key.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginLimiter {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when the key has used up its failures (`factor` times the limit).
    pub fn check(&self, key: &str, now: Instant, factor: u32) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() as u32 >= self.max_failures.saturating_mul(factor) {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        Ok(())
    }

    /// Records a failed attempt.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Bounded memory under a spray of distinct keys: forget the oldest state wholesale.
            map.clear();
        }
        map.entry(key.to_string()).or_default().push_back(now);
    }

    /// Forgets a key after a successful login.
    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let phc = hash_password("correct horse battery", 1024).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn limiter_blocks_then_recovers() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("k", t0, 1).is_ok());
            l.fail("k", t0);
        }
        let wait = l.check("k", t0, 1).unwrap_err();
        assert!((59..=60).contains(&wait));
        assert!(l.check("other", t0, 1).is_ok());
        assert!(l.check("k", t0 + Duration::from_secs(61), 1).is_ok());
    }

    #[test]
    fn csrf_rules() {
        let mut h = HeaderMap::new();
        assert!(!csrf_ok(&h, "tok"));
        h.insert(CSRF_HEADER, "tok".parse().unwrap());
        assert!(csrf_ok(&h, "tok"));
        h.insert(CSRF_HEADER, "tok2".parse().unwrap());
        assert!(!csrf_ok(&h, "tok"));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "music.example:8080".parse().unwrap());
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!csrf_ok(&h, "tok"));
        h.insert(header::ORIGIN, "http://music.example:8080".parse().unwrap());
        assert!(csrf_ok(&h, "tok"));
    }

    #[test]
    fn emails() {
        assert_eq!(normalise_email(" A@B.org ").unwrap(), "a@b.org");
        for bad in ["", "a", "a@b", "a@@b.c", "@b.c", "a b@c.d", "a@.c"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
