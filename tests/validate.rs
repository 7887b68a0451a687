//! End-to-end tests of `gitsync validate`: the real binary, the real components built from guest/,
//! real Git repositories.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// Assert that breaking the example one way yields exactly these findings.
#[track_caller]
fn expect(repo: &Repo, want: &[(&str, &str, u64, u64)]) -> Vec<Value> {
    let (code, findings) = repo.findings(&[]);
    let got: Vec<(String, String, u64, u64)> = brief(&findings)
        .into_iter()
        .map(|(c, p, l, col, _)| (c, p, l, col))
        .collect();
    let want: Vec<(String, String, u64, u64)> = want
        .iter()
        .map(|(c, p, l, col)| (c.to_string(), p.to_string(), *l, *col))
        .collect();
    assert_eq!(got, want, "{findings:#?}");
    let errors = findings.iter().any(|f| f["severity"] == "error");
    assert_eq!(code, if errors { 1 } else { 0 });
    findings
}

#[test]
fn the_example_repository_validates_clean() {
    let r = run_in(&root(), &["validate", "examples/acme"], &shared_cache());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("no problems ("), "{}", r.stdout);
    assert!(r.stdout.contains("2 workspaces"), "{}", r.stdout);
    let (code, findings) = Repo::acme().findings(&[]);
    assert_eq!((code, findings.len()), (0, 0));
}

// ---- resource schemas (docs/resources.md) ----

#[test]
fn gs101_unknown_field_is_case_sensitive_and_suggests_the_field() {
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "source:", "Source:");
    let f = expect(&repo, &[("GS101", "models/churn-risk.yaml", 2, 1)]);
    assert_eq!(f[0]["message"], "unknown field `Source`");
    assert_eq!(f[0]["help"], "did you mean `source`?");
    assert_eq!(f[0]["workspace"], Value::Null);
}

#[test]
fn gs102_missing_required_field() {
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "primaryKey: customer_id\n", "");
    let f = expect(&repo, &[("GS102", "models/churn-risk.yaml", 1, 1)]);
    assert_eq!(f[0]["message"], "missing required field `primaryKey`");
}

#[test]
fn gs103_wrong_type_and_a_list_where_a_mapping_belongs() {
    let repo = Repo::acme();
    repo.edit(
        "syncs/low-stock-to-slack.yaml",
        "schedulePaused: true",
        "schedulePaused: \"yes\"",
    );
    repo.write("models/listy.yaml", "- name: x\n- source: y\n");
    let f = expect(
        &repo,
        &[
            ("GS103", "models/listy.yaml", 1, 1),
            ("GS103", "syncs/low-stock-to-slack.yaml", 7, 17),
        ],
    );
    assert_eq!(f[0]["message"], "the file must hold a mapping of fields, found a list");
    assert_eq!(f[1]["message"], "`schedulePaused` must be a boolean, found a string");
}

#[test]
fn gs104_invalid_enum_value_is_case_sensitive() {
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "type: table", "type: Table");
    let f = expect(&repo, &[("GS104", "models/churn-risk.yaml", 3, 7)]);
    assert_eq!(f[0]["help"], "did you mean `table`? (values are case-sensitive)");
    // A typo gets the near miss too, as an unknown field does.
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "type: table", "type: tabel");
    let f = expect(&repo, &[("GS104", "models/churn-risk.yaml", 3, 7)]);
    assert_eq!(f[0]["help"], "did you mean `table`? (values are case-sensitive)");
}

#[test]
fn gs105_query_field_that_does_not_match_the_type() {
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "isSchema", "rawSql: select 1\nisSchema");
    expect(&repo, &[("GS105", "models/churn-risk.yaml", 5, 1)]);
}

#[test]
fn gs106_dbt_model_form() {
    let repo = Repo::acme();
    repo.edit(
        "models/customers.yaml",
        "model.acme_analytics.dim_customers",
        "dim_customers",
    );
    expect(&repo, &[("GS106", "models/customers.yaml", 4, 11)]);
}

#[test]
fn gs107_is_schema_true_in_models() {
    let repo = Repo::acme();
    repo.edit("models/customers.yaml", "isSchema: false", "isSchema: true");
    expect(&repo, &[("GS107", "models/customers.yaml", 5, 11)]);
}

