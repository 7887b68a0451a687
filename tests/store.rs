//! The store seam: the same test bodies run on both backends — the data directory's SQLite files
//! and a PostgreSQL database (a real server the tests start, tests/common/pg.rs) — through the CLI
//! as a user runs it (`--store URL`, here `GITSYNC_STORE`). Then what only PostgreSQL has: a schema
//! newer than the build, a server that cannot be reached, a password that is never shown.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

const ADA: &str = "Ada Lovelace <ada@example.com>";
const GRACE: &str = "Grace Hopper <grace@example.com>";
const ORDERS: &str =
    "name: Orders\nsource: staging-postgres\ntype: table\ntableName: public.orders\nisSchema: false\nprimaryKey: id\n";

/// `workspace add-source` of the source the resources name.
const ADD_SOURCE: [&str; 7] = [
    "workspace",
    "add-source",
    "staging-postgres",
    "--name",
    "Staging Postgres",
    "--type",
    "postgres",
];

/// Where a test's workspaces are kept.
#[derive(Clone)]
enum Backend {
    Sqlite,
    /// The URL of a database of its own, password included.
    Postgres(String),
}

/// A data directory (for Git checkouts and locks, and the SQLite files when that is the backend)
/// with the backend's store.
struct Setup {
    data: PathBuf,
    backend: Backend,
}

