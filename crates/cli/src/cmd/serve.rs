//! `encore serve`, `encore worker`, `encore admin create` and `encore import`: the platform
//! server, its workers, its first admin, and bulk import of a music folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use encore_server::{AppState, BlobConfig, Config, LyricsWhisper, NewWork, Role, WorkMetadata};

/// Where the platform keeps its data, shared by every server command.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory: the SQLite database and the blob store live here by default.
    #[arg(long, default_value = "./encore-data")]
    pub data: PathBuf,
    /// Database URL instead of DATA/encore.db (`postgres://user@host/db` or `sqlite://PATH`).
    #[arg(long, env = "ENCORE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// S3-compatible endpoint for blobs instead of DATA/blobs (with ENCORE_S3_BUCKET,
    /// ENCORE_S3_ACCESS_KEY_ID, ENCORE_S3_SECRET_ACCESS_KEY, optional ENCORE_S3_REGION).
    #[arg(long, env = "ENCORE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Seconds a worker holds a job before another worker may take it over (it renews the
    /// lease every third of this while the job runs).
    #[arg(long, env = "ENCORE_JOB_LEASE_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub job_lease_secs: u64,
    /// PostgreSQL schema of the fingerprint index (with a PostgreSQL database).
    #[arg(
        long,
        env = "ENCORE_FINGERPRINT_SCHEMA",
        default_value = "encore_fingerprint"
    )]
    pub fingerprint_schema: String,
    /// When the lyrics step asks OpenAI Whisper (see `encore lyrics align --whisper`).
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        env = "ENCORE_LYRICS_WHISPER",
        default_value_t = StepWhisper::Auto
    )]
    pub lyrics_whisper: StepWhisper,
    /// Python with faster-whisper; default: ~/.cache/encore/venv-whisper/bin/python.
    #[arg(long, value_name = "PYTHON", env = "ENCORE_WHISPER_PYTHON")]
    pub whisper_python: Option<PathBuf>,
    /// Folder of a CTranslate2 Whisper model; default: ~/.cache/encore/whisper-base.
    #[arg(long, value_name = "DIR", env = "ENCORE_WHISPER_MODEL")]
    pub whisper_model: Option<PathBuf>,
}

/// `--lyrics-whisper`: [`LyricsWhisper`] (the server crate has no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StepWhisper {
    /// Both modes when installed: plain lyrics (full mode, about 6x real time) as well as LRC
    /// with line times (refine mode, about 28x).
    Auto,
    /// Refine mode only, when installed (as `encore lyrics align`; full mode stays at about
    /// 47x real time).
    Refine,
    /// Both modes; refuses to start without Whisper.
    On,
    /// Never.
    Off,
}

impl DataArgs {
    /// Builds the configuration: embedded defaults, overridden where asked.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::embedded(&self.data);
        if let Some(url) = &self.database_url {
            config.database_url = url.clone();
        }
        config.job_lease = Duration::from_secs(self.job_lease_secs);
        config.fingerprint_pg_schema = self.fingerprint_schema.clone();
        if let Some(python) = &self.whisper_python {
            config.whisper.python = python.clone();
        }
        if let Some(model) = &self.whisper_model {
            config.whisper.model = model.clone();
        }
        config.lyrics_whisper = match self.lyrics_whisper {
            StepWhisper::Auto => LyricsWhisper::Auto,
            StepWhisper::Refine => LyricsWhisper::Refine,
            StepWhisper::On => LyricsWhisper::On,
            StepWhisper::Off => LyricsWhisper::Off,
        };
        if config.lyrics_whisper == LyricsWhisper::On && !config.whisper.is_present() {
            bail!(
                "--lyrics-whisper=on: no Whisper at {} with the model {} \
                 (scripts/install-deps.sh installs both; or pass --whisper-python and --whisper-model)",
                config.whisper.python.display(),
                config.whisper.model.display()
            );
        }
        if let Some(endpoint) = &self.s3_endpoint {
            let var = |name: &str| {
                std::env::var(name)
                    .with_context(|| format!("{name} must be set with --s3-endpoint"))
            };
            config.blobs = BlobConfig::S3 {
                endpoint: endpoint.clone(),
                bucket: var("ENCORE_S3_BUCKET")?,
                region: std::env::var("ENCORE_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
                access_key_id: var("ENCORE_S3_ACCESS_KEY_ID")?,
                secret_access_key: var("ENCORE_S3_SECRET_ACCESS_KEY")?,
                allow_http: endpoint.starts_with("http://"),
            };
        }
        Ok(config)
    }
}

