//! Example plugin `naming`: model and sync file names follow the team's patterns.
//!
//! Settings (all optional): `{"models": "<regex>", "syncs": "<regex>"}`; the default for syncs is
//! `^[a-z0-9-]+-to-[a-z0-9-]+$` ("<model>-to-<destination>"), models are not checked by default.

// Natively (`cargo test`) nothing exports the plugin type: only the component uses it.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gitsync_sdk::core::resource::ResourceBody;
use gitsync_sdk::{CodeInfo, Context, Diagnostic, Guest, Metadata, Severity, diagnostic, resources, settings};

pub const DEFAULT_SYNCS: &str = "^[a-z0-9-]+-to-[a-z0-9-]+$";

struct Naming;

/// The two patterns, from settings.
pub fn patterns(settings_json: &str) -> Result<(Option<regex::Regex>, regex::Regex), String> {
    let s = settings(settings_json)?;
    let obj = s.as_object().ok_or("settings must be a mapping")?;
    if let Some(k) = obj.keys().find(|k| *k != "models" && *k != "syncs") {
        return Err(format!("unknown setting `{k}` (known: models, syncs)"));
    }
    let compile = |key: &str| -> Result<Option<regex::Regex>, String> {
        match obj.get(key) {
            None => Ok(None),
            Some(v) => {
                let p = v
                    .as_str()
                    .ok_or(format!("`{key}` must be a regular expression string"))?;
                regex::Regex::new(p)
                    .map(Some)
                    .map_err(|e| format!("`{key}` is not a valid regular expression: {e}"))
            }
        }
    };
    let models = compile("models")?;
    let syncs = compile("syncs")?.unwrap_or_else(|| regex::Regex::new(DEFAULT_SYNCS).expect("default pattern"));
    Ok((models, syncs))
}

impl Guest for Naming {
    fn metadata() -> Metadata {
        Metadata {
            name: "naming".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Model and sync file names follow the team's patterns".into(),
            codes: vec![
                CodeInfo {
                    code: "NAM001".into(),
                    severity: Severity::Error,
                    summary: "sync file name does not follow the pattern".into(),
                },
                CodeInfo {
                    code: "NAM002".into(),
                    severity: Severity::Error,
                    summary: "model file name does not follow the pattern".into(),
                },
            ],
            help_uri: Some("https://github.com/gitsync/gitsync/blob/main/docs/plugins.md#examples".into()),
        }
    }

    fn validate_settings(settings_json: String) -> Result<(), String> {
        patterns(&settings_json).map(|_| ())
    }

    fn check(context: Context) -> Vec<Diagnostic> {
        let Ok((models, syncs)) = patterns(&context.settings_json) else {
            return vec![];
        };
        let mut out = Vec::new();
        for r in resources(&context) {
            let (code, pattern, what) = match &r.body {
                ResourceBody::Sync(_) => ("NAM001", &syncs, "sync"),
                ResourceBody::Model(m) if m.kind == gitsync_sdk::core::resource::ModelKind::Model => match &models {
                    Some(p) => ("NAM002", p, "model"),
                    None => continue,
                },
                _ => continue,
            };
            if !pattern.is_match(&r.slug) {
                out.push(diagnostic(
                    code,
                    Severity::Error,
                    &r.path,
                    gitsync_sdk::core::diag::Span::file_start(),
                    format!(
                        "{what} `{}` does not match the naming pattern `{}`",
                        r.slug,
                        pattern.as_str()
                    ),
                    format!("rename the file so its name matches `{}`", pattern.as_str()),
                ));
            }
        }
        out
    }
}

// Exported only in the component; a native build (`cargo test --workspace`) has no WIT exports.
#[cfg(target_arch = "wasm32")]
gitsync_sdk::export!(Naming);
