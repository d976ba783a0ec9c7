//! The web app: static files embedded in the binary, served with their content types, strong
//! ETags, long-lived caching under a content-hashed prefix, a strict Content-Security-Policy,
//! and the single-page-app fallback (every page URL outside `/api` and `/assets` answers
//! `index.html`; the client-side router draws the page).
//!
//! Assets live under `crates/server/web/` and are plain HTML, CSS and ES modules with no build
//! step. They are served at `/assets/<build>/<path>`, where `<build>` is a hash over every
//! asset, so they can be cached as immutable; `index.html` is revalidated on every load and
//! names the current build. A request for another build's prefix gets the current file with
//! `no-cache` (a page loaded just before an upgrade keeps working).

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// One embedded file.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }),*]
    };
}

/// Every file of the web app (a test checks the list matches the directory).
const ASSETS: &[Asset] = assets![
    "index.html",
    "app.css",
    "icon.svg",
    "js/api.js",
    "js/app.js",
    "js/care.js",
    "js/dom.js",
    "js/haptics.js",
    "js/lyrics.js",
    "js/player.js",
    "js/viz.js",
    "js/pages/account.js",
    "js/pages/admin.js",
    "js/pages/auth.js",
    "js/pages/browse.js",
    "js/pages/nowplaying.js",
    "js/pages/studio.js",
];

/// The Content-Security-Policy of every page and asset: only this origin's scripts, styles,
/// images, media and API; no inline script or style, no framing, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// A file ready to serve.
struct Served {
    path: &'static str,
    body: Vec<u8>,
    etag: String,
    content_type: &'static str,
}

/// The files with their hashes, and the build id (hash over all of them).
struct Bundle {
    files: Vec<Served>,
    build: String,
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let mut all = Sha256::new();
    for a in ASSETS {
        all.update(a.path.as_bytes());
        all.update([0]);
        all.update(Sha256::digest(a.bytes));
    }
    let build = crate::auth::hex(&all.finalize()[..8]);
    let files = ASSETS
        .iter()
        .map(|a| {
            let body = if a.path == "index.html" {
                // The page names the current build so its asset URLs are immutable.
                String::from_utf8_lossy(a.bytes)
                    .replace("/assets/BUILD/", &format!("/assets/{build}/"))
                    .into_bytes()
            } else {
                a.bytes.to_vec()
            };
            let etag = format!("\"{}\"", crate::auth::hex(&Sha256::digest(&body)[..12]));
            Served {
                path: a.path,
                content_type: content_type(a.path),
                body,
                etag,
            }
        })
        .collect();
    Bundle { files, build }
});

/// The content type for a file name.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The build id the page's asset URLs carry.
pub fn build_id() -> &'static str {
    &BUNDLE.build
}

fn find(path: &str) -> Option<&'static Served> {
    BUNDLE.files.iter().find(|f| f.path == path)
}

/// Headers every web response carries.
fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
}

/// Does `If-None-Match` name this ETag (or `*`)?
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn respond(file: &'static Served, headers: &HeaderMap, cache: &'static str) -> Response {
    // HEAD responses keep the body here; hyper drops it on the wire and keeps the length.
    let mut response = if not_modified(headers, &file.etag) {
        (StatusCode::NOT_MODIFIED, Body::empty()).into_response()
    } else {
        (StatusCode::OK, Body::from(file.body.as_slice())).into_response()
    };
    let h = response.headers_mut();
    security_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Answers every request no API route matched: `/api/...` gets the API's JSON 404, `/assets/...`
/// the embedded file, and any other GET or HEAD the app's page.
pub(crate) async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return AppError::bad_status(StatusCode::NOT_FOUND, "no_route", "no such route")
            .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return AppError::bad_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "pages answer GET and HEAD only",
        )
        .into_response();
    }
    if let Some(rest) = path.strip_prefix("/assets/") {
        let (build, file) = rest.split_once('/').unwrap_or(("", rest));
        return match find(file).filter(|f| f.path != "index.html") {
            Some(f) if build == build_id() => {
                respond(f, &headers, "public, max-age=31536000, immutable")
            }
            Some(f) => respond(f, &headers, "no-cache"),
            None => AppError::NotFound.into_response(),
        };
    }
    if (path == "/favicon.ico" || path == "/favicon.svg")
        && let Some(f) = find("icon.svg")
    {
        return respond(f, &headers, "public, max-age=86400");
    }
    match find("index.html") {
        Some(f) => respond(f, &headers, "no-cache"),
        None => AppError::NotFound.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_web_directory_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    found.push(
                        p.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn types_etags_and_build() {
        assert_eq!(build_id().len(), 16);
        let index = find("index.html").unwrap();
        let html = String::from_utf8_lossy(&index.body);
        assert!(html.contains(&format!("/assets/{}/app.css", build_id())));
        assert!(!html.contains("/assets/BUILD/"));
        assert_eq!(
            find("js/app.js").unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
        let mut etags: Vec<_> = BUNDLE.files.iter().map(|f| f.etag.clone()).collect();
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), BUNDLE.files.len());
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, "\"x\", W/\"y\"".parse().unwrap());
        assert!(not_modified(&h, "\"y\""));
        assert!(!not_modified(&h, "\"z\""));
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        // The CSP forbids them; a page that used them would break silently in browsers.
        for f in &BUNDLE.files {
            if f.path.ends_with(".html") {
                let html = String::from_utf8_lossy(&f.body);
                assert!(!html.contains("<style"), "{}", f.path);
                assert!(!html.contains(" style="), "{}", f.path);
                for tag in html.split("<script").skip(1) {
                    assert!(tag.contains(" src="), "inline script in {}", f.path);
                }
            }
        }
    }
}
