//! The `contracts` policy component: event contracts, events and their JSON Schemas.

wit_bindgen::generate!({
    world: "contracts-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use gitsync_guest_common::{self as common, types};

struct Contracts;

impl exports::gitsync::policy::contracts::Guest for Contracts {
    fn check(resources: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        common::diagnostics(gitsync_core::contracts::check(&common::core_resources(resources)))
    }

    fn compare(base: Vec<types::Resource>, head: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        let (base, head) = (common::core_resources(base), common::core_resources(head));
        common::diagnostics(gitsync_core::contracts::compare(&base, &head))
    }
}

export!(Contracts);