#[test]
fn gs108_file_name_not_a_slug() {
    let repo = Repo::acme();
    let text = std::fs::read_to_string(repo.dir.join("models/churn-risk.yaml")).unwrap();
    repo.remove("models/churn-risk.yaml")
        .remove("syncs/churn-risk-to-salesforce.yaml");
    repo.write("models/Churn Risk.yaml", text);
    let f = expect(&repo, &[("GS108", "models/Churn Risk.yaml", 1, 1)]);
    assert_eq!(f[0]["help"], "rename the file to `churn-risk.yaml`");
}

#[test]
fn gs109_invalid_schedule() {
    let repo = Repo::acme();
    repo.edit("syncs/stocking-list-to-salesforce.yaml", "quantity: 1", "quantity: 0");
    repo.edit("syncs/churn-risk-to-salesforce.yaml", "\"07:00\"", "\"7am\"");
    expect(
        &repo,
        &[
            ("GS109", "syncs/churn-risk-to-salesforce.yaml", 24, 15),
            ("GS109", "syncs/stocking-list-to-salesforce.yaml", 19, 17),
        ],
    );
}

#[test]
fn gs110_invalid_quartz_cron() {
    let repo = Repo::acme();
    repo.edit("syncs/customers-to-braze.yaml", "0 30 6 ? * MON-FRI", "30 6 * * 1-5");
    let f = expect(&repo, &[("GS110", "syncs/customers-to-braze.yaml", 19, 17)]);
    assert_eq!(
        f[0]["message"],
        "invalid Quartz cron expression: expected 6 or 7 fields, found 5"
    );
}

#[test]
fn gs111_empty_list() {
    let repo = Repo::acme();
    repo.edit(
        "schema/model-relationships/users-page-views.yaml",
        "mapping:\n  - fromColumn: \"user_id\"\n    toColumn: \"user_id\"\n",
        "mapping: []\n",
    );
    expect(
        &repo,
        &[("GS111", "schema/model-relationships/users-page-views.yaml", 10, 10)],
    );
}

#[test]
fn gs112_misplaced_resource_file_is_a_warning() {
    let repo = Repo::acme();
    repo.write("models/archive/old.yaml", "name: old\n");
    repo.write("syncs/typo.yml", "model: x\n");
    let f = expect(
        &repo,
        &[
            ("GS112", "models/archive/old.yaml", 1, 1),
            ("GS112", "syncs/typo.yml", 1, 1),
        ],
    );
    assert!(f.iter().all(|f| f["severity"] == "warning"));
}

/// A file the revision names but whose object is missing (a damaged clone) costs that one file,
/// not the run; the other files are still checked.
#[test]
fn gs010_a_file_whose_object_cannot_be_read() {
    let repo = Repo::acme();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "acme"]);
    let blob = git(&repo.dir, &["rev-parse", "HEAD:syncs/churn-risk-to-salesforce.yaml"]);
    let blob = blob.trim();
    std::fs::remove_file(repo.dir.join(".git/objects").join(&blob[..2]).join(&blob[2..])).unwrap();
    let (code, findings) = repo.findings(&["--rev", "HEAD"]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&findings),
        [(
            "GS010".to_string(),
            "syncs/churn-risk-to-salesforce.yaml".to_string(),
            1,
            1,
            None
        )]
    );
    assert_eq!(findings[0]["severity"], "error");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("file cannot be read: "),
        "{findings:#?}"
    );
}

#[cfg(unix)]
#[test]
fn gs011_a_symbolic_link_is_skipped_with_a_warning() {
    let repo = Repo::acme();
    std::os::unix::fs::symlink("churn-risk.yaml", repo.dir.join("models/link.yaml")).unwrap();
    let f = expect(&repo, &[("GS011", "models/link.yaml", 1, 1)]);
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["help"], "replace the link with the file itself");
}

#[test]
fn gs113_event_schema_string_that_is_not_json() {
    let repo = Repo::acme();
    repo.edit(
        "events/contracts/web/order-completed-web-v2.yaml",
        "schema: '{",
        "schema: '{{",
    );
    expect(
        &repo,
        &[("GS113", "events/contracts/web/order-completed-web-v2.yaml", 7, 9)],
    );
}

