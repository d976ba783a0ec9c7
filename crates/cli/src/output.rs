//! Shared output plumbing: tracing set-up, JSON lines, progress bars, broken-pipe detection.

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

/// Logs go to stderr so that stdout stays clean for `--json` output. Every log line passes
/// through encore-compliance's masking writer first, so personal information (an e-mail in a
/// failed login, a phone number in a request) never reaches the log in clear. By default the
/// decoder library's own log lines (Symphonia's "skipping junk at 405 bytes" while it probes a
/// file that is not audio) stay out of the way of the command's one error line; `-v` shows them.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,symphonia=off",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LazyMaskingStderr::default())
        .with_target(false)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// encore-compliance's masking writer on stderr, built on the first log line: building its
/// scanner costs about 5 M instructions (a third of a millisecond), which a command that logs
/// nothing (the default level is `warn`) should not pay at every start.
#[derive(Default)]
struct LazyMaskingStderr(std::sync::OnceLock<encore_compliance::MaskingWriter<fn() -> io::Stderr>>);

impl LazyMaskingStderr {
    fn get(&self) -> &encore_compliance::MaskingWriter<fn() -> io::Stderr> {
        self.0
            .get_or_init(|| encore_compliance::MaskingWriter::new(io::stderr as fn() -> io::Stderr))
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LazyMaskingStderr {
    type Writer = <encore_compliance::MaskingWriter<fn() -> io::Stderr> as tracing_subscriber::fmt::MakeWriter<'a>>::Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self.get().make_writer()
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        self.get().make_writer_for(meta)
    }
}

/// True when the error chain bottoms out in a closed pipe (e.g. output piped into `head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes one value as a single JSON line to stdout and flushes, so consumers see results as
/// they are produced.
pub fn print_json_line<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// A progress bar on stderr when stderr is a terminal; hidden otherwise (CI, pipes, scripts).
#[allow(dead_code)] // used by commands that walk folders
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
