//! End-to-end tests of `connect`, `sync`, `resync` and `conflicts` against real Git remotes: bare
//! repositories over file://, people committing with the git CLI in their own clones, and passes
//! stopped at failpoints to prove that nothing is lost or committed twice.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const ADA: &str = "Ada Lovelace <ada@example.com>";
const GRACE: &str = "Grace Hopper <grace@example.com>";

const CUSTOMERS: &str = "name: Customers\nsource: staging-postgres\ntype: table\ntableName: c\nprimaryKey: id\n";
const ORDERS: &str =
    "name: Orders\nsource: staging-postgres\ntype: table\ntableName: public.orders\nisSchema: false\nprimaryKey: id\n";

fn get(data: &Path, kind: &str, slug: &str) -> String {
    ok_with_data(data, &["workspace", "get", kind, slug])
}

/// (direction, kind/slug, outcome) of the newest `n` log entries, newest first.
fn log(data: &Path, n: usize) -> Vec<(String, String, String)> {
    let entries: serde_json::Value = serde_json::from_str(&ok_with_data(
        data,
        &["log", "--limit", &n.to_string(), "--format", "json"],
    ))
    .unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["direction"].as_str().unwrap().to_string(),
                format!("{}/{}", e["kind"].as_str().unwrap(), e["slug"].as_str().unwrap()),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn connect_to_an_empty_repository_says_make_an_initial_commit() {
    let remote = Remote::new(false);
    let data = remote.workspace("staging");
    let r = run_with_data(&data, &["connect", "--repo", &remote.url, "--branch", "main"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is empty: make an initial commit first"),
        "{}",
        r.stderr
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not connected; run `gitsync connect"), "{}", r.stderr);
}

#[test]
fn connect_refuses_a_password_in_the_url_without_echoing_it() {
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let r = run_with_data(
        &data,
        &[
            "connect",
            "--repo",
            "https://bot:hunter2secret@example.com/acme.git",
            "--branch",
            "main",
        ],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("hunter2secret") && !r.stdout.contains("hunter2secret"));
    assert!(
        r.stderr
            .contains("https://bot:***@example.com/acme.git contains a password"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--token-env"), "{}", r.stderr);
    // A token as the user name, and a password with a `/`: refused, never echoed, nothing stored.
    for (url, secret) in [
        (
            "https://ghp_0123456789abcdefghijklmnopqrstuvwxyzAB@example.com/acme.git",
            "ghp_0123",
        ),
        ("https://user:pa/ss@example.com/acme.git", "pa/ss"),
    ] {
        let r = run_with_data(&data, &["connect", "--repo", url, "--branch", "main"], None);
        assert_eq!(r.code, 2, "{url}");
        assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret), "{}", r.stderr);
        assert!(r.stderr.contains("--token-env"), "{}", r.stderr);
        let status = run_with_data(&data, &["status"], None);
        assert!(status.stdout.contains("not connected"), "{}", status.stdout);
        assert!(!ws_folder(&data).join("checkout").exists());
    }
}

/// `connect` records the repository, branch, path and credentials' names in one transaction: a kill
/// part-way leaves the workspace not connected (never connected to a repository without its
/// branch), and connecting again works.
#[test]
fn connect_refuses_a_path_with_an_empty_folder_name() {
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let r = run_with_data(
        &data,
        &["connect", "--repo", &remote.url, "--branch", "main", "--path", "a//b"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--path `a//b` has an empty folder name (`//`); write it as `a/b`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("class="), "{}", r.stderr);
}

/// A remote that accepts the connection and never answers does not hold a pass (and its lock)
/// forever: the idle timeout ends it with exit 2 and a message that says what to do.
#[test]
fn a_remote_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection, saying nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let started = std::time::Instant::now();
    let r = run_with_data(
        &data,
        &[
            "--network-timeout",
            "2s",
            "connect",
            "--repo",
            &format!("git://127.0.0.1:{port}/acme.git"),
            "--branch",
            "main",
        ],
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.stderr
            .contains("the remote did not answer in time (connect timeout 10s, idle timeout 2s)")
            && r.stderr.contains("--network-timeout"),
        "{}",
        r.stderr
    );
}

/// A broken alias file is the reason a file that uses its aliases is skipped, and the pass says so.
#[test]
fn a_broken_alias_file_is_reported_as_the_reason() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    remote.commit(
        "main",
        &[
            (
                "aliases-acme-staging.yaml",
                Some("sources:\n  aliased-postgres: [staging-postgres\n"),
            ),
            (
                "models/customers.yaml",
                Some(&CUSTOMERS.replace("staging-postgres", "aliased-postgres")),
            ),
        ],
        "use an alias",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains("skipped model customers")
            && r.stdout
                .contains("cannot resolve it: aliases-acme-staging.yaml has an error (GS002 at ")
            && !r.stdout.contains("add an alias"),
        "{}",
        r.stdout
    );
}

/// Trailers do not make a commit ours: a revert of a gitsync commit and then a cherry-pick of it (which
/// keeps its trailers) bring the content back, and the workspace follows.
#[test]
fn a_cherry_picked_gitsync_commit_is_applied_for_its_content() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    let v1 = remote.show("main:models/orders.yaml");
    let v2 = ORDERS.replace("primaryKey: id", "primaryKey: order_id");
    put(&data, "model", "orders", &v2, ADA);
    ok_with_data(&data, &["sync"]);
    let ours = git(&remote.bare, &["log", "-1", "--format=%B", "main"]);
    assert!(ours.contains("Gitsync-Direction: OUTBOUND"), "{ours}");
    let in_git = remote.show("main:models/orders.yaml");
    remote.commit(
        "main",
        &[("models/orders.yaml", Some(&v1))],
        "Revert \"update model orders\"",
        GRACE,
    );
    ok_with_data(&data, &["sync"]);
    assert_eq!(get(&data, "model", "orders"), v1);
    // The cherry-pick: the same content and the same message, trailers included.
    remote.commit("main", &[("models/orders.yaml", Some(&in_git))], ours.trim(), GRACE);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(get(&data, "model", "orders"), v2, "{}", r.stdout);
    // Its own commits are still not applied again.
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: nothing to push\n"
    );
}

/// A change made while a full resync runs either went out in the resync commit or stays queued for
/// the next pass; the apply-back never overwrites it with the branch's older content.
#[test]
fn a_put_during_a_resync_is_neither_lost_nor_overwritten() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    // The file goes in Git (the workspace keeps the model): the resync has something to write.
    remote.commit("main", &[("models/orders.yaml", None)], "remove orders", GRACE);
    ok_with_data(&data, &["sync"]);
    let (child, marker) = paused_before_push(&data, &["resync", "--yes"]);
    // The resync has read the store and committed; now someone edits the model.
    let during = ORDERS.replace("primaryKey: id", "primaryKey: during_resync");
    put(&data, "model", "orders", &during, GRACE);
    std::fs::remove_file(&marker).unwrap();
    let r = child.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        get(&data, "model", "orders"),
        during,
        "the apply-back kept the newer change"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["conflicts"], 0);
    ok_with_data(&data, &["sync"]);
    assert_eq!(remote.show("main:models/orders.yaml"), during);
}

/// A resync killed after its push, before the branch was applied back, leaves the workspace where the
/// next pass applies what it had not (it does not record the resync commit as applied first).
#[test]
fn a_resync_killed_before_its_apply_back_is_completed_by_the_next_pass() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    ok_with_data(&data, &["sync"]);
    let customers = "name: Customers\nsource: staging-postgres\ntype: table\ntableName: c\nprimaryKey: id\n";
    remote.commit(
        "main",
        &[("models/customers.yaml", Some(customers))],
        "add customers",
        GRACE,
    );
    let r = run_with_env(
        &data,
        &["resync", "--yes"],
        None,
        &[("GITSYNC_FAILPOINTS", "before-apply-back=abort")],
    );
    assert!(
        r.code != 0 && r.stderr.contains("failpoint before-apply-back: aborting"),
        "the resync was not stopped at its failpoint: {}",
        r.stderr
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("INBOUND: nothing new"), "{}", r.stdout);
    assert_eq!(
        get(&data, "model", "customers"),
        customers.replace("primaryKey", "isSchema: false\nprimaryKey")
    );
}

/// Lock files a killed pass left in the checkout do not block every later pass: the next pass (the
/// only one, it holds sync.lock) removes them, says so, and goes on.
#[test]
fn git_lock_files_left_by_a_killed_pass_are_cleared_by_the_next() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    ok_with_data(&data, &["sync"]);
    let git_dir = ws_folder(&data).join("checkout/.git");
    std::fs::write(git_dir.join("index.lock"), "").unwrap();
    std::fs::write(git_dir.join("refs/heads/main.lock"), "").unwrap();
    put(&data, "model", "orders", ORDERS, ADA);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "note: removed Git lock files a killed pass left in the checkout: .git/index.lock, .git/refs/heads/main.lock"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
    assert!(!git_dir.join("index.lock").exists());
}

/// A branch deleted on the remote is not pushed back into existence from the checkout's stale copy:
/// the pass stops, says what happened and what to do, and keeps the queue.
#[test]
fn a_branch_deleted_on_the_remote_is_not_recreated() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    ok_with_data(&data, &["sync"]);
    put(&data, "model", "orders", ORDERS, ADA);
    git(&remote.bare, &["update-ref", "-d", "refs/heads/main"]);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("branch `main` no longer exists on")
            && r.stderr.contains("Nothing was pushed and the queued changes are kept")
            && r.stderr.contains("git push origin <commit>:refs/heads/main"),
        "{}",
        r.stderr
    );
    let heads = git(&remote.bare, &["for-each-ref", "refs/heads"]);
    assert_eq!(heads, "", "the branch was recreated: {heads}");
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"].as_array().unwrap().len(), 1);
}

