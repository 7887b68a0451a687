//! The PostgreSQL backend: every workspace of a deployment, and its access records, in one database
//! that several `gitsync` processes share.
//!
//! Layout: the schema `gitsync` holds the schema version, the list of workspaces and the access
//! records; each workspace's tables live in a schema of their own (`gitsync_ws_<n>`), the same tables
//! as in SQLite, so every statement is the same (`sql.rs`). A write transaction of a workspace first
//! takes that workspace's transaction-scoped advisory lock: writers of one workspace run one at a
//! time, on any number of processes, as they do in SQLite.

use super::access::SqlAccess;
use super::sql::{self, Conn, Db, Row, SqlWorkspace, Val, WorkspaceConn};
use super::*;
use ::postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use ::postgres::{GenericClient, NoTls};
use anyhow::{Context, Result, anyhow, bail};
use r2d2_postgres::PostgresConnectionManager;
use std::path::{Path, PathBuf};

type Pool = r2d2::Pool<Manager>;
type Pooled = r2d2::PooledConnection<Manager>;

/// A client of the pool. `postgres`'s synchronous client owns a small runtime, which must not be
/// dropped on a thread that runs async code (the service's): such a drop happens on a thread of its
/// own.
pub struct Client {
    inner: Option<::postgres::Client>,
    /// The store's statements this session has prepared, by text: each is parsed once per
    /// session, not on every use (which costs a round trip). The server parses one again when the
    /// search path changed since (another workspace's tables).
    statements: std::collections::HashMap<String, ::postgres::Statement>,
}

impl Client {
    fn new(c: ::postgres::Client) -> Client {
        Client {
            inner: Some(c),
            statements: std::collections::HashMap::new(),
        }
    }

    /// The session and its prepared statements, apart (a transaction borrows the session).
    fn parts(
        &mut self,
    ) -> (
        &mut ::postgres::Client,
        &mut std::collections::HashMap<String, ::postgres::Statement>,
    ) {
        (
            self.inner.as_mut().expect("a client until dropped"),
            &mut self.statements,
        )
    }
}

impl std::ops::Deref for Client {
    type Target = ::postgres::Client;
    fn deref(&self) -> &Self::Target {
        self.inner.as_ref().expect("a client until dropped")
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.inner.as_mut().expect("a client until dropped")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Elsewhere it is dropped here, as usual.
        if let Some(c) = self.inner.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(c));
        }
    }
}

/// `r2d2_postgres`'s manager, handing out `Client`s.
pub struct Manager(PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = ::postgres::Error;

    fn connect(&self) -> std::result::Result<Client, ::postgres::Error> {
        self.0.connect().map(Client::new)
    }

    fn is_valid(&self, c: &mut Client) -> std::result::Result<(), ::postgres::Error> {
        self.0.is_valid(c)
    }

    fn has_broken(&self, c: &mut Client) -> bool {
        self.0.has_broken(c)
    }
}

/// The newest schema this build knows. A store migrated by a newer build is refused, not guessed at.
pub const SCHEMA_VERSION: i64 = 3;

/// Taken (session-scoped) while a process checks and migrates the schema: replicas starting
/// together migrate one after the other, and the second finds nothing left to do.
const MIGRATION_LOCK: i64 = 0x6769_7473_796e_6301;

