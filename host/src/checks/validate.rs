//! `validate` and `check`: read the files, hand them to the components stage by stage, collect the
//! findings. The stages: read (working tree or revision) → parse (schema, on several threads) →
//! resolve, references and contracts side by side (aliases, deps, contracts) → plugins → sorted.

use super::repo::{self, Listing};
use anyhow::Result;
use gitsync_core::compare::AffectedSync;
use gitsync_core::diag::{Diagnostic, codes, has_errors, normalize};
use gitsync_engine::plugins::PluginSet;
use gitsync_engine::wit::{ParsedFile, Resolution, Resource, ResourceBody, SourceFile};
use gitsync_engine::{BuiltinPolicies, PolicyFailure, Runtime};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone)]
pub struct ValidateOptions {
    pub dir: PathBuf,
    pub rev: Option<String>,
    pub base: String,
    pub max_file_size: u64,
    /// Parse on this many threads (each with its own store).
    pub threads: usize,
}

pub struct Validation {
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, for snippets in the human report.
    pub sources: HashMap<String, Vec<u8>>,
    /// Files that are part of the Git Sync layout.
    pub files_checked: usize,
    pub workspaces: Vec<String>,
    pub elapsed: std::time::Duration,
    /// What the plugins printed (stdout and stderr), for `--plugin-log`.
    pub plugin_logs: Vec<gitsync_engine::plugins::PluginLog>,
}

impl Validation {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }
}

pub fn read(opts: &ValidateOptions) -> Result<Listing> {
    match &opts.rev {
        Some(rev) => repo::read_revision(&opts.dir, rev, &opts.base, opts.max_file_size),
        None => repo::read_worktree(&opts.dir, &opts.base, opts.max_file_size),
    }
}

