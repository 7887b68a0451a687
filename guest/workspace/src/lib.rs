//! The `workspace` policy component: what changes from Git, or made in the workspace itself, do to a
//! workspace (gitsync-core's `workspace` module), for the sync engine and `workspace put`.

wit_bindgen::generate!({
    world: "workspace-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::workspace::{Endpoint, Guest, InboundPlan, Outcome, Planned, WorkspaceState};
use gitsync_core::layout::Kind;
use gitsync_core::workspace as core;
use gitsync_guest_common::{self as common, types};

struct Workspace;

fn endpoints(list: Vec<Endpoint>) -> Vec<core::Endpoint> {
    list.into_iter()
        .map(|e| core::Endpoint {
            id: e.id,
            name: e.name,
            kind: e.kind,
        })
        .collect()
}

fn state(s: WorkspaceState) -> core::State {
    core::State {
        id: s.id,
        base: s.path,
        sources: endpoints(s.sources),
        destinations: endpoints(s.destinations),
        // A kind the store does not know cannot be held; it is left out.
        held: s
            .held
            .into_iter()
            .filter_map(|h| {
                Some(core::Held {
                    kind: Kind::parse(&h.kind).ok()?,
                    slug: h.slug,
                    yaml: h.yaml,
                })
            })
            .collect(),
    }
}

fn planned(p: core::Planned) -> Planned {
    Planned {
        path: p.path,
        kind: p.kind.name().to_string(),
        slug: p.slug,
        outcome: match p.outcome {
            core::Outcome::Unchanged => Outcome::Unchanged,
            core::Outcome::Apply(yaml) => Outcome::Apply(yaml),
            core::Outcome::Skipped(d) => Outcome::Skipped(common::diagnostics(d)),
            core::Outcome::Unwritable(why) => Outcome::Unwritable(why),
        },
    }
}

impl Guest for Workspace {
    fn plan_inbound(
        s: WorkspaceState,
        files: Vec<types::SourceFile>,
        aliases: Option<types::SourceFile>,
    ) -> InboundPlan {
        let files: Vec<(String, Vec<u8>)> = files.into_iter().map(|f| (f.path, f.contents)).collect();
        let aliases = aliases.map(|a| (a.path, a.contents));
        let plan = core::plan_inbound(&state(s), &files, aliases.as_ref());
        InboundPlan {
            planned: plan.planned.into_iter().map(planned).collect(),
            ignored: common::diagnostics(plan.ignored),
        }
    }

    fn plan_put(s: WorkspaceState, file: types::SourceFile) -> Planned {
        planned(core::plan_put(&state(s), &file.path, &file.contents))
    }

    fn keep_aliases(
        s: WorkspaceState,
        path: String,
        yaml: String,
        existing: Vec<u8>,
        aliases: types::SourceFile,
    ) -> Option<String> {
        core::keep_aliases(&state(s), &path, &yaml, &existing, &(aliases.path, aliases.contents))
    }

    fn plan_delete(s: WorkspaceState, kind: String, slug: String) -> Vec<types::Diagnostic> {
        match Kind::parse(&kind) {
            Ok(kind) => common::diagnostics(core::plan_delete(&state(s), kind, &slug)),
            Err(_) => Vec::new(),
        }
    }

    fn plan_remove_endpoint(s: WorkspaceState, kind: String, id: String) -> Vec<types::Diagnostic> {
        common::diagnostics(core::plan_remove_endpoint(&state(s), &kind, &id))
    }

    fn render_manifest(s: WorkspaceState) -> Result<String, String> {
        core::render_manifest(&state(s))
    }
}

export!(Workspace);
