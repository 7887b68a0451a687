//! The store's rules, once, in SQL both backends run: a workspace's tables are the same in SQLite (a
//! file per workspace) and PostgreSQL (a schema per workspace), and so is every statement. A backend
//! only says how a statement runs (`Db`), how a write transaction starts (`Conn::write`: one writer
//! per workspace at a time), what the time is and how an edit lock is held.
//!
//! Statements are constants with numbered parameters (`?1`); values are always bound, never written
//! into the text.

use super::*;
use anyhow::{Context, Result, bail};

/// A value bound to a statement or read from a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(s.to_string())
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Val {
        Val::Text(s.clone())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(n: i64) -> Val {
        Val::Int(n)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Int(i64::from(b))
    }
}
impl From<Vec<u8>> for Val {
    fn from(b: Vec<u8>) -> Val {
        Val::Bytes(b)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// Bind values: `vals![a, b]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$(Val::from($v)),*] };
}
pub(super) use vals;

/// One row of a result.
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.with_context(|| format!("column {i} is NULL"))
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.0.get(i) {
            Some(Val::Text(s)) => Ok(Some(s.clone())),
            Some(Val::Null) => Ok(None),
            other => bail!("column {i} is not text: {other:?}"),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        match self.0.get(i) {
            Some(Val::Int(n)) => Ok(*n),
            other => bail!("column {i} is not an integer: {other:?}"),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        match self.0.get(i) {
            Some(Val::Bytes(b)) => Ok(b.clone()),
            other => bail!("column {i} is not bytes: {other:?}"),
        }
    }
}

/// Where statements run: a connection, or a transaction on one.
pub trait Db {
    /// Run a statement; how many rows it changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Run a query; its rows.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>>;
    /// The time now, as the store writes it: UTC, RFC 3339 with milliseconds.
    fn now(&mut self) -> Result<String>;
    /// The last number `table` gave its rows (`column`), deleted rows included (0: none yet).
    fn last_number(&mut self, table: &str, column: &str) -> Result<i64>;
    /// Make `table` go on numbering after `n` (a copied store keeps its numbers).
    fn set_last_number(&mut self, table: &str, column: &str, n: i64) -> Result<()>;

