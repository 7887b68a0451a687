//! gitsync's policy engine: the four built-in components (schema, aliases, deps, contracts) and a
//! team's plugin components, run under wasmtime — one engine per process, compiled components cached
//! on disk, a fresh sandboxed store per call with memory and time limits, no file system, network,
//! clock or environment unless granted.
//!
//! The fifth built-in, `workspace` ([`WorkspacePolicy`]), plans what changes do to a workspace for
//! the sync engine.
//!
//! A Rust program that wants gitsync's checks depends on this crate alone:
//!
//! ```no_run
//! use gitsync_engine::{BuiltinPolicies, Limits, Runtime, wit::SourceFile};
//! # fn main() -> anyhow::Result<()> {
//! let rt = Runtime::new(None, Limits::default())?;
//! let policies = BuiltinPolicies::embedded(&rt)?;
//! let files = vec![SourceFile { path: "models/orders.yaml".into(), contents: b"name: Orders\n".to_vec() }];
//! for parsed in policies.parse("", &files, false)? {
//!     for d in &parsed.diagnostics {
//!         println!("{}:{}:{} {} {}", d.path, d.span.line, d.span.column, d.code, d.message);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Findings come back as [`gitsync_core::diag::Diagnostic`], the vocabulary every reporter renders;
//! the records a component reads (resources, source files) are those of `wit/policy.wit`, in [`wit`].

mod bindings;
mod builtins;
mod convert;
pub mod plugins;
mod runtime;

/// The WIT package every component and plugin is built against (`gitsync policy wit` writes it out, so
/// a plugin can be built without gitsync's source tree).
pub const WIT: &str = include_str!("../../../wit/policy.wit");

/// TypeScript types for the plugin world, as componentize-js presents it to a JavaScript plugin.
pub const TYPESCRIPT: &str = include_str!("../../../wit/policy.d.ts");

pub use builtins::{BuiltinPolicies, Builtins, Comparison, EventJudge, PolicyFailure, WorkspacePolicy};
pub use runtime::{Grants, Limits, Runtime, default_cache_dir};

/// The records of `wit/policy.wit` the engine's API passes in and out: resources as the schema
/// component reads them, files, resolutions, pull-request changes and event verdicts.
pub mod wit {
    pub use crate::bindings::contracts::exports::gitsync::policy::contracts::{Decision, Verdict, Violation};
    pub use crate::bindings::deps::exports::gitsync::policy::deps::{ChangeKind, ChangedFile};
    pub use crate::bindings::workspace::exports::gitsync::policy::workspace::{Endpoint, HeldResource, WorkspaceState};

    /// What a file does to the workspace (see the `workspace` component).
    #[derive(Clone, Debug, PartialEq)]
    pub enum Outcome {
        /// The workspace already holds exactly this.
        Unchanged,
        /// Store this canonical YAML.
        Apply(String),
        /// Not applied; the findings say why.
        Skipped(Vec<gitsync_core::diag::Diagnostic>),
        /// Read, but it cannot be written back as canonical YAML (the reason).
        Unwritable(String),
    }

    /// What one commit's files do to the workspace: a plan per resource file, and the findings for
    /// files that look meant as resources but break the layout.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct InboundPlan {
        pub planned: Vec<Planned>,
        pub ignored: Vec<gitsync_core::diag::Diagnostic>,
    }

    /// One file's plan: its place, its kind and slug in the workspace, and what it does.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Planned {
        pub path: String,
        pub kind: String,
        pub slug: String,
        pub outcome: Outcome,
    }
    pub use crate::bindings::types::{
        AliasEntry, AliasMap, ColumnMapping, Contract, DirectRelationship, Event, EventAction, Manifest, ManifestEntry,
        Model, ModelKind, PointerSpan, QueryType, Relationship, RelationshipEnd, ResolvedReference, Resource,
        ResourceBody, SourceFile, Span, Sync, Text, ThroughRelationship,
    };

    /// What the schema component made of one file: the resource (when it is a resource file that
    /// could be read) and every finding about it.
    #[derive(Clone, Debug)]
    pub struct ParsedFile {
        pub path: String,
        pub resource: Option<Resource>,
        pub diagnostics: Vec<gitsync_core::diag::Diagnostic>,
    }

    /// One workspace's references, resolved, and the findings about them.
    #[derive(Clone, Debug)]
    pub struct Resolution {
        pub workspace: String,
        pub references: Vec<ResolvedReference>,
        pub diagnostics: Vec<gitsync_core::diag::Diagnostic>,
    }
}

#[cfg(test)]
mod typescript_tests {
    //! policy.d.ts is written by hand: every record, enum and variant of the `types` and `plugin`
    //! interfaces must be there, with every field and case, under the names JavaScript sees.

    fn pascal(s: &str) -> String {
        s.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
    }

    fn camel(s: &str) -> String {
        let p = pascal(s);
        p[..1].to_lowercase() + &p[1..]
    }

    /// The text of `export interface NAME {…}` or `export type NAME = …;` in the d.ts.
    fn declaration<'a>(ts: &'a str, name: &str) -> &'a str {
        let start = ts
            .find(&format!("export interface {name} {{"))
            .or_else(|| ts.find(&format!("export type {name} =")))
            .unwrap_or_else(|| panic!("policy.d.ts does not declare `{name}`"));
        let rest = &ts[start..];
        let end = rest.find("\n}\n").or_else(|| rest.find(";\n\n")).unwrap_or(rest.len());
        &rest[..end]
    }

    #[test]
    fn the_typescript_types_cover_the_plugin_world() {
        let ts = super::TYPESCRIPT;
        let mut interface = "";
        let mut block: Option<(&str, String)> = None;
        let mut checked = 0;
        for line in super::WIT.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("interface ") {
                interface = name.trim_end_matches(" {");
                continue;
            }
            if !matches!(interface, "types" | "plugin") || line.starts_with("///") {
                continue;
            }
            if let Some((kind, name)) = ["record ", "enum ", "variant "]
                .iter()
                .find_map(|k| line.strip_prefix(k).map(|n| (k.trim(), n.trim_end_matches(" {"))))
            {
                block = Some((kind, pascal(name.trim_start_matches('%'))));
                continue;
            }
            let Some((kind, name)) = &block else { continue };
            if line == "}" {
                block = None;
                checked += 1;
                continue;
            }
            let decl = declaration(ts, name);
            let member = line.trim_end_matches(',').trim_start_matches('%');
            let case = member.split('(').next().unwrap();
            let want = match *kind {
                "record" => format!("{}: ", camel(member.split(':').next().unwrap())),
                "enum" => format!("\"{case}\""),
                _ => format!("tag: \"{case}\""),
            };
            // An optional field may be declared `name?: T | undefined`.
            let optional = want.replace(": ", "?: ");
            assert!(
                decl.contains(&want) || (*kind == "record" && decl.contains(&optional)),
                "`{name}` in policy.d.ts lacks {want}:\n{decl}"
            );
        }
        assert!(checked >= 25, "only {checked} declarations found in the WIT");
    }
}
