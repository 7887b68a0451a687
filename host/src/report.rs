//! Diagnostics as the host holds them, and the one place they are rendered: human, JSON, SARIF 2.1.0
//! and GitHub workflow annotations.

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding. Lines and columns are 1-based; columns count characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub label: Option<String>,
    pub help: Option<String>,
    pub workspace: Option<String>,
}

impl Diagnostic {
    /// A finding about a whole file (it points at line 1, column 1).
    pub fn file_level(code: &str, severity: Severity, path: &str, message: String, help: &str) -> Diagnostic {
        Diagnostic {
            code: code.to_string(),
            severity,
            message,
            path: path.to_string(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            label: None,
            help: Some(help.to_string()),
            workspace: None,
        }
    }

    fn sort_key(&self) -> (&str, u32, u32, &str, Option<&str>, &str) {
        (
            &self.path,
            self.line,
            self.column,
            &self.code,
            self.workspace.as_deref(),
            &self.message,
        )
    }
}

/// Sort by file and position, and drop exact repeats.
pub fn normalize(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// What a run looked at, for the summary line.
pub struct Summary {
    pub files_checked: usize,
    pub workspaces: usize,
    pub elapsed: std::time::Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
            .and_then(|t| t.lines().nth(d.line as usize - 1));
        let gutter = d.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}{} {}:{}:{}", p.wrap("34", "-->"), d.path, d.line, d.column);
        if let Some(text) = line_text.filter(|t| t.chars().count() < 500) {
            let bar = p.wrap("34", "|");
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(out, "{} {bar} {text}", p.wrap("34", &d.line.to_string()));
            let width = if d.end_line == d.line && d.end_column > d.column {
                (d.end_column - d.column) as usize
            } else if d.end_line > d.line {
                text.chars().count().saturating_sub(d.column as usize - 1).max(1)
            } else {
                1
            };
            let marks = "^".repeat(width);
            let indent: String = text
                .chars()
                .take(d.column as usize - 1)
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One JSON array; every object has `code, severity, message, path, line, column, help, workspace`.
pub fn json(diags: &[Diagnostic]) -> String {
    let mut s = serde_json::to_string_pretty(diags).expect("diagnostics serialize");
    s.push('\n');
    s
}

/// SARIF 2.1.0, with one rule per code that occurs and real regions.
pub fn sarif(diags: &[Diagnostic]) -> String {
    use serde_json::json;
    let codes: Vec<&str> = diags
        .iter()
        .map(|d| d.code.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rules: Vec<_> = codes
        .iter()
        .map(|c| {
            let info = gitsync_core::diag::code(c);
            json!({
                "id": c,
                "shortDescription": { "text": info.map_or(*c, |i| i.title) },
                "helpUri": format!("https://github.com/gitsync/gitsync/blob/main/docs/diagnostics.md#{}", c.to_lowercase()),
                "defaultConfiguration": { "level": level(info.map_or(Severity::Error, |i| match i.severity {
                    gitsync_core::diag::Severity::Error => Severity::Error,
                    gitsync_core::diag::Severity::Warning => Severity::Warning,
                    gitsync_core::diag::Severity::Note => Severity::Note,
                })) },
            })
        })
        .collect();
    let results: Vec<_> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": codes.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": d.path, "uriBaseId": "%SRCROOT%" },
                        "region": {
                            "startLine": d.line,
                            "startColumn": d.column,
                            "endLine": d.end_line.max(d.line),
                            "endColumn": if d.end_line > d.line || d.end_column > d.column { d.end_column } else { d.column + 1 },
                        }
                    }
                }],
            });
            if let Some(ws) = &d.workspace {
                result["properties"] = json!({ "workspace": ws });
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "gitsync",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/gitsync/gitsync",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serializes");
    s.push('\n');
    s
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

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
        if let Some(h) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        let mut props = format!("file={},line={},col={}", prop(&d.path), d.line, d.column);
        if d.end_line >= d.line {
            props.push_str(&format!(",endLine={}", d.end_line));
            if d.end_line == d.line && d.end_column > d.column {
                props.push_str(&format!(",endColumn={}", d.end_column));
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

/// The affected syncs of a pull request, as rendered in every format.
pub struct Affected<'a> {
    pub syncs: &'a [crate::pipeline::AffectedSync],
}

impl Affected<'_> {
    fn by_workspace(&self) -> Vec<(String, Vec<&crate::pipeline::AffectedSync>)> {
        let mut groups: Vec<(String, Vec<&crate::pipeline::AffectedSync>)> = Vec::new();
        for s in self.syncs {
            let ws = s.workspace.clone().unwrap_or_else(|| "(no workspace)".to_string());
            match groups.iter_mut().find(|(w, _)| *w == ws) {
                Some((_, list)) => list.push(s),
                None => groups.push((ws, vec![s])),
            }
        }
        groups
    }

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

/// `check --format json`: one object with the verdict, the findings and the affected syncs.
pub fn check_json(diags: &[Diagnostic], affected: &Affected) -> String {
    let doc = serde_json::json!({
        "passed": !diags.iter().any(|d| d.severity == Severity::Error),
        "diagnostics": diags,
        "affected_syncs": affected.syncs,
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("check result serializes");
    s.push('\n');
    s
}

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
                Some(base) => format!("[line {}]({base}{}#L{})", d.line, d.path, d.line),
                None => format!("line {}", d.line),
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
