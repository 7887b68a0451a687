//! The human report: each finding with its code, place, source line and help, then a summary line.

use super::{Summary, plural};
use gitsync_core::diag::{Diagnostic, Severity};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub fn human(diags: &[Diagnostic], sources: &HashMap<String, Vec<u8>>, summary: &Summary, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    for d in diags {
        let sev = match d.severity {
            Severity::Error => p.wrap("1;31", &format!("error[{}]", d.code)),
            Severity::Warning => p.wrap("1;33", &format!("warning[{}]", d.code)),
            Severity::Note => p.wrap("1;36", &format!("note[{}]", d.code)),
        };
        let _ = writeln!(out, "{sev}: {}", p.wrap("1", &d.message));
        let line_text = sources
            .get(&d.path)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.lines().nth(d.span.line as usize - 1));
        let gutter = d.span.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(
            out,
            "{pad}{} {}:{}:{}",
            p.wrap("34", "-->"),
            d.path,
            d.span.line,
            d.span.column
        );
        if let Some(text) = line_text.filter(|t| t.chars().count() < 500) {
            let bar = p.wrap("34", "|");
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(out, "{} {bar} {text}", p.wrap("34", &d.span.line.to_string()));
            let width = if d.span.end_line == d.span.line && d.span.end_column > d.span.column {
                (d.span.end_column - d.span.column) as usize
            } else if d.span.end_line > d.span.line {
                text.chars().count().saturating_sub(d.span.column as usize - 1).max(1)
            } else {
                1
            };
            let marks = "^".repeat(width);
            let indent: String = text
                .chars()
                .take(d.span.column as usize - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let label = d.label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let color = if d.severity == Severity::Error { "1;31" } else { "1;33" };
            let _ = writeln!(out, "{pad} {bar} {indent}{}", p.wrap(color, &format!("{marks}{label}")));
            let _ = writeln!(out, "{pad} {bar}");
        } else if let Some(label) = &d.label {
            let _ = writeln!(out, "{pad} {} {label}", p.wrap("34", "="));
        }
        if let Some(ws) = &d.workspace {
            let _ = writeln!(out, "{pad} {} workspace: {ws}", p.wrap("34", "="));
        }
        if let Some(rule) = &d.plugin {
            let _ = writeln!(out, "{pad} {} plugin: {}", p.wrap("34", "="), rule.plugin);
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} {} {}: {help}", p.wrap("34", "="), p.wrap("1", "help"));
        }
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.iter().filter(|d| d.severity == Severity::Warning).count();
    let files: BTreeSet<&str> = diags.iter().map(|d| d.path.as_str()).collect();
    let checked = format!(
        "{} file{} checked, {} workspace{}",
        summary.files_checked,
        plural(summary.files_checked),
        summary.workspaces,
        plural(summary.workspaces)
    );
    let ms = summary.elapsed.as_millis();
    let line = if errors == 0 && warnings == 0 {
        p.wrap("1;32", &format!("no problems ({checked}) in {ms} ms"))
    } else {
        let mut parts = Vec::new();
        if errors > 0 {
            parts.push(p.wrap("1;31", &format!("{errors} error{}", plural(errors))));
        }
        if warnings > 0 {
            parts.push(p.wrap("1;33", &format!("{warnings} warning{}", plural(warnings))));
        }
        format!(
            "{} in {} file{} ({checked}) in {ms} ms",
            parts.join(", "),
            files.len(),
            plural(files.len())
        )
    };
    out.push_str(&line);
    out.push('\n');
    out
}

impl super::Affected<'_> {
    /// The affected-syncs section of the human report.
    pub fn human(&self) -> String {
        if self.syncs.is_empty() {
            return "no syncs affected\n".to_string();
        }
        let mut out = String::from("affected syncs:\n");
        for (ws, syncs) in self.by_workspace() {
            let _ = writeln!(out, "  {ws}:");
            for s in syncs {
                let _ = writeln!(out, "    {} ({}): {}", s.sync, s.path, s.reasons.join("; "));
            }
        }
        out
    }
}
