//! End-to-end tests of `gitsync check`: pull requests as real Git history — a bare remote, clones,
//! branches — checked by the real binary with the real components.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

/// A bare remote holding the acme example on `main`, and a clone with a `feature` branch checked out.
struct PullRequest {
    clone: Repo,
    remote: PathBuf,
}

impl PullRequest {
    fn new() -> PullRequest {
        let seed = Repo::acme();
        git(&seed.dir, &["init", "-q"]);
        git(&seed.dir, &["add", "-A"]);
        git(&seed.dir, &["commit", "-q", "-m", "acme"]);
        Self::from_seed(seed)
    }

    fn from_seed(seed: Repo) -> PullRequest {
        let remote = scratch("remote").join("acme.git");
        git(
            seed.dir.parent().unwrap(),
            &[
                "clone",
                "-q",
                "--bare",
                seed.dir.to_str().unwrap(),
                remote.to_str().unwrap(),
            ],
        );
        let clone = Repo {
            dir: scratch("clone").join("acme"),
        };
        git(
            clone.dir.parent().unwrap(),
            &["clone", "-q", remote.to_str().unwrap(), clone.dir.to_str().unwrap()],
        );
        git(&clone.dir, &["checkout", "-q", "-b", "feature"]);
        PullRequest { clone, remote }
    }

    /// Commit everything on `feature` and push it, as a pull request's head.
    fn commit(&self, message: &str) -> &PullRequest {
        git(&self.clone.dir, &["add", "-A"]);
        git(&self.clone.dir, &["commit", "-q", "-m", message]);
        git(&self.clone.dir, &["push", "-q", "origin", "feature"]);
        self
    }

    fn mv(&self, from: &str, to: &str) -> &PullRequest {
        git(&self.clone.dir, &["mv", from, to]);
        self
    }

    /// `check --base origin/main --head origin/feature --format FORMAT` in the clone.
    fn run_check(&self, format: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "check",
            ".",
            "--base",
            "origin/main",
            "--head",
            "origin/feature",
            "--format",
            format,
        ];
        args.extend_from_slice(extra);
        self.clone.run(&args)
    }

    /// `check --base origin/main --head origin/feature --format json`.
    fn check(&self, extra: &[&str]) -> (i32, Value) {
        let r = self.run_check("json", extra);
        assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
        (
            r.code,
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout)),
        )
    }
}

fn codes(result: &Value) -> Vec<(String, String, u64)> {
    brief(result["diagnostics"].as_array().unwrap())
        .into_iter()
        .map(|(c, p, l, _, _)| (c, p, l))
        .collect()
}

