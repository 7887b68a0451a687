//! Write a gitsync policy plugin in Rust.
//!
//! ```ignore
//! use gitsync_sdk::{Guest, Context, Metadata, CodeInfo, Severity, Diagnostic};
//!
//! struct Naming;
//!
//! impl Guest for Naming {
//!     fn metadata() -> Metadata { /* name, version, description, codes */ }
//!     fn validate_settings(settings_json: String) -> Result<(), String> { Ok(()) }
//!     fn check(context: Context) -> Vec<Diagnostic> { vec![] }
//! }
//!
//! gitsync_sdk::export!(Naming);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release`; the `.wasm` is the plugin. The
//! resources arrive as WIT records; [`resources`] turns them into gitsync-core's domain types, which
//! carry the same spans, and [`diagnostic`] builds a finding in the shape every reporter renders.

wit_bindgen::generate!({
    world: "plugin-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
    pub_export_macro: true,
    default_bindings_module: "gitsync_sdk",
});

pub use exports::gitsync::policy::plugin::{CodeInfo, Context, Guest, PluginMetadata as Metadata, Workspace};
pub use gitsync_core as core;
pub use gitsync_guest_common::types::{Diagnostic, ResolvedReference, Severity, Span};
use gitsync_guest_common::types::{Resource as WitResource, ResourceBody as WitBody};

/// The context's resources as domain types (models, syncs, relationships, events, ...).
pub fn resources(context: &Context) -> Vec<gitsync_core::resource::Resource> {
    gitsync_guest_common::core_resources(context.resources.clone())
}

/// The plugin's settings, parsed (`{}` when the config sets none).
pub fn settings(settings_json: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(settings_json).map_err(|e| format!("settings are not JSON: {e}"))
}

/// A finding at `span` of the file at `path`.
pub fn diagnostic(
    code: &str,
    severity: Severity,
    path: &str,
    span: gitsync_core::diag::Span,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic {
        code: code.to_string(),
        severity,
        message: message.into(),
        path: path.to_string(),
        span: gitsync_guest_common::span(span),
        label: None,
        help: Some(help.into()),
        workspace: None,
    }
}

/// Where the value at `pointer` (`/schedulePaused`, `/config/mode`, `/schedule/expression`) sits in
/// `resource`'s file, or the start of the file when it has no such value: a finding about a field that
/// is missing still needs a place.
pub fn span_at(resource: &gitsync_core::resource::Resource, pointer: &str) -> gitsync_core::diag::Span {
    resource
        .span_at(pointer)
        .unwrap_or(gitsync_core::diag::Span::file_start())
}

/// What a model's `source` or a sync's `destination` stands for in one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The workspace (its manifest's id).
    pub workspace: String,
    /// What the file says: an id or an alias.
    pub value: String,
    /// The id it resolves to there; `None` when it does not resolve (gitsync reports that itself).
    pub id: Option<String>,
    /// The endpoint's name and type (`salesforce`, `snowflake`) from the workspace's manifest.
    pub name: Option<String>,
    pub kind: Option<String>,
}

/// A sync's destination in every workspace of the repository, by the path of the sync's file.
///
/// ```
/// use gitsync_sdk::core::resource::ResourceBody;
/// use gitsync_sdk::{Context, Diagnostic, Severity, destinations, diagnostic, resources, span_at};
///
/// /// Syncs to Salesforce stay paused in staging.
/// fn findings(context: &Context) -> Vec<Diagnostic> {
///     let mut out = Vec::new();
///     for r in resources(context) {
///         let ResourceBody::Sync(s) = &r.body else { continue };
///         let live = destinations(context, &r.path)
///             .iter()
///             .any(|d| d.workspace == "acme-staging" && d.kind.as_deref() == Some("salesforce"));
///         if live && s.schedule_paused != Some(true) {
///             out.push(diagnostic("STG001", Severity::Error, &r.path, span_at(&r, "/schedulePaused"),
///                 "a sync to Salesforce runs in staging", "set `schedulePaused: true`"));
///         }
///     }
///     out
/// }
/// ```
pub fn destinations(context: &Context, sync_path: &str) -> Vec<Endpoint> {
    endpoints(context, sync_path, "destination")
}

