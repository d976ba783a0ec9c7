//! The HTTP API: every route is added through [`Api::op`], which also records it for the
//! OpenAPI document, so the document cannot drift from the router.

mod accounts;
mod admin;
mod catalogue;
mod engines;
mod stream;
mod works;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::limit::ConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::config::JSON_BODY_LIMIT;
use crate::error::AppError;

pub(crate) use accounts::{create_user, ensure_creator};

/// One documented operation.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    method: Method,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
}

/// How long a route may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ordinary request: the request timeout applies.
    Short,
    /// Uploads and streams: no overall timeout (bodies are limited by size instead).
    Long,
}

/// A router that documents itself.
struct Api {
    router: Router<AppState>,
    ops: Vec<Op>,
    timeout: Duration,
}

impl Api {
    fn op(
        mut self,
        method: Method,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
        kind: Kind,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let handler = match kind {
            Kind::Short => handler.layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.timeout,
            )),
            Kind::Long => handler,
        };
        self.router = self.router.route(path, handler);
        self.ops.push(Op {
            method,
            path,
            summary,
            tag,
        });
        self
    }
}

fn build(state: &AppState) -> Api {
    use Kind::{Long, Short};
    use Method as M;
    use axum::routing::{delete, patch, post, put};
    let upload_limit = state.config.max_upload_bytes
        + state.config.max_cover_bytes
        + state.config.max_lyrics_bytes
        + 1024 * 1024;
    let api = Api {
        router: Router::new(),
        ops: Vec::new(),
        timeout: state.config.request_timeout,
    };
    api.op(
        M::GET,
        "/api/health",
        "meta",
        "Liveness and schema version",
        Short,
        get(health),
    )
    .op(
        M::GET,
        "/api/openapi.json",
        "meta",
        "This OpenAPI document",
        Short,
        get(openapi),
    )
    .op(
        M::POST,
        "/api/auth/signup",
        "accounts",
        "Create a listener or creator account and log in",
        Short,
        post(accounts::signup),
    )
    .op(
        M::POST,
        "/api/auth/login",
        "accounts",
        "Log in: sets the session and CSRF cookies",
        Short,
        post(accounts::login),
    )
    .op(
        M::POST,
        "/api/auth/logout",
        "accounts",
        "End the current session",
        Short,
        post(accounts::logout),
    )
    .op(
        M::GET,
        "/api/me",
        "accounts",
        "The current account",
        Short,
        get(accounts::me),
    )
    .op(
        M::PATCH,
        "/api/me",
        "accounts",
        "Change the caller's preferences: {care_mode: bool} (the web app's ageing-friendly mode)",
        Short,
        patch(accounts::patch_me),
    )
    .op(
        M::PUT,
        "/api/me/creator",
        "accounts",
        "Create or update the caller's creator profile",
        Short,
        put(accounts::put_profile),
    )
    .op(
        M::GET,
        "/api/me/api-keys",
        "accounts",
        "List the caller's API keys",
        Short,
        get(accounts::list_keys),
    )
    .op(
        M::POST,
        "/api/me/api-keys",
        "accounts",
        "Create an API key (shown once)",
        Short,
        post(accounts::create_key),
    )
    .op(
        M::DELETE,
        "/api/me/api-keys/{id}",
        "accounts",
        "Revoke an API key",
        Short,
        delete(accounts::revoke_key),
    )
    .op(
        M::GET,
        "/api/creators",
        "catalogue",
        "List creators",
        Short,
        get(catalogue::list_creators),
    )
    .op(
        M::GET,
        "/api/creators/{id}",
        "catalogue",
        "A creator's public profile",
        Short,
        get(catalogue::get_creator),
    )
    .op(
        M::GET,
        "/api/works",
        "catalogue",
        "List the works the caller may see",
        Short,
        get(catalogue::list_works),
    )
    .op(
        M::POST,
        "/api/works",
        "works",
        "Upload a work (multipart: audio, cover, lyrics, metadata fields)",
        Long,
        post(works::upload).layer(DefaultBodyLimit::max(upload_limit as usize)),
    )
    .op(
        M::GET,
        "/api/works/{id}",
        "catalogue",
        "One work",
        Short,
        get(catalogue::get_work),
    )
    .op(
        M::PATCH,
        "/api/works/{id}",
        "works",
        "Change a work's metadata (owner)",
        Short,
        patch(works::update),
    )
    .op(
        M::POST,
        "/api/works/{id}/publish",
        "works",
        "Publish a processed work (owner)",
        Short,
        post(works::publish),
    )
    .op(
        M::GET,
        "/api/works/{id}/jobs",
        "works",
        "Pipeline steps of a work: status, timing, error",
        Short,
        get(works::jobs),
    )
    .op(
        M::GET,
        "/api/works/{id}/analysis",
        "works",
        "Stored step results of a work",
        Short,
        get(works::analysis),
    )
    .op(
        M::GET,
        "/api/works/{id}/lyrics",
        "catalogue",
        "Lyrics of a work, with the aligned word times once the lyrics step ran",
        Short,
        get(catalogue::lyrics),
    )
    .op(
        M::GET,
        "/api/works/{id}/haptics/{format}",
        "catalogue",
        "Haptic track download: ahap, android, lofelt (.haptic) or web (404 not_ready before the haptics step)",
        Short,
        get(engines::haptics),
    )
    .op(
        M::GET,
        "/api/works/{id}/visualization",
        "catalogue",
        "Visualisation data (the encore visualize --json shape)",
        Short,
        get(engines::visualization),
    )
    .op(
        M::GET,
        "/api/works/{id}/matches",
        "works",
        "Fingerprint matches {matches: [{work_id, title, creator, score, offset_s}]} (owner, reviewers, admins)",
        Short,
        get(engines::matches),
    )
    .op(
        M::GET,
        "/api/works/{id}/certificate",
        "works",
        "The C2SP tlog-proof certificate of the work's registry entry (owner, reviewers, admins)",
        Short,
        get(engines::certificate),
    )
    .op(
        M::GET,
        "/api/registry/key",
        "meta",
        "The rights-registry log's verifier key {origin, vkey}",
        Short,
        get(engines::registry_key),
    )
    .op(
        M::GET,
        "/api/works/{id}/cover",
        "catalogue",
        "Cover image of a work",
        Short,
        get(stream::cover),
    )
    .op(
        M::GET,
        "/api/works/{id}/stream",
        "streaming",
        "The original audio (HTTP Range)",
        Long,
        get(stream::original),
    )
    .op(
        M::GET,
        "/api/works/{id}/stream/{format}",
        "streaming",
        "A transcoded stream: opus, aac or mp3 at ?bitrate= kbit/s (HTTP Range)",
        Long,
        get(stream::transcoded),
    )
    .op(
        M::POST,
        "/api/plays",
        "streaming",
        "Record a play with the duration listened",
        Short,
        post(stream::record_play),
    )
    .op(
        M::GET,
        "/api/search",
        "catalogue",
        "Full-text search over titles, artists, albums and lyrics",
        Short,
        get(catalogue::search),
    )
    .op(
        M::GET,
        "/api/releases",
        "catalogue",
        "List releases",
        Short,
        get(catalogue::list_releases),
    )
    .op(
        M::POST,
        "/api/releases",
        "works",
        "Create a release from own works",
        Short,
        post(works::create_release),
    )
    .op(
        M::GET,
        "/api/releases/{id}",
        "catalogue",
        "One release with its works",
        Short,
        get(catalogue::get_release),
    )
    .op(
        M::POST,
        "/api/releases/{id}/publish",
        "works",
        "Publish a release and its works",
        Short,
        post(works::publish_release),
    )
    .op(
        M::GET,
        "/api/reviews",
        "review",
        "Open reviews (reviewer, admin)",
        Short,
        get(admin::list_reviews),
    )
    .op(
        M::POST,
        "/api/reviews/{id}/decision",
        "review",
        "Approve or reject a held work",
        Short,
        post(admin::decide),
    )
    .op(
        M::GET,
        "/api/admin/users",
        "admin",
        "List accounts (admin)",
        Short,
        get(admin::list_users),
    )
    .op(
        M::PUT,
        "/api/admin/users/{id}/role",
        "admin",
        "Change an account's role (admin)",
        Short,
        put(admin::set_role),
    )
    .op(
        M::GET,
        "/api/admin/demographics",
        "admin",
        "Creator demographics in aggregate, small cells suppressed (admin)",
        Short,
        get(admin::demographics),
    )
    .op(
        M::GET,
        "/api/admin/jobs",
        "admin",
        "Job counts by step and status (admin)",
        Short,
        get(admin::job_stats),
    )
}