#[test]
fn connect_records_its_settings_all_at_once() {
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let args = [
        "connect",
        "--repo",
        remote.url.as_str(),
        "--branch",
        "main",
        "--path",
        "hightouch",
    ];
    let r = run_with_env(&data, &args, None, &[("GITSYNC_FAILPOINTS", "mid-settings=abort")]);
    assert!(
        r.code != 0 && r.stderr.contains("failpoint mid-settings: aborting"),
        "connect was not stopped at its failpoint: {}",
        r.stderr
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(
        (&status["repository"], &status["branch"], &status["path"]),
        (
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
    ok_with_data(&data, &args);
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["repository"], remote.url.as_str());
    assert_eq!(
        (status["branch"].as_str(), status["path"].as_str()),
        (Some("main"), Some("hightouch"))
    );
}

#[test]
fn connect_creates_the_layout_and_outbound_commits_each_change_as_its_author() {
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let r = run_with_data(&data, &["connect", "--repo", &remote.url, "--branch", "missing"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot clone branch `missing`"), "{}", r.stderr);
    let out = ok_with_data(
        &data,
        &[
            "connect",
            "--repo",
            &remote.url,
            "--branch",
            "main",
            "--path",
            "hightouch",
        ],
    );
    assert!(out.starts_with("connected acme-staging to "), "{out}");
    let manifest = remote.show("main:manifest-acme-staging.yaml");
    assert!(manifest.starts_with("# READ ONLY"), "{manifest}");
    assert!(
        manifest.contains("  staging-postgres:\n    name: Staging Postgres\n    type: postgres\n"),
        "{manifest}"
    );
    assert_eq!(
        remote.show("main:aliases-acme-staging.yaml"),
        "sources: {}\ndestinations: {}\n"
    );
    assert_eq!(remote.show("main:hightouch/schema/model-relationships/.gitkeep"), "");
    assert_eq!(
        run_with_data(&data, &["connect", "--repo", &remote.url, "--branch", "main"], None).code,
        2,
        "connect twice"
    );

    put(&data, "model", "orders", ORDERS, ADA);
    put(&data, "model", "orders", ORDERS, GRACE);
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n",
        "the second put changed nothing in the file"
    );
    assert_eq!(remote.show("main:hightouch/models/orders.yaml"), ORDERS);
    let last = git(&remote.bare, &["log", "-1", "--format=%an <%ae>|%cn|%s|%b", "main"]);
    let trailer = |name: &str| {
        last.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {last}"))
            .to_string()
    };
    let (seq, id, instance) = (
        trailer("Gitsync-Change"),
        trailer("Gitsync-Change-Id"),
        trailer("Gitsync-Instance"),
    );
    assert!(seq.parse::<u64>().is_ok(), "{last}");
    assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{last}");
    assert!(instance.starts_with("wsi_"), "{last}");
    assert_eq!(
        last.trim(),
        format!(
            "{ADA}|gitsync|update model orders|Gitsync-Direction: OUTBOUND\nGitsync-Workspace: acme-staging\nGitsync-Resource: model/orders\nGitsync-Change: {seq}\nGitsync-Change-Id: {id}\nGitsync-Instance: {instance}\nGitsync-Path: hightouch"
        )
    );
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: nothing to push\n",
        "a pass never re-applies its own commits"
    );

    ok_with_data(&data, &["workspace", "delete", "model", "orders", "--as", ADA]);
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n"
    );
    let files = git(&remote.bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("hightouch/models/orders.yaml"), "{files}");
    let entries: serde_json::Value = serde_json::from_str(&ok_with_data(&data, &["log", "--format", "json"])).unwrap();
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
            ("no change", GRACE, false),
            ("pushed", ADA, true)
        ]
    );
}

#[test]
fn inbound_applies_valid_files_with_real_ids_and_skips_invalid_ones() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let commit = remote.commit(
        "main",
        &[
            (
                "aliases-acme-staging.yaml",
                Some("sources:\n  aliased-postgres: staging-postgres\ndestinations:\n  crm: staging-salesforce\n"),
            ),
            (
                "models/customers.yaml",
                Some("name: Customers\nsource: aliased-postgres\ntype: raw_sql\nrawSql: select * from customers\nprimaryKey: id\n"),
            ),
            (
                "models/broken.yaml",
                Some("name: Broken\nsorce: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n"),
            ),
            (
                "syncs/customers-to-crm.yaml",
                Some("model: customers\ndestination: crm\nconfig:\n  object: Contact\nschedule: null\nschedulePaused: false\n"),
            ),
            (
                "syncs/orphan.yaml",
                Some("model: nowhere\ndestination: crm\nconfig: {}\nschedule: null\n"),
            ),
            ("README.md", Some("# config, now with models\n")),
        ],
        "add customers",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "files were skipped: {}", r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "INBOUND: 1 commit: 2 applied, 0 unchanged, 2 skipped, 0 conflicts"
    );
    let short = &commit[..10];
    assert_eq!(
        lines[1],
        format!(
            "  skipped model broken (commit {short} by {GRACE}): GS101 at 2:1: unknown field `sorce` (did you mean `source`?); GS102 at 1:1: missing required field `source` (add `source: ...`)"
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "  skipped sync orphan (commit {short} by {GRACE}): GS401 at 1:8: model `nowhere` does not exist (create models/nowhere.yaml, or name an existing model slug)"
        )
    );
    assert_eq!(lines[3], "OUTBOUND: nothing to push");
    // The workspace holds real ids; the file keeps its aliases.
    assert_eq!(
        get(&data, "model", "customers"),
        "name: Customers\nsource: staging-postgres\ntype: raw_sql\nrawSql: select * from customers\nisSchema: false\nprimaryKey: id\n"
    );
    assert!(get(&data, "sync", "customers-to-crm").contains("destination: staging-salesforce\n"));
    assert!(
        remote
            .show("main:models/customers.yaml")
            .contains("source: aliased-postgres\n")
    );
    let r = run_with_data(&data, &["workspace", "get", "model", "broken"], None);
    assert_eq!(r.code, 2, "an invalid file is not applied");
    let entries: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["log", "--limit", "4", "--format", "json"])).unwrap();
    for e in entries.as_array().unwrap() {
        assert_eq!(e["direction"], "INBOUND");
        assert_eq!(e["commit"], commit.as_str());
        assert_eq!(e["author"], GRACE);
    }
    assert_eq!(
        log(&data, 4)
            .into_iter()
            .map(|(_, r, o)| (r, o.split(':').next().unwrap().to_string()))
            .collect::<Vec<_>>(),
        [
            ("sync/orphan".to_string(), "skipped".to_string()),
            ("sync/customers-to-crm".into(), "applied".into()),
            ("model/customers".into(), "applied".into()),
            ("model/broken".into(), "skipped".into()),
        ]
    );
    // Fixing the file applies it on the next pass.
    remote.commit(
        "main",
        &[(
            "models/broken.yaml",
            Some("name: Broken\nsource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n"),
        )],
        "fix broken",
        GRACE,
    );
    let report: serde_json::Value = serde_json::from_str(&ok_with_data(&data, &["sync", "--format", "json"])).unwrap();
    assert_eq!(report["inbound"]["commits"], 1);
    assert_eq!(report["inbound"]["applied"], 1);
    assert_eq!(report["inbound"]["skipped"], serde_json::json!([]));
    assert_eq!(report["pushed"], 0);
    assert_eq!(
        report["head"].as_str().unwrap(),
        git(&remote.bare, &["rev-parse", "main"]).trim()
    );
}

#[test]
fn deleting_a_file_keeps_the_resource_and_the_file_comes_back_and_manifest_edits_are_overwritten() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    remote.commit("main", &[("models/orders.yaml", None)], "remove orders", GRACE);
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: 1 commit: 0 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n"
    );
    assert_eq!(get(&data, "model", "orders"), ORDERS, "deleting a file deletes nothing");
    assert_eq!(
        log(&data, 1)[0].2,
        "deleted in Git: kept in the workspace; the file returns on its next change or a resync"
    );
    // The next workspace change to the resource brings the file back.
    let changed = ORDERS.replace("primaryKey: id", "primaryKey: order_id");
    put(&data, "model", "orders", &changed, ADA);
    ok_with_data(&data, &["sync"]);
    assert_eq!(remote.show("main:models/orders.yaml"), changed);

    // Re-added under the same name by a person: it attaches to the existing resource.
    remote.commit("main", &[("models/orders.yaml", None)], "remove orders again", GRACE);
    remote.commit(
        "main",
        &[(
            "models/orders.yaml",
            Some(&ORDERS.replace("name: Orders", "name: All orders")),
        )],
        "bring orders back",
        GRACE,
    );
    let out = ok_with_data(&data, &["sync"]);
    assert_eq!(
        out,
        "INBOUND: 2 commits: 1 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n"
    );
    assert!(get(&data, "model", "orders").starts_with("name: All orders\n"));
    let listed = ok_with_data(&data, &["workspace", "list", "model"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");

    // A manifest edited in Git is ignored and overwritten by the next pass.
    let original = remote.show("main:manifest-acme-staging.yaml");
    remote.commit(
        "main",
        &[(
            "manifest-acme-staging.yaml",
            Some("sources:\n  hacked: {name: x, type: y}\n"),
        )],
        "edit the manifest",
        GRACE,
    );
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: 1 commit: 0 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: pushed 1 commit to main\n"
    );
    assert_eq!(remote.show("main:manifest-acme-staging.yaml"), original);
    assert_eq!(
        remote.history("main")[0],
        "rewrite manifest-acme-staging.yaml from the workspace|gitsync"
    );
    assert_eq!(
        log(&data, 1)[0],
        (
            "INBOUND".to_string(),
            "manifest/acme-staging".to_string(),
            "ignored: the manifest is read-only in Git; rewritten from the workspace".to_string()
        )
    );
}

#[test]
fn outbound_keeps_an_alias_the_file_already_uses() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    remote.commit(
        "main",
        &[
            (
                "aliases-acme-staging.yaml",
                Some("sources:\n  aliased-postgres: staging-postgres\ndestinations: {}\n"),
            ),
            (
                "models/orders.yaml",
                Some(&ORDERS.replace("source: staging-postgres", "source: aliased-postgres")),
            ),
        ],
        "use the alias",
        GRACE,
    );
    ok_with_data(&data, &["sync"]);
    assert_eq!(
        get(&data, "model", "orders"),
        ORDERS,
        "same id: nothing changed in the workspace"
    );
    put(
        &data,
        "model",
        "orders",
        &ORDERS.replace("primaryKey: id", "primaryKey: order_id"),
        ADA,
    );
    ok_with_data(&data, &["sync"]);
    assert_eq!(
        remote.show("main:models/orders.yaml"),
        ORDERS
            .replace("source: staging-postgres", "source: aliased-postgres")
            .replace("primaryKey: id", "primaryKey: order_id"),
        "the alias stays: never overwrite aliased-postgres with staging-postgres"
    );
}

