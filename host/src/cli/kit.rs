//! The plugin SDK as files: `gitsync policy sdk --out DIR` writes it, `policy new` puts a copy in each
//! new plugin, so a plugin builds on a machine without gitsync's source tree. The sources are this
//! binary's own (embedded at build time); manifests are standalone and `Cargo.lock` pins every crate to
//! the version gitsync was built and tested with.

use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");
const WORKSPACE_LOCK: &str = include_str!("../../../Cargo.lock");
/// The SDK's crates: (folder in the kit, manifest as written in this repository).
const CRATES: [(&str, &str); 3] = [
    ("guest/core", include_str!("../../../guest/core/Cargo.toml")),
    ("guest/common", include_str!("../../../guest/common/Cargo.toml")),
    ("guest/sdk", include_str!("../../../guest/sdk/Cargo.toml")),
];
/// Where the `gitsync-sdk` crate lies inside a kit.
pub const SDK_CRATE: &str = "guest/sdk";

const README: &str = "# gitsync plugin SDK

Written by `gitsync policy sdk` (or `gitsync policy new`), from the gitsync binary that will run the
plugins. A plugin depends on `guest/sdk` by path:

```toml
[dependencies]
gitsync-sdk = { path = \"sdk/guest/sdk\" }
```

- `wit/policy.wit`: the contract between gitsync and its components (the `plugin-policy` world).
- `guest/sdk`: the plugin world's bindings, the domain types and helpers (crate `gitsync-sdk`).
- `guest/core`, `guest/common`: gitsync's own parsing and domain logic, which the SDK builds on.

After upgrading gitsync, refresh this folder with `gitsync policy sdk --out <this folder>` and rebuild
the plugin. The crates' own tests live in gitsync's repository and are not copied here.
";

/// Write the SDK into `dir`: empty, missing, or a kit written before (which is refreshed).
pub fn write_sdk(dir: &Path) -> Result<()> {
    let is_kit = dir.join(SDK_CRATE).join("Cargo.toml").is_file();
    let is_empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
    if dir.exists() && !is_kit && !is_empty {
        bail!(
            "{} is not empty and holds no gitsync SDK; pick an empty or new folder",
            dir.display()
        );
    }
    let (package, deps) = workspace_tables()?;
    let mut files: Vec<(String, String)> = SDK_FILES
        .iter()
        .map(|(p, text)| (p.to_string(), text.to_string()))
        .collect();
    for (folder, manifest) in CRATES {
        files.push((
            format!("{folder}/Cargo.toml"),
            standalone_manifest(manifest, &package, &deps)?,
        ));
    }
    files.push(("README.md".into(), README.into()));
    for (path, text) in files {
        let p = dir.join(&path);
        std::fs::create_dir_all(p.parent().expect("kit files have a folder"))
            .with_context(|| format!("cannot create {}", p.display()))?;
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

type Table = BTreeMap<String, String>;

/// `[workspace.package]` and `[workspace.dependencies]`, as `key = value` text.
fn workspace_tables() -> Result<(Table, Table)> {
    let (mut package, mut deps) = (Table::new(), Table::new());
    let mut section = "";
    for line in WORKSPACE_MANIFEST.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((k, v)) = line.split_once(" = ") else { continue };
        match section {
            "[workspace.package]" => package.insert(k.to_string(), v.to_string()),
            "[workspace.dependencies]" => deps.insert(k.to_string(), v.to_string()),
            _ => None,
        };
    }
    if package.is_empty() || deps.is_empty() {
        bail!("this gitsync was built without its workspace tables; the SDK cannot be written");
    }
    Ok((package, deps))
}

/// A member's manifest with what it inherits from the workspace written out, and paths to the other
/// SDK crates made relative to its own folder.
fn standalone_manifest(text: &str, package: &Table, deps: &Table) -> Result<String> {
    let mut out = String::new();
    for line in text.lines() {
        let Some(key) = line.strip_suffix(".workspace = true") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let value = package
            .get(key)
            .or_else(|| deps.get(key))
            .with_context(|| format!("`{key}` is not in the workspace tables"))?;
        // `{ path = "guest/core" }` from the root is `../core` from a sibling crate.
        let value = value.replace("path = \"guest/", "path = \"../");
        out.push_str(&format!("{key} = {value}\n"));
    }
    Ok(out)
}

/// One `[[package]]` of a lockfile.
#[derive(Clone, Debug)]
struct Locked {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    dependencies: Vec<String>,
}

fn parse_lock(text: &str) -> Vec<Locked> {
    let mut out: Vec<Locked> = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            out.push(Locked {
                name: String::new(),
                version: String::new(),
                source: None,
                checksum: None,
                dependencies: Vec::new(),
            });
            in_deps = false;
            continue;
        }
        let Some(p) = out.last_mut() else { continue };
        if in_deps {
            if line == "]" {
                in_deps = false;
            } else {
                p.dependencies
                    .push(line.trim_end_matches(',').trim_matches('"').to_string());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(" = ") else { continue };
        let v = v.trim_matches('"').to_string();
        match k {
            "name" => p.name = v,
            "version" => p.version = v,
            "source" => p.source = Some(v),
            "checksum" => p.checksum = Some(v),
            "dependencies" => in_deps = v != "[]",
            _ => {}
        }
    }
    out
}

/// The package a lockfile's dependency entry (`name`, `name version`, `name version (source)`) names.
fn find<'a>(all: &'a [Locked], entry: &str) -> Option<&'a Locked> {
    let mut parts = entry.split(' ');
    let name = parts.next()?;
    let version = parts.next();
    all.iter()
        .find(|p| p.name == name && version.is_none_or(|v| p.version == v))
}