/// Parse files on `threads` threads. A batch whose call fails is retried file by file, so the
/// failure is pinned on the file that caused it and the other files still get checked.
fn parse_all(
    policies: &BuiltinPolicies,
    base: &str,
    files: &[SourceFile],
    threads: usize,
    spans: bool,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Resource>, usize) {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|batch| s.spawn(move || (batch, policies.parse(base, batch, spans))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parse thread panicked"))
            .collect()
    });
    let mut resources = Vec::new();
    let mut in_layout = 0;
    let mut take = |parsed: Vec<ParsedFile>, diags: &mut Vec<Diagnostic>| {
        for p in parsed {
            if p.resource.is_some() || !p.diagnostics.is_empty() {
                in_layout += 1;
            }
            diags.extend(p.diagnostics);
            resources.extend(p.resource);
        }
    };
    for (batch, result) in results {
        match result {
            Ok(parsed) => take(parsed, diags),
            Err(batch_failure) => {
                let mut failed_in_a_row = 0;
                for file in batch {
                    match policies.parse(base, std::slice::from_ref(file), spans) {
                        Ok(parsed) => {
                            failed_in_a_row = 0;
                            take(parsed, diags);
                        }
                        Err(f) => {
                            diags.push(f.diagnostic(&file.path));
                            failed_in_a_row += 1;
                            // Every file failing means the component itself cannot run: say it once.
                            if failed_in_a_row == 3 {
                                diags.truncate(diags.len() - 3);
                                diags.push(batch_failure.diagnostic("."));
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    (resources, in_layout)
}

/// A revision (or the working tree) read and parsed.
struct Parsed {
    resources: Vec<Resource>,
    diagnostics: Vec<Diagnostic>,
    sources: HashMap<String, Vec<u8>>,
    files_checked: usize,
}

/// `spans`: give every resource the places of all its values, for plugins.
fn read_and_parse(policies: &BuiltinPolicies, opts: &ValidateOptions, spans: bool) -> Result<Parsed> {
    let listing = read(opts)?;
    let skipped = listing.skipped.len();
    let mut diagnostics = listing.skipped;
    let files: Vec<SourceFile> = listing
        .files
        .into_iter()
        .map(|f| SourceFile {
            path: f.path,
            contents: f.contents,
        })
        .collect();
    let (resources, in_layout) = parse_all(policies, &opts.base, &files, opts.threads, spans, &mut diagnostics);
    let sources = files.into_iter().map(|f| (f.path, f.contents)).collect();
    Ok(Parsed {
        resources,
        diagnostics,
        sources,
        files_checked: in_layout + skipped,
    })
}

fn workspaces(resources: &[Resource]) -> Vec<String> {
    resources
        .iter()
        .filter_map(|r| match &r.body {
            ResourceBody::Manifest(m) => Some(m.workspace.clone()),
            _ => None,
        })
        .collect()
}

fn collect(result: Result<Vec<Diagnostic>, PolicyFailure>, diags: &mut Vec<Diagnostic>) {
    match result {
        Ok(found) => diags.extend(found),
        Err(f) => diags.push(f.diagnostic(".")),
    }
}

/// Run the alias, reference and contract checks on parsed resources, side by side; returns each
/// workspace's resolved references (what plugins get).
fn check_resources(policies: &BuiltinPolicies, resources: &[Resource], diags: &mut Vec<Diagnostic>) -> Vec<Resolution> {
    let (resolved, deps, contracts) = std::thread::scope(|s| {
        let a = s.spawn(|| policies.resolve(resources));
        let d = s.spawn(|| policies.check_deps(resources));
        let c = policies.check_contracts(resources);
        (
            a.join().expect("aliases thread panicked"),
            d.join().expect("deps thread panicked"),
            c,
        )
    });
    let mut workspaces = Vec::new();
    let manifests = self::workspaces(resources);
    collect(
        resolved.map(|rs| {
            rs.into_iter()
                .flat_map(|mut r| {
                    let found = std::mem::take(&mut r.diagnostics);
                    if manifests.contains(&r.workspace) {
                        workspaces.push(r);
                    }
                    found
                })
                .collect()
        }),
        diags,
    );
    collect(deps, diags);
    collect(contracts, diags);
    workspaces
}

/// Plugins and config for a run.
pub struct Extensions<'a> {
    pub rt: &'a Runtime,
    pub plugins: &'a PluginSet,
}

/// Whether any plugin will run: only then are all spans worth parsing.
fn has_plugins(ext: Option<&Extensions>) -> bool {
    ext.is_some_and(|e| !e.plugins.plugins.is_empty())
}

/// Run the plugins, add the config's findings, apply per-code settings.
fn extend(
    ext: Option<&Extensions>,
    resources: &[Resource],
    workspaces: &[Resolution],
    changed: &[String],
    files: &HashMap<String, Vec<u8>>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<gitsync_engine::plugins::PluginLog> {
    let Some(ext) = ext else { return Vec::new() };
    diags.extend(ext.plugins.config_diagnostics.iter().cloned());
    let run = gitsync_engine::plugins::run(ext.rt, ext.plugins, resources, workspaces, changed, files);
    diags.extend(run.diagnostics);
    gitsync_engine::plugins::apply_code_settings(diags, &ext.plugins.codes);
    run.logs
}

/// What plugins are given for a repository: its resources, how each workspace resolves their
/// references, and its files (for checking where findings point).
pub struct PluginInputs {
    pub resources: Vec<Resource>,
    pub resolutions: Vec<Resolution>,
    pub files: HashMap<String, Vec<u8>>,
}

pub fn plugin_inputs(policies: &BuiltinPolicies, opts: &ValidateOptions) -> Result<PluginInputs> {
    let Parsed {
        resources,
        mut diagnostics,
        sources,
        ..
    } = read_and_parse(policies, opts, true)?;
    let resolutions = check_resources(policies, &resources, &mut diagnostics);
    Ok(PluginInputs {
        resources,
        resolutions,
        files: sources,
    })
}

/// The parsed resources of a revision (or the working tree), findings aside.
pub fn resources(policies: &BuiltinPolicies, opts: &ValidateOptions) -> Result<Vec<Resource>> {
    Ok(read_and_parse(policies, opts, false)?.resources)
}

pub fn validate(policies: &BuiltinPolicies, opts: &ValidateOptions, ext: Option<&Extensions>) -> Result<Validation> {
    validate_with_changes(policies, opts, ext, &[])
}

/// `validate`, telling plugins which files changed (as `check` does): what `policy test` runs for a
/// fixture that lists changed files.
pub fn validate_with_changes(
    policies: &BuiltinPolicies,
    opts: &ValidateOptions,
    ext: Option<&Extensions>,
    changed: &[String],
) -> Result<Validation> {
    let started = Instant::now();
    let Parsed {
        resources,
        mut diagnostics,
        sources,
        files_checked,
    } = read_and_parse(policies, opts, has_plugins(ext))?;
    let resolved = check_resources(policies, &resources, &mut diagnostics);
    let plugin_logs = extend(ext, &resources, &resolved, changed, &sources, &mut diagnostics);
    normalize(&mut diagnostics);
    Ok(Validation {
        diagnostics,
        sources,
        files_checked,
        workspaces: workspaces(&resources),
        elapsed: started.elapsed(),
        plugin_logs,
    })
}

pub struct CheckOutcome {
    pub validation: Validation,
    pub affected: Vec<AffectedSync>,
}

/// GS013: the change edits `.gitsync/` (the config that decides which checks run and how severe
/// they are, or the repository's plugins). A pull request must not switch off the check that judges
/// it, so `check` runs with the base's configuration (unless told `--config-from head`), and a
/// reviewer is told what changed.
pub fn config_changes(changes: &[gitsync_engine::wit::ChangedFile], config_from_base: bool) -> Vec<Diagnostic> {
    changes
        .iter()
        .filter(|c| c.path.starts_with(".gitsync/"))
        .map(|c| {
            let d = Diagnostic::file_level(
                codes::CONFIG_CHANGED,
                &c.path,
                format!(
                    "this change edits `{}`, gitsync's own configuration: review it as you would a change to the CI",
                    c.path
                ),
            );
            if config_from_base {
                d.help("this check ran with the base's `.gitsync/`; the change takes effect once merged (`--config-from head` checks with it now)")
            } else {
                d.help("this check ran with the change's own `.gitsync/` (`--config-from head`)")
            }
        })
        .collect()
}

/// `check`: validate the head as `validate` does, and compare it with the base.
pub fn check(
    policies: &BuiltinPolicies,
    base_rev: &str,
    head: &ValidateOptions,
    ext: Option<&Extensions>,
    config_from_base: bool,
) -> Result<CheckOutcome> {
    let started = Instant::now();
    let changes = repo::changes(&head.dir, base_rev, head.rev.as_deref())?;
    let base_opts = ValidateOptions {
        rev: Some(base_rev.to_string()),
        dir: head.dir.clone(),
        base: head.base.clone(),
        ..*head
    };
    let base = read_and_parse(policies, &base_opts, false)?;
    let Parsed {
        resources,
        mut diagnostics,
        sources,
        files_checked,
    } = read_and_parse(policies, head, has_plugins(ext))?;
    let (comparison, events) = std::thread::scope(|s| {
        let c = s.spawn(|| policies.compare(&base.resources, &resources, &changes));
        let e = policies.compare_events(&base.resources, &resources);
        (c.join().expect("compare thread panicked"), e)
    });
    let resolved = check_resources(policies, &resources, &mut diagnostics);
    let changed: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    let mut breaking = Vec::new();
    let mut affected = Vec::new();
    match comparison {
        Ok(c) => {
            breaking.extend(c.diagnostics);
            affected = c.affected;
        }
        Err(f) => breaking.push(f.diagnostic(".")),
    }
    collect(events, &mut breaking);
    // A breaking-change finding says more than the head finding at the same place ("was deleted"
    // versus "does not exist"): keep the one that explains the change.
    diagnostics.retain(|d| {
        !breaking.iter().any(|b| {
            b.path == d.path && b.span.line == d.span.line && b.span.column == d.span.column && b.severity <= d.severity
        })
    });
    diagnostics.extend(breaking);
    diagnostics.extend(config_changes(&changes, config_from_base));
    let plugin_logs = extend(ext, &resources, &resolved, &changed, &sources, &mut diagnostics);
    normalize(&mut diagnostics);
    Ok(CheckOutcome {
        validation: Validation {
            diagnostics,
            sources,
            files_checked,
            workspaces: workspaces(&resources),
            elapsed: started.elapsed(),
            plugin_logs,
        },
        affected,
    })
}
