//! `encore scan` and `encore scan-bench` end to end: the JSON contract, every input kind
//! (text, CSV, JSON, SQLite, binary, folders), masked copies, and inputs left untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn encore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_encore"))
}

fn run_json(args: &[&str]) -> (Vec<Value>, Value) {
    let out = encore()
        .arg("scan")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    (lines, summary)
}

/// A small users table, written with the sqlite3 shell (Debian package `sqlite3`).
fn make_db(path: &Path) {
    let status = Command::new("sqlite3")
        .arg(path)
        .arg(
            "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, phone TEXT, note TEXT, age INTEGER);
             INSERT INTO users VALUES (1, '张伟', '13812345678', '备用邮箱 zw@example.com', 30);
             INSERT INTO users VALUES (7, 'Bob', 'none', 'card 4111 1111 1111 1111', 41);",
        )
        .status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "sqlite3 is needed for this test"
    );
}

fn fixture(dir: &Path) -> PathBuf {
    let root = dir.join("data");
    std::fs::create_dir_all(root.join("nested")).unwrap();
    std::fs::write(
        root.join("ticket.txt"),
        "客户手机１３８１２３４５６７８，身份证11010519491231002X。\n",
    )
    .unwrap();
    std::fs::write(
        root.join("nested/export.csv"),
        "name,email,ip\nAlice,alice@example.com,203.0.113.9\n",
    )
    .unwrap();
    std::fs::write(
        root.join("nested/dump.json"),
        "{\"order_id\": \"202311051234567890\", \"ts\": 1699999999}\n",
    )
    .unwrap();
    std::fs::write(root.join("blob.bin"), b"\x00\x01\x0213812345678").unwrap();
    make_db(&root.join("users.db"));
    root
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every file under `root` with its bytes and modification time.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    walk(root)
        .into_iter()
        .map(|p| {
            let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes, mtime)
        })
        .collect()
}

fn file_name(f: &Value) -> String {
    Path::new(f["path"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn scans_every_kind_of_input_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    let before = snapshot(&root);
    let (findings, summary) = run_json(&[root.to_str().unwrap()]);
    assert_eq!(snapshot(&root), before, "scan modified its input");

    let mut got: Vec<(String, String)> = findings
        .iter()
        .map(|f| (file_name(f), f["kind"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    let want = [
        ("export.csv", "email"),
        ("export.csv", "ip_address"),
        ("ticket.txt", "cn_mobile"),
        ("ticket.txt", "cn_resident_id"),
        ("users.db", "bank_card"),
        ("users.db", "cn_mobile"),
        ("users.db", "email"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );

    for f in &findings {
        for key in ["path", "offset", "length", "kind", "score", "masked"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
    // Byte offsets: the full-width mobile starts after 客户手机 (12 bytes) and is 33 bytes long.
    let mobile = findings
        .iter()
        .find(|f| f["kind"] == "cn_mobile" && file_name(f) == "ticket.txt")
        .unwrap();
    assert_eq!(
        (mobile["offset"].as_u64(), mobile["length"].as_u64()),
        (Some(12), Some(33))
    );
    assert_eq!(mobile["masked"], "１３８＊＊＊＊５６７８");
    let id = findings
        .iter()
        .find(|f| f["kind"] == "cn_resident_id")
        .unwrap();
    assert_eq!(id["masked"], "110***********002X");
    let cell = findings
        .iter()
        .find(|f| f["kind"] == "email" && file_name(f) == "users.db")
        .unwrap();
    assert_eq!(cell["locator"], "users/1/note");
    assert_eq!(cell["offset"].as_u64(), Some("备用邮箱 ".len() as u64));
    let card = findings.iter().find(|f| f["kind"] == "bank_card").unwrap();
    assert_eq!(card["locator"], "users/7/note");

    let s = &summary["summary"];
    assert_eq!(s["findings"].as_u64(), Some(findings.len() as u64));
    assert!(s["bytes"].as_u64().unwrap() > 0 && s["elapsed_ms"].is_u64());
    assert_eq!(s["skipped"].as_u64(), Some(1));
}

#[test]
fn mask_writes_masked_copies_and_keeps_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    let before = snapshot(&root);
    let out_dir = tmp.path().join("masked");
    let out = encore()
        .args([
            "scan",
            root.to_str().unwrap(),
            "--mask",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(snapshot(&root), before, "--mask modified its input");
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains("cn_resident_id") && report.contains("scanned"),
        "{report}"
    );

    let ticket = std::fs::read_to_string(out_dir.join("data/ticket.txt")).unwrap();
    assert_eq!(
        ticket,
        "客户手机１３８＊＊＊＊５６７８，身份证110***********002X。\n"
    );
    let csv = std::fs::read_to_string(out_dir.join("data/nested/export.csv")).unwrap();
    assert_eq!(csv, "name,email,ip\nAlice,a***@example.com,203.0.*.*\n");
    let db = out_dir.join("data/users.db");
    let q = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT phone, note FROM users ORDER BY id")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(q.stdout).unwrap(),
        "138****5678|备用邮箱 z***@example.com\nnone|card 4111 **** **** 1111\n"
    );
    // Scanning the masked copies finds nothing left.
    let (findings, _) = run_json(&[out_dir.to_str().unwrap()]);
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn missing_path_is_a_clear_error() {
    let out = encore()
        .args(["scan", "/nonexistent/encore-scan-input", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/encore-scan-input"), "{err}");
}

#[test]
fn bad_threshold_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.txt");
    std::fs::write(&f, "x").unwrap();
    let out = encore()
        .args(["scan", f.to_str().unwrap(), "--threshold", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("threshold"));
}

#[test]
fn corpus_and_eval_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bench");
    let d = dir.to_str().unwrap();
    let out = encore()
        .args([
            "scan-bench",
            "corpus",
            d,
            "--seed",
            "5",
            "--size-mb",
            "0.3",
            "--rows",
            "40",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("labels.jsonl").is_file() && dir.join("corpus/users.db").is_file());
    let out = encore()
        .args(["scan-bench", "eval", d, "--json", "--repeat", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for kind in [
        "cn_resident_id",
        "cn_mobile",
        "bank_card",
        "email",
        "cn_uscc",
        "passport",
        "ip_address",
    ] {
        let f1 = v["kinds"][kind]["f1"].as_f64().unwrap();
        assert!(f1 > 0.95, "{kind}: f1 {f1}");
    }
    // The labels themselves, fed back as predictions, score perfectly.
    let labels = dir.join("labels.jsonl");
    let out = encore()
        .args([
            "scan-bench",
            "eval",
            d,
            "--json",
            "--predictions",
            labels.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kinds"]["email"]["f1"].as_f64(), Some(1.0));
}
