//! The pull-request comment or job summary of `check --format markdown`.

use super::{Affected, Summary, plural};
use gitsync_core::diag::{Diagnostic, Severity};
use std::fmt::Write as _;

/// A pull-request comment or job summary: a verdict, the affected syncs per workspace, and the
/// findings grouped by file, each linking to its line when the GitHub environment names the commit.
pub fn markdown(diags: &[Diagnostic], affected: &Affected, summary: &Summary) -> String {
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.iter().filter(|d| d.severity == Severity::Warning).count();
    let mut out = String::new();
    if errors > 0 {
        let _ = writeln!(
            out,
            "### ❌ gitsync check failed: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        );
    } else if affected.syncs.is_empty() {
        let _ = writeln!(out, "### ✅ gitsync check passed: no syncs affected");
    } else {
        let n = affected.syncs.len();
        let _ = writeln!(
            out,
            "### ✅ gitsync check passed: {n} affected sync{} still valid",
            plural(n)
        );
    }
    let _ = writeln!(
        out,
        "\n{} files checked in {} workspace{}.\n",
        summary.files_checked,
        summary.workspaces,
        plural(summary.workspaces)
    );
    if !affected.syncs.is_empty() {
        let _ = writeln!(
            out,
            "#### Affected syncs\n\n| workspace | sync | why |\n| --- | --- | --- |"
        );
        for (ws, syncs) in affected.by_workspace() {
            for s in syncs {
                let _ = writeln!(out, "| {ws} | `{}` | {} |", s.sync, md(&s.reasons.join("; ")));
            }
        }
        out.push('\n');
    }
    if !diags.is_empty() {
        let _ = writeln!(out, "#### Findings\n");
        let link_base = match (
            std::env::var("GITHUB_SERVER_URL"),
            std::env::var("GITHUB_REPOSITORY"),
            std::env::var("GITHUB_SHA"),
        ) {
            (Ok(server), Ok(repo), Ok(sha)) if !server.is_empty() && !repo.is_empty() && !sha.is_empty() => {
                Some(format!("{server}/{repo}/blob/{sha}/"))
            }
            _ => None,
        };
        let mut current = "";
        for d in diags {
            if d.path != current {
                current = &d.path;
                let _ = writeln!(out, "\n**`{}`**\n", d.path);
            }
            let place = match &link_base {
                Some(base) => format!("[line {}]({base}{}#L{})", d.span.line, d.path, d.span.line),
                None => format!("line {}", d.span.line),
            };
            let ws = d
                .workspace
                .as_deref()
                .map(|w| format!(" (workspace `{w}`)"))
                .unwrap_or_default();
            let help = d.help.as_deref().map(|h| format!(" — {}", md(h))).unwrap_or_default();
            let _ = writeln!(
                out,
                "- **{} {}** {place}: {}{ws}{help}",
                d.severity.as_str(),
                d.code,
                md(&d.message)
            );
        }
    }
    out
}

/// Keep table cells and list items on one line.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
