//! The server's test suite. Every test runs twice: on SQLite and on PostgreSQL (its own schema).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Backend, Part, TestApp, wav_clicks};
use encore_server::{Registry, Role, Step, StepContext, StepError, StepOutput};
use serde_json::{Value, json};
use sqlx::Row;

dual!(
    accounts_and_sessions,
    csrf_is_required_for_cookie_writes,
    api_keys_authenticate_and_are_hashed,
    login_is_rate_limited,
    upload_process_publish_search_stream,
    transcodes_are_made_and_cached,
    others_never_see_unpublished_works,
    admin_routes_refuse_others,
    malformed_input_changes_nothing,
    sql_metacharacters_are_plain_data,
    path_traversal_is_refused,
    a_match_holds_the_upload_for_review,
    failing_steps_retry_with_backoff_then_fail,
    expired_leases_are_taken_over_once,
    concurrent_workers_complete_each_job_once,
    openapi_documents_every_route,
    migrations_refuse_downgrade,
    creator_profiles_and_demographics,
    releases_and_pagination,
    secure_cookies_behind_tls,
    care_mode_is_an_account_preference,
    web_app_is_served,
);

async fn accounts_and_sessions(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let r = t
        .json(
            "POST",
            "/api/auth/signup",
            None,
            json!({"email": "Ann@Example.org", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let cookies: Vec<_> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("encore_session="))
        .unwrap();
    assert!(
        session_cookie.contains("HttpOnly")
            && session_cookie.contains("SameSite=Lax")
            && session_cookie.contains("Path=/")
    );
    assert!(!session_cookie.contains("Secure"));
    let s = common::session_from(&r);
    let me = t.get("/api/me", Some(&s)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "ann@example.org");
    assert_eq!(me.json()["role"], "listener");
    // The password is stored as an argon2id PHC string.
    let phc: String = sqlx::query("SELECT password_hash FROM users")
        .fetch_one(&t.state.db.pool)
        .await
        .unwrap()
        .try_get("password_hash")
        .unwrap();
    assert!(phc.starts_with("$argon2id$"));

    let dup = t
        .json(
            "POST",
            "/api/auth/signup",
            None,
            json!({"email": "ann@example.org", "password": "another long password"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code().as_str()),
        (StatusCode::CONFLICT, "email_taken")
    );
    let weak = t
        .json(
            "POST",
            "/api/auth/signup",
            None,
            json!({"email": "b@example.org", "password": "short"}),
        )
        .await;
    assert_eq!(
        (weak.status, weak.code().as_str()),
        (StatusCode::BAD_REQUEST, "weak_password")
    );
    let admin = t
        .json("POST", "/api/auth/signup", None, json!({"email": "c@example.org", "password": "a long enough password", "role": "admin"}))
        .await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let wrong = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "ann@example.org", "password": "not the password"}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let unknown = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "nobody@example.org", "password": "not the password"}),
        )
        .await;
    assert_eq!(
        unknown.body, wrong.body,
        "unknown accounts look like wrong passwords"
    );
    let ok = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "ANN@example.org", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    let out = t
        .json("POST", "/api/auth/logout", Some(&s), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = t.get("/api/me", Some(&s)).await;
    assert_eq!(
        (me.status, me.code().as_str()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    t.cleanup().await;
}

async fn csrf_is_required_for_cookie_writes(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let before = t.count("api_keys").await;
    let send = |extra: Vec<(&'static str, String)>| {
        let mut req = Request::post("/api/me/api-keys")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, &s.cookie)
            .header(header::HOST, "music.example");
        for (k, v) in extra {
            req = req.header(k, v);
        }
        req.body(Body::from(r#"{"name":"k"}"#)).unwrap()
    };
    let none = t.send(send(vec![])).await;
    assert_eq!(
        (none.status, none.code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let wrong = t.send(send(vec![("x-csrf-token", "0".repeat(32))])).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let evil = t
        .send(send(vec![("origin", "https://evil.example".into())]))
        .await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.count("api_keys").await,
        before,
        "refused requests wrote nothing"
    );
    let same_origin = t
        .send(send(vec![("origin", "https://music.example".into())]))
        .await;
    assert_eq!(same_origin.status, StatusCode::CREATED);
    let good = t.send(send(vec![("x-csrf-token", s.csrf.clone())])).await;
    assert_eq!(good.status, StatusCode::CREATED);
    t.cleanup().await;
}

async fn api_keys_authenticate_and_are_hashed(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let r = t
        .json(
            "POST",
            "/api/me/api-keys",
            Some(&s),
            json!({"name": "uploader"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let key = r.json()["key"].as_str().unwrap().to_string();
    let key_id = r.json()["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("enc_"));
    let bearer = |path: &str, method: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let me = t.send(bearer("/api/me", "GET", "")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "c@example.org");
    // Programs need no CSRF token.
    let profile = t
        .send(bearer("/api/me/creator", "PUT", r#"{"name":"Via key"}"#))
        .await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    // Nothing stores the key itself.
    let rows = sqlx::query("SELECT key_hash, prefix FROM api_keys")
        .fetch_all(&t.state.db.pool)
        .await
        .unwrap();
    for row in rows {
        let hash: String = row.try_get("key_hash").unwrap();
        assert_ne!(hash, key);
        assert!(!key.is_empty() && !hash.contains(&key[8..]));
    }
    let list = t.get("/api/me/api-keys", Some(&s)).await;
    assert!(!String::from_utf8_lossy(&list.body).contains(&key));
    let del = t
        .json(
            "DELETE",
            &format!("/api/me/api-keys/{key_id}"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let me = t.send(bearer("/api/me", "GET", "")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let forged = t
        .send(
            Request::get("/api/me")
                .header(header::AUTHORIZATION, "Bearer enc_0000_forged")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    t.cleanup().await;
}

async fn login_is_rate_limited(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    t.signup("l@example.org", "listener").await;
    for _ in 0..5 {
        let r = t
            .json(
                "POST",
                "/api/auth/login",
                None,
                json!({"email": "l@example.org", "password": "wrong password!"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "l@example.org", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    // Other accounts are unaffected.
    t.signup("m@example.org", "listener").await;
    let r = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "m@example.org", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    t.cleanup().await;
}

const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0A, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

async fn upload_process_publish_search_stream(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let creator = t.signup("c@example.org", "creator").await;
    let listener = t.signup("l@example.org", "listener").await;
    let wav = wav_clicks(2.0, 44_100, 2);
    let lrc = "[ti:Night]\n[00:00.50]Starlight over the harbour\n[00:01.50]Quiet tide\n";
    let r = t
        .upload(
            &creator,
            &[
                Part::Text("title", "Night Harbour"),
                Part::Text("artists", "Ada Lovelace"),
                Part::Text("artists", "Grace Hopper"),
                Part::Text("album", "Tides"),
                Part::Text("isrc", "gb-aye-24-00001"),
                Part::Text("language", "en"),
                Part::Text("genre", "ambient"),
                Part::Text("explicit", "false"),
                Part::Text("lyrics", lrc),
                Part::File("cover", "cover.png", PNG_1X1),
                Part::File("audio", "night.wav", &wav),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let work = r.json();
    let id = work["id"].as_str().unwrap().to_string();
    assert_eq!(work["status"], "processing");
    assert_eq!(work["isrc"], "GBAYE2400001");
    assert_eq!(work["artists"], json!(["Ada Lovelace", "Grace Hopper"]));
    assert_eq!(work["lyrics_format"], "lrc");
    assert_eq!(work["audio"]["content_type"], "audio/wav");
    assert_eq!(work["audio"]["size"], wav.len());
    assert_eq!(work["jobs"][0]["step"], "analyse");
    assert_eq!(work["jobs"][0]["status"], "queued");

    // Before processing the work cannot be published, and listeners cannot see it.
    let early = t
        .json(
            "POST",
            &format!("/api/works/{id}/publish"),
            Some(&creator),
            json!({}),
        )
        .await;
    assert_eq!(
        (early.status, early.code().as_str()),
        (StatusCode::CONFLICT, "not_ready")
    );
    assert_eq!(
        t.get(&format!("/api/works/{id}"), Some(&listener))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    t.drain_jobs().await;
    let jobs = t
        .get(&format!("/api/works/{id}/jobs"), Some(&creator))
        .await
        .json();
    assert_eq!(jobs["status"], "ready");
    let job = &jobs["jobs"][0];
    assert_eq!(
        (job["status"].as_str(), job["attempts"].as_i64()),
        (Some("done"), Some(1))
    );
    assert!(job["duration_ms"].as_i64().unwrap() >= 0);
    assert!(
        job["code_version"]
            .as_str()
            .unwrap()
            .starts_with("analyse/2")
    );
    let analysis = t
        .get(&format!("/api/works/{id}/analysis"), Some(&creator))
        .await
        .json();
    let a = &analysis["analyse"]["result"];
    assert!(
        (a["duration_s"].as_f64().unwrap() - 2.0).abs() < 0.01,
        "{a}"
    );
    assert_eq!(
        (a["sample_rate"].as_i64(), a["channels"].as_i64()),
        (Some(44_100), Some(2))
    );
    let onsets = a["onsets_s"].as_array().unwrap();
    assert!(
        (6..=9).contains(&onsets.len()),
        "clicks every 0.25 s: {onsets:?}"
    );
    let w = t
        .get(&format!("/api/works/{id}"), Some(&creator))
        .await
        .json();
    assert!((w["audio"]["duration_s"].as_f64().unwrap() - 2.0).abs() < 0.01);

    let r = t
        .json(
            "POST",
            &format!("/api/works/{id}/publish"),
            Some(&creator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["published"], true);
    assert_eq!(
        t.get(&format!("/api/works/{id}"), None).await.status,
        StatusCode::OK
    );

    for q in [
        "harbour",
        "HARB",
        "lovelace",
        "hopper",
        "starlight",
        "tide",
        "tides",
    ] {
        let r = t
            .get(&format!("/api/search?q={q}"), Some(&listener))
            .await
            .json();
        assert_eq!(r["total"], 1, "search {q}: {r}");
        assert_eq!(r["items"][0]["id"], id.as_str());
    }
    let r = t.get("/api/search?q=nothing%20matches", None).await.json();
    assert_eq!(r["total"], 0);

    let lyrics = t.get(&format!("/api/works/{id}/lyrics"), None).await.json();
    assert_eq!(lyrics["text"], "Starlight over the harbour\nQuiet tide");
    let cover = t.get(&format!("/api/works/{id}/cover"), None).await;
    assert_eq!(
        (
            cover.status,
            cover.headers[header::CONTENT_TYPE].to_str().unwrap()
        ),
        (StatusCode::OK, "image/png")
    );
    assert_eq!(&cover.body[..], PNG_1X1);

    // Range requests on the original.
    let path = format!("/api/works/{id}/stream");
    let len = wav.len();
    let full = t.get(&path, None).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(&full.body[..], &wav[..]);
    assert_eq!(full.headers[header::ACCEPT_RANGES], "bytes");
    let etag = full.headers[header::ETAG].to_str().unwrap().to_string();
    type Case<'a> = (&'a str, StatusCode, Option<(usize, usize)>);
    let cases: &[Case] = &[
        ("bytes=0-99", StatusCode::PARTIAL_CONTENT, Some((0, 100))),
        ("bytes=100-", StatusCode::PARTIAL_CONTENT, Some((100, len))),
        (
            "bytes=-10",
            StatusCode::PARTIAL_CONTENT,
            Some((len - 10, len)),
        ),
        ("bytes=5-5", StatusCode::PARTIAL_CONTENT, Some((5, 6))),
        (
            "bytes=0-99999999999",
            StatusCode::PARTIAL_CONTENT,
            Some((0, len)),
        ),
        ("bytes=0-1,4-5", StatusCode::OK, None),
        ("bytes=9-3", StatusCode::OK, None),
        ("furlongs=0-1", StatusCode::OK, None),
    ];
    for (range, status, expect) in cases {
        let r = t.get_with(&path, None, &[("range", range)]).await;
        assert_eq!(r.status, *status, "{range}");
        match expect {
            Some((s, e)) => {
                assert_eq!(&r.body[..], &wav[*s..*e], "{range}");
                assert_eq!(
                    r.headers[header::CONTENT_RANGE].to_str().unwrap(),
                    format!("bytes {s}-{}/{len}", e - 1)
                );
                assert_eq!(
                    r.headers[header::CONTENT_LENGTH].to_str().unwrap(),
                    (e - s).to_string()
                );
            }
            None => assert_eq!(r.body.len(), len, "{range}"),
        }
    }
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 10, len + 20),
        "bytes=-0".into(),
    ] {
        let r = t.get_with(&path, None, &[("range", &range)]).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            r.headers[header::CONTENT_RANGE].to_str().unwrap(),
            format!("bytes */{len}")
        );
        assert_eq!(r.code(), "range_not_satisfiable");
    }
    let r = t
        .get_with(&path, None, &[("range", "bytes=0-9"), ("if-range", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let r = t
        .get_with(
            &path,
            None,
            &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Play events.
    let play = t
        .json(
            "POST",
            "/api/plays",
            Some(&listener),
            json!({"work_id": id, "listened_ms": 1500}),
        )
        .await;
    assert_eq!(play.status, StatusCode::CREATED);
    let anon = t
        .json(
            "POST",
            "/api/plays",
            None,
            json!({"work_id": id, "listened_ms": 2000, "format": "opus"}),
        )
        .await;
    assert_eq!(anon.status, StatusCode::CREATED);
    let absurd = t
        .json(
            "POST",
            "/api/plays",
            None,
            json!({"work_id": id, "listened_ms": 3_600_000}),
        )
        .await;
    assert_eq!(absurd.status, StatusCode::BAD_REQUEST);
    let row =
        sqlx::query("SELECT COUNT(*) AS n, CAST(SUM(listened_ms) AS BIGINT) AS ms FROM plays")
            .fetch_one(&t.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (
            row.try_get::<i64, _>("n").unwrap(),
            row.try_get::<i64, _>("ms").unwrap()
        ),
        (2, 3500)
    );
    t.cleanup().await;
}

async fn transcodes_are_made_and_cached(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let creator = t.signup("c@example.org", "creator").await;
    let id = t.published_work(&creator, "Transcode me", None).await;
    let opus = t
        .get(&format!("/api/works/{id}/stream/opus?bitrate=64"), None)
        .await;
    assert_eq!(
        opus.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&opus.body)
    );
    assert_eq!(opus.headers[header::CONTENT_TYPE], "audio/ogg");
    assert!(opus.body.starts_with(b"OggS"));
    let decoded = encore_audio::decode_bytes(opus.body.to_vec(), Some("opus")).unwrap();
    assert!(
        (decoded.duration_s() - 2.0).abs() < 0.1,
        "{}",
        decoded.duration_s()
    );
    // The second request is served from the cache: same bytes, one derived object.
    let again = t
        .get_with(
            &format!("/api/works/{id}/stream/opus?bitrate=64"),
            None,
            &[("range", "bytes=0-3")],
        )
        .await;
    assert_eq!(again.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&again.body[..], b"OggS");
    let cached = t.state.blobs.list(&format!("derived/{id}")).await.unwrap();
    assert_eq!(
        cached
            .iter()
            .filter(|k| k.contains("stream-opus-64"))
            .count(),
        1,
        "{cached:?}"
    );
    let mp3 = t
        .get(&format!("/api/works/{id}/stream/mp3?bitrate=128"), None)
        .await;
    assert_eq!(
        (
            mp3.status,
            mp3.headers[header::CONTENT_TYPE].to_str().unwrap()
        ),
        (StatusCode::OK, "audio/mpeg")
    );
    assert!(
        (encore_audio::decode_bytes(mp3.body.to_vec(), Some("mp3"))
            .unwrap()
            .duration_s()
            - 2.0)
            .abs()
            < 0.15
    );
    let aac = t.get(&format!("/api/works/{id}/stream/aac"), None).await;
    assert_eq!(aac.status, StatusCode::OK);
    assert_eq!(
        (aac.body[0], aac.body[1] & 0xF6),
        (0xFF, 0xF0),
        "ADTS sync word"
    );
    let bad = t
        .get(&format!("/api/works/{id}/stream/opus?bitrate=7"), None)
        .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_bitrate")
    );
    let bad = t.get(&format!("/api/works/{id}/stream/wma"), None).await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_format")
    );
    t.cleanup().await;
}

async fn others_never_see_unpublished_works(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let a = t.signup("a@example.org", "creator").await;
    let other = t.signup("b@example.org", "creator").await;
    let listener = t.signup("l@example.org", "listener").await;
    let reviewer = t.staff("r@example.org", Role::Reviewer).await;
    let id = t.upload_work(&a, "Secret demo", Some("hidden words")).await;
    t.drain_jobs().await;
    let before = t.snapshot().await;
    for who in [Some(&other), Some(&listener), None] {
        for path in [
            format!("/api/works/{id}"),
            format!("/api/works/{id}/stream"),
            format!("/api/works/{id}/lyrics"),
            format!("/api/works/{id}/stream/opus"),
        ] {
            let r = t.get(&path, who).await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{path}"
            );
        }
        for q in ["/api/works", "/api/search?q=secret", "/api/search?q=hidden"] {
            let r = t.get(q, who).await.json();
            assert_eq!(r["total"], 0, "{q}");
        }
    }
    for path in [
        format!("/api/works/{id}/jobs"),
        format!("/api/works/{id}/analysis"),
    ] {
        assert_eq!(
            t.get(&path, Some(&other)).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = t
        .json(
            "PATCH",
            &format!("/api/works/{id}"),
            Some(&other),
            json!({"title": "Stolen"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .json(
            "POST",
            &format!("/api/works/{id}/publish"),
            Some(&other),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .json(
            "POST",
            "/api/plays",
            Some(&listener),
            json!({"work_id": id, "listened_ms": 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .json(
            "POST",
            "/api/releases",
            Some(&other),
            json!({"title": "Mine", "kind": "single", "work_ids": [id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.snapshot().await, before, "nothing changed");
    // The owner and reviewers see it.
    assert_eq!(
        t.get(&format!("/api/works/{id}"), Some(&a)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.get(&format!("/api/works/{id}"), Some(&reviewer))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(t.get("/api/works", Some(&a)).await.json()["total"], 1);
    // Once published others see it but still cannot change it.
    t.json(
        "POST",
        &format!("/api/works/{id}/publish"),
        Some(&a),
        json!({}),
    )
    .await;
    assert_eq!(
        t.get(&format!("/api/works/{id}"), Some(&listener))
            .await
            .status,
        StatusCode::OK
    );
    let r = t
        .json(
            "PATCH",
            &format!("/api/works/{id}"),
            Some(&other),
            json!({"title": "Stolen"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let r = t
        .json(
            "PATCH",
            &format!("/api/works/{id}"),
            Some(&listener),
            json!({"title": "Stolen"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.get(&format!("/api/works/{id}"), None).await.json()["title"],
        "Secret demo"
    );
    let r = t
        .json(
            "PATCH",
            &format!("/api/works/{id}"),
            Some(&a),
            json!({"title": "Public demo", "explicit": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.json()["title"].as_str(), r.json()["explicit"].as_bool()),
        (Some("Public demo"), Some(true))
    );
    t.cleanup().await;
}

async fn admin_routes_refuse_others(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let listener = t.signup("l@example.org", "listener").await;
    let creator = t.signup("c@example.org", "creator").await;
    let reviewer = t.staff("r@example.org", Role::Reviewer).await;
    let admin = t.staff("a@example.org", Role::Admin).await;
    for path in [
        "/api/admin/users",
        "/api/admin/demographics",
        "/api/admin/jobs",
    ] {
        assert_eq!(
            t.get(path, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        for who in [&listener, &creator, &reviewer] {
            let r = t.get(path, Some(who)).await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{path}"
            );
        }
        assert_eq!(
            t.get(path, Some(&admin)).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    for who in [&listener, &creator] {
        assert_eq!(
            t.get("/api/reviews", Some(who)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        t.get("/api/reviews", Some(&reviewer)).await.status,
        StatusCode::OK
    );
    let path = format!("/api/admin/users/{}/role", listener.user_id);
    for who in [&listener, &creator, &reviewer] {
        let r = t
            .json("PUT", &path, Some(who), json!({"role": "admin"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        t.get("/api/me", Some(&listener)).await.json()["role"],
        "listener"
    );
    let r = t
        .json("PUT", &path, Some(&admin), json!({"role": "creator"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        t.get("/api/me", Some(&listener)).await.json()["role"],
        "creator"
    );
    let users = t.get("/api/admin/users", Some(&admin)).await.json();
    assert_eq!(users["items"].as_array().unwrap().len(), 4);
    t.cleanup().await;
}

async fn malformed_input_changes_nothing(b: Backend) {
    let Some(t) = TestApp::with(b, Registry::standard(), |c| c.max_upload_bytes = 200_000).await
    else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let before = t.snapshot().await;
    let raw = |method: &str, path: &str, ctype: Option<&str>, body: Vec<u8>| {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &s.cookie)
            .header("x-csrf-token", &s.csrf);
        if let Some(c) = ctype {
            req = req.header(header::CONTENT_TYPE, c);
        }
        req.body(Body::from(body)).unwrap()
    };
    let json_cases: Vec<(Option<&str>, Vec<u8>, StatusCode, &str)> = vec![
        (
            Some("application/json"),
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            b"[1,2,3]".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            b"{\"name\": 5}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            b"{\"name\": \"k\", \"admin\": true}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            vec![0xFF, 0xFE, 0x00],
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("text/plain"),
            b"{\"name\": \"k\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            None,
            b"{\"name\": \"k\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("application/json"),
            format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
    ];
    for (ctype, body, status, code) in json_cases {
        let r = t.send(raw("POST", "/api/me/api-keys", ctype, body)).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{ctype:?}");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let wav = wav_clicks(1.0, 22_050, 1);
    let big = wav_clicks(6.0, 22_050, 1);
    let text_as_audio = b"this is not audio at all, just words".repeat(100);
    let mut truncated = wav.clone();
    truncated.truncate(30); // cut inside the WAV header
    let upload_cases: Vec<(Vec<Part>, StatusCode, &str)> = vec![
        (
            vec![Part::Text("title", "x"), Part::Text("artists", "y")],
            StatusCode::BAD_REQUEST,
            "missing_audio",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("audio", "a.wav", &text_as_audio),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "undecodable_audio",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("audio", "a.wav", &truncated),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "undecodable_audio",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("audio", "a.wav", b""),
            ],
            StatusCode::BAD_REQUEST,
            "empty_audio",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("audio", "a.wav", &big),
            ],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::Text("isrc", "XX-123"),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_isrc",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::Text("language", "english"),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_language",
        ),
        (
            vec![
                Part::Text("title", " "),
                Part::Text("artists", "y"),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            vec![Part::Text("title", "x"), Part::File("audio", "a.wav", &wav)],
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::Text("owner", "admin"),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("cover", "c.png", b"GIF89a...."),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_cover",
        ),
        (
            vec![
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::Text("explicit", "maybe"),
                Part::File("audio", "a.wav", &wav),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
    ];
    for (i, (parts, status, code)) in upload_cases.into_iter().enumerate() {
        let r = t.upload(&s, &parts).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "case {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let r = t
        .send(raw(
            "POST",
            "/api/works",
            Some("application/json"),
            b"{}".to_vec(),
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_multipart")
    );
    let r = t
        .send(raw(
            "POST",
            "/api/works",
            Some("multipart/form-data; boundary=XYZ"),
            b"--XYZ\r\ngarbage without headers".to_vec(),
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_multipart")
    );
    let r = t.get("/api/works?page=0", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_page")
    );
    let r = t.get("/api/works?per_page=abc", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    assert_eq!(t.snapshot().await, before, "no row and no blob was written");
    let leftovers: Vec<_> = std::fs::read_dir(&t.state.config.scratch_dir)
        .unwrap()
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files are removed: {leftovers:?}"
    );
    t.cleanup().await;
}

async fn sql_metacharacters_are_plain_data(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let nasty = "Robert'); DROP TABLE works; -- %_\\ \"quoted\" $1 ?";
    let id = t
        .published_work(&s, nasty, Some("it's ok; SELECT * FROM users"))
        .await;
    let w = t.get(&format!("/api/works/{id}"), None).await.json();
    assert_eq!(w["title"], nasty);
    for q in [
        "robert",
        "'; DROP TABLE works; --",
        "\" OR 1=1 --",
        "NEAR(a b) AND * OR",
        "%_%",
        "title:robert",
        "select users",
    ] {
        let r = t
            .get(&format!("/api/search?q={}", urlencode(q)), None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{q}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(t.get("/api/search?q=robert", None).await.json()["total"], 1);
    assert_eq!(
        t.get(&format!("/api/works/{}", urlencode("x' OR '1'='1")), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = t
        .json(
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "c@example.org' OR '1'='1", "password": "x' OR '1'='1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.count("works").await, 1);
    assert_eq!(t.count("users").await, 1);
    t.cleanup().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn path_traversal_is_refused(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    // A client file name never becomes a storage path.
    let wav = wav_clicks(1.0, 22_050, 1);
    let r = t
        .upload(
            &s,
            &[
                Part::Text("title", "x"),
                Part::Text("artists", "y"),
                Part::File("audio", "../../../../tmp/evil.wav", &wav),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_string();
    t.drain_jobs().await;
    let keys = t.state.blobs.list("").await.unwrap();
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("originals/{id}/"))
                || k.starts_with(&format!("derived/{id}/"))
                || k.starts_with("registry/")),
        "{keys:?}"
    );
    let before = t.snapshot().await;
    for path in [
        "/api/works/..%2F..%2F..%2Fetc%2Fpasswd/stream",
        "/api/works/%2e%2e%2f%2e%2e%2fencore.db/stream",
        "/api/works/..%5C..%5Cencore.db/cover",
        "/api/works/originals%2Fx%2Faudio/stream",
    ] {
        let r = t.get(path, Some(&s)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path}"
        );
    }
    for format in ["..", "..%2F..%2Fencore.db", "opus%2F..%2F.."] {
        let r = t
            .get(&format!("/api/works/{id}/stream/{format}"), Some(&s))
            .await;
        assert!(
            matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{format}: {}",
            r.status
        );
    }
    let r = t.get("/api/../../etc/passwd", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.snapshot().await, before);
    t.cleanup().await;
}

/// Stands in for the fingerprint step: holds works whose title says they copy someone.
struct FakeMatch;

#[async_trait]
impl Step for FakeMatch {
    fn name(&self) -> &'static str {
        "fingerprint"
    }
    fn version(&self) -> &'static str {
        "fake/1"
    }
    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }
    async fn run(&self, ctx: &StepContext) -> Result<StepOutput, StepError> {
        assert!(
            ctx.inputs.contains_key("analyse"),
            "runs after analyse with its result"
        );
        let pcm = ctx.mono_pcm().await?;
        assert!(!pcm.is_empty(), "the decoded analysis PCM is shared");
        let title: String = sqlx::query("SELECT title FROM works WHERE id = $1")
            .bind(&ctx.work_id)
            .fetch_one(&ctx.db.pool)
            .await
            .map_err(|e| StepError::Transient(e.into()))?
            .try_get("title")
            .map_err(|e| StepError::Transient(e.into()))?;
        let mut out = StepOutput::done(json!({"matches": title.contains("copy") as u8}));
        if title.contains("copy") {
            out.hold = Some(encore_server::pipeline::Hold {
                reason: "fingerprint_match".into(),
                details: json!({"work_id": "someone-else", "score": 0.97}),
            });
        }
        Ok(out)
    }
}

async fn a_match_holds_the_upload_for_review(b: Backend) {
    let mut registry = common::analyse_only();
    registry.register(Arc::new(FakeMatch)).unwrap();
    let Some(t) = TestApp::with(b, registry, |_| {}).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let reviewer = t.staff("r@example.org", Role::Reviewer).await;
    let held = t.upload_work(&s, "A copy of a hit", None).await;
    let clean = t.upload_work(&s, "Original", None).await;
    let rejected = t.upload_work(&s, "Another copy", None).await;
    t.drain_jobs().await;
    let jobs = t
        .get(&format!("/api/works/{held}/jobs"), Some(&s))
        .await
        .json();
    assert_eq!(jobs["status"], "held");
    assert_eq!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["step"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["analyse", "fingerprint"]
    );
    assert_eq!(
        t.get(&format!("/api/works/{clean}"), Some(&s)).await.json()["status"],
        "ready"
    );
    let r = t
        .json(
            "POST",
            &format!("/api/works/{held}/publish"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "held_for_review")
    );
    let reviews = t.get("/api/reviews", Some(&reviewer)).await.json();
    let items = reviews["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let find = |work: &str| {
        items.iter().find(|i| i["work_id"] == work).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(items[0]["reason"], "fingerprint_match");
    assert_eq!(items[0]["details"]["score"], 0.97);
    // Creators cannot decide their own reviews.
    let r = t
        .json(
            "POST",
            &format!("/api/reviews/{}/decision", find(&held)),
            Some(&s),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .json(
            "POST",
            &format!("/api/reviews/{}/decision", find(&held)),
            Some(&reviewer),
            json!({"approve": true, "note": "licensed"}),
        )
        .await;
    assert_eq!(r.json()["work_status"], "ready");
    let r = t
        .json(
            "POST",
            &format!("/api/reviews/{}/decision", find(&rejected)),
            Some(&reviewer),
            json!({"approve": false}),
        )
        .await;
    assert_eq!(r.json()["work_status"], "rejected");
    let r = t
        .json(
            "POST",
            &format!("/api/reviews/{}/decision", find(&rejected)),
            Some(&reviewer),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "a decided review cannot be decided again"
    );
    assert_eq!(
        t.json(
            "POST",
            &format!("/api/works/{held}/publish"),
            Some(&s),
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = t
        .json(
            "POST",
            &format!("/api/works/{rejected}/publish"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "rejected")
    );
    t.cleanup().await;
}

/// Fails transiently `fail_times` times, then succeeds; or always fails permanently.
struct Flaky {
    calls: Arc<AtomicUsize>,
    fail_times: usize,
    permanent: bool,
}

#[async_trait]
impl Step for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn version(&self) -> &'static str {
        "flaky/1"
    }
    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }
    async fn run(&self, _: &StepContext) -> Result<StepOutput, StepError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.permanent {
            return Err(StepError::Permanent("the input can never work".into()));
        }
        if n < self.fail_times {
            return Err(StepError::Transient(anyhow::anyhow!("storage hiccup {n}")));
        }
        Ok(StepOutput::done(json!({"calls": n + 1})))
    }
}

async fn failing_steps_retry_with_backoff_then_fail(b: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut registry = common::analyse_only();
    registry
        .register(Arc::new(Flaky {
            calls: calls.clone(),
            fail_times: 2,
            permanent: false,
        }))
        .unwrap();
    let Some(t) = TestApp::with(b, registry, |c| c.job_max_attempts = 5).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let id = t.upload_work(&s, "Flaky", None).await;
    let worker = t.state.worker();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        worker.run_one().await.unwrap();
        let jobs = t
            .get(&format!("/api/works/{id}/jobs"), Some(&s))
            .await
            .json();
        if jobs["status"] == "ready" {
            let flaky = &jobs["jobs"][1];
            assert_eq!(
                (flaky["status"].as_str(), flaky["attempts"].as_i64()),
                (Some("done"), Some(3))
            );
            assert!(flaky["error"].is_null());
            break;
        }
        let flaky = &jobs["jobs"][1];
        if flaky["status"] == "queued" && flaky["attempts"].as_i64() > Some(0) {
            // A retry waits: backoff doubles from 10 ms.
            assert!(
                flaky["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("storage hiccup")
            );
        }
        assert!(std::time::Instant::now() < deadline, "{jobs}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    t.cleanup().await;

    let calls = Arc::new(AtomicUsize::new(0));
    let mut registry = common::analyse_only();
    registry
        .register(Arc::new(Flaky {
            calls: calls.clone(),
            fail_times: 0,
            permanent: true,
        }))
        .unwrap();
    let Some(t) = TestApp::with(b, registry, |_| {}).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let id = t.upload_work(&s, "Doomed", None).await;
    t.drain_jobs().await;
    let jobs = t
        .get(&format!("/api/works/{id}/jobs"), Some(&s))
        .await
        .json();
    assert_eq!(jobs["status"], "failed");
    assert_eq!(
        (
            jobs["jobs"][1]["status"].as_str(),
            jobs["jobs"][1]["attempts"].as_i64()
        ),
        (Some("failed"), Some(1))
    );
    assert_eq!(jobs["jobs"][1]["error"], "the input can never work");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "permanent errors are not retried"
    );
    let r = t
        .json(
            "POST",
            &format!("/api/works/{id}/publish"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "processing_failed");
    t.cleanup().await;
}

async fn expired_leases_are_taken_over_once(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let id = t.upload_work(&s, "Lease", None).await;
    let q = &t.state.queue;
    let now = encore_server::now_ms();
    let a = q.claim("worker-a", now).await.unwrap().expect("a job");
    assert_eq!(a.work_id, id);
    assert!(
        q.claim("worker-b", now).await.unwrap().is_none(),
        "a leased job is not handed out twice"
    );
    // Worker A stalls past its lease; B takes the job over.
    let later = now + t.state.config.job_lease.as_millis() as i64 + 1;
    let b_job = q
        .claim("worker-b", later)
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!((b_job.id.as_str(), b_job.attempts), (a.id.as_str(), 2));
    assert!(
        !q.heartbeat(&a, "worker-a", later).await.unwrap(),
        "A learns it lost the lease"
    );
    let out = StepOutput::done(json!({"by": "b"}));
    assert!(
        q.complete(&b_job, "worker-b", "v", &out, later, later + 5)
            .await
            .unwrap()
    );
    let late = StepOutput::done(json!({"by": "a"}));
    assert!(
        !q.complete(&a, "worker-a", "v", &late, now, later + 10)
            .await
            .unwrap(),
        "A's late result is discarded"
    );
    assert!(
        !q.fail(&a, "worker-a", "boom", false, now, later + 10)
            .await
            .unwrap()
    );
    let row = sqlx::query("SELECT completions, status FROM jobs WHERE id = $1")
        .bind(&a.id)
        .fetch_one(&t.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        (
            row.try_get::<i64, _>("completions").unwrap(),
            row.try_get::<String, _>("status").unwrap().as_str()
        ),
        (1, "done")
    );
    let result: String = sqlx::query("SELECT result FROM step_results")
        .fetch_one(&t.state.db.pool)
        .await
        .unwrap()
        .try_get("result")
        .unwrap();
    assert_eq!(result, r#"{"by":"b"}"#);
    t.cleanup().await;
}

async fn concurrent_workers_complete_each_job_once(b: Backend) {
    let mut registry = common::analyse_only();
    registry.register(Arc::new(FakeMatch)).unwrap();
    let Some(t) = TestApp::with(b, registry, |_| {}).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(t.upload_work(&s, &format!("Work {i}"), None).await);
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let w = t.state.worker();
        tasks.push(tokio::spawn(async move {
            let mut idle = 0;
            while idle < 20 {
                if w.run_one().await.unwrap() {
                    idle = 0;
                } else {
                    idle += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = sqlx::query("SELECT status, completions, attempts FROM jobs")
        .fetch_all(&t.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 12);
    for r in rows {
        assert_eq!(r.try_get::<String, _>("status").unwrap(), "done");
        assert_eq!(r.try_get::<i64, _>("completions").unwrap(), 1);
        assert_eq!(r.try_get::<i64, _>("attempts").unwrap(), 1);
    }
    assert_eq!(t.count("step_results").await, 12);
    t.cleanup().await;
}

async fn openapi_documents_every_route(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let doc = t.get("/api/openapi.json", None).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut n = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            n += 1;
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
            let uri = path
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{format}", "opus");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let r = t.send(req).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let code = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .map(|v| v["error"]["code"].clone());
            assert_ne!(
                code,
                Some(json!("no_route")),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert!(n >= 35, "{n} operations");
    let r = t.get("/api/nope", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let r = t
        .send(Request::delete("/api/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert_eq!(encore_server::openapi_document(&t.state), doc);
    t.cleanup().await;
}

async fn migrations_refuse_downgrade(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let health = t.get("/api/health", None).await.json();
    assert_eq!(health["schema_version"], encore_server::SCHEMA_VERSION);
    // Reopening a migrated database is a no-op.
    let config = (*t.state.config).clone();
    let again = encore_server::AppState::open(config.clone()).await.unwrap();
    assert_eq!(
        t.count("schema_version").await,
        encore_server::SCHEMA_VERSION
    );
    again.db.pool.close().await;
    sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (999, 0)")
        .execute(&t.state.db.pool)
        .await
        .unwrap();
    let err = encore_server::AppState::open(config).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("999") && msg.contains("refusing to downgrade"),
        "{msg}"
    );
    t.cleanup().await;
}

async fn creator_profiles_and_demographics(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let admin = t.staff("a@example.org", Role::Admin).await;
    let mut creators = Vec::new();
    for i in 0..7 {
        let s = t.signup(&format!("c{i}@example.org"), "creator").await;
        let body = json!({
            "name": format!("Artist {i}"), "bio": "Makes music", "links": ["https://example.org/a"],
            "gender": if i < 6 { "female" } else { "male" }, "birth_year": 1990 + i, "demographics_consent": true,
        });
        let r = t.json("PUT", "/api/me/creator", Some(&s), body).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        creators.push((s, r.json()["creator"]["id"].as_str().unwrap().to_string()));
    }
    // Withdrawing consent erases the values.
    let (s0, id0) = &creators[0];
    let r = t
        .json(
            "PUT",
            "/api/me/creator",
            Some(s0),
            json!({"name": "Artist 0", "gender": "female", "birth_year": 1990}),
        )
        .await;
    let me = r.json();
    assert!(
        me["creator"]["gender"].is_null()
            && me["creator"]["birth_year"].is_null()
            && me["creator"]["demographics_consent_at"].is_null()
    );
    // Public profiles never show demographics.
    let public = t.get(&format!("/api/creators/{id0}"), None).await.json();
    assert_eq!(public["name"], "Artist 0");
    assert!(public.get("gender").is_none() && public.get("birth_year").is_none());
    let list = t.get("/api/creators", None).await;
    assert!(!String::from_utf8_lossy(&list.body).contains("female"));
    let d = t.get("/api/admin/demographics", Some(&admin)).await.json();
    assert_eq!(d["consenting_creators"], 6);
    assert_eq!(d["by_gender"]["female"], 5, "{d}");
    assert_eq!(d["by_gender"]["male"], "<5", "small cells are suppressed");
    assert_eq!(d["by_birth_decade"]["1990s"], 6);
    let bad = t
        .json(
            "PUT",
            "/api/me/creator",
            Some(s0),
            json!({"name": "A", "links": ["javascript:alert(1)"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = t
        .json(
            "PUT",
            "/api/me/creator",
            Some(s0),
            json!({"name": "A", "birth_year": 1700, "demographics_consent": true}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let listener = t.signup("l@example.org", "listener").await;
    assert_eq!(
        t.json(
            "PUT",
            "/api/me/creator",
            Some(&listener),
            json!({"name": "L"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    t.cleanup().await;
}

async fn releases_and_pagination(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = t.upload_work(&s, &format!("Track {i}"), None).await;
        ids.push(id);
    }
    t.drain_jobs().await;
    let r = t
        .json(
            "POST",
            "/api/releases",
            Some(&s),
            json!({"title": "EP", "kind": "ep", "work_ids": ids[..3]}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let rid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        t.get(&format!("/api/releases/{rid}"), None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = t
        .json(
            "POST",
            &format!("/api/releases/{rid}/publish"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let release = t.get(&format!("/api/releases/{rid}"), None).await.json();
    let titles: Vec<_> = release["works"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["Track 0", "Track 1", "Track 2"]);
    assert_eq!(t.get("/api/releases", None).await.json()["total"], 1);
    // Pages of the public catalogue: 3 published works, 2 per page.
    let p1 = t.get("/api/works?per_page=2&page=1", None).await.json();
    let p2 = t.get("/api/works?per_page=2&page=2", None).await.json();
    assert_eq!(
        (p1["total"].as_i64(), p1["items"].as_array().unwrap().len()),
        (Some(3), 2)
    );
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    let mut seen: Vec<_> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|w| w["id"].clone())
        .collect();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // The creator sees all five of their works.
    assert_eq!(
        t.get("/api/works?per_page=100", Some(&s)).await.json()["total"],
        5
    );
    let r = t.get("/api/works?per_page=101", None).await;
    assert_eq!(r.code(), "invalid_page");
    t.cleanup().await;
}

/// Sleeps, so that a worker can be killed in the middle of it.
struct Slow;

#[async_trait]
impl Step for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn version(&self) -> &'static str {
        "slow/1"
    }
    fn after(&self) -> &'static [&'static str] {
        &["analyse"]
    }
    async fn run(&self, _: &StepContext) -> Result<StepOutput, StepError> {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        Ok(StepOutput::done(json!({"slept_ms": 400})))
    }
}

fn slow_registry() -> Registry {
    let mut registry = common::analyse_only();
    registry.register(Arc::new(Slow)).unwrap();
    registry
}

/// Two servers and two workers share one database and blob store (each with its own pool, as
/// separate processes would); one worker is killed mid-job; every job still completes exactly once.
async fn scale_out_survives_a_killed_worker(b: Backend) {
    let tweak =
        |c: &mut encore_server::Config| c.job_lease = std::time::Duration::from_millis(1500);
    let Some(t) = TestApp::with(b, slow_registry(), tweak).await else {
        return;
    };
    let config = (*t.state.config).clone();
    let server_b = encore_server::AppState::open_with(config.clone(), slow_registry())
        .await
        .unwrap();
    let app_b = encore_server::app(server_b.clone());
    let s = t.signup("c@example.org", "creator").await;
    let wav = wav_clicks(1.0, 22_050, 1);
    let mut ids = Vec::new();
    for i in 0..8 {
        let title = format!("Scale {i}");
        let parts = [
            Part::Text("title", &title),
            Part::Text("artists", "A"),
            Part::File("audio", "a.wav", &wav),
        ];
        // Alternate between the two servers; the session is shared through the database.
        let app = if i % 2 == 0 { &t.app } else { &app_b };
        let r = t.upload_to(app, &s, &parts).await;
        assert_eq!(r.status, StatusCode::CREATED);
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let w1_state = encore_server::AppState::open_with(config.clone(), slow_registry())
        .await
        .unwrap();
    let w2_state = encore_server::AppState::open_with(config, slow_registry())
        .await
        .unwrap();
    let w1 = w1_state.worker();
    let w1_id = w1.id.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let h1 = tokio::spawn(w1.run(stop.clone()));
    // Kill worker 1 as soon as it is in the middle of a slow step.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let running = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE step = 'slow' AND status = 'running' AND lease_owner = $1")
            .bind(&w1_id)
            .fetch_one(&t.state.db.pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap();
        if running > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker 1 never started a slow job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    h1.abort();
    let _ = h1.await;
    let h2 = tokio::spawn(w2_state.worker().run(stop.clone()));
    let h3 = tokio::spawn(w2_state.worker().run(stop.clone()));
    loop {
        let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status <> 'done'")
            .fetch_one(&t.state.db.pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} jobs never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
    h2.await.unwrap();
    h3.await.unwrap();
    let rows = sqlx::query("SELECT completions, attempts, step FROM jobs")
        .fetch_all(&t.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 16);
    let mut retried = 0;
    for r in &rows {
        assert_eq!(
            r.try_get::<i64, _>("completions").unwrap(),
            1,
            "every job completes exactly once"
        );
        retried += usize::from(r.try_get::<i64, _>("attempts").unwrap() > 1);
    }
    assert_eq!(retried, 1, "only the killed worker's job ran twice");
    assert_eq!(t.count("step_results").await, 16);
    for id in &ids {
        let w = t.get(&format!("/api/works/{id}"), Some(&s)).await.json();
        assert_eq!(w["status"], "ready", "{w}");
    }
    for st in [w1_state, w2_state, server_b] {
        st.db.pool.close().await;
    }
    t.cleanup().await;
}

mod scale_out {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::scale_out_survives_a_killed_worker(super::common::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::scale_out_survives_a_killed_worker(super::common::Backend::Postgres).await;
    }
}

async fn secure_cookies_behind_tls(b: Backend) {
    let Some(t) = TestApp::with(b, Registry::standard(), |c| c.secure_cookies = true).await else {
        return;
    };
    let r = t
        .json(
            "POST",
            "/api/auth/signup",
            None,
            json!({"email": "s@example.org", "password": "a long enough password"}),
        )
        .await;
    let cookies: Vec<_> = r.headers.get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(cookies.len(), 2);
    for c in cookies {
        assert!(c.to_str().unwrap().ends_with("; Secure"), "{c:?}");
    }
    t.cleanup().await;
}

async fn care_mode_is_an_account_preference(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let ann = t.signup("ann@example.org", "listener").await;
    let bob = t.signup("bob@example.org", "listener").await;
    assert_eq!(
        t.get("/api/me", Some(&ann)).await.json()["care_mode"],
        false
    );
    // Cookie writes need the CSRF token; anonymous callers are refused.
    let req = Request::patch("/api/me")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, &ann.cookie)
        .body(Body::from(r#"{"care_mode":true}"#))
        .unwrap();
    assert_eq!(t.send(req).await.status, StatusCode::FORBIDDEN);
    let anon = t
        .json("PATCH", "/api/me", None, json!({"care_mode": true}))
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    for bad in [
        json!({"care_mode": "yes"}),
        json!({"care": true}),
        json!("care_mode"),
    ] {
        let r = t.json("PATCH", "/api/me", Some(&ann), bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        t.get("/api/me", Some(&ann)).await.json()["care_mode"],
        false
    );
    let r = t
        .json("PATCH", "/api/me", Some(&ann), json!({"care_mode": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["care_mode"], true);
    assert_eq!(r.json()["email"], "ann@example.org");
    assert_eq!(t.get("/api/me", Some(&ann)).await.json()["care_mode"], true);
    assert_eq!(
        t.get("/api/me", Some(&bob)).await.json()["care_mode"],
        false
    );
    // An empty patch changes nothing; switching off is remembered too.
    let r = t.json("PATCH", "/api/me", Some(&ann), json!({})).await;
    assert_eq!(r.json()["care_mode"], true);
    let r = t
        .json("PATCH", "/api/me", Some(&ann), json!({"care_mode": false}))
        .await;
    assert_eq!(r.json()["care_mode"], false);
    t.cleanup().await;
}

async fn web_app_is_served(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let page = t.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let header_of = |r: &common::Resp, h: header::HeaderName| {
        r.headers
            .get(h)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        header_of(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        header_of(&page, header::CONTENT_SECURITY_POLICY),
        encore_server::CSP
    );
    assert!(!encore_server::CSP.contains("unsafe"));
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    assert_eq!(header_of(&page, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    // Every page URL outside /api answers the app, which routes on the client.
    for path in [
        "/search?q=x",
        "/works/123",
        "/studio/works/abc",
        "/admin",
        "/no/such/page",
    ] {
        let r = t.get(path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body, page.body, "{path}");
    }
    // Assets: content types, immutable under the build prefix, ETag revalidation.
    let start = html.find("/assets/").unwrap();
    let prefix = &html[start..start + "/assets/".len() + 17];
    assert!(prefix.ends_with('/'), "{prefix}");
    for (file, ty) in [
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = t.get(&format!("{prefix}{file}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{file}");
        assert_eq!(header_of(&r, header::CONTENT_TYPE), ty);
        assert_eq!(
            header_of(&r, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        let etag = header_of(&r, header::ETAG);
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
        let again = t
            .get_with(
                &format!("{prefix}{file}"),
                None,
                &[("if-none-match", etag.as_str())],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
    }
    // Another build's prefix still answers, but is not cached as immutable.
    let old = t.get("/assets/0000000000000000/js/app.js", None).await;
    assert_eq!(
        (old.status, header_of(&old, header::CACHE_CONTROL).as_str()),
        (StatusCode::OK, "no-cache")
    );
    for missing in [
        format!("{prefix}js/nope.js"),
        format!("{prefix}index.html"),
        format!("{prefix}../Cargo.toml"),
        "/assets/".to_string(),
    ] {
        let r = t.get(&missing, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
    }
    // The API keeps its JSON errors; pages answer GET and HEAD only.
    let r = t.get("/api/nope", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let r = t
        .send(Request::post("/studio").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = t
        .send(Request::head("/account").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    t.cleanup().await;
}
