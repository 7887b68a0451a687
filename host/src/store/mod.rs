//! Where workspaces are kept: one seam for every backend. The domain types and the traits are here;
//! `open` is the one way in. Every workspace, its sources, destinations and resources, its OUTBOUND
//! queue, change log and kept conflicts ([`WorkspaceStore`]), and the tokens and webhook secrets that
//! reach them ([`AccessStore`]) live behind [`Store`]; callers never name a backend.
//!
//! Backends: SQLite files in a data directory (`sqlite.rs`, `data_dir.rs`, `sqlite_access.rs`), and
//! one PostgreSQL database shared by several processes (`postgres.rs`). The rules both follow are
//! written once, in SQL both run (`sql.rs`, `access.rs`).

mod access;
mod data_dir;
mod postgres;
mod private;

/// Whether `e` says the store cannot be reached just now (its server stopped or restarting): the
/// same request may work in a moment.
pub fn unavailable(e: &anyhow::Error) -> bool {
    postgres::unavailable(e)
}

/// Create a folder of this machine's files (a data directory) readable by its owner only.
pub(crate) use private::folder as local_folder;
mod sql;
mod sqlite;
mod sqlite_access;

pub use data_dir::check_id;
pub use postgres::{SCHEMA_VERSION, redact, set_lease_time};
pub use sql::Val;

use crate::author::Author;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// Where the store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A data directory's SQLite files: `<data>/workspaces/<id>/workspace.db` per workspace and
    /// `<data>/access.db`.
    DataDir(PathBuf),
    /// A PostgreSQL database (`postgres://…`) holding every workspace; the files a process keeps
    /// for itself (Git checkouts, pass locks) go in `local`, a cache.
    Postgres { url: String, local: PathBuf },
}

impl std::fmt::Debug for Location {
    /// Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::DataDir(d) => write!(f, "DataDir({})", d.display()),
            Location::Postgres { url, local } => write!(f, "Postgres({}, {})", redact(url), local.display()),
        }
    }
}

impl Location {
    /// The store `--store` names (none: the data directory's SQLite files), with `--data` as the
    /// local folder.
    pub fn parse(store: Option<&str>, data: PathBuf) -> Result<Location> {
        match store.map(str::trim) {
            None | Some("") | Some("sqlite") => Ok(Location::DataDir(data)),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Location::Postgres {
                url: url.to_string(),
                local: data,
            }),
            Some(_) => bail!(
                "--store takes a postgres:// URL (postgres://USER@HOST:5432/DB); leave it out for the SQLite files in --data"
            ),
        }
    }
}

/// Open the store at `location`.
pub fn open(location: &Location) -> Result<Box<dyn Store>> {
    match location {
        Location::DataDir(root) => Ok(Box::new(data_dir::DataDir::new(root))),
        Location::Postgres { url, local } => Ok(Box::new(postgres::PgStore::connect(url, local)?)),
    }
}

/// One table's rows as `store copy` moves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Val>>,
    /// The last number the table gave a row (deleted rows included), for tables that number theirs.
    pub last: Option<i64>,
}

/// A whole store: the access records' tables and each workspace's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub access: Vec<Table>,
    pub workspaces: Vec<(String, Vec<Table>)>,
}

/// What `copy` moved.
#[derive(Debug)]
pub struct Copied {
    /// Each workspace with its number of resources.
    pub workspaces: Vec<(String, usize)>,
    pub tokens: usize,
}

/// Copy every workspace and the access records from one store to another, which must be empty.
pub fn copy(from: &Location, to: &Location) -> Result<Copied> {
    let (source, target) = (open(from)?, open(to)?);
    let there = target.workspaces()?;
    if !there.is_empty() || !target.access()?.tokens()?.is_empty() {
        bail!(
            "{} is not empty (it holds {} workspace{}{}): copy into an empty store",
            target.describe(),
            there.len(),
            if there.len() == 1 { "" } else { "s" },
            if there.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    there.iter().map(|w| w.id.as_str()).collect::<Vec<_>>().join(", ")
                )
            }
        );
    }
    let export = source.export()?;
    target.import(&export)?;
    let count = |tables: &[Table], name: &str| tables.iter().find(|t| t.name == name).map_or(0, |t| t.rows.len());
    Ok(Copied {
        workspaces: export
            .workspaces
            .iter()
            .map(|(id, tables)| (id.clone(), count(tables, "resources")))
            .collect(),
        tokens: count(&export.access, "tokens"),
    })
}

