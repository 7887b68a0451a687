//! The contracts component against the official JSON Schema Test Suite, draft 7 (as shipped in the
//! `jsonschema` sdist on PyPI; see tests/support/fetch-testdata.sh). Every required test must pass; optional ones are
//! counted and each failing case must be listed, with its reason, in docs/json-schema-conformance.md.

mod common;

use gitsync_engine::{BuiltinPolicies, Limits, Runtime};
use serde_json::Value;
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
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
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