#[test]
fn a_conflict_takes_the_git_version_and_keeps_the_workspace_version() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    let mine = ORDERS.replace("primaryKey: id", "primaryKey: workspace_id");
    put(&data, "model", "orders", &mine, ADA);
    let theirs = ORDERS.replace("primaryKey: id", "primaryKey: git_id");
    let commit = remote.commit("main", &[("models/orders.yaml", Some(&theirs))], "change key", GRACE);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "a conflict needs attention: {}", r.stdout);
    assert_eq!(
        r.stdout,
        format!(
            "INBOUND: 1 commit: 1 applied, 0 unchanged, 0 skipped, 1 conflict\n  conflict #1: model orders changed in the workspace by {ADA} and in Git by {GRACE} ({}); Git won, the workspace version is kept: `gitsync conflicts --show 1`\nOUTBOUND: nothing to push\n",
            &commit[..10]
        )
    );
    assert_eq!(get(&data, "model", "orders"), theirs);
    assert_eq!(remote.show("main:models/orders.yaml"), theirs, "Git keeps its version");
    assert_eq!(
        ok_with_data(&data, &["conflicts", "--show", "1"]),
        mine,
        "nothing is lost"
    );
    let listed = ok_with_data(&data, &["conflicts"]);
    assert!(
        listed.starts_with("#1  20") && listed.contains(&format!(
            "model/orders  Git ({} by {GRACE}) won over the workspace's change by {ADA}; kept: `gitsync conflicts --show 1`"
        , &commit[..10])),
        "{listed}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["conflicts", "--format", "json"])).unwrap();
    assert_eq!(json[0]["kept_yaml"], mine.as_str());
    assert_eq!(json[0]["commit"], commit.as_str());
    assert!(log(&data, 1)[0].2.starts_with("applied; conflict #1: Git won"));
    // Restoring the kept version is an ordinary change.
    let kept = data.with_extension("kept.yaml");
    std::fs::write(&kept, ok_with_data(&data, &["conflicts", "--show", "1"])).unwrap();
    ok_with_data(
        &data,
        &[
            "workspace",
            "put",
            "model",
            "orders",
            "--file",
            kept.to_str().unwrap(),
            "--as",
            ADA,
        ],
    );
    ok_with_data(&data, &["sync"]);
    assert_eq!(remote.show("main:models/orders.yaml"), mine);
    put(&data, "model", "orders", ORDERS, GRACE);
    let status = ok_with_data(&data, &["status"]);
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines[0], "workspace acme-staging (1 resource)");
    assert_eq!(lines[1], format!("connected to {} (branch main)", remote.url));
    assert_eq!(
        lines[2],
        format!(
            "last applied commit: {}",
            git(&remote.bare, &["rev-parse", "main"]).trim()
        )
    );
    assert_eq!(lines[3], "queued for OUTBOUND: 1");
    assert!(
        lines[4].starts_with("  #") && lines[4].contains(&format!(" put model/orders by {GRACE} at 20")),
        "{status}"
    );
    assert_eq!(lines[5], "conflicts kept: 1 (`gitsync conflicts`)");
    let json: serde_json::Value = serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(json["queued"][0]["slug"], "orders");
    assert_eq!(json["conflicts"], 1);
    let r = run_with_data(&data, &["conflicts", "--show", "9"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no conflict #9"), "{}", r.stderr);
}

/// Two people changed a resource in the workspace before the pass that finds it changed in Git:
/// Git wins over both, and both versions are kept — each its own conflict, each change's log ending
/// there — not only the newest.
#[test]
fn a_conflict_keeps_every_queued_version_not_only_the_newest() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    let ada_s = ORDERS.replace("primaryKey: id", "primaryKey: ada_id");
    let grace_s = ORDERS.replace("primaryKey: id", "primaryKey: grace_id");
    put(&data, "model", "orders", &ada_s, ADA);
    put(&data, "model", "orders", &grace_s, GRACE);
    let theirs = ORDERS.replace("primaryKey: id", "primaryKey: git_id");
    let commit = remote.commit(
        "main",
        &[("models/orders.yaml", Some(&theirs))],
        "change key",
        "Linus Pauling <linus@example.com>",
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("INBOUND: 1 commit: 1 applied, 0 unchanged, 0 skipped, 2 conflicts\n"),
        "{}",
        r.stdout
    );
    assert_eq!(get(&data, "model", "orders"), theirs);
    assert_eq!(ok_with_data(&data, &["conflicts", "--show", "1"]), ada_s);
    assert_eq!(ok_with_data(&data, &["conflicts", "--show", "2"]), grace_s);
    let json: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["conflicts", "--format", "json"])).unwrap();
    let authors: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kept_author"].as_str().unwrap())
        .collect();
    assert_eq!(authors.len(), 2, "{json}");
    assert!(authors.contains(&ADA) && authors.contains(&GRACE), "{json}");
    let entries = log(&data, 3);
    assert_eq!(
        entries[0],
        (
            "INBOUND".to_string(),
            "model/orders".to_string(),
            format!(
                "applied; conflicts #1, #2: Git won over 2 workspace changes by {ADA} and {GRACE}, each kept (see `gitsync conflicts`)"
            )
        )
    );
    assert_eq!(entries[1].2, "lost to Git's change; kept as conflict #2");
    assert_eq!(entries[2].2, "lost to Git's change; kept as conflict #1");
    assert_eq!(
        &commit[..7],
        &git(&remote.bare, &["rev-parse", "main"])[..7],
        "nothing pushed over Git's version"
    );
}

/// A conflict the workspace lost with a delete keeps no content to restore, and `--show` says so
/// instead of printing the YAML the resource had before it was deleted.
#[test]
fn a_conflict_lost_by_a_delete_shows_that_it_was_a_delete() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    ok_with_data(&data, &["workspace", "delete", "model", "orders", "--as", ADA]);
    let theirs = ORDERS.replace("primaryKey: id", "primaryKey: git_id");
    remote.commit("main", &[("models/orders.yaml", Some(&theirs))], "change key", GRACE);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("1 conflict"), "{}", r.stdout);
    assert_eq!(get(&data, "model", "orders"), theirs);
    let r = run_with_data(&data, &["conflicts", "--show", "1"], None);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "", "no YAML is printed as if it were a kept version");
    assert!(
        r.stderr.contains(
            "conflict #1 kept no content: the workspace's losing change deleted model orders (Git's version won); to delete it again: gitsync workspace delete model orders"
        ),
        "{}",
        r.stderr
    );
    let listed = ok_with_data(&data, &["conflicts"]);
    assert!(listed.contains("won over the workspace's delete by"), "{listed}");
}

#[test]
fn a_push_refused_as_non_fast_forward_is_replayed_on_top_never_forced() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    let (child, marker) = paused_before_push(&data, &["sync"]);
    // A second pass on the same workspace waits its turn, and gives up when told to wait no longer.
    let r = run_with_data(&data, &["--lock-wait", "300ms", "sync"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("waiting for the pass running on this workspace to finish (at most 300ms)…\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(", waited 300ms); wait for it to finish"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("another gitsync pass is running on this workspace"),
        "{}",
        r.stderr
    );
    // Someone pushes while the pass holds its commit.
    remote.commit(
        "main",
        &[(
            "models/customers.yaml",
            Some("name: Customers\nsource: staging-postgres\ntype: table\ntableName: c\nprimaryKey: id\n"),
        )],
        "add customers",
        GRACE,
    );
    std::fs::remove_file(&marker).unwrap();
    let r = child.join().unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "INBOUND: 1 commit: 1 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: pushed 1 commit to main after 1 retry (the branch had moved)\n"
    );
    let history = remote.history("main");
    assert_eq!(
        history[..2],
        [
            "update model orders|Ada Lovelace".to_string(),
            "add customers|Grace Hopper".into()
        ],
        "replayed on top of the other push; nothing lost"
    );
    assert!(get(&data, "model", "customers").starts_with("name: Customers\n"));
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
}

/// Stop a pass at `point`, then run it again: every change lands exactly once.
fn killed_at(point: &str) {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    put(
        &data,
        "model",
        "customers",
        "name: Customers\nsource: staging-postgres\ntype: table\ntableName: c\nprimaryKey: id\n",
        GRACE,
    );
    remote.commit(
        "main",
        &[(
            "models/products.yaml",
            Some("name: Products\nsource: staging-postgres\ntype: table\ntableName: p\nprimaryKey: id\n"),
        )],
        "add products",
        GRACE,
    );
    remote.commit(
        "main",
        &[(
            "models/stores.yaml",
            Some("name: Stores\nsource: staging-postgres\ntype: table\ntableName: s\nprimaryKey: id\n"),
        )],
        "add stores",
        GRACE,
    );
    let r = run_with_env(
        &data,
        &["sync"],
        None,
        &[("GITSYNC_FAILPOINTS", &format!("{point}=abort"))],
    );
    assert!(r.code != 0, "{point}: the pass was not stopped: {}", r.stdout);
    assert!(
        r.stderr.contains(&format!("failpoint {point}: aborting")),
        "{}",
        r.stderr
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{point}: {}{}", r.stdout, r.stderr);
    // Exactly one commit per change, in order, nothing twice.
    let history = remote.history("main");
    let ours: Vec<&String> = history.iter().filter(|h| h.starts_with("update model")).collect();
    assert_eq!(
        ours,
        [
            "update model customers|Grace Hopper",
            "update model orders|Ada Lovelace"
        ],
        "{point}: {history:?}"
    );
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
    for slug in ["products", "stores", "orders", "customers"] {
        assert!(
            run_with_data(&data, &["workspace", "get", "model", slug], None).code == 0,
            "{point}: {slug} missing"
        );
    }
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: nothing to push\n",
        "{point}: nothing left over"
    );
    let entries = log(&data, 50);
    let applied = entries
        .iter()
        .filter(|(d, _, o)| d == "INBOUND" && o == "applied")
        .count();
    assert_eq!(applied, 2, "{point}: each inbound change applied once: {entries:?}");
    let pushed = entries
        .iter()
        .filter(|(d, _, o)| d == "OUTBOUND" && o == "pushed")
        .count();
    assert_eq!(pushed, 2, "{point}: {entries:?}");
}

#[test]
fn a_pass_killed_mid_apply_resumes_without_loss() {
    killed_at("mid-apply");
}

#[test]
fn a_pass_killed_between_inbound_commits_resumes_without_loss() {
    killed_at("inbound-commit-applied");
}

#[test]
fn a_pass_killed_after_commit_before_push_resumes_without_duplicates() {
    killed_at("after-commit");
}

#[test]
fn a_pass_killed_after_push_before_recording_it_resumes_without_duplicates() {
    killed_at("after-push");
}

