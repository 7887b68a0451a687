//! Benchmark of `gitsync serve` at scale: many workspaces, on SQLite and on PostgreSQL, with one and
//! with three replicas. The real binary on loopback, a PostgreSQL server of the bench's own
//! (tests/common/pg.rs), bare repositories over file://.
//! Run with `cargo bench -p gitsync --bench scale` (add `-- --workspaces N` to resize, default 200;
//! `-- --writes N` for the API write measurement, default 400).
//!
//! Set-up: N workspaces, each connected to its own repository, made in a data directory (SQLite)
//! and copied with `gitsync store copy` into a PostgreSQL database.
//!
//! 1. A push to every repository at once, and a `POST …/sync` for every workspace (to any replica):
//!    the time until every workspace has the pushed resource, and each workspace's latency (p50,
//!    p95). On SQLite with one service (the baseline), on PostgreSQL with one replica and with
//!    three.
//! 2. API writes per second, 8 clients writing to different workspaces: PostgreSQL against SQLite.
//!
//! For each run it also reads the CPU time the gitsync processes and the PostgreSQL server used,
//! against the wall time × the machine's cores: which of them is the limit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::service::*;
use common::*;

const ADA: &str = "Ada Lovelace <ada@example.com>";
const GRACE: &str = "Grace Hopper <grace@example.com>";

fn model(name: &str) -> String {
    format!("name: {name}\nsource: pg\ntype: table\ntableName: public.{name}\nisSchema: false\nprimaryKey: id\n")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system, with that of children waited for: a server's ended backends) used
/// so far by the processes `filter` picks by pid and command line.
fn cpu_of(filter: impl Fn(u32, &str) -> bool) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !filter(pid, &cmdline) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime, stime, cutime, cstime: fields 14 to 17 of stat, 12 to 15 after the name.
        total += (11..15)
            .map(|i| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
            .sum::<f64>()
            / ticks;
    }
    total
}

/// CPU seconds used so far by the replicas (`pids`) and by the PostgreSQL server (with `pg`; the
/// bench runs the only one: its postmaster and backends are the `postgres` processes).
fn cpu(pids: &[u32], pg: bool) -> (f64, f64) {
    let ours = cpu_of(|pid, _| pids.contains(&pid));
    let server = if pg {
        cpu_of(|_, cmd| cmd.starts_with("postgres") || cmd.contains("bin/postgres "))
    } else {
        0.0
    };
    (ours, server)
}

/// The workspaces, their repositories, and a data directory holding them all.
struct Fleet {
    ids: Vec<String>,
    remotes: Vec<Remote>,
    data: PathBuf,
}

fn fleet(n: usize) -> Fleet {
    let data = scratch("scale").join("sqlite");
    let mut ids = Vec::new();
    let mut remotes = Vec::new();
    for w in 0..n {
        if w % 20 == 0 {
            eprintln!("  set-up: workspace {w} of {n}…");
        }
        let remote = Remote::new(true);
        let id = format!("ws-{w:03}");
        ok_with_data(&data, &["workspace", "init", &id]);
        let ws = ["--workspace", id.as_str()];
        ok_with_data(
            &data,
            &[
                &ws[..],
                &["workspace", "add-source", "pg", "--name", "PG", "--type", "postgres"],
            ]
            .concat(),
        );
        ok_with_data(
            &data,
            &[&ws[..], &["connect", "--repo", &remote.url, "--branch", "main"]].concat(),
        );
        ok_with_data(&data, &[&ws[..], &["sync"]].concat());
        ids.push(id);
        remotes.push(remote);
    }
    Fleet { ids, remotes, data }
}

/// What one run measured.
struct Round {
    what: String,
    all: Duration,
    p50: Duration,
    p95: Duration,
    cpu_gitsync: f64,
    cpu_pg: f64,
    /// CPU seconds over `IDLE` with nothing to do: the replicas, the server.
    idle: (f64, f64),
}

/// How long the idle cost is measured.
const IDLE: Duration = Duration::from_secs(5);

/// A commit to every repository, then `POST …/sync` for every workspace, spread over the
/// replicas; until each workspace has the resource.
fn push_round(what: &str, f: &Fleet, replicas: &[Service], token: &str, round: usize, pg: bool) -> Round {
    let slug = format!("pushed-{round}");
    for remote in &f.remotes {
        remote.commit(
            "main",
            &[(&format!("models/{slug}.yaml"), Some(&model(&slug)))],
            "a push",
            GRACE,
        );
    }
    let pids: Vec<u32> = replicas.iter().map(|r| r.child.as_ref().unwrap().id()).collect();
    let before = cpu(&pids, pg);
    let t = Instant::now();
    for (i, id) in f.ids.iter().enumerate() {
        let r =
            replicas[i % replicas.len()].call("POST", &format!("/api/v1/workspaces/{id}/sync"), Some(token), &[], None);
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let mut lat = Vec::new();
    let mut waiting: Vec<(usize, &String)> = f.ids.iter().enumerate().collect();
    while !waiting.is_empty() {
        waiting.retain(|(i, id)| {
            let done = replicas[i % replicas.len()]
                .get(&format!("/api/v1/workspaces/{id}/resources/model/{slug}"), token)
                .status
                == 200;
            if done {
                lat.push(t.elapsed());
            }
            !done
        });
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "not all applied: {} left",
            waiting.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = t.elapsed();
    let after = cpu(&pids, pg);
    lat.sort();
    Round {
        what: what.to_string(),
        all,
        p50: percentile(&lat, 0.5),
        p95: percentile(&lat, 0.95),
        cpu_gitsync: after.0 - before.0,
        cpu_pg: after.1 - before.1,
        idle: (0.0, 0.0),
    }
}

/// `writes` API writes by 8 clients, each to workspaces of its own, spread over the replicas:
/// writes per second.
fn write_rate(f: &Fleet, replicas: &[Service], token: &str, writes: usize, tag: &str) -> f64 {
    let t = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..8 {
            let s = &replicas[c % replicas.len()];
            scope.spawn(move || {
                for i in (c..writes).step_by(8) {
                    let id = &f.ids[i % f.ids.len()];
                    let slug = format!("{tag}-{i}");
                    let r = s.put_yaml(
                        &format!("/api/v1/workspaces/{id}/resources/model/{slug}"),
                        token,
                        &model(&slug),
                    );
                    assert_eq!(r.status, 201, "{}", r.body);
                }
            });
        }
    });
    writes as f64 / t.elapsed().as_secs_f64()
}