/// The router with its layers.
pub(crate) fn router(state: AppState) -> Router {
    let api = build(&state);
    let concurrency = state.config.max_concurrent_requests;
    api.router
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(ConcurrencyLimitLayer::new(concurrency))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn method_not_allowed() -> AppError {
    AppError::bad_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<impl IntoResponse, AppError> {
    let version = crate::db::current_version(&state.db).await?;
    Ok(axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "schema_version": version,
        "database": match state.db.dialect { crate::Dialect::Sqlite => "sqlite", crate::Dialect::Postgres => "postgres" },
        "steps": state.registry.stages().iter().map(|(s, _)| *s).collect::<Vec<_>>(),
    })))
}

async fn openapi(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    axum::Json(document(&build(&state).ops))
}

/// The OpenAPI 3.1 document of the API built for `state`.
pub fn openapi_document(state: &AppState) -> Value {
    document(&build(state).ops)
}

fn document(ops: &[Op]) -> Value {
    let mut paths = serde_json::Map::new();
    for op in ops {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let op_id = format!(
            "{}{}",
            op.method.as_str().to_lowercase(),
            op.path
                .trim_start_matches("/api")
                .split(|c: char| !c.is_alphanumeric())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<String>()
        );
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(map) = entry {
            map.insert(
                op.method.as_str().to_lowercase(),
                json!({
                    "operationId": op_id,
                    "summary": op.summary,
                    "tags": [op.tag],
                    "parameters": params,
                    "responses": {
                        "200": {"description": "Success"},
                        "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                    }
                }),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Encore API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
                "apiKey": {"type": "http", "scheme": "bearer"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}}}}
                }
            }
        }
    })
}

/// `?page=&per_page=` (1-based page, at most 100 per page).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Page {
    #[serde(default = "one")]
    page: i64,
    #[serde(default = "twenty")]
    per_page: i64,
}

fn one() -> i64 {
    1
}
fn twenty() -> i64 {
    20
}

impl Page {
    pub(crate) fn check(self) -> Result<(i64, i64), AppError> {
        if self.page < 1 || self.page > 1_000_000 {
            return Err(AppError::bad(
                "invalid_page",
                "page: must be between 1 and 1000000",
            ));
        }
        if !(1..=100).contains(&self.per_page) {
            return Err(AppError::bad(
                "invalid_page",
                "per_page: must be between 1 and 100",
            ));
        }
        Ok((self.per_page, (self.page - 1) * self.per_page))
    }
}

/// A page of results.
pub(crate) fn paged(items: Vec<Value>, page: Page, total: i64) -> Value {
    json!({"items": items, "page": page.page, "per_page": page.per_page, "total": total})
}