/// One workspace: its id and the local folder its Git checkout (a cache) and pass lock live in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub id: String,
    pub dir: PathBuf,
}

/// Every workspace of a deployment, and who may reach them.
pub trait Store: Send + Sync {
    /// Where it is, as messages name it.
    fn describe(&self) -> String;
    /// The folder local files go in (checkouts, locks).
    fn local_root(&self) -> &Path;
    /// Every workspace, by id.
    fn workspaces(&self) -> Result<Vec<Located>>;
    /// Open workspace `w`.
    fn open(&self, w: &Located) -> Result<Box<dyn WorkspaceStore>>;
    /// Add workspace `id`.
    fn create(&self, id: &str) -> Result<(Located, Box<dyn WorkspaceStore>)>;
    /// The tokens, sessions and webhook secrets.
    fn access(&self) -> Result<Box<dyn AccessStore>>;
    /// Every table as it is (`store copy`).
    fn export(&self) -> Result<Export>;
    /// Load `export` into this store, which holds no workspace yet.
    fn import(&self, export: &Export) -> Result<()>;

    /// Each workspace's queue mark (`WorkspaceStore::queue_mark`), in one go where the store can;
    /// none for one that cannot be read.
    fn queue_marks(&self, ws: &[Located]) -> Vec<Option<(i64, usize)>> {
        ws.iter().map(|w| self.open(w).ok()?.queue_mark().ok()).collect()
    }

    /// How `serve` replicas sharing this store split its workspaces, joining as `name`; none for a
    /// store only one process serves (a data directory).
    fn replicas(&self, name: &str) -> Result<Option<Box<dyn Replicas>>> {
        let _ = name;
        Ok(None)
    }

    /// The workspace `id`, or the only one when `id` is none.
    fn pick(&self, id: Option<&str>) -> Result<Located> {
        let all = self.workspaces()?;
        let place = self.describe();
        let names = || all.iter().map(|w| w.id.as_str()).collect::<Vec<_>>().join(", ");
        match id {
            Some(id) => match all.iter().find(|w| w.id == id) {
                Some(w) => Ok(w.clone()),
                None if all.is_empty() => bail!(
                    "no workspace `{id}` in {place}: it holds none; create it with `gitsync --data {place} workspace init {id}`"
                ),
                None => bail!(
                    "no workspace `{id}` in {place} (it holds: {}); pick one with --workspace, or create it with `workspace init {id}`",
                    names()
                ),
            },
            None => match all.as_slice() {
                [one] => Ok(one.clone()),
                [] => bail!("no workspace in {place}; create one with `gitsync --data {place} workspace init ID`"),
                _ => bail!(
                    "{place} holds {} workspaces ({}); pick one with --workspace ID (or GITSYNC_WORKSPACE)",
                    all.len(),
                    names()
                ),
            },
        }
    }