// ---- aliases, manifests, resolution (docs/resources.md) ----

#[test]
fn gs201_alias_defined_in_both_maps() {
    let repo = Repo::acme();
    repo.edit(
        "aliases-acme-staging.yaml",
        "  alerts: staging-slack",
        "  alerts: staging-slack\n  warehouse: staging-slack",
    );
    let f = expect(&repo, &[("GS201", "aliases-acme-staging.yaml", 9, 3)]);
    assert_eq!(f[0]["workspace"], "acme-staging");
}

#[test]
fn gs202_alias_target_not_in_manifest() {
    let repo = Repo::acme();
    repo.edit(
        "aliases-acme-production.yaml",
        "aliased-postgres: production-postgres",
        "aliased-postgres: staging-postgres",
    );
    let f = expect(&repo, &[("GS202", "aliases-acme-production.yaml", 3, 21)]);
    assert_eq!(
        f[0]["help"],
        "`staging-postgres` is a source of workspace `acme-staging`, not of `acme-production`; point the alias at one of: `production-postgres`, `production-snowflake`"
    );
}

#[test]
fn gs203_manifest_without_read_only_header_and_gs204_aliases_without_manifest() {
    let repo = Repo::acme();
    repo.edit(
        "manifest-acme-staging.yaml",
        "# READ ONLY: generated by gitsync from the workspace. Edits here are ignored and overwritten.\n",
        "",
    );
    repo.write("aliases-acme-dev.yaml", "sources: {}\n");
    let f = expect(
        &repo,
        &[
            ("GS204", "aliases-acme-dev.yaml", 1, 1),
            ("GS203", "manifest-acme-staging.yaml", 1, 1),
        ],
    );
    assert_eq!(f[1]["severity"], "warning");
}

#[test]
fn gs301_source_that_exists_only_in_another_workspace() {
    let repo = Repo::acme();
    repo.edit(
        "models/stocking-list.yaml",
        "source: aliased-postgres",
        "source: staging-postgres",
    );
    let f = expect(&repo, &[("GS301", "models/stocking-list.yaml", 2, 9)]);
    assert_eq!(f[0]["workspace"], "acme-production");
    assert_eq!(
        f[0]["message"],
        "source `staging-postgres` does not exist in workspace `acme-production`"
    );
    assert_eq!(
        f[0]["help"],
        "`staging-postgres` exists in `acme-staging` only; use an alias present in every workspace's alias file (add `staging-postgres: <source id>` under `sources:` in aliases-acme-production.yaml)"
    );
}

#[test]
fn gs301_alias_case_mismatch_is_reported_per_workspace() {
    let repo = Repo::acme();
    repo.edit(
        "models/stocking-list.yaml",
        "source: aliased-postgres",
        "source: Aliased-Postgres",
    );
    let f = expect(
        &repo,
        &[
            ("GS301", "models/stocking-list.yaml", 2, 9),
            ("GS301", "models/stocking-list.yaml", 2, 9),
        ],
    );
    let ws: Vec<&str> = f.iter().map(|f| f["workspace"].as_str().unwrap()).collect();
    assert_eq!(ws, ["acme-production", "acme-staging"]);
    assert_eq!(
        f[0]["help"],
        "did you mean `aliased-postgres`? (names are case-sensitive)"
    );
}

#[test]
fn gs302_destination_that_does_not_resolve() {
    let repo = Repo::acme();
    repo.edit(
        "syncs/customers-to-braze.yaml",
        "destination: engagement",
        "destination: braze",
    );
    let f = expect(
        &repo,
        &[
            ("GS302", "syncs/customers-to-braze.yaml", 2, 14),
            ("GS302", "syncs/customers-to-braze.yaml", 2, 14),
        ],
    );
    assert!(
        f[0]["help"].as_str().unwrap().contains("production-salesforce"),
        "{}",
        f[0]["help"]
    );
}

// ---- references between resources (docs/resources.md) ----

