//! `serve` replicas sharing one PostgreSQL store (a real server the tests start,
//! tests/common/pg.rs): the workspaces are split between them, any replica takes any request, a
//! replica stopped hands its workspaces back at once, and one killed mid-pass is taken over within
//! the lease time with every change applied exactly once.

mod common;

use common::service::{Service, signal};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const ADA: &str = "Ada Lovelace <ada@example.com>";

/// The workspaces of a test: `ws-00`, `ws-01`, …
fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ws-{i:02}")).collect()
}

fn model(name: &str) -> String {
    format!("name: {name}\nsource: pg\ntype: table\ntableName: public.{name}\nisSchema: false\nprimaryKey: id\n")
}

/// One PostgreSQL database holding `n` workspaces, each connected to a remote of its own with its
/// first pass done; a token for Ada on every workspace.
struct Cluster {
    url: String,
    remotes: BTreeMap<String, Remote>,
    token: String,
}

impl Cluster {
    fn new(n: usize) -> Cluster {
        Cluster::on(pg::server().database(), n)
    }

    /// `n` workspaces in the database at `url`.
    fn on(url: String, n: usize) -> Cluster {
        let admin = scratch("replicas").join("admin");
        let cli = |args: &[&str]| {
            let r = run_with_env(&admin, args, None, &[("GITSYNC_STORE", &url)]);
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            r.stdout
        };
        let mut remotes = BTreeMap::new();
        for id in ids(n) {
            let remote = Remote::new(true);
            cli(&["workspace", "init", &id]);
            let w = ["--workspace", id.as_str()];
            cli(&[
                &w[..],
                &["workspace", "add-source", "pg", "--name", "PG", "--type", "postgres"],
            ]
            .concat());
            cli(&[&w[..], &["connect", "--repo", &remote.url, "--branch", "main"]].concat());
            cli(&[&w[..], &["sync"]].concat());
            remotes.insert(id, remote);
        }
        let created: Value = serde_json::from_str(&cli(&["token", "create", "--as", ADA, "--format", "json"])).unwrap();
        Cluster {
            url,
            remotes,
            token: created["token"].as_str().unwrap().to_string(),
        }
    }

