//! GitHub Actions workflow commands: each finding an annotation on its line of the pull request.

use super::{Summary, plural};
use gitsync_core::diag::{Diagnostic, Severity};
use std::fmt::Write as _;

/// GitHub Actions workflow commands: each finding becomes an annotation on its line.
pub fn github(diags: &[Diagnostic], summary: &Summary) -> String {
    let mut out = String::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut message = d.message.clone();
        if let Some(ws) = &d.workspace {
            message.push_str(&format!(" [workspace {ws}]"));
        }
        if let Some(rule) = &d.plugin {
            message.push_str(&format!(" [plugin {}]", rule.plugin));
        }
        if let Some(h) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        let mut props = format!("file={},line={},col={}", prop(&d.path), d.span.line, d.span.column);
        if d.span.end_line >= d.span.line {
            props.push_str(&format!(",endLine={}", d.span.end_line));
            if d.span.end_line == d.span.line && d.span.end_column > d.span.column {
                props.push_str(&format!(",endColumn={}", d.span.end_column));
            }
        }
        props.push_str(&format!(",title={}", prop(&format!("{} {}", d.code, title(&d.code)))));
        let _ = writeln!(out, "::{kind} {props}::{}", data(&message));
    }
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let _ = writeln!(
        out,
        "gitsync: {} error{}, {} warning{} ({} files checked, {} workspaces)",
        errors,
        plural(errors),
        diags.len() - errors,
        plural(diags.len() - errors),
        summary.files_checked,
        summary.workspaces
    );
    out
}

fn title(code: &str) -> &'static str {
    gitsync_core::diag::code(code).map_or("", |c| c.title)
}

/// Escape a workflow-command message.
fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a workflow-command property value.
fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}
