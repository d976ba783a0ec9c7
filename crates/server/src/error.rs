//! One error type for every handler: a stable code, a safe message, and the detail only in logs.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What went wrong, as the client sees it. Each variant has a stable `code` string that clients
/// may match on; the message is written for humans and never contains internal error text.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a field is invalid (400). The message says which field.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code, e.g. `invalid_isrc`.
        code: &'static str,
        /// Human message naming the field and the problem.
        message: String,
    },
    /// No valid session or API key (401).
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing does not exist, or the caller may not know it exists (404).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state (409), e.g. an e-mail already registered.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// A body or field is larger than the configured limit (413). Protection against hostile
    /// clients: the server stops reading as soon as the limit is crossed.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large ("audio", "cover", "request body").
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// The upload is not something the server can use (415 / 422), e.g. audio that does not decode.
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// Too many attempts (429); retry after the given number of seconds.
    #[error("too many attempts; retry in {retry_after_s} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_s: u64,
    },
    /// The requested byte range cannot be served (416).
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// Length of the whole representation, for `Content-Range: bytes */len`.
        len: u64,
    },
    /// Any other client error with its own status (404 for unknown routes, 405, ...).
    #[error("{message}")]
    Status {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// Anything else (500). The detail is logged, the client sees only `internal`.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// A 400 with a code and a message.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422 with a code and a message.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// A 409 with a code and a message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// An error with an explicit status.
    pub fn bad_status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Status {
            status,
            code,
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Status { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Unprocessable { code, .. }
            | AppError::Status { code, .. } => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not_found",
            AppError::TooLarge { .. } => "too_large",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            AppError::Internal(_) => "internal",
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "internal error");
        } else {
            tracing::debug!(code = self.code(), "request refused: {self}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            AppError::RateLimited { retry_after_s } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::RangeNotSatisfiable { len } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<object_store::Error> for AppError {
    fn from(err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { .. } => AppError::NotFound,
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(err: std::io::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

/// The one JSON extractor: every malformed body (bad syntax, wrong type, missing field, wrong
/// content type, too large) becomes a 400 `invalid_json` (or 413) in the standard error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::bad(
            "invalid_json",
            "expected a JSON body with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => AppError::bad(
            "invalid_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => AppError::bad(
            "invalid_json",
            format!(
                "the JSON does not match the expected shape: {}",
                e.body_text()
            ),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge {
                what: "request body",
                limit: crate::config::JSON_BODY_LIMIT as u64,
            }
        }
        other => AppError::bad(
            "invalid_json",
            format!("the body could not be read: {}", other.body_text()),
        ),
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The one query-string extractor: a bad query string is a 400 `invalid_query` in the standard
/// error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(AppError::bad(
                "invalid_query",
                format!("the query string is invalid: {}", e.body_text()),
            )),
        }
    }
}
