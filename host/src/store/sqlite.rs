//! The SQLite backend of a workspace: one file, `workspace.db`, in the workspace's folder of the data
//! directory (WAL, `synchronous=FULL`). The rules are `sql.rs`'s; this file opens the file, keeps
//! its tables current and runs statements.

use super::sql::{Conn, Db, Row, SqlWorkspace, Val, WorkspaceConn};
use super::*;
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL, slug TEXT NOT NULL, yaml TEXT NOT NULL,
    updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
    PRIMARY KEY (kind, slug));
CREATE TABLE IF NOT EXISTS outbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, slug TEXT NOT NULL,
    op TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL, yaml TEXT);
CREATE INDEX IF NOT EXISTS outbound_resource ON outbound (kind, slug, seq);
CREATE TABLE IF NOT EXISTS change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, direction TEXT NOT NULL,
    kind TEXT NOT NULL, slug TEXT NOT NULL, commit_id TEXT, author TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, slug TEXT NOT NULL,
    commit_id TEXT NOT NULL, git_author TEXT NOT NULL, kept_yaml TEXT, kept_author TEXT NOT NULL,
    kept_op TEXT NOT NULL);
";

/// A workspace in SQLite.
pub type SqliteStore = SqlWorkspace<SqliteConn>;

/// The connection to a workspace's `workspace.db`, and its folder (for the edit lock).
pub struct SqliteConn {
    db: Connection,
    dir: PathBuf,
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(n) => ValueRef::Integer(*n),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

impl Db for &Connection {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        Ok(self.execute(sql, rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut q = self.prepare_cached(sql)?;
        let n = q.column_count();
        let rows = q.query_map(rusqlite::params_from_iter(params), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Val::Null,
                        ValueRef::Integer(v) => Val::Int(v),
                        ValueRef::Real(v) => Val::Int(v as i64),
                        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<Val>>>()
                .map(Row)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn now(&mut self) -> Result<String> {
        Ok(self.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| r.get(0))?)
    }

    /// AUTOINCREMENT keeps it in `sqlite_sequence` (`column` is the table's one such column).
    fn last_number(&mut self, table: &str, _column: &str) -> Result<i64> {
        let last: Option<i64> = self
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = ?1", params![table], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(last.unwrap_or(0))
    }

    fn set_last_number(&mut self, table: &str, _column: &str, n: i64) -> Result<()> {
        if self.execute("UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1", params![table, n])? == 0 {
            self.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                params![table, n],
            )?;
        }
        Ok(())
    }
}

/// A connection to a database file of the data directory, set up as every one is: private to its
/// owner, WAL with full sync (a crash never loses a committed change), and waiting for the other
/// writer instead of failing (the service writes from many requests and a pass at once, and the
/// CLI may too).
pub(super) fn open_database(path: &Path, wait: std::time::Duration) -> Result<Connection> {
    super::private::database(path)?;
    let db = Connection::open(path).with_context(|| format!("cannot open the store {}", path.display()))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.busy_timeout(wait)?;
    Ok(db)
}

/// Run `f` in one transaction that takes the write lock up front (IMMEDIATE), so a reader turning
/// writer never meets SQLITE_BUSY half-way and writers run one at a time.
pub(super) fn write<T>(db: &mut Connection, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let out = f(&mut &*tx)?;
    tx.commit()?;
    Ok(out)
}

impl Conn for SqliteConn {
    fn read<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        f(&mut &self.db)
    }

    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        write(&mut self.db, f)
    }
}

impl WorkspaceConn for SqliteConn {
    /// One machine's files: the pass lock file in the workspace's folder already keeps passes apart.
    fn lease_pass(&mut self, _wait: std::time::Duration) -> Result<PassLease> {
        Ok(PassLease::new(()))
    }

    fn lock_edits(&self) -> Result<EditLock> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("edit.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(EditLock::new(file))
    }
}

