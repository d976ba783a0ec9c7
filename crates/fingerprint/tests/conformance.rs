//! One conformance suite for every `PostingStore` backend: memory, redb and PostgreSQL.
//!
//! PostgreSQL tests use `ENCORE_TEST_PG_URL` (default `postgres://root@127.0.0.1:5432/test`)
//! and a fresh schema per test, dropped at the end, so runs can overlap. When PostgreSQL is not
//! reachable there, those tests print `SKIP ...` with the reason and pass without running.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use encore_fingerprint::{
    Error, Hit, MAX_NAME_LEN, MemoryStore, NewWork, PgStore, Posting, PostingStore, RedbStore,
};

fn work(name: &str, postings: &[(u32, u32)]) -> NewWork {
    NewWork {
        name: name.to_string(),
        duration_s: postings.len() as f64,
        postings: postings
            .iter()
            .map(|&(hash, t)| Posting { hash, t })
            .collect(),
    }
}

fn hits(store: &dyn PostingStore, hashes: &[u32]) -> BTreeSet<Hit> {
    let mut out = Vec::new();
    store.lookup(hashes, &mut out).unwrap();
    out.into_iter().collect()
}

fn hit(hash: u32, work: u32, t: u32) -> Hit {
    Hit { hash, work, t }
}

/// Every check, in order, on one empty store.
fn conformance(store: Arc<dyn PostingStore>) {
    empty(&*store);
    add_lookup_remove_compact(&*store);
    batch_is_atomic(&*store);
    concurrent_readers_see_whole_works(store);
}

fn empty(s: &dyn PostingStore) {
    assert!(hits(s, &[1, 2, 3]).is_empty());
    assert!(hits(s, &[]).is_empty());
    assert_eq!(s.stats().unwrap().works, 0);
    assert!(s.works().unwrap().is_empty());
    assert_eq!(s.work(0).unwrap(), None);
    assert!(!s.remove_work(42).unwrap());
    assert_eq!(s.compact().unwrap(), 0);
}

fn add_lookup_remove_compact(s: &dyn PostingStore) {
    // Extreme values round-trip: the top bit of hashes and times is data.
    let a = work(
        "a.wav",
        &[(1, 10), (1, 5), (2, 7), (u32::MAX, u32::MAX), (1, 10)],
    );
    let b = work("b — ünïcode.ogg", &[(1, 3), (3, 0)]);
    let ids = s.add_works(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    let (ia, ib) = (ids[0], ids[1]);

    // Read-after-write: everything is visible once add_works returned.
    let got = hits(s, &[1, 2, 3, u32::MAX, 99]);
    let want: BTreeSet<Hit> = [
        hit(1, ia, 10),
        hit(1, ia, 5),
        hit(2, ia, 7),
        hit(u32::MAX, ia, u32::MAX),
        hit(1, ib, 3),
        hit(3, ib, 0),
    ]
    .into();
    assert_eq!(got, want);
    // Duplicate postings are kept.
    let mut raw = Vec::new();
    s.lookup(&[1], &mut raw).unwrap();
    assert_eq!(raw.iter().filter(|h| **h == hit(1, ia, 10)).count(), 2);

    let info = s.work(ia).unwrap().unwrap();
    assert_eq!(info.name, "a.wav");
    assert_eq!(info.postings, 5);
    assert_eq!(s.work(ib).unwrap().unwrap().name, b.name);
    assert_eq!(s.works().unwrap().len(), 2);
    let st = s.stats().unwrap();
    assert_eq!((st.works, st.postings, st.pending_removals), (2, 7, 0));

    // Removal is immediate for lookups; compaction reclaims without changing answers.
    assert!(s.remove_work(ia).unwrap());
    assert!(!s.remove_work(ia).unwrap());
    assert_eq!(s.work(ia).unwrap(), None);
    let after_remove = hits(s, &[1, 2, 3, u32::MAX]);
    assert_eq!(after_remove, [hit(1, ib, 3), hit(3, ib, 0)].into());
    let st = s.stats().unwrap();
    assert_eq!((st.works, st.postings, st.pending_removals), (1, 2, 1));
    assert_eq!(s.compact().unwrap(), 5);
    assert_eq!(s.compact().unwrap(), 0);
    assert_eq!(hits(s, &[1, 2, 3, u32::MAX]), after_remove);
    assert_eq!(s.stats().unwrap().pending_removals, 0);

    // Ids are never reused.
    let ic = s.add_work(&work("c", &[(2, 1)])).unwrap();
    assert!(ic > ib);
    assert_eq!(hits(s, &[2]), [hit(2, ic, 1)].into());
    assert!(s.remove_work(ib).unwrap());
    assert!(s.remove_work(ic).unwrap());
    s.compact().unwrap();
    assert!(hits(s, &[1, 2, 3]).is_empty());
}

fn batch_is_atomic(s: &dyn PostingStore) {
    let before = s.stats().unwrap();
    let bad = NewWork {
        name: "x".repeat(MAX_NAME_LEN + 1),
        ..work("bad", &[(7, 1)])
    };
    let err = s
        .add_works(&[work("ok", &[(7, 2)]), bad])
        .expect_err("an over-long name must be refused");
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    let nan = NewWork {
        duration_s: f64::NAN,
        ..work("nan", &[(7, 3)])
    };
    assert!(matches!(
        s.add_works(&[work("ok", &[(7, 2)]), nan]),
        Err(Error::Invalid(_))
    ));
    assert!(
        hits(s, &[7]).is_empty(),
        "nothing of a failed batch is stored"
    );
    assert_eq!(s.stats().unwrap(), before);
}

fn concurrent_readers_see_whole_works(store: Arc<dyn PostingStore>) {
    const WORKS: u32 = 12;
    const PER_WORK: u32 = 300;
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU32::new(0));
    let hashes: Vec<u32> = (0..WORKS * PER_WORK).map(|i| 1_000_000 + i).collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, done, checks, hashes) =
                (store.clone(), done.clone(), checks.clone(), hashes.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let mut out = Vec::new();
                    store.lookup(&hashes, &mut out).unwrap();
                    let mut per_work = std::collections::HashMap::new();
                    for h in &out {
                        *per_work.entry(h.work).or_insert(0u32) += 1;
                    }
                    for (w, n) in per_work {
                        assert_eq!(n, PER_WORK, "work {w} seen half-written");
                    }
                    checks.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    while checks.load(Ordering::SeqCst) < 3 {
        std::thread::yield_now();
    }
    for w in 0..WORKS {
        let postings: Vec<(u32, u32)> = (0..PER_WORK)
            .map(|i| (1_000_000 + w * PER_WORK + i, i))
            .collect();
        store.add_work(&work(&format!("w{w}"), &postings)).unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().expect("reader panicked");
    }
    assert!(checks.load(Ordering::SeqCst) >= 3);
    let mut out = Vec::new();
    store.lookup(&hashes, &mut out).unwrap();
    assert_eq!(out.len() as u32, WORKS * PER_WORK);
}