#[test]
fn resync_warns_then_writes_everything_in_one_commit_and_applies_the_branch_back() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    remote.commit("main", &[("models/orders.yaml", None)], "remove orders", GRACE);
    ok_with_data(&data, &["sync"]);
    put(
        &data,
        "model",
        "customers",
        "name: Customers\nsource: staging-postgres\ntype: table\ntableName: c\nprimaryKey: id\n",
        ADA,
    );
    remote.commit(
        "main",
        &[(
            "models/products.yaml",
            Some("name: Products\nsource: staging-postgres\ntype: table\ntableName: p\nprimaryKey: id\n"),
        )],
        "add products (not yet applied)",
        GRACE,
    );
    let before = remote.history("main").len();
    let r = run_with_data(&data, &["resync"], Some("n\n"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("Changes in Git that have not been applied yet (run `gitsync sync` first to take them in) may be overwritten."),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("resync cancelled; nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(remote.history("main").len(), before);

    let r = run_with_data(&data, &["resync", "--yes", "--as", ADA], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("Full resync of workspace acme-staging"),
        "{}",
        r.stderr
    );
    let history = remote.history("main");
    assert_eq!(history.len(), before + 1, "one commit");
    assert_eq!(history[0], "full resync of workspace acme-staging|Ada Lovelace");
    assert_eq!(
        remote.show("main:models/orders.yaml"),
        ORDERS,
        "the deleted file is back"
    );
    assert!(
        remote
            .show("main:models/customers.yaml")
            .starts_with("name: Customers\n")
    );
    let commit = git(&remote.bare, &["rev-parse", "main"]);
    assert_eq!(
        r.stdout,
        format!(
            "wrote 2 resources in {}\napplied the branch back: 1 applied, 2 unchanged, 0 skipped\n",
            commit.trim()
        )
    );
    assert!(get(&data, "model", "products").starts_with("name: Products\n"));
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: nothing to push\n",
        "the queue went out with the resync"
    );
}

#[test]
fn two_workspaces_share_one_branch_through_aliases() {
    let remote = Remote::new(true);
    let staging = remote.connected("staging", "main");
    let production = remote.connected("production", "main");
    remote.commit(
        "main",
        &[
            (
                "aliases-acme-staging.yaml",
                Some("sources:\n  aliased-postgres: staging-postgres\ndestinations:\n  crm: staging-salesforce\n"),
            ),
            (
                "aliases-acme-production.yaml",
                Some(
                    "sources:\n  aliased-postgres: production-postgres\ndestinations:\n  crm: production-salesforce\n",
                ),
            ),
            (
                "models/orders.yaml",
                Some(&ORDERS.replace("source: staging-postgres", "source: aliased-postgres")),
            ),
            (
                "syncs/orders-to-crm.yaml",
                Some("model: orders\ndestination: crm\nconfig:\n  object: Order\nschedule: null\n"),
            ),
        ],
        "orders for both workspaces",
        GRACE,
    );
    for (data, env) in [(&staging, "staging"), (&production, "production")] {
        assert_eq!(
            ok_with_data(data, &["sync"]),
            "INBOUND: 1 commit: 2 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n"
        );
        assert!(get(data, "model", "orders").contains(&format!("source: {env}-postgres\n")));
        assert!(get(data, "sync", "orders-to-crm").contains(&format!("destination: {env}-salesforce\n")));
    }
    // A change made in staging reaches production; the shared file keeps its alias.
    put(
        &staging,
        "model",
        "orders",
        &ORDERS.replace("primaryKey: id", "primaryKey: order_id"),
        ADA,
    );
    assert_eq!(
        ok_with_data(&staging, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n"
    );
    assert!(
        remote
            .show("main:models/orders.yaml")
            .contains("source: aliased-postgres\n")
    );
    assert_eq!(
        ok_with_data(&production, &["sync"]),
        "INBOUND: 1 commit: 1 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n"
    );
    assert_eq!(
        get(&production, "model", "orders"),
        ORDERS
            .replace("source: staging-postgres", "source: production-postgres")
            .replace("primaryKey: id", "primaryKey: order_id")
    );
    assert_eq!(
        log(&production, 1)[0].2,
        "applied",
        "staging's OUTBOUND commit is INBOUND for production"
    );
    let files = git(&remote.bare, &["ls-tree", "--name-only", "main"]);
    for f in [
        "manifest-acme-staging.yaml",
        "manifest-acme-production.yaml",
        "aliases-acme-staging.yaml",
        "aliases-acme-production.yaml",
    ] {
        assert!(files.contains(f), "{files}");
    }
    // Validation sees two clean workspaces.
    let checkout = scratch("two-workspaces");
    git(&checkout, &["clone", "-q", remote.bare.to_str().unwrap(), "."]);
    let r = run_in(&checkout, &["validate", "."], &shared_cache());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn staging_on_develop_is_promoted_to_production_on_main_by_a_merge() {
    let remote = Remote::new(true);
    git(&remote.person, &["push", "-q", "origin", "main:develop"]);
    let staging = remote.connected("staging", "develop");
    let production = remote.connected("production", "main");
    // Each workspace's alias file lives on its own branch.
    remote.commit(
        "develop",
        &[(
            "aliases-acme-staging.yaml",
            Some("sources:\n  aliased-postgres: staging-postgres\ndestinations: {}\n"),
        )],
        "staging aliases",
        GRACE,
    );
    remote.commit(
        "main",
        &[(
            "aliases-acme-production.yaml",
            Some("sources:\n  aliased-postgres: production-postgres\ndestinations: {}\n"),
        )],
        "production aliases",
        GRACE,
    );
    ok_with_data(&staging, &["sync"]);
    put(&staging, "model", "orders", ORDERS, ADA);
    ok_with_data(&staging, &["sync"]);
    // The person switches the file to the alias in develop, then merges develop into main.
    remote.commit(
        "develop",
        &[(
            "models/orders.yaml",
            Some(&ORDERS.replace("source: staging-postgres", "source: aliased-postgres")),
        )],
        "use the alias",
        GRACE,
    );
    assert!(!git(&remote.bare, &["ls-tree", "-r", "--name-only", "main"]).contains("models/orders.yaml"));
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "main", "origin/main"]);
    git(
        p,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge develop: orders",
            "origin/develop",
        ],
    );
    git(p, &["push", "-q", "origin", "main"]);
    assert_eq!(
        ok_with_data(&production, &["sync"]),
        "INBOUND: 1 commit: 1 applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n",
        "the merge is one INBOUND commit"
    );
    assert_eq!(
        get(&production, "model", "orders"),
        ORDERS.replace("source: staging-postgres", "source: production-postgres")
    );
    assert!(ok_with_data(&staging, &["sync"]).starts_with("INBOUND: 1 commit: 0 applied, 1 unchanged"));
}

#[test]
fn over_git_daemon_a_push_refused_by_branch_protection_says_what_to_do_and_keeps_the_queue() {
    let remote = Remote::new(true);
    let (_daemon, data) = remote.over_daemon("staging");
    put(&data, "model", "orders", ORDERS, ADA);
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n",
        "git:// works end to end"
    );
    // The server now rejects pushes the way GitHub's branch protection does.
    remote.pre_receive(PROTECTED_BRANCH_HOOK);
    put(
        &data,
        "model",
        "orders",
        &ORDERS.replace("primaryKey: id", "primaryKey: order_id"),
        GRACE,
    );
    let before = remote.history("main");
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: Protected branch update failed - Changes must be made through a pull request"
    );
    assert!(
        lines[1].contains("GH006: Protected branch update failed for refs/heads/main."),
        "{}",
        r.stderr
    );
    assert_eq!(
        lines[2..5],
        [
            "Either connect the workspace to an unprotected branch and promote its changes to `main` with pull requests,",
            "or allow gitsync (the account or app it pushes as) to bypass the protection of `main`.",
            "1 queued change is kept and goes out on the next `gitsync sync`.",
        ]
    );
    assert_eq!(remote.history("main"), before, "nothing landed");
    assert_eq!(log(&data, 1)[0].2, "queued", "the queue is intact");
    std::fs::remove_file(remote.bare.join("hooks/pre-receive")).unwrap();
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n"
    );
    assert_eq!(remote.history("main")[0], "update model orders|Grace Hopper");
}

