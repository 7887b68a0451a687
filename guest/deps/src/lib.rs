//! The `deps` policy component: references between resources.

wit_bindgen::generate!({
    world: "deps-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use gitsync_guest_common::{self as common, types};

struct Deps;

impl exports::gitsync::policy::deps::Guest for Deps {
    fn check(resources: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        common::diagnostics(gitsync_core::deps::check(&common::core_resources(resources)))
    }
}

export!(Deps);
