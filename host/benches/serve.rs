//! Benchmark of `gitsync serve`: the real binary on loopback, bare repositories over file://.
//! Run with `cargo bench -p gitsync --bench serve` (add `-- --changes N` to resize; default 50;
//! `-- --binary PATH` runs another build of gitsync, to compare two builds with the same harness).
//!
//! 1. Push + webhook → the change readable through the API, N times, one after another.
//! 2. API `PUT` → the commit on the remote, N times, one after another (default debounce, 1 s).
//! 3. 50 workspaces in one service (each its own repository), all pushed to and hooked at once:
//!    every change applied; each workspace's latency.
//! 4. 20 API clients writing N changes each at once, each client to its own resource: every change in
//!    Git exactly once, in per-resource order, no 5xx; throughput.
//!
//! 5. Request cost: 2,000 `GET …/status` with a valid token, 2,000 with an unknown one, interleaved
//!    in rounds; the refused request's cost as a ratio of the accepted one's.
//!
//! Baseline in the same run: one `gitsync sync` run by hand for one pushed change (what a cron job
//! would do, without the waiting).

use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::service::*;
use common::*;

const ADA: &str = "Ada Lovelace <ada@example.com>";
const GRACE: &str = "Grace Hopper <grace@example.com>";
const SECRET: &str = "bench-webhook-secret-0123456789";