#[test]
fn over_ssh_with_keys_with_and_without_a_passphrase_and_no_secret_is_kept() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let remote = Remote::new(true);
    let keys = remote.root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let plain = keys.join("id_plain");
    let locked = keys.join("id_locked");
    let stranger = keys.join("id_stranger");
    const PASSPHRASE: &str = "correct horse battery staple";
    keygen(&plain, "");
    keygen(&locked, PASSPHRASE);
    keygen(&stranger, "");
    let sshd = Sshd::start(
        &remote.root.join("sshd"),
        &[plain.with_extension("pub"), locked.with_extension("pub")],
    );
    let url = sshd.url(&remote.bare);
    let home = sshd.home.to_str().unwrap().to_string();

    // An unknown host key is refused: the host is checked against ~/.ssh/known_hosts.
    let data = remote.workspace("staging");
    let stranger_home = remote.root.join("empty-home");
    std::fs::create_dir_all(&stranger_home).unwrap();
    let r = run_with_env(
        &data,
        &[
            "connect",
            "--repo",
            &url,
            "--branch",
            "main",
            "--ssh-key",
            plain.to_str().unwrap(),
        ],
        None,
        &[("HOME", stranger_home.to_str().unwrap())],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("the server's host key is not in ~/.ssh/known_hosts"),
        "{}",
        r.stderr
    );

    // No passphrase.
    let env = [("HOME", home.as_str())];
    let run = |data: &Path, args: &[&str], env: &[(&str, &str)]| run_with_env(data, args, None, env);
    let r = run(
        &data,
        &[
            "connect",
            "--repo",
            &url,
            "--branch",
            "main",
            "--ssh-key",
            plain.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    put(&data, "model", "orders", ORDERS, ADA);
    let r = run(&data, &["sync"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n");
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);

    // A key the server does not know: refused, said plainly.
    let other = remote.workspace("production");
    let r = run(
        &other,
        &[
            "connect",
            "--repo",
            &url,
            "--branch",
            "main",
            "--ssh-key",
            stranger.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot clone branch `main`"), "{}", r.stderr);

    // With a passphrase, read from the named variable on every run.
    let locked_data = remote.root.join("data-locked");
    init_named_workspace(&locked_data, "locked");
    let with_pass = [("HOME", home.as_str()), ("GITSYNC_TEST_KEY_PASSPHRASE", PASSPHRASE)];
    let connect = [
        "connect",
        "--repo",
        &url,
        "--branch",
        "main",
        "--path",
        "locked",
        "--ssh-key",
        locked.to_str().unwrap(),
        "--ssh-passphrase-env",
        "GITSYNC_TEST_KEY_PASSPHRASE",
    ];
    // A key with a passphrase and no --ssh-passphrase-env: said so, not "unsupported key format".
    let r = run(&locked_data, &connect[..connect.len() - 2], &with_pass);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!(
            "the SSH key {} is protected by a passphrase: connect with --ssh-passphrase-env VAR",
            locked.display()
        )),
        "{}",
        r.stderr
    );
    let r = run(&locked_data, &connect, &env);
    assert_eq!(r.code, 2, "no passphrase in the environment");
    assert!(
        r.stderr
            .contains("environment variable GITSYNC_TEST_KEY_PASSPHRASE is not set"),
        "{}",
        r.stderr
    );
    let r = run(
        &locked_data,
        &connect,
        &[("HOME", home.as_str()), ("GITSYNC_TEST_KEY_PASSPHRASE", "wrong horse")],
    );
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("wrong horse"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "the SSH key could not be opened: when it has a passphrase, check that the variable named by --ssh-passphrase-env holds it"
        ),
        "{}",
        r.stderr
    );
    let r = run(&locked_data, &connect, &with_pass);
    assert_eq!(r.code, 0, "{}", r.stderr);
    put(
        &locked_data,
        "model",
        "customers",
        "name: Customers\nsource: locked-postgres\ntype: table\ntableName: c\nprimaryKey: id\n",
        ADA,
    );
    let r = run(&locked_data, &["sync"], &with_pass);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n");
    assert!(
        remote
            .show("main:locked/models/customers.yaml")
            .starts_with("name: Customers\n")
    );
    let r = run(&locked_data, &["sync"], &env);
    assert_eq!(r.code, 2, "the passphrase is needed on every run, never stored");

    // Neither the passphrase nor the key itself is anywhere in the data folder (the stores, their
    // journals, the checkout) or the log.
    let private_key = std::fs::read_to_string(&locked).unwrap();
    let key_body = private_key.lines().nth(1).unwrap();
    let files = files_under(&locked_data);
    assert!(
        files.iter().any(|f| f.ends_with("workspace.db")),
        "the walk reached the workspace's store: {files:?}"
    );
    for path in &files {
        let bytes = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        assert!(!bytes.contains(PASSPHRASE), "{} holds the passphrase", path.display());
        assert!(!bytes.contains(key_body), "{} holds the private key", path.display());
    }
    let log = ok_with_data(&locked_data, &["log"]);
    assert!(!log.contains(PASSPHRASE));
}

#[test]
fn over_http_with_a_token_from_the_named_variable_and_the_token_is_never_kept() {
    const TOKEN: &str = "ghp_0123456789abcdefTOKENvalue";
    let remote = Remote::new(true);
    let server = GitHttp::start(&remote.root, TOKEN);
    let url = server.url("remote.git");
    let data = remote.workspace("staging");
    // A token over plain http:// is refused unless asked for (this test server has no TLS).
    let r = run_with_env(
        &data,
        &[
            "connect",
            "--repo",
            url.as_str(),
            "--branch",
            "main",
            "--token-env",
            "GITSYNC_TEST_TOKEN",
        ],
        None,
        &[("GITSYNC_TEST_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("refusing to send a token over plain http://")
            && r.stderr.contains("--allow-insecure")
            && !r.stderr.contains(TOKEN),
        "{}",
        r.stderr
    );
    assert!(!ws_folder(&data).join("checkout").exists());
    let connect = [
        "connect",
        "--repo",
        url.as_str(),
        "--branch",
        "main",
        "--token-env",
        "GITSYNC_TEST_TOKEN",
        "--allow-insecure",
    ];
    let r = run_with_data(&data, &connect, None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("environment variable GITSYNC_TEST_TOKEN is not set"),
        "{}",
        r.stderr
    );
    let r = run_with_env(
        &data,
        &connect,
        None,
        &[("GITSYNC_TEST_TOKEN", "ghp_wrong_token_value")],
    );
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("ghp_wrong_token_value"), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot clone branch `main` of http://127.0.0.1:")
            && r.stderr.contains(
                "the remote refused the credentials (check the key or token and its access to the repository)"
            ),
        "{}",
        r.stderr
    );
    let with_token = [("GITSYNC_TEST_TOKEN", TOKEN)];
    let r = run_with_env(&data, &connect, None, &with_token);
    assert_eq!(r.code, 0, "{}", r.stderr);
    put(&data, "model", "orders", ORDERS, ADA);
    let r = run_with_env(&data, &["sync"], None, &with_token);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n");
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
    for path in files_under(&data) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "{} holds the token",
            path.display()
        );
    }
    let history = git(&remote.bare, &["log", "--format=%B", "main"]);
    assert!(!history.contains(TOKEN));
}

#[test]
fn a_symbolic_link_committed_to_the_repository_never_leads_a_write_outside_it() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let outside = remote.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // A person replaces models/ with a link to a folder outside the repository.
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "main", "origin/main"]);
    git(p, &["rm", "-q", "-r", "models"]);
    std::os::unix::fs::symlink(&outside, p.join("models")).unwrap();
    git(p, &["add", "models"]);
    git(p, &["commit", "-q", "-m", "models elsewhere"]);
    git(p, &["push", "-q", "origin", "main"]);
    put(&data, "model", "orders", ORDERS, ADA);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("set aside change #1 (put model orders by Ada Lovelace <ada@example.com>): `models` is a symbolic link in the repository, so `models/orders.yaml` cannot be written under it; replace the link with a folder in Git"),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert!(
        log(&data, 1)[0].2.starts_with("set aside (change #1 stays queued)"),
        "the change is kept"
    );
    assert!(ok_with_data(&data, &["status"]).contains("queued for OUTBOUND: 1 (1 set aside)"));
}

#[test]
fn an_oversized_file_is_skipped_unread_and_the_rest_apply() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let huge = format!("name: Huge\n# {}\n", "x".repeat(9 << 20));
    let commit = remote.commit(
        "main",
        &[("models/huge.yaml", Some(&huge)), ("models/orders.yaml", Some(ORDERS))],
        "a huge file",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout,
        format!(
            "INBOUND: 1 commit: 1 applied, 0 unchanged, 1 skipped, 0 conflicts\n  skipped model huge (commit {} by {GRACE}): GS003: file is 9.0 MiB, over the 8 MiB limit; it was not read (split it)\nOUTBOUND: nothing to push\n",
            &commit[..10]
        )
    );
    assert_eq!(get(&data, "model", "orders"), ORDERS);
}

#[test]
fn inbound_takes_every_resource_kind_and_checks_references_against_the_workspace() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    // The example repository's schema and event contracts, with `warehouse` aliased for this workspace.
    let acme = root().join("examples/acme");
    let mut files: Vec<(String, String)> = vec![(
        "aliases-acme-staging.yaml".into(),
        "sources:\n  warehouse: staging-postgres\ndestinations: {}\n".into(),
    )];
    for dir in ["schema", "events"] {
        let mut stack = vec![acme.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&acme).unwrap().to_str().unwrap().to_string();
                    files.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    let count = files.len() - 1;
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, c)| (p.as_str(), Some(c.as_str()))).collect();
    remote.commit("main", &refs, "schema and contracts", GRACE);
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        format!("INBOUND: 1 commit: {count} applied, 0 unchanged, 0 skipped, 0 conflicts\nOUTBOUND: nothing to push\n")
    );
    let kinds: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&ok_with_data(&data, &["workspace", "list", "--format", "json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}/{}", r["kind"].as_str().unwrap(), r["slug"].as_str().unwrap()))
            .collect();
    for expected in [
        "parent-model/users",
        "related-model/products",
        "event-model/page-views",
        "relationship/users-products",
        "contract/web",
        "event/web/order-completed-web-v2",
    ] {
        assert!(kinds.iter().any(|k| k == expected), "{expected} missing: {kinds:?}");
    }
    assert!(get(&data, "parent-model", "users").contains("source: staging-postgres\n"));

    // A later commit is checked against what the workspace holds: a relationship to a stored schema
    // model and an event of a stored contract apply; a through chain over a relationship that exists
    // nowhere, and an event whose schema is not a JSON Schema, are skipped.
    let commit = remote.commit(
        "main",
        &[
            (
                "schema/model-relationships/users-products-again.yaml",
                Some("from:\n  relationshipName: Bought\n  slug: users\n  mergeColumns: false\nto:\n  relationshipName: Buyers\n  slug: products\n  mergeColumns: false\ncardinality: \"many:1\"\nmapping:\n  - fromColumn: product_id\n    toColumn: product_id\n"),
            ),
            (
                "schema/model-relationships/broken-chain.yaml",
                Some("name: Broken chain\nfrom:\n  slug: users\nto:\n  slug: products\nthrough:\n  - users-purchases\n  - no-such-relationship\n"),
            ),
            (
                "events/contracts/web/signup-web-default.yaml",
                Some("name: Signup\ntype: track\nschema:\n  type: object\n"),
            ),
            (
                "events/contracts/web/refund-web-default.yaml",
                Some("name: Refund\ntype: track\nschema:\n  type: 12\n"),
            ),
        ],
        "more schema",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "INBOUND: 1 commit: 2 applied, 0 unchanged, 2 skipped, 0 conflicts"
    );
    let short = &commit[..10];
    assert!(
        lines[1].starts_with(&format!(
            "  skipped event web/refund-web-default (commit {short} by {GRACE}): GS5"
        )),
        "{}",
        r.stdout
    );
    assert!(
        lines[2].starts_with(&format!(
            "  skipped relationship broken-chain (commit {short} by {GRACE}): GS4"
        )) && lines[2].contains("no-such-relationship"),
        "{}",
        r.stdout
    );
    let signup = get(&data, "event", "web/signup-web-default");
    assert!(
        signup.contains("name: Signup\n") && signup.contains("type: track\n"),
        "{signup}"
    );
}

/// Start `args` on the workspace in `data` with the pass held at its push (failpoint
/// `before-push=pause`); returns the running pass and the marker file to remove to let it go on.
fn paused_before_push(data: &Path, args: &[&'static str]) -> (std::thread::JoinHandle<Run>, PathBuf) {
    let pause_dir = scratch("failpoints");
    let child = {
        let data = data.to_path_buf();
        let dir = pause_dir.clone();
        let args = args.to_vec();
        std::thread::spawn(move || {
            run_with_env(
                &data,
                &args,
                None,
                &[
                    ("GITSYNC_FAILPOINTS", "before-push=pause"),
                    ("GITSYNC_FAILPOINT_DIR", dir.to_str().unwrap()),
                ],
            )
        })
    };
    let marker = pause_dir.join("before-push");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(start.elapsed().as_secs() < 60, "{args:?} never reached the push");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, marker)
}

