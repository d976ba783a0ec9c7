//! Transcoded streams (Opus, AAC, MP3) made with ffmpeg on first request and cached in the blob
//! store under `derived/<work>/stream-<format>-<kbps>.<ext>`.

use std::process::Stdio;

use crate::AppState;
use crate::error::AppError;
use crate::store::keys;

/// A streaming format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Opus in Ogg.
    Opus,
    /// AAC-LC in ADTS.
    Aac,
    /// MP3.
    Mp3,
}

impl Format {
    /// Parses `opus`, `aac` or `mp3`.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "opus" => Format::Opus,
            "aac" => Format::Aac,
            "mp3" => Format::Mp3,
            _ => return None,
        })
    }

    /// Name used in keys and play events.
    pub fn name(self) -> &'static str {
        match self {
            Format::Opus => "opus",
            Format::Aac => "aac",
            Format::Mp3 => "mp3",
        }
    }

    /// MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Opus => "audio/ogg",
            Format::Aac => "audio/aac",
            Format::Mp3 => "audio/mpeg",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Format::Opus => "ogg",
            Format::Aac => "aac",
            Format::Mp3 => "mp3",
        }
    }

    /// Bitrates offered, kbit/s.
    pub fn bitrates(self) -> &'static [u32] {
        match self {
            Format::Opus => &[32, 48, 64, 96, 128, 160, 192, 256],
            Format::Aac => &[64, 96, 128, 160, 192, 256, 320],
            Format::Mp3 => &[64, 96, 128, 160, 192, 256, 320],
        }
    }

    /// Default bitrate, kbit/s.
    pub fn default_bitrate(self) -> u32 {
        match self {
            Format::Opus => 96,
            Format::Aac | Format::Mp3 => 160,
        }
    }

    fn ffmpeg_args(self) -> &'static [&'static str] {
        match self {
            Format::Opus => &["-c:a", "libopus", "-f", "ogg"],
            Format::Aac => &["-c:a", "aac", "-f", "adts"],
            Format::Mp3 => &["-c:a", "libmp3lame", "-f", "mp3"],
        }
    }
}

/// The cache key of a transcode.
pub fn cache_key(work_id: &str, format: Format, kbps: u32) -> String {
    keys::derived(
        work_id,
        &format!("stream-{}-{kbps}.{}", format.name(), format.ext()),
    )
}

/// Returns the key of the transcode, making it first when it is not cached yet.
pub async fn ensure(
    state: &AppState,
    work_id: &str,
    format: Format,
    kbps: u32,
) -> Result<String, AppError> {
    let key = cache_key(work_id, format, kbps);
    if state.blobs.head(&key).await.is_ok() {
        return Ok(key);
    }
    let _permit = state
        .transcodes
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    // Another request may have made it while this one waited.
    if state.blobs.head(&key).await.is_ok() {
        return Ok(key);
    }
    let span = tracing::info_span!("transcode", work = %work_id, format = format.name(), kbps);
    let _enter = span.enter();
    drop(_enter);
    let dir = tempfile::Builder::new()
        .prefix("transcode-")
        .tempdir_in(&state.config.scratch_dir)?;
    let input = dir.path().join("in");
    let output = dir.path().join(format!("out.{}", format.ext()));
    state
        .blobs
        .download_to(&keys::original(work_id), &input)
        .await?;
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(&state.config.ffmpeg)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&input)
        .args(["-vn", "-map", "0:a:0", "-b:a", &format!("{kbps}k")])
        .args(format.ffmpeg_args())
        .arg(&output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("running ffmpeg: {e}")))?;
    if !out.status.success() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "ffmpeg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let size = state.blobs.put_file(&key, &output).await?;
    tracing::info!(work = %work_id, format = format.name(), kbps, size, ms = started.elapsed().as_millis() as u64, "transcoded");
    Ok(key)
}