#[test]
fn gs401_sync_model_is_case_sensitive() {
    let repo = Repo::acme();
    repo.edit(
        "syncs/stocking-list-to-salesforce.yaml",
        "model: stocking-list",
        "model: Stocking-List",
    );
    let f = expect(&repo, &[("GS401", "syncs/stocking-list-to-salesforce.yaml", 1, 8)]);
    assert_eq!(f[0]["help"], "did you mean `stocking-list`? (slugs are case-sensitive)");
}

#[test]
fn gs401_sync_names_a_model_by_its_name() {
    let repo = Repo::acme();
    repo.edit(
        "syncs/churn-risk-to-salesforce.yaml",
        "model: churn-risk",
        "model: Churn risk",
    );
    let f = expect(&repo, &[("GS401", "syncs/churn-risk-to-salesforce.yaml", 1, 8)]);
    assert_eq!(
        f[0]["help"],
        "`Churn risk` is the name of model `churn-risk`; a sync names its model by slug: `model: churn-risk`"
    );
}

#[test]
fn gs402_relationship_to_a_missing_schema_model() {
    let repo = Repo::acme();
    repo.remove("schema/event-models/page-views.yaml");
    expect(
        &repo,
        &[("GS402", "schema/model-relationships/users-page-views.yaml", 7, 9)],
    );
}

#[test]
fn gs403_through_relationship_names_a_missing_relationship() {
    let repo = Repo::acme();
    repo.edit(
        "schema/model-relationships/users-products.yaml",
        "  - purchases-products",
        "  - purchase-products",
    );
    let f = expect(
        &repo,
        &[("GS403", "schema/model-relationships/users-products.yaml", 9, 5)],
    );
    assert_eq!(
        f[0]["help"],
        "did you mean `purchases-products`? (slugs are case-sensitive)"
    );
}

#[test]
fn gs404_through_chain_that_does_not_connect() {
    let repo = Repo::acme();
    repo.edit(
        "schema/model-relationships/users-products.yaml",
        "  - users-purchases\n  - purchases-products",
        "  - purchases-products\n  - users-purchases",
    );
    expect(
        &repo,
        &[("GS404", "schema/model-relationships/users-products.yaml", 8, 5)],
    );
}

#[test]
fn gs405_through_chain_that_uses_itself() {
    let repo = Repo::acme();
    repo.edit(
        "schema/model-relationships/users-products.yaml",
        "  - purchases-products",
        "  - purchases-products\n  - users-products",
    );
    expect(
        &repo,
        &[("GS405", "schema/model-relationships/users-products.yaml", 10, 5)],
    );
}

#[test]
fn gs406_two_schema_models_share_a_slug() {
    let repo = Repo::acme();
    let text = std::fs::read_to_string(repo.dir.join("schema/related-models/purchases.yaml")).unwrap();
    repo.write("schema/parent-models/purchases.yaml", text);
    expect(&repo, &[("GS406", "schema/related-models/purchases.yaml", 1, 1)]);
}

// ---- event contracts (docs/resources.md) ----

#[test]
fn gs501_event_without_contract_file() {
    let repo = Repo::acme();
    repo.remove("events/contracts/mobile.yaml");
    expect(
        &repo,
        &[
            ("GS501", "events/contracts/mobile/app-opened-mobile-default.yaml", 1, 1),
            ("GS501", "events/contracts/mobile/screen-mobile-default.yaml", 1, 1),
        ],
    );
}

#[test]
fn gs502_duplicate_event_version() {
    let repo = Repo::acme();
    repo.edit(
        "events/contracts/web/order-completed-web-v2.yaml",
        "version: v2",
        "version: default",
    );
    expect(
        &repo,
        &[
            ("GS504", "events/contracts/web/order-completed-web-v2.yaml", 1, 1),
            ("GS502", "events/contracts/web/order-completed-web-v2.yaml", 2, 7),
        ],
    );
}