    /// Open the workspace `id` (or the only one).
    fn open_picked(&self, id: Option<&str>) -> Result<(Located, Box<dyn WorkspaceStore>)> {
        let w = self.pick(id)?;
        let store = self.open(&w)?;
        Ok((w, store))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    Source,
    Destination,
}

impl EndpointKind {
    /// `source` or `destination`, as messages name it.
    pub fn noun(self) -> &'static str {
        self.as_str()
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Source => "source",
            EndpointKind::Destination => "destination",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A resource as the workspace holds it: its canonical YAML (rendered by the schema component).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredResource {
    pub kind: String,
    pub slug: String,
    pub yaml: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl StoredResource {
    /// The version a client read (the API's `ETag`, the CLI's `--if-version`): it changes with every
    /// write of the resource, so a write made on an older version can be refused.
    pub fn version(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.yaml.as_bytes());
        h.update([0]);
        h.update(self.updated_at.as_bytes());
        h.finalize()[..10].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Held while a change is checked and written (see `WorkspaceStore::lock_edits`); released when
/// dropped (a file lock, or a database lock, as the backend keeps it).
pub struct EditLock(#[allow(dead_code)] Box<dyn Send>);

impl EditLock {
    pub fn new(held: impl Send + 'static) -> EditLock {
        EditLock(Box::new(held))
    }
}

/// Held while a pass runs (see `WorkspaceStore::lease_pass`); released when dropped.
pub struct PassLease(Box<dyn LeaseHold>);

/// What a backend holds for a pass.
pub trait LeaseHold: Send {
    /// Whether the pass still holds its lease: an error saying so when another process took the
    /// workspace over (call it before doing what cannot be undone, a push).
    fn check(&self) -> Result<()>;
}

/// Nothing to hold: a store on one machine's files, where the pass lock file covers the machine.
impl LeaseHold for () {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl PassLease {
    pub fn new(held: impl LeaseHold + 'static) -> PassLease {
        PassLease(Box::new(held))
    }

    pub fn check(&self) -> Result<()> {
        self.0.check()
    }
}

/// The replicas of `serve` sharing one store, as one of them sees them: who is alive, which passes
/// were asked for, how each workspace's last pass ended. Blocking calls, made from one thread.
pub trait Replicas: Send {
    /// Say this replica is alive (call it more often than the lease time); the replicas alive now,
    /// by name, sorted, this one among them. A replica is alive while its session to the store is
    /// open and it said so within the lease time: a killed one is gone at once, a paused one once
    /// the lease time has passed.
    fn beat(&mut self) -> Result<Vec<String>>;
    /// Leave: the others take this replica's workspaces at once.
    fn leave(&mut self) -> Result<()>;
    /// Mark a pass of `workspace` as asked for (a full resync by `author` when `resync`) and wake
    /// the other replicas; the request's number, which the pass that does it covers.
    fn ask(&mut self, workspace: &str, resync: bool, author: Option<&str>) -> Result<i64>;
    /// Where every workspace's passes stand.
    fn passes(&mut self) -> Result<Vec<PassMark>>;
    /// A pass of `workspace` that took the requests up to `covered` ended; when `ok`, they are
    /// done. `record` is how it ended, as the replicas show it (JSON), shown unless one numbered
    /// `number` or above already is.
    fn ended(&mut self, workspace: &str, covered: i64, ok: bool, number: i64, record: &str) -> Result<()>;
    /// Wait at most `d` for a wake-up (a pass asked for or ended, a replica joining or leaving);
    /// whether one came.
    fn wait(&mut self, d: std::time::Duration) -> Result<bool>;
}

/// Where one workspace's passes stand, in a store several replicas share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassMark {
    pub workspace: String,
    /// The number of the last pass asked for.
    pub asked: i64,
    /// The number of the last request a full resync was asked by (0: none).
    pub resync_asked: i64,
    /// Every request up to this number is done.
    pub done: i64,
    /// Who asked for the resync (JSON), until it is done.
    pub resync_author: Option<String>,
    /// How the last pass ended (JSON), on whichever replica ran it.
    pub last: Option<String>,
}

impl PassMark {
    /// Whether a pass was asked for and not done yet.
    pub fn wanted(&self) -> bool {
        self.asked > self.done
    }

    /// Whether the pass wanted is a full resync.
    pub fn resync_wanted(&self) -> bool {
        self.resync_asked > self.done
    }
}

/// A workspace change waiting to be written to Git (OUTBOUND).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueuedChange {
    pub seq: i64,
    pub kind: String,
    pub slug: String,
    /// `put` or `delete`.
    pub op: String,
    pub author: String,
    pub at: String,
    /// The resource as this change left it (a put) or as it was before (a delete): each change is
    /// committed with its own content, and a change that loses a conflict stays recoverable.
    pub yaml: Option<String>,
    /// Why a pass could not write this change (its path in Git is a folder, a symbolic link or a
    /// submodule; its author is refused): it stays queued, the rest of the queue goes out.
    pub set_aside: Option<String>,
    /// A random id given when the change was queued, written into its commit (`Gitsync-Change-Id`):
    /// how a pass knows a commit on the branch is this change's, not one of another change that had
    /// the same `seq` (a store restored from a backup gives sequence numbers again). None for
    /// changes queued before ids existed.
    pub uid: Option<String>,
}

/// How a queued change was completed by a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    /// Committed and pushed as this commit.
    Commit(String),
    /// It left its file as it was: nothing to commit.
    NoChange,
    /// A set-aside change made moot by a later change of the same resource (that change's `seq`),
    /// which went out.
    Superseded(i64),
}

/// What one INBOUND commit does to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// The file is valid and differs from the workspace: store this canonical YAML.
    Apply(String),
    /// The file says what the workspace already holds.
    Unchanged,
    /// The file is invalid; the reason names the diagnostics. Nothing is stored.
    Skipped(String),
    /// The file was deleted in Git: the resource stays (docs/sync.md).
    DeletedInGit,
    /// A file gitsync owns (the manifest) was edited in Git: ignored and rewritten.
    Ignored(String),
}

/// One commit of the branch, judged file by file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundCommit {
    pub commit: String,
    pub author: String,
    pub changes: Vec<(String, String, Inbound)>,
    /// A full resync applying the tree back: unchanged files are not logged one by one.
    pub quiet_unchanged: bool,
}

/// What an INBOUND commit did, for the pass's report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub applied: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub conflicts: Vec<Conflict>,
}

