//! Rendering findings at the edge, one file per output format: human text (with snippets), JSON,
//! SARIF 2.1.0, GitHub workflow annotations, and the markdown pull-request summary. Every format
//! renders gitsync-core's `Diagnostic`; nothing else in the host formats a finding.

mod github;
mod human;
mod json;
mod markdown;
mod sarif;

pub use github::github;
pub use human::human;
pub use json::{check_json, finding, json};
pub use markdown::markdown;
pub use sarif::sarif;

use gitsync_core::compare::AffectedSync;
use gitsync_core::diag::Diagnostic;
use std::collections::HashMap;

/// What a run looked at, for the summary line.
pub struct Summary {
    pub files_checked: usize,
    pub workspaces: usize,
    pub elapsed: std::time::Duration,
}

/// The formats of `validate` (and of `check`, which adds markdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

pub fn render(
    format: Format,
    diags: &[Diagnostic],
    sources: &HashMap<String, Vec<u8>>,
    summary: &Summary,
    color: bool,
) -> String {
    match format {
        Format::Human => human(diags, sources, summary, color),
        Format::Json => json(diags),
        Format::Sarif => sarif(diags),
        Format::Github => github(diags, summary),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The affected syncs of a pull request, as rendered in every format.
pub struct Affected<'a> {
    pub syncs: &'a [AffectedSync],
}

impl Affected<'_> {
    pub(super) fn by_workspace(&self) -> Vec<(String, Vec<&AffectedSync>)> {
        let mut groups: Vec<(String, Vec<&AffectedSync>)> = Vec::new();
        for s in self.syncs {
            let ws = s.workspace.clone().unwrap_or_else(|| "(no workspace)".to_string());
            match groups.iter_mut().find(|(w, _)| *w == ws) {
                Some((_, list)) => list.push(s),
                None => groups.push((ws, vec![s])),
            }
        }
        groups
    }
}
