//! The contracts component against the official JSON Schema Test Suite, draft 7 (as shipped in the
//! `jsonschema` sdist on PyPI; see tests/support/fetch-testdata.sh). Every required test must pass; optional ones are
//! counted and each failing case must be listed, with its reason, in docs/json-schema-conformance.md.

mod common;

use gitsync_engine::{BuiltinPolicies, Limits, Runtime};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn suite() -> PathBuf {
    common::testdata("json-schema-test-suite")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The suite's remotes, served as `http://localhost:1234/<path>`.
fn remotes() -> Vec<(String, String)> {
    let base = suite().join("remotes");
    json_files(&base)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&base).unwrap().to_string_lossy().replace('\\', "/");
            (
                format!("http://localhost:1234/{rel}"),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// Run every case of `files`; returns (passed, failed cases as "file: group / test").
fn run(policies: &BuiltinPolicies, files: &[PathBuf], remotes: &[(String, String)]) -> (usize, Vec<String>) {
    let root = suite().join("tests/draft7");
    let (mut passed, mut failed) = (0, Vec::new());
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let groups: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for group in groups {
            let tests = group["tests"].as_array().unwrap();
            let instances: Vec<String> = tests.iter().map(|t| t["data"].to_string()).collect();
            let result = policies
                .check_instances(&group["schema"].to_string(), &instances, remotes)
                .expect("the contracts component must not fail");
            for (i, t) in tests.iter().enumerate() {
                let ok = match &result {
                    Ok(valid) => valid[i] == t["valid"].as_bool().unwrap(),
                    Err(_) => false,
                };
                if ok {
                    passed += 1;
                } else {
                    failed.push(format!(
                        "{rel}: {} / {}",
                        group["description"].as_str().unwrap(),
                        t["description"].as_str().unwrap()
                    ));
                }
            }
        }
    }
    (passed, failed)
}

#[test]
fn draft7_test_suite_through_the_component() {
    let cache = common::shared_cache();
    let rt = Runtime::new(Some(cache), Limits::default()).unwrap();
    let policies = BuiltinPolicies::embedded(&rt).unwrap();
    let remotes = remotes();
    let root = suite().join("tests/draft7");
    let (required, optional): (Vec<PathBuf>, Vec<PathBuf>) = json_files(&root)
        .into_iter()
        .partition(|p| !p.starts_with(root.join("optional")));

    let (passed, failed) = run(&policies, &required, &remotes);
    println!("required: {passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "required draft-7 cases fail:\n{}", failed.join("\n"));
    assert!(passed > 800, "only {passed} required cases ran");

    let (opt_passed, opt_failed) = run(&policies, &optional, &remotes);
    println!("optional: {opt_passed} passed, {} failed", opt_failed.len());
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/json-schema-conformance.md"))
        .unwrap();
    let missing: Vec<&String> = opt_failed
        .iter()
        .filter(|case| !doc.contains(&format!("`{case}`")))
        .collect();
    let stale: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("- `").and_then(|l| l.split("` — ").next()))
        .filter(|listed| !opt_failed.iter().any(|f| f == listed))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/json-schema-conformance.md is out of date.\nfailing optional cases not listed:\n{}\nlisted cases that now pass:\n{}",
        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        stale.join("\n")
    );
    assert!(
        doc.contains(&format!("{opt_passed} passed, {} failed", opt_failed.len())),
        "update the optional counts in the docs"
    );
    assert!(
        doc.contains(&format!("{passed} passed, 0 failed")),
        "update the required count in the docs"
    );
}

/// Rewrite the local `$ref`s of `schema` (a suite case's schema) for its new place at `at` inside a
/// larger schema. Values that are data, not schemas (`const`, `enum`, `default`, `examples`), stay.
fn moved(schema: &Value, at: &str) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => Value::String(format!("#{at}{}", &r[1..])),
                        ("const" | "enum" | "default" | "examples", _) => v.clone(),
                        _ => moved(v, at),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| moved(v, at)).collect()),
        other => other.clone(),
    }
}

