//! Another host embeds the same components: Node.js loads the built-in components transpiled by jco
//! (tests/embedding/node) and must find exactly what the gitsync binary finds.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Node.js host (tests/embedding/node) with its packages installed, outside the source tree.
fn node_dir() -> PathBuf {
    let source = root().join("tests/embedding/node");
    let dir = npm_installed(&source, "embedding-node");
    std::fs::copy(source.join("validate.mjs"), dir.join("validate.mjs")).unwrap();
    dir
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (Node.js and npm are needed)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Install jco from the npm registry (pinned by package-lock.json) and transpile the components.
fn transpiled() -> PathBuf {
    let dir = node_dir();
    // Inside the package, so the transpiled modules resolve @bytecodealliance/preview2-shim.
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let builtins = PathBuf::from(env!("GITSYNC_BUILTIN_POLICIES"));
    for name in ["schema", "aliases", "deps", "contracts"] {
        sh(command(dir.join("node_modules/.bin/jco"))
            .arg("transpile")
            .arg(builtins.join(format!("{name}.wasm")))
            .arg("-o")
            .arg(out.join(name))
            .current_dir(&dir));
    }
    out
}

fn node_validate(components: &Path, repo: &Path) -> Value {
    let text = sh(command("node")
        .arg(node_dir().join("validate.mjs"))
        .arg(components)
        .arg(repo));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn node_host_finds_what_the_binary_finds() {
    let components = transpiled();
    let repo = Repo::acme();
    let (code, clean) = repo.findings(&[]);
    assert_eq!((code, clean.len()), (0, 0));
    assert_eq!(node_validate(&components, &repo.dir), Value::Array(vec![]));

    repo.edit("models/churn-risk.yaml", "source:", "Source:");
    repo.edit("syncs/customers-to-braze.yaml", "model: customers", "model: Customers");
    repo.edit(
        "models/stocking-list.yaml",
        "source: aliased-postgres",
        "source: staging-postgres",
    );
    repo.edit(
        "events/contracts/web/order-completed-web-default.yaml",
        "type: number",
        "type: money",
    );
    repo.edit(
        "aliases-acme-staging.yaml",
        "  alerts: staging-slack",
        "  alerts: staging-slack\n  warehouse: staging-slack",
    );
    let (code, binary) = repo.findings(&[]);
    assert_eq!(code, 1);
    let node = node_validate(&components, &repo.dir);
    assert_eq!(node, Value::Array(binary.clone()), "Node.js and the binary disagree");
    let codes: Vec<&str> = binary.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["GS201", "GS503", "GS101", "GS301", "GS401"]);
}