impl Setup {
    fn new(backend: Backend) -> Setup {
        Setup {
            data: scratch("store").join("data"),
            backend,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        match &self.backend {
            Backend::Sqlite => run_with_data(&self.data, args, stdin),
            Backend::Postgres(url) => run_with_env(&self.data, args, stdin, &[("GITSYNC_STORE", url)]),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args, None);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    fn put(&self, kind: &str, slug: &str, yaml: &str, author: &str) -> Run {
        let file = put_file(&self.data, kind, slug, yaml);
        self.run(&put_args(kind, slug, &file, author), None)
    }

    /// Workspace `acme-staging` with its source, connected to `remote`'s `main`.
    fn connected(&self, remote: &Remote) {
        self.ok(&["workspace", "init", "acme-staging"]);
        self.ok(&ADD_SOURCE);
        self.ok(&["connect", "--repo", &remote.url, "--branch", "main"]);
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// `args` on workspace `acme-staging`.
    fn staging(&self, args: &[&str]) -> Run {
        let mut all = vec!["--workspace", "acme-staging"];
        all.extend_from_slice(args);
        self.run(&all, None)
    }

    fn staging_ok(&self, args: &[&str]) -> String {
        let r = self.staging(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    fn staging_json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.staging_ok(args)).unwrap()
    }
}

fn backends() -> Vec<Backend> {
    vec![Backend::Sqlite, Backend::Postgres(pg::server().database())]
}

/// Workspaces, sources and destinations, resources with versions, the change log, tokens and
/// webhook secrets: what every command reads and writes, the same on both backends.
fn workspaces_resources_and_tokens(s: &Setup) {
    s.ok(&["workspace", "init", "acme-staging"]);
    s.ok(&["workspace", "init", "acme-production"]);
    let r = s.run(&["workspace", "init", "acme-staging"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("already holds workspace `acme-staging`"),
        "{}",
        r.stderr
    );
    let r = s.run(&["workspace", "list"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("holds 2 workspaces (acme-production, acme-staging); pick one with --workspace ID"),
        "{}",
        r.stderr
    );
    s.staging_ok(&ADD_SOURCE);
    s.staging_ok(&[
        "workspace",
        "add-destination",
        "staging-salesforce",
        "--name",
        "Salesforce",
        "--type",
        "salesforce",
    ]);
    assert_eq!(
        s.staging_json(&["workspace", "sources", "--format", "json"]),
        serde_json::json!([{"id": "staging-postgres", "name": "Staging Postgres", "type": "postgres"}])
    );
    // A resource: stored, read back, versioned, listed, deleted; each change queued and logged.
    let put = |yaml: &str, author: &str, extra: &[&str]| {
        let file = put_file(&s.data, "model", "orders", yaml);
        let mut args = vec!["--workspace", "acme-staging"];
        args.extend(put_args("model", "orders", &file, author));
        args.extend_from_slice(extra);
        s.run(&args, None)
    };
    let r = put(ORDERS, ADA, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!("created model orders as {ADA}; queued for OUTBOUND\n")
    );
    assert_eq!(s.staging_ok(&["workspace", "get", "model", "orders"]), ORDERS);
    let got = s.staging_json(&["workspace", "get", "model", "orders", "--format", "json"]);
    let version = got["version"].as_str().unwrap().to_string();
    assert_eq!(got["updated_by"], ADA);
    let newer = ORDERS.replace("primaryKey: id", "primaryKey: order_id");
    assert_eq!(put(&newer, GRACE, &[]).code, 0);
    let r = put(ORDERS, ADA, &["--if-version", &version]);
    assert_eq!(r.code, 1, "a write on an older version is refused: {}", r.stderr);
    assert_eq!(s.staging_ok(&["workspace", "get", "model", "orders"]), newer);
    let list = s.staging_json(&["workspace", "list", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["slug"], "orders");
    s.staging_ok(&["workspace", "delete", "model", "orders", "--as", ADA]);
    let log = s.staging_json(&["log", "--format", "json"]);
    let outcomes: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["author"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [(ADA, "queued delete"), (GRACE, "queued"), (ADA, "queued")]);
    let status = s.staging_json(&["status", "--format", "json"]);
    assert_eq!(status["workspace"], "acme-staging");
    assert_eq!(status["queued"].as_array().unwrap().len(), 3);
    // The other workspace saw none of it.
    let other = s.ok(&["--workspace", "acme-production", "workspace", "list"]);
    assert_eq!(other, "no resources\n");
    // Tokens: shown once, listed without secrets, revoked; a webhook secret per workspace.
    let created = s.json(&[
        "token",
        "create",
        "--as",
        ADA,
        "--scope",
        "acme-staging",
        "--format",
        "json",
    ]);
    let secret = created["token"].as_str().unwrap();
    let listed = s.ok(&["token", "list", "--format", "json"]);
    assert!(!listed.contains(secret), "{listed}");
    let tokens: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(tokens[0]["author"], ADA);
    assert_eq!(tokens[0]["scopes"], serde_json::json!(["acme-staging"]));
    s.ok(&["token", "revoke", created["id"].as_str().unwrap()]);
    assert_eq!(s.ok(&["token", "list"]), "no tokens (`gitsync token create --as …`)\n");
    let r = s.run(&["token", "create", "--as", ADA, "--scope", "acme-nowhere"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no workspace `acme-nowhere`"), "{}", r.stderr);
    let hook = s.ok(&["--workspace", "acme-staging", "webhook", "secret"]);
    assert!(hook.starts_with("webhook secret of acme-staging:\n"), "{hook}");
}

/// A pass both ways against a real remote: a workspace change becomes a commit, a commit becomes a
/// workspace change, and two queued versions that lose to Git are both kept.
fn a_pass_both_ways(s: &Setup) {
    let remote = Remote::new(true);
    s.connected(&remote);
    s.ok(&["sync"]);
    assert_eq!(s.put("model", "orders", ORDERS, ADA).code, 0);
    let out = s.ok(&["sync"]);
    assert!(out.contains("OUTBOUND: pushed 1 commit to main"), "{out}");
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
    assert_eq!(
        remote.history("main")[0],
        format!("update model orders|{}", "Ada Lovelace")
    );
    let theirs = ORDERS.replace("primaryKey: id", "primaryKey: git_id");
    assert_eq!(
        s.put(
            "model",
            "orders",
            &ORDERS.replace("primaryKey: id", "primaryKey: a"),
            ADA
        )
        .code,
        0
    );
    assert_eq!(
        s.put(
            "model",
            "orders",
            &ORDERS.replace("primaryKey: id", "primaryKey: g"),
            GRACE
        )
        .code,
        0
    );
    remote.commit(
        "main",
        &[("models/orders.yaml", Some(&theirs))],
        "change key",
        "Linus <linus@example.com>",
    );
    let r = s.run(&["sync"], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("2 conflicts"), "{}", r.stdout);
    assert_eq!(s.ok(&["workspace", "get", "model", "orders"]), theirs);
    assert_eq!(
        s.ok(&["conflicts", "--show", "1"]),
        ORDERS.replace("primaryKey: id", "primaryKey: a")
    );
    assert_eq!(
        s.ok(&["conflicts", "--show", "2"]),
        ORDERS.replace("primaryKey: id", "primaryKey: g")
    );
    let r = s.run(&["sync", "--format", "json"], None);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["inbound"]["commits"], 0, "{report}");
    assert_eq!(report["pushed"], 0, "{report}");
    let status = s.json(&["status", "--format", "json"]);
    assert_eq!(status["queued"], serde_json::json!([]));
    assert_eq!(status["conflicts"], 2);
}

/// `serve` on the store: a token made with the CLI lets a `PUT` through the API store a resource,
/// which a pass pushes; the status and the resource read back through the API.
fn the_service(s: &Setup) {
    use common::service::Service;
    let remote = Remote::new(true);
    s.connected(&remote);
    let env: Vec<(&str, &str)> = match &s.backend {
        Backend::Sqlite => vec![],
        Backend::Postgres(url) => vec![("GITSYNC_STORE", url.as_str())],
    };
    let created = s.json(&["token", "create", "--as", ADA, "--format", "json"]);
    let ada = created["token"].as_str().unwrap().to_string();
    let svc = Service::start(&s.data, &[], &env);
    let first = svc.settled("acme-staging", &ada)["last_pass"]["number"]
        .as_u64()
        .unwrap();
    let res = "/api/v1/workspaces/acme-staging/resources/model/orders";
    assert_eq!(svc.put_yaml(res, &ada, ORDERS).status, 201);
    eventually("the change pushed", || {
        remote.history("main")[0].starts_with("update model orders")
    });
    svc.settled_after("acme-staging", &ada, first);
    let got = svc.get(res, &ada);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["updated_by"], ADA);
    assert_eq!(svc.get(res, "gst_unknown").status, 401);
    let mut svc = svc;
    assert!(
        svc.stop().success(),
        "a graceful stop: {}",
        std::fs::read_to_string(&svc.log).unwrap_or_default()
    );
}

#[test]
fn the_service_on_each_backend() {
    for b in backends() {
        the_service(&Setup::new(b));
    }
}

#[test]
fn workspaces_resources_and_tokens_on_each_backend() {
    for b in backends() {
        workspaces_resources_and_tokens(&Setup::new(b));
    }
}

#[test]
fn a_pass_both_ways_on_each_backend() {
    for b in backends() {
        a_pass_both_ways(&Setup::new(b));
    }
}

fn data() -> PathBuf {
    scratch("store").join("data")
}

/// A store a newer gitsync migrated is refused, naming both versions, and left as it is; the
/// password of its URL is never shown.
#[test]
fn a_newer_schema_is_refused_and_the_password_never_shown() {
    let server = pg::server();
    let url = server.database();
    let s = Setup {
        data: data(),
        backend: Backend::Postgres(url.clone()),
    };
    s.ok(&["workspace", "init", "acme-staging"]);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .execute("UPDATE gitsync.schema_version SET version = 99", &[])
        .unwrap();
    let r = s.run(&["workspace", "list"], None);
    assert_eq!(r.code, 2);
    let shown = url.replace(server.password(), "***");
    assert_eq!(
        r.stderr,
        format!(
            "error: the store at {shown} has schema version 99, newer than this gitsync knows (3): run the newer gitsync here too\n"
        )
    );
    assert!(!r.stderr.contains(server.password()) && !r.stdout.contains(server.password()));
    let version: i64 = admin
        .query_one("SELECT version FROM gitsync.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 99, "left as it is");
}

/// A server that is not there, a wrong password, a URL that is not one: one clear line, exit 2,
/// no password.
#[test]
fn an_unreachable_store_is_one_clear_line_without_the_password() {
    let server = pg::server();
    let url = server.database();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        url.replace(&format!(":{}/", server.port), &format!(":{dead}/")),
        url.replace(server.password(), "wrong-password"),
    ];
    for bad in cases {
        let r = run_with_env(&data(), &["workspace", "list"], None, &[("GITSYNC_STORE", &bad)]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr
                .starts_with("error: cannot reach the PostgreSQL store at postgres://gitsync:***@127.0.0.1:"),
            "{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains(server.password()) && !r.stderr.contains("wrong-password"),
            "{}",
            r.stderr
        );
    }
    let r = run_with_env(
        &data(),
        &["workspace", "list"],
        None,
        &[("GITSYNC_STORE", "mysql://root:secret@db/x")],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: --store takes a postgres:// URL (postgres://USER@HOST:5432/DB); leave it out for the SQLite files in --data\n"
    );
}

/// Two processes starting on a new database together: one migrates, the other waits for it and
/// finds nothing left to do; both work.
#[test]
fn replicas_starting_together_migrate_once() {
    let url = pg::server().database();
    let data: Vec<PathBuf> = (0..4).map(|_| data()).collect();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .iter()
            .map(|d| {
                let url = url.clone();
                scope.spawn(move || run_with_env(d, &["token", "list"], None, &[("GITSYNC_STORE", &url)]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &runs {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: i64 = admin
        .query_one("SELECT count(*) FROM gitsync.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

/// The tables `store copy` must carry over, with their columns.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    ("endpoints", "kind, id, name, type"),
    ("resources", "kind, slug, yaml, updated_at, updated_by"),
    ("outbound", "seq, kind, slug, op, author, at, yaml, held, uid"),
    (
        "change_log",
        "seq, at, direction, kind, slug, commit_id, author, outcome",
    ),
    (
        "conflicts",
        "id, at, kind, slug, commit_id, git_author, kept_yaml, kept_author, kept_op",
    ),
];
const ACCESS: &[(&str, &str)] = &[
    ("tokens", "id, hash, author, scopes, read_only, created_at"),
    ("webhook_secrets", "workspace, secret"),
    ("sessions", "hash, token_id, expires_at"),
];

fn sqlite_rows(db: &std::path::Path, table: &str, columns: &str) -> Vec<Vec<String>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut q = c
        .prepare(&format!("SELECT {columns} FROM {table} ORDER BY {columns}"))
        .unwrap();
    let n = q.column_count();
    q.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn pg_rows(db: &mut postgres::Client, schema: &str, table: &str, columns: &str) -> Vec<Vec<String>> {
    let rows = db
        .query(
            &format!("SELECT {columns} FROM \"{schema}\".{table} ORDER BY {columns}"),
            &[],
        )
        .unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    let ty = r.columns()[i].type_().clone();
                    if ty == postgres::types::Type::INT8 {
                        r.get::<_, Option<i64>>(i).map_or("NULL".into(), |v| v.to_string())
                    } else if ty == postgres::types::Type::BYTEA {
                        r.get::<_, Option<Vec<u8>>>(i)
                            .map_or("NULL".into(), |b| b.iter().map(|x| format!("{x:02x}")).collect())
                    } else {
                        r.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())
                    }
                })
                .collect()
        })
        .collect()
}

/// `store copy` moves a data directory into PostgreSQL: every table of every workspace and of the
/// access records is the same after the copy, the commands answer the same, the copied workspace
/// goes on syncing as the same writer, and a second copy into the now full store is refused.
#[test]
fn store_copy_moves_every_table_and_refuses_a_full_target() {
    let remote = Remote::new(true);
    let s = Setup::new(Backend::Sqlite);
    s.connected(&remote);
    s.ok(&["workspace", "init", "acme-production"]);
    let st = |args: &[&str]| s.staging_ok(args);
    st(&["sync"]);
    let put = |slug: &str, yaml: &str, author: &str| {
        let file = put_file(&s.data, "model", slug, yaml);
        st(&put_args("model", slug, &file, author));
    };
    put("orders", ORDERS, ADA);
    st(&["sync"]);
    put("orders", &ORDERS.replace("primaryKey: id", "primaryKey: a"), ADA);
    remote.commit(
        "main",
        &[(
            "models/orders.yaml",
            Some(&ORDERS.replace("primaryKey: id", "primaryKey: git")),
        )],
        "change key",
        "Linus <linus@example.com>",
    );
    assert_eq!(s.staging(&["sync"]).code, 1, "a conflict");
    put("customers", &ORDERS.replace("Orders", "Customers"), GRACE);
    s.ok(&["token", "create", "--as", ADA]);
    s.ok(&[
        "token",
        "create",
        "--as",
        GRACE,
        "--scope",
        "acme-staging",
        "--read-only",
    ]);
    st(&["webhook", "secret"]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["status", "--format", "json"],
        vec!["log", "--limit", "1000", "--format", "json"],
        vec!["conflicts", "--format", "json"],
        vec!["workspace", "list", "--format", "json"],
        vec!["workspace", "sources", "--format", "json"],
    ];
    let before: Vec<String> = commands.iter().map(|c| st(c)).collect();
    let tokens_before = s.ok(&["token", "list", "--format", "json"]);

    let url = pg::server().database();
    let shown = url.replace(pg::server().password(), "***");
    let from = format!("sqlite:{}", s.data.display());
    let r = run_in(
        &root(),
        &["store", "copy", "--from", &from, "--to", &url],
        &shared_cache(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "copied 2 workspaces and 2 tokens to {shown}\n  acme-production: 0 resources\n  acme-staging: 2 resources\nnext: run gitsync with GITSYNC_STORE (or --store) set to it; the source is left as it was\n"
        )
    );
    assert!(!r.stdout.contains(pg::server().password()) && !r.stderr.contains(pg::server().password()));

    // Every table, row for row.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for id in ["acme-staging", "acme-production"] {
        let schema: String = db
            .query_one("SELECT schema_name FROM gitsync.workspaces WHERE id = $1", &[&id])
            .unwrap()
            .get(0);
        let file = s.data.join("workspaces").join(id).join("workspace.db");
        for (table, columns) in TABLES {
            let (a, b) = (
                sqlite_rows(&file, table, columns),
                pg_rows(&mut db, &schema, table, columns),
            );
            assert_eq!(a, b, "{id}: table {table}");
        }
    }
    for (table, columns) in ACCESS {
        let a = sqlite_rows(&s.data.join("access.db"), table, columns);
        assert_eq!(a, pg_rows(&mut db, "gitsync", table, columns), "table {table}");
    }
    // The commands answer the same on the copy.
    let p = Setup {
        data: s.data.clone(),
        backend: Backend::Postgres(url.clone()),
    };
    let after: Vec<String> = commands.iter().map(|c| p.staging_ok(c)).collect();
    assert_eq!(before, after);
    assert_eq!(p.ok(&["token", "list", "--format", "json"]), tokens_before);
    // It goes on: the queued change goes out, as the same writer of the branch.
    let out = p.staging_ok(&["sync"]);
    assert!(out.contains("OUTBOUND: pushed 1 commit to main"), "{out}");
    assert_eq!(remote.history("main")[0], "update model customers|Grace Hopper");
    // And back, into a new data directory: the same answers.
    let back = scratch("store").join("back");
    let to = format!("sqlite:{}", back.display());
    let r = run_in(
        &root(),
        &[
            "store",
            "copy",
            "--from",
            &url,
            "--to",
            &to,
            "--data",
            s.data.to_str().unwrap(),
        ],
        &shared_cache(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = Setup {
        data: back,
        backend: Backend::Sqlite,
    };
    let on_pg: Vec<String> = commands.iter().map(|c| p.staging_ok(c)).collect();
    let on_sqlite: Vec<String> = commands.iter().map(|c| b.staging_ok(c)).collect();
    assert_eq!(on_pg, on_sqlite);
    // A second copy would mix two stores: refused, the target untouched.
    let r = run_in(
        &root(),
        &["store", "copy", "--from", &from, "--to", &url],
        &shared_cache(),
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {shown} is not empty (it holds 2 workspaces: acme-production, acme-staging): copy into an empty store\n"
        )
    );
}

/// Two replicas (data directories) on one new PostgreSQL database, connected to `remote`; A has a
/// change queued and a `sync` (with `env`) held at `before-push`. B, and A's paused pass.
fn replica_paused_before_push(remote: &Remote, env: &[(&str, &str)]) -> (Setup, Setup, std::process::Child, PathBuf) {
    let url = pg::server().database();
    let replica = || Setup {
        data: data(),
        backend: Backend::Postgres(url.clone()),
    };
    let (a, b) = (replica(), replica());
    a.connected(remote);
    a.ok(&["sync"]);
    assert_eq!(a.put("model", "orders", ORDERS, ADA).code, 0);
    let points = scratch("failpoints");
    let paused = gitsync()
        .arg("--data")
        .arg(&a.data)
        .arg("sync")
        .env("GITSYNC_STORE", &url)
        .env("GITSYNC_FAILPOINTS", "before-push=pause")
        .env("GITSYNC_FAILPOINT_DIR", &points)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("A paused before its push", || points.join("before-push").exists());
    (a, b, paused, points)
}

/// Leases with fencing: replica A's pass is paused (SIGSTOP) just before its push, past its lease;
/// replica B — another data directory on the same PostgreSQL store — takes the workspace over and
/// pushes the change; A, resumed, finds its lease lost and pushes and records nothing. One commit on
/// the remote, nothing queued, the change logged once.
#[test]
fn a_pass_paused_past_its_lease_loses_the_workspace_to_another_replica() {
    let remote = Remote::new(true);
    let (a, b, paused, points) = replica_paused_before_push(&remote, &[("GITSYNC_LEASE", "2s")]);
    common::service::signal(&paused, "STOP");
    // About time itself: A must stay stopped past its lease (2 s) for B to take over.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = b.run(&["--lease", "2s", "sync"], None);
    assert_eq!(r.code, 0, "B takes the workspace over and pushes: {}", r.stderr);
    assert!(r.stdout.contains("OUTBOUND: pushed 1 commit to main"), "{}", r.stdout);
    common::service::signal(&paused, "CONT");
    std::fs::remove_file(points.join("before-push")).unwrap();
    let out = paused.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: this pass lost its lease on workspace `acme-staging`: it went 2s without renewing it"),
        "{stderr}"
    );
    let history = remote.history("main");
    assert_eq!(
        history.iter().filter(|c| c.starts_with("update model orders")).count(),
        1,
        "{history:?}"
    );
    // Both replicas now agree: nothing queued, the change pushed once, and A's next pass is quiet.
    let r = a.run(&["sync", "--format", "json"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["pushed"], 0, "{report}");
    assert_eq!(a.json(&["status", "--format", "json"])["queued"], serde_json::json!([]));
    let log = a.json(&["log", "--format", "json"]);
    assert_eq!(logged(&log, "orders", "pushed"), 1, "{log}");
}

/// A replica killed mid-pass (`kill -9`) does not hold its workspace for the lease time: its
/// session ends with it, and the next pass — on another replica — takes the workspace at once and
/// pushes the change once.
#[test]
fn a_replica_killed_mid_pass_is_taken_over_at_once() {
    let remote = Remote::new(true);
    let (_a, b, mut killed, _) = replica_paused_before_push(&remote, &[]);
    killed.kill().unwrap();
    killed.wait().unwrap();
    // The lease (15 s) has not run out; B does not wait for it.
    let r = b.run(&["--lock-wait", "5s", "sync"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("waiting for the pass"), "{}", r.stderr);
    assert!(r.stdout.contains("OUTBOUND: pushed 1 commit to main"), "{}", r.stdout);
    let history = remote.history("main");
    assert_eq!(
        history.iter().filter(|c| c.starts_with("update model orders")).count(),
        1,
        "{history:?}"
    );
}