/// A `Cargo.lock` for a plugin crate `name` depending on `deps` (among gitsync-sdk's and gitsync's
/// locked packages): every crate at the version gitsync's own lockfile holds. Cargo drops what the
/// plugin turns out not to need on its first build and changes no version.
pub fn plugin_lockfile(name: &str, deps: &[&str]) -> Result<String> {
    let all = parse_lock(WORKSPACE_LOCK);
    let mut keep: BTreeSet<(String, String)> = BTreeSet::new();
    let mut todo: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    while let Some(entry) = todo.pop() {
        let p = find(&all, &entry).with_context(|| format!("`{entry}` is not in gitsync's Cargo.lock"))?;
        if keep.insert((p.name.clone(), p.version.clone())) {
            todo.extend(p.dependencies.iter().cloned());
        }
    }
    let mut packages: Vec<Locked> = all
        .iter()
        .filter(|p| keep.contains(&(p.name.clone(), p.version.clone())))
        .cloned()
        .collect();
    packages.push(Locked {
        name: name.to_string(),
        version: "0.1.0".into(),
        source: None,
        checksum: None,
        dependencies: deps.iter().map(|d| d.to_string()).collect(),
    });
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let versions = |n: &str| packages.iter().filter(|p| p.name == n).count();
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n",
    );
    for p in &packages {
        out.push_str(&format!(
            "\n[[package]]\nname = \"{}\"\nversion = \"{}\"\n",
            p.name, p.version
        ));
        if let Some(s) = &p.source {
            out.push_str(&format!("source = \"{s}\"\n"));
        }
        if let Some(c) = &p.checksum {
            out.push_str(&format!("checksum = \"{c}\"\n"));
        }
        if !p.dependencies.is_empty() {
            // Cargo names a dependency by name alone unless several versions of it are locked.
            let mut names: Vec<String> = p
                .dependencies
                .iter()
                .filter_map(|d| find(&packages, d))
                .map(|d| match versions(&d.name) {
                    1 => d.name.clone(),
                    _ => format!("{} {}", d.name, d.version),
                })
                .collect();
            names.sort();
            out.push_str("dependencies = [\n");
            for n in names {
                out.push_str(&format!(" \"{n}\",\n"));
            }
            out.push_str("]\n");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_inherit_nothing_and_point_at_their_siblings() {
        let (package, deps) = workspace_tables().unwrap();
        let sdk = standalone_manifest(CRATES[2].1, &package, &deps).unwrap();
        assert!(!sdk.contains("workspace"), "{sdk}");
        assert!(sdk.contains("gitsync-core = { path = \"../core\" }"), "{sdk}");
        assert!(sdk.contains("edition = \"2024\""), "{sdk}");
    }

    #[test]
    fn the_lockfile_holds_the_sdks_closure_at_gitsyncs_versions() {
        let lock = plugin_lockfile("acme-keys", &["gitsync-sdk", "serde_json"]).unwrap();
        let ours = parse_lock(WORKSPACE_LOCK);
        let theirs = parse_lock(&lock);
        assert!(theirs.iter().any(|p| p.name == "acme-keys"));
        assert!(theirs.iter().any(|p| p.name == "wit-bindgen"));
        assert!(!theirs.iter().any(|p| p.name == "wasmtime"), "host crates stay out");
        for p in theirs.iter().filter(|p| p.name != "acme-keys") {
            assert!(
                ours.iter().any(|o| o.name == p.name && o.version == p.version),
                "{} {}",
                p.name,
                p.version
            );
        }
    }
}