/// Whether a case's schema can move into another: every `$ref` local (`#…`), no `$id` of its own.
fn stands_alone(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.iter().all(|(k, v)| match (k.as_str(), v) {
            ("$id", _) => false,
            ("$ref", Value::String(r)) => r.starts_with('#'),
            ("const" | "enum" | "default" | "examples", _) => true,
            _ => stands_alone(v),
        }),
        Value::Array(items) => items.iter().all(stands_alone),
        _ => true,
    }
}

/// The same suite end to end, as a user runs it: each case group's schema becomes the schema of one
/// event of a contract in a repository (under `properties.value` of a track event), each case an
/// event on the standard input of `gitsync events validate`, and `has_schema_violated` must be the
/// suite's answer. Every case is sent twice in a row, so the second is judged in the layout of the
/// first (the fast path for events that share a layout) and must get the same answer. Groups that
/// need the suite's remote documents or their own `$id` (a base URI of their own, which moving the
/// schema would change) run through the component's direct call above instead.
#[test]
fn draft7_test_suite_through_events_validate() {
    const AT: &str = "/properties/properties/properties/value";
    let root = suite().join("tests/draft7");
    let repo = common::scratch("suite-contract");
    let dir = repo.join("events/contracts/suite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        repo.join("events/contracts/suite.yaml"),
        "name: suite\ndescription: the JSON Schema Test Suite, draft 7\nonUndeclaredSchema: BLOCK_EVENT\n",
    )
    .unwrap();
    let (mut input, mut want, mut skipped) = (String::new(), Vec::new(), 0);
    for (g, file) in json_files(&root).iter().enumerate() {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let groups: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for (n, group) in groups.iter().enumerate() {
            if !stands_alone(&group["schema"]) {
                skipped += group["tests"].as_array().unwrap().len();
                continue;
            }
            let name = format!("case {g} {n}");
            let slug = name.replace(' ', "-");
            let schema = json!({
                "type": "object",
                "required": ["properties"],
                "properties": {"properties": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {"value": moved(&group["schema"], AT)}
                }}
            });
            std::fs::write(
                dir.join(format!("{slug}-suite-default.yaml")),
                format!(
                    "name: {name}\ntype: track\nversion: default\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: ALLOW_EVENT\nschema: {schema}\n"
                ),
            )
            .unwrap();
            for t in group["tests"].as_array().unwrap() {
                let event = json!({"type": "track", "event": name, "properties": {"value": t["data"]}});
                for _ in 0..2 {
                    input.push_str(&format!("{event}\n"));
                    want.push((
                        format!(
                            "{rel}: {} / {}",
                            group["description"].as_str().unwrap(),
                            t["description"].as_str().unwrap()
                        ),
                        !t["valid"].as_bool().unwrap(),
                    ));
                }
            }
        }
    }
    let mut child = common::gitsync()
        .args(["events", "validate"])
        .arg(&repo)
        .args(["--contract", "suite"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let verdicts: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(verdicts.len(), want.len(), "one verdict per event");
    // A case the component fails on purpose is listed in the conformance page (none today).
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/json-schema-conformance.md"))
        .unwrap();
    let mut wrong = Vec::new();
    for (i, (v, (case, violated))) in verdicts.iter().zip(&want).enumerate() {
        assert_eq!(v["has_undeclared_schema"], false, "{case}: {v}");
        if v["has_schema_violated"] != *violated && !doc.contains(&format!("`{case}`")) {
            wrong.push(format!(
                "{case} ({} copy): {v}",
                if i % 2 == 0 { "first" } else { "second" }
            ));
        }
    }
    println!(
        "end to end: {} events, {skipped} cases left to the direct call",
        want.len()
    );
    assert!(
        wrong.is_empty(),
        "events validate disagrees with the suite:\n{}",
        wrong.join("\n")
    );
    assert!(want.len() > 2 * 1200, "only {} events ran", want.len());
}
