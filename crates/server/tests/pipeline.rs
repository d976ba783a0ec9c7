//! The engine steps end to end: upload real audio, run every step, fetch what they made.
//! Every test runs on SQLite and on PostgreSQL (its own schema).

mod common;

use axum::http::{StatusCode, header};
use common::{Backend, Part, Session, TestApp, melody_wav};
use encore_server::Role;
use serde_json::{Value, json};
use sqlx::Row;

dual!(
    every_step_runs_and_its_output_is_served,
    lrc_lines_after_the_audio_end_are_counted,
    the_same_audio_from_another_creator_is_held,
    simultaneous_uploads_of_the_same_audio_hold_exactly_one,
    added_steps_are_backfilled,
    orphaned_blobs_are_swept,
);

const LRC: &str = "[00:00.50]la la la la\n[00:04.00]na na na na\n[00:08.00]la na la na\n";

async fn upload(t: &TestApp, s: &Session, title: &str, wav: &[u8], lyrics: Option<&str>) -> String {
    let mut parts = vec![
        Part::Text("title", title),
        Part::Text("artists", "Test Artist"),
        Part::Text("language", "en"),
        Part::File("audio", "melody.wav", wav),
    ];
    if let Some(l) = lyrics {
        parts.push(Part::Text("lyrics", l));
    }
    t.upload_created(s, &parts).await
}

