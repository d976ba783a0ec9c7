//! Numbered schema migrations for SQLite and PostgreSQL.
//!
//! Each migration has one script per dialect and runs in its own transaction together with the
//! update of `schema_version`, so a crash leaves the schema at a whole version. A database whose
//! version is newer than this binary knows is refused (no silent downgrade).

use sqlx::Row;

use super::{Db, Dialect};

/// One schema step.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// The latest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 3;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts, works, jobs, search",
        sqlite: include_str!("sql/0001_sqlite.sql"),
        postgres: include_str!("sql/0001_postgres.sql"),
    },
    Migration {
        version: 2,
        name: "fingerprint entries, registry log, creator keys",
        sqlite: include_str!("sql/0002_sqlite.sql"),
        postgres: include_str!("sql/0002_postgres.sql"),
    },
    Migration {
        version: 3,
        name: "care mode preference",
        sqlite: include_str!("sql/0003_sqlite.sql"),
        postgres: include_str!("sql/0003_postgres.sql"),
    },
];

/// Errors from migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database was written by a newer Encore.
    #[error(
        "the database schema is at version {found}, newer than this binary's {known}; refusing to downgrade"
    )]
    Downgrade {
        /// Version in the database.
        found: i64,
        /// Latest version known here.
        known: i64,
    },
    /// A statement failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// Reading the version failed.
    #[error("reading the schema version failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Splits a script into statements at lines that end with `;`. Trigger bodies in the SQLite
/// script end their inner statements with `;` followed by more text on the line, so they survive.
fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_block = false;
    for line in script.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.to_ascii_uppercase().ends_with("BEGIN") {
            in_block = true;
        }
        let ends = if in_block {
            trimmed.eq_ignore_ascii_case("END;")
        } else {
            trimmed.ends_with(';')
        };
        if ends {
            in_block = false;
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Brings the schema up to [`SCHEMA_VERSION`].
pub async fn migrate(db: &Db) -> Result<i64, MigrateError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&db.pool)
    .await?;
    let current = current_version(db).await?;
    if current > SCHEMA_VERSION {
        return Err(MigrateError::Downgrade {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let script = match db.dialect {
            Dialect::Sqlite => m.sqlite,
            Dialect::Postgres => m.postgres,
        };
        let fail = |source| MigrateError::Failed {
            version: m.version,
            name: m.name,
            source,
        };
        let mut tx = db.pool.begin().await.map_err(fail)?;
        // Another process may have migrated meanwhile: re-check inside the transaction.
        if db.dialect == Dialect::Postgres {
            sqlx::query("LOCK TABLE schema_version IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        let now_version: Option<i64> =
            sqlx::query("SELECT CAST(MAX(version) AS BIGINT) AS v FROM schema_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?
                .try_get("v")
                .map_err(fail)?;
        if now_version.unwrap_or(0) >= m.version {
            continue;
        }
        for stmt in statements(script) {
            sqlx::query(sqlx::AssertSqlSafe(stmt.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(m.version)
            .bind(super::now_ms())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        // At this point the migration and its version number become durable together.
        tx.commit().await.map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "schema migrated");
    }
    current_version(db).await.map_err(Into::into)
}

/// The schema version recorded in the database (0 when empty).
pub async fn current_version(db: &Db) -> Result<i64, sqlx::Error> {
    let v: Option<i64> =
        sqlx::query("SELECT CAST(MAX(version) AS BIGINT) AS v FROM schema_version")
            .fetch_one(&db.pool)
            .await?
            .try_get("v")?;
    Ok(v.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_bodies_stay_whole() {
        let script = "CREATE TABLE a (x INT);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO b VALUES (1);\n  INSERT INTO c VALUES (2);\nEND;\n-- comment\nCREATE INDEX i ON a (x);\n";
        let s = statements(script);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[1].contains("INSERT INTO c"));
    }

    #[test]
    fn every_migration_has_both_dialects() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "migrations are numbered 1, 2, ...");
            assert!(!statements(m.sqlite).is_empty());
            assert!(!statements(m.postgres).is_empty());
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