    fn first(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A backend's connection to a set of tables (one workspace's, or the access records).
pub trait Conn: Send {
    /// Run `f` on the connection (reads; a statement is its own transaction).
    fn read<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T>;
    /// Run `f` in one transaction, committed when it returns `Ok`; write transactions of one
    /// workspace run one at a time, so a transaction that reads then writes sees no other write
    /// land in between.
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T>;
}

/// A connection to one workspace's tables.
pub trait WorkspaceConn: Conn {
    /// See `WorkspaceStore::lease_pass`.
    fn lease_pass(&mut self, wait: std::time::Duration) -> Result<PassLease>;
    /// Held while one change is checked and written (see `WorkspaceStore::lock_edits`).
    fn lock_edits(&self) -> Result<EditLock>;
}

/// A table as `store copy` moves it: its name, columns, and the column the table numbers itself.
pub type TableSpec = (&'static str, &'static [&'static str], Option<&'static str>);

/// A workspace's tables.
pub const WORKSPACE_TABLES: &[TableSpec] = &[
    ("meta", &["key", "value"], None),
    ("endpoints", &["kind", "id", "name", "type"], None),
    ("resources", &["kind", "slug", "yaml", "updated_at", "updated_by"], None),
    (
        "outbound",
        &["seq", "kind", "slug", "op", "author", "at", "yaml", "held", "uid"],
        Some("seq"),
    ),
    (
        "change_log",
        &[
            "seq",
            "at",
            "direction",
            "kind",
            "slug",
            "commit_id",
            "author",
            "outcome",
        ],
        Some("seq"),
    ),
    (
        "conflicts",
        &[
            "id",
            "at",
            "kind",
            "slug",
            "commit_id",
            "git_author",
            "kept_yaml",
            "kept_author",
            "kept_op",
        ],
        Some("id"),
    ),
];

/// The access records' tables.
pub const ACCESS_TABLES: &[TableSpec] = &[
    (
        "tokens",
        &["id", "hash", "author", "scopes", "read_only", "created_at"],
        None,
    ),
    ("webhook_secrets", &["workspace", "secret"], None),
    ("sessions", &["hash", "token_id", "expires_at"], None),
];

/// Every row of `tables`, in the order of their first column, with each numbering's last number.
pub fn dump(db: &mut dyn Db, tables: &[TableSpec]) -> Result<Vec<Table>> {
    tables
        .iter()
        .map(|(name, columns, numbered)| {
            // Names from the constants above, never input.
            let sql = format!(
                "SELECT {} FROM {name} ORDER BY {}",
                columns.join(", "),
                columns.join(", ")
            );
            Ok(Table {
                name: name.to_string(),
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows: db.query(&sql, &[])?.into_iter().map(|r| r.0).collect(),
                last: numbered.map(|c| db.last_number(name, c)).transpose()?,
            })
        })
        .collect()
}

/// Replace the rows of `tables` with `dumped`'s (in one transaction, the caller's), numberings
/// included.
pub fn load(db: &mut dyn Db, tables: &[TableSpec], dumped: &[Table]) -> Result<()> {
    for (name, columns, numbered) in tables {
        let t = dumped
            .iter()
            .find(|t| t.name == *name)
            .with_context(|| format!("the copy has no table {name}"))?;
        if t.columns.iter().map(String::as_str).ne(columns.iter().copied()) {
            bail!("table {name} has columns {:?}; this gitsync has {columns:?}", t.columns);
        }
        db.exec(&format!("DELETE FROM {name}"), &[])?;
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            columns.join(", "),
            marks.join(", ")
        );
        for row in &t.rows {
            db.exec(&sql, row)?;
        }
        if let (Some(column), Some(last)) = (numbered, t.last) {
            db.set_last_number(name, column, last)?;
        }
    }
    Ok(())
}

/// A workspace's store on a backend's connection: every rule of `WorkspaceStore`, in SQL.
pub struct SqlWorkspace<C: WorkspaceConn> {
    pub(super) conn: C,
}

fn resource(r: &Row) -> Result<StoredResource> {
    Ok(StoredResource {
        kind: r.text(0)?,
        slug: r.text(1)?,
        yaml: r.text(2)?,
        updated_at: r.text(3)?,
        updated_by: r.text(4)?,
    })
}

fn set_last_applied(db: &mut dyn Db, commit: &str) -> Result<()> {
    db.exec(
        "INSERT INTO meta (key, value) VALUES ('git.last_applied', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        vals![commit],
    )?;
    Ok(())
}

/// A change log line about resource `(kind, slug)`.
fn log(
    db: &mut dyn Db,
    at: &str,
    direction: &str,
    (kind, slug): (&str, &str),
    commit: Option<&str>,
    author: &str,
    outcome: &str,
) -> Result<()> {
    db.exec(
        "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vals![at, direction, kind, slug, commit, author, outcome],
    )?;
    Ok(())
}

/// Queue a change and log it.
fn record(db: &mut dyn Db, kind: &str, slug: &str, op: &str, yaml: Option<&str>, author: &Author) -> Result<()> {
    let at = db.now()?;
    let uid = crate::secret::random_hex(12)?;
    db.exec(
        "INSERT INTO outbound (kind, slug, op, author, at, yaml, uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vals![kind, slug, op, author.to_string(), &at, yaml, uid],
    )?;
    let outcome = if op == "put" { "queued" } else { "queued delete" };
    log(db, &at, "OUTBOUND", (kind, slug), None, &author.to_string(), outcome)
}

fn meta(db: &mut dyn Db, key: &str) -> Result<Option<String>> {
    db.first("SELECT value FROM meta WHERE key = ?1", vals![key])?
        .map(|r| r.text(0))
        .transpose()
}

/// What `queue_mark` reads from a workspace's `outbound` table, in one statement: the highest
/// number queued (0: none) and how many are queued.
pub const QUEUE_MARK: &str = "coalesce(max(seq), 0), count(*)";

impl<C: WorkspaceConn> WorkspaceStore for SqlWorkspace<C> {
    fn workspace_id(&self) -> Result<String> {
        self.conn
            .read(|db| meta(db, "workspace")?.context("the store names no workspace"))
    }

    fn instance_id(&self) -> Result<String> {
        if let Some(id) = self.conn.read(|db| meta(db, "instance"))? {
            return Ok(id);
        }
        // A store made before instances existed gets its id on first use.
        let id = format!("wsi_{}", crate::secret::random_hex(8)?);
        self.conn.read(|db| {
            db.exec(
                "INSERT INTO meta (key, value) VALUES ('instance', ?1) ON CONFLICT (key) DO NOTHING",
                vals![id],
            )?;
            meta(db, "instance")?.context("the instance id was not kept")
        })
    }

