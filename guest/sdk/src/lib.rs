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
