//! Example plugin `paused-in-staging`: in the staging workspace, every sync whose destination is a
//! live system must be paused. Settings: `{"workspace": "acme-staging", "live_destinations":
//! ["staging-salesforce", ...]}` — destination ids as the staging manifest lists them.

// Natively (`cargo test`) nothing exports the plugin type: only the component uses it.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gitsync_sdk::core::resource::ResourceBody;
use gitsync_sdk::{CodeInfo, Context, Diagnostic, Guest, Metadata, Severity, diagnostic, resources, settings};

struct PausedInStaging;

fn parse(settings_json: &str) -> Result<(String, Vec<String>), String> {
    let s = settings(settings_json)?;
    let ws = s
        .get("workspace")
        .and_then(|v| v.as_str())
        .ok_or("set `workspace`: the staging workspace id")?;
    let live = s
        .get("live_destinations")
        .and_then(|v| v.as_array())
        .ok_or("set `live_destinations`: a list of destination ids")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or("`live_destinations` must hold strings".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((ws.to_string(), live))
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
        }
    }

    fn validate_settings(settings_json: String) -> Result<(), String> {
        parse(&settings_json).map(|_| ())
    }

    fn check(context: Context) -> Vec<Diagnostic> {
        let Ok((staging, live)) = parse(&context.settings_json) else {
            return vec![];
        };
        let Some(ws) = context.workspaces.iter().find(|w| w.id == staging) else {
            return vec![];
        };
        let mut out = Vec::new();
        for r in resources(&context) {
            let ResourceBody::Sync(s) = &r.body else { continue };
            if s.schedule_paused == Some(true) {
                continue;
            }
            let live_dest = ws.references.iter().find(|x| {
                x.path == r.path && x.field == "destination" && x.id.as_ref().is_some_and(|id| live.contains(id))
            });
            if let Some(x) = live_dest {
                let span = s
                    .destination
                    .as_ref()
                    .map_or(gitsync_sdk::core::diag::Span::file_start(), |d| d.span);
                let mut d = diagnostic(
                    "STG001",
                    Severity::Error,
                    &r.path,
                    span,
                    format!(
                        "sync `{}` writes to live destination `{}` in {staging} but is not paused",
                        r.slug,
                        x.id.as_deref().unwrap_or_default()
                    ),
                    "set `schedulePaused: true` (run it by hand in staging), or point it at a sandbox destination",
                );
                d.workspace = Some(staging.clone());
                out.push(d);
            }
        }
        out
    }
}

// Exported only in the component; a native build (`cargo test --workspace`) has no WIT exports.
#[cfg(target_arch = "wasm32")]
gitsync_sdk::export!(PausedInStaging);