    fn add_endpoint(&mut self, kind: EndpointKind, e: &Endpoint) -> Result<()> {
        self.conn.write(|db| {
            if db
                .first(
                    "SELECT 1 FROM endpoints WHERE kind = ?1 AND id = ?2",
                    vals![kind.as_str(), &e.id],
                )?
                .is_some()
            {
                bail!("{} `{}` already exists in this workspace", kind.as_str(), e.id);
            }
            db.exec(
                "INSERT INTO endpoints (kind, id, name, type) VALUES (?1, ?2, ?3, ?4)",
                vals![kind.as_str(), &e.id, &e.name, &e.kind],
            )?;
            Ok(())
        })
    }

    fn endpoints(&self, kind: EndpointKind) -> Result<Vec<Endpoint>> {
        self.conn.read(|db| {
            db.query(
                "SELECT id, name, type FROM endpoints WHERE kind = ?1 ORDER BY id",
                vals![kind.as_str()],
            )?
            .iter()
            .map(|r| {
                Ok(Endpoint {
                    id: r.text(0)?,
                    name: r.text(1)?,
                    kind: r.text(2)?,
                })
            })
            .collect()
        })
    }

    fn lock_edits(&self) -> Result<EditLock> {
        self.conn.lock_edits()
    }

    fn lease_pass(&mut self, wait: std::time::Duration) -> Result<PassLease> {
        self.conn.lease_pass(wait)
    }

    fn remove_endpoint(&mut self, kind: EndpointKind, id: &str) -> Result<bool> {
        self.conn.write(|db| {
            Ok(db.exec(
                "DELETE FROM endpoints WHERE kind = ?1 AND id = ?2",
                vals![kind.as_str(), id],
            )? > 0)
        })
    }

    fn put(&mut self, kind: &str, slug: &str, yaml: &str, author: &Author) -> Result<()> {
        self.put_many(&[(kind.to_string(), slug.to_string(), yaml.to_string())], author)
    }

    fn put_many(&mut self, items: &[(String, String, String)], author: &Author) -> Result<()> {
        self.conn.write(|db| {
            let at = db.now()?;
            for (kind, slug, yaml) in items {
                // A resource only ever has a path the layout allows (the store is the last line).
                gitsync_core::layout::resource_path(kind, slug).map_err(anyhow::Error::msg)?;
                db.exec(
                    "INSERT INTO resources (kind, slug, yaml, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (kind, slug) DO UPDATE SET yaml = excluded.yaml, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                    vals![kind, slug, yaml, &at, author.to_string()],
                )?;
                record(db, kind, slug, "put", Some(yaml), author)?;
            }
            Ok(())
        })
    }

    fn get(&self, kind: &str, slug: &str) -> Result<Option<StoredResource>> {
        self.conn.read(|db| {
            db.first(
                "SELECT kind, slug, yaml, updated_at, updated_by FROM resources WHERE kind = ?1 AND slug = ?2",
                vals![kind, slug],
            )?
            .map(|r| resource(&r))
            .transpose()
        })
    }

    fn list(&self, kind: Option<&str>) -> Result<Vec<StoredResource>> {
        self.conn.read(|db| {
            let rows = match kind {
                Some(k) => db.query(
                    "SELECT kind, slug, yaml, updated_at, updated_by FROM resources WHERE kind = ?1 ORDER BY kind, slug",
                    vals![k],
                )?,
                None => db.query(
                    "SELECT kind, slug, yaml, updated_at, updated_by FROM resources ORDER BY kind, slug",
                    &[],
                )?,
            };
            rows.iter().map(resource).collect()
        })
    }

    fn delete(&mut self, kind: &str, slug: &str, author: &Author) -> Result<bool> {
        self.conn.write(|db| {
            let before = db
                .first(
                    "DELETE FROM resources WHERE kind = ?1 AND slug = ?2 RETURNING yaml",
                    vals![kind, slug],
                )?
                .map(|r| r.text(0))
                .transpose()?;
            if let Some(yaml) = &before {
                record(db, kind, slug, "delete", Some(yaml), author)?;
            }
            Ok(before.is_some())
        })
    }

    fn outbound_queue(&self) -> Result<Vec<QueuedChange>> {
        self.conn.read(|db| {
            db.query(
                "SELECT seq, kind, slug, op, author, at, yaml, held, uid FROM outbound ORDER BY seq",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(QueuedChange {
                    seq: r.int(0)?,
                    kind: r.text(1)?,
                    slug: r.text(2)?,
                    op: r.text(3)?,
                    author: r.text(4)?,
                    at: r.text(5)?,
                    yaml: r.opt_text(6)?,
                    set_aside: r.opt_text(7)?,
                    uid: r.opt_text(8)?,
                })
            })
            .collect()
        })
    }