#[test]
fn memory_store_conforms() {
    conformance(Arc::new(MemoryStore::new()));
}

#[test]
fn redb_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Arc::new(RedbStore::open(dir.path()).unwrap()));
}

#[test]
fn redb_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = RedbStore::open(dir.path()).unwrap();
        s.add_work(&work("kept", &[(5, 9)])).unwrap()
    };
    let s = RedbStore::open(dir.path()).unwrap();
    assert_eq!(hits(&s, &[5]), [hit(5, id, 9)].into());
    assert_eq!(s.work(id).unwrap().unwrap().name, "kept");
}

#[test]
fn redb_store_rejects_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("postings.redb"), b"not a database at all").unwrap();
    assert!(matches!(
        RedbStore::open(dir.path()),
        Err(Error::Store { .. })
    ));
}

fn pg_url() -> String {
    std::env::var("ENCORE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_string())
}

fn pg_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("encore_fp_test_{tag}_{}_{nanos}", std::process::id())
}

/// Drops the schema even when the test fails.
struct PgGuard(Arc<PgStore>);

impl Drop for PgGuard {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

/// True when PostgreSQL answers at [`pg_url`]; otherwise prints a SKIP line for `test` and
/// returns false (the PostgreSQL tests then pass without running, saying why).
fn pg_available(test: &str) -> bool {
    let url = pg_url();
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(_) => true,
        Err(e) => {
            let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
            println!(
                "SKIP {test}: PostgreSQL not reachable at {url} ({e}{cause}); \
                 set ENCORE_TEST_PG_URL or start PostgreSQL"
            );
            false
        }
    }
}

#[test]
fn postgres_store_conforms() {
    if !pg_available("postgres_store_conforms") {
        return;
    }
    let schema = pg_schema("conf");
    let store = Arc::new(PgStore::open(&pg_url(), &schema).unwrap());
    let _guard = PgGuard(store.clone());
    conformance(store);
}

#[test]
fn postgres_store_persists_and_refuses_bad_schema_names() {
    if !pg_available("postgres_store_persists_and_refuses_bad_schema_names") {
        return;
    }
    let schema = pg_schema("persist");
    let id = {
        let s = PgStore::open(&pg_url(), &schema).unwrap();
        s.add_work(&work("kept", &[(5, 9)])).unwrap()
    };
    let guard = PgGuard(Arc::new(PgStore::open(&pg_url(), &schema).unwrap()));
    let s = &*guard.0;
    assert_eq!(hits(s, &[5]), [hit(5, id, 9)].into());
    assert!(s.size_bytes().unwrap() > 0);
    for bad in ["", "Upper", "1abc", "a;drop table x", "a-b"] {
        assert!(
            matches!(PgStore::open(&pg_url(), bad), Err(Error::Invalid(_))),
            "{bad}"
        );
    }
}

/// Fault injection on the PostgreSQL write path: PostgreSQL refuses a NUL byte in `text`, so
/// the second work of this batch fails *after* the id counter was bumped and the first work's
/// row was written in the same transaction. Nothing may survive, and the store stays usable.
#[test]
fn postgres_batch_failing_mid_transaction_leaves_nothing() {
    if !pg_available("postgres_batch_failing_mid_transaction_leaves_nothing") {
        return;
    }
    let schema = pg_schema("fault");
    let guard = PgGuard(Arc::new(PgStore::open(&pg_url(), &schema).unwrap()));
    let s = &*guard.0;
    let before = s.stats().unwrap();
    let err = s
        .add_works(&[work("first", &[(11, 1)]), work("bad\0name", &[(11, 2)])])
        .expect_err("a NUL byte in a name must fail inside the transaction");
    assert!(matches!(err, Error::Store { .. }), "{err}");
    assert!(hits(s, &[11]).is_empty());
    assert_eq!(s.stats().unwrap(), before);
    assert!(s.works().unwrap().is_empty());
    let id = s.add_work(&work("after", &[(11, 3)])).unwrap();
    assert_eq!(hits(s, &[11]), [hit(11, id, 3)].into());
}
