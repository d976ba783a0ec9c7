//! The PostgreSQL store, for indexes shared by many servers.
//!
//! Everything lives in one schema (chosen by the caller, so that several indexes or test runs
//! share a database): `meta(key, value)`, `works(id, name, duration_s, postings, removed)` and
//! `postings(hash, work, t)` with a B-tree index on `hash`. A batch is added in one transaction
//! (ids from a locked counter row, postings through `COPY`), so it is atomic and durable at
//! commit. A lookup is one statement (`hash = ANY($1)` joined with live works), hence one
//! snapshot. Removal sets a flag; compaction deletes flagged works' postings, then `VACUUM`s.
//! Unsigned hashes and times are stored bit-for-bit in `integer` columns.

use std::io::Write;
use std::sync::Mutex;

use postgres::{Client, NoTls};

use super::{Hit, NewWork, PostingStore, StoreStats, WorkId, WorkInfo, check_new_works};
use crate::{Error, Result};

/// Schema version of the PostgreSQL store.
pub const PG_FORMAT_VERSION: i64 = 1;

fn err(e: impl std::fmt::Display) -> Error {
    Error::store("postgres", e)
}

/// A PostgreSQL-backed posting store.
pub struct PgStore {
    url: String,
    schema: String,
    writer: Mutex<Client>,
    readers: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PgStore {
    /// Connects to `url` and opens (creating if needed) the index in `schema`, which must be a
    /// plain lower-case identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub fn open(url: &str, schema: &str) -> Result<Self> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(Error::Invalid(format!(
                "schema name {schema:?} must match [a-z_][a-z0-9_]* (at most 63 bytes)"
            )));
        }
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        let s = schema;
        let mut txn = client.transaction().map_err(err)?;
        // Serialise concurrent creators of the same schema.
        txn.execute("SELECT pg_advisory_xact_lock(hashtext($1)::bigint)", &[&s])
            .map_err(err)?;
        txn.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value bigint NOT NULL);
             CREATE TABLE IF NOT EXISTS {s}.works (id integer PRIMARY KEY, name text NOT NULL,
                 duration_s double precision NOT NULL, postings bigint NOT NULL,
                 removed boolean NOT NULL DEFAULT false);
             CREATE TABLE IF NOT EXISTS {s}.postings (hash integer NOT NULL,
                 work integer NOT NULL, t integer NOT NULL);
             CREATE INDEX IF NOT EXISTS postings_hash ON {s}.postings (hash);
             INSERT INTO {s}.meta VALUES ('format_version', {PG_FORMAT_VERSION}), ('next_id', 0)
                 ON CONFLICT (key) DO NOTHING;"
        ))
        .map_err(err)?;
        let row = txn
            .query_one(
                &format!("SELECT value FROM {s}.meta WHERE key = 'format_version'"),
                &[],
            )
            .map_err(err)?;
        let version: i64 = row.get(0);
        if version != PG_FORMAT_VERSION {
            return Err(Error::Version {
                found: version as u64,
                supported: PG_FORMAT_VERSION as u64,
            });
        }
        txn.commit().map_err(err)?;
        Ok(PgStore {
            url: url.to_string(),
            schema: schema.to_string(),
            writer: Mutex::new(client),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Drops the whole schema (every table of this index). Used by tests to clean up.
    pub fn destroy(&self) -> Result<()> {
        let mut w = self.writer.lock().map_err(|_| err("lock poisoned"))?;
        w.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .map_err(err)
    }

    /// Bytes used by the index's tables and indexes.
    pub fn size_bytes(&self) -> Result<u64> {
        let mut w = self.writer.lock().map_err(|_| err("lock poisoned"))?;
        let row = w
            .query_one(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relkind = 'r'",
                &[&self.schema],
            )
            .map_err(err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().map_err(|_| err("lock poisoned"))?.pop();
        let mut client = match pooled {
            Some(c) => c,
            None => Client::connect(&self.url, NoTls).map_err(err)?,
        };
        let out = f(&mut client);
        if out.is_ok()
            && !client.is_closed()
            && let Ok(mut pool) = self.readers.lock()
        {
            pool.push(client);
        }
        out
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Client>> {
        self.writer.lock().map_err(|_| err("lock poisoned"))
    }
}

impl PostingStore for PgStore {
    fn add_works(&self, works: &[NewWork]) -> Result<Vec<WorkId>> {
        check_new_works(works)?;
        let s = &self.schema;
        let mut client = self.writer()?;
        let mut txn = client.transaction().map_err(err)?;
        let n = works.len() as i64;
        let row = txn
            .query_one(
                &format!(
                    "UPDATE {s}.meta SET value = value + $1 WHERE key = 'next_id' RETURNING value"
                ),
                &[&n],
            )
            .map_err(err)?;
        let end: i64 = row.get(0);
        let first = end - n;
        if end > i64::from(u32::MAX) {
            return Err(err("work ids exhausted"));
        }
        let ids: Vec<WorkId> = (first..end).map(|i| i as WorkId).collect();
        let insert = txn
            .prepare(&format!(
                "INSERT INTO {s}.works (id, name, duration_s, postings) VALUES ($1, $2, $3, $4)"
            ))
            .map_err(err)?;
        for (w, &id) in works.iter().zip(&ids) {
            txn.execute(
                &insert,
                &[
                    &(id as i32),
                    &w.name,
                    &w.duration_s,
                    &(w.postings.len() as i64),
                ],
            )
            .map_err(err)?;
        }
        {
            let mut copy = txn
                .copy_in(&format!("COPY {s}.postings (hash, work, t) FROM STDIN"))
                .map_err(err)?;
            let mut buf = Vec::with_capacity(1 << 16);
            for (w, &id) in works.iter().zip(&ids) {
                for p in &w.postings {
                    writeln!(buf, "{}\t{}\t{}", p.hash as i32, id as i32, p.t as i32)
                        .map_err(err)?;
                    if buf.len() > 1 << 16 {
                        copy.write_all(&buf).map_err(err)?;
                        buf.clear();
                    }
                }
            }
            copy.write_all(&buf).map_err(err)?;
            copy.finish().map_err(err)?;
        }
        // At this point nothing is visible to readers; the commit publishes the whole batch.
        txn.commit().map_err(err)?;
        Ok(ids)
    }

    fn remove_work(&self, id: WorkId) -> Result<bool> {
        let s = &self.schema;
        let n = self
            .writer()?
            .execute(
                &format!("UPDATE {s}.works SET removed = true WHERE id = $1 AND NOT removed"),
                &[&(id as i32)],
            )
            .map_err(err)?;
        Ok(n > 0)
    }

    fn work(&self, id: WorkId) -> Result<Option<WorkInfo>> {
        let s = &self.schema;
        self.with_reader(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT id, name, duration_s, postings FROM {s}.works
                         WHERE id = $1 AND NOT removed"
                    ),
                    &[&(id as i32)],
                )
                .map_err(err)?;
            Ok(rows.first().map(row_to_work))
        })
    }

    fn works(&self) -> Result<Vec<WorkInfo>> {
        let s = &self.schema;
        self.with_reader(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT id, name, duration_s, postings FROM {s}.works
                         WHERE NOT removed ORDER BY id"
                    ),
                    &[],
                )
                .map_err(err)?;
            Ok(rows.iter().map(row_to_work).collect())
        })
    }

    fn lookup(&self, hashes: &[u32], out: &mut Vec<Hit>) -> Result<()> {
        if hashes.is_empty() {
            return Ok(());
        }
        let s = &self.schema;
        let keys: Vec<i32> = hashes.iter().map(|&h| h as i32).collect();
        self.with_reader(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT p.hash, p.work, p.t FROM {s}.postings p
                         JOIN {s}.works w ON w.id = p.work AND NOT w.removed
                         WHERE p.hash = ANY($1)"
                    ),
                    &[&keys],
                )
                .map_err(err)?;
            out.extend(rows.iter().map(|r| Hit {
                hash: r.get::<_, i32>(0) as u32,
                work: r.get::<_, i32>(1) as u32,
                t: r.get::<_, i32>(2) as u32,
            }));
            Ok(())
        })
    }

    fn compact(&self) -> Result<u64> {
        let s = &self.schema;
        let mut client = self.writer()?;
        let deleted = {
            let mut txn = client.transaction().map_err(err)?;
            let n = txn
                .execute(
                    &format!(
                        "DELETE FROM {s}.postings WHERE work IN
                         (SELECT id FROM {s}.works WHERE removed)"
                    ),
                    &[],
                )
                .map_err(err)?;
            txn.execute(&format!("DELETE FROM {s}.works WHERE removed"), &[])
                .map_err(err)?;
            // At this point the deletion is atomic; VACUUM below only returns space.
            txn.commit().map_err(err)?;
            n
        };
        client
            .batch_execute(&format!("VACUUM {s}.postings"))
            .map_err(err)?;
        Ok(deleted)
    }

    fn stats(&self) -> Result<StoreStats> {
        let s = &self.schema;
        self.with_reader(|c| {
            let row = c
                .query_one(
                    &format!(
                        "SELECT count(*) FILTER (WHERE NOT removed),
                                COALESCE(SUM(postings) FILTER (WHERE NOT removed), 0)::bigint,
                                count(*) FILTER (WHERE removed)
                         FROM {s}.works"
                    ),
                    &[],
                )
                .map_err(err)?;
            Ok(StoreStats {
                works: row.get::<_, i64>(0) as u64,
                postings: row.get::<_, i64>(1) as u64,
                pending_removals: row.get::<_, i64>(2) as u64,
            })
        })
    }
}

fn row_to_work(r: &postgres::Row) -> WorkInfo {
    WorkInfo {
        id: r.get::<_, i32>(0) as u32,
        name: r.get(1),
        duration_s: r.get(2),
        postings: r.get::<_, i64>(3) as u64,
    }
}