const STORE_TABLES: &str = "
CREATE TABLE gitsync.workspaces (id TEXT PRIMARY KEY, schema_name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE SEQUENCE gitsync.workspace_schemas;
CREATE TABLE gitsync.tokens (
    id TEXT PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, author TEXT NOT NULL, scopes TEXT NOT NULL,
    read_only BIGINT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE gitsync.webhook_secrets (workspace TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE gitsync.sessions (hash BYTEA PRIMARY KEY, token_id TEXT NOT NULL, expires_at BIGINT NOT NULL);
";

/// Version 2: each workspace's pass lease — who holds it, until when, and its fencing token, one
/// more with every holder.
const LEASES: &str = "
CREATE TABLE gitsync.leases (
    workspace TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
";

/// Version 3: the `serve` replicas alive (the session each holds, when each last said so), and each
/// workspace's passes asked for and done, with how the last one ended.
const REPLICAS: &str = "
CREATE TABLE gitsync.replicas (name TEXT PRIMARY KEY, backend_pid INTEGER NOT NULL, seen_at TIMESTAMPTZ NOT NULL);
CREATE TABLE gitsync.passes (
    workspace TEXT PRIMARY KEY, asked BIGINT NOT NULL DEFAULT 0, resync_asked BIGINT NOT NULL DEFAULT 0,
    done BIGINT NOT NULL DEFAULT 0, resync_author TEXT, last TEXT, last_number BIGINT NOT NULL DEFAULT 0);
";

/// The migrations, in order: the version each one brings the schema to.
const MIGRATIONS: &[(i64, &str)] = &[(1, STORE_TABLES), (2, LEASES), (3, REPLICAS)];

/// The channel replicas wake each other on (a pass asked for, a replica joining or leaving). Only a
/// wake-up: what to do is read from the tables, so a lost notification costs one poll interval.
const WAKE_CHANNEL: &str = "gitsync_passes";

/// How long a pass's lease lasts without renewal (milliseconds); renewed every third of it.
static LEASE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(15_000);

/// The lease time (`--lease`): how long another process waits for a pass that stopped renewing
/// (paused, cut off, killed) before it takes the workspace over.
pub fn set_lease_time(d: std::time::Duration) {
    LEASE_MS.store(d.as_millis().max(1) as u64, std::sync::atomic::Ordering::Relaxed);
}

fn lease_time() -> std::time::Duration {
    std::time::Duration::from_millis(LEASE_MS.load(std::sync::atomic::Ordering::Relaxed))
}

/// One workspace's tables (created in its schema, which is first on the search path).
const WORKSPACE_TABLES: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE endpoints (
    kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE resources (
    kind TEXT NOT NULL, slug TEXT NOT NULL, yaml TEXT NOT NULL,
    updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
    PRIMARY KEY (kind, slug));
CREATE TABLE outbound (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, slug TEXT NOT NULL,
    op TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL, yaml TEXT, held TEXT, uid TEXT);
CREATE INDEX outbound_resource ON outbound (kind, slug, seq);
CREATE TABLE change_log (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at TEXT NOT NULL, direction TEXT NOT NULL,
    kind TEXT NOT NULL, slug TEXT NOT NULL, commit_id TEXT, author TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE conflicts (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
    slug TEXT NOT NULL, commit_id TEXT NOT NULL, git_author TEXT NOT NULL, kept_yaml TEXT,
    kept_author TEXT NOT NULL, kept_op TEXT NOT NULL);
";

/// `url` with its password (if any) replaced by `***`: what messages show.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the PostgreSQL URL".to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            let hidden = if authority[..authority.len() - host.len() - 1].contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            Val::Int(n) => n.to_sql(ty, out),
            Val::Text(s) => s.to_sql(ty, out),
            Val::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// `?1` → `$1`: the statements are written once, with SQLite's numbered parameters.
fn numbered(sql: &str) -> String {
    sql.replace('?', "$")
}

/// A PostgreSQL client or transaction as a `Db`, with the session's prepared statements (none:
/// each statement prepared on every use).
struct PgDb<'a, C: GenericClient> {
    client: &'a mut C,
    statements: Option<&'a mut std::collections::HashMap<String, ::postgres::Statement>>,
}

impl<'a, C: GenericClient> PgDb<'a, C> {
    fn new(client: &'a mut C, statements: &'a mut std::collections::HashMap<String, ::postgres::Statement>) -> Self {
        PgDb {
            client,
            statements: Some(statements),
        }
    }

    fn uncached(client: &'a mut C) -> Self {
        PgDb {
            client,
            statements: None,
        }
    }

    /// `sql` (with `?N` parameters) prepared on this session.
    fn statement(&mut self, sql: &str) -> Result<::postgres::Statement> {
        let sql = numbered(sql);
        let Some(cache) = self.statements.as_deref_mut() else {
            return Ok(self.client.prepare(&sql)?);
        };
        if let Some(s) = cache.get(&sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&sql)?;
        cache.insert(sql, s.clone());
        Ok(s)
    }
}

impl<C: GenericClient> Db for PgDb<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, &params)?)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &params)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        let ty = r.columns()[i].type_();
                        Ok(if *ty == Type::INT8 {
                            r.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int)
                        } else if *ty == Type::INT4 {
                            r.get::<_, Option<i32>>(i).map_or(Val::Null, |n| Val::Int(n.into()))
                        } else if *ty == Type::BOOL {
                            r.get::<_, Option<bool>>(i).map_or(Val::Null, |b| Val::Int(b.into()))
                        } else if *ty == Type::BYTEA {
                            r.get::<_, Option<Vec<u8>>>(i).map_or(Val::Null, Val::Bytes)
                        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::NAME {
                            r.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text)
                        } else {
                            bail!("column {i} has type {ty}, which the store does not read")
                        })
                    })
                    .collect::<Result<Vec<Val>>>()
                    .map(Row)
            })
            .collect()
    }

    fn now(&mut self) -> Result<String> {
        let rows = self.query(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            &[],
        )?;
        rows.first().context("no time from the server")?.text(0)
    }

    fn last_number(&mut self, table: &str, column: &str) -> Result<i64> {
        let rows = self.query(
            "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(?1, ?2)::regclass), 0)",
            &[Val::Text(table.into()), Val::Text(column.into())],
        )?;
        rows.first().context("no sequence value")?.int(0)
    }

    fn set_last_number(&mut self, table: &str, column: &str, n: i64) -> Result<()> {
        // setval(…, n, false) when n is 0: the next number is then 1, as in a new table.
        self.exec(
            "SELECT setval(pg_get_serial_sequence(?1, ?2), GREATEST(?3::bigint, 1), ?3::bigint > 0)",
            &[Val::Text(table.into()), Val::Text(column.into()), Val::Int(n)],
        )?;
        Ok(())
    }
}

