//! Example plugin `no-raw-sql-on-pii`: no `raw_sql` model may read from a source that holds personal
//! data. Settings: `{"sources": ["<source id>", ...]}` — ids from the manifests; a model's source is
//! checked as it resolves in every workspace, so aliases cannot hide it.

// Natively (`cargo test`) nothing exports the plugin type: only the component uses it.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gitsync_sdk::core::resource::{QueryType, ResourceBody};
use gitsync_sdk::{CodeInfo, Context, Diagnostic, Guest, Metadata, Severity, diagnostic, resources, settings};

struct NoRawSqlOnPii;

fn pii_sources(settings_json: &str) -> Result<Vec<String>, String> {
    let s = settings(settings_json)?;
    let list = s
        .get("sources")
        .ok_or("set `sources`: the ids of the sources that hold personal data")?;
    let list = list.as_array().ok_or("`sources` must be a list of source ids")?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or("`sources` must hold strings".to_string())
        })
        .collect()
}

impl Guest for NoRawSqlOnPii {
    fn metadata() -> Metadata {
        Metadata {
            name: "no-raw-sql-on-pii".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "No raw_sql model reads from a source that holds personal data".into(),
            codes: vec![CodeInfo {
                code: "PII001".into(),
                severity: Severity::Error,
                summary: "raw_sql model on a PII source".into(),
            }],
            help_uri: None,
        }
    }

    fn validate_settings(settings_json: String) -> Result<(), String> {
        pii_sources(&settings_json).map(|_| ())
    }

    fn check(context: Context) -> Vec<Diagnostic> {
        let Ok(pii) = pii_sources(&context.settings_json) else {
            return vec![];
        };
        let mut out = Vec::new();
        for r in resources(&context) {
            let ResourceBody::Model(m) = &r.body else { continue };
            if m.query_type != Some(QueryType::RawSql) {
                continue;
            }
            for ws in &context.workspaces {
                let hit = ws.references.iter().find(|x| {
                    x.path == r.path && x.field == "source" && x.id.as_ref().is_some_and(|id| pii.contains(id))
                });
                if let Some(x) = hit {
                    let span = m
                        .source
                        .as_ref()
                        .map_or(gitsync_sdk::core::diag::Span::file_start(), |s| s.span);
                    let mut d = diagnostic(
                        "PII001",
                        Severity::Error,
                        &r.path,
                        span,
                        format!(
                            "raw_sql model `{}` reads from `{}`, a source with personal data",
                            r.slug,
                            x.id.as_deref().unwrap_or_default()
                        ),
                        "use a table or dbt model that exposes only the columns you need",
                    );
                    d.workspace = Some(ws.id.clone());
                    out.push(d);
                }
            }
        }
        out
    }
}

// Exported only in the component; a native build (`cargo test --workspace`) has no WIT exports.
#[cfg(target_arch = "wasm32")]
gitsync_sdk::export!(NoRawSqlOnPii);
