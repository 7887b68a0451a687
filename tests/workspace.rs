//! End-to-end tests of the embedded workspace: `gitsync workspace …` and `gitsync log`, on a real
//! SQLite store in a data directory, with resources parsed and rendered by the schema component.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const ADA: &str = "Ada Lovelace <ada@example.com>";

struct Ws {
    data: PathBuf,
}

impl Ws {
    fn new() -> Ws {
        let data = scratch("workspace").join("data");
        init_workspace(&data);
        Ws { data }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run_with_data(&self.data, args, stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        ok_with_data(&self.data, args)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.data.parent().unwrap().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn put_renders_canonical_yaml_and_queues_the_change() {
    let ws = Ws::new();
    let f = ws.file(
        "m.yaml",
        "primaryKey: id\nname: Stocking list\nsource: staging-postgres\ntype: table\ntableName: public.workspaces\n",
    );
    let out = ws.ok(&[
        "workspace",
        "put",
        "model",
        "stocking-list",
        "--file",
        s(&f),
        "--as",
        ADA,
    ]);
    assert_eq!(
        out,
        "created model stocking-list as Ada Lovelace <ada@example.com>; queued for OUTBOUND\n"
    );
    assert_eq!(
        ws.ok(&["workspace", "get", "model", "stocking-list"]),
        "name: Stocking list\nsource: staging-postgres\ntype: table\ntableName: public.workspaces\nisSchema: false\nprimaryKey: id\n"
    );
    // JSON input (stdin) works too, and a second put is an update.
    let r = ws.run(
        &["workspace", "put", "sync", "stocking-list-to-salesforce", "--file", "-", "--as", ADA],
        Some(r#"{"model": "stocking-list", "destination": "staging-salesforce", "config": {"object": "Account"}, "schedule": null}"#),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = ws.ok(&[
        "workspace",
        "put",
        "model",
        "stocking-list",
        "--file",
        s(&f),
        "--as",
        "Grace Hopper <grace@example.com>",
    ]);
    assert!(out.starts_with("updated model stocking-list"), "{out}");
    let got: Value =
        serde_json::from_str(&ws.ok(&["workspace", "get", "model", "stocking-list", "--format", "json"])).unwrap();
    assert_eq!(got["updated_by"], "Grace Hopper <grace@example.com>");
    // The resource's fields are a JSON object, not YAML in a string.
    assert_eq!(
        got["resource"],
        serde_json::json!({"name": "Stocking list", "source": "staging-postgres", "type": "table",
            "tableName": "public.workspaces", "isSchema": false, "primaryKey": "id"})
    );
    // The keys a client reads (their order is JSON's business, not a promise).
    let mut keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["kind", "resource", "slug", "updated_at", "updated_by", "version"]
    );
    assert_eq!(
        (got["kind"].as_str(), got["slug"].as_str()),
        (Some("model"), Some("stocking-list"))
    );
    let list: Value = serde_json::from_str(&ws.ok(&["workspace", "list", "--format", "json"])).unwrap();
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["kind"].as_str().unwrap(), r["slug"].as_str().unwrap()))
        .collect();
    assert_eq!(names, ["model/stocking-list", "sync/stocking-list-to-salesforce"]);
    let log: Value = serde_json::from_str(&ws.ok(&["log", "--format", "json"])).unwrap();
    let entries: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["direction"].as_str().unwrap().into(),
                e["slug"].as_str().unwrap().into(),
                e["author"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "OUTBOUND".to_string(),
                "stocking-list".to_string(),
                "Grace Hopper <grace@example.com>".to_string()
            ),
            (
                "OUTBOUND".to_string(),
                "stocking-list-to-salesforce".to_string(),
                ADA.to_string()
            ),
            ("OUTBOUND".to_string(), "stocking-list".to_string(), ADA.to_string()),
        ]
    );
}

