//! [`MaskingWriter`]: a `tracing_subscriber` writer that masks personal information in each log
//! line before it reaches the real writer (file, stderr, ...).

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

use crate::{Scanner, mask};

/// Bytes buffered without a newline before they are masked and written anyway.
const MAX_PENDING: usize = 1 << 20;

/// Wraps a [`MakeWriter`] so that every line written through it is scanned and masked first.
///
/// ```
/// use encore_compliance::MaskingWriter;
/// let writer = MaskingWriter::new(std::io::stderr);
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(phone = "13812345678", "user signed up"); // logged as 138****5678
/// });
/// ```
#[derive(Clone)]
pub struct MaskingWriter<M> {
    inner: M,
    scanner: Arc<Scanner>,
}

impl<M> std::fmt::Debug for MaskingWriter<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskingWriter").finish_non_exhaustive()
    }
}

impl<M> MaskingWriter<M> {
    /// Masks with the default configuration (threshold 0.5).
    pub fn new(inner: M) -> Self {
        Self::with_scanner(inner, Arc::new(Scanner::default()))
    }

    /// Masks with a scanner of your own (threshold, birth years).
    pub fn with_scanner(inner: M, scanner: Arc<Scanner>) -> Self {
        Self { inner, scanner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for MaskingWriter<M> {
    type Writer = MaskedWrite<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedWrite::new(self.inner.make_writer(), Arc::clone(&self.scanner))
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        MaskedWrite::new(self.inner.make_writer_for(meta), Arc::clone(&self.scanner))
    }
}

/// The writer [`MaskingWriter`] hands out: buffers up to a newline, then writes the masked line.
/// Whatever is left is masked and written on `flush` and on drop.
pub struct MaskedWrite<W: Write> {
    inner: W,
    scanner: Arc<Scanner>,
    pending: Vec<u8>,
}

impl<W: Write> MaskedWrite<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, scanner: Arc<Scanner>) -> Self {
        Self {
            inner,
            scanner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let rest = self.pending.split_off(upto);
        let chunk = std::mem::replace(&mut self.pending, rest);
        match self.scanner.scan(&chunk) {
            Ok(findings) => self.inner.write_all(&mask(&chunk, &findings)),
            // Never let an unscanned line through.
            Err(_) => self
                .inner
                .write_all(b"[line withheld: too large to mask]\n"),
        }
    }
}

impl<W: Write> Write for MaskedWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(nl) = self.pending.iter().rposition(|&c| c == b'\n') {
            self.emit(nl + 1)?;
        } else if self.pending.len() > MAX_PENDING {
            self.emit(self.pending.len())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.emit(self.pending.len())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for MaskedWrite<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
