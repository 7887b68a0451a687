//! The files a change touches directly: the syncs it edits and the syncs of the models it edits are
//! affected; an edited manifest is a warning (GS609), as the workspace overwrites it.

use super::context::Context;
use super::{ChangeKind, ChangedFile};
use crate::diag::{Diagnostic, Span, codes};
use crate::layout::{FileKind, Placement, classify};
use crate::resource::*;

/// Emits GS609.
pub(super) fn check(cx: &mut Context) {
    for c in cx.changes {
        if c.kind != ChangeKind::Deleted
            && let Placement::Resource {
                kind: FileKind::Manifest { workspace },
                ..
            } = classify(&c.path, "")
        {
            cx.diagnostics.push(
                Diagnostic::new(
                    codes::MANIFEST_EDITED,
                    &c.path,
                    Span::file_start(),
                    format!("manifest of workspace `{workspace}` edited"),
                )
                .label("read-only: your change will be overwritten")
                .help("add sources and destinations in the workspace; use aliases-<workspace>.yaml to name them in Git")
                .workspace(&workspace),
            );
        }
        let Some(resource) = cx.head_by_path.get(c.path.as_str()).copied() else {
            continue;
        };
        match &resource.body {
            ResourceBody::Sync(_) => cx.affect_everywhere(resource, change_reason(c)),
            ResourceBody::Model(m) if m.kind == ModelKind::Model => {
                for s in cx.syncs_using(&resource.slug) {
                    cx.affect_everywhere(s, format!("its model `{}` {}", resource.slug, change_verb(c)));
                }
            }
            _ => {}
        }
    }
}

fn change_verb(c: &ChangedFile) -> &'static str {
    match c.kind {
        ChangeKind::Added => "was added",
        ChangeKind::Modified => "changed",
        ChangeKind::Deleted => "was deleted",
        ChangeKind::Renamed => "was renamed",
    }
}

fn change_reason(c: &ChangedFile) -> String {
    match (&c.kind, &c.old_path) {
        (ChangeKind::Renamed, Some(old)) => format!("its file was renamed from {old}"),
        (ChangeKind::Added, _) => "it is new".to_string(),
        _ => "its file changed".to_string(),
    }
}