#[test]
fn invalid_input_is_refused_with_diagnostics_and_nothing_is_stored() {
    let ws = Ws::new();
    let f = ws.file(
        "bad.yaml",
        "name: X\nSource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n",
    );
    let r = ws.run(&["workspace", "put", "model", "x", "--file", s(&f), "--as", ADA], None);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("error[GS101]: unknown field `Source`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&format!("--> {}:2:1", f.display())), "{}", r.stderr);
    // The workspace uses real ids, not aliases.
    let f = ws.file(
        "alias.yaml",
        "name: X\nsource: aliased-postgres\ntype: table\ntableName: t\nprimaryKey: id\n",
    );
    let r = ws.run(&["workspace", "put", "model", "x", "--file", s(&f), "--as", ADA], None);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("error[GS301]: source `aliased-postgres` does not exist in this workspace"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help: use one of: staging-postgres"), "{}", r.stderr);
    let r = ws.run(
        &["workspace", "put", "sync", "s", "--file", "-", "--as", ADA],
        Some("model: ghost\ndestination: staging-salesforce\nconfig: {}\n"),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("model `ghost` does not exist in this workspace"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.ok(&["workspace", "list"]), "no resources\n");
    assert_eq!(ws.ok(&["log"]), "no changes yet\n");
}

/// `put` reads no more than the repository could hold: endless input stops at the limit, and a file
/// over it is refused with the limit named; nothing is stored.
#[test]
fn put_refuses_input_larger_than_a_resource_file_may_be() {
    let ws = Ws::new();
    let started = std::time::Instant::now();
    let r = ws.run(
        &["workspace", "put", "model", "x", "--file", "/dev/zero", "--as", ADA],
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("/dev/zero is larger than 8 MiB, the most a resource file may be"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let big = format!(
        "name: X\nsource: staging-postgres\ntype: raw_sql\nprimaryKey: id\nrawSql: \"{}\"\n",
        "x".repeat(9 << 20)
    );
    let r = ws.run(
        &["workspace", "put", "model", "x", "--file", "-", "--as", ADA],
        Some(&big),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("<stdin> is larger than 8 MiB"), "{}", r.stderr);
    assert_eq!(ws.ok(&["workspace", "list"]), "no resources\n");
}

/// What `put` accepts, a pass can commit: authors Git would refuse and slugs too long for a file
/// name are refused at the door, and nothing is queued.
#[test]
fn put_refuses_authors_and_slugs_a_commit_could_not_hold() {
    let ws = Ws::new();
    let m = ws.file(
        "m.yaml",
        "name: M\nsource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n",
    );
    for author in ["Ada <a<b@x.com>", "Ada\nLovelace <a@x.com>", "Ada <a@x.com>>"] {
        let r = ws.run(
            &["workspace", "put", "model", "m", "--file", s(&m), "--as", author],
            None,
        );
        assert_eq!(r.code, 2, "{author:?}");
        assert!(
            r.stderr.contains("cannot be a commit's author"),
            "{author:?}: {}",
            r.stderr
        );
    }
    let long = "a".repeat(300);
    let r = ws.run(
        &["workspace", "put", "model", &long, "--file", s(&m), "--as", ADA],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is 300 characters; at most 200 fit in a file name"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.ok(&["workspace", "list"]), "no resources\n");
    assert_eq!(ws.ok(&["log"]), "no changes yet\n");
}

/// Deleting a model a sync uses is refused, naming the sync and where it says so; `--force` deletes
/// anyway.
#[test]
fn delete_refuses_to_leave_a_sync_without_its_model_unless_forced() {
    let ws = Ws::new();
    let m = ws.file(
        "m.yaml",
        "name: M\nsource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n",
    );
    ws.ok(&["workspace", "put", "model", "orders", "--file", s(&m), "--as", ADA]);
    let r = ws.run(
        &["workspace", "put", "sync", "orders-to-sf", "--file", "-", "--as", ADA],
        Some("model: orders\ndestination: staging-salesforce\nconfig: {}\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ws.run(&["workspace", "delete", "model", "orders", "--as", ADA], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "refusing to delete model orders: it is still used\n  syncs/orders-to-sf.yaml:1:8: model `orders` does not exist [GS401]\nchange or delete those first, or pass --force to delete model orders anyway (the branch then fails `gitsync validate` until they are fixed)\n"
    );
    assert!(ws.ok(&["workspace", "list", "model"]).contains("orders"));
    assert_eq!(
        ws.ok(&["workspace", "delete", "model", "orders", "--force", "--as", ADA]),
        format!("deleted model orders as {ADA}; queued for OUTBOUND\n")
    );
    // Nothing uses the sync: it goes without --force.
    ws.ok(&["workspace", "delete", "sync", "orders-to-sf", "--as", ADA]);
    assert_eq!(ws.ok(&["workspace", "list"]), "no resources\n");
}

#[test]
fn delete_queues_and_usage_errors_exit_2() {
    let ws = Ws::new();
    let f = ws.file(
        "m.yaml",
        "name: M\nsource: staging-postgres\ntype: table\ntableName: t\nprimaryKey: id\n",
    );
    ws.ok(&["workspace", "put", "model", "m", "--file", s(&f), "--as", ADA]);
    assert_eq!(
        ws.ok(&["workspace", "delete", "model", "m", "--as", ADA]),
        format!("deleted model m as {ADA}; queued for OUTBOUND\n")
    );
    let r = ws.run(&["workspace", "get", "model", "m"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no model `m` in this workspace"), "{}", r.stderr);
    let cases: [(&[&str], &str); 8] = [
        (
            &[
                "workspace",
                "add-source",
                "wh",
                "--name",
                "two\nlines",
                "--type",
                "snowflake",
            ],
            "the name of `wh` must be 1 to 200 characters on one line (9 given)",
        ),
        (
            &[
                "workspace",
                "add-destination",
                "crm",
                "--name",
                "CRM",
                "--type",
                "Sales Force",
            ],
            "the type of `crm` must be 1 to 64 lowercase letters, digits, `-` or `_`",
        ),
        (
            &["workspace", "init", "acme-staging"],
            "already holds workspace `acme-staging`; pick it with --workspace acme-staging",
        ),
        (
            &[
                "workspace",
                "add-source",
                "staging-postgres",
                "--name",
                "x",
                "--type",
                "y",
            ],
            "source `staging-postgres` already exists",
        ),
        (
            &["workspace", "put", "model", "m", "--file", s(&f), "--as", "ada"],
            "\"Name <email>\"",
        ),
        (
            &["workspace", "put", "audience", "m", "--file", s(&f), "--as", ADA],
            "unknown kind `audience`",
        ),
        (
            &["workspace", "put", "event", "signup", "--file", s(&f), "--as", ADA],
            "<contract>/<event-slug>",
        ),
        (
            &["workspace", "put", "model", "../../etc", "--file", s(&f), "--as", ADA],
            "must be lowercase letters",
        ),
    ];
    for (args, want) in cases {
        let r = ws.run(args, None);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
    let r = run_in(&root(), &["workspace", "list"], &shared_cache());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("pass --data DIR or set GITSYNC_DATA"), "{}", r.stderr);
}

#[test]
fn a_data_directory_holds_several_workspaces_and_one_made_before_opens_unchanged() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let data = scratch("workspace").join("data");
    // A data directory as gitsync wrote it before it held several workspaces: the store at its root.
    ok_with_data(&data, &["workspace", "init", "legacy"]);
    ok_with_data(
        &data,
        &["workspace", "add-source", "pg", "--name", "PG", "--type", "postgres"],
    );
    for entry in std::fs::read_dir(data.join("workspaces/legacy")).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), data.join(entry.file_name())).unwrap();
    }
    std::fs::remove_dir_all(data.join("workspaces")).unwrap();
    let model = data.parent().unwrap().join("m.yaml");
    std::fs::write(
        &model,
        "name: M\nsource: pg\ntype: table\ntableName: t\nprimaryKey: id\n",
    )
    .unwrap();
    // With one workspace, --workspace may be left out.
    ok_with_data(
        &data,
        &["workspace", "put", "model", "m", "--file", s(&model), "--as", ADA],
    );
    assert_eq!(
        ok_with_data(&data, &["workspace", "init", "second"]),
        format!(
            "created workspace second in {}\n",
            data.join("workspaces/second").display()
        )
    );
    // Now it must be said which.
    let r = run_with_data(&data, &["workspace", "list"], None);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: {} holds 2 workspaces (legacy, second); pick one with --workspace ID (or GITSYNC_WORKSPACE)",
            data.display()
        )
    );
    assert!(ok_with_data(&data, &["--workspace", "legacy", "workspace", "list"]).contains("model          m "));
    let r = run_with_env(&data, &["workspace", "list"], None, &[("GITSYNC_WORKSPACE", "second")]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no resources\n"));
    let r = run_with_data(&data, &["--workspace", "third", "status"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no workspace `third` in"), "{}", r.stderr);
    assert!(r.stderr.contains("(it holds: legacy, second)"), "{}", r.stderr);
    // The old store stayed where it was, untouched but for the new workspace beside it.
    assert!(data.join("workspace.db").is_file());
    assert!(data.join("workspaces/second/workspace.db").is_file());
}

#[test]
fn tokens_are_shown_once_listed_without_secrets_and_revoked() {
    let ws = Ws::new();
    let created: Value = serde_json::from_str(&ws.ok(&[
        "token",
        "create",
        "--as",
        ADA,
        "--scope",
        "acme-staging",
        "--read-only",
        "--format",
        "json",
    ]))
    .unwrap();
    let (id, secret) = (created["id"].as_str().unwrap(), created["token"].as_str().unwrap());
    assert!(id.starts_with("tok_") && secret.starts_with("gst_"), "{created}");
    // What makes it a secret: at least 128 bits of randomness (32 hex digits) after the prefix.
    let random = &secret["gst_".len()..];
    assert!(
        random.len() >= 32 && random.bytes().all(|b| b.is_ascii_hexdigit()),
        "{created}"
    );
    let list = ws.ok(&["token", "list"]);
    assert!(list.starts_with(&format!("{id}  20")), "{list}");
    assert!(list.ends_with(&format!("  {ADA}  acme-staging  read-only\n")), "{list}");
    assert!(!list.contains(secret));
    let r = ws.run(&["token", "create", "--as", ADA, "--scope", "nope"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no workspace `nope`"), "{}", r.stderr);
    assert_eq!(ws.ok(&["token", "revoke", id]), format!("revoked token {id}\n"));
    assert_eq!(ws.ok(&["token", "list"]), "no tokens (`gitsync token create --as …`)\n");
    let r = ws.run(&["token", "revoke", id], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("no token `{id}`")), "{}", r.stderr);
    // A webhook secret: generated, or taken from a variable (at least 16 characters).
    let out = ws.ok(&["webhook", "secret"]);
    assert!(out.starts_with("webhook secret of acme-staging:\n"), "{out}");
    assert_eq!(out.lines().nth(1).unwrap().len(), 64);
    let r = run_with_env(
        &ws.data,
        &["webhook", "secret", "--from-env", "S"],
        None,
        &[("S", "short")],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least 16 characters"), "{}", r.stderr);
}

#[test]
fn every_command_has_help_with_an_example() {
    let commands: [&[&str]; 29] = [
        &["validate"],
        &["check"],
        &["events", "validate"],
        &["policy", "new"],
        &["policy", "test"],
        &["policy", "list"],
        &["policy", "inspect"],
        &["workspace", "init"],
        &["workspace", "add-source"],
        &["workspace", "add-destination"],
        &["workspace", "put"],
        &["workspace", "get"],
        &["workspace", "list"],
        &["workspace", "delete"],
        &["connect"],
        &["sync"],
        &["resync"],
        &["log"],
        &["conflicts"],
        &["status"],
        &["token", "create"],
        &["token", "list"],
        &["token", "revoke"],
        &["webhook", "secret"],
        &["serve"],
        &["policy", "context"],
        &["policy", "run"],
        &["policy", "wit"],
        &["policy", "bench"],
    ];
    let dir = scratch("help");
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let r = run_in(&dir, &args, &shared_cache());
        assert_eq!(r.code, 0, "{cmd:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("Example"),
            "`gitsync {}` has no example",
            cmd.join(" ")
        );
        assert!(
            r.stdout.contains(&format!("gitsync {}", cmd.join(" ")))
                || r.stdout.contains(&format!("gitsync --data ./ws {}", cmd.join(" "))),
            "`gitsync {}`'s example does not show the command:\n{}",
            cmd.join(" "),
            r.stdout
        );
    }
}
