//! `policy test --watch`: rebuild the plugin (cargo or npm, as its folder says) and rerun the tests
//! whenever a file changes. The folder is polled (a few hundred files, every 300 ms) rather than
//! watched through inotify: the same code then works on every platform and network file system.

use anyhow::{Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

const POLL: Duration = Duration::from_millis(300);
/// Folders whose changes are build output or tooling, never the author's edits.
const SKIPPED: [&str; 4] = ["target", "node_modules", ".git", "build"];

/// How the plugin in a folder is built.
pub struct Build {
    folder: PathBuf,
    program: &'static str,
    args: Vec<&'static str>,
}

impl Build {
    /// From the folder's `Cargo.toml` or `package.json`; `--release` when the component path is a release build.
    pub fn detect(folder: &Path, component: &Path) -> Result<Build> {
        let (program, args) = if folder.join("Cargo.toml").is_file() {
            let release = component.components().any(|c| c.as_os_str() == "release");
            let mut args = vec!["build", "--target", "wasm32-wasip2"];
            if release {
                args.push("--release");
            }
            ("cargo", args)
        } else if folder.join("package.json").is_file() {
            ("npm", vec!["run", "build"])
        } else {
            bail!(
                "--watch rebuilds the plugin from the current folder, but {} has no Cargo.toml or package.json; run it from the plugin's folder",
                folder.display()
            );
        };
        Ok(Build {
            folder: folder.to_path_buf(),
            program,
            args,
        })
    }

    pub fn describe(&self) -> String {
        format!("{} {}", self.program, self.args.join(" "))
    }

    /// Run the build; on failure, what it printed (its last 60 lines).
    fn run(&self) -> Result<(), String> {
        let out = Command::new(self.program)
            .args(&self.args)
            .current_dir(&self.folder)
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", self.describe()))?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        Err(lines[lines.len().saturating_sub(60)..].join("\n"))
    }
}

type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

fn snapshot(roots: &[PathBuf], skip: &[PathBuf]) -> Snapshot {
    let mut out = Snapshot::new();
    let mut todo: Vec<PathBuf> = roots.to_vec();
    while let Some(p) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if SKIPPED.contains(&name.as_str()) || skip.iter().any(|s| s == &p) {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&p) {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            out.insert(p, (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len()));
        }
    }
    out
}

/// Run `tests` now, then after every change: a change outside the fixtures rebuilds first. Returns
/// only on an error that a rerun cannot mend; Ctrl-C stops it.
pub fn watch(build: &Build, component: &Path, fixtures: &[PathBuf], mut tests: impl FnMut()) -> Result<i32> {
    let folder = build.folder.clone();
    // The component's own folder is output (`build/`, `target/…`): a rebuild must not trigger another.
    let skip: Vec<PathBuf> = component.parent().map(Path::to_path_buf).into_iter().collect();
    let mut roots = vec![folder.clone()];
    roots.extend(fixtures.iter().cloned());
    let mut seen = snapshot(&roots, &skip);
    let mut rebuild = !component.is_file();
    loop {
        if rebuild {
            eprintln!("[watch] building: {}", build.describe());
            match build.run() {
                Ok(()) => tests(),
                Err(text) => eprintln!("{text}\n[watch] the build failed; fix it and save"),
            }
        } else {
            tests();
        }
        eprintln!(
            "[watch] watching {} files under {}; Ctrl-C to stop",
            seen.len(),
            folder.display()
        );
        let changed = loop {
            std::thread::sleep(POLL);
            let now = snapshot(&roots, &skip);
            if now != seen {
                // Editors write in several steps: wait for the folder to settle.
                std::thread::sleep(POLL);
                let settled = snapshot(&roots, &skip);
                let changed: Vec<PathBuf> = settled
                    .iter()
                    .filter(|(p, v)| seen.get(*p) != Some(v))
                    .map(|(p, _)| p.clone())
                    .chain(seen.keys().filter(|p| !settled.contains_key(*p)).cloned())
                    .collect();
                seen = settled;
                break changed;
            }
        };
        rebuild = changed.iter().any(|p| !fixtures.iter().any(|f| p.starts_with(f)));
        let names: Vec<String> = changed.iter().take(3).map(|p| p.display().to_string()).collect();
        eprintln!(
            "[watch] changed: {}{}",
            names.join(", "),
            if changed.len() > 3 { ", …" } else { "" }
        );
    }
}