#[test]
fn files_the_pass_cannot_take_are_reported_as_validate_reports_them() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "main", "origin/main"]);
    for path in [
        "models/Orders.yaml",
        "models/my orders.yaml",
        "models/commandes-été.yaml",
        "models/nested/orders.yaml",
        "models/orders.yml",
        "models/orders.yaml",
    ] {
        std::fs::create_dir_all(p.join(path).parent().unwrap()).unwrap();
        std::fs::write(p.join(path), ORDERS).unwrap();
    }
    std::os::unix::fs::symlink("orders.yaml", p.join("models/linked.yaml")).unwrap();
    git(p, &["add", "-A"]);
    git(p, &["commit", "-q", "--author", GRACE, "-m", "files in odd places"]);
    git(p, &["push", "-q", "origin", "main"]);
    let commit = git(p, &["rev-parse", "--short=10", "HEAD"]).trim().to_string();

    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "skipped files need attention: {}{}", r.stdout, r.stderr);
    assert_eq!(get(&data, "model", "orders"), ORDERS, "the valid file applies");
    let skipped: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  skipped")).collect();
    let by = format!("(commit {commit} by {GRACE})");
    assert_eq!(
        skipped,
        vec![
            format!(
                "  skipped model linked {by}: GS011 at 1:1: file is a symbolic link; gitsync reads regular files only, so it was skipped (replace the link with the file itself)"
            ),
            format!(
                "  skipped model Orders {by}: GS108 at 1:1: file name `Orders` is not a valid slug (rename the file to `orders.yaml`)"
            ),
            format!(
                "  skipped model commandes-été {by}: GS108 at 1:1: file name `commandes-été` is not a valid slug (rename the file to `commandes-ete.yaml`)"
            ),
            format!(
                "  skipped model my orders {by}: GS108 at 1:1: file name `my orders` is not a valid slug (rename the file to `my-orders.yaml`)"
            ),
            format!(
                "  skipped file models/nested/orders.yaml {by}: GS112 at 1:1: ignored: `models/nested/orders.yaml` is in a sub-folder; resource files sit directly in their folder (move or rename the file so that it matches the layout in docs/layout.md)"
            ),
            format!(
                "  skipped file models/orders.yml {by}: GS112 at 1:1: ignored: `models/orders.yml` ends in .yml; gitsync reads `.yaml` files only (move or rename the file so that it matches the layout in docs/layout.md)"
            ),
        ]
    );
    // The same files, the same codes, as `validate` reports them.
    let v = run_in(p, &["validate", ".", "--format", "json"], &shared_cache());
    let json: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    let mut found: Vec<(String, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("GS011", "models/linked.yaml"),
            ("GS108", "models/Orders.yaml"),
            ("GS108", "models/commandes-été.yaml"),
            ("GS108", "models/my orders.yaml"),
            ("GS112", "models/nested/orders.yaml"),
            ("GS112", "models/orders.yml"),
        ]
        .map(|(c, p)| (c.to_string(), p.to_string()))
    );
    // `log` shows them too; a second pass has nothing new and says so with exit 0.
    let logged = log(&data, 20);
    assert!(
        logged.iter().any(|(direction, what, outcome)| direction == "INBOUND"
            && what == "file/models/nested/orders.yaml"
            && outcome.starts_with("skipped: GS112")),
        "{logged:?}"
    );
    let again = run_with_data(&data, &["sync"], None);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "INBOUND: nothing new\nOUTBOUND: nothing to push\n")
    );
}

#[test]
fn a_merge_that_brings_back_an_older_gitsync_version_invents_no_conflict() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let v = |n: u32| ORDERS.replace("tableName: public.orders", &format!("tableName: public.orders_v{n}"));
    put(&data, "model", "orders", &v(1), ADA);
    ok_with_data(&data, &["sync"]);
    // A person branches off while the file is at v1 and commits something unrelated.
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "feature", "origin/main"]);
    std::fs::write(p.join("NOTES.md"), "notes\n").unwrap();
    git(p, &["add", "NOTES.md"]);
    git(p, &["commit", "-q", "--author", GRACE, "-m", "notes"]);
    // Meanwhile the workspace goes to v2 (pushed) and then v3 (still queued).
    put(&data, "model", "orders", &v(2), ADA);
    ok_with_data(&data, &["sync"]);
    put(&data, "model", "orders", &v(3), ADA);
    // The person merges main into the feature branch (first parent: the feature) and fast-forwards
    // main to it: on the first-parent line the merge changes orders from v1 to v2, which the
    // workspace already had; net, nothing changed orders since the last commit applied.
    git(p, &["fetch", "-q", "origin"]);
    git(
        p,
        &["merge", "-q", "--no-ff", "-m", "Merge main into feature", "origin/main"],
    );
    git(p, &["push", "-q", "origin", "feature:main"]);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n"),
        "{}",
        r.stderr
    );
    assert!(
        ok_with_data(&data, &["conflicts"]).starts_with("no conflicts"),
        "no conflict recorded"
    );
    assert_eq!(get(&data, "model", "orders"), v(3));
    assert_eq!(
        remote.show("main:models/orders.yaml"),
        v(3),
        "the newer workspace change went out"
    );
}

#[test]
fn a_change_whose_path_git_cannot_hold_is_set_aside_and_the_rest_goes_out() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    // In Git, models/orders.yaml is a folder, models/customers.yaml a symbolic link and
    // models/items.yaml a submodule.
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "main", "origin/main"]);
    std::fs::create_dir_all(p.join("models/orders.yaml")).unwrap();
    std::fs::write(p.join("models/orders.yaml/notes.md"), "notes\n").unwrap();
    std::os::unix::fs::symlink("../README.md", p.join("models/customers.yaml")).unwrap();
    git(p, &["add", "-A"]);
    let head = git(p, &["rev-parse", "HEAD"]).trim().to_string();
    git(
        p,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{head},models/items.yaml"),
        ],
    );
    git(p, &["commit", "-q", "--author", GRACE, "-m", "odd paths"]);
    git(p, &["push", "-q", "origin", "main"]);
    assert_eq!(
        run_with_data(&data, &["sync"], None).code,
        1,
        "the folder and the link are reported"
    );

    put(&data, "model", "orders", ORDERS, ADA);
    put(&data, "model", "customers", CUSTOMERS, ADA);
    put(&data, "model", "items", &CUSTOMERS.replace("Customers", "Items"), ADA);
    put(
        &data,
        "model",
        "shipments",
        &CUSTOMERS.replace("Customers", "Shipments"),
        ADA,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let remedy = |kind: &str, slug: &str| {
        format!(
            "it stays queued and goes out with the first pass after that (or `gitsync workspace delete {kind} {slug}` drops it)"
        )
    };
    assert_eq!(
        r.stdout,
        format!(
            "INBOUND: nothing new\nOUTBOUND: pushed 1 commit to main\n\
             \x20 set aside change #1 (put model orders by {ADA}): `models/orders.yaml` is a folder in the repository; move or remove the folder in Git; {}\n\
             \x20 set aside change #2 (put model customers by {ADA}): `models/customers.yaml` is a symbolic link in the repository; replace it with the file (or remove it) in Git; {}\n\
             \x20 set aside change #3 (put model items by {ADA}): `models/items.yaml` is a submodule in the repository; remove the submodule in Git; {}\n",
            remedy("model", "orders"),
            remedy("model", "customers"),
            remedy("model", "items"),
        )
    );
    assert_eq!(
        remote.history("main")[0],
        "update model shipments|Ada Lovelace",
        "the unrelated change went out"
    );
    let status = ok_with_data(&data, &["status"]);
    assert!(status.contains("queued for OUTBOUND: 3 (3 set aside)\n"), "{status}");
    assert!(
        status.contains(
            "    set aside: `models/items.yaml` is a submodule in the repository; remove the submodule in Git;"
        ),
        "{status}"
    );
    // Logged once per reason: a second pass says the same, and the log does not grow.
    let logged = log(&data, 50).len();
    assert_eq!(run_with_data(&data, &["sync"], None).code, 1);
    assert_eq!(log(&data, 50).len(), logged);
    assert!(log(&data, 50).iter().any(|(d, what, outcome)| d == "OUTBOUND"
        && what == "model/customers"
        && outcome.starts_with("set aside (change #2 stays queued): `models/customers.yaml` is a symbolic link")));

    // Fixed in Git: the change goes out. Deleted in the workspace: it is dropped.
    remote.commit(
        "main",
        &[("models/orders.yaml/notes.md", None)],
        "no folder there",
        GRACE,
    );
    ok_with_data(&data, &["workspace", "delete", "model", "customers", "--as", ADA]);
    ok_with_data(&data, &["workspace", "delete", "model", "items", "--as", ADA]);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(remote.show("main:models/orders.yaml"), ORDERS);
    assert!(ok_with_data(&data, &["status"]).contains("queued for OUTBOUND: nothing\n"));
    assert!(
        log(&data, 10)
            .iter()
            .any(|(_, what, outcome)| what == "model/items" && outcome == "superseded by change #6, which went out")
    );
}

#[test]
fn a_resync_writes_what_git_can_hold_and_keeps_the_rest_queued() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    remote.commit(
        "main",
        &[("models/orders.yaml/notes.md", Some("notes\n"))],
        "a folder",
        GRACE,
    );
    assert_eq!(run_with_data(&data, &["sync"], None).code, 1);
    put(&data, "model", "orders", ORDERS, ADA);
    put(&data, "model", "customers", CUSTOMERS, ADA);
    let r = run_with_data(&data, &["resync", "--yes"], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("  not written: model orders: `models/orders.yaml` is a folder in the repository; move or remove the folder in Git; its queued changes stay queued\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        remote.show("main:models/customers.yaml"),
        get(&data, "model", "customers")
    );
    let status = ok_with_data(&data, &["status"]);
    assert!(
        status.contains("queued for OUTBOUND: 1 (1 set aside)\n  #1 put model/orders"),
        "{status}"
    );
    // Once the folder is gone, the next pass writes it.
    remote.commit("main", &[("models/orders.yaml/notes.md", None)], "no folder", GRACE);
    assert_eq!(run_with_data(&data, &["sync"], None).code, 0);
    assert_eq!(remote.show("main:models/orders.yaml"), get(&data, "model", "orders"));
}