#[test]
fn gs503_event_schema_that_is_not_draft_7() {
    let repo = Repo::acme();
    repo.edit(
        "events/contracts/web/order-completed-web-default.yaml",
        "type: number",
        "type: money",
    );
    repo.edit(
        "events/contracts/web/page-web-default.yaml",
        "path: {type: string}",
        "path: {type: string, pattern: \"([a-z\"}",
    );
    let f = expect(
        &repo,
        &[
            ("GS503", "events/contracts/web/order-completed-web-default.yaml", 16, 17),
            ("GS503", "events/contracts/web/page-web-default.yaml", 8, 39),
        ],
    );
    // The span above points at the bad value; the message says what is wrong and quotes it.
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid JSON Schema") && message.contains("\"money\""),
        "{message}"
    );
}

#[test]
fn gs505_contract_file_name_and_gs506_name_rules() {
    let repo = Repo::acme();
    repo.edit("events/contracts/mobile.yaml", "name: mobile", "name: Mobile Apps");
    repo.edit(
        "events/contracts/web/identify-web-default.yaml",
        "type: identify",
        "type: identify\nname: Signed Up",
    );
    repo.edit(
        "events/contracts/mobile/app-opened-mobile-default.yaml",
        "name: App Opened\n",
        "",
    );
    expect(
        &repo,
        &[
            ("GS505", "events/contracts/mobile.yaml", 1, 7),
            ("GS506", "events/contracts/mobile/app-opened-mobile-default.yaml", 1, 7),
            ("GS504", "events/contracts/web/identify-web-default.yaml", 1, 1),
            ("GS506", "events/contracts/web/identify-web-default.yaml", 2, 7),
        ],
    );
}

// ---- hostile and broken input ----

#[test]
fn hostile_input_gets_diagnostics_not_crashes() {
    let repo = Repo::acme();
    repo.write("models/latin1.yaml", b"name: caf\xe9\nsource: warehouse\n");
    repo.write("models/syntax.yaml", "name: [unclosed\nsource: x\n");
    repo.write("models/empty.yaml", "");
    repo.write("models/dupes.yaml", "name: a\nname: b\n");
    repo.write("models/two-docs.yaml", "name: a\n---\nname: b\n");
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    repo.write("models/bomb.yaml", bomb);
    repo.write(
        "models/deep.yaml",
        format!("name: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    );
    let deep_block: String = (0..1000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    repo.write("models/deep-block.yaml", deep_block);
    let big = "# padding\n".repeat(5 * 1024 * 1024);
    repo.write("models/big.yaml", &big);
    let started = std::time::Instant::now();
    let f = expect(
        &repo,
        &[
            ("GS003", "models/big.yaml", 1, 1),
            ("GS006", "models/bomb.yaml", 6, 10),
            ("GS005", "models/deep-block.yaml", 129, 129),
            ("GS005", "models/deep.yaml", 1, 262),
            ("GS007", "models/dupes.yaml", 2, 1),
            ("GS004", "models/empty.yaml", 1, 1),
            ("GS001", "models/latin1.yaml", 1, 10),
            ("GS002", "models/syntax.yaml", 2, 7),
            ("GS008", "models/two-docs.yaml", 2, 1),
        ],
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "hostile input took {:?}",
        started.elapsed()
    );
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("file is 50.0 MiB, over the 8.0 MiB limit"),
        "{}",
        f[0]["message"]
    );
}

#[test]
fn a_component_past_its_memory_limit_is_named_in_a_diagnostic() {
    let repo = Repo::acme();
    let big: String = (0..120_000).map(|i| format!("k{i}: value number {i}\n")).collect();
    repo.write("models/huge.yaml", big);
    let (code, f) = repo.findings(&["--policy-memory", "8"]);
    assert_eq!(code, 1);
    let got = brief(&f);
    assert_eq!(got.len(), 1, "{f:#?}");
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("GS009", "models/huge.yaml"));
    assert_eq!(
        f[0]["message"],
        "policy `schema` failed: exceeded its memory limit of 8 MiB"
    );
}

#[test]
fn a_component_past_its_time_limit_is_named_in_a_diagnostic() {
    let repo = Repo::acme();
    let big: String = (0..200_000).map(|i| format!("k{i}: value number {i}\n")).collect();
    repo.write("models/slow.yaml", big);
    let (code, f) = repo.findings(&["--policy-timeout", "20ms"]);
    assert_eq!(code, 1);
    let slow: Vec<&Value> = f.iter().filter(|f| f["path"] == "models/slow.yaml").collect();
    assert_eq!(slow.len(), 1, "{f:#?}");
    assert_eq!(slow[0]["code"], "GS009");
    assert_eq!(
        slow[0]["message"],
        "policy `schema` failed: ran past its time limit of 20ms"
    );
}

// ---- revisions, paths, usage errors ----

#[test]
fn validate_reads_a_revision_without_checking_it_out() {
    let repo = Repo::acme();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "acme"]);
    repo.edit("syncs/customers-to-braze.yaml", "model: customers", "model: Customers");
    let (code, head) = repo.findings(&["--rev", "HEAD"]);
    assert_eq!((code, head.len()), (0, 0));
    let (code, tree) = repo.findings(&[]);
    assert_eq!((code, brief(&tree)[0].0.as_str()), (1, "GS401"));
    repo.git(&["commit", "-q", "-am", "break it"]);
    let (code, head) = repo.findings(&["--rev", "HEAD"]);
    assert_eq!((code, brief(&head)[0].1.as_str()), (1, "syncs/customers-to-braze.yaml"));
    let (code, previous) = repo.findings(&["--rev", "HEAD~1"]);
    assert_eq!((code, previous.len()), (0, 0));
    let r = repo.run(&["validate", ".", "--rev", "no-such-branch"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("revision `no-such-branch` does not exist"),
        "{}",
        r.stderr
    );
}