    fn queue_mark(&self) -> Result<(i64, usize)> {
        // One statement, so both are read from committed rows at one moment: a sequence's last
        // value moves before the row that took it is committed, and a look in between would take
        // the change as seen while its row is not there yet.
        self.conn.read(|db| {
            let row = db
                .first(&format!("SELECT {QUEUE_MARK} FROM outbound"), &[])?
                .context("no count")?;
            Ok((row.int(0)?, row.int(1)? as usize))
        })
    }

    fn log_before(&self, before: Option<i64>, limit: usize) -> Result<Vec<LogEntry>> {
        self.conn.read(|db| {
            db.query(
                "SELECT seq, at, direction, kind, slug, commit_id, author, outcome FROM change_log
                 WHERE seq < ?2 ORDER BY seq DESC LIMIT ?1",
                vals![limit as i64, before.unwrap_or(i64::MAX)],
            )?
            .iter()
            .map(|r| {
                Ok(LogEntry {
                    seq: r.int(0)?,
                    at: r.text(1)?,
                    direction: r.text(2)?,
                    kind: r.text(3)?,
                    slug: r.text(4)?,
                    commit: r.opt_text(5)?,
                    author: r.text(6)?,
                    outcome: r.text(7)?,
                })
            })
            .collect()
        })
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn.read(|db| meta(db, &format!("git.{key}")))
    }

    fn set_settings(&mut self, settings: &[(&str, String)]) -> Result<()> {
        self.conn.write(|db| {
            for (i, (key, value)) in settings.iter().enumerate() {
                db.exec(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    vals![format!("git.{key}"), value],
                )?;
                if i == 0 {
                    crate::failpoint::hit("mid-settings");
                }
            }
            Ok(())
        })
    }

    fn complete(&mut self, done: &[(i64, Done)], head: &str) -> Result<()> {
        self.conn.write(|db| {
            let at = db.now()?;
            for (seq, commit) in done {
                let Some(row) = db.first(
                    "SELECT kind, slug, op, author FROM outbound WHERE seq = ?1",
                    vals![*seq],
                )?
                else {
                    continue;
                };
                let (kind, slug, op, author) = (row.text(0)?, row.text(1)?, row.text(2)?, row.text(3)?);
                db.exec("DELETE FROM outbound WHERE seq = ?1", vals![*seq])?;
                let (commit, outcome) = match (commit, op.as_str()) {
                    (Done::NoChange, _) => (None, "no change".to_string()),
                    (Done::Superseded(by), _) => (None, format!("superseded by change #{by}, which went out")),
                    (Done::Commit(c), "put") => (Some(c.as_str()), "pushed".to_string()),
                    (Done::Commit(c), _) => (Some(c.as_str()), "pushed delete".to_string()),
                };
                log(db, &at, "OUTBOUND", (&kind, &slug), commit, &author, &outcome)?;
            }
            set_last_applied(db, head)
        })
    }

    fn set_aside(&mut self, seq: i64, reason: &str) -> Result<()> {
        self.conn.write(|db| {
            let at = db.now()?;
            let changed = db.exec(
                "UPDATE outbound SET held = ?2 WHERE seq = ?1 AND (held IS NULL OR held != ?2)",
                vals![seq, reason],
            )?;
            if changed > 0 {
                db.exec(
                    "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome)
                     SELECT CAST(?1 AS TEXT), 'OUTBOUND', kind, slug, NULL, author, CAST(?3 AS TEXT) FROM outbound WHERE seq = ?2",
                    vals![&at, seq, format!("set aside (change #{seq} stays queued): {reason}")],
                )?;
            }
            Ok(())
        })
    }

    fn last_applied(&self) -> Result<Option<String>> {
        self.setting("last_applied")
    }