#[test]
fn a_pass_killed_after_pushing_two_versions_of_one_resource_resumes_without_a_conflict() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let v = |n: u32| ORDERS.replace("tableName: public.orders", &format!("tableName: public.orders_v{n}"));
    put(&data, "model", "orders", &v(1), ADA);
    put(&data, "model", "orders", &v(2), GRACE);
    let r = run_with_env(&data, &["sync"], None, &[("GITSYNC_FAILPOINTS", "after-push=abort")]);
    assert!(
        r.code != 0 && r.stderr.contains("failpoint after-push: aborting"),
        "{}",
        r.stderr
    );
    // The next pass finds both commits its own: v1 is what the queue carried, not a change from Git.
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "INBOUND: nothing new\n  2 queued changes had been pushed by an interrupted pass; marked done\nOUTBOUND: nothing to push\n"
        ),
        "{}",
        r.stderr
    );
    assert!(ok_with_data(&data, &["conflicts"]).starts_with("no conflicts"));
    assert_eq!(get(&data, "model", "orders"), v(2));
    assert_eq!(
        remote.history("main")[..2],
        ["update model orders|Grace Hopper", "update model orders|Ada Lovelace"]
    );
}

/// A remote that accepts the connection and never answers: `connect` gives up after one
/// `--network-timeout` over one connection (it made a second, and waited twice, before).
#[test]
fn connect_to_a_remote_that_never_answers_gives_up_once() {
    let remote = Remote::new(true);
    let data = remote.workspace("staging");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let accepted = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in silent.incoming().flatten() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(conn); // open, never answered
            }
        });
    }
    let url = format!("git://127.0.0.1:{port}/config.git");
    let r = run_with_data(
        &data,
        &["--network-timeout", "2s", "connect", "--repo", &url, "--branch", "main"],
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("cannot clone branch `main` of {url}")),
        "{}",
        r.stderr
    );
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "connections made"
    );
}

/// A full resync writes the workspace as it is, deletions included: a resource deleted in the
/// workspace (the delete still queued) is deleted on the branch by the resync commit, and the
/// apply-back does not bring it back.
#[test]
fn a_delete_queued_before_a_resync_goes_out_with_it() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let gone = CUSTOMERS.replace("Customers", "Gone");
    remote.commit("main", &[("models/gone.yaml", Some(&gone))], "add gone", GRACE);
    ok_with_data(&data, &["sync"]);
    ok_with_data(&data, &["workspace", "delete", "model", "gone", "--as", ADA]);
    let r = run_with_data(&data, &["resync", "--yes", "--as", ADA], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        remote.history("main")[0],
        "full resync of workspace acme-staging|Ada Lovelace"
    );
    let files = git(&remote.bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("models/gone.yaml"), "{files}");
    let message = git(&remote.bare, &["log", "-1", "--format=%b", "main"]);
    assert!(
        message.starts_with("0 resources written from the workspace, 1 deleted as it was there."),
        "{message}"
    );
    let r = run_with_data(&data, &["workspace", "get", "model", "gone"], None);
    assert_eq!(r.code, 2, "the apply-back brought it back: {}", r.stdout);
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"], serde_json::json!([]), "{status}");
    // A later pass keeps it that way.
    ok_with_data(&data, &["sync"]);
    assert_eq!(
        run_with_data(&data, &["workspace", "get", "model", "gone"], None).code,
        2
    );
}