fn open_file(path: &Path) -> Result<Connection> {
    let db = open_database(path, std::time::Duration::from_secs(30))?;
    db.execute_batch(SCHEMA)?;
    // Stores made before change snapshots existed gain the column.
    let has_yaml: bool = db.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('outbound') WHERE name = 'yaml')",
        [],
        |r| r.get(0),
    )?;
    if !has_yaml {
        db.execute_batch("ALTER TABLE outbound ADD COLUMN yaml TEXT")?;
    }
    // ... and the reason a pass set a change aside.
    let has_held: bool = db.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('outbound') WHERE name = 'held')",
        [],
        |r| r.get(0),
    )?;
    if !has_held {
        db.execute_batch("ALTER TABLE outbound ADD COLUMN held TEXT")?;
    }
    // ... and each change's own id (see `QueuedChange::uid`).
    let has_uid: bool = db.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('outbound') WHERE name = 'uid')",
        [],
        |r| r.get(0),
    )?;
    if !has_uid {
        db.execute_batch("ALTER TABLE outbound ADD COLUMN uid TEXT")?;
    }
    Ok(db)
}

impl SqliteStore {
    /// Create a workspace with id `id` in the data directory `dir`.
    pub fn init(dir: &Path, id: &str) -> Result<SqliteStore> {
        check_id(id)?;
        super::private::folder(dir)?;
        let db = open_file(&dir.join("workspace.db"))?;
        let existing: Option<String> = db
            .query_row("SELECT value FROM meta WHERE key = 'workspace'", [], |r| r.get(0))
            .optional()?;
        if let Some(existing) = existing {
            bail!(
                "{} already holds workspace `{existing}`; one data directory holds one workspace",
                dir.display()
            );
        }
        db.execute("INSERT INTO meta (key, value) VALUES ('workspace', ?1)", params![id])?;
        Ok(SqlWorkspace {
            conn: SqliteConn {
                db,
                dir: dir.to_path_buf(),
            },
        })
    }

    /// Open the workspace in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        let path = dir.join("workspace.db");
        if !path.is_file() {
            bail!(
                "no workspace in {}; create one with `gitsync workspace init ID`",
                dir.display()
            );
        }
        Ok(SqlWorkspace {
            conn: SqliteConn {
                db: open_file(&path)?,
                dir: dir.to_path_buf(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Author {
        Author::parse("Ada Lovelace <ada@example.com>").unwrap()
    }

    #[test]
    fn changes_are_queued_and_logged_durably() {
        let dir = std::env::temp_dir().join(format!("gitsync-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = SqliteStore::init(&dir, "acme-dev").unwrap();
        assert!(
            SqliteStore::init(&dir, "other").is_err(),
            "one workspace per data directory"
        );
        s.add_endpoint(
            EndpointKind::Source,
            &Endpoint {
                id: "pg".into(),
                name: "PG".into(),
                kind: "postgres".into(),
            },
        )
        .unwrap();
        assert!(
            s.add_endpoint(
                EndpointKind::Source,
                &Endpoint {
                    id: "pg".into(),
                    name: "x".into(),
                    kind: "y".into()
                }
            )
            .is_err()
        );
        s.put("model", "orders", "name: Orders\n", &author()).unwrap();
        s.put("model", "orders", "name: Open orders\n", &author()).unwrap();
        assert!(s.delete("model", "orders", &author()).unwrap());
        assert!(!s.delete("model", "orders", &author()).unwrap());
        drop(s);
        // Reopened: nothing lost.
        let s = SqliteStore::open(&dir).unwrap();
        assert_eq!(s.workspace_id().unwrap(), "acme-dev");
        let q: Vec<(String, String)> = s
            .outbound_queue()
            .unwrap()
            .into_iter()
            .map(|c| (c.op, c.slug))
            .collect();
        assert_eq!(
            q,
            [
                ("put".into(), "orders".into()),
                ("put".into(), "orders".into()),
                ("delete".into(), "orders".into())
            ]
        );
        let log = s.log(10).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(
            (log[0].direction.as_str(), log[0].outcome.as_str()),
            ("OUTBOUND", "queued delete")
        );
        assert_eq!(s.endpoints(EndpointKind::Source).unwrap()[0].id, "pg");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