    /// Replica `name`: `serve` on a data directory of its own, on the shared store.
    fn replica(&self, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Service {
        let data = scratch("replicas").join(name);
        let mut args = vec!["--replica-name", name];
        args.extend_from_slice(extra);
        let mut all_env = vec![("GITSYNC_STORE", self.url.as_str())];
        all_env.extend_from_slice(env);
        Service::start(&data, &args, &all_env)
    }

    /// Which replica serves each workspace, as `svc` says; none until it says so for every one.
    fn split(&self, svc: &Service) -> Option<BTreeMap<String, String>> {
        self.remotes
            .keys()
            .map(|id| {
                let s = svc.status(id, &self.token);
                s["served_by"].as_str().map(|o| (id.clone(), o.to_string()))
            })
            .collect()
    }

    /// Wait until every replica in `replicas` says the same split, over exactly those named
    /// `names`; that split.
    fn agreed(&self, replicas: &[&Service], names: &[&str]) -> BTreeMap<String, String> {
        let mut agreed = BTreeMap::new();
        eventually("the replicas agree on the split", || {
            let splits: Vec<_> = replicas.iter().map(|r| self.split(r)).collect();
            let Some(Some(first)) = splits.first().cloned() else {
                return false;
            };
            let same = splits.iter().all(|s| s.as_ref() == Some(&first));
            let over: std::collections::BTreeSet<&str> = first.values().map(String::as_str).collect();
            agreed = first.clone();
            same && over == names.iter().copied().collect()
        });
        agreed
    }

    /// Commits on workspace `id`'s remote whose subject starts with `subject`.
    fn commits(&self, id: &str, subject: &str) -> usize {
        self.remotes[id]
            .history("main")
            .iter()
            .filter(|c| c.starts_with(subject))
            .count()
    }
}

/// Any replica takes any request: the workspaces are split (no replica holds them all, none
/// idles), a change or a `POST …/sync` made on a replica that does not run the workspace goes out
/// once, through the one that does, and the run it started ends on the replica that took it. A
/// replica stopped with SIGTERM hands its workspaces to the others at once.
#[test]
fn replicas_split_the_workspaces_and_any_replica_takes_any_request() {
    let c = Cluster::new(10);
    let names = ["replica-a", "replica-b", "replica-c"];
    let replicas: Vec<Service> = names.iter().map(|n| c.replica(n, &[], &[])).collect();
    let all: Vec<&Service> = replicas.iter().collect();
    let split = c.agreed(&all, &names);
    for n in names {
        let held = split.values().filter(|o| *o == n).count();
        assert!((3..=4).contains(&held), "{n} runs {held} of 10: {split:?}");
    }
    let by_name = |n: &str| &replicas[names.iter().position(|x| *x == n).unwrap()];
    // Each change through a replica that does not run the workspace.
    for id in c.remotes.keys() {
        let owner = &split[id];
        let other = names.iter().find(|n| *n != owner).unwrap();
        let path = format!("/api/v1/workspaces/{id}/resources/model/orders");
        assert_eq!(by_name(other).put_yaml(&path, &c.token, &model("orders")).status, 201);
    }
    for id in c.remotes.keys() {
        eventually(&format!("{id}'s change pushed"), || {
            c.commits(id, "update model orders") == 1
        });
    }
    // A sync asked of a replica that does not run the workspace: a commit made in Git since comes
    // in, and the run ends, on the replica that took it, with the pass that did it.
    let id = "ws-03";
    let other = names.iter().find(|n| **n != split[id]).unwrap();
    c.remotes[id].commit(
        "main",
        &[("models/customers.yaml", Some(&model("customers")))],
        "add customers",
        "Grace Hopper <grace@example.com>",
    );
    let asked = by_name(other).call(
        "POST",
        &format!("/api/v1/workspaces/{id}/sync"),
        Some(&c.token),
        &[],
        None,
    );
    assert_eq!(asked.status, 202, "{}", asked.body);
    let run = asked.json()["run"].as_str().unwrap().to_string();
    let mut ended = Value::Null;
    eventually("the run asked of another replica ends", || {
        ended = by_name(other)
            .get(&format!("/api/v1/workspaces/{id}/runs/{run}"), &c.token)
            .json();
        ended["state"] == "done"
    });
    assert_eq!(ended["pass"]["outcome"], "ok", "{ended}");
    let got = by_name(other).get(&format!("/api/v1/workspaces/{id}/resources/model/customers"), &c.token);
    assert_eq!(got.status, 200, "the commit came in: {}", got.body);
    // Every change went out exactly once, whoever took it.
    for id in c.remotes.keys() {
        assert_eq!(c.commits(id, "update model orders"), 1, "{id}");
    }
    // SIGTERM: replica-a leaves, and the two left split its workspaces between them at once.
    let mut replicas = replicas;
    let mut a = replicas.remove(0);
    let stopping = Instant::now();
    assert!(
        a.stop().success(),
        "{}",
        std::fs::read_to_string(&a.log).unwrap_or_default()
    );
    let left: Vec<&Service> = replicas.iter().collect();
    let after = c.agreed(&left, &names[1..]);
    let handed = stopping.elapsed();
    assert!(handed < Duration::from_secs(5), "handed over in {handed:?}");
    for n in &names[1..] {
        let held = after.values().filter(|o| o == n).count();
        assert_eq!(held, 5, "{n} runs {held} of 10: {after:?}");
    }
    // A change to one of replica-a's workspaces goes out through its new replica.
    let (moved, _) = split.iter().find(|(_, o)| *o == "replica-a").unwrap();
    let path = format!("/api/v1/workspaces/{moved}/resources/model/returns");
    assert_eq!(replicas[0].put_yaml(&path, &c.token, &model("returns")).status, 201);
    eventually("the change pushed by the new replica", || {
        c.commits(moved, "update model returns") == 1
    });
    let log = std::fs::read_to_string(&a.log).unwrap();
    assert!(log.contains("left the replicas"), "{log}");
}

/// Failover: three replicas, ten workspaces, changes flowing both ways; one replica is killed with
/// `kill -9` while one of its passes has made its commit and not pushed it. Every workspace it ran
/// is taken over within the lease time (15 s, the default), and in the end every change is in Git
/// exactly once and every commit made in Git is in the workspace.
#[test]
fn a_replica_killed_mid_pass_is_taken_over_and_every_change_lands_once() {
    let c = Cluster::new(10);
    let names = ["replica-a", "replica-b", "replica-c"];
    let points = scratch("failpoints");
    let points_dir = points.to_str().unwrap().to_string();
    // replica-a holds the first pass that reaches its push.
    let replicas: Vec<Service> = names
        .iter()
        .map(|n| {
            let env: Vec<(&str, &str)> = if *n == "replica-a" {
                vec![
                    ("GITSYNC_FAILPOINTS", "before-push=pause"),
                    ("GITSYNC_FAILPOINT_DIR", points_dir.as_str()),
                ]
            } else {
                vec![]
            };
            c.replica(n, &["--poll", "1s"], &env)
        })
        .collect();
    let all: Vec<&Service> = replicas.iter().collect();
    let split = c.agreed(&all, &names);
    let a_runs: Vec<&String> = split
        .iter()
        .filter(|(_, o)| *o == "replica-a")
        .map(|(id, _)| id)
        .collect();
    assert!(!a_runs.is_empty(), "{split:?}");
    // A commit in Git for every workspace, and a change in every workspace, each through the
    // replica after the one that runs it.
    for id in c.remotes.keys() {
        c.remotes[id].commit(
            "main",
            &[("models/customers.yaml", Some(&model("customers")))],
            "add customers",
            "Grace Hopper <grace@example.com>",
        );
    }
    for (i, id) in c.remotes.keys().enumerate() {
        let path = format!("/api/v1/workspaces/{id}/resources/model/orders");
        assert_eq!(
            replicas[(i + 1) % 3].put_yaml(&path, &c.token, &model("orders")).status,
            201
        );
    }
    eventually("replica-a paused before a push", || points.join("before-push").exists());
    let mut replicas = replicas;
    let mut a = replicas.remove(0);
    let killed = Instant::now();
    signal(a.child.as_ref().unwrap(), "KILL");
    let _ = a.wait_exit();
    std::fs::remove_file(points.join("before-push")).unwrap();
    // Within the lease time every workspace has its change pushed, once, and the commit applied.
    let mut pending: Vec<String> = c.remotes.keys().cloned().collect();
    while !pending.is_empty() && killed.elapsed() < Duration::from_secs(15) {
        pending.retain(|id| {
            let pushed = c.commits(id, "update model orders") == 1;
            let applied = replicas[0]
                .get(&format!("/api/v1/workspaces/{id}/resources/model/customers"), &c.token)
                .status
                == 200;
            !(pushed && applied)
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pending.is_empty(),
        "not done 15 s after the kill: {pending:?} (replica-a ran {a_runs:?})"
    );
    let took = killed.elapsed();
    eprintln!("every workspace done {took:?} after the kill");
    // Settled: nothing queued anywhere, and each change logged pushed exactly once.
    for id in c.remotes.keys() {
        let history = c.remotes[id].history("main");
        let orders = history.iter().filter(|h| h.contains("model orders")).count();
        assert_eq!(orders, 1, "{id}: {history:?}");
        let status = replicas[1].status(id, &c.token);
        assert_eq!(status["queued"], serde_json::json!([]), "{id}: {status}");
        let log = replicas[1]
            .get(&format!("/api/v1/workspaces/{id}/log"), &c.token)
            .json();
        assert_eq!(logged(&log, "orders", "pushed"), 1, "{id}: {log}");
    }
}

/// PostgreSQL restarted under load: two replicas, four workspaces, a client writing through both
/// replicas without pause while the server stops and comes back. The replicas stay up, answer 503
/// `store_unavailable` while it is away, reconnect and carry on: every write, sent again until it
/// is accepted, is pushed exactly once.
#[test]
fn postgresql_restarted_under_load_loses_nothing() {
    let server = pg::own_server("restart");
    let c = Cluster::on(server.database(), 4);
    let names = ["replica-a", "replica-b"];
    let mut replicas: Vec<Service> = names.iter().map(|n| c.replica(n, &[], &[])).collect();
    c.agreed(&replicas.iter().collect::<Vec<_>>(), &names);
    let ids: Vec<String> = c.remotes.keys().cloned().collect();
    let total = 30;
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let unavailable = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut unavailable = 0;
            for i in 0..total {
                let id = &ids[i % ids.len()];
                let path = format!("/api/v1/workspaces/{id}/resources/model/m{i}");
                // Sent again until accepted (a write sent again after a lost answer is unchanged).
                loop {
                    let r = replicas[i % 2].put_yaml(&path, &c.token, &model(&format!("m{i}")));
                    match r.status {
                        200 | 201 => break,
                        503 => {
                            assert_eq!(r.json()["error"]["code"], "store_unavailable", "{}", r.body);
                            unavailable += 1;
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        other => panic!("write {i}: {other} {}", r.body),
                    }
                }
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
            unavailable
        });
        eventually("a third of the writes accepted", || {
            accepted.load(std::sync::atomic::Ordering::SeqCst) >= total / 3
        });
        server.stop();
        std::thread::sleep(Duration::from_secs(2));
        server.start_again();
        writer.join().unwrap()
    });
    assert!(unavailable > 0, "the writes met the server down");
    for i in 0..total {
        let id = &ids[i % ids.len()];
        eventually(&format!("m{i} pushed to {id}"), || {
            c.commits(id, &format!("update model m{i}|")) == 1
        });
    }
    // Settled: each change once, nothing queued, both replicas up and serving.
    for id in &ids {
        let history = c.remotes[id].history("main");
        let mut subjects: Vec<&String> = history.iter().filter(|h| h.starts_with("update model")).collect();
        subjects.sort();
        let n = subjects.len();
        subjects.dedup();
        assert_eq!(subjects.len(), n, "{id}: {history:?}");
        assert_eq!(replicas[0].status(id, &c.token)["queued"], serde_json::json!([]));
    }
    for r in &mut replicas {
        assert!(
            r.child.as_mut().unwrap().try_wait().unwrap().is_none(),
            "the replica is still up"
        );
        assert!(
            r.stop().success(),
            "{}",
            std::fs::read_to_string(&r.log).unwrap_or_default()
        );
    }
}

/// Fencing with `serve` replicas: replica A's pass is held just before its push and A is paused
/// (SIGSTOP) past its lease (2 s here). B sees A gone, takes the workspace and pushes the change; A,
/// resumed, finds its lease lost, pushes and records nothing, and stays up. One commit for the
/// change, nothing queued, the change logged pushed once.
#[test]
fn a_replica_paused_past_its_lease_loses_its_workspaces_and_pushes_nothing() {
    let c = Cluster::new(2);
    let points = scratch("failpoints");
    let points_dir = points.to_str().unwrap().to_string();
    let lease = [("GITSYNC_LEASE", "2s")];
    let a_env = [
        lease[0],
        ("GITSYNC_FAILPOINTS", "before-push=pause"),
        ("GITSYNC_FAILPOINT_DIR", points_dir.as_str()),
    ];
    let a = c.replica("replica-a", &[], &a_env);
    let b = c.replica("replica-b", &[], &lease);
    let split = c.agreed(&[&a, &b], &["replica-a", "replica-b"]);
    let id = split
        .iter()
        .find(|(_, o)| *o == "replica-a")
        .map(|(id, _)| id.clone())
        .unwrap();
    let path = format!("/api/v1/workspaces/{id}/resources/model/orders");
    assert_eq!(b.put_yaml(&path, &c.token, &model("orders")).status, 201);
    eventually("A's pass held before its push", || points.join("before-push").exists());
    signal(a.child.as_ref().unwrap(), "STOP");
    eventually("B runs the workspace and pushed the change", || {
        b.status(&id, &c.token)["served_by"] == "replica-b" && c.commits(&id, "update model orders|") == 1
    });
    signal(a.child.as_ref().unwrap(), "CONT");
    std::fs::remove_file(points.join("before-push")).unwrap();
    eventually("A says its pass lost the lease", || {
        std::fs::read_to_string(&a.log)
            .unwrap_or_default()
            .contains("this pass lost its lease")
    });
    // A is back among the replicas; whoever runs the workspace now finds nothing left to push.
    c.agreed(&[&a, &b], &["replica-a", "replica-b"]);
    let after = b.passes(&id, &c.token);
    assert_eq!(
        b.call(
            "POST",
            &format!("/api/v1/workspaces/{id}/sync"),
            Some(&c.token),
            &[],
            None
        )
        .status,
        202
    );
    let settled = b.settled_after(&id, &c.token, after);
    assert_eq!(settled["queued"], serde_json::json!([]), "{settled}");
    assert_eq!(
        c.commits(&id, "update model orders|"),
        1,
        "{:?}",
        c.remotes[&id].history("main")
    );
    let log = b.get(&format!("/api/v1/workspaces/{id}/log"), &c.token).json();
    assert_eq!(logged(&log, "orders", "pushed"), 1, "{log}");
}

/// A change whose write is slow to commit (here a transaction held open for two of the watcher's
/// one-second looks) is still seen and pushed once it lands: the queue's number given to it moves
/// before its row is there, and a look in between must not take it as seen.
#[test]
fn a_change_slow_to_commit_is_still_pushed() {
    let c = Cluster::new(1);
    let replica = c.replica("replica-a", &[], &[]);
    c.agreed(&[&replica], &["replica-a"]);
    let mut db = postgres::Client::connect(&c.url, postgres::NoTls).unwrap();
    let schema: String = db
        .query_one("SELECT schema_name FROM gitsync.workspaces WHERE id = 'ws-00'", &[])
        .unwrap()
        .get(0);
    let mut tx = db.transaction().unwrap();
    let yaml = model("orders");
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".resources (kind, slug, yaml, updated_at, updated_by) VALUES ('model', 'orders', $1, '2026-12-07T00:00:00Z', $2)"
        ),
        &[&yaml, &ADA],
    )
    .unwrap();
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".outbound (kind, slug, op, author, at, yaml, uid) VALUES ('model', 'orders', 'put', $1, '2026-12-07T00:00:00Z', $2, 'slow')"
        ),
        &[&ADA, &yaml],
    )
    .unwrap();
    // About time itself: the watcher looks every second, and must look while this is open.
    std::thread::sleep(Duration::from_millis(2500));
    tx.commit().unwrap();
    eventually("the slow change pushed", || {
        c.commits("ws-00", "update model orders") == 1
    });
    eventually("nothing queued", || {
        replica.status("ws-00", &c.token)["queued"] == serde_json::json!([])
    });
}