/// Another client's push landing while ours is in flight — the remote took our pack, then found the
/// branch moved ("cannot lock ref 'refs/heads/main': is at X but expected Y") — is a moved branch
/// like a non-fast-forward: the pass fetches, takes the other commit in, replays and pushes again.
#[test]
fn a_push_that_loses_a_race_on_the_remote_is_retried() {
    let remote = Remote::new(true);
    let (_daemon, data) = remote.over_daemon("staging");
    // Grace's commit waits on a side branch; the remote's hook moves `main` to it once, while our
    // push is being received.
    let p = &remote.person;
    git(p, &["fetch", "-q", "origin"]);
    git(p, &["checkout", "-q", "-B", "racer", "origin/main"]);
    std::fs::create_dir_all(p.join("models")).unwrap();
    std::fs::write(p.join("models/customers.yaml"), CUSTOMERS).unwrap();
    git(p, &["add", "."]);
    git(
        p,
        &[
            "-c",
            "user.name=Grace Hopper",
            "-c",
            "user.email=grace@example.com",
            "commit",
            "-q",
            "-m",
            "add customers",
        ],
    );
    git(p, &["push", "-q", "origin", "racer"]);
    remote.pre_receive(
        "#!/bin/sh\ncat > /dev/null\nif [ ! -e raced ]; then\n  touch raced\n  env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main refs/heads/racer\nfi\n",
    );

    put(&data, "model", "orders", ORDERS, ADA);
    let r = run_with_data(&data, &["sync", "--format", "json"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(remote.bare.join("raced").exists(), "the hook did not run");
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        report["retries"], 1,
        "the push lost the race once, then went out: {report}"
    );
    let history = remote.history("main");
    assert_eq!(
        &history[..2],
        ["update model orders|Ada Lovelace", "add customers|Grace Hopper"],
        "{history:?}"
    );
    assert!(get(&data, "model", "customers").contains("name: Customers\n"));
}

/// The checkout is a cache: a damaged one (an emptied index, HEAD, branch ref or object of the
/// branch's tree) is said to be damaged and cloned again, and the pass goes on — nothing in it was
/// needed.
#[test]
fn a_damaged_checkout_is_cloned_again() {
    for damage in ["index", "HEAD", "refs/heads/main", "object"] {
        let remote = Remote::new(true);
        let data = remote.connected("staging", "main");
        put(&data, "model", "orders", ORDERS, ADA);
        ok_with_data(&data, &["sync"]);
        let checkout = ws_folder(&data).join("checkout");
        let file = if damage == "object" {
            // The blob of the file gitsync committed: a loose object of the checkout.
            let oid = git(&checkout, &["rev-parse", "HEAD:models/orders.yaml"]);
            let oid = oid.trim();
            checkout.join(".git/objects").join(&oid[..2]).join(&oid[2..])
        } else {
            checkout.join(".git").join(damage)
        };
        assert!(file.is_file(), "{damage}: {}", file.display());
        std::fs::write(&file, "").unwrap();
        put(&data, "model", "customers", CUSTOMERS, GRACE);
        let r = run_with_data(&data, &["sync"], None);
        assert_eq!(r.code, 0, "{damage}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("cloning it again (it is only a cache: the workspace's store holds everything)"),
            "{damage}: {}",
            r.stderr
        );
        assert_eq!(
            remote.history("main")[0],
            "update model customers|Grace Hopper",
            "{damage}"
        );
        // The next pass finds nothing wrong.
        let r = run_with_data(&data, &["sync"], None);
        assert_eq!(
            (r.code, r.stderr.contains("damaged")),
            (0, false),
            "{damage}: {}",
            r.stderr
        );
    }
}

/// A store restored from a backup numbers its changes again: an older commit on the branch with the
/// same `Gitsync-Change` number is not taken for the new change, which reaches the branch.
#[test]
fn a_store_restored_from_a_backup_does_not_take_an_older_commit_for_a_new_change() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let backup = remote.root.join("backup");
    let cp = |from: &Path, to: &Path| {
        let out = command("cp").arg("-a").arg(from).arg(to).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    cp(&data, &backup);
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    std::fs::remove_dir_all(&data).unwrap();
    cp(&backup, &data);
    put(&data, "model", "customers", CUSTOMERS, GRACE);
    ok_with_data(&data, &["sync"]);
    assert_eq!(remote.history("main")[0], "update model customers|Grace Hopper");
    let files = git(&remote.bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(
        files.contains("models/customers.yaml") && files.contains("models/orders.yaml"),
        "{files}"
    );
    // The workspace holds both: its own change, and the older one taken in from the branch.
    assert!(get(&data, "model", "customers").contains("name: Customers\n"));
    assert!(get(&data, "model", "orders").contains("name: Orders\n"));
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"], serde_json::json!([]), "{status}");
}

/// One file cannot stop the pass. A file of aliases of one large value is skipped (GS006, as
/// `validate` reports it); a file the workspace component cannot handle within its limits is skipped
/// with the component's reason (GS009); the rest of the same push is applied and the queue goes out.
#[test]
fn one_file_the_component_cannot_handle_does_not_stop_the_pass() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let skipped = |slug: &str| {
        let entries = log(&data, 20);
        entries
            .iter()
            .find(|(_, what, _)| what == &format!("model/{slug}"))
            .map(|(_, _, outcome)| outcome.clone())
            .unwrap_or_else(|| panic!("no log entry for {slug}: {entries:?}"))
    };
    let absent = |slug: &str| run_with_data(&data, &["workspace", "get", "model", slug], None).code == 2;

    // Aliases of one large value: refused by the bytes they would copy, as `validate` refuses them.
    let bomb = format!(
        "big: &big \"{}\"\ncopies: [{}]\n",
        "x".repeat(512 << 10),
        vec!["*big"; 3000].join(", ")
    );
    remote.commit(
        "main",
        &[("models/bomb.yaml", Some(&bomb)), ("models/orders.yaml", Some(ORDERS))],
        "two models",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(
        r.code, 1,
        "a file skipped, the pass complete: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(get(&data, "model", "orders").contains("name: Orders\n"));
    assert!(absent("bomb"));
    assert!(
        skipped("bomb").starts_with("skipped: GS006 at 2:"),
        "{}",
        skipped("bomb")
    );
    assert!(
        skipped("bomb").contains("more than 16 MiB of text"),
        "{}",
        skipped("bomb")
    );

    // A file the component cannot handle within its memory: skipped with the component's reason;
    // the other file of the push is applied and the queued change pushed.
    let heavy = format!(
        "name: Heavy\nsource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\ndescription: \"{}\"\n",
        "y".repeat(6 << 20)
    );
    let products = CUSTOMERS.replace("Customers", "Products");
    remote.commit(
        "main",
        &[
            ("models/heavy.yaml", Some(&heavy)),
            ("models/products.yaml", Some(&products)),
        ],
        "two more",
        GRACE,
    );
    put(&data, "model", "customers", CUSTOMERS, ADA);
    let r = run_with_data(&data, &["sync", "--policy-memory", "8"], None);
    assert_eq!(
        r.code, 1,
        "a file skipped, the pass complete: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(get(&data, "model", "products").contains("name: Products\n"));
    assert!(absent("heavy"));
    assert!(
        skipped("heavy")
            .starts_with("skipped: GS009 at 1:1: policy `workspace` failed: exceeded its memory limit of 8 MiB"),
        "{}",
        skipped("heavy")
    );
    assert_eq!(remote.history("main")[0], "update model customers|Ada Lovelace");
    // The next pass has nothing left to do.
    let r = run_with_data(&data, &["sync", "--policy-memory", "8"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// One writer per workspace, branch and path: the same workspace id in a second data directory is
/// refused by `connect`, naming the store that writes it; `--take-over` makes it the writer, after
/// which the first store's passes stop before they push anything, until it takes over in turn.
#[test]
fn a_second_store_of_a_workspace_does_not_write_its_branch_unless_it_takes_over() {
    let remote = Remote::new(true);
    let first = remote.connected("staging", "main");
    put(&first, "model", "orders", ORDERS, ADA);
    ok_with_data(&first, &["sync"]);
    let second = remote.root.join("data-second");
    init_named_workspace(&second, "staging");
    let connect = |take_over: bool| {
        let mut args = vec!["connect", "--repo", &remote.url, "--branch", "main"];
        if take_over {
            args.push("--take-over");
        }
        run_with_data(&second, &args, None)
    };
    let r = connect(false);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("another gitsync writes workspace `acme-staging` on branch `main`: commit "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("so it is not connected; nothing queued is lost"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("`gitsync connect … --take-over`"), "{}", r.stderr);
    let r = run_with_data(&second, &["sync"], None);
    assert!(r.stderr.contains("not connected"), "{}", r.stderr);

    let r = connect(true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        remote.history("main")[0],
        "gitsync: workspace acme-staging is written by this store from now on|gitsync"
    );
    ok_with_data(&second, &["sync"]);
    assert!(get(&second, "model", "orders").contains("name: Orders\n"));

    // The first store's next pass stops before it pushes anything; its change stays queued.
    put(&first, "model", "customers", CUSTOMERS, GRACE);
    let before = remote.history("main").len();
    let r = run_with_data(&first, &["sync"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("another gitsync writes workspace `acme-staging`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("so this pass stops; nothing queued is lost"),
        "{}",
        r.stderr
    );
    assert_eq!(remote.history("main").len(), before);
    // It takes over in turn: its change goes out.
    let r = run_with_data(&first, &["sync", "--take-over"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(remote.history("main")[0], "update model customers|Grace Hopper");
    let message = git(&remote.bare, &["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("\nGitsync-Instance: wsi_"), "{message}");
}

/// Every way in: a host that wants the real user name with the token (GitHub Enterprise's full user
/// names, Bitbucket app passwords, GitLab deploy tokens) gets it — from the URL, percent-encoded, or
/// from `--user` — tested against an HTTP Git server that wants exactly that user and token.
#[test]
fn a_token_goes_with_the_user_name_the_host_wants() {
    const TOKEN: &str = "app-password-0123456789";
    const USER: &str = "hightouch123@github.hightouch.com";
    let remote = Remote::new(true);
    let server = GitHttp::start_for(&remote.root, USER, TOKEN);
    let port = server.port;
    let env = [("GITSYNC_TEST_TOKEN", TOKEN)];
    let connect = |data: &Path, url: &str, extra: &[&str]| {
        let mut args = vec![
            "connect",
            "--repo",
            url,
            "--branch",
            "main",
            "--token-env",
            "GITSYNC_TEST_TOKEN",
            "--allow-insecure",
        ];
        args.extend_from_slice(extra);
        run_with_env(data, &args, None, &env)
    };
    // Without a user name the token goes as `x-access-token`: this host refuses it.
    let plain = format!("http://127.0.0.1:{port}/remote.git");
    let data = remote.workspace("staging");
    let r = connect(&data, &plain, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN), "{}", r.stderr);
    // The user name in the URL, percent-encoded.
    let in_url = format!("http://hightouch123%40github.hightouch.com@127.0.0.1:{port}/remote.git");
    let r = connect(&data, &in_url, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    put(&data, "model", "orders", ORDERS, ADA);
    let r = run_with_env(&data, &["sync"], None, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(remote.history("main")[0], "update model orders|Ada Lovelace");
    // Or with --user, kept as a setting (it is not a secret) for every pass.
    let other = remote.workspace("production");
    let r = connect(&other, &plain, &["--user", USER]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    put(
        &other,
        "model",
        "customers",
        &CUSTOMERS.replace("staging-postgres", "production-postgres"),
        GRACE,
    );
    let r = run_with_env(&other, &["sync"], None, &env);
    // 1: staging's model, taken in from the branch, names a source production does not have.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(remote.history("main")[0], "update model customers|Grace Hopper");
    // A token where a user name goes is still refused, and not echoed.
    let third = remote.workspace("dev");
    let r = connect(&third, &plain, &["--user", "ghp_0123456789abcdefghijklmnop"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("looks like a credential, not a user name"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("0123456789abcdef"), "{}", r.stderr);
}

/// A change the remote refuses (push protection finding a secret, as a pre-receive hook here) does
/// not block the rest: the pass finds the commit refused, sets that change aside with the remote's
/// message and pushes the others; the refused version never goes out again, and a fix of the
/// resource supersedes it.
#[test]
fn a_change_the_remote_refuses_is_set_aside_and_the_rest_goes_out() {
    let remote = Remote::new(true);
    let (_daemon, data) = remote.over_daemon("staging");
    remote.pre_receive(
        "#!/bin/sh\nwhile read old new ref; do\n  if git log -p \"$old..$new\" | grep -q AKIA_SECRET; then\n    echo \"GH013: push declined: a secret was found\" >&2\n    exit 1\n  fi\ndone\n",
    );
    let leaky = ORDERS.replace("tableName: public.orders", "tableName: AKIA_SECRET_0123");
    put(&data, "model", "leaky", &leaky.replace("Orders", "Leaky"), ADA);
    put(&data, "model", "customers", CUSTOMERS, GRACE);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "set aside, the rest pushed: {}\n{}", r.stdout, r.stderr);
    assert_eq!(remote.history("main")[0], "update model customers|Grace Hopper");
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    let queued = status["queued"].as_array().unwrap();
    assert_eq!(queued.len(), 1, "{status}");
    let why = queued[0]["set_aside"].as_str().unwrap();
    assert!(why.starts_with("refused by the remote:"), "{why}");
    assert!(why.contains("GH013: push declined: a secret was found"), "{why}");
    // The next pass does not push it again.
    let pushes = remote.history("main").len();
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(remote.history("main").len(), pushes);
    // Fixed in the workspace: the fix goes out, the refused version never does.
    put(&data, "model", "leaky", &ORDERS.replace("Orders", "Leaky"), ADA);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(remote.history("main")[0], "update model leaky|Ada Lovelace");
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"], serde_json::json!([]), "{status}");
    assert!(!git(&remote.bare, &["log", "-p", "main"]).contains("AKIA_SECRET"));
}

/// After every pass a file valid at the branch head is in the workspace: a sync pushed together
/// with (after) the model it uses, or in an earlier push than its model, is taken in once the model
/// is there, though the sync's file did not change.
#[test]
fn a_file_skipped_for_a_reference_is_taken_in_once_the_reference_resolves() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let sync_of = |model: &str| format!("model: {model}\ndestination: staging-salesforce\nconfig: {{}}\n");
    // One push of two commits: the sync first, then its model.
    remote.commit(
        "main",
        &[("syncs/orders-to-crm.yaml", Some(&sync_of("orders")))],
        "add a sync",
        GRACE,
    );
    remote.commit("main", &[("models/orders.yaml", Some(ORDERS))], "add its model", GRACE);
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "nothing needs attention: {}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 file valid at the branch head taken in again"),
        "{}",
        r.stdout
    );
    assert!(get(&data, "sync", "orders-to-crm").contains("model: orders\n"));
    // Two pushes: the sync, skipped; later its model.
    remote.commit(
        "main",
        &[("syncs/customers-to-crm.yaml", Some(&sync_of("customers")))],
        "another sync",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 1, "skipped for now: {}", r.stdout);
    assert_eq!(
        run_with_data(&data, &["workspace", "get", "sync", "customers-to-crm"], None).code,
        2
    );
    remote.commit(
        "main",
        &[("models/customers.yaml", Some(CUSTOMERS))],
        "its model",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(get(&data, "sync", "customers-to-crm").contains("model: customers\n"));
}

/// A commit that only remaps an alias in the alias file is followed: the models using the alias
/// are resolved anew and hold the new real id.
#[test]
fn a_change_to_the_alias_file_alone_is_followed() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    ok_with_data(
        &data,
        &[
            "workspace",
            "add-source",
            "staging-postgres-2",
            "--name",
            "Second",
            "--type",
            "postgres",
        ],
    );
    let shared = "name: Shared\nsource: aliased-pg\ntype: table\ntableName: public.shared\nprimaryKey: id\n";
    remote.commit(
        "main",
        &[
            (
                "aliases-acme-staging.yaml",
                Some("sources:\n  aliased-pg: staging-postgres\ndestinations: {}\n"),
            ),
            ("models/shared.yaml", Some(shared)),
        ],
        "a shared model",
        GRACE,
    );
    ok_with_data(&data, &["sync"]);
    assert!(get(&data, "model", "shared").contains("source: staging-postgres\n"));
    remote.commit(
        "main",
        &[(
            "aliases-acme-staging.yaml",
            Some("sources:\n  aliased-pg: staging-postgres-2\ndestinations: {}\n"),
        )],
        "remap aliased-pg",
        GRACE,
    );
    let r = run_with_data(&data, &["sync"], None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        get(&data, "model", "shared").contains("source: staging-postgres-2\n"),
        "{}",
        get(&data, "model", "shared")
    );
    // The file in Git keeps its alias.
    assert_eq!(remote.show("main:models/shared.yaml"), shared);
}

/// Every version anyone wrote stays recoverable through a full resync: a resource changed twice
/// since the last pass has its earlier version committed on its own (by its person) before the
/// resync commit, which holds the last.
#[test]
fn a_resync_keeps_every_queued_version_in_the_history() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let first = ORDERS.replace("public.orders", "public.orders_first");
    let second = ORDERS.replace("public.orders", "public.orders_second");
    put(&data, "model", "orders", &first, GRACE);
    put(&data, "model", "orders", &second, ADA);
    put(&data, "model", "customers", CUSTOMERS, ADA);
    let before = remote.history("main").len();
    let r = run_with_data(&data, &["resync", "--yes", "--as", ADA], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = remote.history("main");
    assert_eq!(
        &history[..2],
        [
            "full resync of workspace acme-staging|Ada Lovelace",
            "update model orders|Grace Hopper"
        ],
        "{history:?}"
    );
    assert_eq!(history.len(), before + 2, "{history:?}");
    assert_eq!(remote.show("main~1:models/orders.yaml"), first);
    assert_eq!(remote.show("main:models/orders.yaml"), second);
    assert!(
        remote
            .show("main:models/customers.yaml")
            .starts_with("name: Customers\n")
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(status["queued"], serde_json::json!([]), "{status}");
    assert_eq!(
        ok_with_data(&data, &["sync"]),
        "INBOUND: nothing new\nOUTBOUND: nothing to push\n"
    );
}
