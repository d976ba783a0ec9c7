//! `encore registry init|add|proof|bench`, `encore verify` and `encore witness init|serve`:
//! the rights registry on a local log directory, offline certificate checks, and a C2SP
//! tlog-witness served over plain HTTP/1.1.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use encore_registry::{
    AudioMatch, Claim, CreatorKey, DirStorage, Hash, IdentityCommitment, KeyKind, Log,
    LogTimestamper, LogWitness, NoteSigner, NoteVerifier, ObjectStorage, Policy, Statement,
    Storage, TimestampClient, TlogProof, TsaTrust, Witness, WitnessCallError, WitnessClient,
    WitnessError, digest_audio_file, encode_add_checkpoint, lyrics_digest, match_audio,
    verify_certificate, verify_checkpoint_timestamps,
};

/// Arguments of `encore registry`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RegistryCommand {
    /// Create a log in DIR with a new Ed25519 key (DIR/key, DIR/key.pub = verifier key).
    Init {
        /// The log directory (C2SP tlog-tiles layout).
        dir: PathBuf,
        /// The log's origin line, e.g. `registry.example.org/works`.
        #[arg(long)]
        origin: String,
        /// Keep the log's tiles and checkpoint in an object store instead of DIR
        /// (`s3://bucket/prefix`; keys stay in DIR, which remembers the URL in DIR/store).
        #[arg(long)]
        store: Option<String>,
    },
    /// Register works; prints `INDEX<TAB>FILE` per file once a published checkpoint covers it.
    Add(Box<AddArgs>),
    /// Write a C2SP tlog-proof (certificate) for entry INDEX.
    Proof {
        /// The log directory.
        dir: PathBuf,
        /// The entry index.
        index: u64,
        /// Output file (`.tlog-proof`).
        #[arg(short, long)]
        output: PathBuf,
        /// The object store holding the log (default: DIR/store if present, else DIR).
        #[arg(long)]
        store: Option<String>,
    },
    /// Measure durable appends per second, proof build/verify time and certificate size.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// The log directory.
    dir: PathBuf,
    /// Audio files to register.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The creator's key (`encore-creator-key-v1 HEX`); default DIR/creator.key, made by init.
    #[arg(long)]
    creator_key: Option<PathBuf>,
    /// Title (default: the file name without extension).
    #[arg(long)]
    title: Option<String>,
    /// Lyrics text file; its normalised SHA-256 goes into the statement.
    #[arg(long)]
    lyrics: Option<PathBuf>,
    /// The creator's legal identity; only a salted commitment enters the log, and the salt is
    /// printed (keep it to open the commitment later).
    #[arg(long)]
    identity: Option<String>,
    /// Claimed time, Unix seconds (default: now).
    #[arg(long)]
    time: Option<u64>,
    /// Entries per batch (one checkpoint per batch).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// A witness to ask for cosignatures, as `URL=VKEY` (repeatable).
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// Cosignatures required before publishing (default: all given witnesses).
    #[arg(long)]
    quorum: Option<usize>,
    /// Print JSON lines `{"index","file","new","identity_salt"}`.
    #[arg(long)]
    json: bool,
    /// The object store holding the log (default: DIR/store if present, else DIR).
    #[arg(long)]
    store: Option<String>,
    /// An RFC 3161 timestamp authority (`http://host[:port]/path`): every published checkpoint
    /// carries a token from it.
    #[arg(long)]
    tsa_url: Option<String>,
    /// PEM certificates trusted for the TSA (its certificate or CA); each token is verified
    /// before the checkpoint is published.
    #[arg(long)]
    tsa_cert: Option<PathBuf>,
    /// Key name of the token line on the checkpoint note (default: the TSA URL's host).
    #[arg(long)]
    tsa_name: Option<String>,
    /// Ask the TSA to include its certificate in each token (larger certificates).
    #[arg(long)]
    tsa_request_certs: bool,
    /// Publish without a token when the TSA fails (default: the batch fails).
    #[arg(long)]
    tsa_optional: bool,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Directory to create the benchmark log in (must not exist).
    dir: PathBuf,
    /// Entries to append.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Entries per batch.
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// Print `ACK INDEX` after each published batch (used by the crash test).
    #[arg(long)]
    print_acks: bool,
}

