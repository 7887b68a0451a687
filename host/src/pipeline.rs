//! `validate`: read the files, hand them to the components stage by stage, collect the findings.

use crate::policy::{BuiltinPolicies, PolicyFailure};
use crate::repo::{self, Listing};
use crate::report::{Diagnostic, Severity, normalize};
use crate::runtime::bindings::types;
use anyhow::Result;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

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
}

impl Validation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

fn from_wit(d: types::Diagnostic) -> Diagnostic {
    Diagnostic {
        code: d.code,
        severity: match d.severity {
            types::Severity::Error => Severity::Error,
            types::Severity::Warning => Severity::Warning,
            types::Severity::Note => Severity::Note,
        },
        message: d.message,
        path: d.path,
        line: d.span.line,
        column: d.span.column,
        end_line: d.span.end_line,
        end_column: d.span.end_column,
        label: d.label,
        help: d.help,
        workspace: d.workspace,
    }
}

fn failure_diagnostic(f: &PolicyFailure, path: &str) -> Diagnostic {
    let mut d = Diagnostic::file_level(
        "GS009",
        Severity::Error,
        path,
        format!("policy `{}` failed: {}", f.policy, f.reason),
        "",
    );
    d.help = Some(format!(
        "the component {} stopped; its other findings are missing. Report this with the file that caused it",
        f.component.display()
    ));
    d
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
    files: &[types::SourceFile],
    threads: usize,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<types::Resource>, usize) {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|batch| s.spawn(move || (batch, policies.parse(base, batch))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parse thread panicked"))
            .collect()
    });
    let mut resources = Vec::new();
    let mut in_layout = 0;
    let mut take = |parsed: Vec<crate::runtime::bindings::schema::exports::gitsync::policy::schema::ParsedFile>,
                    diags: &mut Vec<Diagnostic>| {
        for p in parsed {
            if p.resource.is_some() || !p.diagnostics.is_empty() {
                in_layout += 1;
            }
            diags.extend(p.diagnostics.into_iter().map(from_wit));
            resources.extend(p.resource);
        }
    };
    for (batch, result) in results {
        match result {
            Ok(parsed) => take(parsed, diags),
            Err(batch_failure) => {
                let mut failed_in_a_row = 0;
                for file in batch {
                    match policies.parse(base, std::slice::from_ref(file)) {
                        Ok(parsed) => {
                            failed_in_a_row = 0;
                            take(parsed, diags);
                        }
                        Err(f) => {
                            diags.push(failure_diagnostic(&f, &file.path));
                            failed_in_a_row += 1;
                            // Every file failing means the component itself cannot run: say it once.
                            if failed_in_a_row == 3 {
                                diags.truncate(diags.len() - 3);
                                diags.push(failure_diagnostic(&batch_failure, "."));
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

pub fn validate(policies: &BuiltinPolicies, opts: &ValidateOptions) -> Result<Validation> {
    let started = Instant::now();
    let listing = read(opts)?;
    let skipped = listing.skipped.len();
    let mut diags = listing.skipped;
    let files: Vec<types::SourceFile> = listing
        .files
        .into_iter()
        .map(|f| types::SourceFile {
            path: f.path,
            contents: f.contents,
        })
        .collect();
    let (resources, in_layout) = parse_all(policies, &opts.base, &files, opts.threads, &mut diags);
    let files_checked = in_layout + skipped;
    let workspaces: Vec<String> = resources
        .iter()
        .filter_map(|r| match &r.body {
            types::ResourceBody::Manifest(m) => Some(m.workspace.clone()),
            _ => None,
        })
        .collect();

    // The three checks are independent: run them side by side.
    let (resolved, deps, contracts) = std::thread::scope(|s| {
        let a = s.spawn(|| policies.resolve(&resources));
        let d = s.spawn(|| policies.check_deps(&resources));
        let c = policies.check_contracts(&resources);
        (
            a.join().expect("aliases thread panicked"),
            d.join().expect("deps thread panicked"),
            c,
        )
    });
    match resolved {
        Ok(resolutions) => {
            for r in resolutions {
                diags.extend(r.diagnostics.into_iter().map(from_wit));
            }
        }
        Err(f) => diags.push(failure_diagnostic(&f, ".")),
    }
    for result in [deps, contracts] {
        match result {
            Ok(found) => diags.extend(found.into_iter().map(from_wit)),
            Err(f) => diags.push(failure_diagnostic(&f, ".")),
        }
    }
    normalize(&mut diags);
    let sources = files.into_iter().map(|f| (f.path, f.contents)).collect();
    Ok(Validation {
        diagnostics: diags,
        sources,
        files_checked,
        workspaces,
        elapsed: started.elapsed(),
    })
}
