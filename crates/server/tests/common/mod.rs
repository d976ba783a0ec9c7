//! Test harness: one fresh server per test, on SQLite or on its own PostgreSQL schema.
#![allow(dead_code)]

pub mod s3;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use bytes::Bytes;
use encore_server::{AppState, Config, Registry};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `NAME_sqlite` and `NAME_postgres` tests that call `NAME(backend)`.
#[macro_export]
macro_rules! dual {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

pub fn pg_url() -> String {
    std::env::var("ENCORE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A server under test.
pub struct TestApp {
    pub state: AppState,
    pub app: Router,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pg_schema: Option<String>,
}

/// A logged-in browser: its cookies and CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::embedded(dir);
    c.argon2_memory_kib = 1024;
    c.db_max_connections = 4;
    c.job_backoff_base = std::time::Duration::from_millis(10);
    c.job_poll_interval = std::time::Duration::from_millis(20);
    // Whisper (a Python process per app) only where a test asks for it (tests/whisper.rs).
    c.lyrics_whisper = encore_server::LyricsWhisper::Off;
    c
}

impl TestApp {
    /// A fresh app, or `None` (with a SKIP line) when PostgreSQL is unreachable.
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with(backend, Registry::standard(), |_| {}).await
    }

    pub async fn with(
        backend: Backend,
        registry: Registry,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        let mut pg_schema = None;
        if backend == Backend::Postgres {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let url = create_schema(&schema).await?;
            config.database_url = url;
            config.fingerprint_pg_schema = format!("{schema}_fp");
            pg_schema = Some(schema);
        }
        tweak(&mut config);
        let state = AppState::open_with(config, registry).await.unwrap();
        Some(TestApp {
            app: encore_server::app(state.clone()),
            state,
            dir,
            backend,
            pg_schema,
        })
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        self.send_to(&self.app, req).await
    }

    /// Sends through another router (a second server on the same database).
    pub async fn send_to(&self, app: &Router, req: Request<Body>) -> Resp {
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, session: Option<&Session>) -> Resp {
        let mut req = Request::get(path);
        if let Some(s) = session {
            req = req.header(header::COOKIE, &s.cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn get_with(
        &self,
        path: &str,
        session: Option<&Session>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::get(path);
        if let Some(s) = session {
            req = req.header(header::COOKIE, &s.cookie);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        session: Option<&Session>,
        body: Value,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = session {
            req = req
                .header(header::COOKIE, &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn signup(&self, email: &str, role: &str) -> Session {
        let mut body = json!({"email": email, "password": "a long enough password", "role": role});
        if role == "creator" {
            body["name"] = json!(format!("Creator {email}"));
        }
        let r = self.json("POST", "/api/auth/signup", None, body).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{:?}",
            String::from_utf8_lossy(&r.body)
        );
        session_from(&r)
    }

    /// An account with any role, made through the library (as `encore admin create` does).
    pub async fn staff(&self, email: &str, role: encore_server::Role) -> Session {
        self.state
            .create_user(email, "a long enough password", role)
            .await
            .unwrap();
        let r = self
            .json(
                "POST",
                "/api/auth/login",
                None,
                json!({"email": email, "password": "a long enough password"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        session_from(&r)
    }

    pub async fn upload(&self, session: &Session, parts: &[Part<'_>]) -> Resp {
        self.upload_to(&self.app, session, parts).await
    }

    pub async fn upload_to(&self, app: &Router, session: &Session, parts: &[Part<'_>]) -> Resp {
        let boundary = "encoreboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for p in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match p {
                Part::Text(name, value) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                            .as_bytes(),
                    );
                    body.extend_from_slice(value.as_bytes());
                }
                Part::File(name, filename, bytes) => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                }
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::post("/api/works")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .body(Body::from(body))
            .unwrap();
        self.send_to(app, req).await
    }

    /// Uploads a generated WAV with the given title; returns the work id.
    pub async fn upload_work(
        &self,
        session: &Session,
        title: &str,
        lyrics: Option<&str>,
    ) -> String {
        // Distinct audio per creator and title, so that uploads by different creators do not
        // match each other's fingerprints (which would hold them for review).
        let wav = wav_tune(&format!("{}/{title}", session.user_id), 2.0, 44_100, 2);
        let mut parts = vec![
            Part::Text("title", title),
            Part::Text("artists", "Test Artist"),
            Part::Text("isrc", "GB-AYE-24-00001"),
            Part::Text("language", "en"),
            Part::File("audio", "song.wav", &wav),
        ];
        if let Some(l) = lyrics {
            parts.push(Part::Text("lyrics", l));
        }
        self.upload_created(session, &parts).await
    }

    /// Uploads `parts`, checks the work was created, and returns its id.
    pub async fn upload_created(&self, session: &Session, parts: &[Part<'_>]) -> String {
        let r = self.upload(session, parts).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{:?}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Runs queued jobs in this task until none is runnable.
    pub async fn drain_jobs(&self) {
        let worker = self.state.worker();
        while worker.run_one().await.unwrap() {}
    }

    /// Upload, process and publish.
    pub async fn published_work(
        &self,
        session: &Session,
        title: &str,
        lyrics: Option<&str>,
    ) -> String {
        let id = self.upload_work(session, title, lyrics).await;
        self.drain_jobs().await;
        let r = self
            .json(
                "POST",
                &format!("/api/works/{id}/publish"),
                Some(session),
                json!({}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&r.body)
        );
        id
    }

    /// Rows in a table (for "nothing changed" checks).
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(&self.state.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
    }

    /// Everything that identifies the stored state: row counts and blob keys.
    pub async fn snapshot(&self) -> (Vec<i64>, Vec<String>) {
        let mut counts = Vec::new();
        for t in [
            "users",
            "sessions",
            "api_keys",
            "creators",
            "works",
            "jobs",
            "step_results",
            "reviews",
            "plays",
            "releases",
        ] {
            counts.push(self.count(t).await);
        }
        let mut keys = self.state.blobs.list("").await.unwrap();
        keys.sort();
        (counts, keys)
    }

    pub async fn cleanup(self) {
        if let Some(schema) = &self.pg_schema {
            let _ = self.state.services.fingerprints.destroy().await;
            self.state.db.pool.close().await;
            drop_schema(schema).await;
        }
    }
}

pub enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

pub fn session_from(r: &Resp) -> Session {
    let mut cookies = Vec::new();
    for v in r.headers.get_all(header::SET_COOKIE) {
        let v = v.to_str().unwrap();
        cookies.push(v.split(';').next().unwrap().to_string());
    }
    let body = r.json();
    Session {
        cookie: cookies.join("; "),
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        user_id: body["user_id"].as_str().unwrap().to_string(),
    }
}

async fn admin_pool() -> Option<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    match sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&pg_url())
        .await
    {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!(
                "SKIP postgres test: PostgreSQL unreachable at {} ({e})",
                pg_url()
            );
            None
        }
    }
}

async fn create_schema(schema: &str) -> Option<String> {
    let pool = admin_pool().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

async fn drop_schema(schema: &str) {
    if let Some(pool) = admin_pool().await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// A WAV of clicks every 0.25 s over a quiet tone.
pub fn wav_clicks(seconds: f64, sr: u32, channels: usize) -> Vec<u8> {
    let frames = (seconds * f64::from(sr)) as usize;
    let mut samples = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f64 / f64::from(sr);
        let phase = (t * 4.0).fract();
        let click = if phase < 0.01 {
            0.8 * (1.0 - phase / 0.01)
        } else {
            0.0
        };
        let v = (0.05 * (std::f64::consts::TAU * 220.0 * t).sin()
            + click * (std::f64::consts::TAU * 2000.0 * t).sin()) as f32;
        for _ in 0..channels {
            samples.push(v);
        }
    }
    let buf = encore_audio::AudioBuffer::new(sr, channels, samples);
    let mut out = Vec::new();
    buf.write_wav_pcm16(&mut out).unwrap();
    out
}

/// Like [`wav_clicks`] (clicks every 0.25 s over a quiet tone), with the tone and the clicks'
/// pitch chosen by `seed`, so different seeds give audio whose fingerprints do not match.
pub fn wav_tune(seed: &str, seconds: f64, sr: u32, channels: usize) -> Vec<u8> {
    let h = seed.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    let tone = 150.0 + f64::from(h % 600);
    let click_hz = 700.0 * 2f64.powf(f64::from((h >> 10) % 60) / 24.0);
    let frames = (seconds * f64::from(sr)) as usize;
    let mut samples = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f64 / f64::from(sr);
        let phase = (t * 4.0).fract();
        let click = if phase < 0.01 {
            0.8 * (1.0 - phase / 0.01)
        } else {
            0.0
        };
        let v = (0.05 * (std::f64::consts::TAU * tone * t).sin()
            + click * (std::f64::consts::TAU * click_hz * t).sin()) as f32;
        for _ in 0..channels {
            samples.push(v);
        }
    }
    let buf = encore_audio::AudioBuffer::new(sr, channels, samples);
    let mut out = Vec::new();
    buf.write_wav_pcm16(&mut out).unwrap();
    out
}

/// Twelve seconds of a pseudo-random melody (a new tone every 0.15 s, with harmonics and a
/// click on each note), stereo 44.1 kHz, as a 16-bit WAV.
pub fn melody_wav(seed: u32) -> Vec<u8> {
    let sr = 44_100u32;
    let note = (sr as f64 * 0.15) as usize;
    let frames = 12 * sr as usize;
    let mut state = seed;
    let mut freq = 440.0f64;
    let mut phase = 0.0f64;
    let mut samples = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        if i % note == 0 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            freq = 180.0 + f64::from(state >> 21);
        }
        phase += std::f64::consts::TAU * freq / f64::from(sr);
        let k = (i % note) as f64 / f64::from(sr);
        let env = (-k * 6.0).exp();
        let v = env * (0.4 * phase.sin() + 0.15 * (2.0 * phase).sin() + 0.08 * (3.0 * phase).sin());
        let v = v as f32;
        samples.push(v);
        samples.push(v * 0.9);
    }
    let buf = encore_audio::AudioBuffer::new(sr, 2, samples);
    let mut out = Vec::new();
    buf.write_wav_pcm16(&mut out).unwrap();
    out
}

/// A registry with only the analyse step (tests add fakes for later steps).
pub fn analyse_only() -> Registry {
    let mut r = Registry::default();
    r.register(Arc::new(encore_server::pipeline::AnalyseStep))
        .unwrap();
    r
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