/// One run: the replicas warmed up, a push round, the write rate; then stopped.
fn measure(
    what: &str,
    replicas: Vec<Service>,
    f: &Fleet,
    token: &str,
    round: usize,
    pg: bool,
    writes: usize,
) -> (Round, f64) {
    eprintln!("{what}…");
    // A first round, not counted: replicas new to a shared store clone each repository on their
    // first pass, and the measured round is about passes, not clones.
    let t = Instant::now();
    push_round(what, f, &replicas, token, 100 + round, pg);
    eprintln!("  warmed up (first passes, clones) in {:.0} ms", ms(t.elapsed()));
    // What the replicas cost doing nothing: watching the queues, saying they are alive.
    let pids: Vec<u32> = replicas.iter().map(|r| r.child.as_ref().unwrap().id()).collect();
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu(&pids, pg);
    std::thread::sleep(IDLE);
    let after = cpu(&pids, pg);
    let mut pushed = push_round(what, f, &replicas, token, round, pg);
    pushed.idle = (after.0 - before.0, after.1 - before.1);
    let rate = write_rate(f, &replicas, token, writes, &format!("w{round}"));
    for mut s in replicas {
        assert!(
            s.stop().success(),
            "{}",
            std::fs::read_to_string(&s.log).unwrap_or_default()
        );
    }
    (pushed, rate)
}

fn start(data: &Path, name: &str, url: Option<&str>) -> Service {
    let mut env = Vec::new();
    if let Some(url) = url {
        env.push(("GITSYNC_STORE", url));
    }
    Service::start(data, &["--replica-name", name, "--poll", "off"], &env)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--workspaces", 200);
    let writes = arg(&args, "--writes", 400);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    eprintln!("scale benchmark: {n} workspaces, {writes} API writes; {cores} cores");
    let t = Instant::now();
    let f = fleet(n);
    let token = token(&f.data, ADA, &[]);
    eprintln!("  {n} workspaces made in {:.0} s", t.elapsed().as_secs_f64());
    let server = pg::server();
    let url = server.database();
    let copy = run_with_env(
        &f.data,
        &[
            "store",
            "copy",
            "--from",
            &format!("sqlite:{}", f.data.display()),
            "--to",
            &url,
        ],
        None,
        &[],
    );
    assert_eq!(copy.code, 0, "{}", copy.stderr);

    let runs = [
        measure(
            "SQLite, 1 service (baseline)",
            vec![start(&f.data, "sqlite", None)],
            &f,
            &token,
            1,
            false,
            writes,
        ),
        measure(
            "PostgreSQL, 1 replica",
            vec![start(&scratch("scale").join("pg-1"), "one", Some(&url))],
            &f,
            &token,
            2,
            true,
            writes,
        ),
        measure(
            "PostgreSQL, 3 replicas",
            ["r1", "r2", "r3"]
                .iter()
                .map(|name| start(&scratch("scale").join(name), name, Some(&url)))
                .collect(),
            &f,
            &token,
            3,
            true,
            writes,
        ),
    ];
    let rounds: Vec<&Round> = runs.iter().map(|(r, _)| r).collect();
    let base = rounds[0].all;
    println!("\n{n} workspaces, a push to each and a sync asked for each at once ({cores} cores):");
    println!(
        "{:<30} {:>9} {:>7} {:>8} {:>8} {:>13} {:>13}",
        "run", "all done", "ratio", "p50", "p95", "gitsync CPU", "postgres CPU"
    );
    for r in &rounds {
        let wall = r.all.as_secs_f64();
        println!(
            "{:<30} {:>7.1} s {:>6.2}x {:>6.0} ms {:>6.0} ms {:>6.1} s ({:>3.0}%) {:>6.1} s ({:>3.0}%)",
            r.what,
            wall,
            wall / base.as_secs_f64(),
            ms(r.p50),
            ms(r.p95),
            r.cpu_gitsync,
            100.0 * r.cpu_gitsync / (wall * cores),
            r.cpu_pg,
            100.0 * r.cpu_pg / (wall * cores),
        );
    }
    println!("(CPU: seconds used during the round, and the share of wall time × cores)");
    println!("\nIdle, nothing to do, over {IDLE:?} (share of one core):");
    for r in &rounds {
        let core = |s: f64| 100.0 * s / IDLE.as_secs_f64();
        println!(
            "{:<30} gitsync {:>5.1}%   postgres {:>5.1}%",
            r.what,
            core(r.idle.0),
            core(r.idle.1)
        );
    }
    println!("\nAPI writes, 8 clients, {writes} writes over the workspaces:");
    let base = runs[0].1;
    for (r, rate) in &runs {
        println!("{:<30} {rate:>7.0} writes/s {:>6.2}x", r.what, rate / base);
    }
}
