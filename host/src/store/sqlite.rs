//! The SQLite backend of a workspace: one file, `workspace.db`, in the workspace's folder of the data
//! directory (WAL, `synchronous=FULL`).

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

/// A `resources` row selected as `kind, slug, yaml, updated_at, updated_by`.
fn resource_row(r: &rusqlite::Row) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        kind: r.get(0)?,
        slug: r.get(1)?,
        yaml: r.get(2)?,
        updated_at: r.get(3)?,
        updated_by: r.get(4)?,
    })
}

fn set_last_applied(tx: &rusqlite::Transaction, commit: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('git.last_applied', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![commit],
    )?;
    Ok(())
}

/// The default backend: `<data>/workspace.db`.
pub struct SqliteStore {
    db: Connection,
    dir: PathBuf,
}

fn now(db: &Connection) -> Result<String> {
    Ok(db.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| r.get(0))?)
}

impl SqliteStore {
    fn open_file(path: &Path) -> Result<Connection> {
        super::private::database(path)?;
        let db =
            Connection::open(path).with_context(|| format!("cannot open the workspace store {}", path.display()))?;
        // WAL + full sync: a crash never loses a committed change.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        // The service writes from many requests and a pass at once (and the CLI may too): wait for
        // the other writer instead of failing. Write transactions take the lock up front
        // (IMMEDIATE), so a reader turning writer never meets SQLITE_BUSY half-way.
        db.busy_timeout(std::time::Duration::from_secs(30))?;
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

    /// Create a workspace with id `id` in the data directory `dir`.
    pub fn init(dir: &Path, id: &str) -> Result<SqliteStore> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            bail!("workspace id `{id}` must be letters, digits, `-` or `_` (it names manifest-{id}.yaml)");
        }
        super::private::folder(dir)?;
        let path = dir.join("workspace.db");
        let db = Self::open_file(&path)?;
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
        Ok(SqliteStore {
            db,
            dir: dir.to_path_buf(),
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
        Ok(SqliteStore {
            db: Self::open_file(&path)?,
            dir: dir.to_path_buf(),
        })
    }

    fn record(
        tx: &rusqlite::Transaction,
        kind: &str,
        slug: &str,
        op: &str,
        yaml: Option<&str>,
        author: &Author,
    ) -> Result<()> {
        let at = now(tx)?;
        let uid = crate::secret::random_hex(12)?;
        tx.execute(
            "INSERT INTO outbound (kind, slug, op, author, at, yaml, uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![kind, slug, op, author.to_string(), at, yaml, uid],
        )?;
        tx.execute(
            "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, 'OUTBOUND', ?2, ?3, NULL, ?4, ?5)",
            params![at, kind, slug, author.to_string(), if op == "put" { "queued" } else { "queued delete" }],
        )?;
        Ok(())
    }
}

impl WorkspaceStore for SqliteStore {
    fn workspace_id(&self) -> Result<String> {
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'workspace'", [], |r| r.get(0))?)
    }

