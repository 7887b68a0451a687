//! Example plugin `paused-in-staging`: in the staging workspace, every sync whose destination is a
//! live system must be paused. Settings: `{"workspace": "acme-staging", "live_destinations":
//! ["staging-braze"], "live_types": ["salesforce"]}` — destination ids as the staging manifest lists
//! them, and destination types (every destination of that type); at least one of the two.

// Natively (`cargo test`) nothing exports the plugin type: only the component uses it.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gitsync_sdk::core::resource::ResourceBody;
use gitsync_sdk::{
    CodeInfo, Context, Diagnostic, Guest, Metadata, Severity, destinations, diagnostic, resources, settings, span_at,
};

struct PausedInStaging;

/// The staging workspace, and what counts as live there.
struct Live {
    workspace: String,
    ids: Vec<String>,
    types: Vec<String>,
}

fn strings(s: &serde_json::Value, key: &str) -> Result<Vec<String>, String> {
    match s.get(key) {
        None => Ok(vec![]),
        Some(v) => v
            .as_array()
            .ok_or(format!("`{key}` must be a list"))?
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or(format!("`{key}` must hold strings")))
            .collect(),
    }
}

fn parse(settings_json: &str) -> Result<Live, String> {
    let s = settings(settings_json)?;
    let workspace = s
        .get("workspace")
        .and_then(|v| v.as_str())
        .ok_or("set `workspace`: the staging workspace id")?
        .to_string();
    let (ids, types) = (strings(&s, "live_destinations")?, strings(&s, "live_types")?);
    if ids.is_empty() && types.is_empty() {
        return Err("set `live_destinations` (destination ids) or `live_types` (destination types)".into());
    }
    Ok(Live { workspace, ids, types })
}

impl Guest for PausedInStaging {
    fn metadata() -> Metadata {
        Metadata {
            name: "paused-in-staging".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Syncs to live destinations are paused in the staging workspace".into(),
            codes: vec![CodeInfo {
                code: "STG001".into(),
                severity: Severity::Error,
                summary: "sync to a live destination is not paused in staging".into(),
            }],
            help_uri: None,
        }
    }

    fn validate_settings(settings_json: String) -> Result<(), String> {
        parse(&settings_json).map(|_| ())
    }

    fn check(context: Context) -> Vec<Diagnostic> {
        let Ok(live) = parse(&context.settings_json) else {
            return vec![];
        };
        let mut out = Vec::new();
        for r in resources(&context) {
            let ResourceBody::Sync(s) = &r.body else { continue };
            if s.schedule_paused == Some(true) {
                continue;
            }
            let Some(dest) = destinations(&context, &r.path).into_iter().find(|d| {
                d.workspace == live.workspace
                    && (d.id.as_ref().is_some_and(|id| live.ids.contains(id))
                        || d.kind.as_ref().is_some_and(|k| live.types.contains(k)))
            }) else {
                continue;
            };
            // Point at `schedulePaused: false` when the file says it, else at the destination.
            let span = match r.span_at("/schedulePaused") {
                Some(span) => span,
                None => span_at(&r, "/destination"),
            };
            let mut d = diagnostic(
                "STG001",
                Severity::Error,
                &r.path,
                span,
                format!(
                    "sync `{}` writes to live destination `{}` ({}) in {} but is not paused",
                    r.slug,
                    dest.id.as_deref().unwrap_or_default(),
                    dest.kind.as_deref().unwrap_or("type unknown"),
                    live.workspace
                ),
                "set `schedulePaused: true` (run it by hand in staging), or point it at a sandbox destination",
            );
            d.workspace = Some(live.workspace.clone());
            out.push(d);
        }
        out
    }
}

// Exported only in the component; a native build (`cargo test --workspace`) has no WIT exports.
#[cfg(target_arch = "wasm32")]
gitsync_sdk::export!(PausedInStaging);