/// Whether `e` says the server cannot be reached just now (stopped, restarting, out of
/// connections) rather than that something is wrong with the request.
pub fn unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<r2d2::Error>()
            || c.downcast_ref::<::postgres::Error>().is_some_and(|p| {
                p.is_closed()
                    || std::error::Error::source(p).is_some_and(|s| s.is::<std::io::Error>())
                    // The server shutting down or starting (57P01-57P03), a connection lost (08…).
                    || p.code().is_some_and(|c| c.code().starts_with("57P") || c.code().starts_with("08"))
            })
    })
}

/// A 64-bit advisory lock key for `what`.
fn lock_key(what: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(what.as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// A pooled connection with its search path set, used from one thread at a time.
pub struct PgConn {
    client: std::sync::Mutex<Pooled>,
    /// Write transactions take this key's transaction lock (one writer per workspace).
    write_key: i64,
    pool: Pool,
    edit_key: i64,
    /// The workspace (none for the access records).
    workspace: Option<String>,
    /// While a pass holds the workspace's lease: its fencing token, which every write transaction
    /// checks.
    fence: Option<i64>,
}

/// Why a pass stops when another process took its workspace over.
fn lost(workspace: &str) -> anyhow::Error {
    anyhow!(
        "this pass lost its lease on workspace `{workspace}`: it went {:?} without renewing it (paused, or cut off from the database) and another gitsync took the workspace over; nothing more is pushed or recorded by this pass, the other one carries on",
        lease_time()
    )
}

impl PgConn {
    fn client(&self) -> std::sync::MutexGuard<'_, Pooled> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Conn for PgConn {
    fn read<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        let mut client = self.client();
        let (session, statements) = client.parts();
        f(&mut PgDb::new(session, statements))
    }

    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        let mut client = self.client();
        let (session, statements) = client.parts();
        let mut tx = session.transaction()?;
        let mut db = PgDb::new(&mut tx, statements);
        db.exec("SELECT pg_advisory_xact_lock(?1)", &[Val::Int(self.write_key)])?;
        // A pass records only while it holds the lease; the row stays locked until this commits, so
        // no take-over lands in between.
        if let (Some(token), Some(ws)) = (self.fence, &self.workspace)
            && db
                .query(
                    "SELECT 1 FROM gitsync.leases WHERE workspace = ?1 AND token = ?2 FOR SHARE",
                    &[Val::Text(ws.clone()), Val::Int(token)],
                )?
                .is_empty()
        {
            return Err(lost(ws));
        }
        let out = f(&mut db)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The edit lock: a session advisory lock on a connection of its own, released when dropped (or
/// by the server when the process dies and the session ends).
struct EditHold {
    client: Pooled,
    key: i64,
}

impl Drop for EditHold {
    fn drop(&mut self) {
        // A connection that cannot unlock must not go back to the pool holding the lock.
        if self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            .is_err()
        {
            let _ = self.client.execute("DISCARD ALL", &[]);
        }
    }
}

/// A pass's lease: renewed by a thread of its own every third of the lease time, released when
/// dropped.
struct Lease {
    pool: Pool,
    workspace: String,
    token: i64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
    /// The session holding the holder-is-alive lock, and its key (none when a paused holder's
    /// session still held it as this pass took the lease over).
    alive: Option<(Pooled, i64)>,
}

impl LeaseHold for Lease {
    fn check(&self) -> Result<()> {
        let mut c = self
            .pool
            .get()
            .context("cannot take a connection to the PostgreSQL store")?;
        let held = c
            .query_opt(
                "SELECT 1 FROM gitsync.leases WHERE workspace = $1 AND token = $2 AND expires_at > now()",
                &[&self.workspace, &self.token],
            )?
            .is_some();
        if held { Ok(()) } else { Err(lost(&self.workspace)) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.renewer.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        // Released: the next pass, anywhere, takes it at once (with the next token).
        if let Ok(mut c) = self.pool.get() {
            let _ = c.execute(
                "UPDATE gitsync.leases SET expires_at = now() WHERE workspace = $1 AND token = $2",
                &[&self.workspace, &self.token],
            );
        }
        // A session must not go back to the pool holding the lock.
        if let Some((mut c, key)) = self.alive.take()
            && c.execute("SELECT pg_advisory_unlock($1)", &[&key]).is_err()
        {
            let _ = c.execute("DISCARD ALL", &[]);
        }
    }
}

impl WorkspaceConn for PgConn {
    fn lease_pass(&mut self, wait: std::time::Duration) -> Result<PassLease> {
        let ws = self.workspace.clone().context("the access records have no passes")?;
        let holder = format!("pid {} ({})", std::process::id(), crate::secret::random_hex(4)?);
        let ttl_ms = lease_time().as_millis() as i64;
        // A holder also holds this session lock while it lives: when its process dies, its session
        // ends and the lock with it, so the next pass takes the workspace at once instead of
        // waiting out the lease. A holder that is only paused keeps it: then the lease time decides.
        let alive_key = lock_key(&format!("gitsync.alive:{ws}"));
        let mut alive = self
            .pool
            .get()
            .context("cannot take a connection to the PostgreSQL store")?;
        let start = std::time::Instant::now();
        let mut said = false;
        let (token, holds_alive) = loop {
            let free: bool = alive
                .query_one("SELECT pg_try_advisory_lock($1)", &[&alive_key])?
                .get(0);
            // No live holder: taken whatever the lease says. Else only once the holder let it run out.
            let row = alive.query_opt(
                "INSERT INTO gitsync.leases (workspace, holder, token, expires_at)
                 VALUES ($1, $2, 1, now() + make_interval(secs => $3::bigint / 1000.0))
                 ON CONFLICT (workspace) DO UPDATE SET holder = excluded.holder,
                     token = gitsync.leases.token + 1, expires_at = excluded.expires_at
                 WHERE $4 OR gitsync.leases.expires_at <= now()
                 RETURNING token",
                &[&ws, &holder, &ttl_ms, &free],
            )?;
            if let Some(row) = row {
                break (row.get::<_, i64>(0), free);
            }
            if start.elapsed() >= wait {
                let (by, until): (String, String) = alive
                    .query_one(
                        "SELECT holder, to_char(expires_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM gitsync.leases WHERE workspace = $1",
                        &[&ws],
                    )
                    .map(|r| (r.get(0), r.get(1)))?;
                bail!(
                    "another gitsync pass is running on workspace `{ws}` ({by} holds its lease, renewed until {until} UTC); wait for it to finish and run again (--lock-wait sets how long to wait)"
                );
            }
            if !said {
                eprintln!("waiting for the pass running on this workspace to finish (at most {wait:?})…");
                said = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        self.fence = Some(token);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pool, stop2, ws2) = (self.pool.clone(), stop.clone(), ws.clone());
        let renewer = std::thread::spawn(move || {
            let every = lease_time() / 3;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::park_timeout(every);
                if stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                // Renewed only while it is still this pass's; a lost lease stays lost.
                if let Ok(mut c) = pool.get() {
                    let _ = c.execute(
                        "UPDATE gitsync.leases SET expires_at = now() + make_interval(secs => $3::bigint / 1000.0)
                         WHERE workspace = $1 AND token = $2",
                        &[&ws2, &token, &ttl_ms],
                    );
                }
            }
        });
        Ok(PassLease::new(Lease {
            pool: self.pool.clone(),
            workspace: ws,
            token,
            stop,
            renewer: Some(renewer),
            alive: holds_alive.then_some((alive, alive_key)),
        }))
    }

    fn lock_edits(&self) -> Result<EditLock> {
        let mut client = self
            .pool
            .get()
            .context("cannot take a connection to the PostgreSQL store")?;
        client.execute("SELECT pg_advisory_lock($1)", &[&self.edit_key])?;
        Ok(EditLock::new(EditHold {
            client,
            key: self.edit_key,
        }))
    }
}

/// Every workspace in one PostgreSQL database; local files (checkouts, pass locks) under `local`.
pub struct PgStore {
    pool: Pool,
    config: ::postgres::Config,
    shown: String,
    local: PathBuf,
}

impl PgStore {
    /// Connect to `url` (a `postgres://` URL), migrate its schema if it is older than this build's,
    /// and refuse one that is newer.
    pub fn connect(url: &str, local: &Path) -> Result<PgStore> {
        let shown = redact(url);
        let config: ::postgres::Config = url
            .parse()
            .map_err(|e| anyhow!("{shown} is not a PostgreSQL URL: {e}"))?;
        let manager = Manager(PostgresConnectionManager::new(config.clone(), NoTls));
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(0))
            .connection_timeout(std::time::Duration::from_secs(10))
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(manager)
            .map_err(|e| anyhow!("cannot reach the PostgreSQL store at {shown}: {e}"))?;
        let store = PgStore {
            pool,
            config,
            shown,
            local: local.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn client(&self) -> Result<Pooled> {
        self.pool
            .get()
            .map_err(|e| anyhow::Error::new(e).context(format!("cannot reach the PostgreSQL store at {}", self.shown)))
    }

    fn migrate(&self) -> Result<()> {
        let mut c = self.client()?;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = (|| -> Result<()> {
            c.batch_execute(
                "CREATE SCHEMA IF NOT EXISTS gitsync;
                 CREATE TABLE IF NOT EXISTS gitsync.schema_version (version BIGINT NOT NULL);",
            )?;
            let found: Option<i64> = c
                .query_opt("SELECT version FROM gitsync.schema_version", &[])?
                .map(|r| r.get(0));
            let at = found.unwrap_or(0);
            if at > SCHEMA_VERSION {
                bail!(
                    "the store at {} has schema version {at}, newer than this gitsync knows ({SCHEMA_VERSION}): run the newer gitsync here too",
                    self.shown
                );
            }
            // Each step in a transaction of its own, with the version it reaches.
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > at) {
                let mut tx = c.transaction()?;
                tx.batch_execute(sql)?;
                tx.execute("DELETE FROM gitsync.schema_version", &[])?;
                tx.execute("INSERT INTO gitsync.schema_version (version) VALUES ($1)", &[version])?;
                tx.commit()?;
            }
            Ok(())
        })();
        c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        result
    }

    fn located(&self, id: &str) -> Located {
        Located {
            id: id.to_string(),
            dir: self.local.join("workspaces").join(id),
        }
    }

    /// The queue marks of `ws`, in one statement: a look every second at every workspace costs
    /// one round trip, not several per workspace.
    fn all_queue_marks(&self, ws: &[Located]) -> Result<Vec<Option<(i64, usize)>>> {
        let mut c = self.client()?;
        let schemas: std::collections::HashMap<String, String> = c
            .query("SELECT id, schema_name FROM gitsync.workspaces", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // Built from the names this store gave its schemas (`gitsync_ws_<n>`, checked), never from
        // input; the workspace is named by its place in `ws`.
        let parts: Vec<String> = ws
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let schema = schemas.get(&w.id)?;
                let n = schema.strip_prefix("gitsync_ws_")?;
                n.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| format!("SELECT {i}::bigint, {} FROM \"{schema}\".outbound", sql::QUEUE_MARK))
            })
            .collect();
        let mut out = vec![None; ws.len()];
        if parts.is_empty() {
            return Ok(out);
        }
        for r in c.query(&parts.join(" UNION ALL "), &[])? {
            let (i, last, len): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            if let Some(slot) = out.get_mut(i as usize) {
                *slot = Some((last, len as usize));
            }
        }
        Ok(out)
    }

    /// A pooled connection whose search path is workspace `id`'s schema.
    fn conn(&self, id: &str) -> Result<PgConn> {
        let mut client = self.client()?;
        let schema: Option<String> = client
            .query_opt("SELECT schema_name FROM gitsync.workspaces WHERE id = $1", &[&id])?
            .map(|r| r.get(0));
        let Some(schema) = schema else {
            bail!("no workspace `{id}` in {}", self.shown);
        };
        // The schema name is one this store made (`gitsync_ws_<n>`), quoted all the same.
        client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
        Ok(PgConn {
            client: std::sync::Mutex::new(client),
            write_key: lock_key(&format!("gitsync.write:{id}")),
            pool: self.pool.clone(),
            edit_key: lock_key(&format!("gitsync.edit:{id}")),
            workspace: Some(id.to_string()),
            fence: None,
        })
    }
}

impl Store for PgStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn local_root(&self) -> &Path {
        &self.local
    }

    fn workspaces(&self) -> Result<Vec<Located>> {
        let mut c = self.client()?;
        let rows = c.query("SELECT id FROM gitsync.workspaces ORDER BY id", &[])?;
        Ok(rows.iter().map(|r| self.located(r.get(0))).collect())
    }

    fn open(&self, w: &Located) -> Result<Box<dyn WorkspaceStore>> {
        let conn = self.conn(&w.id)?;
        // This machine's files of the workspace (its checkout, its locks): made on first use, as a
        // replica that never saw the workspace opens it.
        for dir in [&self.local, &self.local.join("workspaces"), &w.dir] {
            super::private::folder(dir)?;
        }
        Ok(Box::new(SqlWorkspace { conn }))
    }

    fn create(&self, id: &str) -> Result<(Located, Box<dyn WorkspaceStore>)> {
        check_id(id)?;
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key("gitsync.create")])?;
        if tx
            .query_opt("SELECT 1 FROM gitsync.workspaces WHERE id = $1", &[&id])?
            .is_some()
        {
            bail!(
                "{} already holds workspace `{id}`; pick it with --workspace {id}",
                self.shown
            );
        }
        let n: i64 = tx.query_one("SELECT nextval('gitsync.workspace_schemas')", &[])?.get(0);
        let schema = format!("gitsync_ws_{n}");
        let mut db = PgDb::uncached(&mut tx);
        let at = db.now()?;
        tx.execute(
            "INSERT INTO gitsync.workspaces (id, schema_name, created_at) VALUES ($1, $2, $3)",
            &[&id, &schema, &at],
        )?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; SET LOCAL search_path TO \"{schema}\";"
        ))?;
        tx.batch_execute(WORKSPACE_TABLES)?;
        tx.execute("INSERT INTO meta (key, value) VALUES ('workspace', $1)", &[&id])?;
        tx.commit()?;
        let w = self.located(id);
        let store = self.open(&w)?;
        Ok((w, store))
    }

    fn queue_marks(&self, ws: &[Located]) -> Vec<Option<(i64, usize)>> {
        self.all_queue_marks(ws).unwrap_or_else(|_| vec![None; ws.len()])
    }

    fn replicas(&self, name: &str) -> Result<Option<Box<dyn Replicas>>> {
        let mut replicas = PgReplicas {
            config: self.config.clone(),
            client: None,
            listening: false,
            name: name.to_string(),
            shown: self.shown.clone(),
        };
        replicas.session()?;
        Ok(Some(Box::new(replicas)))
    }

    fn access(&self) -> Result<Box<dyn AccessStore>> {
        Ok(Box::new(SqlAccess {
            conn: self.access_conn()?,
        }))
    }

    fn export(&self) -> Result<Export> {
        let access = self.access_conn()?.read(|db| sql::dump(db, sql::ACCESS_TABLES))?;
        let mut workspaces = Vec::new();
        for w in self.workspaces()? {
            let tables = self.conn(&w.id)?.read(|db| sql::dump(db, sql::WORKSPACE_TABLES))?;
            workspaces.push((w.id, tables));
        }
        Ok(Export { access, workspaces })
    }

    fn import(&self, export: &Export) -> Result<()> {
        for (id, tables) in &export.workspaces {
            self.create(id)?;
            self.conn(id)?
                .write(|db| sql::load(db, sql::WORKSPACE_TABLES, tables))?;
        }
        self.access_conn()?
            .write(|db| sql::load(db, sql::ACCESS_TABLES, &export.access))
    }
}

