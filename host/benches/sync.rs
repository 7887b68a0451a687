//! Benchmark of the sync engine with the real binary against a bare repository over file://.
//! Run with `cargo bench -p gitsync --bench sync` (add `-- --resources N` to resize; default 10,000).
//!
//! 1. Full resync of an N-resource workspace (N/2 models, N/2 syncs) into a branch holding only a
//!    README: one commit, pushed, then the branch applied back. Baseline in the same run: the git
//!    CLI writing, adding, committing and pushing the same files.
//! 2. One `gitsync sync` pass applying a 100-file INBOUND commit (50 models, 50 syncs changed) on
//!    that repository. Baseline in the same run: `gitsync validate` of the whole checkout (warm).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::git;
use gitsync::author::Author;
use gitsync::store::{Endpoint, EndpointKind, Location};

fn model(i: usize) -> String {
    format!(
        "name: Model {i}\nsource: bench-postgres\ntype: table\ntableName: public.table_{i}\nisSchema: false\nprimaryKey: id\n"
    )
}

fn sync(i: usize) -> String {
    format!(
        "model: model-{i}\ndestination: bench-salesforce\nconfig:\n  object: Contact\n  mode: upsert\nschedule:\n  type: interval\n  schedule:\n    interval:\n      unit: hour\n      quantity: {}\nschedulePaused: false\n",
        1 + i % 24
    )
}

fn gitsync(data: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gitsync"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("GITSYNC_CACHE_DIR", common::shared_cache())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "gitsync {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--resources")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000usize);
    let remote = common::Remote::new(true);
    let (root, bare, person, url) = (
        remote.root.clone(),
        remote.bare.clone(),
        remote.person.clone(),
        remote.url.clone(),
    );

    eprintln!("setting up a workspace of {n} resources…");
    let data = root.join("data");
    {
        let (_, mut store) = gitsync::store::open(&Location::DataDir(data.clone()))
            .unwrap()
            .create("bench")
            .unwrap();
        for (kind, id) in [
            (EndpointKind::Source, "bench-postgres"),
            (EndpointKind::Destination, "bench-salesforce"),
        ] {
            store
                .add_endpoint(
                    kind,
                    &Endpoint {
                        id: id.into(),
                        name: id.into(),
                        kind: "bench".into(),
                    },
                )
                .unwrap();
        }
        let mut items = Vec::with_capacity(n);
        for i in 0..n / 2 {
            items.push(("model".to_string(), format!("model-{i}"), model(i)));
            items.push(("sync".to_string(), format!("sync-{i}"), sync(i)));
        }
        let author = Author::parse("Bench <bench@example.com>").unwrap();
        store.put_many(&items, &author).unwrap();
    }
    gitsync(&data, &["connect", "--repo", &url, "--branch", "main"]);
    // Warm the component cache so both measurements see a warm start.
    gitsync(&root, &["validate", person.to_str().unwrap()]);

    eprintln!("1. full resync of {n} resources into the branch…");
    let resync = gitsync(&data, &["resync", "--yes"]);
    let commits = git(&bare, &["rev-list", "--count", "main"]);
    assert_eq!(commits.trim(), "3", "initial commit, connect, one resync commit");

    // Baseline: the git CLI writing, committing and pushing the same files.
    let base_remote = root.join("baseline.git");
    git(
        &root,
        &["init", "-q", "--bare", "-b", "main", base_remote.to_str().unwrap()],
    );
    let base = root.join("baseline");
    git(&root, &["clone", "-q", bare.to_str().unwrap(), base.to_str().unwrap()]);
    git(&base, &["reset", "-q", "--hard", "HEAD~1"]);
    git(&base, &["remote", "set-url", "origin", base_remote.to_str().unwrap()]);
    git(&base, &["push", "-q", "origin", "main"]);
    let start = Instant::now();
    std::fs::create_dir_all(base.join("models")).unwrap();
    std::fs::create_dir_all(base.join("syncs")).unwrap();
    for i in 0..n / 2 {
        std::fs::write(base.join(format!("models/model-{i}.yaml")), model(i)).unwrap();
        std::fs::write(base.join(format!("syncs/sync-{i}.yaml")), sync(i)).unwrap();
    }
    git(&base, &["add", "-A"]);
    git(&base, &["commit", "-q", "-m", "baseline"]);
    git(&base, &["push", "-q", "origin", "main"]);
    let git_cli = start.elapsed();

    eprintln!("2. one pass applying a 100-file inbound commit…");
    git(&person, &["pull", "-q", "origin", "main"]);
    for i in 0..50 {
        let m = person.join(format!("models/model-{i}.yaml"));
        std::fs::write(&m, model(i).replace("primaryKey: id", "primaryKey: row_id")).unwrap();
        let s = person.join(format!("syncs/sync-{i}.yaml"));
        std::fs::write(&s, sync(i).replace("mode: upsert", "mode: update")).unwrap();
    }
    git(&person, &["commit", "-q", "-am", "change 100 files"]);
    git(&person, &["push", "-q", "origin", "main"]);
    let inbound = gitsync(&data, &["sync"]);
    let validate = gitsync(&root, &["validate", person.to_str().unwrap(), "--format", "json"]);

    println!(
        "sync benchmark, {n} resources ({} models, {} syncs), file:// remote",
        n / 2,
        n / 2
    );
    println!(
        "full resync into an empty branch (one commit, push, apply back): {:>8.0} ms  ({:.2}x the git CLI writing, committing and pushing the same files: {:.0} ms)",
        ms(resync),
        resync.as_secs_f64() / git_cli.as_secs_f64(),
        ms(git_cli)
    );
    println!(
        "one pass applying a 100-file inbound commit:                      {:>8.0} ms  ({:.2}x a warm `gitsync validate` of the whole repository: {:.0} ms)",
        ms(inbound),
        inbound.as_secs_f64() / validate.as_secs_f64(),
        ms(validate)
    );
    let _ = std::fs::remove_dir_all(&root);
}