#[test]
fn path_option_reads_resources_from_a_sub_folder() {
    let repo = Repo::empty();
    let acme = root().join("examples/acme");
    for entry in std::fs::read_dir(&acme).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &repo.dir.join("hightouch").join(&name));
        } else {
            std::fs::copy(entry.path(), repo.dir.join(&name)).unwrap();
        }
    }
    repo.edit(
        "hightouch/syncs/customers-to-braze.yaml",
        "model: customers",
        "model: nope",
    );
    let (_, f) = repo.findings(&["--path", "hightouch"]);
    assert_eq!(brief(&f)[0].1, "hightouch/syncs/customers-to-braze.yaml");
    let (_, f) = repo.findings(&[]);
    assert_eq!(f.len(), 0, "without --path the sub-folder is not the layout: {f:#?}");
    let r = repo.run(&["validate", ".", "--path", "../outside"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("must be a folder inside the repository"),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_errors_exit_2_with_a_next_step() {
    let r = run_in(&root(), &["validate", "does/not/exist"], &shared_cache());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a folder"), "{}", r.stderr);
    let r = run_in(&root(), &["validate", "--format", "xml"], &shared_cache());
    assert_eq!(r.code, 2);
    let r = run_in(&root(), &["validate", "--help"], &shared_cache());
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("gitsync validate examples/acme"), "{}", r.stdout);
    let r = run_in(
        &root(),
        &["validate", ".", "--policies", "/nonexistent"],
        &shared_cache(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("built-in policy `schema` not found"), "{}", r.stderr);
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let cache = scratch("cache");
    let first = run_in(&root(), &["validate", "examples/acme"], &cache);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut entries: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    // One compiled file per component that ran.
    assert!(!entries.is_empty(), "nothing was cached");
    assert!(entries.iter().all(|p| p.extension().unwrap() == "cwasm"), "{entries:?}");
    let stamps: Vec<_> = entries
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    let second = run_in(&root(), &["validate", "examples/acme"], &cache);
    assert_eq!(second.code, 0);
    let again: Vec<_> = entries
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(stamps, again, "a warm run must not recompile");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        entries.len(),
        "a warm run adds nothing to the cache"
    );
}

// ---- output formats (snapshots) ----

fn small_broken_repo() -> Repo {
    let repo = Repo::acme();
    repo.edit("models/churn-risk.yaml", "source:", "Source:");
    repo.edit("syncs/customers-to-braze.yaml", "model: customers", "model: Customers");
    repo.edit(
        "manifest-acme-staging.yaml",
        "# READ ONLY: generated by gitsync from the workspace. Edits here are ignored and overwritten.\n",
        "",
    );
    repo
}

#[test]
fn human_output_snapshot() {
    let repo = small_broken_repo();
    let r = repo.run(&["validate", "."]);
    assert_eq!(r.code, 1);
    let text = r.stdout.rsplit_once(" in ").unwrap().0;
    // Every YAML file of the repository is checked.
    let checked = yaml_files(&repo.dir);
    assert_eq!(
        text,
        format!(
            "warning[GS203]: manifest lacks its READ ONLY header
 --> manifest-acme-staging.yaml:1:1
  |
1 | sources:
  | ^ gitsync rewrites this file from the workspace
  |
  = workspace: acme-staging
  = help: add `# READ ONLY: generated from the workspace; edits are overwritten` as the first line

error[GS101]: unknown field `Source`
 --> models/churn-risk.yaml:2:1
  |
2 | Source: warehouse
  | ^^^^^^ field names are case-sensitive
  |
  = help: did you mean `source`?

error[GS401]: model `Customers` does not exist
 --> syncs/customers-to-braze.yaml:1:8
  |
1 | model: Customers
  |        ^^^^^^^^^ no model file has this slug
  |
  = help: `Customers` is the name of model `customers`; a sync names its model by slug: `model: customers`

2 errors, 1 warning in 3 files ({checked} files checked, 2 workspaces)"
        )
    );
}

#[test]
fn json_output_snapshot() {
    let r = small_broken_repo().run(&["validate", ".", "--format", "json"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v[1],
        serde_json::json!({
            "code": "GS101",
            "severity": "error",
            "message": "unknown field `Source`",
            "path": "models/churn-risk.yaml",
            "line": 2,
            "column": 1,
            "end_line": 2,
            "end_column": 7,
            "label": "field names are case-sensitive",
            "help": "did you mean `source`?",
            "workspace": null,
            "plugin": null
        })
    );
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["workspace"], "acme-staging");
}

#[test]
fn github_output_snapshot() {
    let repo = small_broken_repo();
    let r = repo.run(&["validate", ".", "--format", "github"]);
    assert_eq!(r.code, 1);
    let checked = yaml_files(&repo.dir);
    assert_eq!(
        r.stdout,
        format!("::warning file=manifest-acme-staging.yaml,line=1,col=1,endLine=1,title=GS203 manifest lacks its READ ONLY header::manifest lacks its READ ONLY header [workspace acme-staging]%0Ahelp: add `# READ ONLY: generated from the workspace; edits are overwritten` as the first line
::error file=models/churn-risk.yaml,line=2,col=1,endLine=2,endColumn=7,title=GS101 unknown field::unknown field `Source`%0Ahelp: did you mean `source`?
::error file=syncs/customers-to-braze.yaml,line=1,col=8,endLine=1,endColumn=17,title=GS401 sync uses a model that does not exist::model `Customers` does not exist%0Ahelp: `Customers` is the name of model `customers`; a sync names its model by slug: `model: customers`
gitsync: 2 errors, 1 warning ({checked} files checked, 2 workspaces)
"
        )
    );
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let r = small_broken_repo().run(&["validate", ".", "--format", "sarif"]);
    assert_eq!(r.code, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let errors = sarif_validator_errors(&r.stdout);
    assert!(errors.is_empty(), "{errors:#?}");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["ruleId"], "GS101");
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 7})
    );
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "models/churn-risk.yaml"
    );
    let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules[results[1]["ruleIndex"].as_u64().unwrap() as usize]["id"], "GS101");
}

