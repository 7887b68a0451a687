//! The `deps` policy component: references between resources, and what a change breaks.

wit_bindgen::generate!({
    world: "deps-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::deps::{AffectedSync, ChangeKind, ChangedFile, Comparison, Guest};
use gitsync_core::compare as core;
use gitsync_guest_common::{self as common, types};

struct Deps;

impl Guest for Deps {
    fn check(resources: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        common::diagnostics(gitsync_core::deps::check(&common::core_resources(resources)))
    }

    fn compare(base: Vec<types::Resource>, head: Vec<types::Resource>, changes: Vec<ChangedFile>) -> Comparison {
        let changes: Vec<core::ChangedFile> = changes
            .into_iter()
            .map(|c| core::ChangedFile {
                path: c.path,
                old_path: c.old_path,
                kind: match c.kind {
                    ChangeKind::Added => core::ChangeKind::Added,
                    ChangeKind::Modified => core::ChangeKind::Modified,
                    ChangeKind::Deleted => core::ChangeKind::Deleted,
                    ChangeKind::Renamed => core::ChangeKind::Renamed,
                },
            })
            .collect();
        let result = core::compare(&common::core_resources(base), &common::core_resources(head), &changes);
        Comparison {
            diagnostics: common::diagnostics(result.diagnostics),
            affected: result
                .affected
                .into_iter()
                .map(|a| AffectedSync {
                    workspace: a.workspace,
                    sync: a.sync,
                    path: a.path,
                    reasons: a.reasons,
                })
                .collect(),
        }
    }
}

export!(Deps);