    fn instance_id(&self) -> Result<String> {
        let found: Option<String> = self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| r.get(0))
            .optional()?;
        if let Some(id) = found {
            return Ok(id);
        }
        // A store made before instances existed gets its id on first use.
        let id = format!("wsi_{}", crate::secret::random_hex(8)?);
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?1)",
            params![id],
        )?;
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| r.get(0))?)
    }

    fn add_endpoint(&mut self, kind: EndpointKind, e: &Endpoint) -> Result<()> {
        let exists: bool = self.db.query_row(
            "SELECT EXISTS(SELECT 1 FROM endpoints WHERE kind = ?1 AND id = ?2)",
            params![kind.as_str(), e.id],
            |r| r.get(0),
        )?;
        if exists {
            bail!("{} `{}` already exists in this workspace", kind.as_str(), e.id);
        }
        self.db.execute(
            "INSERT INTO endpoints (kind, id, name, type) VALUES (?1, ?2, ?3, ?4)",
            params![kind.as_str(), e.id, e.name, e.kind],
        )?;
        Ok(())
    }

    fn endpoints(&self, kind: EndpointKind) -> Result<Vec<Endpoint>> {
        let mut q = self
            .db
            .prepare("SELECT id, name, type FROM endpoints WHERE kind = ?1 ORDER BY id")?;
        let rows = q.query_map(params![kind.as_str()], |r| {
            Ok(Endpoint {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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

    fn remove_endpoint(&mut self, kind: EndpointKind, id: &str) -> Result<bool> {
        Ok(self.db.execute(
            "DELETE FROM endpoints WHERE kind = ?1 AND id = ?2",
            params![kind.as_str(), id],
        )? > 0)
    }

    fn put(&mut self, kind: &str, slug: &str, yaml: &str, author: &Author) -> Result<()> {
        self.put_many(&[(kind.to_string(), slug.to_string(), yaml.to_string())], author)
    }

    fn put_many(&mut self, items: &[(String, String, String)], author: &Author) -> Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now(&tx)?;
        for (kind, slug, yaml) in items {
            // A resource only ever has a path the layout allows (the store is the last line).
            gitsync_core::layout::resource_path(kind, slug).map_err(anyhow::Error::msg)?;
            tx.execute(
                "INSERT INTO resources (kind, slug, yaml, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, slug) DO UPDATE SET yaml = excluded.yaml, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                params![kind, slug, yaml, at, author.to_string()],
            )?;
            Self::record(&tx, kind, slug, "put", Some(yaml), author)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, kind: &str, slug: &str) -> Result<Option<StoredResource>> {
        Ok(self
            .db
            .query_row(
                "SELECT kind, slug, yaml, updated_at, updated_by FROM resources WHERE kind = ?1 AND slug = ?2",
                params![kind, slug],
                resource_row,
            )
            .optional()?)
    }

    fn list(&self, kind: Option<&str>) -> Result<Vec<StoredResource>> {
        let mut q = self.db.prepare(
            "SELECT kind, slug, yaml, updated_at, updated_by FROM resources WHERE ?1 IS NULL OR kind = ?1 ORDER BY kind, slug",
        )?;
        let rows = q.query_map(params![kind], resource_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete(&mut self, kind: &str, slug: &str, author: &Author) -> Result<bool> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let before: Option<String> = tx
            .query_row(
                "DELETE FROM resources WHERE kind = ?1 AND slug = ?2 RETURNING yaml",
                params![kind, slug],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(yaml) = &before {
            Self::record(&tx, kind, slug, "delete", Some(yaml), author)?;
        }
        tx.commit()?;
        Ok(before.is_some())
    }

    fn outbound_queue(&self) -> Result<Vec<QueuedChange>> {
        let mut q = self
            .db
            .prepare("SELECT seq, kind, slug, op, author, at, yaml, held, uid FROM outbound ORDER BY seq")?;
        let rows = q.query_map([], |r| {
            Ok(QueuedChange {
                seq: r.get(0)?,
                kind: r.get(1)?,
                slug: r.get(2)?,
                op: r.get(3)?,
                author: r.get(4)?,
                at: r.get(5)?,
                yaml: r.get(6)?,
                set_aside: r.get(7)?,
                uid: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn queue_mark(&self) -> Result<(i64, usize)> {
        let last: Option<i64> = self
            .db
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'outbound'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let len: i64 = self.db.query_row("SELECT count(*) FROM outbound", [], |r| r.get(0))?;
        Ok((last.unwrap_or(0), len as usize))
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![format!("git.{key}")],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_settings(&mut self, settings: &[(&str, String)]) -> Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (i, (key, value)) in settings.iter().enumerate() {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![format!("git.{key}"), value],
            )?;
            if i == 0 {
                crate::failpoint::hit("mid-settings");
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn complete(&mut self, done: &[(i64, Done)], head: &str) -> Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now(&tx)?;
        for (seq, commit) in done {
            let row: Option<(String, String, String, String)> = tx
                .query_row(
                    "SELECT kind, slug, op, author FROM outbound WHERE seq = ?1",
                    params![seq],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((kind, slug, op, author)) = row else { continue };
            tx.execute("DELETE FROM outbound WHERE seq = ?1", params![seq])?;
            let (commit, outcome) = match (commit, op.as_str()) {
                (Done::NoChange, _) => (None, "no change".to_string()),
                (Done::Superseded(by), _) => (None, format!("superseded by change #{by}, which went out")),
                (Done::Commit(c), "put") => (Some(c.as_str()), "pushed".to_string()),
                (Done::Commit(c), _) => (Some(c.as_str()), "pushed delete".to_string()),
            };
            tx.execute(
                "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, 'OUTBOUND', ?2, ?3, ?4, ?5, ?6)",
                params![at, kind, slug, commit, author, outcome],
            )?;
        }
        set_last_applied(&tx, head)?;
        tx.commit()?;
        Ok(())
    }

    fn last_applied(&self) -> Result<Option<String>> {
        self.setting("last_applied")
    }

    fn apply_inbound(&mut self, c: &InboundCommit) -> Result<Applied> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now(&tx)?;
        let mut out = Applied::default();
        for (kind, slug, what) in &c.changes {
            let outcome = match what {
                Inbound::Apply(yaml) => {
                    let current: Option<String> = tx
                        .query_row(
                            "SELECT yaml FROM resources WHERE kind = ?1 AND slug = ?2",
                            params![kind, slug],
                            |r| r.get(0),
                        )
                        .optional()?;
                    // The queued changes say what the workspace did since the last pass.
                    let queued: Vec<(i64, String, Option<String>, String)> = {
                        let mut q = tx.prepare(
                            "SELECT seq, op, yaml, author FROM outbound WHERE kind = ?1 AND slug = ?2 ORDER BY seq",
                        )?;
                        let rows = q.query_map(params![kind, slug], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                        })?;
                        rows.collect::<rusqlite::Result<_>>()?
                    };
                    if current.as_deref() == Some(yaml.as_str()) {
                        out.unchanged += 1;
                        if c.quiet_unchanged {
                            continue;
                        }
                        "unchanged".to_string()
                    } else {
                        tx.execute(
                            "INSERT INTO resources (kind, slug, yaml, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (kind, slug) DO UPDATE SET yaml = excluded.yaml, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                            params![kind, slug, yaml, at, c.author],
                        )?;
                        out.applied += 1;
                        if queued.is_empty() {
                            "applied".to_string()
                        } else {
                            // Git wins over every queued change of the resource; each version is kept
                            // as a conflict of its own (none is lost), and each change's log ends there.
                            let mut ids = Vec::new();
                            let mut by: Vec<&str> = Vec::new();
                            let last = queued.len() - 1;
                            for (i, (seq, op, kept, kept_author)) in queued.iter().enumerate() {
                                let kept = if op == "put" && i == last {
                                    current.clone().or(kept.clone())
                                } else {
                                    kept.clone()
                                };
                                tx.execute(
                                    "INSERT INTO conflicts (at, kind, slug, commit_id, git_author, kept_yaml, kept_author, kept_op)
                                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                    params![at, kind, slug, c.commit, c.author, kept, kept_author, op],
                                )?;
                                let id = tx.last_insert_rowid();
                                tx.execute("DELETE FROM outbound WHERE seq = ?1", params![seq])?;
                                tx.execute(
                                    "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, 'OUTBOUND', ?2, ?3, ?4, ?5, ?6)",
                                    params![at, kind, slug, c.commit, kept_author, format!("lost to Git's change; kept as conflict #{id}")],
                                )?;
                                out.conflicts.push(Conflict {
                                    id,
                                    at: at.clone(),
                                    kind: kind.clone(),
                                    slug: slug.clone(),
                                    commit: c.commit.clone(),
                                    git_author: c.author.clone(),
                                    kept_yaml: kept,
                                    kept_author: kept_author.clone(),
                                    kept_op: op.clone(),
                                });
                                ids.push(format!("#{id}"));
                                if !by.contains(&kept_author.as_str()) {
                                    by.push(kept_author);
                                }
                            }
                            if ids.len() == 1 {
                                format!(
                                    "applied; conflict {}: Git won over the workspace change by {}, kept (see `gitsync conflicts`)",
                                    ids[0], by[0]
                                )
                            } else {
                                format!(
                                    "applied; conflicts {}: Git won over {} workspace changes by {}, each kept (see `gitsync conflicts`)",
                                    ids.join(", "),
                                    ids.len(),
                                    by.join(" and ")
                                )
                            }
                        }
                    }
                }
                Inbound::Unchanged => {
                    out.unchanged += 1;
                    if c.quiet_unchanged {
                        continue;
                    }
                    "unchanged".to_string()
                }
                Inbound::Skipped(reason) => {
                    out.skipped += 1;
                    format!("skipped: {reason}")
                }
                Inbound::DeletedInGit => {
                    "deleted in Git: kept in the workspace; the file returns on its next change or a resync".to_string()
                }
                Inbound::Ignored(why) => format!("ignored: {why}"),
            };
            tx.execute(
                "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, 'INBOUND', ?2, ?3, ?4, ?5, ?6)",
                params![at, kind, slug, c.commit, c.author, outcome],
            )?;
        }
        set_last_applied(&tx, &c.commit)?;
        crate::failpoint::hit("mid-apply");
        tx.commit()?;
        Ok(out)
    }

    fn set_aside(&mut self, seq: i64, reason: &str) -> Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now(&tx)?;
        let changed = tx.execute(
            "UPDATE outbound SET held = ?2 WHERE seq = ?1 AND (held IS NULL OR held != ?2)",
            params![seq, reason],
        )?;
        if changed > 0 {
            tx.execute(
                "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome)
                 SELECT ?1, 'OUTBOUND', kind, slug, NULL, author, ?3 FROM outbound WHERE seq = ?2",
                params![at, seq, format!("set aside (change #{seq} stays queued): {reason}")],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn resynced(&mut self, commit: &str, author: &str, upto: i64, kept: &[i64]) -> Result<()> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now(&tx)?;
        let went: Vec<i64> = {
            let mut q = tx.prepare("SELECT seq FROM outbound WHERE seq <= ?1 ORDER BY seq")?;
            let rows = q.query_map(params![upto], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<i64>>>()?
                .into_iter()
                .filter(|seq| !kept.contains(seq))
                .collect()
        };
        for seq in went {
            tx.execute(
                "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome)
                 SELECT ?1, 'OUTBOUND', kind, slug, ?2, author, 'pushed in full resync' FROM outbound WHERE seq = ?3",
                params![at, commit, seq],
            )?;
            tx.execute("DELETE FROM outbound WHERE seq = ?1", params![seq])?;
        }
        tx.execute(
            "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, 'OUTBOUND', 'workspace', '*', ?2, ?3, 'full resync: every resource written')",
            params![at, commit, author],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut q = self.db.prepare(
            "SELECT id, at, kind, slug, commit_id, git_author, kept_yaml, kept_author, kept_op FROM conflicts ORDER BY id DESC",
        )?;
        let rows = q.query_map([], |r| {
            Ok(Conflict {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                slug: r.get(3)?,
                commit: r.get(4)?,
                git_author: r.get(5)?,
                kept_yaml: r.get(6)?,
                kept_author: r.get(7)?,
                kept_op: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn log_before(&self, before: Option<i64>, limit: usize) -> Result<Vec<LogEntry>> {
        let mut q = self.db.prepare(
            "SELECT seq, at, direction, kind, slug, commit_id, author, outcome FROM change_log
             WHERE seq < ?2 ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = q.query_map(params![limit as i64, before.unwrap_or(i64::MAX)], |r| {
            Ok(LogEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                direction: r.get(2)?,
                kind: r.get(3)?,
                slug: r.get(4)?,
                commit: r.get(5)?,
                author: r.get(6)?,
                outcome: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Author {
        Author::parse("Ada Lovelace <ada@example.com>").unwrap()
    }

    #[test]
    fn authors_parse() {
        assert_eq!(author().to_string(), "Ada Lovelace <ada@example.com>");
        assert!(Author::parse("ada@example.com").is_err());
        assert!(Author::parse("Ada <not an email>").is_err());
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