/// A resource changed in both the workspace and Git since the last pass. Git won; the workspace's
/// version is kept here.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub slug: String,
    /// The commit whose version won.
    pub commit: String,
    pub git_author: String,
    /// The workspace's losing version (none when the workspace had deleted the resource).
    pub kept_yaml: Option<String>,
    pub kept_author: String,
    /// `put` or `delete`: what the workspace had done.
    pub kept_op: String,
}

/// One line of the change log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogEntry {
    pub seq: i64,
    pub at: String,
    pub direction: String,
    pub kind: String,
    pub slug: String,
    pub commit: Option<String>,
    pub author: String,
    pub outcome: String,
}

/// What the sync engine needs from a workspace backend.
pub trait WorkspaceStore: Send {
    fn workspace_id(&self) -> Result<String>;
    /// This copy of the workspace: a random id made once per store (a backup restored, or the data
    /// directory moved, keeps it). Its commits carry it (`Gitsync-Instance`), so two stores with the
    /// same workspace id writing one branch and path are told apart.
    fn instance_id(&self) -> Result<String>;
    fn add_endpoint(&mut self, kind: EndpointKind, endpoint: &Endpoint) -> Result<()>;
    fn endpoints(&self, kind: EndpointKind) -> Result<Vec<Endpoint>>;
    /// One change at a time is checked and written, whoever makes it (the API, the CLI, another
    /// process): a check that reads the workspace (a reference, a version) and the write it allows
    /// are one step, so two changes sent at once cannot both pass checks that only hold apart.
    fn lock_edits(&self) -> Result<EditLock>;
    /// One pass at a time per workspace, across every process that shares the store: a lease
    /// (waiting at most `wait` for one held elsewhere), renewed while it is held. A pass that lost it
    /// — paused or cut off past the lease time, and another process took over — can record nothing
    /// more through this store: each of its write transactions checks the lease's fencing token.
    fn lease_pass(&mut self, wait: std::time::Duration) -> Result<PassLease>;
    /// Remove a source or destination; false when there was none with that id.
    fn remove_endpoint(&mut self, kind: EndpointKind, id: &str) -> Result<bool>;
    /// Create or update a resource; queues it for OUTBOUND and logs it, in one transaction.
    fn put(&mut self, kind: &str, slug: &str, yaml: &str, author: &Author) -> Result<()>;
    /// `put` for many resources in one transaction (a bulk import: one fsync, not thousands).
    fn put_many(&mut self, items: &[(String, String, String)], author: &Author) -> Result<()>;
    fn get(&self, kind: &str, slug: &str) -> Result<Option<StoredResource>>;
    fn list(&self, kind: Option<&str>) -> Result<Vec<StoredResource>>;
    /// Delete a resource; queued and logged like `put`. False when there was none.
    fn delete(&mut self, kind: &str, slug: &str, author: &Author) -> Result<bool>;
    fn outbound_queue(&self) -> Result<Vec<QueuedChange>>;
    /// The highest sequence number among the changes queued now (0: none) and how many are
    /// queued, read together from committed rows: a cheap way to notice that someone changed the
    /// workspace (a change queued later always has a higher number).
    fn queue_mark(&self) -> Result<(i64, usize)>;
    fn log(&self, limit: usize) -> Result<Vec<LogEntry>> {
        self.log_before(None, limit)
    }
    /// The change log, newest first, from the entry before `before` (its `seq`) on.
    fn log_before(&self, before: Option<i64>, limit: usize) -> Result<Vec<LogEntry>>;
    /// A setting of the Git connection (`repo`, `branch`, `path`), none when not connected.
    fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Settings, in one transaction: all of them or none.
    fn set_settings(&mut self, settings: &[(&str, String)]) -> Result<()>;
    /// Mark queued changes as pushed (each with its commit, empty when it changed nothing): remove
    /// them from the queue, log them and record `head` as the last commit applied, atomically.
    fn complete(&mut self, done: &[(i64, Done)], head: &str) -> Result<()>;
    /// A pass could not write queued change `seq`: it stays queued with the reason, logged once per
    /// reason.
    fn set_aside(&mut self, seq: i64, reason: &str) -> Result<()>;
    /// The last commit of the branch this workspace has applied (its own commits included).
    fn last_applied(&self) -> Result<Option<String>>;
    /// Apply one INBOUND commit and record it as the last applied, in one transaction, so a pass
    /// killed mid-way resumes at the first commit not applied. A resource that also has queued
    /// changes is a conflict: Git wins and the workspace's version is kept (see `conflicts`).
    fn apply_inbound(&mut self, commit: &InboundCommit) -> Result<Applied>;
    /// A full resync wrote every resource in `commit`, as the store held them when the queue's last
    /// entry was `upto`: those queued changes went out with it, except the ones in `kept` (their
    /// resource could not be written); later ones stay queued. The commit is recorded as applied
    /// only by the apply-back that follows (`apply_inbound`).
    fn resynced(&mut self, commit: &str, author: &str, upto: i64, kept: &[i64]) -> Result<()>;
    /// Kept losing versions, newest first.
    fn conflicts(&self) -> Result<Vec<Conflict>>;
}