async fn jobs(t: &TestApp, s: &Session, id: &str) -> Value {
    let r = t.get(&format!("/api/works/{id}/jobs"), Some(s)).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

fn statuses(jobs: &Value) -> Vec<(String, String)> {
    jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["step"].as_str().unwrap().to_string(),
                j["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn every_step_runs_and_its_output_is_served(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let other = t.signup("o@example.org", "creator").await;
    let wav = melody_wav(1);
    let id = upload(&t, &s, "Melody", &wav, Some(LRC)).await;
    // Before any step ran: not ready.
    let r = t
        .get(&format!("/api/works/{id}/haptics/ahap"), Some(&s))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_ready")
    );
    let r = t.get(&format!("/api/works/{id}/lyrics"), Some(&s)).await;
    assert_eq!(r.json()["aligned"], Value::Null);
    t.drain_jobs().await;
    let j = jobs(&t, &s, &id).await;
    assert_eq!(j["status"], "ready", "{j}");
    let mut steps = statuses(&j);
    steps.sort();
    assert_eq!(
        steps,
        ["analyse", "fingerprint", "haptics", "lyrics", "register"]
            .map(|s| (s.to_string(), "done".to_string()))
    );
    for job in j["jobs"].as_array().unwrap() {
        let version = job["code_version"].as_str().unwrap();
        let step = job["step"].as_str().unwrap();
        assert!(
            version.starts_with(&format!("{step}/")) && version.contains(" encore-server "),
            "{job}"
        );
    }

    // Haptics in every format, as downloads with the right type; each parses back.
    for (format, ext) in [
        ("ahap", "ahap"),
        ("android", "json"),
        ("lofelt", "haptic"),
        ("web", "json"),
    ] {
        let r = t
            .get(&format!("/api/works/{id}/haptics/{format}"), Some(&s))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{format}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
        let cd = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            cd.starts_with("attachment;") && cd.ends_with(&format!(".{ext}\"")),
            "{cd}"
        );
        match format {
            "ahap" => {
                encore_haptics::parse_ahap(&r.body).unwrap();
            }
            "android" => {
                encore_haptics::parse_android(&r.body).unwrap();
            }
            "lofelt" => {
                let track = encore_haptics::parse_lofelt(&r.body).unwrap();
                assert!(track.transients().count() >= 10, "a note every 0.15 s");
            }
            _ => {
                encore_haptics::parse_web(&r.body).unwrap();
            }
        }
    }
    let r = t
        .get(&format!("/api/works/{id}/haptics/midi"), Some(&s))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_format")
    );

    // Visualisation: the encore visualize --json shape.
    let r = t
        .get(&format!("/api/works/{id}/visualization"), Some(&s))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert!(
        (v["duration_s"].as_f64().unwrap() - 12.0).abs() < 0.1,
        "{}",
        v["duration_s"]
    );
    assert!(!v["bands"].as_array().unwrap().is_empty());
    assert!(!v["peaks"].as_array().unwrap().is_empty());

    // Lyrics: the stored fields plus the alignment (refine mode: the LRC has line times).
    let r = t.get(&format!("/api/works/{id}/lyrics"), Some(&s)).await;
    let l = r.json();
    assert_eq!(l["format"], "lrc");
    let lines = l["aligned"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["text"], "na na na na");
    for line in lines {
        let words = line["words"].as_array().unwrap();
        assert_eq!(words.len(), 4);
        let mut last = 0.0;
        for w in words {
            let (start, end) = (w["start_s"].as_f64().unwrap(), w["end_s"].as_f64().unwrap());
            assert!(start >= last - 1e-9 && end >= start && end <= 12.5, "{w}");
            assert!(w["confidence"].is_number());
            last = start;
        }
    }
    assert!(
        (lines[1]["start_s"].as_f64().unwrap() - 4.0).abs() < 0.5,
        "refine keeps the given line times: {}",
        lines[1]
    );
    // The lyrics front end had the side signal of the stereo original, at the mid's rate.
    let blob = |name: &str| format!("derived/{id}/{name}");
    let mid = t
        .state
        .blobs
        .get_bytes(&blob(encore_server::pipeline::MONO_PCM))
        .await
        .unwrap();
    let side = t
        .state
        .blobs
        .get_bytes(&blob(encore_server::pipeline::SIDE_PCM))
        .await
        .unwrap();
    assert_eq!(side.len(), mid.len());
    let analysis = t
        .get(&format!("/api/works/{id}/analysis"), Some(&s))
        .await
        .json();
    assert_eq!(analysis["lyrics"]["result"]["mode"], "refine");
    assert_eq!(analysis["lyrics"]["result"]["lines_after_end"], 0);
    // The platform aligns with the model `encore lyrics align` ships, not the untrained one,
    // plus (refine mode) Debian's Sphinx phones when they are installed, as the CLI does.
    let shipped = encore_lyrics::HybridModel::default_model()
        .unwrap()
        .header
        .name;
    let model = analysis["lyrics"]["result"]["model"].as_str().unwrap();
    if encore_lyrics::SphinxModel::installed().is_some() {
        assert!(model.starts_with(&format!("{shipped}+sphinx")), "{model}");
    } else {
        assert_eq!(model, shipped);
    }

    // Matches: none (the catalogue was empty).
    let r = t.get(&format!("/api/works/{id}/matches"), Some(&s)).await;
    assert_eq!(r.json(), json!({"matches": []}));
    assert_eq!(analysis["fingerprint"]["result"]["indexed"], true);

    // The certificate verifies against the log's key, for this very file.
    let key = t.get("/api/registry/key", None).await.json();
    let vkey = key["vkey"].as_str().unwrap().to_string();
    let r = t
        .get(&format!("/api/works/{id}/certificate"), Some(&s))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let cert = encore_registry::TlogProof::parse(&r.body).unwrap();
    let policy = encore_registry::Policy {
        log: encore_registry::NoteVerifier::parse(&vkey).unwrap(),
        witnesses: vec![],
        quorum: 0,
    };
    let ok = encore_registry::verify_certificate(&cert, &policy).unwrap();
    assert_eq!(ok.statement.claim.title, "Melody");
    assert!(ok.statement.claim.lyrics_sha256.is_some());
    let audio = t.dir.path().join("melody.wav");
    std::fs::write(&audio, &wav).unwrap();
    let digests = encore_registry::digest_audio_file(&audio).unwrap();
    assert_eq!(
        encore_registry::match_audio(&ok.statement, &digests),
        encore_registry::AudioMatch::Exact
    );
    assert_eq!(
        ok.statement.claim.content_digest, digests.content,
        "the content digest made from the analysis PCM equals the one of a fresh decode"
    );
    // The statement commits to the identity without containing it.
    assert!(!String::from_utf8_lossy(&r.body).contains("c@example.org"));
    // A tampered certificate fails.
    let mut bad = r.body.to_vec();
    let n = bad.len();
    bad[n / 2] ^= 1;
    assert!(
        encore_registry::TlogProof::parse(&bad)
            .and_then(|c| encore_registry::verify_certificate(&c, &policy))
            .is_err()
    );
    // A CLI check with the real binary lives in crates/cli/tests/serve.rs.

    // Owner-only reads: others get 404 while it is unpublished, 403 once they can see it.
    for path in [
        "matches",
        "certificate",
        "haptics/ahap",
        "visualization",
        "lyrics",
    ] {
        let r = t
            .get(&format!("/api/works/{id}/{path}"), Some(&other))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let r = t.get(&format!("/api/works/{id}/{path}"), None).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED),
            "{path}"
        );
    }
    let r = t
        .json(
            "POST",
            &format!("/api/works/{id}/publish"),
            Some(&s),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for path in ["haptics/web", "visualization", "lyrics"] {
        let r = t.get(&format!("/api/works/{id}/{path}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path} is public once published");
    }
    for path in ["matches", "certificate"] {
        let r = t
            .get(&format!("/api/works/{id}/{path}"), Some(&other))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }

    // Re-running every step (as after a lost lease) changes nothing: same registry index, no
    // second fingerprint entry.
    let before = analysis["register"]["result"]["index"].clone();
    sqlx::query(
        "UPDATE jobs SET status = 'queued', run_after = 0 WHERE work_id = $1 AND step <> 'analyse'",
    )
    .bind(&id)
    .execute(&t.state.db.pool)
    .await
    .unwrap();
    t.drain_jobs().await;
    let again = t
        .get(&format!("/api/works/{id}/analysis"), Some(&s))
        .await
        .json();
    assert_eq!(again["register"]["result"]["index"], before);
    assert_eq!(
        again["fingerprint"]["result"]["store_id"],
        analysis["fingerprint"]["result"]["store_id"]
    );
    let store = t.state.services.fingerprints.store().await.unwrap();
    let stats = tokio::task::spawn_blocking(move || store.stats().unwrap())
        .await
        .unwrap();
    assert_eq!(stats.works, 1);
    t.cleanup().await;
}

async fn lrc_lines_after_the_audio_end_are_counted(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("late@example.org", "creator").await;
    // A 12 s song whose LRC has two lines past its end (another recording's, or a bad offset).
    let lrc = format!("{LRC}[02:00.00]far too late\n[03:00.00]later still\n");
    let id = upload(&t, &s, "Late", &melody_wav(3), Some(&lrc)).await;
    t.drain_jobs().await;
    let analysis = t
        .get(&format!("/api/works/{id}/analysis"), Some(&s))
        .await
        .json();
    let result = &analysis["lyrics"]["result"];
    assert_eq!(result["aligned"], true, "{result}");
    assert_eq!(result["lines_after_end"], 2, "{result}");
    let l = t
        .get(&format!("/api/works/{id}/lyrics"), Some(&s))
        .await
        .json();
    assert_eq!(l["aligned"]["lines"].as_array().map(Vec::len), Some(5));
}

async fn the_same_audio_from_another_creator_is_held(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let first = t.signup("first@example.org", "creator").await;
    let second = t.signup("second@example.org", "creator").await;
    let reviewer = t.staff("r@example.org", Role::Reviewer).await;
    let wav = melody_wav(7);
    let original = upload(&t, &first, "Original", &wav, None).await;
    t.drain_jobs().await;
    // The same creator uploading it again is not held.
    let again = upload(&t, &first, "Original (again)", &wav, None).await;
    t.drain_jobs().await;
    assert_eq!(jobs(&t, &first, &again).await["status"], "ready");
    let r = t
        .get(&format!("/api/works/{again}/matches"), Some(&first))
        .await
        .json();
    assert_eq!(r["matches"][0]["work_id"], original.as_str());

    let copy = upload(&t, &second, "My song", &wav, None).await;
    t.drain_jobs().await;
    let j = jobs(&t, &second, &copy).await;
    assert_eq!(j["status"], "held", "{j}");
    // Later steps wait for the review.
    let st = statuses(&j);
    assert!(
        st.contains(&("fingerprint".into(), "done".into())),
        "{st:?}"
    );
    assert!(st.contains(&("register".into(), "queued".into())), "{st:?}");
    let reviews = t.get("/api/reviews", Some(&reviewer)).await.json();
    let items = reviews["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{reviews}");
    assert_eq!(items[0]["work_id"], copy.as_str());
    assert_eq!(items[0]["reason"], "fingerprint_match");
    let details = &items[0]["details"]["matches"];
    let matched: Vec<&str> = details
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["work_id"].as_str().unwrap())
        .collect();
    assert!(matched.contains(&original.as_str()), "{details}");
    assert!(matched.contains(&again.as_str()), "{details}");
    // The reviewer sees who was matched; the uploader does not learn the other creator's
    // unpublished titles.
    let m = t
        .get(&format!("/api/works/{copy}/matches"), Some(&reviewer))
        .await
        .json();
    let ms = m["matches"].as_array().unwrap();
    assert_eq!(ms.len(), 2, "{m}");
    let hit = ms
        .iter()
        .find(|x| x["work_id"] == original.as_str())
        .unwrap();
    assert_eq!(hit["title"], "Original");
    assert_eq!(hit["creator"]["name"], "Creator first@example.org");
    assert!(hit["score"].as_f64().unwrap() >= 1.0);
    assert!(hit["offset_s"].as_f64().unwrap().abs() < 0.1);
    let m = t
        .get(&format!("/api/works/{copy}/matches"), Some(&second))
        .await
        .json();
    assert!(
        m["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["title"].is_null()),
        "{m}"
    );
    let r = t
        .json(
            "POST",
            &format!("/api/works/{copy}/publish"),
            Some(&second),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "held_for_review");
    // Approval lets the remaining steps run.
    let r = t
        .json(
            "POST",
            &format!("/api/reviews/{}/decision", items[0]["id"].as_str().unwrap()),
            Some(&reviewer),
            json!({"approve": true, "note": "licensed"}),
        )
        .await;
    assert_eq!(r.json()["work_status"], "processing");
    t.drain_jobs().await;
    assert_eq!(jobs(&t, &second, &copy).await["status"], "ready");
    t.cleanup().await;
}

async fn added_steps_are_backfilled(b: Backend) {
    // Works uploaded while only the analyse step existed.
    let Some(t) = TestApp::with(b, common::analyse_only(), |_| {}).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let a = t.upload_work(&s, "Old one", Some("la la la")).await;
    let bb = t.upload_work(&s, "Old two", None).await;
    t.drain_jobs().await;
    assert_eq!(t.count("jobs").await, 2);
    // The same data opened with every standard step (a newer binary).
    let config = (*t.state.config).clone();
    let newer = encore_server::AppState::open(config).await.unwrap();
    let app = encore_server::app(newer.clone());
    let r = newer.backfill(false).await.unwrap();
    let mut created = r.created.clone();
    created.sort();
    assert_eq!(
        created,
        ["fingerprint", "haptics", "lyrics", "register"].map(|s| (s.to_string(), 2u64))
    );
    assert!(r.requeued.is_empty());
    // Ready works stay ready (and publishable) while their new outputs are made.
    assert_eq!(
        t.get(&format!("/api/works/{a}"), Some(&s)).await.json()["status"],
        "ready"
    );
    let worker = newer.worker();
    while worker.run_one().await.unwrap() {}
    for id in [&a, &bb] {
        let r = t
            .send_to(
                &app,
                axum::http::Request::get(format!("/api/works/{id}/haptics/web"))
                    .header(header::COOKIE, &s.cookie)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(t.count("jobs").await, 10);
    assert_eq!(t.count("step_results").await, 10);
    // Nothing more to do; then one result from older code is redone with --outdated.
    assert_eq!(newer.backfill(true).await.unwrap(), Default::default());
    sqlx::query("UPDATE step_results SET code_version = 'haptics/0' WHERE work_id = $1 AND step = 'haptics'")
        .bind(&a)
        .execute(&t.state.db.pool)
        .await
        .unwrap();
    assert_eq!(newer.backfill(false).await.unwrap(), Default::default());
    let r = newer.backfill(true).await.unwrap();
    assert_eq!(r.requeued, vec![("haptics".to_string(), 1)]);
    while worker.run_one().await.unwrap() {}
    let v: String = sqlx::query(
        "SELECT code_version FROM step_results WHERE work_id = $1 AND step = 'haptics'",
    )
    .bind(&a)
    .fetch_one(&t.state.db.pool)
    .await
    .unwrap()
    .try_get("code_version")
    .unwrap();
    assert!(v.starts_with("haptics/1"), "{v}");
    newer.db.pool.close().await;
    drop(app);
    drop(worker);
    drop(newer);
    t.cleanup().await;
}

async fn orphaned_blobs_are_swept(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let id = t.upload_work(&s, "Kept", None).await;
    t.drain_jobs().await;
    let ghost = "00000000-0000-4000-8000-000000000000";
    for key in [
        format!("originals/{ghost}/audio"),
        format!("derived/{ghost}/mono-22050.f32le"),
    ] {
        t.state
            .blobs
            .put_bytes(&key, bytes::Bytes::from_static(b"left behind"))
            .await
            .unwrap();
    }
    let before = t.state.blobs.list("").await.unwrap().len();
    // Young blobs are never swept (an upload may be in progress).
    let r = t
        .state
        .sweep(true, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(r.orphans.is_empty(), "{r:?}");
    // Dry run: listed, not deleted.
    let r = t
        .state
        .sweep(false, std::time::Duration::ZERO)
        .await
        .unwrap();
    let mut keys: Vec<&str> = r.orphans.iter().map(|o| o.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("derived/{ghost}/mono-22050.f32le"),
            format!("originals/{ghost}/audio")
        ]
    );
    assert_eq!(r.orphan_bytes, 22);
    assert!(!r.deleted);
    assert_eq!(t.state.blobs.list("").await.unwrap().len(), before);
    let r = t
        .state
        .sweep(true, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(r.orphans.len(), 2);
    let left = t.state.blobs.list("").await.unwrap();
    assert_eq!(left.len(), before - 2);
    assert!(left.iter().all(|k| !k.contains(ghost)));
    assert!(
        left.iter()
            .any(|k| k.starts_with(&format!("originals/{id}/")))
    );
    assert!(left.iter().any(|k| k.starts_with("registry/")));
    t.cleanup().await;
}

/// Two creators upload the same audio at once and two workers process both concurrently:
/// whatever the interleaving of their fingerprint steps, exactly one upload is held (the one
/// indexed second), never none.
async fn simultaneous_uploads_of_the_same_audio_hold_exactly_one(b: Backend) {
    let Some(t) = TestApp::new(b).await else {
        return;
    };
    for round in 0..3u32 {
        let a = t.signup(&format!("a{round}@example.org"), "creator").await;
        let c = t.signup(&format!("c{round}@example.org"), "creator").await;
        let wav = melody_wav(40 + round);
        let first = upload(&t, &a, "Song", &wav, None).await;
        let second = upload(&t, &c, "Song", &wav, None).await;
        let drain = || async {
            let worker = t.state.worker();
            while worker.run_one().await.unwrap() {}
        };
        tokio::join!(drain(), drain());
        t.drain_jobs().await;
        let sa = jobs(&t, &a, &first).await["status"].clone();
        let sc = jobs(&t, &c, &second).await["status"].clone();
        let held = [&sa, &sc].iter().filter(|s| **s == "held").count();
        assert_eq!(held, 1, "round {round}: {sa} and {sc}");
        assert!(
            sa == "ready" || sc == "ready",
            "round {round}: {sa} and {sc}"
        );
    }
    t.cleanup().await;
}
