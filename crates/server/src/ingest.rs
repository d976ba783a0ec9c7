//! Taking in a work: metadata validation (ISRC, language, lyrics), probing the audio, storing the
//! blobs, and creating the work with its jobs. Uploads and `encore import` share this path.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::AppState;
use crate::db::{new_id, now_ms};
use crate::error::AppError;
use crate::store::keys;

/// Metadata of a work as submitted (before validation).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkMetadata {
    /// Title (required, 1..=300 characters).
    pub title: String,
    /// Artist names (at least one, each 1..=200 characters, at most 50).
    pub artists: Vec<String>,
    /// Album.
    pub album: Option<String>,
    /// International Standard Recording Code, e.g. `GB-AYE-24-00001` (hyphens optional).
    pub isrc: Option<String>,
    /// BCP 47 language tag, e.g. `en`, `zh-Hans`.
    pub language: Option<String>,
    /// Genre.
    pub genre: Option<String>,
    /// Explicit lyrics.
    pub explicit: bool,
    /// Lyrics: plain text or LRC.
    pub lyrics: Option<String>,
}

/// Validated metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMetadata {
    /// Title.
    pub title: String,
    /// Artists.
    pub artists: Vec<String>,
    /// Album.
    pub album: Option<String>,
    /// ISRC, normalised to 12 upper-case characters without hyphens.
    pub isrc: Option<String>,
    /// Language tag.
    pub language: Option<String>,
    /// Genre.
    pub genre: Option<String>,
    /// Explicit flag.
    pub explicit: bool,
    /// Lyrics as submitted, with their format (`plain` or `lrc`) and their plain text.
    pub lyrics: Option<(String, &'static str, String)>,
}

fn text_field(name: &str, value: &str, max: usize) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad(
            "invalid_field",
            format!("{name}: must not be empty"),
        ));
    }
    if v.chars().count() > max {
        return Err(AppError::bad(
            "invalid_field",
            format!("{name}: at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(AppError::bad(
            "invalid_field",
            format!("{name}: control characters are not allowed"),
        ));
    }
    Ok(v.to_string())
}

fn optional(name: &str, value: &Option<String>, max: usize) -> Result<Option<String>, AppError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text_field(name, v, max).map(Some),
    }
}

impl WorkMetadata {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<ValidMetadata, AppError> {
        let title = text_field("title", &self.title, 300)?;
        if self.artists.is_empty() {
            return Err(AppError::bad(
                "invalid_field",
                "artists: at least one artist is required",
            ));
        }
        if self.artists.len() > 50 {
            return Err(AppError::bad("invalid_field", "artists: at most 50"));
        }
        let artists = self
            .artists
            .iter()
            .map(|a| text_field("artists", a, 200))
            .collect::<Result<Vec<_>, _>>()?;
        let isrc = match self.isrc.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(validate_isrc(v)?),
        };
        let language = match self.language.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(validate_language(v)?),
        };
        let lyrics = match self.lyrics.as_deref() {
            None => None,
            Some(t) if t.trim().is_empty() => None,
            Some(t) => {
                let (format, plain) = lyrics_plain_text(t);
                Some((t.to_string(), format, plain))
            }
        };
        Ok(ValidMetadata {
            title,
            artists,
            album: optional("album", &self.album, 300)?,
            isrc,
            language,
            genre: optional("genre", &self.genre, 100)?,
            explicit: self.explicit,
            lyrics,
        })
    }
}

/// Validates an ISRC (ISO 3901): 2-letter country, 3 alphanumeric registrant characters,
/// 2-digit year, 5-digit designation. Hyphens are allowed between the parts; the result is
/// upper case without hyphens.
pub fn validate_isrc(input: &str) -> Result<String, AppError> {
    let compact: String = input
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    let b = compact.as_bytes();
    let ok = b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5].iter().all(u8::is_ascii_alphanumeric)
        && b[5..].iter().all(u8::is_ascii_digit);
    if ok {
        Ok(compact)
    } else {
        Err(AppError::bad(
            "invalid_isrc",
            "isrc: expected CC-XXX-YY-NNNNN (country, registrant, year, 5-digit designation)",
        ))
    }
}

/// Validates a BCP 47 tag in its common shape: a 2-3 letter language, then subtags of 2-8
/// letters or digits.
pub fn validate_language(input: &str) -> Result<String, AppError> {
    let mut parts = input.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if first_ok && rest_ok && input.len() <= 35 {
        Ok(input.to_string())
    } else {
        Err(AppError::bad(
            "invalid_language",
            "language: expected a BCP 47 tag such as en or pt-BR",
        ))
    }
}

