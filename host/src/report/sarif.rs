//! SARIF 2.1.0 for code-scanning uploads: one rule per code that occurs, real regions.

use gitsync_core::diag::{Diagnostic, Severity};
use std::collections::BTreeSet;

/// SARIF 2.1.0, with one rule per code that occurs and real regions.
pub fn sarif(diags: &[Diagnostic]) -> String {
    use serde_json::json;
    let codes: Vec<&str> = diags
        .iter()
        .map(|d| d.code.as_ref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rules: Vec<_> = codes
        .iter()
        .map(|c| {
            // A plugin's code is described by the plugin (its summary, severity and documentation
            // page, never a gitsync link); gitsync's own by the registry.
            if let Some(rule) = diags.iter().filter(|d| d.code == *c).find_map(|d| d.plugin.as_ref()) {
                let mut r = json!({
                    "id": c,
                    "shortDescription": { "text": rule.summary },
                    "defaultConfiguration": { "level": level(rule.severity) },
                    "properties": { "plugin": rule.plugin },
                });
                if let Some(uri) = &rule.help_uri {
                    r["helpUri"] = json!(uri);
                }
                return r;
            }
            let info = gitsync_core::diag::code(c);
            json!({
                "id": c,
                "shortDescription": { "text": info.map_or(*c, |i| i.title) },
                "helpUri": format!("https://github.com/gitsync/gitsync/blob/main/docs/diagnostics.md#{}", c.to_lowercase()),
                "defaultConfiguration": { "level": level(info.map_or(Severity::Error, |i| i.severity)) },
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
                "ruleIndex": codes.iter().position(|c| *c == d.code.as_ref()).unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": d.path, "uriBaseId": "%SRCROOT%" },
                        "region": {
                            "startLine": d.span.line,
                            "startColumn": d.span.column,
                            "endLine": d.span.end_line.max(d.span.line),
                            "endColumn": if d.span.end_line > d.span.line || d.span.end_column > d.span.column { d.span.end_column } else { d.span.column + 1 },
                        }
                    }
                }],
            });
            let mut properties = serde_json::Map::new();
            if let Some(ws) = &d.workspace {
                properties.insert("workspace".into(), json!(ws));
            }
            if let Some(rule) = &d.plugin {
                properties.insert("plugin".into(), json!(rule.plugin));
            }
            if !properties.is_empty() {
                result["properties"] = serde_json::Value::Object(properties);
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
