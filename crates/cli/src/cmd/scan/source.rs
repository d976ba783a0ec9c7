//! What `encore scan` reads: files found under the given paths, classified as text, SQLite or
//! binary, and the text cells of SQLite databases. Nothing here ever writes to an input.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// One file to scan, with the path it is reported under.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file on disk.
    pub path: PathBuf,
    /// Path relative to the argument it was found under (for `--mask` output).
    pub relative: PathBuf,
    /// Size in bytes.
    pub len: u64,
}

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Text,
    Sqlite,
    Binary,
}

/// Walks every argument (folders recursively, in sorted order) and lists the files.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for root in paths {
        let meta =
            std::fs::metadata(root).with_context(|| format!("cannot read {}", root.display()))?;
        if meta.is_file() {
            let name = root
                .file_name()
                .map_or_else(|| PathBuf::from("input"), PathBuf::from);
            out.push(Input {
                path: root.clone(),
                relative: name,
                len: meta.len(),
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.with_context(|| format!("cannot walk {}", root.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let inside = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let relative = root
                .file_name()
                .map_or_else(|| inside.to_path_buf(), |n| Path::new(n).join(inside));
            out.push(Input {
                path: entry.path().to_path_buf(),
                relative,
                len,
            });
        }
    }
    Ok(out)
}

/// Looks at the first bytes: the SQLite header, or a NUL byte (binary), or text.
pub fn classify(path: &Path) -> anyhow::Result<FileKind> {
    let mut head = [0u8; 8192];
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut n = 0;
    while n < head.len() {
        let k = f
            .read(&mut head[n..])
            .with_context(|| format!("cannot read {}", path.display()))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(FileKind::Sqlite);
    }
    if head.contains(&0) {
        return Ok(FileKind::Binary);
    }
    Ok(FileKind::Text)
}

/// One text cell of a database.
#[derive(Debug, Clone)]
pub struct Cell {
    /// `table/rowid/column`.
    pub locator: String,
    pub table: String,
    pub column: String,
    pub rowid: i64,
    /// False for `WITHOUT ROWID` tables, where `rowid` is only the row's position.
    pub has_rowid: bool,
    pub text: Vec<u8>,
}

/// Opens a database strictly read-only. `immutable=1` (no locks, no journal, no WAL replay)
/// unless a `-wal` file beside it holds changes that only a normal read-only open would see.
pub fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    };
    let abs = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let mut uri = String::from("file:");
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(b)),
        }
    }
    uri.push_str(if wal.exists() {
        "?mode=ro"
    } else {
        "?mode=ro&immutable=1"
    });
    Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("cannot open SQLite database {}", path.display()))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every text cell of every table (rowid tables; `WITHOUT ROWID` tables use the row's position).
pub fn sqlite_cells(
    path: &Path,
    mut each: impl FnMut(Cell) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let conn = open_read_only(path)?;
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .with_context(|| format!("{}: cannot list tables", path.display()))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for table in tables {
        let with_rowid = conn.prepare(&format!("SELECT rowid, * FROM {}", quote(&table)));
        let (mut stmt, has_rowid) = match with_rowid {
            Ok(s) => (s, true),
            Err(_) => (
                conn.prepare(&format!("SELECT * FROM {}", quote(&table)))?,
                false,
            ),
        };
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let first = usize::from(has_rowid);
        let mut rows = stmt
            .query([])
            .with_context(|| format!("{}: cannot read table {table}", path.display()))?;
        let mut position = 0i64;
        while let Some(row) = rows.next()? {
            position += 1;
            let rowid = if has_rowid {
                row.get::<_, i64>(0)?
            } else {
                position
            };
            for (k, name) in names.iter().enumerate().skip(first) {
                if let ValueRef::Text(t) = row.get_ref(k)? {
                    each(Cell {
                        locator: format!("{table}/{rowid}/{name}"),
                        table: table.clone(),
                        column: name.clone(),
                        rowid,
                        has_rowid,
                        text: t.to_vec(),
                    })?;
                }
            }
        }
    }
    Ok(())
}