impl PgStore {
    fn access_conn(&self) -> Result<PgConn> {
        let mut client = self.client()?;
        client.batch_execute("SET search_path TO gitsync")?;
        Ok(PgConn {
            client: std::sync::Mutex::new(client),
            write_key: lock_key("gitsync.access"),
            pool: self.pool.clone(),
            edit_key: lock_key("gitsync.access.edit"),
            workspace: None,
            fence: None,
        })
    }
}

/// One `serve` replica among those sharing the store: a session of its own (not pooled) whose life
/// says the replica's and which listens for wake-ups, reopened when it breaks (the server
/// restarted).
struct PgReplicas {
    config: ::postgres::Config,
    client: Option<Client>,
    /// Whether the session listens for wake-ups (from the first wait on).
    listening: bool,
    name: String,
    shown: String,
}

impl PgReplicas {
    /// The replica's session, opened if it is not.
    fn session(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        let client = match self.client.take() {
            Some(c) => c,
            None => {
                self.listening = false;
                Client::new(self.config.connect(NoTls).map_err(|e| {
                    anyhow::Error::new(e).context(format!("cannot reach the PostgreSQL store at {}", self.shown))
                })?)
            }
        };
        Ok(self.client.insert(client))
    }

    /// Run `f` on the session; a session that failed is dropped, to be reopened next time.
    fn with<T>(&mut self, f: impl FnOnce(&mut Client, &str) -> Result<T, ::postgres::Error>) -> Result<T> {
        let name = self.name.clone();
        let result = f(self.session()?, &name);
        if result.is_err() {
            self.client = None;
        }
        result.map_err(|e| anyhow::Error::new(e).context(format!("the PostgreSQL store at {}", self.shown)))
    }
}