/// Detects LRC (lines starting with `[mm:ss.xx]`) and returns the format and the text without
/// time tags or LRC header tags.
pub fn lyrics_plain_text(text: &str) -> (&'static str, String) {
    fn is_time_tag(tag: &str) -> bool {
        let mut it = tag.splitn(2, ':');
        let (m, s) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
        !m.is_empty()
            && m.chars().all(|c| c.is_ascii_digit())
            && !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit() || c == '.')
    }
    let mut lrc = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim();
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            let tag = &stripped[..end];
            if is_time_tag(tag) {
                lrc = true;
            } else if !tag.contains(':') {
                // Not a time tag nor a header tag such as [ar:Artist]: the text starts here.
                break;
            }
            rest = stripped[end + 1..].trim_start();
        }
        // Word-level timestamps of enhanced LRC: <mm:ss.xx>.
        let mut clean = String::new();
        let mut s = rest;
        while let Some(i) = s.find('<') {
            match s[i + 1..].find('>') {
                Some(j) if is_time_tag(&s[i + 1..i + 1 + j]) => {
                    clean.push_str(&s[..i]);
                    s = &s[i + j + 2..];
                }
                _ => {
                    clean.push_str(&s[..=i]);
                    s = &s[i + 1..];
                }
            }
        }
        clean.push_str(s);
        if !clean.trim().is_empty() {
            lines.push(clean.trim().to_string());
        }
    }
    (if lrc { "lrc" } else { "plain" }, lines.join("\n"))
}

/// What probing found.
#[derive(Debug, Clone)]
pub struct Probe {
    /// MIME type served for the original.
    pub content_type: &'static str,
}

/// Opens the file with encore-audio and decodes its first chunks: uploads that do not decode
/// are refused before anything is stored.
pub async fn probe_audio(path: &Path) -> Result<Probe, AppError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut dec = encore_audio::Decoder::open(&path)
            .map_err(|e| AppError::unprocessable("undecodable_audio", format!("audio: {e}")))?;
        let container = dec.info().container;
        let mut frames = 0usize;
        for _ in 0..4 {
            match dec.next_chunk() {
                Ok(Some(chunk)) => frames += chunk.samples.len() / chunk.channels.max(1),
                Ok(None) => break,
                Err(e) => {
                    return Err(AppError::unprocessable(
                        "undecodable_audio",
                        format!("audio: {e}"),
                    ));
                }
            }
        }
        if frames == 0 {
            return Err(AppError::unprocessable(
                "undecodable_audio",
                "audio: the stream holds no samples",
            ));
        }
        let content_type = match container {
            "mp3" => "audio/mpeg",
            "flac" => "audio/flac",
            c if c.starts_with("ogg") => "audio/ogg",
            "wav" => "audio/wav",
            "mp4" => "audio/mp4",
            "aiff" => "audio/aiff",
            "adts" => "audio/aac",
            "matroska" => "audio/webm",
            _ => "application/octet-stream",
        };
        Ok(Probe { content_type })
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Sniffs a cover image type from its first bytes.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Hex SHA-256 and size of a file, streaming.
pub async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((crate::auth::hex(&hasher.finalize()), total))
}

/// A validated upload, ready to be stored.
#[derive(Debug)]
pub struct NewWork<'a> {
    /// The creator (profile id) who owns it.
    pub creator_id: &'a str,
    /// The audio file on local disk.
    pub audio: &'a Path,
    /// Validated metadata.
    pub meta: ValidMetadata,
    /// Optional cover: local file and MIME type.
    pub cover: Option<(&'a Path, &'static str)>,
}