/// Arguments of `encore verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The tlog-proof file.
    proof: PathBuf,
    /// The log's verifier key, or a file holding it (e.g. DIR/key.pub).
    #[arg(long)]
    key: String,
    /// A trusted witness verifier key (or file), repeatable.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// Witness cosignatures required (default: all given witnesses).
    #[arg(long)]
    quorum: Option<usize>,
    /// Also check that this audio file is the registered one (same bytes or same decoded audio).
    #[arg(long)]
    file: Option<PathBuf>,
    /// PEM certificates trusted for RFC 3161 timestamp tokens (the TSA's certificate or CA):
    /// every token on the checkpoint must verify against them.
    #[arg(long)]
    tsa_cert: Option<PathBuf>,
    /// Fail unless the checkpoint carries at least one valid timestamp token (needs --tsa-cert).
    #[arg(long, requires = "tsa_cert")]
    require_timestamp: bool,
    /// Print a JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `encore witness`.
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    #[command(subcommand)]
    command: WitnessCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WitnessCommand {
    /// Create a witness key in DIR (DIR/key, DIR/key.pub = cosignature verifier key).
    Init {
        /// The witness directory.
        dir: PathBuf,
        /// The witness name, e.g. `witness.example.org/w1`.
        #[arg(long)]
        name: String,
    },
    /// Serve C2SP tlog-witness `POST /add-checkpoint` and `GET /<origin hash>/checkpoint`.
    Serve {
        /// The witness directory (key and state).
        dir: PathBuf,
        /// A log verifier key (or file) to follow, repeatable.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: String,
        /// Stop after this many requests (tests).
        #[arg(long, hide = true)]
        max_requests: Option<u64>,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn write_new(path: &Path, data: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    f.write_all(data.as_bytes())?;
    f.sync_all()?;
    #[cfg(unix)]
    if path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with("key"))
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))?;
    Ok(())
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// A vkey given inline or as a file holding it.
fn vkey_arg(s: &str) -> anyhow::Result<NoteVerifier> {
    let p = Path::new(s);
    let text = if p.is_file() {
        read_text(p)?
    } else {
        s.to_owned()
    };
    NoteVerifier::parse(text.trim()).with_context(|| format!("verifier key {s:?}"))
}

fn log_signer(dir: &Path) -> anyhow::Result<NoteSigner> {
    let k = dir.join("key");
    NoteSigner::parse(&read_text(&k)?).with_context(|| format!("{}", k.display()))
}

/// Where the log's tiles and checkpoint live: the object store given with `--store` or
/// recorded in DIR/store by `init --store`, else DIR itself.
fn open_storage(dir: &Path, store: Option<&str>) -> anyhow::Result<Arc<dyn Storage>> {
    let recorded = std::fs::read_to_string(dir.join("store"))
        .ok()
        .map(|s| s.trim().to_owned());
    match store.map(str::to_owned).or(recorded) {
        Some(url) => Ok(Arc::new(
            ObjectStorage::from_url(&url).with_context(|| format!("object store {url}"))?,
        )),
        None => Ok(Arc::new(DirStorage::open(dir)?)),
    }
}

fn tsa_trust(path: &Path) -> anyhow::Result<TsaTrust> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    TsaTrust::from_pem(&pem).with_context(|| format!("TSA certificates {}", path.display()))
}

