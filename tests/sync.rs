//! End-to-end tests of `connect` and the OUTBOUND pass of `sync`, against real bare repositories.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const ADA: &str = "Ada Lovelace <ada@example.com>";

fn gitsync(data: &Path, args: &[&str]) -> Run {
    run_with_data(data, args, None)
}

fn ok(data: &Path, args: &[&str]) -> String {
    ok_with_data(data, args)
}

/// A bare remote with one initial commit on `main`, and a workspace with a source and a destination.
fn setup(initial_commit: bool) -> (PathBuf, PathBuf, String) {
    let root = scratch("sync");
    let remote = root.join("remote.git");
    git(&root, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    if initial_commit {
        let seed = root.join("seed");
        git(
            &root,
            &["clone", "-q", remote.to_str().unwrap(), seed.to_str().unwrap()],
        );
        std::fs::write(seed.join("README.md"), "# config\n").unwrap();
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-q", "-m", "initial commit"]);
        git(&seed, &["push", "-q", "origin", "main"]);
    }
    let data = root.join("data");
    init_workspace(&data);
    let url = format!("file://{}", remote.display());
    (remote, data, url)
}

fn show(remote: &Path, spec: &str) -> String {
    git(remote, &["show", spec])
}

#[test]
fn connect_to_an_empty_repository_says_make_an_initial_commit() {
    let (_, data, url) = setup(false);
    let r = gitsync(&data, &["connect", "--repo", &url, "--branch", "main"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is empty: make an initial commit first"),
        "{}",
        r.stderr
    );
    let r = gitsync(&data, &["sync"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not connected; run `gitsync connect"), "{}", r.stderr);
}

#[test]
fn connect_creates_the_layout_and_outbound_commits_each_change_as_its_author() {
    let (remote, data, url) = setup(true);
    let r = gitsync(&data, &["connect", "--repo", &url, "--branch", "missing"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot clone branch `missing`"), "{}", r.stderr);
    let out = ok(
        &data,
        &["connect", "--repo", &url, "--branch", "main", "--path", "hightouch"],
    );
    assert!(out.starts_with("connected acme-staging to "), "{out}");
    let manifest = show(&remote, "main:manifest-acme-staging.yaml");
    assert!(manifest.starts_with("# READ ONLY"), "{manifest}");
    assert!(
        manifest.contains("  staging-postgres:\n    name: Staging Postgres\n    type: postgres\n"),
        "{manifest}"
    );
    assert_eq!(
        show(&remote, "main:aliases-acme-staging.yaml"),
        "sources: {}\ndestinations: {}\n"
    );
    assert_eq!(show(&remote, "main:hightouch/schema/model-relationships/.gitkeep"), "");
    assert_eq!(
        gitsync(&data, &["connect", "--repo", &url, "--branch", "main"]).code,
        2,
        "connect twice"
    );

    let model = scratch("files").join("orders.yaml");
    std::fs::write(
        &model,
        "name: Orders\nsource: staging-postgres\ntype: table\ntableName: public.orders\nprimaryKey: id\n",
    )
    .unwrap();
    ok(
        &data,
        &[
            "workspace",
            "put",
            "model",
            "orders",
            "--file",
            model.to_str().unwrap(),
            "--as",
            ADA,
        ],
    );
    ok(
        &data,
        &[
            "workspace",
            "put",
            "model",
            "orders",
            "--file",
            model.to_str().unwrap(),
            "--as",
            "Grace Hopper <grace@example.com>",
        ],
    );
    assert_eq!(
        ok(&data, &["sync"]),
        "pushed 1 commit to main\n",
        "the second put changed nothing in the file"
    );
    assert_eq!(
        show(&remote, "main:hightouch/models/orders.yaml"),
        "name: Orders\nsource: staging-postgres\ntype: table\ntableName: public.orders\nisSchema: false\nprimaryKey: id\n"
    );
    let log = git(&remote, &["log", "-1", "--format=%an <%ae>|%cn|%s|%b", "main"]);
    assert_eq!(
        log.trim(),
        "Ada Lovelace <ada@example.com>|gitsync|update model orders|Gitsync-Direction: OUTBOUND\nGitsync-Workspace: acme-staging\nGitsync-Resource: model/orders"
    );
    assert_eq!(ok(&data, &["sync"]), "nothing to push\n");

    ok(&data, &["workspace", "delete", "model", "orders", "--as", ADA]);
    assert_eq!(ok(&data, &["sync"]), "pushed 1 commit to main\n");
    let files = git(&remote, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("hightouch/models/orders.yaml"), "{files}");
    let entries: serde_json::Value = serde_json::from_str(&ok(&data, &["log", "--format", "json"])).unwrap();
    let done: Vec<(&str, &str, bool)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] != "queued" && e["outcome"] != "queued delete")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["author"].as_str().unwrap(),
                e["commit"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        done,
        [
            ("pushed delete", ADA, true),
            ("no change", "Grace Hopper <grace@example.com>", false),
            ("pushed", ADA, true)
        ]
    );
}