/// The validator the output test relies on tells a broken log from a good one (line 0 is what a
/// careless reporter writes; GitHub's code scanning refuses it).
#[test]
fn the_sarif_validator_flags_a_line_zero_region() {
    let r = small_broken_repo().run(&["validate", ".", "--format", "sarif"]);
    let broken = r.stdout.replacen("\"startLine\": 2", "\"startLine\": 0", 1);
    assert_ne!(broken, r.stdout);
    let errors = sarif_validator_errors(&broken);
    assert!(errors.iter().any(|e| e.starts_with("JSON1008")), "{errors:#?}");
}

#[test]
fn docs_table_lists_every_code_with_examples() {
    let doc = std::fs::read_to_string(root().join("docs/diagnostics.md")).unwrap();
    for code in gitsync_core::diag::ALL_CODES {
        let heading = format!("## {}", code.id);
        let section = doc
            .split(&heading)
            .nth(1)
            .unwrap_or_else(|| panic!("docs/diagnostics.md lacks `{heading}`"));
        let section = section.split("\n## ").next().unwrap();
        assert!(
            section.contains("Bad:") && section.contains("Good:"),
            "{} needs a bad and a good example",
            code.id
        );
        assert!(
            doc.contains(&format!("| [{}](#", code.id)),
            "{} is missing from the table",
            code.id
        );
    }
}