/// What the status page's cookie holds: a session, made at sign-in for a token, stored hashed, ending
/// at its expiry, at sign-out, or when its token is revoked. The API token itself never goes into a
/// cookie.
pub const SESSION_PREFIX: &str = "gss_";

/// What a token may do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub id: String,
    /// Who the changes made with it are authored by.
    pub author: String,
    /// The workspaces it is for; empty: every workspace.
    pub scopes: Vec<String>,
    pub read_only: bool,
    pub created_at: String,
}

impl Token {
    pub fn may_read(&self, workspace: &str) -> bool {
        self.scopes.is_empty() || self.scopes.iter().any(|s| s == workspace)
    }

    pub fn may_write(&self, workspace: &str) -> bool {
        !self.read_only && self.may_read(workspace)
    }
}

/// A new token: its record and the secret, which is shown once and never stored.
pub struct Created {
    pub token: Token,
    pub secret: String,
}

/// Who may reach the workspaces through `gitsync serve`: API tokens (stored as their SHA-256 only),
/// the status page's sessions, and each workspace's webhook secret.
pub trait AccessStore: Send {
    /// A new token for `author`, limited to `scopes` (none: every workspace).
    fn create_token(&mut self, author: &Author, scopes: &[String], read_only: bool) -> Result<Created>;
    fn tokens(&self) -> Result<Vec<Token>>;
    /// The token `secret` stands for, if it is one.
    fn authenticate(&self, secret: &str) -> Result<Option<Token>>;
    /// A new session of token `token_id` for `ttl`: its secret, shown once (the cookie's value).
    fn create_session(&mut self, token_id: &str, ttl: std::time::Duration) -> Result<String>;
    /// The token of session `secret`, if it is current and its token not revoked.
    fn session(&self, secret: &str) -> Result<Option<Token>>;
    /// End session `secret` (sign-out); nothing when there is none.
    fn end_session(&mut self, secret: &str) -> Result<()>;
    fn revoke(&mut self, id: &str) -> Result<()>;
    /// Set workspace `workspace`'s webhook secret: `given`, or a new random one. Returns it.
    fn set_webhook_secret(&mut self, workspace: &str, given: Option<String>) -> Result<String>;
    fn webhook_secret(&self, workspace: &str) -> Result<Option<String>>;
}