impl Replicas for PgReplicas {
    fn beat(&mut self) -> Result<Vec<String>> {
        let ttl_ms = lease_time().as_millis() as i64;
        self.with(|c, name| {
            let joined = c
                .query_opt(
                    "INSERT INTO gitsync.replicas (name, backend_pid, seen_at) VALUES ($1, pg_backend_pid(), now())
                     ON CONFLICT (name) DO UPDATE SET backend_pid = excluded.backend_pid, seen_at = excluded.seen_at
                     WHERE gitsync.replicas.backend_pid <> excluded.backend_pid
                        OR gitsync.replicas.seen_at <= now() - make_interval(secs => $2::bigint / 1000.0)
                     RETURNING name",
                    &[&name, &ttl_ms],
                )?
                .is_some();
            if joined {
                // New (or back): the others rebalance now rather than at their next look.
                c.execute("SELECT pg_notify($1, 'replicas')", &[&WAKE_CHANNEL])?;
            } else {
                c.execute("UPDATE gitsync.replicas SET seen_at = now() WHERE name = $1", &[&name])?;
            }
            // Replicas gone for a day are forgotten.
            c.execute(
                "DELETE FROM gitsync.replicas WHERE seen_at < now() - interval '1 day'",
                &[],
            )?;
            let rows = c.query(
                "SELECT name FROM gitsync.replicas r
                 WHERE seen_at > now() - make_interval(secs => $1::bigint / 1000.0)
                   AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid)
                 ORDER BY name",
                &[&ttl_ms],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn leave(&mut self) -> Result<()> {
        self.with(|c, name| {
            c.execute("DELETE FROM gitsync.replicas WHERE name = $1", &[&name])?;
            c.execute("SELECT pg_notify($1, 'replicas')", &[&WAKE_CHANNEL])?;
            Ok(())
        })
    }

    fn ask(&mut self, workspace: &str, resync: bool, author: Option<&str>) -> Result<i64> {
        self.with(|c, _| {
            let asked: i64 = c
                .query_one(
                    "INSERT INTO gitsync.passes AS p (workspace, asked, resync_asked, resync_author)
                     VALUES ($1, 1, CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 THEN $3 END)
                     ON CONFLICT (workspace) DO UPDATE SET asked = p.asked + 1,
                         resync_asked = CASE WHEN $2 THEN p.asked + 1 ELSE p.resync_asked END,
                         resync_author = CASE WHEN $2 THEN $3 ELSE p.resync_author END
                     RETURNING asked",
                    &[&workspace, &resync, &author],
                )?
                .get(0);
            c.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &workspace])?;
            Ok(asked)
        })
    }

    fn passes(&mut self) -> Result<Vec<PassMark>> {
        self.with(|c, _| {
            let rows = c.query(
                "SELECT workspace, asked, resync_asked, done, resync_author, last FROM gitsync.passes ORDER BY workspace",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| PassMark {
                    workspace: r.get(0),
                    asked: r.get(1),
                    resync_asked: r.get(2),
                    done: r.get(3),
                    resync_author: r.get(4),
                    last: r.get(5),
                })
                .collect())
        })
    }