/// Runs `encore registry`.
pub fn run_registry(args: RegistryArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RegistryCommand::Init { dir, origin, store } => {
            let signer = NoteSigner::generate(&origin, KeyKind::Ed25519).context("origin")?;
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            if dir.join("key").exists() || dir.join("checkpoint").exists() {
                bail!("{} already holds a log", dir.display());
            }
            let storage = open_storage(&dir, store.as_deref())?;
            write_new(&dir.join("key"), &format!("{}\n", signer.to_private_text()))?;
            write_new(
                &dir.join("key.pub"),
                &format!("{}\n", signer.verifier().to_vkey()),
            )?;
            write_new(&dir.join("creator.key"), &CreatorKey::generate()?.to_text())?;
            if let Some(url) = &store {
                write_new(&dir.join("store"), &format!("{url}\n"))?;
            }
            Log::create(storage, signer.clone())?;
            println!("{}", signer.verifier().to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Add(a) => add(*a),
        RegistryCommand::Proof {
            dir,
            index,
            output,
            store,
        } => {
            let log = Log::open(open_storage(&dir, store.as_deref())?, log_signer(&dir)?)
                .with_context(|| format!("opening log {}", dir.display()))?;
            let proof = log.proof(index)?;
            let tmp = output.with_extension("tmp");
            std::fs::write(&tmp, proof.to_text()).with_context(|| format!("{}", tmp.display()))?;
            std::fs::rename(&tmp, &output).with_context(|| format!("{}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Bench(b) => bench(b),
    }
}

fn add(a: AddArgs) -> anyhow::Result<ExitCode> {
    let signer = log_signer(&a.dir)?;
    let mut log = Log::open(open_storage(&a.dir, a.store.as_deref())?, signer)
        .with_context(|| format!("opening log {}", a.dir.display()))?;
    if let Some(url) = &a.tsa_url {
        let client = HttpTsa(HttpUrl::parse(url)?);
        let name = a
            .tsa_name
            .clone()
            .unwrap_or_else(|| client.0.host.replace(['+', ' '], "-"));
        log.set_timestamper(Some(LogTimestamper {
            client: Box::new(client),
            name,
            trust: a.tsa_cert.as_deref().map(tsa_trust).transpose()?,
            cert_req: a.tsa_request_certs,
            required: !a.tsa_optional,
        }));
    }
    let mut witnesses = Vec::new();
    for w in &a.witnesses {
        let (url, vkey) = w.split_once('=').context("--witness must be URL=VKEY")?;
        witnesses.push(LogWitness {
            client: Box::new(HttpWitness::new(url)?),
            verifier: vkey_arg(vkey)?,
        });
    }
    let quorum = a.quorum.unwrap_or(witnesses.len());
    log.set_witnesses(witnesses, quorum)?;
    let key_path = a
        .creator_key
        .clone()
        .unwrap_or_else(|| a.dir.join("creator.key"));
    let creator = CreatorKey::parse(&read_text(&key_path)?)
        .with_context(|| format!("{}", key_path.display()))?;
    let lyrics = match &a.lyrics {
        Some(p) => Some(lyrics_digest(&read_text(p)?)),
        None => None,
    };
    let time = a.time.unwrap_or_else(now);
    let bar = crate::output::progress_bar(a.files.len() as u64, "registering");
    for chunk in a.files.chunks(a.batch.max(1)) {
        let mut entries = Vec::new();
        let mut salts = Vec::new();
        for f in chunk {
            let _span = tracing::info_span!("register", file = %f.display()).entered();
            let d = digest_audio_file(f).with_context(|| format!("{}", f.display()))?;
            let (identity, salt) = match &a.identity {
                Some(id) => {
                    let (c, s) = IdentityCommitment::random(id)?;
                    (c, Some(s))
                }
                None => (IdentityCommitment::new("", &[0; 32]), None),
            };
            let title = a.title.clone().unwrap_or_else(|| {
                f.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let claim = Claim {
                audio_sha256: d.file_sha256,
                content_digest: d.content,
                lyrics_sha256: lyrics,
                title,
                identity,
                claimed_time: time,
            };
            entries.push(
                Statement::sign(claim, &creator)
                    .with_context(|| format!("{}", f.display()))?
                    .encode(),
            );
            salts.push(salt);
            bar.inc(1);
        }
        let before = log.size();
        let idx = log.append(&entries, now())?;
        for ((i, f), salt) in idx.iter().zip(chunk).zip(salts) {
            if a.json {
                crate::output::print_json_line(&serde_json::json!({
                    "index": i,
                    "file": f.display().to_string(),
                    "new": *i >= before,
                    "identity_salt": salt.map(|s| s.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                }))?;
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{i}\t{}", f.display())?;
                out.flush()?;
            }
        }
    }
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

/// Runs `encore verify`.
pub fn run_verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&a.proof).with_context(|| format!("reading {}", a.proof.display()))?;
    let witnesses = a
        .witnesses
        .iter()
        .map(|w| vkey_arg(w))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let policy = Policy {
        log: vkey_arg(&a.key)?,
        quorum: a.quorum.unwrap_or(witnesses.len()),
        witnesses,
    };
    let trust = a.tsa_cert.as_deref().map(tsa_trust).transpose()?;
    let result = TlogProof::parse(&bytes).and_then(|p| {
        let v = verify_certificate(&p, &policy)?;
        let stamps = match &trust {
            Some(t) => verify_checkpoint_timestamps(&p.checkpoint, t)?,
            None => Vec::new(),
        };
        if a.require_timestamp && stamps.is_empty() {
            return Err(encore_registry::Error::Timestamp(
                "the checkpoint carries no timestamp token".into(),
            ));
        }
        let unchecked = if trust.is_none() {
            encore_registry::checkpoint_timestamps(&p.checkpoint).map_or(0, |t| t.len())
        } else {
            0
        };
        Ok((v, stamps, unchecked))
    });
    let (v, stamps, unchecked) = match result {
        Ok(v) => v,
        Err(e) => {
            if a.json {
                crate::output::print_json_line(
                    &serde_json::json!({"verified": false, "error": e.to_string()}),
                )?;
            } else {
                eprintln!("NOT VERIFIED: {}: {e}", a.proof.display());
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let audio = match &a.file {
        Some(f) => Some(match_audio(
            &v.statement,
            &digest_audio_file(f).with_context(|| format!("{}", f.display()))?,
        )),
        None => None,
    };
    let ok = audio != Some(AudioMatch::Different);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    if a.json {
        crate::output::print_json_line(&serde_json::json!({
            "verified": ok,
            "index": v.index,
            "origin": v.checkpoint.origin,
            "tree_size": v.checkpoint.size,
            "title": v.statement.claim.title,
            "claimed_time": v.statement.claim.claimed_time,
            "creator": hex(&v.statement.creator),
            "audio_sha256": hex(&v.statement.claim.audio_sha256),
            "witnesses": v.witnesses.iter().map(|(n, t)| serde_json::json!({"name": n, "time": t})).collect::<Vec<_>>(),
            "timestamps": stamps.iter().map(|t| serde_json::json!({
                "time": t.time, "gen_time": t.gen_time, "tsa": t.signer,
                "serial": t.serial, "policy": t.policy,
            })).collect::<Vec<_>>(),
            "timestamps_unchecked": unchecked,
            "audio_match": audio.map(|m| format!("{m:?}")),
        }))?;
    } else if ok {
        println!(
            "verified: entry {} of {} (tree size {}), {:?}, {} witness cosignature(s){}",
            v.index,
            v.checkpoint.origin,
            v.checkpoint.size,
            v.statement.claim.title,
            v.witnesses.len(),
            match audio {
                Some(AudioMatch::Exact) => ", audio file identical",
                Some(AudioMatch::SameContent) => ", audio content identical (re-encoded)",
                _ => "",
            }
        );
        for t in &stamps {
            println!(
                "timestamp: {} (unix {}) by {}",
                t.gen_time,
                t.time,
                t.signer.as_deref().unwrap_or("?")
            );
        }
        if unchecked > 0 {
            println!("{unchecked} timestamp token(s) not checked: give --tsa-cert to check them");
        }
    } else {
        eprintln!(
            "NOT VERIFIED: the certificate is valid but the audio file is not the registered work"
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(b: BenchArgs) -> anyhow::Result<ExitCode> {
    if b.dir.join("checkpoint").exists() {
        bail!("{} already holds a log", b.dir.display());
    }
    let signer = NoteSigner::generate("bench.encore.invalid/log", KeyKind::Ed25519)?;
    std::fs::create_dir_all(&b.dir)?;
    write_new(
        &b.dir.join("key"),
        &format!("{}\n", signer.to_private_text()),
    )?;
    let mut log = Log::create(DirStorage::open(&b.dir)?, signer.clone())?;
    let witnesses: Vec<NoteSigner> = (1..=3)
        .map(|i| {
            NoteSigner::generate(
                &format!("bench.encore.invalid/witness{i}"),
                KeyKind::Cosignature,
            )
        })
        .collect::<Result<_, _>>()?;
    let mut lw = Vec::new();
    for w in &witnesses {
        let wit = Arc::new(Mutex::new(Witness::new(
            w.clone(),
            vec![signer.verifier()],
        )?));
        lw.push(LogWitness {
            client: Box::new(encore_registry::LocalWitness::new(wit, now)),
            verifier: w.verifier(),
        });
    }
    log.set_witnesses(lw, 3)?;
    let creator = CreatorKey::generate()?;
    let start = Instant::now();
    let mut in_append = Duration::ZERO;
    let mut done = 0u64;
    while done < b.entries {
        let n = (b.entries - done).min(b.batch as u64);
        let entries: Vec<Vec<u8>> = (done..done + n)
            .map(|i| {
                let claim = Claim {
                    audio_sha256: Hash::leaf(&i.to_be_bytes()).0,
                    content_digest: Hash::leaf(&(!i).to_be_bytes()).0,
                    lyrics_sha256: None,
                    title: format!("bench work {i}"),
                    identity: IdentityCommitment::new("bench", &[0; 32]),
                    claimed_time: 1_700_000_000,
                };
                Statement::sign(claim, &creator).map(|s| s.encode())
            })
            .collect::<Result<_, _>>()?;
        let t = Instant::now();
        let idx = log.append(&entries, now())?;
        in_append += t.elapsed();
        done += n;
        if b.print_acks {
            let mut out = std::io::stdout().lock();
            for i in idx {
                writeln!(out, "ACK {i}")?;
            }
            out.flush()?;
        }
    }
    let total_s = start.elapsed().as_secs_f64();
    let append_s = in_append.as_secs_f64();
    let size = log.size();
    let policy = Policy {
        log: signer.verifier(),
        witnesses: witnesses.iter().map(NoteSigner::verifier).collect(),
        quorum: 3,
    };
    let samples = 200u64.min(size);
    let (mut build, mut verify, mut cert_bytes) = (Duration::ZERO, Duration::ZERO, 0usize);
    for k in 0..samples {
        let i = (k * 7919 * 104_729) % size;
        let t = Instant::now();
        let p = log.proof(i)?;
        build += t.elapsed();
        let text = p.to_text();
        cert_bytes = cert_bytes.max(text.len());
        let t = Instant::now();
        verify_certificate(&TlogProof::parse(&text)?, &policy)?;
        verify += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / samples.max(1) as f64;
    crate::output::print_json_line(&serde_json::json!({
        "entries": size,
        "batch": b.batch,
        "append_s": append_s,
        "total_s_with_statement_signing": total_s,
        "appends_per_s": size as f64 / append_s,
        "proof_build_ms": per(build),
        "proof_verify_ms": per(verify),
        "certificate_bytes": cert_bytes,
        "witnesses": 3,
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// A plain `http://host[:port][/path]` URL.
struct HttpUrl {
    addr: String,
    host: String,
    path: String,
}

impl HttpUrl {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .context("URL must start with http:// (RFC 3161 tokens and cosignatures are signed, so TLS adds nothing here)")?;
        let (hostport, path) = rest
            .split_once('/')
            .map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
        if hostport.is_empty() {
            bail!("no host in {url}");
        }
        let addr = if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:80")
        };
        Ok(HttpUrl {
            addr,
            host: hostport.to_owned(),
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// POSTs `body` to `self.path + suffix`; returns the status and the body (at most 1 MiB,
    /// `Content-Length` or chunked).
    fn post(&self, suffix: &str, ctype: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let t = |e: std::io::Error| e.to_string();
        let mut s = TcpStream::connect(&self.addr).map_err(t)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(t)?;
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(t)?;
        let path = format!("{}{suffix}", self.path);
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            if path.is_empty() { "/" } else { &path },
            self.host,
            body.len()
        );
        s.write_all(head.as_bytes())
            .and_then(|()| s.write_all(body))
            .map_err(t)?;
        let mut resp = Vec::new();
        s.take(1 << 20).read_to_end(&mut resp).map_err(t)?;
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no HTTP header in the reply")?;
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("bad HTTP status line")?;
        let mut body = resp[split + 4..].to_vec();
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_ascii_lowercase())
            })
        };
        if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            body = dechunk(&body).ok_or("bad chunked body")?;
        } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if body.len() < n {
                return Err("reply shorter than its Content-Length".into());
            }
            body.truncate(n);
        }
        Ok((status, body))
    }
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// A tlog-witness reached over plain HTTP/1.1 (`http://host:port[/prefix]`).
struct HttpWitness(HttpUrl);

impl HttpWitness {
    fn new(url: &str) -> anyhow::Result<Self> {
        Ok(HttpWitness(HttpUrl::parse(url).context("witness URL")?))
    }
}

impl WitnessClient for HttpWitness {
    fn add_checkpoint(
        &self,
        old: u64,
        proof: &[Hash],
        checkpoint: &[u8],
    ) -> Result<Vec<u8>, WitnessCallError> {
        let body = encode_add_checkpoint(old, proof, checkpoint);
        let (status, body) = self
            .0
            .post("/add-checkpoint", "text/plain", &body)
            .map_err(WitnessCallError::Transport)?;
        match status {
            200 => Ok(body),
            409 => String::from_utf8_lossy(&body)
                .trim()
                .parse()
                .map(WitnessCallError::Conflict)
                .map_or_else(
                    |_| Err(WitnessCallError::Transport("bad 409 body".into())),
                    Err,
                ),
            s => Err(WitnessCallError::Refused {
                status: s,
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }
}

/// An RFC 3161 timestamp authority over HTTP (POST `application/timestamp-query`).
struct HttpTsa(HttpUrl);

impl TimestampClient for HttpTsa {
    fn timestamp(&self, query: &[u8]) -> Result<Vec<u8>, String> {
        let (status, body) = self.0.post("", "application/timestamp-query", query)?;
        if status != 200 {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        Ok(body)
    }
}

/// Runs `encore witness`.
pub fn run_witness(a: WitnessArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        WitnessCommand::Init { dir, name } => {
            std::fs::create_dir_all(&dir)?;
            if dir.join("key").exists() {
                bail!("{} already holds a witness key", dir.display());
            }
            let signer = NoteSigner::generate(&name, KeyKind::Cosignature)?;
            write_new(&dir.join("key"), &format!("{}\n", signer.to_private_text()))?;
            write_new(
                &dir.join("key.pub"),
                &format!("{}\n", signer.verifier().to_vkey()),
            )?;
            println!("{}", signer.verifier().to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve {
            dir,
            logs,
            listen,
            max_requests,
        } => serve(&dir, &logs, &listen, max_requests),
    }
}

/// Shared state of the witness server.
#[derive(Clone)]
struct WitnessState {
    witness: Arc<Mutex<Witness>>,
    state_path: Arc<PathBuf>,
    served: Arc<AtomicU64>,
    max_requests: Option<u64>,
    done: Arc<tokio::sync::Notify>,
}

/// Per-request time limit (reading the body, checking, persisting, replying).
const WITNESS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn serve(
    dir: &Path,
    logs: &[String],
    listen: &str,
    max_requests: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let signer = NoteSigner::parse(&read_text(&dir.join("key"))?).context("witness key")?;
    let logs = logs
        .iter()
        .map(|l| vkey_arg(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut witness = Witness::new(signer, logs)?;
    let state_path = dir.join("state");
    if let Ok(b) = std::fs::read(&state_path) {
        witness
            .load_state(&b)
            .with_context(|| format!("{}", state_path.display()))?;
    }
    let state = WitnessState {
        witness: Arc::new(Mutex::new(witness)),
        state_path: Arc::new(state_path),
        served: Arc::new(AtomicU64::new(0)),
        max_requests,
        done: Arc::new(tokio::sync::Notify::new()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        eprintln!("witness listening on http://{}", listener.local_addr()?);
        let done = state.done.clone();
        let app = axum::Router::new()
            .fallback(witness_request)
            .layer(axum::extract::DefaultBodyLimit::max(
                encore_registry::MAX_WITNESS_REQUEST_BYTES,
            ))
            // 413 from the Content-Length alone, before any of the body is read.
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                encore_registry::MAX_WITNESS_REQUEST_BYTES,
            ))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                WITNESS_REQUEST_TIMEOUT,
            ))
            .with_state(state);
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { done.notified().await })
            .await
            .context("serving")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Every request: `POST …/add-checkpoint` and `GET …/<origin hash>/checkpoint` under any
/// prefix; anything else is 404. Connections are served concurrently; the check-and-update of
/// the witness state runs under its lock on a blocking thread, so it stays atomic.
async fn witness_request(
    axum::extract::State(st): axum::extract::State<WitnessState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    let path = uri.path().to_owned();
    let reply = |status: u16, ctype: &'static str, body: Vec<u8>| {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, ctype)],
            body,
        )
            .into_response()
    };
    let st2 = st.clone();
    let resp = tokio::task::spawn_blocking(move || {
        let mut w = st2
            .witness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if method == axum::http::Method::POST && path.ends_with("/add-checkpoint") {
            let state_path = st2.state_path.as_path();
            let res = w.add_checkpoint(&body, now(), |state| {
                write_state(state_path, state).map_err(|e| encore_registry::Error::Io {
                    path: state_path.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                })
            });
            match res {
                Ok(sigs) => (200, "text/plain; charset=utf-8", sigs),
                Err(WitnessError::Conflict(size)) => {
                    (409, "text/x.tlog.size", format!("{size}\n").into_bytes())
                }
                Err(e) => {
                    tracing::info!(status = e.status(), error = %e, "refused checkpoint");
                    let msg: &[u8] = if e.status() == 500 {
                        b"internal error\n"
                    } else {
                        b"refused\n"
                    };
                    (e.status(), "text/plain", msg.to_vec())
                }
            }
        } else if method == axum::http::Method::GET && path.ends_with("/checkpoint") {
            let hash = path
                .trim_end_matches("/checkpoint")
                .rsplit('/')
                .next()
                .unwrap_or("");
            match w.latest_by_origin_hash(hash) {
                Some(note) => (200, "text/plain; charset=utf-8", note.to_vec()),
                None => (404, "text/plain", b"not found\n".to_vec()),
            }
        } else {
            (404, "text/plain", b"not found\n".to_vec())
        }
    })
    .await;
    let out = match resp {
        Ok((status, ctype, body)) => reply(status, ctype, body),
        Err(e) => {
            tracing::warn!(error = %e, "witness request failed");
            reply(500, "text/plain", b"internal error\n".to_vec())
        }
    };
    let n = st.served.fetch_add(1, Ordering::SeqCst) + 1;
    if st.max_requests.is_some_and(|m| n >= m) {
        st.done.notify_one();
    }
    out
}

fn write_state(path: &Path, state: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(state)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