    fn apply_inbound(&mut self, c: &InboundCommit) -> Result<Applied> {
        self.conn.write(|db| {
            let at = db.now()?;
            let mut out = Applied::default();
            for (kind, slug, what) in &c.changes {
                let outcome = match what {
                    Inbound::Apply(yaml) => {
                        let current = db
                            .first("SELECT yaml FROM resources WHERE kind = ?1 AND slug = ?2", vals![kind, slug])?
                            .map(|r| r.text(0))
                            .transpose()?;
                        if current.as_deref() == Some(yaml.as_str()) {
                            out.unchanged += 1;
                            if c.quiet_unchanged {
                                continue;
                            }
                            "unchanged".to_string()
                        } else {
                            db.exec(
                                "INSERT INTO resources (kind, slug, yaml, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                                 ON CONFLICT (kind, slug) DO UPDATE SET yaml = excluded.yaml, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                                vals![kind, slug, yaml, &at, &c.author],
                            )?;
                            out.applied += 1;
                            lose_to_git(db, &at, c, kind, slug, current, &mut out)?
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
                log(db, &at, "INBOUND", (kind, slug), Some(&c.commit), &c.author, &outcome)?;
            }
            set_last_applied(db, &c.commit)?;
            crate::failpoint::hit("mid-apply");
            Ok(out)
        })
    }

    fn resynced(&mut self, commit: &str, author: &str, upto: i64, kept: &[i64]) -> Result<()> {
        self.conn.write(|db| {
            let at = db.now()?;
            let went: Vec<i64> = db
                .query("SELECT seq FROM outbound WHERE seq <= ?1 ORDER BY seq", vals![upto])?
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .filter(|seq| !kept.contains(seq))
                .collect();
            for seq in went {
                db.exec(
                    "INSERT INTO change_log (at, direction, kind, slug, commit_id, author, outcome)
                     SELECT CAST(?1 AS TEXT), 'OUTBOUND', kind, slug, CAST(?2 AS TEXT), author, 'pushed in full resync' FROM outbound WHERE seq = ?3",
                    vals![&at, commit, seq],
                )?;
                db.exec("DELETE FROM outbound WHERE seq = ?1", vals![seq])?;
            }
            log(db, &at, "OUTBOUND", ("workspace", "*"), Some(commit), author, "full resync: every resource written")
        })
    }

    fn conflicts(&self) -> Result<Vec<Conflict>> {
        self.conn.read(|db| {
            db.query(
                "SELECT id, at, kind, slug, commit_id, git_author, kept_yaml, kept_author, kept_op FROM conflicts ORDER BY id DESC",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(Conflict {
                    id: r.int(0)?,
                    at: r.text(1)?,
                    kind: r.text(2)?,
                    slug: r.text(3)?,
                    commit: r.text(4)?,
                    git_author: r.text(5)?,
                    kept_yaml: r.opt_text(6)?,
                    kept_author: r.text(7)?,
                    kept_op: r.text(8)?,
                })
            })
            .collect()
        })
    }
}

/// A resource Git changed while the workspace had queued changes of it: Git wins over every one;
/// each version is kept as a conflict of its own (none is lost), and each change's log ends there.
/// The INBOUND log line for the resource.
fn lose_to_git(
    db: &mut dyn Db,
    at: &str,
    c: &InboundCommit,
    kind: &str,
    slug: &str,
    current: Option<String>,
    out: &mut Applied,
) -> Result<String> {
    let queued = db.query(
        "SELECT seq, op, yaml, author FROM outbound WHERE kind = ?1 AND slug = ?2 ORDER BY seq",
        vals![kind, slug],
    )?;
    if queued.is_empty() {
        return Ok("applied".to_string());
    }
    let mut ids = Vec::new();
    let mut by: Vec<String> = Vec::new();
    let last = queued.len() - 1;
    for (i, row) in queued.iter().enumerate() {
        let (seq, op, kept, kept_author) = (row.int(0)?, row.text(1)?, row.opt_text(2)?, row.text(3)?);
        let kept = if op == "put" && i == last {
            current.clone().or(kept)
        } else {
            kept
        };
        let id = db
            .first(
                "INSERT INTO conflicts (at, kind, slug, commit_id, git_author, kept_yaml, kept_author, kept_op)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                vals![at, kind, slug, &c.commit, &c.author, kept.clone(), &kept_author, &op],
            )?
            .context("no conflict id")?
            .int(0)?;
        db.exec("DELETE FROM outbound WHERE seq = ?1", vals![seq])?;
        let outcome = format!("lost to Git's change; kept as conflict #{id}");
        log(
            db,
            at,
            "OUTBOUND",
            (kind, slug),
            Some(&c.commit),
            &kept_author,
            &outcome,
        )?;
        out.conflicts.push(Conflict {
            id,
            at: at.to_string(),
            kind: kind.to_string(),
            slug: slug.to_string(),
            commit: c.commit.clone(),
            git_author: c.author.clone(),
            kept_yaml: kept,
            kept_author: kept_author.clone(),
            kept_op: op,
        });
        ids.push(format!("#{id}"));
        if !by.contains(&kept_author) {
            by.push(kept_author);
        }
    }
    Ok(if ids.len() == 1 {
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
    })
}
