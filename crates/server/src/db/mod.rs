//! Metadata storage: one sqlx `Any` pool over SQLite (default) or PostgreSQL.
//!
//! Queries are written once with `$1` placeholders, which both drivers accept, and only plain
//! types cross the boundary (`i64`, `f64`, `String`, `Option` of those): times are Unix
//! milliseconds, ids UUID strings, lists JSON text. The few statements whose syntax differs
//! (full-text search, the job claim) branch on [`Dialect`] in one place each.

mod migrate;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use migrate::{MigrateError, SCHEMA_VERSION, current_version, migrate};

/// Which SQL dialect the pool speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35+ with FTS5.
    Sqlite,
    /// PostgreSQL 12+.
    Postgres,
}

/// A connection pool plus its dialect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// The dialect behind it.
    pub dialect: Dialect,
}

impl Db {
    /// Connects and migrates. `url` is `sqlite://PATH?mode=rwc` or `postgres://...`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("unsupported database URL (expected sqlite:// or postgres://)");
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let db = Db { pool, dialect };
        migrate(&db).await?;
        Ok(db)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Builds a full-text query from free text: words of letters and digits only (so no query
/// syntax from the user ever reaches the engine), each a prefix match, all required.
/// Returns `None` when the text has no word.
pub fn search_query(dialect: Dialect, text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| w.to_lowercase())
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(match dialect {
        Dialect::Sqlite => words
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" AND "),
        Dialect::Postgres => words
            .iter()
            .map(|w| format!("{w}:*"))
            .collect::<Vec<_>>()
            .join(" & "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_query_keeps_only_words() {
        let check = |d, input: &str, expected: Option<&str>| {
            assert_eq!(search_query(d, input).as_deref(), expected, "{input:?}");
        };
        check(
            Dialect::Sqlite,
            "Hello, World",
            Some("\"hello\"* AND \"world\"*"),
        );
        check(Dialect::Postgres, "Hello, World", Some("hello:* & world:*"));
        check(
            Dialect::Sqlite,
            "'; DROP TABLE works; --",
            Some("\"drop\"* AND \"table\"* AND \"works\"*"),
        );
        check(
            Dialect::Postgres,
            "a\"b NEAR(c)",
            Some("a:* & b:* & near:* & c:*"),
        );
        check(Dialect::Sqlite, " \"*():-' ", None);
        check(Dialect::Postgres, "Café 東京", Some("café:* & 東京:*"));
    }

    proptest::proptest! {
        #[test]
        fn search_query_never_contains_syntax(text in ".{0,64}") {
            if let Some(q) = search_query(Dialect::Postgres, &text) {
                for part in q.split(" & ") {
                    let word = part.strip_suffix(":*").unwrap_or("");
                    proptest::prop_assert!(!word.is_empty() && word.chars().all(char::is_alphanumeric), "{q}");
                }
            }
        }
    }
}
