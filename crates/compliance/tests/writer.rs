//! The masking writer under a real `tracing_subscriber` fmt layer: personal information never
//! reaches the underlying writer, everything else does.

use std::io::Write;
use std::sync::{Arc, Mutex};

use encore_compliance::MaskingWriter;
use tracing_subscriber::fmt::MakeWriter;

/// Collects everything written, like a log file would.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Sink;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn log_lines_are_masked_before_they_are_written() {
    let sink = Sink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(MaskingWriter::new(sink.clone()))
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            phone = "13812345678",
            email = "zhang.san@example.com",
            "signup from 203.0.113.7"
        );
        tracing::warn!("身份证11010519491231002X校验通过, order 202311051234567890");
        tracing::info!(user_id = 42, "nothing personal here");
    });
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    for secret in [
        "13812345678",
        "zhang.san@",
        "203.0.113.7",
        "11010519491231002X",
    ] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    for kept in [
        "138****5678",
        "z***@example.com",
        "203.0.*.*",
        "110***********002X",
        "202311051234567890",
        "nothing personal here",
        "user_id=42",
    ] {
        assert!(out.contains(kept), "{kept} missing: {out}");
    }
    assert_eq!(out.lines().count(), 3);
}

#[test]
fn partial_writes_are_held_until_the_line_ends() {
    let sink = Sink::default();
    let writer = MaskingWriter::new(sink.clone());
    let mut w = writer.make_writer();
    w.write_all(b"phone 138123").unwrap();
    assert!(sink.0.lock().unwrap().is_empty(), "a half line was written");
    w.write_all(b"45678 ok\nnext").unwrap();
    assert_eq!(sink.0.lock().unwrap().as_slice(), b"phone 138****5678 ok\n");
    drop(w);
    assert_eq!(
        sink.0.lock().unwrap().as_slice(),
        b"phone 138****5678 ok\nnext"
    );
}
