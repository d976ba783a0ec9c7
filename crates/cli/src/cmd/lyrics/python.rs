//! A Python helper process for `encore lyrics`: an interpreter from a venv that
//! `scripts/install-deps.sh` made, running a server loop given on its command line, which prints
//! `READY` once it has loaded what it needs and then answers one line per request line.
//! SVOX Pico (`pico.rs`) and Whisper (`whisper.rs`) run this way.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, bail};

/// A running server loop; killed when dropped.
pub struct PythonServer {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PythonServer {
    /// Starts `python -c script args...` and waits for its `READY`; `missing` says what to
    /// install when it never comes. `name` prefixes every error.
    pub fn start<I, S>(
        name: &'static str,
        python: &Path,
        script: &str,
        args: I,
        missing: &str,
    ) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("running {}", python.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("{name}: no pipes");
        };
        let mut server = Self {
            name,
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let first = server
            .reply()
            .with_context(|| format!("{} could not start: {missing}", python.display()))?;
        if first != "READY" {
            bail!("{name}: unexpected first line {first:?}");
        }
        Ok(server)
    }

    fn reply(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("{}: the Python process exited", self.name);
        }
        Ok(line.trim_end().to_string())
    }

    /// Sends one request line and returns the answer line.
    pub fn ask(&mut self, request: &str) -> anyhow::Result<String> {
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .with_context(|| format!("{}: writing a request (did Python exit?)", self.name))?;
        self.reply()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
