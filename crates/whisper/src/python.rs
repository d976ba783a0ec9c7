//! A Python helper process: an interpreter from a venv that `scripts/install-deps.sh` made,
//! running a server loop given on its command line, which prints `READY` once it has loaded what
//! it needs and then answers one line per request line. Whisper runs this way, and so do the
//! SVOX Pico voices of `encore lyrics synth`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// What can go wrong with a helper process.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// The interpreter could not be run, or never said `READY`.
    #[error("{name}: {python} could not start: {reason}")]
    Start {
        /// The helper's name.
        name: &'static str,
        /// The interpreter.
        python: String,
        /// Why, with what to install.
        reason: String,
    },
    /// The process exited (it crashed, or was killed).
    #[error("{name}: the Python process exited")]
    Exited {
        /// The helper's name.
        name: &'static str,
    },
    /// Reading or writing its pipes failed.
    #[error("{name}: {source}")]
    Io {
        /// The helper's name.
        name: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// A running server loop; killed when dropped.
pub struct PythonServer {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl std::fmt::Debug for PythonServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonServer")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish()
    }
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
    ) -> Result<Self, PythonError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let start_error = |reason: String| PythonError::Start {
            name,
            python: python.display().to_string(),
            reason,
        };
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| start_error(e.to_string()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error("no pipes".into()));
        };
        let mut server = Self {
            name,
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        match server.reply() {
            Ok(first) if first == "READY" => Ok(server),
            Ok(first) => Err(start_error(format!("unexpected first line {first:?}"))),
            Err(_) => Err(start_error(missing.to_string())),
        }
    }

    fn reply(&mut self) -> Result<String, PythonError> {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|source| PythonError::Io {
                name: self.name,
                source,
            })?;
        if read == 0 {
            return Err(PythonError::Exited { name: self.name });
        }
        Ok(line.trim_end().to_string())
    }

    /// Sends one request line and returns the answer line.
    pub fn ask(&mut self, request: &str) -> Result<String, PythonError> {
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::BrokenPipe => PythonError::Exited { name: self.name },
                _ => PythonError::Io {
                    name: self.name,
                    source,
                },
            })?;
        self.reply()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> Option<std::path::PathBuf> {
        ["/usr/bin/python3", "/usr/local/bin/python3"]
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
    }

    #[test]
    fn a_server_answers_line_by_line_and_its_exit_is_an_error() {
        let Some(python) = python() else {
            eprintln!("SKIP: no python3");
            return;
        };
        let script = "import sys\nprint('READY', flush=True)\nfor l in sys.stdin:\n    \
                      if l.strip() == 'quit': sys.exit(0)\n    print(l.strip().upper(), flush=True)";
        let mut server =
            PythonServer::start("echo", &python, script, Vec::<&str>::new(), "nothing").unwrap();
        assert_eq!(server.ask("abc").unwrap(), "ABC");
        assert_eq!(server.ask("d e").unwrap(), "D E");
        assert!(matches!(
            server.ask("quit"),
            Err(PythonError::Exited { name: "echo" })
        ));
    }

    #[test]
    fn a_server_that_never_says_ready_is_a_start_error_naming_what_to_install() {
        let Some(python) = python() else {
            eprintln!("SKIP: no python3");
            return;
        };
        let err = PythonServer::start(
            "broken",
            &python,
            "import no_such_module_here",
            Vec::<&str>::new(),
            "install no_such_module_here",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("install no_such_module_here"),
            "{err}"
        );
        let err = PythonServer::start(
            "missing",
            Path::new("/nonexistent/python"),
            "",
            Vec::<&str>::new(),
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/python"), "{err}");
    }
}
