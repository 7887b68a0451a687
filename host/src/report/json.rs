//! `--format json`: findings as JSON objects with flat keys, for machines.

use super::Affected;
use gitsync_core::compare::AffectedSync;
use gitsync_core::diag::Diagnostic;
use serde_json::{Value, json};

/// One finding as the JSON reports write it: `code, severity, message, path, line, column,
/// end_line, end_column, label, help, workspace, plugin` (the plugin that found it; null: gitsync).
pub fn finding(d: &Diagnostic) -> Value {
    json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "path": d.path,
        "line": d.span.line,
        "column": d.span.column,
        "end_line": d.span.end_line,
        "end_column": d.span.end_column,
        "label": d.label,
        "help": d.help,
        "workspace": d.workspace,
        "plugin": d.plugin.as_ref().map(|r| r.plugin.as_str()),
    })
}

fn affected_sync(s: &AffectedSync) -> Value {
    json!({"workspace": s.workspace, "sync": s.sync, "path": s.path, "reasons": s.reasons})
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialize");
    s.push('\n');
    s
}

/// One JSON array of findings.
pub fn json(diags: &[Diagnostic]) -> String {
    pretty(&Value::Array(diags.iter().map(finding).collect()))
}

/// `check --format json`: one object with the verdict, the findings and the affected syncs.
pub fn check_json(diags: &[Diagnostic], affected: &Affected) -> String {
    pretty(&json!({
        "passed": !gitsync_core::diag::has_errors(diags),
        "diagnostics": diags.iter().map(finding).collect::<Vec<_>>(),
        "affected_syncs": affected.syncs.iter().map(affected_sync).collect::<Vec<_>>(),
    }))
}