/// A model's source in every workspace of the repository, by the path of the model's file.
pub fn sources(context: &Context, model_path: &str) -> Vec<Endpoint> {
    endpoints(context, model_path, "source")
}

fn endpoints(context: &Context, path: &str, field: &str) -> Vec<Endpoint> {
    context
        .workspaces
        .iter()
        .filter_map(|w| {
            let r = w.references.iter().find(|r| r.path == path && r.field == field)?;
            let entry =
                r.id.as_deref()
                    .and_then(|id| manifest_entry(&context.resources, &w.id, field, id));
            Some(Endpoint {
                workspace: w.id.clone(),
                value: r.value.clone(),
                id: r.id.clone(),
                name: entry.and_then(|e| e.name.clone()),
                kind: entry.and_then(|e| e.kind.clone()),
            })
        })
        .collect()
}

fn manifest_entry<'a>(
    resources: &'a [WitResource],
    workspace: &str,
    field: &str,
    id: &str,
) -> Option<&'a gitsync_guest_common::types::ManifestEntry> {
    resources.iter().find_map(|r| match &r.body {
        WitBody::Manifest(m) if m.workspace == workspace => {
            let entries = if field == "source" { &m.sources } else { &m.destinations };
            entries.iter().find(|e| e.id.value == id)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsync_core::parse::parse_file;

    const MANIFEST: &str = "# READ ONLY: generated from the workspace; edits are overwritten\nsources:\n  pg-prod:\n    name: Postgres\n    type: postgres\ndestinations:\n  sfdc-1:\n    name: Salesforce EU\n    type: salesforce\n";
    const SYNC: &str = "model: orders\ndestination: crm\nconfig:\n  mode: upsert\n  object: Account\nschedule:\n  type: cron\n  schedule:\n    expression: \"0 * * * *\"\nschedulePaused: false\n";

    fn context() -> Context {
        let files = [
            ("manifest-acme-prod.yaml", MANIFEST),
            ("aliases-acme-prod.yaml", "destinations:\n  crm: sfdc-1\n"),
            ("syncs/orders-to-crm.yaml", SYNC),
        ];
        let core: Vec<_> = files
            .iter()
            .filter_map(|(p, t)| parse_file(p, t.as_bytes(), "").resource)
            .collect();
        let workspaces = gitsync_core::aliases::resolve(&core)
            .into_iter()
            .map(|r| Workspace {
                id: r.workspace,
                references: r
                    .references
                    .into_iter()
                    .map(gitsync_guest_common::resolved_reference)
                    .collect(),
            })
            .collect();
        Context {
            resources: core.into_iter().map(gitsync_guest_common::resource).collect(),
            workspaces,
            changed_files: vec![],
            settings_json: "{}".into(),
        }
    }

    #[test]
    fn a_syncs_destination_resolves_through_the_alias_to_the_manifest_entry() {
        assert_eq!(
            destinations(&context(), "syncs/orders-to-crm.yaml"),
            vec![Endpoint {
                workspace: "acme-prod".into(),
                value: "crm".into(),
                id: Some("sfdc-1".into()),
                name: Some("Salesforce EU".into()),
                kind: Some("salesforce".into()),
            }]
        );
        assert!(destinations(&context(), "syncs/other.yaml").is_empty());
    }

    #[test]
    fn every_field_has_a_span_including_scalars_and_config_keys() {
        let sync = resources(&context())
            .into_iter()
            .find(|r| r.path.starts_with("syncs/"))
            .unwrap();
        let at = |p: &str| {
            let s = span_at(&sync, p);
            (s.line, s.column)
        };
        assert_eq!(at("/schedulePaused"), (10, 17));
        assert_eq!(at("/config"), (4, 3));
        assert_eq!(at("/config/object"), (5, 11));
        assert_eq!(at("/schedule/schedule/expression"), (9, 17));
        assert_eq!(at("/nothing"), (1, 1));
    }
}