/// The binary carries its built-in components: copied alone to another folder (no source tree, no
/// `policies/` beside it, no `--policies`), it validates a repository exactly as the built one does.
#[test]
fn a_binary_copied_alone_validates_like_the_built_one() {
    let bytes = std::fs::read(bin()).unwrap();
    // No path into the build tree is compiled in, so no fallback to it can be hit.
    let build_tree = env!("GITSYNC_BUILTIN_POLICIES").as_bytes();
    assert!(
        !bytes.windows(build_tree.len()).any(|w| w == build_tree),
        "the binary names the build tree's policies folder"
    );
    let elsewhere = scratch("copied-binary");
    let copied = elsewhere.join("gitsync");
    std::fs::write(&copied, &bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copied, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let repo = elsewhere.join("acme");
    copy_tree(&root().join("examples/acme"), &repo);
    repo_with_one_error(&repo);
    let run = |exe: &Path, cache: &Path| {
        let out = std::process::Command::new(exe)
            .args(["validate", "acme", "--format", "json"])
            .current_dir(&elsewhere)
            .env_remove("GITSYNC_POLICIES")
            .env("GITSYNC_CACHE_DIR", cache)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let fresh_cache = elsewhere.join("cache");
    let (code, copied_out) = run(&copied, &fresh_cache);
    let (built_code, built_out) = run(Path::new(bin()), &shared_cache());
    assert_eq!(code, Some(1));
    assert_eq!((code, &copied_out), (built_code, &built_out));
    assert!(copied_out.contains("\"GS101\""), "{copied_out}");
    // Compiled once into the cache, then loaded from it.
    assert_eq!(std::fs::read_dir(&fresh_cache).unwrap().count(), 4);
}

fn repo_with_one_error(repo: &Path) {
    let model = repo.join("models/churn-risk.yaml");
    let text = std::fs::read_to_string(&model)
        .unwrap()
        .replacen("source:", "Source:", 1);
    std::fs::write(model, text).unwrap();
}

/// Every code of the registry can be followed in one hop each: to the function that emits it (a
/// `///` line naming it), to a test that names it, and to its section in docs/diagnostics.md, whose
/// table row carries the registered severity and title.
#[test]
fn every_code_has_an_emitter_a_test_and_a_doc_entry() {
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut sources = Vec::new();
    for dir in ["guest/core/src", "host/src", "host/engine/src"] {
        rust_files(&root().join(dir), &mut sources);
    }
    let sources: Vec<String> = sources.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let mut test_files = Vec::new();
    rust_files(&root().join("tests"), &mut test_files);
    let tests: Vec<String> = test_files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let doc = std::fs::read_to_string(root().join("docs/diagnostics.md")).unwrap();
    let mut missing = Vec::new();
    for code in gitsync_core::diag::ALL_CODES {
        let id = code.id;
        let named = |line: &str| line.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == id);
        if !sources
            .iter()
            .any(|s| s.lines().any(|l| l.trim_start().starts_with("///") && named(l)))
        {
            missing.push(format!("{id}: no `/// {id}` line at the function that emits it"));
        }
        if !tests.iter().any(|t| t.contains(&format!("\"{id}\""))) {
            missing.push(format!("{id}: no test in tests/ names \"{id}\""));
        }
        let row = format!(
            "| [{id}](#{}) | {} | {} |",
            id.to_lowercase(),
            code.severity.as_str(),
            code.title
        );
        if !doc.contains(&row) {
            missing.push(format!("{id}: docs/diagnostics.md lacks the table row `{row}`"));
        }
        if !doc.contains(&format!("\n## {id}\n")) {
            missing.push(format!("{id}: docs/diagnostics.md lacks a `## {id}` section"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
