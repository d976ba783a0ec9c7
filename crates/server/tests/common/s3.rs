//! A real S3-compatible server on loopback for tests: moto's `moto_server` (PyPI `moto[server]`,
//! installed by scripts/install-deps.sh). `None`, with a SKIP line, when it cannot start.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use encore_server::BlobConfig;

/// A running `moto_server`, killed when dropped.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One plain HTTP request; returns the status code.
fn request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

impl S3Server {
    /// Starts `moto_server` (or `python3 -m moto.server`) on a free loopback port.
    pub fn start() -> Option<S3Server> {
        let port = free_port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()];
        let spawn = |cmd: &mut Command| {
            cmd.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn(&mut Command::new("moto_server"))
            .or_else(|_| spawn(Command::new("python3").args(["-m", "moto.server"])));
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "SKIP S3 test: cannot start moto_server ({e}); run scripts/install-deps.sh"
                );
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if request(port, "GET", "/").is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "SKIP S3 test: moto_server exited ({status}); install it with pip install 'moto[server]'"
                );
                return None;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                eprintln!("SKIP S3 test: moto_server did not answer within 30 s");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            port,
        })
    }

    /// Creates a bucket (moto needs no signature for this).
    pub fn create_bucket(&self, name: &str) {
        let status = request(self.port, "PUT", &format!("/{name}")).unwrap();
        assert_eq!(status, 200, "creating bucket {name}");
    }

    /// A blob configuration for a new bucket on this server.
    pub fn bucket(&self, name: &str) -> BlobConfig {
        self.create_bucket(name);
        BlobConfig::S3 {
            endpoint: self.endpoint.clone(),
            bucket: name.into(),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            allow_http: true,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
