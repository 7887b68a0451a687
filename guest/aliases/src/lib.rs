//! The `aliases` policy component: alias maps and source/destination resolution per workspace.

wit_bindgen::generate!({
    world: "aliases-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::aliases::{Guest, Resolution};
use gitsync_guest_common::{self as common, types};

struct Aliases;

impl Guest for Aliases {
    fn resolve(resources: Vec<types::Resource>) -> Vec<Resolution> {
        let resources = common::core_resources(resources);
        gitsync_core::aliases::resolve(&resources)
            .into_iter()
            .map(|r| Resolution {
                workspace: r.workspace,
                references: r.references.into_iter().map(common::resolved_reference).collect(),
                diagnostics: common::diagnostics(r.diagnostics),
            })
            .collect()
    }
}

export!(Aliases);