fn model(name: &str, version: usize) -> String {
    format!("name: {name}\nsource: staging-postgres\ntype: table\ntableName: public.t_{version}\nprimaryKey: id\n")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(what: &str, mut v: Vec<Duration>, baseline: Duration) {
    v.sort();
    let (p50, p95) = (percentile(&v, 0.5), percentile(&v, 0.95));
    println!(
        "{what:<58} p50 {:>7.0} ms  p95 {:>7.0} ms  ({:.2}x / {:.2}x the hand-run pass)",
        ms(p50),
        ms(p95),
        p50.as_secs_f64() / baseline.as_secs_f64(),
        p95.as_secs_f64() / baseline.as_secs_f64()
    );
}

/// A workspace `acme-staging` of its own data directory connected to a new bare repository.
fn workspace() -> (Remote, PathBuf) {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    (remote, data)
}

/// A signed GitHub push event for `branch` (signed before any timing starts: the signature comes
/// from Python's `hmac`, whose start-up is not the service's latency).
struct Delivery {
    body: String,
    signature: String,
    id: String,
}

fn delivery(branch: &str, id: String) -> Delivery {
    let body = json!({"ref": format!("refs/heads/{branch}")}).to_string();
    let signature = common::service::github_signature(SECRET, &body);
    Delivery { body, signature, id }
}

fn hook(s: &Service, ws: &str, d: &Delivery) {
    let r = s.call(
        "POST",
        &format!("/hooks/github/{ws}"),
        None,
        &[
            ("X-Hub-Signature-256", &d.signature),
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", &d.id),
        ],
        Some(d.body.as_bytes()),
    );
    assert_eq!(r.status, 202, "{}", r.body);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--changes")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50usize);
    if let Some(other) = args.iter().position(|a| a == "--binary").and_then(|i| args.get(i + 1)) {
        use_binary(other);
        println!("running {other}");
    }

    // Baseline: a hand-run pass for one pushed change.
    let (remote, data) = workspace();
    remote.commit("main", &[("models/base.yaml", Some(&model("Base", 0)))], "base", GRACE);
    let start = Instant::now();
    ok_with_data(&data, &["sync"]);
    let baseline = start.elapsed();
    println!(
        "serve benchmark, {n} changes per measurement; baseline: a hand-run `gitsync sync` taking in one pushed change: {:.0} ms",
        ms(baseline)
    );

    // 1 and 2 on one workspace.
    run_with_env(&data, &["webhook", "secret", "--from-env", "S"], None, &[("S", SECRET)]);
    let ada = token(&data, ADA, &[]);
    let mut s = Service::start(&data, &["--debounce", "1s", "--poll", "off"], &[]);
    eprintln!("1. push + webhook -> readable through the API, {n} times…");
    let mut lat = Vec::new();
    for i in 0..n {
        remote.commit(
            "main",
            &[(&format!("models/pushed-{i}.yaml"), Some(&model("Pushed", i)))],
            "a push",
            GRACE,
        );
        let d = delivery("main", format!("d-{i}"));
        let t = Instant::now();
        hook(&s, "acme-staging", &d);
        let path = format!("/api/v1/workspaces/acme-staging/resources/model/pushed-{i}");
        while s.get(&path, &ada).status != 200 {
            std::thread::sleep(Duration::from_millis(5));
        }
        lat.push(t.elapsed());
    }
    summary("1. push + webhook -> readable through the API", lat, baseline);

    request_cost(&s, &ada);

    eprintln!("2. API PUT -> commit on the remote, {n} times…");
    let mut lat = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let r = s.put_yaml(
            &format!("/api/v1/workspaces/acme-staging/resources/model/put-{i}"),
            &ada,
            &model("Put", i),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let want = format!("update model put-{i}|Ada Lovelace");
        while git(&remote.bare, &["log", "-1", "--format=%s|%an", "main"]).trim() != want {
            std::thread::sleep(Duration::from_millis(5));
        }
        lat.push(t.elapsed());
    }
    summary("2. API PUT -> commit on the remote (debounce 1 s)", lat, baseline);
    assert!(s.stop().success());

    // 3. Fifty workspaces, each its own repository, all pushed to at once.
    eprintln!("3. 50 workspaces, pushed to and hooked at once…");
    let root = scratch("serve-bench-many");
    let data = root.join("data");
    let mut remotes = Vec::new();
    for w in 0..50 {
        let remote = Remote::new(true);
        let id = format!("ws-{w:02}");
        ok_with_data(&data, &["workspace", "init", &id]);
        ok_with_data(
            &data,
            &[
                "--workspace",
                &id,
                "workspace",
                "add-source",
                "staging-postgres",
                "--name",
                "PG",
                "--type",
                "postgres",
            ],
        );
        ok_with_data(
            &data,
            &["--workspace", &id, "connect", "--repo", &remote.url, "--branch", "main"],
        );
        ok_with_data(&data, &["--workspace", &id, "sync"]);
        run_with_env(
            &data,
            &["--workspace", &id, "webhook", "secret", "--from-env", "S"],
            None,
            &[("S", SECRET)],
        );
        remotes.push((id, remote));
    }
    let ada = token(&data, ADA, &[]);
    let mut s = Service::start(&data, &["--poll", "off", "--workers", "4"], &[]);
    for (_, remote) in &remotes {
        remote.commit(
            "main",
            &[("models/orders.yaml", Some(&model("Orders", 1)))],
            "orders",
            GRACE,
        );
    }
    let deliveries: Vec<Delivery> = remotes
        .iter()
        .map(|(id, _)| delivery("main", format!("{id}-1")))
        .collect();
    let t = Instant::now();
    for ((id, _), d) in remotes.iter().zip(&deliveries) {
        hook(&s, id, d);
    }
    let mut lat = Vec::new();
    let mut waiting: Vec<&String> = remotes.iter().map(|(id, _)| id).collect();
    while !waiting.is_empty() {
        waiting.retain(|id| {
            let done = s
                .get(&format!("/api/v1/workspaces/{id}/resources/model/orders"), &ada)
                .status
                == 200;
            if done {
                lat.push(t.elapsed());
            }
            !done
        });
        assert!(t.elapsed() < Duration::from_secs(120), "not all applied: {waiting:?}");
    }
    let all = t.elapsed();
    summary(
        "3. 50 workspaces at once: push -> readable, per workspace",
        lat,
        baseline,
    );
    println!("   all 50 applied after {:.0} ms", ms(all));
    assert!(s.stop().success());

    // 4. Twenty clients writing at once.
    eprintln!("4. 20 clients x {n} changes at once…");
    let (remote, data) = workspace();
    let ada = token(&data, ADA, &[]);
    let s = Arc::new(Service::start(&data, &["--poll", "off", "--debounce", "200ms"], &[]));
    let before = remote.history("main").len();
    let t = Instant::now();
    let clients: Vec<_> = (0..20)
        .map(|c| {
            let (s, ada) = (s.clone(), ada.clone());
            std::thread::spawn(move || {
                for i in 0..n {
                    let r = s.put_yaml(
                        &format!("/api/v1/workspaces/acme-staging/resources/model/client-{c}"),
                        &ada,
                        &model(&format!("Client {c}"), i),
                    );
                    assert!(r.status == 200 || r.status == 201, "{}: {}", r.status, r.body);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let written = t.elapsed();
    let total = 20 * n;
    while remote.history("main").len() < before + total {
        assert!(t.elapsed() < Duration::from_secs(300), "not every change reached Git");
        std::thread::sleep(Duration::from_millis(20));
    }
    let landed = t.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        remote.history("main").len(),
        before + total,
        "every change exactly once"
    );
    check_order(&remote.bare, n);
    println!(
        "4. 20 clients x {n} changes: {total} writes answered in {:.0} ms ({:.0} writes/s), all {total} commits on the remote after {:.0} ms ({:.0} commits/s); per-resource order kept, no 5xx",
        ms(written),
        total as f64 / written.as_secs_f64(),
        ms(landed),
        total as f64 / landed.as_secs_f64()
    );
}

/// Measurement 5: what a request costs when its token is accepted and when it is refused, one
/// client on a kept-alive connection, 10 rounds of 200 each, interleaved so both see the same machine.
fn request_cost(s: &Service, ada: &str) {
    eprintln!("5. request cost, accepted vs refused token…");
    let path = "/api/v1/workspaces/acme-staging/status";
    let (mut accepted, mut refused) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..10 {
        let t = Instant::now();
        for _ in 0..200 {
            assert_eq!(s.get(path, ada).status, 200);
        }
        accepted += t.elapsed();
        let t = Instant::now();
        for _ in 0..200 {
            assert_eq!(s.get(path, "gst_not_a_token").status, 401);
        }
        refused += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / 2000.0;
    println!(
        "5. request cost: accepted {:.0} us, refused {:.0} us per request (refused / accepted {:.2})",
        per(accepted),
        per(refused),
        refused.as_secs_f64() / accepted.as_secs_f64()
    );
}

/// For each client's resource, the versions in commit order are 0, 1, …, n-1.
fn check_order(bare: &Path, n: usize) {
    let log = git(bare, &["log", "--reverse", "--format=%H %s", "main"]);
    for c in 0..20 {
        let subject = format!("update model client-{c}");
        let mut versions = Vec::new();
        for line in log.lines().filter(|l| l.ends_with(&subject)) {
            let commit = line.split(' ').next().unwrap();
            let text = git(bare, &["show", &format!("{commit}:models/client-{c}.yaml")]);
            let v: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("tableName: public.t_"))
                .and_then(|v| v.parse().ok())
                .unwrap();
            versions.push(v);
        }
        assert_eq!(
            versions,
            (0..n).collect::<Vec<_>>(),
            "client {c}'s changes out of order"
        );
    }
}