    fn ended(&mut self, workspace: &str, covered: i64, ok: bool, number: i64, record: &str) -> Result<()> {
        self.with(|c, _| {
            // A record numbered below the last one shown (from a replica that was paused while
            // another went on) is not shown over it.
            c.execute(
                "INSERT INTO gitsync.passes AS p (workspace, last, last_number) VALUES ($1, $4, $5)
                 ON CONFLICT (workspace) DO UPDATE SET
                     last = CASE WHEN $5 > p.last_number THEN $4 ELSE p.last END,
                     last_number = GREATEST(p.last_number, $5),
                     done = CASE WHEN $3 THEN GREATEST(p.done, $2) ELSE p.done END,
                     resync_author = CASE WHEN $3 AND p.resync_asked <= $2 THEN NULL ELSE p.resync_author END",
                &[&workspace, &covered, &ok, &record, &number],
            )?;
            // The others show how it ended now, not at their next look.
            c.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &workspace])?;
            Ok(())
        })
    }

    fn wait(&mut self, d: std::time::Duration) -> Result<bool> {
        use ::postgres::fallible_iterator::FallibleIterator;
        // Only the session that waits listens: wake-ups would pile up unread on any other.
        let listening = self.listening;
        let woken = self.with(|c, _| {
            if !listening {
                c.batch_execute(&format!("LISTEN {WAKE_CHANNEL}"))?;
            }
            let mut n = c.notifications();
            let woken = n.timeout_iter(d).next()?.is_some();
            // One look serves every wake-up already in: take them all.
            while n.iter().next()?.is_some() {}
            Ok(woken)
        });
        self.listening = woken.is_ok();
        woken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            redact("postgres://gitsync:hunter2@db.example.com:5432/gitsync?sslmode=disable"),
            "postgres://gitsync:***@db.example.com:5432/gitsync?sslmode=disable"
        );
        assert_eq!(redact("postgresql://app@db/x"), "postgresql://app@db/x");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact("postgres://u:p@ss@db/x"), "postgres://u:***@db/x");
        assert_eq!(redact("host=db password=x"), "the PostgreSQL URL");
        assert_eq!(numbered("SELECT ?1, ?2"), "SELECT $1, $2");
    }
}