/// Probes, stores and registers a work; returns its id. Nothing is written when the audio does
/// not decode.
pub async fn ingest(state: &AppState, new: NewWork<'_>) -> Result<String, AppError> {
    let probe = probe_audio(new.audio).await?;
    let (sha256, size) = hash_file(new.audio).await?;
    let work_id = new_id();
    state
        .blobs
        .put_file(&keys::original(&work_id), new.audio)
        .await?;
    if let Some((cover, _)) = new.cover {
        state.blobs.put_file(&keys::cover(&work_id), cover).await?;
    }
    // At this point the blobs are durable but unreferenced: a crash here leaves orphans under
    // originals/<id> that no row points to (harmless; a sweep can delete them), never a row
    // without its blob.
    let now = now_ms();
    let meta = &new.meta;
    let artists_json =
        serde_json::to_string(&meta.artists).map_err(|e| AppError::Internal(e.into()))?;
    let (lyrics, lyrics_format, lyrics_text) = match &meta.lyrics {
        Some((raw, format, plain)) => (Some(raw.clone()), Some(*format), plain.clone()),
        None => (None, None, String::new()),
    };
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO works (id, creator_id, title, artists, artists_text, album, isrc, language, genre, explicit, \
             status, audio_key, audio_size, audio_sha256, audio_content_type, cover_key, cover_content_type, \
             lyrics, lyrics_format, lyrics_text, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'processing', $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)",
    )
    .bind(&work_id)
    .bind(new.creator_id)
    .bind(&meta.title)
    .bind(artists_json)
    .bind(meta.artists.join(", "))
    .bind(&meta.album)
    .bind(&meta.isrc)
    .bind(&meta.language)
    .bind(&meta.genre)
    .bind(i64::from(meta.explicit))
    .bind(keys::original(&work_id))
    .bind(size as i64)
    .bind(sha256)
    .bind(probe.content_type)
    .bind(new.cover.map(|_| keys::cover(&work_id)))
    .bind(new.cover.map(|(_, t)| t))
    .bind(lyrics)
    .bind(lyrics_format)
    .bind(lyrics_text)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    state
        .queue
        .enqueue_all(&mut tx, &state.registry, &work_id, now)
        .await?;
    // At this point the work and all its jobs become visible together.
    tx.commit().await?;
    state.wake.notify_waiters();
    tracing::info!(work = %work_id, size, "work ingested");
    Ok(work_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrc_cases() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(validate_isrc(input).ok().as_deref(), expected, "{input}");
        };
        check("GB-AYE-24-00001", Some("GBAYE2400001"));
        check("usrc17607839", Some("USRC17607839"));
        check("US-RC1-76-07839", Some("USRC17607839"));
        check("GBAYE240000", None);
        check("GBAYE24000012", None);
        check("1BAYE2400001", None);
        check("GB-AY!-24-00001", None);
        check("GBAYE2X00001", None);
        check("", None);
        check("'; DROP TABLE works; --", None);
    }

    #[test]
    fn language_cases() {
        for ok in ["en", "pt-BR", "zh-Hans", "yue", "sr-Latn-RS"] {
            assert!(validate_language(ok).is_ok(), "{ok}");
        }
        for bad in ["e", "english", "en_US", "en-", "-en", "en-x", "../etc"] {
            assert!(validate_language(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lyrics_formats() {
        assert_eq!(
            lyrics_plain_text("Hello\n\nworld\n"),
            ("plain", "Hello\nworld".to_string())
        );
        let lrc = "[ar:Someone]\n[ti:Song]\n[00:01.00]First line\n[00:05.50][01:05.50]Chorus <00:06.00>word\n";
        assert_eq!(
            lyrics_plain_text(lrc),
            ("lrc", "First line\nChorus word".to_string())
        );
        assert_eq!(
            lyrics_plain_text("[Chorus]\nla la"),
            ("plain", "[Chorus]\nla la".to_string())
        );
    }

    #[test]
    fn metadata_validation_names_the_field() {
        let mut m = WorkMetadata {
            title: "Song".into(),
            artists: vec!["A".into()],
            ..Default::default()
        };
        assert!(m.validate().is_ok());
        m.title = " ".into();
        assert!(m.validate().unwrap_err().to_string().starts_with("title"));
        m.title = "Song".into();
        m.artists.clear();
        assert!(m.validate().unwrap_err().to_string().starts_with("artists"));
        m.artists = vec!["A".into()];
        m.isrc = Some("nope".into());
        assert!(m.validate().unwrap_err().to_string().starts_with("isrc"));
    }

    proptest::proptest! {
        #[test]
        fn valid_isrcs_round_trip(cc in "[A-Z]{2}", reg in "[A-Z0-9]{3}", yy in "[0-9]{2}", n in "[0-9]{5}") {
            let dashed = format!("{cc}-{reg}-{yy}-{n}");
            proptest::prop_assert_eq!(validate_isrc(&dashed.to_lowercase()).ok(), Some(format!("{cc}{reg}{yy}{n}")));
        }

        #[test]
        fn lyrics_never_panic(text in ".{0,200}") {
            let _ = lyrics_plain_text(&text);
        }
    }
}
