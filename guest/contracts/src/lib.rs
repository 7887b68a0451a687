//! The `contracts` policy component: event contracts, events and their JSON Schemas, at check time
//! and at run time.

wit_bindgen::generate!({
    world: "contracts-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::contracts::{
    Decision, EventValidator, Guest, GuestEventValidator, Tally, Verdict, Violation,
};
use gitsync_core::events::{ContractRules, Scratch};
use gitsync_guest_common::{self as common, types};

struct Contracts;

impl Guest for Contracts {
    type EventValidator = Rules;

    fn check(resources: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        common::diagnostics(gitsync_core::contracts::check(&common::core_resources(resources)))
    }

    fn compare(base: Vec<types::Resource>, head: Vec<types::Resource>) -> Vec<types::Diagnostic> {
        let (base, head) = (common::core_resources(base), common::core_resources(head));
        common::diagnostics(gitsync_core::contracts::compare(&base, &head))
    }

    fn check_instances(
        schema_json: String,
        instances: Vec<String>,
        remotes: Vec<(String, String)>,
    ) -> Result<Vec<bool>, String> {
        gitsync_core::events::check_instances(&schema_json, &instances, &remotes)
    }
}

/// The compiled rules behind an `event-validator` handle.
struct Rules(ContractRules);

impl GuestEventValidator for Rules {
    fn create(resources: Vec<types::Resource>, contract: String) -> Result<EventValidator, String> {
        ContractRules::new(&common::core_resources(resources), &contract).map(|r| EventValidator::new(Rules(r)))
    }

    fn judge_lines(&self, batch: String) -> String {
        self.0.judge_lines(&batch)
    }

    fn tally_lines(&self, batch: String) -> Tally {
        let t = self.0.tally_lines(&batch);
        Tally {
            events: t.events,
            allowed: t.allowed,
            blocked: t.blocked,
            malformed: t.malformed,
            per_event: t.per_event.into_iter().map(|(name, [a, b])| (name, a, b)).collect(),
            per_violation: t.per_violation.into_iter().collect(),
            undeclared_schema: t.undeclared_schema,
            undeclared_fields: t.undeclared_fields,
        }
    }

    fn judge(&self, events: Vec<String>) -> Vec<Verdict> {
        // One scratch for the batch; the fast path's verdict where it decides, else the full path's.
        let mut scratch = Scratch::default();
        events
            .iter()
            .map(|line| {
                let fast = self.0.fast_verdict(line, &mut scratch).map(|v| Verdict {
                    decision: decision(v.allowed),
                    event_json: line.trim().to_string(),
                    omitted: vec![],
                    event_name: v.event_name(),
                    event_type: Some(v.event_type()),
                    schema_version: v.schema_version(),
                    has_undeclared_schema: !v.declared,
                    has_undeclared_fields: false,
                    has_schema_violated: v.violation.is_some(),
                    violations: v.violation.into_iter().map(violation).collect(),
                    error: None,
                });
                fast.unwrap_or_else(|| {
                    let v = self.0.judge_line(line);
                    Verdict {
                        decision: decision(v.allowed),
                        // Pass the input text on when the event was not changed: no re-serialisation.
                        event_json: if v.modified {
                            v.event.to_string()
                        } else {
                            line.trim().to_string()
                        },
                        omitted: v.omitted,
                        event_name: v.event_name,
                        event_type: v.event_type,
                        schema_version: v.schema_version,
                        has_undeclared_schema: v.has_undeclared_schema,
                        has_undeclared_fields: v.has_undeclared_fields,
                        has_schema_violated: v.has_schema_violated,
                        violations: v.violations.into_iter().map(violation).collect(),
                        error: v.error,
                    }
                })
            })
            .collect()
    }
}

fn decision(allowed: bool) -> Decision {
    if allowed { Decision::Allowed } else { Decision::Blocked }
}

fn violation(v: gitsync_core::events::Violation) -> Violation {
    Violation {
        path: v.path,
        message: v.message,
    }
}

export!(Contracts);
