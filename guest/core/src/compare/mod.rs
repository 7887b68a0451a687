//! The pull-request check (docs/check.md): what a change from a base revision to a head revision
//! breaks, and which syncs it affects, per workspace. One file per rule:
//!
//! - `models.rs`: a model deleted or renamed while a sync uses it (GS601)
//! - `schema_models.rs`: a schema model deleted or renamed while a relationship uses it (GS602)
//! - `relationships.rs`: a relationship deleted or renamed while a through relationship uses it (GS603)
//! - `references.rs`: a source or destination that resolved at the base and no longer does (GS604)
//! - `primary_keys.rs`: a primary key changed while syncs use the model (GS605)
//! - `touched.rs`: the files the change touches directly, and edited manifests (GS609)
//!
//! `context.rs` holds what they share: both sides indexed, the renames, and the affected syncs.

mod context;
mod models;
mod primary_keys;
mod references;
mod relationships;
mod schema_models;
mod touched;

use crate::diag::Diagnostic;
use crate::resource::Resource;
use context::Context;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// A file that differs between the base and the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// The path at the head (for a deleted file: the path it had).
    pub path: String,
    /// The path at the base, for a renamed file.
    pub old_path: Option<String>,
    pub kind: ChangeKind,
}

/// A sync the change affects, in one workspace (none when the repository has no manifest).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AffectedSync {
    pub workspace: Option<String>,
    pub sync: String,
    pub path: String,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub diagnostics: Vec<Diagnostic>,
    pub affected: Vec<AffectedSync>,
}

/// Compare `base` with `head` given the files that changed between them: every rule in turn, each
/// adding its findings and the syncs it affects.
pub fn compare(base: &[Resource], head: &[Resource], changes: &[ChangedFile]) -> Comparison {
    let mut cx = Context::new(base, head, changes);
    models::check(&mut cx);
    schema_models::check(&mut cx);
    relationships::check(&mut cx);
    references::check(&mut cx);
    primary_keys::check(&mut cx);
    touched::check(&mut cx);
    cx.finish()
}