/// Arguments of `encore serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// In-process pipeline workers (0 when `encore worker` processes run elsewhere).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Largest audio upload in megabytes.
    #[arg(long, default_value_t = 500)]
    pub max_upload_mb: u64,
    /// Mark cookies Secure (set when clients reach the server over HTTPS).
    #[arg(long)]
    pub secure_cookies: bool,
}

/// Arguments of `encore worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Concurrent jobs in this process.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

/// Arguments of `encore admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Administration subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create an admin account (the password is read from ENCORE_ADMIN_PASSWORD or stdin).
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Queue jobs for pipeline steps that existing works have not run (steps added since they
    /// were uploaded; servers and workers also do this at start-up).
    Backfill {
        #[command(flatten)]
        data: DataArgs,
        /// Also redo results made by another version of a step's code.
        #[arg(long)]
        outdated: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List blobs that no work references (dry run), or delete them with --delete.
    Sweep {
        #[command(flatten)]
        data: DataArgs,
        /// Delete the orphans instead of listing them.
        #[arg(long)]
        delete: bool,
        /// Only blobs older than this many minutes (uploads in progress are younger).
        #[arg(long, default_value_t = 60)]
        min_age_minutes: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `encore import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Music folder to import (walked recursively).
    pub dir: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// E-mail of the creator account that will own the works (creator or admin).
    #[arg(long)]
    pub creator: String,
    /// Print one JSON line per file.
    #[arg(long)]
    pub json: bool,
    /// Language of the lyrics (BCP 47, e.g. `en`, `pt-BR`) for files whose tags name none
    /// (ID3 `TLAN`, Vorbis `LANGUAGE`, ...); the lyrics step guesses it from the text otherwise.
    #[arg(long, value_name = "TAG")]
    pub language: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Runs `encore serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.data.config()?;
    config.max_upload_bytes = args.max_upload_mb.saturating_mul(1_000_000);
    config.secure_cookies = args.secure_cookies;
    runtime()?.block_on(async move {
        let state = AppState::open(config)
            .await
            .context("opening the data store")?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "encore: serving http://{addr} (data {}, {} workers)",
            args.data.data.display(),
            args.workers
        );
        encore_server::serve(state, listener, args.workers, shutdown_signal()).await?;
        eprintln!("encore: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `encore worker`.
pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let config = args.data.config()?;
    runtime()?.block_on(async move {
        let state = AppState::open(config)
            .await
            .context("opening the data store")?;
        eprintln!("encore: {} workers running", args.workers);
        encore_server::run_workers(state, args.workers, shutdown_signal()).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `encore admin`.
pub fn admin(args: AdminArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdminCommand::Create { data, email } => {
            let password = match std::env::var("ENCORE_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let config = data.config()?;
            runtime()?.block_on(async move {
                let state = AppState::open(config)
                    .await
                    .context("opening the data store")?;
                let id = state
                    .create_user(&email, &password, Role::Admin)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("creating admin {email}"))?;
                println!("{id}");
                Ok(ExitCode::SUCCESS)
            })
        }
        AdminCommand::Backfill {
            data,
            outdated,
            json,
        } => {
            let config = data.config()?;
            runtime()?.block_on(async move {
                let state = AppState::open(config)
                    .await
                    .context("opening the data store")?;
                let report = state.backfill(outdated).await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else if report.created.is_empty() && report.requeued.is_empty() {
                    println!("nothing to backfill");
                } else {
                    for (step, n) in &report.created {
                        println!("{step}: {n} jobs queued for existing works");
                    }
                    for (step, n) in &report.requeued {
                        println!("{step}: {n} outdated results queued again");
                    }
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        AdminCommand::Sweep {
            data,
            delete,
            min_age_minutes,
            json,
        } => {
            let config = data.config()?;
            runtime()?.block_on(async move {
                let state = AppState::open(config)
                    .await
                    .context("opening the data store")?;
                let report = state
                    .sweep(
                        delete,
                        Duration::from_secs(min_age_minutes.saturating_mul(60)),
                    )
                    .await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    for o in &report.orphans {
                        println!("{}\t{}", o.size, o.key);
                    }
                    eprintln!(
                        "{} of {} blobs are orphaned ({} bytes){}",
                        report.orphans.len(),
                        report.examined,
                        report.orphan_bytes,
                        if delete {
                            ": deleted"
                        } else {
                            "; dry run, --delete removes them"
                        }
                    );
                }
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "wav", "aif", "aiff",
];

/// Tags read from a file, with fallbacks.
fn read_tags(path: &Path, default_artist: &str) -> (WorkMetadata, Option<Vec<u8>>) {
    use lofty::prelude::*;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = WorkMetadata {
        title: stem,
        artists: vec![default_artist.to_string()],
        ..Default::default()
    };
    let mut cover = None;
    let Ok(tagged) = lofty::read_from_path(path) else {
        return (meta, cover);
    };
    let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) else {
        return (meta, cover);
    };
    if let Some(t) = tag.title().filter(|t| !t.trim().is_empty()) {
        meta.title = t.into_owned();
    }
    if let Some(a) = tag.artist().filter(|a| !a.trim().is_empty()) {
        meta.artists = a
            .split(['/', ';'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    meta.album = tag.album().map(|a| a.into_owned());
    meta.genre = tag.genre().map(|g| g.into_owned());
    meta.isrc = tag
        .get_string(&lofty::tag::ItemKey::Isrc)
        .map(str::to_string);
    meta.lyrics = tag
        .get_string(&lofty::tag::ItemKey::Lyrics)
        .map(str::to_string);
    meta.language = tag
        .get_string(&lofty::tag::ItemKey::Language)
        .and_then(language_from_tag);
    if let Some(p) = tag.pictures().first() {
        cover = Some(p.data().to_vec());
    }
    (meta, cover)
}

/// The lyrics of `path` from `NAME.lrc` beside it, if there is one: UTF-8 (with or without a
/// byte-order mark), UTF-16 with a byte-order mark, or else Latin-1, as older LRC files often
/// are. Larger than `limit` bytes is an error naming the file.
fn sidecar_lyrics(path: &Path, limit: u64) -> anyhow::Result<Option<String>> {
    let lrc = path.with_extension("lrc");
    let Ok(meta) = std::fs::metadata(&lrc) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > limit {
        bail!(
            "{}: {} bytes of lyrics, more than the limit of {limit}",
            lrc.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(&lrc).with_context(|| format!("reading {}", lrc.display()))?;
    Ok(Some(decode_text(&bytes)))
}

/// Text from bytes: UTF-8 (a byte-order mark dropped), UTF-16 LE or BE after its byte-order
/// mark (unpaired surrogates replaced), else Latin-1 (every byte is a character).
fn decode_text(bytes: &[u8]) -> String {
    let utf16 = |units: Vec<u16>| {
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => utf16(
            rest.chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect(),
        ),
        [0xFE, 0xFF, rest @ ..] => utf16(
            rest.chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect(),
        ),
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        },
    }
}

/// Whether `text` is LRC with a time on every line (what refine mode needs).
fn is_line_timed(text: &str) -> bool {
    encore_lyrics::parse(text, encore_lyrics::Format::Lrc).is_ok_and(|l| l.is_line_timed())
}

/// A language tag's value as BCP 47: ID3's ISO 639-2 codes (`eng`, `fre`/`fra`, ...) become
/// their two-letter form where one exists; a tag that is not a language code is ignored.
fn language_from_tag(value: &str) -> Option<String> {
    const ISO_639_2: &[(&str, &str)] = &[
        ("ara", "ar"),
        ("chi", "zh"),
        ("zho", "zh"),
        ("cze", "cs"),
        ("ces", "cs"),
        ("dan", "da"),
        ("dut", "nl"),
        ("nld", "nl"),
        ("eng", "en"),
        ("fin", "fi"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("ger", "de"),
        ("deu", "de"),
        ("gre", "el"),
        ("ell", "el"),
        ("heb", "he"),
        ("hin", "hi"),
        ("hun", "hu"),
        ("ind", "id"),
        ("ita", "it"),
        ("jpn", "ja"),
        ("kor", "ko"),
        ("nor", "no"),
        ("pol", "pl"),
        ("por", "pt"),
        ("rum", "ro"),
        ("ron", "ro"),
        ("rus", "ru"),
        ("spa", "es"),
        ("swe", "sv"),
        ("tur", "tr"),
        ("ukr", "uk"),
        ("vie", "vi"),
    ];
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    // Undetermined, several, no linguistic content (and ID3's common filler `xxx`).
    if ["und", "mul", "zxx", "xxx", ""].contains(&lower.as_str()) {
        return None;
    }
    let code = ISO_639_2
        .iter()
        .find(|(three, _)| *three == lower)
        .map_or(value, |(_, two)| two);
    encore_server::validate_language(code).ok()
}

/// Runs `encore import`.
pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        bail!("{}: not a folder", args.dir.display());
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&args.dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if let Some(tag) = &args.language {
        encore_server::validate_language(tag).map_err(|e| anyhow::anyhow!("--language: {e}"))?;
    }
    let config = args.data.config()?;
    let json = args.json;
    runtime()?.block_on(async move {
        let state = AppState::open(config).await.context("opening the data store")?;
        let user_id = state
            .user_id_by_email(&args.creator)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_context(|| format!("no account {}; create it first", args.creator))?;
        let creator_id = state
            .creator_profile(&user_id, &args.creator)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let creator_name = args.creator.split('@').next().unwrap_or("Unknown").to_string();
        let bar = crate::output::progress_bar(files.len() as u64, "importing");
        let (mut ok, mut failed) = (0u64, 0u64);
        for path in &files {
            let (mut meta, cover) = read_tags(path, &creator_name);
            if meta.language.is_none() {
                meta.language.clone_from(&args.language);
            }
            let result = async {
                // A `NAME.lrc` beside the file fills in lyrics the tags lack, and replaces
                // them when it has line times and they do not (timed lyrics are what the
                // lyrics step refines).
                if let Some(lrc) = sidecar_lyrics(path, state.config.max_lyrics_bytes)?
                    && (meta.lyrics.as_deref().is_none_or(|t| t.trim().is_empty())
                        || (is_line_timed(&lrc) && !meta.lyrics.as_deref().is_some_and(is_line_timed)))
                {
                    meta.lyrics = Some(lrc);
                }
                let meta = meta.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
                let cover_file = match cover.as_deref().and_then(|c| encore_server::sniff_image(c).map(|t| (c, t))) {
                    Some((bytes, kind)) => {
                        let f = tempfile::NamedTempFile::new_in(&state.config.scratch_dir)?;
                        std::fs::write(f.path(), bytes)?;
                        Some((f.into_temp_path(), kind))
                    }
                    None => None,
                };
                let id = encore_server::ingest(
                    &state,
                    NewWork {
                        creator_id: &creator_id,
                        audio: path,
                        meta,
                        cover: cover_file.as_ref().map(|(p, k)| (p.as_ref(), *k)),
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                anyhow::Ok(id)
            }
            .await;
            match result {
                Ok(id) => {
                    ok += 1;
                    if json {
                        crate::output::print_json_line(&serde_json::json!({"path": path, "work_id": id}))?;
                    }
                }
                Err(e) => {
                    failed += 1;
                    if json {
                        crate::output::print_json_line(&serde_json::json!({"path": path, "error": e.to_string()}))?;
                    } else {
                        bar.suspend(|| eprintln!("{}: {e:#}", path.display()));
                    }
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        if json {
            crate::output::print_json_line(&serde_json::json!({"summary": {"imported": ok, "failed": failed}}))?;
        } else {
            println!("imported {ok} works, {failed} failed; workers of `encore serve` or `encore worker` process them");
        }
        // Give a moment for logs to flush; the works are queued durably already.
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_become_bcp_47() {
        for (tag, want) in [
            ("eng", Some("en")),
            ("FRE", Some("fr")),
            ("fra", Some("fr")),
            (" deu ", Some("de")),
            ("pt-BR", Some("pt-BR")),
            ("es", Some("es")),
            ("gsw", Some("gsw")),
            ("und", None),
            ("XXX", None),
            ("", None),
            ("English", None),
            ("e1", None),
        ] {
            assert_eq!(language_from_tag(tag).as_deref(), want, "{tag:?}");
        }
    }

    #[test]
    fn sidecar_text_in_any_of_its_usual_encodings() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFla"), "la");
        assert_eq!(decode_text("für".as_bytes()), "für");
        assert_eq!(decode_text(b"f\xFCr"), "für");
        assert_eq!(decode_text(b"\xFF\xFEl\x00a\x00"), "la");
        assert_eq!(decode_text(b"\xFE\xFF\x00l\x00a"), "la");
        // An unpaired surrogate and an odd trailing byte do not panic.
        assert_eq!(decode_text(b"\xFF\xFE\x00\xD8a"), "\u{FFFD}");
        assert_eq!(decode_text(b""), "");
    }
}