/// (workspace, sync) pairs of the affected-syncs list.
fn affected(result: &Value) -> Vec<(String, String)> {
    result["affected_syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["workspace"].as_str().unwrap_or("").to_string(),
                a["sync"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn both(sync: &str) -> Vec<(String, String)> {
    vec![
        ("acme-production".into(), sync.into()),
        ("acme-staging".into(), sync.into()),
    ]
}

#[track_caller]
fn expect(pr: &PullRequest, want: &[(&str, &str, u64)]) -> Value {
    let (code, result) = pr.check(&[]);
    let want: Vec<(String, String, u64)> = want
        .iter()
        .map(|(c, p, l)| (c.to_string(), p.to_string(), *l))
        .collect();
    assert_eq!(codes(&result), want, "{result:#}");
    let errors = result["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["severity"] == "error");
    assert_eq!(code, if errors { 1 } else { 0 });
    assert_eq!(result["passed"], !errors);
    result
}

#[test]
fn model_deleted_while_a_sync_uses_it() {
    let pr = PullRequest::new();
    pr.clone.remove("models/churn-risk.yaml");
    pr.commit("drop churn risk");
    let r = expect(&pr, &[("GS601", "syncs/churn-risk-to-salesforce.yaml", 1)]);
    assert_eq!(
        r["diagnostics"][0]["message"],
        "model `churn-risk` was deleted, but sync `churn-risk-to-salesforce` still uses it"
    );
    assert_eq!(affected(&r), both("churn-risk-to-salesforce"));
}

#[test]
fn model_renamed_while_a_sync_uses_it() {
    let pr = PullRequest::new();
    pr.mv("models/stocking-list.yaml", "models/stock-list.yaml")
        .commit("rename");
    let r = expect(&pr, &[("GS601", "syncs/stocking-list-to-salesforce.yaml", 1)]);
    assert_eq!(
        r["diagnostics"][0]["help"],
        "change this line to `model: stock-list` (renaming a model file changes its slug)"
    );
}

#[test]
fn renaming_a_model_and_its_syncs_together_passes() {
    let pr = PullRequest::new();
    pr.mv("models/stocking-list.yaml", "models/stock-list.yaml");
    pr.clone.edit(
        "syncs/stocking-list-to-salesforce.yaml",
        "model: stocking-list",
        "model: stock-list",
    );
    pr.commit("rename both");
    let r = expect(&pr, &[]);
    assert_eq!(affected(&r), both("stocking-list-to-salesforce"));
}

#[test]
fn schema_model_and_relationship_deleted_while_used() {
    let pr = PullRequest::new();
    pr.clone.remove("schema/event-models/page-views.yaml");
    pr.clone.remove("schema/model-relationships/purchases-products.yaml");
    pr.commit("drop");
    let r = expect(
        &pr,
        &[
            ("GS602", "schema/model-relationships/users-page-views.yaml", 7),
            ("GS603", "schema/model-relationships/users-products.yaml", 9),
        ],
    );
    assert_eq!(
        r["diagnostics"][0]["message"],
        "schema model `page-views` was deleted, but relationship `users-page-views` still uses it"
    );
    assert_eq!(
        affected(&r),
        Vec::<(String, String)>::new(),
        "relationships are not syncs"
    );
}

#[test]
fn alias_removed_breaks_the_workspace_that_used_it() {
    let pr = PullRequest::new();
    pr.clone
        .edit("aliases-acme-production.yaml", "  engagement: production-braze\n", "");
    pr.commit("drop alias");
    let r = expect(
        &pr,
        &[
            ("GS604", "syncs/customers-to-braze.yaml", 2),
            ("GS604", "syncs/open-orders-to-braze.yaml", 2),
        ],
    );
    assert_eq!(r["diagnostics"][0]["workspace"], "acme-production");
    assert_eq!(
        r["diagnostics"][0]["message"],
        "destination `engagement` resolved to `production-braze` at the base but no longer resolves in workspace `acme-production`"
    );
    assert_eq!(
        affected(&r),
        vec![
            ("acme-production".to_string(), "customers-to-braze".to_string()),
            ("acme-production".to_string(), "open-orders-to-braze".to_string())
        ]
    );
}

#[test]
fn alias_target_changed_to_an_unknown_id() {
    let pr = PullRequest::new();
    pr.clone.edit(
        "aliases-acme-staging.yaml",
        "warehouse: staging-snowflake",
        "warehouse: staging-bigquery",
    );
    pr.commit("retarget");
    let r = expect(
        &pr,
        &[
            ("GS202", "aliases-acme-staging.yaml", 4),
            ("GS604", "models/churn-risk.yaml", 2),
            ("GS604", "models/customers.yaml", 2),
            ("GS604", "schema/event-models/page-views.yaml", 2),
            ("GS604", "schema/parent-models/users.yaml", 2),
            ("GS604", "schema/related-models/products.yaml", 2),
            ("GS604", "schema/related-models/purchases.yaml", 2),
        ],
    );
    let names: Vec<String> = affected(&r).into_iter().map(|(w, s)| format!("{w}/{s}")).collect();
    assert_eq!(
        names,
        [
            "acme-staging/churn-risk-to-salesforce",
            "acme-staging/customers-to-braze"
        ]
    );
}

#[test]
fn manifest_entry_gone_is_breaking_and_manifest_edits_warn() {
    let pr = PullRequest::new();
    pr.clone.edit(
        "manifest-acme-production.yaml",
        "  production-slack:\n    name: Slack #data-alerts\n    type: slack\n",
        "",
    );
    pr.commit("drop slack");
    let r = expect(
        &pr,
        &[
            ("GS202", "aliases-acme-production.yaml", 8),
            ("GS609", "manifest-acme-production.yaml", 1),
            ("GS604", "syncs/low-stock-to-slack.yaml", 2),
        ],
    );
    assert_eq!(r["diagnostics"][1]["severity"], "warning");
    assert_eq!(
        r["diagnostics"][1]["label"],
        "read-only: your change will be overwritten"
    );
}

#[test]
fn primary_key_change_is_a_warning_that_names_the_syncs() {
    let pr = PullRequest::new();
    pr.clone
        .edit("models/customers.yaml", "primaryKey: customer_id", "primaryKey: id");
    pr.commit("pk");
    let r = expect(&pr, &[("GS605", "models/customers.yaml", 6)]);
    assert_eq!(r["diagnostics"][0]["label"], "used by customers-to-braze");
    assert_eq!(affected(&r), both("customers-to-braze"));
}

const ORDER: &str = "events/contracts/web/order-completed-web-default.yaml";

#[test]
fn every_breaking_event_schema_change_is_caught() {
    let cases: [(&str, &str, u64, &str); 6] = [
        (
            "required: [order_id, total]",
            "required: [order_id, total, currency]",
            11,
            "property `currency` is now required",
        ),
        (
            "        total:\n          type: number",
            "        total:\n          type: integer",
            16,
            "`type` narrowed: `number` no longer accepted",
        ),
        (
            "enum: [USD, EUR, GBP]",
            "enum: [USD, EUR]",
            20,
            "`enum` narrowed: \"GBP\" no longer accepted",
        ),
        ("minimum: 0\n", "minimum: 10\n", 17, "`minimum` tightened from 0 to 10"),
        (
            "          type: string\n          enum",
            "          type: string\n          pattern: \"^[A-Z]{3}$\"\n          enum",
            20,
            "`pattern` \"^[A-Z]{3}$\" was added",
        ),
        (
            "      required: [order_id, total]\n",
            "      required: [order_id, total]\n      additionalProperties: false\n",
            12,
            "`additionalProperties: false` now rejects properties the schema does not declare",
        ),
    ];
    for (from, to, line, message) in cases {
        let pr = PullRequest::new();
        pr.clone.edit(ORDER, from, to);
        pr.commit("tighten");
        let r = expect(&pr, &[("GS606", ORDER, line)]);
        let d = &r["diagnostics"][0];
        assert_eq!(
            d["message"],
            format!("breaking change to version `default`: {message}"),
            "{to}"
        );
        assert_eq!(
            d["help"],
            // v2 exists already (events/contracts/web/order-completed-web-v2.yaml): the next free one.
            "add a new version instead: keep this version as it was, and put the new schema in a copy with `version: v3` (order-completed-web-v3.yaml)"
        );
    }
}

#[test]
fn removed_property_under_closed_schema_and_blocking_rules() {
    let pr = PullRequest::new();
    let v2 = "events/contracts/web/order-completed-web-v2.yaml";
    pr.clone.edit(
        v2,
        "\"required\": [\"order_id\", \"total\", \"currency\"], ",
        "\"required\": [\"order_id\", \"total\"], \"additionalProperties\": false, ",
    );
    pr.commit("close v2");
    // v2 was open; closing it is breaking even before anything is removed.
    let r = expect(&pr, &[("GS606", v2, 7)]);
    assert_eq!(
        r["diagnostics"][0]["help"],
        "add a new version instead: keep this version as it was, and put the new schema in a copy with `version: v3` (order-completed-web-v3.yaml)"
    );

    let pr = PullRequest::new();
    pr.clone.edit(
        "events/contracts/web/sample-event-web-default.yaml",
        "onSchemaViolation: ALLOW_EVENT",
        "onSchemaViolation: BLOCK_EVENT",
    );
    pr.clone.edit(
        "events/contracts/web/page-web-default.yaml",
        "type: page",
        "type: page\nonUndeclaredFields: BLOCK_EVENT",
    );
    pr.clone.edit(
        "events/contracts/web.yaml",
        "onUndeclaredSchema: ALLOW_EVENT",
        "onUndeclaredSchema: BLOCK_EVENT",
    );
    pr.commit("block");
    let r = expect(
        &pr,
        &[
            ("GS608", "events/contracts/web.yaml", 3),
            ("GS608", "events/contracts/web/page-web-default.yaml", 2),
            ("GS608", "events/contracts/web/sample-event-web-default.yaml", 3),
        ],
    );
    assert_eq!(
        r["diagnostics"][1]["message"],
        "`onUndeclaredFields` changed from ALLOW_EVENT to BLOCK_EVENT: events that passed will now be blocked"
    );
}

#[test]
fn closing_a_schema_and_removing_a_property() {
    let seed = Repo::acme();
    seed.edit(
        ORDER,
        "      required: [order_id, total]\n",
        "      required: [order_id, total]\n      additionalProperties: false\n",
    );
    git(&seed.dir, &["init", "-q"]);
    git(&seed.dir, &["add", "-A"]);
    git(&seed.dir, &["commit", "-q", "-m", "closed"]);
    let pr = PullRequest::from_seed(seed);
    pr.clone.edit(
        ORDER,
        "        currency:\n          type: string\n          enum: [USD, EUR, GBP]\n",
        "",
    );
    pr.commit("drop currency");
    let r = expect(&pr, &[("GS606", ORDER, 14)]);
    assert_eq!(
        r["diagnostics"][0]["message"],
        "breaking change to version `default`: property `currency` was removed while `additionalProperties` is false"
    );
}

#[test]
fn unprovable_schema_changes_warn_instead_of_guessing() {
    let pr = PullRequest::new();
    pr.clone.edit(
        ORDER,
        "        total:\n",
        "        total:\n          anyOf: [{type: number}, {type: string}]\n",
    );
    pr.commit("anyOf");
    let r = expect(&pr, &[("GS607", ORDER, 16)]);
    assert_eq!(r["diagnostics"][0]["severity"], "warning");
}

#[test]
fn non_breaking_changes_pass_and_affect_no_syncs() {
    let pr = PullRequest::new();
    pr.clone.write("models/returns.yaml", "name: Returns\nsource: warehouse\ntype: table\ntableName: analytics.returns\nisSchema: false\nprimaryKey: return_id\n");
    pr.clone.edit(
        ORDER,
        "        currency:\n",
        "        coupon:\n          type: string\n        currency:\n",
    );
    pr.clone.edit(
        "aliases-acme-staging.yaml",
        "  alerts: staging-slack",
        "  alerts: staging-slack\n  notifications: staging-slack",
    );
    pr.clone
        .write("docs/diagram.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe");
    pr.clone.write("models/notes.txt", b"\xff\xfe not yaml");
    pr.commit("additions");
    let r = expect(&pr, &[]);
    assert_eq!(affected(&r), Vec::<(String, String)>::new());
    let md = pr.run_check("markdown", &[]);
    assert_eq!(md.code, 0);
    assert!(
        md.stdout
            .starts_with("### ✅ gitsync check passed: no syncs affected\n"),
        "{}",
        md.stdout
    );
}

#[test]
fn base_without_the_folders_yet() {
    let seed = Repo::empty();
    seed.write("README.md", "# new repo\n");
    git(&seed.dir, &["init", "-q"]);
    git(&seed.dir, &["add", "-A"]);
    git(&seed.dir, &["commit", "-q", "-m", "initial"]);
    let pr = PullRequest::from_seed(seed);
    copy_tree(&root().join("examples/acme"), &pr.clone.dir);
    pr.commit("import");
    // Adding manifests by hand is worth a warning; nothing breaks.
    let r = expect(
        &pr,
        &[
            ("GS609", "manifest-acme-production.yaml", 1),
            ("GS609", "manifest-acme-staging.yaml", 1),
        ],
    );
    let syncs: Vec<(String, String)> = affected(&r);
    assert_eq!(syncs.len(), 10, "5 new syncs in 2 workspaces: {syncs:?}");
    assert!(r["affected_syncs"][0]["reasons"][0] == "it is new");
}

#[test]
fn working_tree_is_the_default_head() {
    let pr = PullRequest::new();
    pr.clone
        .edit("syncs/customers-to-braze.yaml", "model: customers", "model: customer");
    let r = pr
        .clone
        .run(&["check", ".", "--base", "origin/main", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        codes(&v),
        [("GS401".to_string(), "syncs/customers-to-braze.yaml".to_string(), 1)]
    );
    assert_eq!(affected(&v), both("customers-to-braze"));
}

#[test]
fn revisions_that_do_not_exist_exit_2() {
    let pr = PullRequest::new();
    let r = pr.clone.run(&["check", ".", "--base", "origin/nope"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("revision `origin/nope` does not exist"),
        "{}",
        r.stderr
    );
    let r = pr
        .clone
        .run(&["check", ".", "--base", "origin/main", "--head", "deadbeef"]);
    assert_eq!(r.code, 2);
    let _ = &pr.remote;
}

/// `check --format sarif` (what a code-scanning upload of the pull-request check takes) is valid
/// SARIF 2.1.0 by Microsoft's validator, and places the breaking change where it is.
#[test]
fn check_sarif_is_valid_sarif_2_1_0() {
    let pr = PullRequest::new();
    pr.clone.remove("models/churn-risk.yaml");
    pr.clone
        .edit("syncs/customers-to-braze.yaml", "model: customers", "model: Customers");
    pr.commit("drop churn-risk, misname a model");
    let r = pr.run_check("sarif", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let errors = sarif_validator_errors(&r.stdout);
    assert!(errors.is_empty(), "{errors:#?}");
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let placed: Vec<(String, String, u64)> = results
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                r["ruleId"].as_str().unwrap().to_string(),
                loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                loc["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in [
        ("GS601", "syncs/churn-risk-to-salesforce.yaml", 1),
        ("GS401", "syncs/customers-to-braze.yaml", 1),
    ] {
        assert!(
            placed.iter().any(|p| (p.0.as_str(), p.1.as_str(), p.2) == want),
            "{want:?} not in {placed:?}"
        );
    }
    let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"], r["ruleId"]);
    }
}

/// Inside GitHub Actions (GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_SHA set, as every job
/// has them) the job summary links each finding's line to the file at the checked commit.
#[test]
fn markdown_summary_links_lines_inside_github_actions() {
    let pr = PullRequest::new();
    pr.clone.remove("models/churn-risk.yaml");
    pr.commit("drop");
    let out = gitsync()
        .args([
            "check",
            ".",
            "--base",
            "origin/main",
            "--head",
            "origin/feature",
            "--format",
            "markdown",
        ])
        .current_dir(&pr.clone.dir)
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_REPOSITORY", "acme/config")
        .env("GITHUB_SHA", "0123abc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "- **error GS601** [line 1](https://github.example/acme/config/blob/0123abc/syncs/churn-risk-to-salesforce.yaml#L1): "
        ),
        "{text}"
    );
}

#[test]
fn markdown_summary_snapshot() {
    let pr = PullRequest::new();
    pr.clone.remove("models/churn-risk.yaml");
    pr.commit("drop");
    let r = pr.run_check("markdown", &[]);
    assert_eq!(r.code, 1);
    // Every YAML file of the head is checked.
    let checked = yaml_files(&pr.clone.dir);
    assert_eq!(
        r.stdout,
        format!("### ❌ gitsync check failed: 1 error, 0 warnings

{checked} files checked in 2 workspaces.

#### Affected syncs

| workspace | sync | why |
| --- | --- | --- |
| acme-production | `churn-risk-to-salesforce` | its model `churn-risk` is gone |
| acme-staging | `churn-risk-to-salesforce` | its model `churn-risk` is gone |

#### Findings


**`syncs/churn-risk-to-salesforce.yaml`**

- **error GS601** line 1: model `churn-risk` was deleted, but sync `churn-risk-to-salesforce` still uses it — restore models/churn-risk.yaml or point the sync at another model
"
        )
    );
}

/// A pull request cannot switch off the check that judges it: `.gitsync/` comes from the base. Here
/// the change deletes a model still used by a sync and turns GS601 and GS604 off in its own config:
/// the check still fails on GS601, and says the config was edited (GS013). `--config-from head` runs
/// with the change's config, on purpose.
#[test]
fn the_check_takes_its_configuration_from_the_base() {
    let pr = PullRequest::new();
    pr.clone.remove("models/churn-risk.yaml");
    pr.clone
        .write(".gitsync/config.yaml", "codes:\n  GS601: off\n  GS604: off\n");
    pr.commit("drop churn-risk, and quiet the check");
    let r = pr.run_check("json", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let found: Vec<(String, String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "GS601".into(),
            "error".into(),
            "syncs/churn-risk-to-salesforce.yaml".into()
        )),
        "{found:?}"
    );
    let gs013 = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "GS013")
        .unwrap_or_else(|| panic!("no GS013: {found:?}"));
    assert_eq!(
        (
            gs013["severity"].as_str(),
            gs013["path"].as_str(),
            gs013["line"].as_u64()
        ),
        (Some("warning"), Some(".gitsync/config.yaml"), Some(1))
    );
    assert_eq!(
        gs013["help"],
        "this check ran with the base's `.gitsync/`; the change takes effect once merged (`--config-from head` checks with it now)"
    );
    // Opted in: the change's own config applies (and the edit is still reported).
    let r = pr.run_check("json", &["--config-from", "head"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["GS013"]);
}

/// The base's own config applies to the check: a base that makes GS013 an error fails a pull
/// request that edits `.gitsync/`.
#[test]
fn the_base_config_decides_how_a_config_edit_is_reported() {
    let seed = Repo::acme();
    seed.write(".gitsync/config.yaml", "codes:\n  GS013: error\n");
    git(&seed.dir, &["init", "-q"]);
    git(&seed.dir, &["add", "-A"]);
    git(&seed.dir, &["commit", "-q", "-m", "acme"]);
    let pr = PullRequest::from_seed(seed);
    pr.clone.write(".gitsync/config.yaml", "codes:\n  GS013: off\n");
    pr.commit("try to quiet it");
    let r = pr.run_check("human", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("error[GS013]: this change edits `.gitsync/config.yaml`, gitsync's own configuration"),
        "{}",
        r.stdout
    );
}
