//! The S3 blob backend against a real S3-compatible server on loopback (moto_server): the blob
//! store's operations, then the whole platform (upload, every step, Range streaming, the
//! registry log and its certificate) with its blobs in a bucket. SKIPs when moto is missing.

mod common;

use axum::http::StatusCode;
use bytes::Bytes;
use common::s3::S3Server;
use common::{Backend, Part, TestApp, melody_wav};
use encore_server::{Blobs, Registry};
use futures_util::TryStreamExt;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_store_operations_on_s3() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let blobs = Blobs::open(&s3.bucket("blobs")).unwrap();
    blobs
        .put_bytes("derived/w/small", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(
        &blobs.get_bytes("derived/w/small").await.unwrap()[..],
        b"hello"
    );
    // 20 MB through the multipart path (8 MiB parts), then a range read across a part boundary.
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("big");
    std::fs::write(&path, &big).unwrap();
    assert_eq!(
        blobs.put_file("originals/w/audio", &path).await.unwrap(),
        20_000_000
    );
    assert_eq!(
        blobs.head("originals/w/audio").await.unwrap().size,
        20_000_000
    );
    let start = 8 * 1024 * 1024 - 10;
    let got: Vec<Bytes> = blobs
        .get_stream("originals/w/audio", Some(start..start + 100))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let got: Vec<u8> = got.concat();
    assert_eq!(got, big[start as usize..start as usize + 100]);
    let back = dir.path().join("back");
    blobs.download_to("originals/w/audio", &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), big);
    let mut keys = blobs.list("").await.unwrap();
    keys.sort();
    assert_eq!(keys, ["derived/w/small", "originals/w/audio"]);
    // The registry log's checkpoint updates are conditional on the ETag.
    let meta = blobs
        .object_store()
        .head(&object_store::path::Path::from("derived/w/small"))
        .await
        .unwrap();
    assert!(meta.e_tag.is_some(), "S3 returns an ETag");
    blobs.delete("derived/w/small").await.unwrap();
    blobs.delete("derived/w/small").await.unwrap();
    assert!(matches!(
        blobs.get_bytes("derived/w/small").await,
        Err(object_store::Error::NotFound { .. })
    ));
}

async fn platform_on_s3(b: Backend) {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let bucket = format!("encore-{}", uuid::Uuid::new_v4().simple());
    let blobs = s3.bucket(&bucket);
    let Some(t) = TestApp::with(b, Registry::standard(), |c| c.blobs = blobs).await else {
        return;
    };
    let s = t.signup("c@example.org", "creator").await;
    let wav = melody_wav(3);
    let r = t
        .upload(
            &s,
            &[
                Part::Text("title", "In a bucket"),
                Part::Text("artists", "Test Artist"),
                Part::Text("lyrics", "la la la\nna na na"),
                Part::File("audio", "melody.wav", &wav),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_string();
    t.drain_jobs().await;
    let jobs = t
        .get(&format!("/api/works/{id}/jobs"), Some(&s))
        .await
        .json();
    assert_eq!(jobs["status"], "ready", "{jobs}");
    let r = t
        .get_with(
            &format!("/api/works/{id}/stream"),
            Some(&s),
            &[("range", "bytes=100-199")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], &wav[100..200]);
    let r = t
        .get(&format!("/api/works/{id}/haptics/lofelt"), Some(&s))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .get(&format!("/api/works/{id}/lyrics"), Some(&s))
        .await
        .json();
    assert_eq!(r["aligned"]["lines"].as_array().unwrap().len(), 2);
    // The registry log lives in the bucket; its certificate verifies.
    let keys = t.state.blobs.list("registry").await.unwrap();
    assert!(keys.iter().any(|k| k == "registry/checkpoint"), "{keys:?}");
    let vkey = t.get("/api/registry/key", None).await.json()["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .get(&format!("/api/works/{id}/certificate"), Some(&s))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let cert = encore_registry::TlogProof::parse(&r.body).unwrap();
    let policy = encore_registry::Policy {
        log: encore_registry::NoteVerifier::parse(&vkey).unwrap(),
        witnesses: vec![],
        quorum: 0,
    };
    let ok = encore_registry::verify_certificate(&cert, &policy).unwrap();
    assert_eq!(ok.statement.claim.title, "In a bucket");
    // A second work extends the same log in the bucket.
    let second = t.upload_work(&s, "Second", None).await;
    t.drain_jobs().await;
    let a = t
        .get(&format!("/api/works/{second}/analysis"), Some(&s))
        .await
        .json();
    assert_eq!(a["register"]["result"]["index"], json!(1));
    t.cleanup().await;
}

dual!(platform_on_s3);
